"""The run report (reports/report.md) and the model card (reports/model_card.md).

`inputs` reads and checks the pipeline's outputs into a RunOutputs, `facts` turns them into the numbers,
rows and verdicts the documents state, and `render` fills the Markdown templates in `templates/` with
those facts: edit the wording there, the numbers here.
"""
