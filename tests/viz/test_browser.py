"""The learner's page in a real headless Chromium (Selenium with Debian's chromium-driver).

Skipped, with a one-line reason, when Selenium, chromium or chromedriver is missing
(`.ci/run` installs the Debian packages; `make test` installs Selenium).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time

import pytest

from charrnn.cli import main
from tests.conftest import run_cli_process

BROWSER = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
DRIVER = shutil.which("chromedriver")
try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    webdriver = None
if webdriver is None or BROWSER is None or DRIVER is None:
    pytest.skip(
        "browser tests need selenium, chromium and chromedriver "
        "(apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "names"
    assert (
        main(["train", "@names", "--out", str(path), "--hidden", "16", "--steps", "40", "--quiet"])
        == 0
    )
    return path


@pytest.fixture(scope="module")
def url(run):
    """``charrnn serve`` as its own process on a free localhost port."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "charrnn", "serve", str(run), "--port", "0", "--text", "an"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    line = proc.stdout.readline()
    assert " at http://127.0.0.1:" in line, proc.stderr.read()
    yield line.split(" at ")[1].split()[0]
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = BROWSER
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1300,1400",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(DRIVER))
    yield driver
    driver.quit()


def wait(driver, condition, timeout=20):
    # The page redraws as answers arrive: an element read mid-redraw is simply read again.
    return WebDriverWait(
        driver, timeout, ignored_exceptions=(StaleElementReferenceException,)
    ).until(lambda d: condition(d))


def texts(driver, selector):
    """The text of every element matching ``selector``, read in one go (no redraw between)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), e => e.textContent)", selector
    )


def tokens(driver):
    return driver.find_elements(By.CSS_SELECTOR, "#tokens .tok")


def type_text(driver, text):
    box = driver.find_element(By.ID, "text")
    box.clear()
    box.send_keys(text)


def backgrounds(driver):
    """Each character's background as an (r, g, b) triple."""
    out = []
    for t in tokens(driver):
        css = t.find_element(By.CLASS_NAME, "c").value_of_css_property("background-color")
        out.append(tuple(int(float(v)) for v in css[css.index("(") + 1 : -1].split(",")[:3]))
    return out


@pytest.fixture
def live(browser, url):
    """The browser on a freshly loaded live page, whichever test ran before on this worker."""
    browser.get(url)
    wait(browser, lambda d: len(tokens(d)) == 3)  # "an" and its end
    return browser


def test_typed_text_shows_the_probabilities_of_charrnn_score(live, run):
    browser = live
    type_text(browser, "emma")
    wait(browser, lambda d: texts(d, "#tokens .tok .c") == ["e", "m", "m", "a", "\u23ce"])
    shown = [float(v) for v in texts(browser, "#tokens .tok .p")]
    r = run_cli_process("score", run, "emma", "--json")
    want = [math.exp(-v) for v in json.loads(r.stdout)["scores"][0]["char_nll"]]
    assert len(shown) == len(want) == 5
    for s, w in zip(shown, want, strict=True):
        assert abs(s - w) <= 0.0005 + 1e-9, (shown, want)
    # Under each character: its likeliest next characters.
    assert all(texts(browser, "#tokens .tok .n"))
    assert browser.find_element(By.ID, "error").text == ""


def test_clicking_a_unit_colours_the_text_by_its_activation(live):
    browser = live
    before = backgrounds(browser)
    canvas = browser.find_element(By.ID, "heat")
    # Click the row of unit 3 (the canvas is scaled to rows of data-ch pixels).
    ch = int(canvas.get_attribute("data-ch"))
    webdriver.ActionChains(browser).move_to_element_with_offset(
        canvas, -canvas.size["width"] // 2 + 2, -canvas.size["height"] // 2 + 3 * ch + 1
    ).click().perform()
    wait(browser, lambda d: "activation of unit 3 " in d.find_element(By.ID, "colouring").text)
    after = backgrounds(browser)
    assert after != before and len(set(after)) > 1
    # A unit from the "units that track" list does the same.
    item = browser.find_elements(By.CSS_SELECTOR, "#tracking li.unit")[0]
    layer, unit = item.text.split(":")[0].replace("layer ", "").split(" unit ")
    item.click()
    wait(
        browser,
        lambda d: (
            f"activation of unit {unit} of layer {layer}" in d.find_element(By.ID, "colouring").text
        ),
    )


def test_clicking_a_character_shades_what_its_prediction_depended_on(live):
    browser = live
    type_text(browser, "emma")
    wait(browser, lambda d: len(tokens(d)) == 5)
    tokens(browser)[3].click()
    wait(
        browser,
        lambda d: (
            "Influence on the prediction of character 3" in d.find_element(By.ID, "colouring").text
        ),
    )
    bg = backgrounds(browser)
    assert bg[3] == (255, 230, 128)  # the predicted character
    assert all(c != (255, 255, 255) and c[2] == 255 for c in bg[:3])  # shaded blue
    assert bg[4] == (255, 255, 255)  # later characters have no say


def test_completions_and_samples(live, run):
    browser = live
    browser.find_element(By.ID, "c-prefix").send_keys("em")
    browser.find_element(By.ID, "c-go").click()
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#completions li")) == 10)
    shown = [json.loads(t) for t in texts(browser, "#completions .ctext")]
    r = run_cli_process("complete", run, "em", "--json")
    assert shown == [c["text"] for c in json.loads(r.stdout)["completions"]]
    assert browser.find_element(By.ID, "c-method").text.startswith("exact")
    browser.find_element(By.ID, "s-prefix").send_keys("b")
    browser.find_element(By.ID, "s-go").click()
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#samples li")) == 5)
    assert all(
        li.text.startswith("b") for li in browser.find_elements(By.CSS_SELECTOR, "#samples li")
    )


def test_bad_input_shows_a_message_on_the_page(live):
    browser = live
    type_text(browser, "em%")
    wait(browser, lambda d: "not in the model's vocabulary" in d.find_element(By.ID, "error").text)
    type_text(browser, "emma")
    wait(browser, lambda d: d.find_element(By.ID, "error").text == "")


def test_exported_page_renders_from_a_file_url_without_errors(browser, run, tmp_path):
    out = tmp_path / "page.html"
    assert main(["viz", str(run), "anna\nbob", "--out", str(out)]) == 0
    browser.get_log("browser")  # drop what earlier pages logged
    browser.get(out.as_uri())
    wait(browser, lambda d: len(tokens(d)) == 9)
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    assert not browser.find_element(By.ID, "text").is_displayed()  # no server: no text box
    assert not browser.find_element(By.ID, "c-go").is_displayed()  # nor completions
    tokens(browser)[2].click()
    wait(
        browser,
        lambda d: (
            "Influence on the prediction of character 2" in d.find_element(By.ID, "colouring").text
        ),
    )
    assert backgrounds(browser)[2] == (255, 230, 128)
    time.sleep(0.1)
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
