"""The robustness stage (stages/robustness.py): end to end in a tiny pipeline copy (its JSON, figure and report
section), the picture styles read back through predict.py's preparation, and one-line errors for bad inputs.

The end-to-end test reads the session's tiny pipeline run (conftest `tiny_run`: robustness.images = 10) and
reruns `dvc repro robustness` in a copy of it; the error tests run the stage in a temporary folder with tiny
arrays and no model.
"""
import json
import shutil
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REAL_MNIST, ROOT, TINY_PARAMS, TINY_RUN_GROUP, dvc, run, update_params
from mnist_pipeline.data import save_split
from mnist_pipeline.predict.styles import STYLES
from mnist_pipeline.robustness import ROBUSTNESS_FIGURE, ROBUSTNESS_METRICS
from mnist_pipeline.robustness.pictures import style_inputs
from mnist_pipeline.params import load_params
from mnist_pipeline.robustness.suite import CORRUPTIONS, in_training
from test_pipeline import stages_run


@pytest.mark.slow
@TINY_RUN_GROUP
def test_stage_writes_metrics_figure_and_report_section(tiny_run, reproduced_copy):
    repo, _, result = tiny_run
    assert stages_run(result).index("robustness") < stages_run(result).index("report")

    results = json.loads((repo / ROBUSTNESS_METRICS).read_text())
    images = TINY_PARAMS["robustness"]["images"]
    assert (results["images"], results["style_images"], results["seed"]) == (images, images, 0)
    assert list(results["corruptions"]) == list(CORRUPTIONS)
    assert list(results["styles"]) == list(results["style_unreadable"]) == [style.name for style in STYLES]
    scores = [results["clean_accuracy"], results["style_clean_accuracy"], *results["corruptions"].values(),
              *results["styles"].values()]
    assert all(0 <= score <= 1 and round(score * images, 6) % 1 == 0 for score in scores)  # whole images
    excluded = in_training(load_params("train.augment", path=repo / "params.yaml").train.augment)
    unseen = [value for name, value in results["corruptions"].items() if name not in excluded]
    assert results["headline_mean_accuracy"] == pytest.approx(np.mean(unseen), abs=1e-6)
    assert results["corruption_mean_accuracy"] == pytest.approx(np.mean(list(results["corruptions"].values())),
                                                                abs=1e-6)
    assert results["headline_excludes"] == excluded and {"rotate", "glass_blur", "fog"} <= set(excluded)
    with Image.open(repo / ROBUSTNESS_FIGURE) as figure:
        assert figure.format == "PNG" and figure.width > 800 and figure.height > 400

    report = (repo / "reports" / "report.md").read_text()
    section = report.split("\n## Robustness\n", 1)[1].split("\n## ", 1)[0]
    assert f"{results['headline_mean_accuracy']:.2%}**" in section
    for name, value in [*results["corruptions"].items(), *results["styles"].items()]:
        assert f"| {name} | {value:.2%} |" in section
    assert "(../plots/robustness/examples.png)" in section
    copy, env = reproduced_copy
    assert stages_run(dvc("repro", "robustness", cwd=copy, env=env)) == []


@pytest.mark.skipif(not REAL_MNIST.is_dir(), reason=f"MNIST files not found in {REAL_MNIST}")
@pytest.mark.parametrize("style", ["mnist_28x28", "paper_photo", "palette_gif"])
def test_style_inputs_are_seeded_model_inputs(style, digits):
    index = next(i for i, s in enumerate(STYLES) if s.name == style)
    images, _ = digits
    inputs, readable = style_inputs((index, images[:3], 1))
    assert inputs.shape == (3, 2, 28, 28) and inputs.dtype == np.float32 and readable.all()
    assert inputs.min() >= 0 and np.allclose(inputs.max(axis=(2, 3)), 1)
    assert np.array_equal(inputs, style_inputs((index, images[:3], 1))[0])
    if style != "mnist_28x28":  # the original digit is not drawn, so no seed changes it
        assert not np.array_equal(inputs, style_inputs((index, images[:3], 2))[0])


@pytest.fixture
def stage_folder(tmp_path):
    """A folder to run the stage in: params.yaml and a tiny test split, no model."""
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    rng = np.random.default_rng(0)
    save_split(tmp_path / "data" / "prepared", "test", rng.random((12, 28, 28, 1), dtype=np.float32),
               rng.integers(0, 10, 12).astype(np.uint8))
    return tmp_path


@pytest.mark.parametrize("change, message", [
    (None, "error: models/model.keras: model file not found; run `dvc repro` to train one"),
    ({"robustness": {"images": 5}}, "robustness.images"),
    ({"robustness": {"seed": -1}}, "robustness.seed"),
    ("no test images", "data/prepared/x_test.npy: not found"),
])
def test_bad_input_gives_one_line(change, message, stage_folder):
    if change == "no test images":
        (stage_folder / "data" / "prepared" / "x_test.npy").unlink()
    elif change:
        update_params(stage_folder / "params.yaml", change)
    result = run([sys.executable, "-m", "stages.robustness"], cwd=stage_folder, check=False,
                 env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ") and message in result.stderr
    assert not (stage_folder / ROBUSTNESS_METRICS).exists() and not (stage_folder / ROBUSTNESS_FIGURE).exists()
