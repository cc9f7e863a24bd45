"""The learner's page in a real headless Chromium (Selenium with Debian's chromium-driver).

Skipped, with a one-line reason, when Selenium, chromium or chromedriver is missing
(`.ci/run` installs the Debian packages; `make test` installs Selenium).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
import unicodedata

import numpy as np
import pytest

from charrnn.cli import main
from charrnn.core.cells import cell_names
from tests.conftest import run_cli_process
from tests.viz.conftest import BROWSER, DRIVER

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
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


def click_heat(browser, unit):
    """Click the heatmap's row of ``unit`` (rows of data-ch pixels below a data-top margin)."""
    canvas = browser.find_element(By.ID, "heat")
    browser.execute_script("arguments[0].scrollIntoView()", canvas)
    ch, top, left = (int(canvas.get_attribute(f"data-{k}")) for k in ("ch", "top", "left"))
    webdriver.ActionChains(browser).move_to_element_with_offset(
        canvas,
        -canvas.size["width"] // 2 + left + 2,
        -canvas.size["height"] // 2 + top + unit * ch + ch // 2,
    ).click().perform()


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
    click_heat(browser, 3)
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


# Issue 24's defects, each reproduced in the browser, and the page for every cell and for a
# Korean jamo model. These pages are served in-process (the test-only "irnn" cell is
# registered in this process alone).


@pytest.fixture
def serve(browser, runs):
    """Load the live page of a run (by name) served in this process; the server stops after."""
    from charrnn import CharRNN
    from charrnn.viz.server import make_server

    servers = []

    def load(name, first="an", expect=None):
        srv = make_server(CharRNN.load(runs(name)), "127.0.0.1", 0, first_text=first)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        browser.get_log("browser")  # drop what earlier pages logged
        browser.get(srv.url)
        n = len(first) + 1 if expect is None else expect  # words mode adds the end
        wait(browser, lambda d: len(tokens(d)) == n)
        return browser

    yield load
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def severe(browser):
    return [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def set_text(browser, text):
    """Put ``text`` in the box at once (as a paste) and let the page read it."""
    browser.execute_script(
        "const t = document.getElementById('text'); t.value = arguments[0];"
        "t.dispatchEvent(new Event('input'));",
        text,
    )


def error_text(browser):
    return browser.find_element(By.ID, "error").text


@pytest.mark.parametrize("cell", ["gru", "lstm", "irnn"])
def test_influence_works_for_every_gated_cell(serve, cell):
    """Issue 24, defect 2: influence failed with StopIteration for gated cells."""
    browser = serve(cell)
    type_text(browser, "emma")
    wait(browser, lambda d: len(tokens(d)) == 5)
    tokens(browser)[3].click()
    wait(browser, lambda d: "prediction of character 3" in d.find_element(By.ID, "colouring").text)
    bg = backgrounds(browser)
    assert bg[3] == (255, 230, 128) and all(c[2] == 255 and c != (255, 255, 255) for c in bg[:3])
    assert error_text(browser) == "" and severe(browser) == []


def test_a_jamo_model_reads_korean_syllables(serve):
    """Issue 24, defect 14: a jamo model's page failed on any text of two or more syllables."""
    browser = serve("jamo", first="", expect=0)
    type_text(browser, "사랑")
    wait(browser, lambda d: len(tokens(d)) > 2)
    assert error_text(browser) == ""
    shown = "".join(texts(browser, "#tokens .tok .c"))
    assert unicodedata.normalize("NFC", shown) == "사랑\u23ce"  # one token per jamo
    tokens(browser)[1].click()
    wait(browser, lambda d: "prediction of character 1" in d.find_element(By.ID, "colouring").text)
    assert error_text(browser) == "" and severe(browser) == []


def test_emptying_the_text_then_typing_works(live):
    """Issue 24, defect 1: after select-all + Delete, typing broke the page for good."""
    box = live.find_element(By.ID, "text")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    wait(live, lambda d: len(tokens(d)) <= 1)
    box.send_keys("emma")
    wait(live, lambda d: texts(d, "#tokens .tok .c") == ["e", "m", "m", "a", "\u23ce"])
    assert texts(live, "#layer option") == ["layer 1"]
    assert error_text(live) == "" and severe(live) == []
    click_heat(live, 2)
    wait(live, lambda d: "activation of unit 2 " in d.find_element(By.ID, "colouring").text)


def test_text_mode_samples_keep_their_line_breaks(serve):
    """Issue 24, defect 3: white-space: normal ran a sample's lines together."""
    browser = serve("text", first="The cat", expect=7)
    browser.find_element(By.ID, "s-go").click()
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#samples li")) == 5)
    li = browser.find_elements(By.CSS_SELECTOR, "#samples li")[0]
    assert li.value_of_css_property("white-space") == "pre-wrap"
    for item in browser.find_elements(By.CSS_SELECTOR, "#samples li"):
        raw = browser.execute_script("return arguments[0].textContent", item)
        assert browser.execute_script("return arguments[0].innerText", item) == raw


def test_a_long_text_scrolls_inside_its_own_box(live):
    """Issue 24, defect 4: at 10,000 characters the page grew 10,000 px wide."""
    text = ("emma\nolivia\n" * 900)[:10_000]
    set_text(live, text)
    # A long text is drawn as the compact strip: one span per character.
    wait(
        live,
        lambda d: (
            d.execute_script("return document.querySelectorAll('#tokens .sc').length") >= 10_000
        ),
        timeout=60,
    )
    page = live.execute_script(
        "const w = document.getElementById('heatwrap');"
        "return [document.documentElement.scrollWidth, window.innerWidth,"
        " w.scrollWidth, w.clientWidth, w.getBoundingClientRect().right]"
    )
    scroll_width, inner, heat_scroll, heat_client, heat_right = page
    assert scroll_width <= inner  # no sideways scrolling of the page
    assert heat_scroll > heat_client and heat_right <= inner  # the heatmap scrolls, visibly


def test_the_page_fits_a_phone(live):
    """Issue 24, defect 5: no <meta name=viewport>, and sideways scrolling at 390 px."""
    assert (
        live.find_element(By.CSS_SELECTOR, 'meta[name="viewport"]')
        .get_attribute("content")
        .startswith("width=device-width")
    )
    size = live.get_window_size()
    try:
        live.set_window_size(390, 844)
        width = live.execute_script("return window.innerWidth")
        live.get(live.current_url)
        wait(live, lambda d: len(tokens(d)) == 3)
        set_text(live, "emma\nolivia\nanna\n" * 3)  # a heatmap wider than the phone
        wait(live, lambda d: len(tokens(d)) == 51)
        assert live.execute_script("return document.documentElement.scrollWidth") <= width
        assert live.execute_script("return document.getElementById('heat').width") > width
    finally:
        live.set_window_size(size["width"], size["height"])


def test_the_heatmap_has_axes_and_clickable_rows_at_512_units(serve):
    """Issue 24, defect 6: no axis labels; at H >= 300 a row was 2 px tall (H = 512 here)."""
    browser = serve("wide", first="emma")
    canvas = browser.find_element(By.ID, "heat")
    ch, top, left = (int(canvas.get_attribute(f"data-{k}")) for k in ("ch", "top", "left"))
    assert ch >= 4 and top > 0 and left > 0
    # The margins carry labels: dark pixels left of row 0 and above column 0.
    dark = browser.execute_script(
        "const c = document.getElementById('heat'), g = c.getContext('2d');"
        "const n = (x, y, w, h) => Array.from(g.getImageData(x, y, w, h).data)"
        ".filter((v, i) => i % 4 === 0 && v < 128).length;"
        "return [n(0, arguments[0], arguments[1], 40), n(arguments[1], 0, 40, arguments[0])]",
        top,
        left,
    )
    assert dark[0] > 0 and dark[1] > 0
    assert browser.execute_script("return document.getElementById('heat').height") >= top + 512 * 4
    # Unit 511, the last: scroll the heatmap's own box to it, then click its row.
    browser.execute_script(
        "const c = document.getElementById('heat'), w = document.getElementById('heatwrap');"
        "c.scrollIntoView(); w.scrollTop = arguments[0] - 40;"
        "const r = c.getBoundingClientRect();"
        "c.dispatchEvent(new MouseEvent('click', {clientX: r.left + arguments[1] + 2,"
        " clientY: r.top + arguments[0] + arguments[2] / 2, bubbles: true}));",
        top + 511 * ch,
        left,
        ch,
    )
    wait(browser, lambda d: "activation of unit 511 " in d.find_element(By.ID, "colouring").text)


def test_stale_state_is_cleared(live):
    """Issue 24, defect 7: the influence outline stayed in unit view, an error stayed after
    later successes, and after a 400 the previous reading stayed as if current."""
    type_text(live, "emma")
    wait(live, lambda d: len(tokens(d)) == 5)
    tokens(live)[2].click()
    wait(live, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#tokens .tok.sel")) == 1)
    click_heat(live, 1)
    wait(live, lambda d: "activation of unit 1 " in d.find_element(By.ID, "colouring").text)
    assert live.find_elements(By.CSS_SELECTOR, "#tokens .tok.sel") == []
    # An error from sampling is cleared by the next thing that works.
    temp = live.find_element(By.ID, "s-temp")
    temp.clear()
    temp.send_keys("1000")
    live.find_element(By.ID, "s-go").click()
    wait(live, lambda d: "temperature must be between" in error_text(d))
    tokens(live)[2].click()
    wait(live, lambda d: error_text(d) == "")
    # A text the model cannot read: the error, and the old reading dimmed as stale.
    live.find_element(By.ID, "text").send_keys("%")
    wait(live, lambda d: "not in the model's vocabulary" in error_text(d))
    assert "unknown='skip'" not in error_text(live)
    assert "stale" in live.find_element(By.ID, "tokens").get_attribute("class")
    type_text(live, "anna")
    wait(live, lambda d: error_text(d) == "" and len(tokens(d)) == 5)
    assert "stale" not in live.find_element(By.ID, "tokens").get_attribute("class")


RECORD_FETCH = """
window.sent = []; window.signals = [];
const realFetch = window.fetch;
window.fetch = (url, opts) => {
  window.sent.push([url, JSON.parse(opts.body)]);
  if (opts.signal) window.signals.push(opts.signal);
  // Every reading takes a while: a newer one must abort it (arguments[0] ms).
  const delay = url.endsWith('/api/read') ? arguments[0] : 0;
  return new Promise(r => setTimeout(r, delay)).then(() => realFetch(url, opts));
};
"""


def test_an_empty_temperature_is_the_default_not_greedy(live):
    """Issue 24, defect 8: clearing the temperature field sent 0 (greedy sampling)."""
    live.execute_script(RECORD_FETCH, 0)
    live.find_element(By.ID, "s-temp").clear()
    live.find_element(By.ID, "s-go").click()
    wait(live, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#samples li")) == 5)
    url, body = live.execute_script("return window.sent")[-1]
    assert url.endswith("/api/sample") and body["temperature"] is None
    assert len(set(texts(live, "#samples li"))) > 1  # not five copies of the greedy word


def test_small_print_is_legible(live):
    """Issue 24, defect 10: guesses at ~10 px #777, and p = 0.00028 shown as ".000"."""
    guess = live.find_element(By.CSS_SELECTOR, "#tokens .tok .n")
    assert float(guess.value_of_css_property("font-size").rstrip("px")) >= 12
    r, g, b = (int(v) for v in guess.value_of_css_property("color")[5:-1].split(",")[:3])
    assert max(r, g, b) <= 0x44
    assert live.execute_script("return [fmtP(0.00028), fmtP(0.5), fmtP(1)]") == [
        "3e-4",
        ".500",
        "1.000",
    ]


def test_only_properties_that_can_vary_are_offered(live, serve):
    """Issue 24, defect 11: a names model was offered quotes, brackets and spaces."""
    assert texts(live, "#prop option") == ["position in word"]
    browser = serve("text", first="The cat", expect=7)
    assert texts(browser, "#prop option") == [
        "position in word",
        "inside quotes",
        "inside brackets",
        "after a space",
        "line length",
    ]


def test_typing_supersedes_the_reading_in_flight(live):
    """Issue 24, defect 12: six keys on a long text sent six readings, none cancelled."""
    live.execute_script(RECORD_FETCH, 1500)
    box = live.find_element(By.ID, "text")
    for key in "emma":
        box.send_keys(key)
        time.sleep(0.4)  # past the 200 ms pause that starts a reading, within its 1.5 s
    wait(live, lambda d: len(tokens(d)) == len("anemma") + 1)
    aborted = live.execute_script("return window.signals.map(s => s.aborted)")
    assert len(aborted) >= 3 and all(aborted[:-1]) and not aborted[-1]
    assert error_text(live) == ""


@pytest.mark.parametrize("cell", cell_names())
def test_the_reach_view_draws_the_gradient_against_distance(serve, runs, cell):
    """Issue 24, item 1: ||d log p / d h_(t-j)|| against j for every layer, exact numbers."""
    from charrnn import CharRNN
    from charrnn.generation.views import reach

    browser = serve(cell, first="olivia")
    tokens(browser)[5].click()
    wait(browser, lambda d: d.execute_script("return window.lastReach") is not None)
    shown = browser.execute_script("return window.lastReach")
    model = CharRNN.load(runs(cell))
    want = reach(model.params_, model.vocab_, "olivia", 5, mode="words", cell=cell)
    assert len(shown) == model.config_.layers and len(shown[0]) == 64
    got = np.array([[np.nan if v is None else v for v in row] for row in shown])
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert np.isfinite(got[:, :6]).all() and np.isnan(got[:, 6:]).all()  # the word's 6 steps
    legend = browser.find_element(By.ID, "reach-legend").text
    assert "layer 1" in legend and "1-hop rule" in legend
    assert "BPTT" in browser.find_element(By.ID, "reach-help").text
    assert "vanishing gradient" in browser.find_element(By.ID, "reach-help").text
    assert error_text(browser) == "" and severe(browser) == []
    # A new text clears the curve of the old one.
    type_text(browser, "anna")
    wait(browser, lambda d: d.execute_script("return window.lastReach") is None)


def test_the_exported_page_has_the_reach_view(browser, run, tmp_path):
    out = tmp_path / "page.html"
    assert main(["viz", str(run), "anna\nbob", "--out", str(out)]) == 0
    browser.get_log("browser")
    browser.get(out.as_uri())
    wait(browser, lambda d: len(tokens(d)) == 9)
    tokens(browser)[7].click()
    wait(browser, lambda d: d.execute_script("return window.lastReach") is not None)
    shown = browser.execute_script("return window.lastReach")
    assert [v is not None for v in shown[0][:4]] == [True, True, True, False]  # "bob": 3 steps
    assert severe(browser) == []


def test_influence_on_an_absolute_scale_with_a_legend(live, run):
    """Issue 24, item 1: shades on one fixed log scale, 1e-3 to 10, with a legend."""
    from charrnn import CharRNN

    type_text(live, "emma")
    wait(live, lambda d: len(tokens(d)) == 5)
    live.find_element(By.ID, "infl-abs").click()
    tokens(live)[3].click()
    wait(live, lambda d: "absolute scale" in d.find_element(By.ID, "colouring").text)
    legend = live.find_element(By.ID, "infl-legend").text
    assert all(v in legend for v in ("0.001", "0.01", "0.1", "1", "10"))
    want = CharRNN.load(run).influence("emma", tokens=[3])[0][-3:]  # inputs e, m, m
    shade = np.clip((np.log10(want) + 3) / 4, 0, 1)
    for got, s in zip(backgrounds(live)[:3], shade, strict=True):
        expected = (255 - 200 * s, 255 - 150 * s, 255)
        assert all(abs(a - b) <= 1 for a, b in zip(got, expected, strict=True)), (got, expected)
    # Back to per-prediction shades: each value over this prediction's largest (which may
    # be the boundary's, before the word).
    absolute = backgrounds(live)[:3]
    live.find_element(By.ID, "infl-abs").click()
    wait(live, lambda d: "absolute" not in d.find_element(By.ID, "colouring").text)
    assert backgrounds(live)[:3] != absolute
    assert "largest in this prediction" in live.find_element(By.ID, "infl-legend").text


def test_the_sample_controls_stay_on_one_line_at_1280_px(live):
    """Issue 24, defect 10: the Sample controls wrapped at 1280 px."""
    size = live.get_window_size()
    try:
        live.set_window_size(1280, 900)
        tops = live.execute_script(
            "return Array.from(document.querySelectorAll("
            "'#live .panel label, #live .panel button'),"
            " e => Math.round(e.getBoundingClientRect().top))"
        )
        # Sample: 5 fields and a button; completions: 3 fields and a button.
        assert len(tops) == 10 and len(set(tops[:6])) == 1 and len(set(tops[6:])) == 1, tops
    finally:
        live.set_window_size(size["width"], size["height"])


@pytest.mark.parametrize("cell", cell_names())
def test_every_view_of_the_page_works_for_every_cell(serve, cell):
    """The page's whole round, per cell: empty the text and type, influence and reach of a
    click, a unit of the heatmap, samples and completions, with no error anywhere."""
    browser = serve(cell)
    box = browser.find_element(By.ID, "text")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    wait(browser, lambda d: len(tokens(d)) <= 1)
    box.send_keys("olivia")
    wait(browser, lambda d: len(tokens(d)) == 7)
    tokens(browser)[4].click()
    wait(browser, lambda d: d.execute_script("return window.lastReach") is not None)
    wait(browser, lambda d: "prediction of character 4" in d.find_element(By.ID, "colouring").text)
    click_heat(browser, 5)
    wait(browser, lambda d: "activation of unit 5 " in d.find_element(By.ID, "colouring").text)
    browser.find_element(By.ID, "s-go").click()
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#samples li")) == 5)
    browser.find_element(By.ID, "c-prefix").send_keys("o")
    browser.find_element(By.ID, "c-go").click()
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#completions li")) > 0)
    assert error_text(browser) == "" and severe(browser) == []
