"""notebooks/mnist_walkthrough.ipynb runs top to bottom, without errors, on a tiny pipeline run.

Reads the notebook and runs it with nbclient in a copy of the session's tiny pipeline run (conftest's
`reproduced_copy`; the notebook reads the pipeline's outputs and trains nothing); writes nothing to the repository.
"""
import nbclient
import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec

from conftest import ROOT, TINY_RUN_GROUP

pytestmark = [pytest.mark.slow, TINY_RUN_GROUP]

NOTEBOOK = ROOT / "notebooks" / "mnist_walkthrough.ipynb"


def execute_notebook(notebook, cwd, jupyter_dir):
    """Runs every cell of `notebook` (a NotebookNode, updated in place) in a kernel started in `cwd`.

    The kernel is this interpreter's ipykernel, registered as "python3" under `jupyter_dir`, which must be on
    JUPYTER_PATH; TensorFlow's start-up lines on the kernel's stderr stay out of the cell outputs.
    """
    write_kernel_spec(jupyter_dir / "kernels" / "python3", extra_arguments=["--IPKernelApp.capture_fd_output=False"])
    client = nbclient.NotebookClient(notebook, kernel_name="python3", timeout=300, record_timing=False,
                                     resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return notebook


def test_notebook_runs_without_errors(reproduced_copy, tmp_path, monkeypatch):
    repo, env = reproduced_copy
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])
    notebook = execute_notebook(nbformat.read(NOTEBOOK, as_version=4), repo, tmp_path)
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    assert sum("image/png" in output.get("data", {}) for output in outputs) >= 8
