"""Screenshots of the learner's page for the docs (headless Chromium through Selenium).

    python docs/screenshots.py [NAMES_RUN [TEXT_RUN]] [--rnn RUN --lstm RUN] [--only SHOT ...]

Each shot serves runs with ``charrnn serve`` (or ``charrnn demo --page``), sets the page up
as a learner would, and saves a PNG in ``docs/``:

- ``words`` (NAMES_RUN): a unit from "units that track", completions (``page-words.png``);
- ``text`` (TEXT_RUN): a character's influence (``page-text.png``);
- ``compare`` (``--rnn`` and ``--lstm``, two Shakespeare runs): the reach of one prediction
  in the tanh RNN and the LSTM side by side on one line (``page-compare.png``);
- ``vector``: ``charrnn demo --page``, full BPTT against the naive rule at the "r" of
  "vector" (``page-vector.png``);
- ``live``: a names run trained while the page watches it: its curves and the samples of
  its checkpoints (``page-live.png``);
- ``phone``: the vector comparison at a phone's width, 390 px (``page-phone.png``).

By default it makes every shot whose runs are given.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

DOCS = pathlib.Path(__file__).resolve().parent

TEXT = """KING:
Come hither, lords, and hear what news I bring;
The day is ours, and all our foes are fled.

QUEEN:
Then let us give the heavens thanks, my lord.
"""
LINE = "Then let us give the heavens thanks, my lord."


def start(command: list[str]) -> tuple[subprocess.Popen[str], str]:
    """A ``charrnn`` command that serves a page; the process and the page's address."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "charrnn", *command, "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if " at " not in line:
        proc.kill()
        raise SystemExit(f"charrnn {' '.join(command)} did not start a page")
    return proc, line.split(" at ")[1].split()[0]


def browser(width: int = 1300, height: int = 1700) -> webdriver.Chrome:
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
    ):
        opts.add_argument(arg)
    return webdriver.Chrome(options=opts, service=Service(shutil.which("chromedriver")))


def fit_height(driver: webdriver.Chrome, width: int) -> None:
    """Make the window as tall as the page, so that one screenshot holds it all."""
    for _ in range(3):  # the window's frame takes some of its height: measure again
        height = driver.execute_script("return document.documentElement.scrollHeight")
        inner = driver.execute_script("return window.innerHeight")
        if inner >= height:
            break
        driver.set_window_size(width, driver.get_window_size()["height"] + height - inner + 10)


def shoot(
    run: str, text: str, out: pathlib.Path, *, prop: str, token: int | None, prefix: str
) -> None:
    """The whole page of one model: a unit, completions, samples, perhaps an influence."""
    proc, url = start(["serve", run, "--text", text])
    driver = browser()
    wait = WebDriverWait(driver, 60)
    try:
        driver.get(url)
        wait.until(lambda d: "updated in" in d.find_element(By.ID, "timing").text)
        Select(driver.find_element(By.ID, "prop")).select_by_value(prop)
        driver.find_elements(By.CSS_SELECTOR, "#tracking li.unit")[0].click()
        driver.find_element(By.ID, "c-prefix").send_keys(prefix)
        driver.find_element(By.ID, "c-go").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#completions li"))
        driver.find_element(By.ID, "s-go").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#samples li"))
        if token is not None:
            driver.find_elements(By.CSS_SELECTOR, "#tokens .tok")[token].click()
            wait.until(lambda d: "Influence" in d.find_element(By.ID, "colouring").text)
        fit_height(driver, 1300)
        driver.save_screenshot(str(out))
        print(out)
    finally:
        driver.quit()
        proc.terminate()


def click_column(driver: webdriver.Chrome, at: int) -> None:
    """Click character ``at`` of the shared text in the first column; wait for the reaches."""
    span = driver.find_element(By.CSS_SELECTOR, f"#columns .col .sc[data-at='{at}']")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", span)
    span.click()
    WebDriverWait(driver, 60).until(
        lambda d: d.execute_script("return window.lastCompareReach") is not None
    )


def shoot_columns(command: list[str], at: int, out: pathlib.Path, width: int = 1300) -> None:
    """The side-by-side section of a page, after a click on one character."""
    proc, url = start(command)
    driver = browser(width, 1700)
    try:
        driver.get(url)
        WebDriverWait(driver, 60).until(
            lambda d: d.execute_script("return window.lastCompare || null") is not None
        )
        click_column(driver, at)
        if width < 600:  # a phone: the whole page as it opens, not only the columns
            driver.execute_script("window.scrollTo(0, 0)")
            driver.set_window_size(width, 2200)
            driver.save_screenshot(str(out))
        else:
            driver.find_element(By.ID, "compare").screenshot(str(out))
        print(out)
    finally:
        driver.quit()
        proc.terminate()


def shoot_live(out: pathlib.Path) -> None:
    """A names run trained while the page watches: its curves and samples, mid-training."""
    folder = tempfile.mkdtemp(prefix="charrnn-live-")
    run = f"{folder}/names"
    flags = ["--hidden", "64", "--steps", "3000", "--log-every", "50", "--save-every", "500"]
    trainer = subprocess.Popen(
        [sys.executable, "-m", "charrnn", "train", "@names", "--out", run, *flags, "--quiet"]
    )
    while not os.path.exists(f"{run}/config.json"):  # the run has started
        time.sleep(0.1)
    proc, url = start(["serve", run, "--text", "emma"])  # it waits for the first checkpoint
    driver = browser(1300, 1400)
    try:
        driver.get(url)
        slider = driver.find_element(By.ID, "t-temp")
        driver.execute_script(
            "arguments[0].value = 2; arguments[0].dispatchEvent(new Event('input'));", slider
        )  # T = 0.8
        deadline = time.time() + 600
        while time.time() < deadline:  # until four checkpoints have appeared
            time.sleep(1)
            live = driver.execute_script("return window.lastLive[0] || null")
            if (live and len(live["checkpoints"]) >= 4) or trainer.poll() is not None:
                break
        driver.find_element(By.ID, "training").screenshot(str(out))
        print(out)
    finally:
        driver.quit()
        proc.terminate()
        trainer.kill()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names_run", nargs="?", metavar="NAMES_RUN")
    ap.add_argument("text_run", nargs="?", metavar="TEXT_RUN")
    ap.add_argument("--rnn", metavar="RUN", help="a Shakespeare run of the tanh RNN")
    ap.add_argument("--lstm", metavar="RUN", help="a Shakespeare run of the LSTM")
    ap.add_argument("--only", nargs="+", metavar="SHOT", help="the shots to make (see above)")
    args = ap.parse_args()
    shots = set(args.only or ["words", "text", "compare", "vector", "live", "phone"])
    if "words" in shots and args.names_run:
        shoot(
            args.names_run,
            "emma\nolivia\nzxyzzy\nkristoffer",
            DOCS / "page-words.png",
            prop="position in word",
            token=None,
            prefix="kri",
        )
    if "text" in shots and args.text_run:
        shoot(
            args.text_run,
            TEXT,
            DOCS / "page-text.png",
            prop="line length",
            token=TEXT.rindex("lord") + 3,
            prefix="QUEEN:",
        )
    if "compare" in shots and args.rnn and args.lstm:
        # The "d" of "lord": how far back does each model's prediction of it reach?
        command = ["serve", args.rnn, args.lstm, "--text", LINE]
        shoot_columns(command, LINE.rindex("lord") + 3, DOCS / "page-compare.png")
    if shots & {"vector", "phone"}:
        vector = tempfile.mkdtemp(prefix="charrnn-vector-")
        # charrnn demo --page trains the pair (into vector/), then serves it side by side.
        command = ["demo", "--page", "--out", vector]
        shoot_columns(command, 5, DOCS / "page-vector.png")
        if "phone" in shots:
            command = ["serve", f"{vector}/full-bptt", f"{vector}/naive", "--text", "vector"]
            shoot_columns(command, 5, DOCS / "page-phone.png", width=390)
        shutil.rmtree(vector, ignore_errors=True)
    if "live" in shots:
        shoot_live(DOCS / "page-live.png")


if __name__ == "__main__":
    main()
