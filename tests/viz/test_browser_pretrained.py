"""``charrnn serve @names`` in a real headless Chromium: the page of a shipped model,
with nothing trained first (skipped as tests/viz/test_browser.py is, without a browser)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from tests.conftest import run_cli_process

# Imported first: it skips this module too where there is no browser.
from tests.viz.test_browser import By, texts, tokens, type_text, wait

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``charrnn serve @names`` as its own process, in an empty folder."""
    folder = tmp_path_factory.mktemp("nothing-trained")
    proc = subprocess.Popen(
        [sys.executable, "-m", "charrnn", "serve", "@names", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=folder,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    line = proc.stdout.readline()
    assert line.startswith("serving @names at http://127.0.0.1:"), proc.stderr.read()
    yield line.split(" at ")[1].split()[0], folder
    proc.terminate()
    proc.wait(timeout=10)


def test_serve_names_opens_the_page_with_no_training(browser, served):
    url, folder = served
    browser.get(url)
    # The page opens on the model's own samples, then shows what it reads of typed text.
    wait(browser, lambda d: len(tokens(d)) > 4)
    type_text(browser, "kri")
    wait(browser, lambda d: texts(d, "#tokens .tok .c") == ["k", "r", "i", "\u23ce"])
    shown = [float(v) for v in texts(browser, "#tokens .tok .p")]
    r = run_cli_process("score", "@names", "kri", "--json")
    want = [math.exp(-v) for v in json.loads(r.stdout)["scores"][0]["char_nll"]]
    assert len(shown) == len(want) == 4
    assert all(abs(s - w) <= 0.0005 + 1e-9 for s, w in zip(shown, want, strict=True))
    browser.find_element(By.ID, "c-prefix").send_keys("kri")
    browser.find_element(By.ID, "c-go").click()
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#completions li")) == 10)
    listed = [json.loads(t) for t in texts(browser, "#completions .ctext")]
    r = run_cli_process("complete", "@names", "kri", "--json")
    assert listed == [c["text"] for c in json.loads(r.stdout)["completions"]]
    assert browser.find_element(By.ID, "error").text == ""
    assert list(folder.iterdir()) == []  # no run, no file: the model came with the package
