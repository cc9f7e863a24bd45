"""The learner's page and completions: how long they take on trained models.

Times, as medians of several runs in one process:

- a full page's numbers (probabilities, next characters, activations, units
  that track) for a 10,000-character text, in text mode and in words mode;
- one influence row (the prediction under the cursor) at the end of that text;
- ``charrnn complete`` (k=10) for a few prefixes on a names model, with the
  search that answered;
- with ``--browser``, a whole page update in headless Chromium (request,
  answer and redraw, as the page itself reports it) for the same text;
- with ``--keystroke``, keystroke to redraw in headless Chromium: a real key
  typed into a 20,000-character text (and a 200-character one), timed in the
  browser from the key's ``keydown`` to the frame after the page has redrawn
  (the pause before a reading starts, the request, the answer, the strip, the
  heatmap and the layout all included).

- with ``--watch``, the trainer's speed alone and while a page watches it: a names
  run trained in its own process, alternately with nothing else and with ``charrnn serve``
  polling it (``/api/live``, four times as often as the page does), its chars/s from
  its own log; the page must not slow it beyond noise.

    python benchmarks/bench_page.py --names RUN --text RUN [--browser] [--keystroke] [--watch]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time

from charrnn import CharRNN
from charrnn.viz.page import influence_row, payload
from common import SHARED, blas_report, out


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def sample_text(model: CharRNN, n: int) -> str:
    """n characters the model knows: the shared corpus if present, else its own samples."""
    name = "tinyshakespeare.txt" if model.config_.mode == "text" else "names.txt"
    path = SHARED / name
    if path.is_file():
        text = path.read_text(encoding="utf-8")[:n]
    else:
        text = "\n".join(model.sample(n=n // 5, max_len=n if model.config_.mode == "text" else 20))
    return model.vocab_.clean(text, "skip")[:n]


def browser_update(run: str, text: str, repeats: int) -> list[float]:
    """Whole-page update times (ms) in headless Chromium, as the page reports them."""
    import subprocess

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    proc = subprocess.Popen(
        [sys.executable, "-m", "charrnn", "serve", run, "--port", "0", "--text", "a"],
        stdout=subprocess.PIPE,
        text=True,
    )
    url = proc.stdout.readline().split(" at ")[1].split()[0]
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=Service(shutil.which("chromedriver")))
    try:
        driver.get(url)
        times = []
        for i in range(repeats + 1):
            t = text[: len(text) - i]  # a new text each time, as typing would make
            driver.execute_script(
                "document.getElementById('timing').textContent = '';"
                "const b = document.getElementById('text'); b.value = arguments[0];"
                "b.dispatchEvent(new Event('input'));",
                t,
            )
            WebDriverWait(driver, 120).until(
                lambda d: "updated in" in d.find_element("id", "timing").text
            )
            ms = int(driver.find_element("id", "timing").text.split("updated in ")[1].split()[0])
            if i:  # the first is a warm-up
                times.append(ms)
        return times
    finally:
        driver.quit()
        proc.terminate()


# Set up in the page: the time of each keydown in the text box, and of the first frame after
# the page says it has redrawn (it writes "page updated in" once the new reading is drawn).
KEYSTROKE_PROBE = """
window.keyAt = null; window.drawnAt = null;
document.getElementById('text').addEventListener('keydown', () => {
  window.keyAt = performance.now(); window.drawnAt = null;
});
new MutationObserver(() => {
  if (window.keyAt !== null && window.drawnAt === null)
    requestAnimationFrame(() => setTimeout(() => { window.drawnAt = performance.now(); }, 0));
}).observe(document.getElementById('timing'),
           {childList: true, characterData: true, subtree: true});
"""


def keystroke_to_redraw(run: str, text: str, repeats: int) -> list[float]:
    """Milliseconds from a key typed at the end of ``text`` to the redrawn page, per key."""
    import subprocess

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    proc = subprocess.Popen(
        [sys.executable, "-m", "charrnn", "serve", run, "--port", "0", "--text", "a"],
        stdout=subprocess.PIPE,
        text=True,
    )
    url = proc.stdout.readline().split(" at ")[1].split()[0]
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=Service(shutil.which("chromedriver")))
    wait = WebDriverWait(driver, 120)
    try:
        driver.get(url)
        wait.until(lambda d: "updated in" in d.find_element("id", "timing").text)
        driver.execute_script(
            "const b = document.getElementById('text'); b.value = arguments[0];"
            "document.getElementById('timing').textContent = '';"
            "b.dispatchEvent(new Event('input'));",
            text,
        )
        wait.until(lambda d: "updated in" in d.find_element("id", "timing").text)
        driver.execute_script(KEYSTROKE_PROBE)
        box = driver.find_element("id", "text")
        times = []
        for i in range(repeats + 1):
            driver.execute_script(
                "const b = arguments[0]; b.focus(); b.setSelectionRange(b.value.length, "
                "b.value.length);",
                box,
            )
            # The text changes every time, and never passes the page's 20,000 characters.
            box.send_keys(Keys.BACKSPACE if i % 2 == 0 else "a")
            wait.until(lambda d: d.execute_script("return window.drawnAt") is not None)
            ms = driver.execute_script("return window.drawnAt - window.keyAt")
            if i:  # the first is a warm-up
                times.append(ms)
        return times
    finally:
        driver.quit()
        proc.terminate()


def trainer_speed(watched: bool, steps: int) -> float:
    """chars/s of a names run (median of its log lines), with or without a page polling it."""
    import json
    import subprocess
    import tempfile
    import threading
    import urllib.request

    from common import names_source

    folder = tempfile.mkdtemp(prefix="charrnn-watch-")
    run = f"{folder}/run"
    flags = ["--hidden", "128", "--steps", str(steps), "--log-every", "50", "--save-every", "200"]
    trainer = subprocess.Popen(
        [sys.executable, "-m", "charrnn", "train", names_source(), "--out", run, *flags, "--quiet"]
    )
    server, stop = None, threading.Event()
    if watched:
        while not os.path.exists(f"{run}/config.json") and trainer.poll() is None:
            time.sleep(0.05)
        server = subprocess.Popen(
            [sys.executable, "-m", "charrnn", "serve", run, "--port", "0", "--text", "a"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

        def poll() -> None:
            url = server.stdout.readline().split(" at ")[1].split()[0] + "api/live"
            while not stop.is_set():
                req = urllib.request.Request(
                    url, data=b"{}", headers={"Content-Type": "application/json"}
                )
                urllib.request.urlopen(req, timeout=30).read()
                stop.wait(0.5)  # the page polls every 2 s

        threading.Thread(target=poll, daemon=True).start()
    try:
        trainer.wait()
    finally:
        stop.set()
        if server is not None:
            server.terminate()
            server.wait()
    with open(f"{run}/metrics.jsonl", encoding="utf-8") as f:
        speeds = [json.loads(line)["chars_per_s"] for line in f][1:]  # the first warms up
    shutil.rmtree(folder, ignore_errors=True)
    return statistics.median(speeds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--names", required=True, metavar="RUN", help="a words-mode (names) run")
    ap.add_argument("--text", required=True, metavar="RUN", help="a text-mode run")
    ap.add_argument("--chars", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--browser", action="store_true", help="also time the page in Chromium")
    ap.add_argument(
        "--keystroke",
        action="store_true",
        help="time keystroke to redraw in Chromium, on 20,000 and 200 characters (only that)",
    )
    ap.add_argument(
        "--watch",
        action="store_true",
        help="the trainer's speed alone and while a page watches it (only that)",
    )
    ap.add_argument("--watch-steps", type=int, default=2000, help="steps of each run (2000)")
    args = ap.parse_args()
    out(blas_report())
    if args.watch:
        speeds: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.repeats):
            for watched in (False, True):  # alternated, so that drift hits both alike
                speeds[watched].append(trainer_speed(watched, args.watch_steps))
        for watched, label in ((False, "alone"), (True, "watched by a page")):
            v = speeds[watched]
            runs = ", ".join(f"{x:,.0f}" for x in v)
            out(f"trainer {label}: median {statistics.median(v):,.0f} chars/s (runs: {runs})")
        return
    if args.keystroke:
        for run in (args.text, args.names):
            model = CharRNN.load(run)
            for n in (20_000, 200):
                text = sample_text(model, n)
                ms = keystroke_to_redraw(run, text, args.repeats)
                runs = ", ".join(f"{t:.0f}" for t in ms)
                out(
                    f"{model.config_.mode} mode, {len(text):,} characters: keystroke to redraw "
                    f"median {statistics.median(ms):.0f} ms (runs: {runs})"
                )
        return
    for run in (args.text, args.names):
        model = CharRNN.load(run)
        cfg = model.config_
        text = sample_text(model, args.chars)
        t_page = median_seconds(lambda m=model, t=text: payload(m, t), args.repeats)
        t_infl = median_seconds(
            lambda m=model, t=text: influence_row(m, t, len(t) - 1), args.repeats
        )
        out(
            f"{cfg.mode} mode, H={cfg.hidden} x {cfg.layers} layers, {len(text):,} characters: "
            f"page numbers {t_page:.3f} s, influence under the cursor {t_infl * 1000:.0f} ms "
            f"(median of {args.repeats})"
        )
        if args.browser:
            ms = browser_update(run, text, args.repeats)
            out(
                f"  whole page update in Chromium: median {statistics.median(ms):.0f} ms "
                f"(runs: {', '.join(map(str, ms))})"
            )
    model = CharRNN.load(args.names)
    out("charrnn complete, k=10, on the names run:")
    for prefix in ("", "a", "ma", "jo", "kri", "z"):
        r = model.complete(prefix, 10)
        t = median_seconds(lambda p=prefix: model.complete(p, 10), args.repeats)
        out(
            f"  {prefix!r:6} {r.method:5} {r.expanded:6,} steps  {t * 1000:7.1f} ms  "
            f"best: {', '.join(c.text for c in r.items[:3])}"
        )


if __name__ == "__main__":
    main()
