"""The not_a_digit stage measures what predict.py says: the share of MNIST test digits its metrics report as
rejected is the share predict.py flags when the same digits are saved as image files. (The head once learned
to tell raw arrays from pictures that went through predict's preparation: it reported 0.44% of the test digits
while predict.py flagged 20% of them.)"""
import json
import shutil
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, TINY_RUN_GROUP, run

pytestmark = TINY_RUN_GROUP  # conftest: the tests of the tiny run chain run on one xdist worker


@pytest.mark.slow
def test_the_stage_reports_the_rejections_predict_py_makes(reproduced_copy, tmp_path):
    repo, env = reproduced_copy
    digits = np.round(np.load(repo / "data/prepared/x_test.npy")[..., 0] * 255).astype(np.uint8)
    folder = tmp_path / "digits"  # beside the copy's repo/
    folder.mkdir()
    for index, digit in enumerate(digits):
        Image.fromarray(digit).save(folder / f"{index:05d}.png")
    shutil.copy(ROOT / "predict.py", repo)  # run from the copy: it reads the copy's model, export and detector
    result = run([sys.executable, "predict.py", str(folder), "--format", "json"], cwd=repo, env=env, check=False)
    rows = json.loads(result.stdout)
    assert len(rows) == len(digits), result.stderr  # every digit has ink: none refused
    flagged = sum(row["not_a_digit"] for row in rows)
    reported = json.loads((repo / "metrics/not_a_digit.json").read_text())["rejected"]["mnist_test"]
    # the stage scores the Keras model, predict.py its LiteRT export (within 1e-5): one borderline digit may differ
    assert abs(flagged - reported * len(digits)) <= 1, (flagged, reported, len(digits))
