"""Tests the demo server's parts in-process, without TensorFlow or a running server: the batcher that gathers
requests into one model call (mnist_pipeline/serve/classify.py) and the model card (serve/model_card.py)."""
import asyncio
import hashlib
import json

import numpy as np

from mnist_pipeline.paths import EVALUATE_METRICS, MODEL_FILE
from mnist_pipeline.predict.runtime import EXPORT_METRICS, EXPORTED_MODEL_FILE
from mnist_pipeline.serve.classify import Batcher
from mnist_pipeline.serve.model_card import describe_model


def test_batcher_runs_requests_that_arrive_together_in_one_call():
    calls = []

    def run(batch, pieces):
        calls.append(len(batch))
        return batch.reshape(len(batch), -1)[:, :10] * 2, [{"digit_pieces": count} for count in pieces]

    async def main():
        batcher = Batcher(run, window_s=0.01)
        inputs = [np.full((n, 28, 28), i, dtype=np.float32) for i, n in enumerate([1, 2, 1, 3], start=1)]
        return inputs, await asyncio.gather(*(batcher.predict(x, [i] * len(x)) for i, x in enumerate(inputs)))

    inputs, answers = asyncio.run(main())
    assert calls == [7]
    for i, (x, (probabilities, verdicts)) in enumerate(zip(inputs, answers)):
        np.testing.assert_array_equal(probabilities, x.reshape(len(x), -1)[:, :10] * 2)
        assert verdicts == [{"digit_pieces": i}] * len(x)


def test_batcher_passes_a_model_failure_to_every_waiting_request_and_goes_on():
    def run(batch, pieces):
        if batch[0, 0, 0] < 0:
            raise RuntimeError("model failed")
        return np.ones((len(batch), 10)), pieces

    async def main():
        batcher = Batcher(run)
        failed = await asyncio.gather(batcher.predict(-np.ones((1, 28, 28)), [1]),
                                      batcher.predict(np.ones((1, 28, 28)), [1]), return_exceptions=True)
        return failed, await batcher.predict(np.ones((2, 28, 28)), [1, 2])

    failed, (probabilities, pieces) = asyncio.run(main())
    assert [str(err) for err in failed] == ["model failed"] * 2
    assert probabilities.shape == (2, 10) and pieces == [1, 2]


def test_model_card_gives_the_test_accuracy_only_for_the_evaluated_model_file(tmp_path):
    model = tmp_path / MODEL_FILE
    model.parent.mkdir()
    model.write_bytes(b"weights")
    (tmp_path / EVALUATE_METRICS).parent.mkdir(parents=True)
    (tmp_path / EVALUATE_METRICS).write_text(json.dumps({"test_accuracy": 0.9963}))
    evaluated = {"path": str(MODEL_FILE), "md5": hashlib.md5(b"weights").hexdigest()}
    lock = {"stages": {"evaluate": {"deps": [evaluated]}}}
    (tmp_path / "dvc.lock").write_text(json.dumps(lock))  # JSON is YAML

    card = describe_model(model, tmp_path)
    assert card["sha256"] == hashlib.sha256(b"weights").hexdigest()[:12]
    assert card["test_accuracy"] == 0.9963

    exported = tmp_path / EXPORTED_MODEL_FILE  # the export stage's file carries the score of its source
    exported.write_bytes(b"exported weights")
    record = {"source": str(MODEL_FILE), "source_sha256": hashlib.sha256(b"weights").hexdigest(),
              "exported": str(EXPORTED_MODEL_FILE), "exported_sha256": hashlib.sha256(b"exported weights").hexdigest()}
    (tmp_path / EXPORT_METRICS).write_text(json.dumps(record))
    card = describe_model(exported, tmp_path)
    assert card["sha256"] == hashlib.sha256(b"exported weights").hexdigest()[:12]
    assert card["test_accuracy"] == 0.9963 and f"of {MODEL_FILE}, which this file exports" in card["accuracy_note"]

    model.write_bytes(b"retrained")
    for served in model, exported:
        card = describe_model(served, tmp_path)
        assert card["test_accuracy"] is None and "another model file" in card["accuracy_note"]
