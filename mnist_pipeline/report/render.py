"""Renders the run report and the model card: fills templates/report.md.j2 and templates/model_card.md.j2
with the facts of a RunOutputs (facts.py) and returns the Markdown text.

The templates hold the wording; two filters format numbers: `fmt` (any format spec, e.g. `fmt(",")`,
`fmt(".4f")`) and `pct` (a fraction as a percentage with two decimals). Phrases used in both documents are
macros in templates/phrases.md.j2.
"""
from pathlib import Path

import jinja2

from mnist_pipeline.report.facts import run_facts

TEMPLATES_DIR = Path(__file__).parent / "templates"


def pct(fraction):
    """0.9963 -> '99.63%'."""
    return f"{fraction:.2%}"


ENVIRONMENT = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), undefined=jinja2.StrictUndefined,
                                 autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
ENVIRONMENT.filters.update(fmt=format, pct=pct)


def render(template_name, outputs):
    """The template `template_name` filled with the facts of `outputs`."""
    return ENVIRONMENT.get_template(template_name).render(run_facts(outputs))


def render_report(outputs):
    """reports/report.md: dataset, architecture, training setup, results, overfitting, speed, next steps."""
    return render("report.md.j2", outputs)


def render_model_card(outputs):
    """reports/model_card.md: details, input and output, intended use, metrics, limitations, how to use."""
    return render("model_card.md.j2", outputs)
