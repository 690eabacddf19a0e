"""Tests the drawing page of serve.py in a real browser: headless Chromium driven by Selenium.

Draws the strokes of a real MNIST 7 (its skeleton, traced into pen strokes and scaled to the
canvas) with pointer events from a mouse and from a touch screen, uploads a photo-like picture of
another MNIST digit and two digits side by side, and checks the answers the page shows. Needs
Debian's `chromium` and `chromium-driver` packages (skips with a message naming them where they are
missing), Selenium from requirements.txt and ../shared/data/mnist (for the model: conftest's `real_mnist_export`,
the LiteRT export of the `real_mnist_model_file` fixture with a not-a-digit detector fitted for it beside it).
The page's screenshot after the drawn 7 is saved as demo.png in the test's tmp folder
(docs/demo.png is one of these).
"""
from pathlib import Path

import numpy as np
import pytest

from conftest import REAL_MNIST, REAL_MNIST_GROUP
from mnist_pipeline import negatives
from mnist_pipeline.serve.client import start_server, stop_server

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
WINDOW = (1000, 900)
ANSWER_TIMEOUT_S = 60  # the machine may be busy

pytestmark = [
    pytest.mark.slow,
    REAL_MNIST_GROUP,
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason="needs headless Chromium: apt-get install chromium chromium-driver (Debian packages)"),
]


@pytest.fixture(scope="module")
def server(real_mnist_export, tmp_path_factory):
    """The base URL of a running server on `real_mnist_export`."""
    log = (tmp_path_factory.mktemp("serve") / "stderr.txt").open("w")
    process, url = start_server(real_mnist_export, log=log)
    yield url
    stop_server(process)
    log.close()


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium under Selenium, pointed at Debian's binaries (nothing is downloaded)."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs Selenium: pip install -r requirements.txt")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--window-size={WINDOW[0]},{WINDOW[1]}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(str(CHROMEDRIVER)))
    yield driver
    driver.quit()


def mnist_test_digit(label, nth=0):
    """The nth MNIST test image (28x28 uint8) of a label."""
    from mnist_pipeline.predict.styles import load_mnist

    images, labels = load_mnist(REAL_MNIST, "t10k")
    return images[np.flatnonzero(labels == label)[nth]]


def strokes_of(digit, scale=4):
    """Pen strokes [[(x, y), ...], ...] in 28x28 pixel units tracing the skeleton of an MNIST digit:
    each stroke starts at a free end (or anywhere on a loop) and follows unvisited neighbours."""
    from PIL import Image
    from skimage.morphology import skeletonize

    big = np.asarray(Image.fromarray(digit).resize((28 * scale, 28 * scale), Image.Resampling.BILINEAR)) > 100
    left = {(int(y), int(x)) for y, x in zip(*np.nonzero(skeletonize(big)))}

    def neighbours(p):
        return [(p[0] + dy, p[1] + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy or dx) and
                (p[0] + dy, p[1] + dx) in left]

    strokes = []
    while left:
        start = min(left, key=lambda p: (len(neighbours(p)) != 1, p))  # a free end first, top-left first
        stroke, point = [], start
        while point:
            left.discard(point)
            stroke.append(((point[1] + 0.5) / scale, (point[0] + 0.5) / scale))
            point = min(neighbours(point), key=lambda q: abs(q[0] - point[0]) + abs(q[1] - point[1]), default=None)
        if len(stroke) >= 3 * scale:  # spurs of the skeleton are dropped
            strokes.append(stroke[::scale])
    return strokes


def draw(driver, strokes, pointer="mouse"):
    """Draws strokes (28x28 units) on the page's canvas with pointer events of one pointer kind."""
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput
    from selenium.webdriver.common.by import By

    pad = driver.find_element(By.ID, "pad")
    side = pad.size["width"]
    kind = {"mouse": interaction.POINTER_MOUSE, "touch": interaction.POINTER_TOUCH, "pen": interaction.POINTER_PEN}
    actions = ActionBuilder(driver, mouse=PointerInput(kind[pointer], pointer), duration=10)
    for stroke in strokes:
        offsets = [(round((x / 28 - 0.5) * side), round((y / 28 - 0.5) * side)) for x, y in stroke]
        actions.pointer_action.move_to(pad, *offsets[0]).pointer_down()
        for dx, dy in offsets[1:]:
            actions.pointer_action.move_to(pad, dx, dy)
        actions.pointer_action.pointer_up()
    actions.perform()


def answer(driver):
    """(state, digit text, status text) once the page has settled after the last picture."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    pad = driver.find_element(By.ID, "pad")
    WebDriverWait(driver, ANSWER_TIMEOUT_S).until(lambda d: pad.get_attribute("data-state") in ("answered", "problem"))
    return (pad.get_attribute("data-state"), driver.find_element(By.ID, "digit").text,
            driver.find_element(By.ID, "status").text)


def test_drawn_seven_is_read_as_seven_with_mouse_and_touch(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(server)
    assert browser.find_element(By.ID, "pad").get_attribute("data-state") == "blank"
    strokes = strokes_of(mnist_test_digit(7))
    assert 1 <= len(strokes) <= 3
    draw(browser, strokes, "mouse")
    state, digit, status = answer(browser)
    assert (state, digit) == ("answered", "7"), status
    bars = browser.find_elements(By.CSS_SELECTOR, "#bars li")
    assert len(bars) == 10 and "top" in bars[7].get_attribute("class")
    browser.save_screenshot(str(tmp_path / "demo.png"))
    print(f"screenshot: {tmp_path / 'demo.png'}")

    browser.find_element(By.ID, "clear").click()
    assert browser.find_element(By.ID, "pad").get_attribute("data-state") == "blank"
    assert browser.find_element(By.ID, "status").text == "No ink yet: draw a digit."
    draw(browser, strokes, "touch")
    assert answer(browser)[:2] == ("answered", "7")


def test_uploaded_photo_is_read(server, browser, tmp_path):
    from PIL import Image
    from selenium.webdriver.common.by import By

    from mnist_pipeline.predict.styles import render_paper_photo

    photo = tmp_path / "three.jpg"
    render_paper_photo(mnist_test_digit(3), np.random.default_rng(1)).save(photo, quality=85)
    browser.get(server)
    browser.find_element(By.ID, "file").send_keys(str(photo))
    state, digit, status = answer(browser)
    assert (state, digit) == ("answered", "3") and "Probably not a digit" not in status, status

    pair = tmp_path / "pair.png"
    negatives.two_digits(np.random.default_rng(2), np.stack([mnist_test_digit(3), mnist_test_digit(7)])).save(pair)
    browser.find_element(By.ID, "clear").click()
    browser.find_element(By.ID, "file").send_keys(str(pair))
    state, _, status = answer(browser)
    assert state == "answered" and status.startswith("Probably not a digit"), status
    assert "2 digit-sized pieces side by side" in browser.find_element(By.ID, "status").get_attribute("title")

    blank = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(blank)
    browser.find_element(By.ID, "clear").click()  # so that the last answer cannot be taken for the next
    browser.find_element(By.ID, "file").send_keys(str(blank))
    assert answer(browser) == ("problem", "?", "blank.png: no ink found (blank image)")


def test_the_page_names_the_model(server, browser, real_mnist_export):
    import hashlib

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server)
    line = browser.find_element(By.ID, "model")
    WebDriverWait(browser, ANSWER_TIMEOUT_S).until(lambda d: line.text.startswith("Model "))
    assert hashlib.sha256(real_mnist_export.read_bytes()).hexdigest()[:12] in line.text
    assert "not-a-digit check on" in line.text
