"""Screenshots of the learner's page for the docs (headless Chromium through Selenium).

    python docs/screenshots.py NAMES_RUN [TEXT_RUN]

Serves each run with ``charrnn serve``, sets the page up as a learner would
(a text, a unit from "units that track", completions, and in text mode a
character's influence)
and saves ``docs/page-words.png`` and ``docs/page-text.png``.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

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


def shoot(
    run: str, text: str, out: pathlib.Path, *, prop: str, token: int | None, prefix: str
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "charrnn", "serve", run, "--port", "0", "--text", text],
        stdout=subprocess.PIPE,
        text=True,
    )
    url = proc.stdout.readline().split(" at ")[1].split()[0]
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1300,1700",
        "--hide-scrollbars",
    ):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=Service(shutil.which("chromedriver")))
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
        for _ in range(3):  # the window's frame takes some of its height: measure again
            height = driver.execute_script("return document.documentElement.scrollHeight")
            inner = driver.execute_script("return window.innerHeight")
            if inner >= height:
                break
            driver.set_window_size(1300, driver.get_window_size()["height"] + height - inner + 10)
        driver.save_screenshot(str(out))
        print(out)
    finally:
        driver.quit()
        proc.terminate()


def main() -> None:
    names_run, text_run = [*sys.argv[1:3], None][:2]
    shoot(
        names_run,
        "emma\nolivia\nzxyzzy\nkristoffer",
        DOCS / "page-words.png",
        prop="position in word",
        token=None,
        prefix="kri",
    )
    if text_run is None:
        return
    shoot(
        text_run,
        TEXT,
        DOCS / "page-text.png",
        prop="line length",
        token=TEXT.rindex("lord") + 3,
        prefix="QUEEN:",
    )


if __name__ == "__main__":
    main()
