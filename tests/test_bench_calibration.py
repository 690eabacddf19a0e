"""The calibration benchmark prints, for the pipeline's model, the figures the evaluate stage recorded, and tables
whose rows add up."""
import json
import subprocess
import sys

import pytest

from conftest import REAL_MNIST, REAL_MNIST_GROUP, ROOT

pytestmark = [pytest.mark.slow, REAL_MNIST_GROUP]


def table(lines, header_start):
    """The cells of each row of the markdown table whose header starts with `header_start`."""
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_benchmark_repeats_the_evaluate_stage_and_its_rows_add_up(real_mnist_run):
    repo, env, _ = real_mnist_run
    result = subprocess.run([sys.executable, str(ROOT / "bench/bench_calibration.py"), "--mnist", str(REAL_MNIST),
                             "--count", "4", "--styles", "mnist_28x28,tight_bold"],
                            cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    recorded = json.loads((repo / "metrics/evaluate/metrics.json").read_text())

    splits = {row[0]: row for row in table(lines, "| split")}
    assert set(splits) == {"val", "test"} and splits["test"][1] == "10,000"
    assert float(splits["test"][2].rstrip("%")) == pytest.approx(100 * recorded["test_accuracy"], abs=0.006)
    assert float(splits["test"][3]) == pytest.approx(recorded["test_ece"], abs=6e-5)
    assert float(splits["test"][4]) == pytest.approx(recorded["test_ece_calibrated"], abs=6e-5)

    levels = table(lines, "| unsure below")
    assert [row[0] for row in levels] == ["0.50", "0.80", "0.90", "0.95"]
    mistakes = round(10_000 * (1 - recorded["test_accuracy"]))
    marked = [int(row[1].split()[0]) for row in levels]
    caught = [int(row[4].split(" of ")[0]) for row in levels]
    assert marked == sorted(marked) and caught == sorted(caught)  # a higher level marks more
    assert all(row[4].endswith(f" of {mistakes}") for row in levels) and caught[-1] <= min(marked[-1], mistakes)

    rows = {row[0]: row for row in table(lines, "| style")}
    assert list(rows) == ["mnist_28x28", "tight_bold", "pooled (8 pictures)"]
    wrong = [int(rows[name][5]) for name in rows]
    assert wrong[2] == wrong[0] + wrong[1] and all(int(rows[name][6]) <= int(rows[name][5]) for name in rows)
