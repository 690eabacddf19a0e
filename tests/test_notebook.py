"""notebooks/mnist_walkthrough.ipynb runs top to bottom, without errors, on a tiny pipeline run.

Reads the notebook and runs it with nbclient in the temporary repository of test_report.py's shared
tiny run (the notebook reads the pipeline's outputs and trains nothing); writes nothing to the repository.
"""
import nbclient
import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec

from conftest import ROOT
from test_report import shared_tiny_run

pytestmark = pytest.mark.slow

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


def test_notebook_runs_without_errors(tmp_path_factory, tmp_path, monkeypatch):
    repo, env, _ = shared_tiny_run(tmp_path_factory)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])
    notebook = execute_notebook(nbformat.read(NOTEBOOK, as_version=4), repo, tmp_path)
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    assert sum("image/png" in output.get("data", {}) for output in outputs) >= 8
