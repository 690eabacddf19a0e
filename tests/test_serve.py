"""Tests serve.py's HTTP API (mnist_pipeline/serve/): same answers as predict.py, every refusal, concurrency.

The tests marked slow start one server (a child process on a free port, small limits) on the LiteRT
export (as the export stage makes it) of the fast recipe's model trained on real MNIST, with a not-a-digit
detector fitted for the export beside it (conftest's `real_mnist_export`, which the browser tests serve too; they
skip without ../shared/data/mnist), and send it real MNIST test digits drawn as pictures (predict/styles.py). A second
server on the export of the predict tests' small CNN (`model_file`), with its detector, gets pictures that are
not one digit (test_not_a_digit_predict.not_digit_pictures): the fast recipe's detector passes a level line
(score 294 against a threshold of 595).
The batcher and the model card are tested in-process in tests/test_serve_parts.py.
"""
import hashlib
import http.client
import io
import json
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from conftest import REAL_MNIST, REAL_MNIST_GROUP, ROOT, run
from test_export import export
from test_not_a_digit_predict import fit_detector_beside, not_digit_pictures, verdict_from_figures
from mnist_pipeline.predict.output import NOT_A_DIGIT_FIELDS
from mnist_pipeline.serve.client import multipart, post_images, request, start_server, stop_server

pytestmark = REAL_MNIST_GROUP  # conftest: the tests of the model chains run on one xdist worker

LIMITS = {"--max-request-bytes": 1_000_000, "--max-files": 3, "--max-pixels": 4_000_000}


def encoded(image, format_, **options):
    """The bytes of a PIL image saved in `format_`."""
    out = io.BytesIO()
    image.save(out, format_, **options)
    return out.getvalue()


@pytest.fixture(scope="module")
def digits():
    """[(name, PNG or JPEG bytes, label)]: 12 MNIST test digits, drawn with a mouse (PNG) or photographed (JPEG)."""
    from mnist_pipeline.predict import styles

    if not REAL_MNIST.is_dir():
        pytest.skip(f"MNIST files not found in {REAL_MNIST}")
    images, labels = styles.sample_digits(REAL_MNIST, 12, seed=3)
    rng = np.random.default_rng(0)
    pictures = []
    for i, (image, label) in enumerate(zip(images, labels)):
        if i % 2:
            photo = styles.render_paper_photo(image, rng)
            pictures.append((f"photo{i}.jpg", encoded(photo, "JPEG", quality=85), label))
        else:
            pictures.append((f"drawing{i}.png", encoded(styles.render_mouse(image, rng), "PNG"), label))
    return pictures


@pytest.fixture(scope="module")
def server(real_mnist_export, tmp_path_factory):
    """The base URL of a running server with the test LIMITS; stopped after the module's tests."""
    log = (tmp_path_factory.mktemp("serve") / "stderr.txt").open("w")
    process, url = start_server(real_mnist_export, [v for item in LIMITS.items() for v in item], log)
    yield url
    stop_server(process)
    log.close()


@pytest.fixture(scope="module")
def flagging_server(model, tmp_path_factory):
    """The base URL of a running server on the LiteRT export of the small CNN (`model`) with a not-a-digit detector
    fitted for the export beside it."""
    from mnist_pipeline.predict.runtime import load_classifier

    path = export(model, tmp_path_factory.mktemp("small_cnn") / "model.tflite")
    fit_detector_beside(path, load_classifier(path).heads)
    log = (tmp_path_factory.mktemp("serve_small_cnn") / "stderr.txt").open("w")
    process, url = start_server(path, [], log)
    yield url
    stop_server(process)
    log.close()


def assert_serving(url):
    """The server still answers its health check."""
    assert request(url + "api/health")[0] == 200


# --- a running server

@pytest.mark.slow
def test_health_names_the_model_and_the_limits(server, real_mnist_export):
    status, body = request(server + "api/health")
    assert status == 200 and body["status"] == "ok"
    assert body["model"]["sha256"] == hashlib.sha256(real_mnist_export.read_bytes()).hexdigest()[:12]
    assert body["limits"] == {"max_request_bytes": 1_000_000, "max_files": 3, "max_pixels": 4_000_000}
    assert body["not_a_digit"]["checked"] is True and body["not_a_digit"]["method"] == "mahalanobis"


@pytest.mark.slow
def test_same_answers_as_predict_py(server, digits, real_mnist_export, real_mnist_model_file, tmp_path):
    """Pictures sent to the server get predict.py's records, and the probabilities predict.py's functions
    compute for the same files, to float precision; the Keras model the export was made from agrees."""
    from mnist_pipeline.model import load_model
    from mnist_pipeline.predict import cli
    from mnist_pipeline.predict.readings import reading_probabilities
    from mnist_pipeline.predict.runtime import load_classifier

    chosen = digits[:3]
    paths = []
    for name, data, _ in chosen:
        paths.append(tmp_path / name)
        paths[-1].write_bytes(data)
    status, served = post_images(server + "api/predict?details=1", [(name, data) for name, data, _ in chosen])
    assert status == 200

    printed = json.loads(run([sys.executable, "predict.py", "--format", "json", "--model", real_mnist_export,
                              *paths], cwd=ROOT).stdout)
    assert [row["file"] for row in printed] == [str(path) for path in paths]
    assert [row["file"] for row in served] == [name for name, _, _ in chosen]
    for row, expected in zip(served, printed):
        assert {k: v for k, v in row.items() if k not in ("file", "probabilities", "input_28x28")} == \
            {k: v for k, v in expected.items() if k != "file"}
    kept, readings = cli.prepare_all(paths, lambda path, problem: pytest.fail(f"{path}: {problem}"))
    shift_px = cli.default_shift_px()
    probabilities = reading_probabilities(load_classifier(real_mnist_export), readings, cli.BATCH_SIZE, shift_px)
    np.testing.assert_allclose([row["probabilities"] for row in served], probabilities, rtol=0, atol=1e-6)
    keras = reading_probabilities(load_model(real_mnist_model_file).predict_on_batch, readings, cli.BATCH_SIZE,
                                  shift_px)
    np.testing.assert_allclose(probabilities, keras, rtol=0, atol=1e-5)
    np.testing.assert_array_equal([row["input_28x28"] for row in served],
                                  np.round(readings[:, 0] * 255).astype(np.uint8).reshape(len(paths), -1))


@pytest.mark.slow
def test_records_without_details_are_predict_py_s(server, digits):
    status, served = post_images(server + "api/predict", [digits[0][:2]])
    assert status == 200
    assert set(served[0]) == {"file", "digit", "confidence", "unsure", "calibrated", "top3", *NOT_A_DIGIT_FIELDS}


@pytest.mark.slow
def test_two_digits_side_by_side_are_flagged_and_real_digits_not(flagging_server, digits):
    """Two MNIST digits side by side get not_a_digit true (two pieces); real MNIST digits drawn or photographed
    get false; each verdict, the line's, the disc's and the T-shirt's too, is the score over the threshold or an
    ink check: two pieces or more, strokes too uneven for a pen (whether the small CNN's detector flags a line
    depends on that model: see test_not_a_digit_predict)."""
    from mnist_pipeline.predict import styles

    images, _ = styles.sample_digits(REAL_MNIST, 2, seed=11)
    pictures = not_digit_pictures(images, np.random.default_rng(5))
    status, flagged = post_images(flagging_server + "api/predict", [(f"{name}.png", encoded(picture, "PNG"))
                                                            for name, picture in pictures.items()])
    assert status == 200 and [row["file"] for row in flagged] == [f"{name}.png" for name in pictures]
    assert flagged[-1]["not_a_digit"] is True and flagged[-1]["digit_pieces"] == 2, flagged
    status, real = post_images(flagging_server + "api/predict", [(name, data) for name, data, _ in digits[:3]])
    assert status == 200 and [row["not_a_digit"] for row in real] == [False] * 3, real
    assert [row["digit_pieces"] for row in real] == [1] * 3
    for row in flagged + real:
        assert row["not_a_digit"] == verdict_from_figures(row), row


def png_of_size(width, height):
    """A blank greyscale PNG of width x height (small on disk however large)."""
    return encoded(Image.new("L", (width, height), 255), "PNG")


BAD_UPLOADS = {
    "not an image": ([("notes.txt", b"this is text, not a picture\n")], 422, "notes.txt: not an image"),
    "truncated": ([("cut.png", png_of_size(300, 300)[:120])], 422, "cut.png: truncated or corrupt"),
    "too many pixels": ([("huge.png", png_of_size(2100, 2000))], 422, "huge.png: too many pixels (4,200,000; "),
    "too many files": ([(f"{i}.png", png_of_size(10, 10)) for i in range(4)], 400, "request: Too many files"),
    "no ink": ([("white.png", png_of_size(200, 200))], 422, "white.png: no ink found"),
    "empty file": ([("empty.png", b"")], 422, "empty.png: is empty"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", BAD_UPLOADS)
def test_bad_uploads_get_a_4xx_with_a_one_line_error(server, case):
    files, expected_status, expected_start = BAD_UPLOADS[case]
    status, body = post_images(server + "api/predict", files)
    assert (status, list(body)) == (expected_status, ["error"])
    assert body["error"].startswith(expected_start) and "\n" not in body["error"]
    assert_serving(server)


@pytest.mark.slow
def test_a_bad_file_among_good_ones_names_that_file(server, digits):
    status, body = post_images(server + "api/predict", [digits[0][:2], ("bad.gif", b"GIF89a broken")])
    assert status == 422 and body["error"].startswith("bad.gif: ")


@pytest.mark.slow
def test_a_form_without_files_or_not_a_form_is_refused(server):
    body, content_type = multipart([])  # an empty form: only the closing boundary
    assert request(server + "api/predict", "POST", body, {"Content-Type": content_type}) == (
        400, {"error": "request: no file in the form (send images as file fields: -F image=@digit.png)"})
    status, answer = request(server + "api/predict", "POST", b'{"image": 7}', {"Content-Type": "application/json"})
    assert status == 415 and answer["error"].startswith("request: expected multipart/form-data")
    status, answer = request(server + "api/nothing")
    assert status == 404 and answer["error"].startswith("/api/nothing: ")
    assert_serving(server)


def post_headers(server, headers):
    """An open connection that has sent only the headers of a multipart POST to /api/predict."""
    connection = http.client.HTTPConnection("127.0.0.1", int(server.rsplit(":", 1)[1].strip("/")), timeout=30)
    connection.putrequest("POST", "/api/predict")
    for name, value in {"Content-Type": "multipart/form-data; boundary=x", **headers}.items():
        connection.putheader(name, value)
    connection.endheaders()
    return connection


@pytest.mark.slow
def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(server):
    """Headers alone: the server answers 413 without waiting for (or reading) a body."""
    connection = post_headers(server, {"Content-Length": str(50_000_000)})
    answer = connection.getresponse()
    assert answer.status == 413
    assert json.loads(answer.read()) == {"error": "request: body too large (50,000,000 bytes; the limit is 1,000,000)"}
    connection.close()
    assert_serving(server)


@pytest.mark.slow
def test_a_streamed_body_is_cut_off_at_the_limit(server):
    """A chunked body (no Content-Length) is counted as it arrives and refused once past the limit."""
    connection = post_headers(server, {"Transfer-Encoding": "chunked"})
    head = b'--x\r\nContent-Disposition: form-data; name="image"; filename="big.png"\r\n\r\n'
    chunks = [head] + [bytes(64 * 1024)] * 20  # 1.3 MB of a file, past the 1 MB limit
    try:
        for chunk in chunks:
            connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close the connection while the rest is still being sent
    answer = connection.getresponse()
    assert answer.status == 413
    assert json.loads(answer.read()) == {"error": "request: body too large (over 1,000,000 bytes, the limit)"}
    connection.close()
    assert_serving(server)


@pytest.mark.slow
def test_concurrent_requests_get_their_own_answers(server, digits):
    """8 clients at once, 24 requests: each answer is the one its picture gets alone, and is right."""
    alone = {name: post_images(server + "api/predict?details=1", [(name, data)])[1][0] for name, data, _ in digits}

    def ask(item):
        name, data, _ = item
        return post_images(server + "api/predict?details=1", [(name, data)])

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, digits * 2))
    for (name, _, label), (status, body) in zip(digits * 2, answers):
        assert status == 200 and body[0]["file"] == name
        assert body[0]["digit"] == alone[name]["digit"]
        np.testing.assert_allclose(body[0]["probabilities"], alone[name]["probabilities"], rtol=0, atol=1e-5)
    accuracy = np.mean([alone[name]["digit"] == label for name, _, label in digits])
    assert accuracy >= 11 / 12
    assert_serving(server)
