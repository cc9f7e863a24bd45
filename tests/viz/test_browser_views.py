"""The page's newer views in headless Chromium: models side by side, a run watched as it
trains, and the long-text strip (with a jamo model's syllables composed).

Skipped as ``test_browser`` is, when Selenium, chromium or chromedriver is missing. One
browser for the module; small models trained once, on first use.
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

from charrnn import CharRNN
from charrnn.cli import main
from charrnn.core.cells import cell_names
from charrnn.training import checkpoint
from tests.viz.conftest import KO_WORDS
from tests.viz.test_browser import By, error_text, severe, texts, tokens, wait

pytestmark = pytest.mark.slow


@pytest.fixture
def serve_many(browser, runs):
    """Serve runs (by name, as ``runs`` makes them) side by side in this process."""
    from charrnn.viz.server import make_server

    servers = []

    def load(names, first="an", watch=None, labels=None):
        models = [CharRNN.load(runs(n)) for n in names]
        srv = make_server(
            models, "127.0.0.1", 0, first_text=first, names=labels or names, runs=watch
        )
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        browser.get_log("browser")
        browser.get(srv.url)
        wait(browser, lambda d: d.execute_script("return window.lastCompare || null") is not None)
        return browser

    yield load
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def columns(browser):
    return browser.find_elements(By.CSS_SELECTOR, "#columns .col")


def column_spans(browser, c):
    return browser.execute_script(
        "return Array.from(document.querySelectorAll('#columns .col')[arguments[0]]"
        ".querySelectorAll('.sc'), s => [s.textContent, s.classList.contains('unread'),"
        " getComputedStyle(s).backgroundColor])",
        c,
    )


def rgb(css):
    return tuple(int(float(v)) for v in css[css.index("(") + 1 : -1].split(",")[:3])


def prob_colour(p):
    x = max(0.0, min(1.0, -math.log10(max(p, 1e-12)) / 3))
    return (255, round(255 - 150 * x), round(255 - 150 * x))


def click_at(browser, c, at):
    """Click the character at index ``at`` of the shared text in column ``c``."""
    span = browser.execute_script(
        "return document.querySelectorAll('#columns .col')[arguments[0]]"
        ".querySelector('.sc[data-at=\"' + arguments[1] + '\"]')",
        c,
        at,
    )
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", span)
    span.click()


@pytest.mark.parametrize("cell", [c for c in cell_names() if c != "rnn"])
def test_the_tanh_rnn_and_a_gated_cell_side_by_side(serve_many, runs, cell):
    """Probabilities, reach curves and completions of each model, in its own column."""
    from charrnn.generation.views import reach

    browser = serve_many(["rnn", cell], first="olivia")
    assert len(columns(browser)) == 2 and error_text(browser) == ""
    models = [CharRNN.load(runs(n)) for n in ("rnn", cell)]
    for c, model in enumerate(models):
        spans = column_spans(browser, c)
        assert "".join(s[0] for s in spans) == "olivia\u23ce" and not any(s[1] for s in spans)
        # Each character on the colour of its probability under that column's model.
        want = [math.exp(-v) for v in model.score_details(["olivia"])[0].char_nll]
        for (_, _, css), p in zip(spans, want, strict=True):
            assert all(abs(a - b) <= 1 for a, b in zip(rgb(css), prob_colour(p), strict=True))
    # A click on the last "i" of one column selects it in both and draws both reaches.
    click_at(browser, 1, 4)
    wait(browser, lambda d: d.execute_script("return window.lastCompareReach") is not None)
    shown = browser.execute_script("return window.lastCompareReach")
    for col, model in zip(shown, models, strict=True):
        want = reach(
            model.params_, model.vocab_, "olivia", 4, mode="words", cell=model.config_.cell
        )
        got = np.array([[np.nan if v is None else v for v in row] for row in col["reach"]])
        np.testing.assert_allclose(got, want, rtol=1e-6)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#columns .sc.sel")) == 2
    picks = texts(browser, "#columns .pick")
    for pick, model in zip(picks, models, strict=True):
        p = math.exp(-model.score_details(["olivia"])[0].char_nll[4])
        assert pick.startswith('"i": p = ') and f"{p:.3f}".lstrip("0") in pick
    # Completions of one prefix in every column: each model's own.
    browser.find_element(By.ID, "x-prefix").send_keys("ol")
    browser.find_element(By.ID, "x-go").click()
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#columns .ccompl li")) == 10)
    for c, model in enumerate(models):
        items = browser.execute_script(
            "return Array.from(document.querySelectorAll('#columns .col')[arguments[0]]"
            ".querySelectorAll('.ccompl li'), li => li.textContent)",
            c,
        )
        want = [x.text for x in model.complete("ol", 5).items]
        assert [json.loads(i.rsplit(" ", 1)[0]) for i in items] == want
    # The views of one model below follow the chosen column.
    browser.find_element(By.CSS_SELECTOR, "#which option[value='1']").click()
    wait(browser, lambda d: cell in d.find_element(By.ID, "model").text)
    assert error_text(browser) == "" and severe(browser) == []


def test_models_with_different_vocabularies_side_by_side(serve_many):
    """A character one model cannot read is marked in its column, never an error."""
    browser = serve_many(["rnn", "jamo", "text"], first="emma 사랑 The")
    text = "emma 사랑 The"
    spans = [column_spans(browser, c) for c in range(3)]
    names, jamo, textcol = spans
    # The names model: no capitals, no Hangul; the jamo model: no Latin letters.
    assert [s[0] for s in names if s[1]] == ["사", "랑", "T"]
    assert "".join(s[0] for s in jamo if not s[1]) == " 사랑 "  # its last space ends the word
    assert [s[0] for s in textcol if s[1]] == ["사", "랑"]
    assert all(len(s) == len(text) + 1 or len(s) == len(text) for s in spans)
    # Hangul in the jamo column: one syllable per span, its probability the product of its
    # jamo's (shown on hover).
    col = browser.execute_script("return window.lastCompare.columns[1]")
    k = col["src"].index(5)
    p = col["probs"][k] * col["probs"][k + 1]
    bg = rgb(next(s[2] for s in jamo if s[0] == "사"))
    assert all(abs(a - b) <= 1 for a, b in zip(bg, prob_colour(p), strict=True))
    click_at(browser, 0, 5)  # 사, in the names column
    wait(browser, lambda d: d.execute_script("return window.lastCompareReach") is not None)
    picks = texts(browser, "#columns .pick")
    assert "cannot read" in picks[0] and "p = " in picks[1] and "cannot read" in picks[2]
    legends = texts(browser, "#columns .creach-legend")
    assert "No reach" in legends[0] and "layer 1" in legends[1]
    # The inside views of the names model read the text without what it cannot read.
    assert "".join(texts(browser, "#tokens .tok .c")) == "emma\u2423\u2423he\u23ce"
    assert error_text(browser) == "" and severe(browser) == []


def test_the_exported_comparison(browser, runs, tmp_path):
    out = tmp_path / "page.html"
    code = main(
        ["viz", str(runs("rnn")), "emma 사랑", "--with", str(runs("jamo")), "--out", str(out)]
    )
    assert code == 0
    browser.get_log("browser")
    browser.get(out.as_uri())
    wait(browser, lambda d: len(columns(d)) == 2)
    click_at(browser, 1, 6)
    wait(browser, lambda d: d.execute_script("return window.lastCompareReach") is not None)
    reach = browser.execute_script("return window.lastCompareReach")
    assert reach[0]["reach"] is None and reach[1]["reach"] is not None
    assert not browser.find_element(By.ID, "x-go").is_displayed()  # no server: no completions
    assert severe(browser) == []


@pytest.mark.long  # trains its runs as it goes: make test-long
def test_the_vector_experiment_full_against_naive(browser, tmp_path):
    """``charrnn demo --page``'s pair: at the "r" of "vector", full BPTT expects it and the
    naive rule does not."""
    from charrnn.experiments.demo import vector_pair
    from charrnn.viz.server import make_server

    pair = vector_pair(str(tmp_path / "vector"), say=lambda line: None)
    assert pair.shows_the_lesson
    models = [CharRNN.load(pair.full), CharRNN.load(pair.naive)]
    srv = make_server(models, "127.0.0.1", 0, first_text="vector", names=["full", "naive"])
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        browser.get(srv.url)
        wait(browser, lambda d: len(columns(d)) == 2 and column_spans(d, 1))
        click_at(browser, 0, 5)
        wait(browser, lambda d: d.execute_script("return window.lastCompareReach") is not None)
        full, naive = (float(t.split("p = ")[1].split(";")[0]) for t in texts(browser, ".pick"))
        assert full > 0.9 >= naive
        assert abs(full - pair.p_full) < 1e-3 and abs(naive - pair.p_naive) < 1e-3
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture(scope="module")
def training(tmp_path_factory):
    """A run training in its own process (the test watches it while it trains)."""
    run = tmp_path_factory.mktemp("live") / "run"
    # Six seconds of training, however fast the machine: the page has time to watch it grow.
    args = ["--hidden", "48", "--steps", "10000000", "--time-budget", "0.1"]
    args += ["--log-every", "25", "--save-every", "250"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "charrnn", "train", "@names", "--out", str(run), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    yield run, proc
    proc.kill()
    proc.wait()


@pytest.mark.long  # trains its runs as it goes: make test-long
def test_watching_a_run_learn(browser, training):
    """Curves and samples grow on the page, without a reload, while the trainer writes."""
    from charrnn.viz.server import make_server

    run, proc = training
    deadline = time.time() + 60
    while not (run / "latest.npz").exists():
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read()
        time.sleep(0.05)
    srv = make_server(CharRNN.load(run), "127.0.0.1", 0, first_text="an", runs=[str(run)])
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        browser.get_log("browser")
        browser.get(srv.url)
        wait(browser, lambda d: d.execute_script("return window.lastLive[0] || null") is not None)
        assert browser.find_element(By.ID, "training").is_displayed()
        first = browser.execute_script("return window.lastLive[0]")
        polls = []
        while proc.poll() is None or not polls:
            browser.execute_script("return pollLive()")  # as the page's timer does
            polls.append(browser.execute_script("return window.lastLive[0]"))
            time.sleep(0.3)
        assert proc.wait() == 0, proc.stderr.read()
        browser.execute_script("return pollLive()")
        last = browser.execute_script("return window.lastLive[0]")
        with open(run / "metrics.jsonl", encoding="utf-8") as f:
            log = [json.loads(line) for line in f]
        assert last["train"] == [[r["step"], r["train_loss"]] for r in log]  # the whole log
        assert len(last["train"]) > len(first["train"])  # it grew while the page watched
        assert len({len(p["train"]) for p in polls}) > 2  # ... poll after poll
        steps = [c["step"] for c in last["checkpoints"]]
        assert len(steps) >= 2 and steps == sorted(steps, reverse=True)
        assert steps[0] == checkpoint.load(run / "latest.npz").step  # the last save is there
        # Drawn on the page: one entry per checkpoint, with samples and the greedy line.
        items = browser.find_elements(By.CSS_SELECTOR, "#runs .ckpt")
        assert len(items) == len(steps)
        assert (
            texts(browser, "#runs .ck-greedy")[0] == "greedy: " + last["checkpoints"][0]["greedy"]
        )
        assert len(items[0].find_elements(By.CSS_SELECTOR, ".ck-samples li")) == 8
        # The temperature slider: samples at another temperature, the greedy line unchanged.
        browser.execute_script(
            "const t = document.getElementById('t-temp'); t.value = 0;"
            "t.dispatchEvent(new Event('input')); t.dispatchEvent(new Event('change'));"
        )
        wait(browser, lambda d: d.execute_script("return window.lastLive[0].temperature") == 0.2)
        cold = browser.execute_script("return window.lastLive[0]")
        assert cold["checkpoints"][0]["greedy"] == last["checkpoints"][0]["greedy"]
        assert cold["checkpoints"][0]["samples"] != last["checkpoints"][0]["samples"]
        assert "T = 0.2" in browser.find_element(By.ID, "t-temp-value").text
        # The views above read the newest model a load of the run gives.
        assert last["model_step"] == checkpoint.load(run / "best.npz").step
        assert error_text(browser) == "" and severe(browser) == []
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("cell", cell_names())
def test_the_training_panel_of_a_finished_run(browser, runs, cell):
    """Every cell: the curve from the run's log and the samples of its checkpoints."""
    from charrnn.viz.server import make_server

    run = runs(cell)
    srv = make_server(CharRNN.load(run), "127.0.0.1", 0, first_text="an", runs=[str(run)])
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        browser.get_log("browser")
        browser.get(srv.url)
        wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#runs .ckpt"))
        live = browser.execute_script("return window.lastLive[0]")
        assert live["train"] and live["checkpoints"][0]["samples"]
        status = browser.find_element(By.CSS_SELECTOR, "#runs .status").text
        assert status.startswith(f"step {live['last']['step']}: train")
        assert error_text(browser) == "" and severe(browser) == []
    finally:
        srv.shutdown()
        srv.server_close()


# The long-text strip.


def strip_cells(browser):
    return browser.execute_script(
        "return Array.from(document.querySelectorAll('#tokens .sc'), s => [s.textContent,"
        " getComputedStyle(s).backgroundColor])"
    )


@pytest.mark.parametrize("cell", cell_names())
def test_a_long_text_is_a_strip(browser, runs, cell):
    """Past a few hundred characters: one coloured character per character, a line per
    line, the numbers on hover, clicks as on the boxes."""
    from charrnn.viz.server import make_server

    model = CharRNN.load(runs(cell))
    words = ["emma", "olivia", "anna", "bob", "kristoffer", "mia"] * 12
    text = "\n".join(words)
    srv = make_server(model, "127.0.0.1", 0, first_text=text)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        browser.get_log("browser")
        browser.get(srv.url)
        wait(browser, lambda d: len(strip_cells(d)) == len(text) + 1)
        assert tokens(browser) == []  # no boxes
        cells = strip_cells(browser)
        assert "".join(c[0] for c in cells) == text.replace("\n", "\u23ce") + "\u23ce"
        lines = browser.find_elements(By.CSS_SELECTOR, "#tokens .sline")
        assert len([ln for ln in lines if ln.text]) == len(words)  # one line per word
        r = model.read(text)
        for (_, css), p in list(zip(cells, r.probs, strict=True))[:40]:
            assert all(abs(a - b) <= 1 for a, b in zip(rgb(css), prob_colour(p), strict=True))
        span = browser.find_elements(By.CSS_SELECTOR, "#tokens .sc")[6]  # the "l" of olivia
        webdriver_hover(browser, span)
        title = span.get_attribute("title")
        nxt = model.vocab_.itos[int(r.top_ids[6][0])]
        assert title.startswith('"l": p = ') and f"next: {json.dumps(nxt)}" in title
        span.click()
        wait(
            browser,
            lambda d: "prediction of character 6" in d.find_element(By.ID, "colouring").text,
        )
        wait(browser, lambda d: d.execute_script("return window.lastReach") is not None)
        assert browser.find_elements(By.CSS_SELECTOR, "#tokens .sc.sel") == [span]
        assert error_text(browser) == "" and severe(browser) == []
    finally:
        srv.shutdown()
        srv.server_close()


def webdriver_hover(browser, element):
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    from selenium.webdriver import ActionChains

    ActionChains(browser).move_to_element(element).perform()
    wait(browser, lambda d: element.get_attribute("title"))


def test_a_jamo_model_strip_composes_syllables(browser, runs):
    """Korean jamo: the strip shows syllables, each with its jamo and their probabilities."""
    from charrnn.viz.server import make_server

    model = CharRNN.load(runs("jamo"))
    text = "\n".join(KO_WORDS * 12)
    srv = make_server(model, "127.0.0.1", 0, first_text=text)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        browser.get(srv.url)
        wait(browser, lambda d: len(strip_cells(d)) == len(text) + 1)
        cells = strip_cells(browser)
        assert "".join(c[0] for c in cells) == text.replace("\n", "\u23ce") + "\u23ce"
        r = model.read(text)
        # 사 (two jamo): its colour is the product of its jamo's probabilities.
        p = r.probs[0] * r.probs[1]
        assert all(abs(a - b) <= 1 for a, b in zip(rgb(cells[0][1]), prob_colour(p), strict=True))
        span = browser.find_elements(By.CSS_SELECTOR, "#tokens .sc")[0]
        webdriver_hover(browser, span)
        title = span.get_attribute("title")
        jamo = unicodedata.normalize("NFD", "사")
        assert title.startswith('"사": p = ') and f"{jamo[0]} " in title and f"{jamo[1]} " in title
        assert "\u00d7" in title
        span = browser.find_elements(By.CSS_SELECTOR, "#tokens .sc")[1]  # 랑: jamo 2 to 4
        span.click()
        wait(
            browser,
            lambda d: "prediction of character 2" in d.find_element(By.ID, "colouring").text,
        )
        assert error_text(browser) == ""
    finally:
        srv.shutdown()
        srv.server_close()
