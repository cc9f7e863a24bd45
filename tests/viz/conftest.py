"""Fixtures of the browser tests: one headless Chromium per module, small runs made once.

The browser fixture needs Selenium, chromium and chromedriver; the modules that use it skip
themselves, with a reason, when any is missing.
"""

from __future__ import annotations

import shutil

import pytest

from charrnn.cli import main

BROWSER = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
DRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

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


KO_WORDS = "사랑 사과 가방 강물 나무 노래 다리 바다 하늘 학교 한글 랑데부".split()


def train(folder, name, *flags, data=None):
    run = folder / name
    args = ["train", "@names" if data is None else str(data), "--out", str(run), "--quiet"]
    assert main([*args, "--hidden", "16", "--steps", "20", *flags]) == 0
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Runs trained on first use, by name: a cell name, "jamo", "text" or "wide"."""
    folder = tmp_path_factory.mktemp("cells")
    made = {}

    def get(name):
        if name not in made:
            if name == "jamo":
                data = folder / "ko.txt"
                data.write_text("\n".join(KO_WORDS * 3) + "\n", encoding="utf-8")
                made[name] = train(folder, name, "--units", "jamo", data=data)
            elif name == "text":
                data = folder / "text.txt"
                data.write_text('The cat sat (on the "mat").\nA dog ran.\n' * 40)
                made[name] = train(folder, name, "--mode", "text", "--seq-len", "16", data=data)
            elif name == "wide":
                made[name] = train(folder, name, "--hidden", "512", "--steps", "2")
            else:
                made[name] = train(folder, name, "--cell", name)
        return made[name]

    return get
