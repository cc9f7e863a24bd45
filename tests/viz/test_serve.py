"""``charrnn serve`` without a browser: routes, errors as JSON, a burst of requests;
``charrnn viz``: the self-contained page and its pictures; the API behind them."""

from __future__ import annotations

import base64
import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from charrnn import CharRNN
from charrnn.cli import main
from charrnn.viz.live import TEMPERATURES
from charrnn.viz.page import payload, static_page
from charrnn.viz.server import LIMITS, make_server


@pytest.fixture(scope="module")
def words_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "words"
    assert (
        main(
            [
                "train",
                "@names",
                "--out",
                str(run),
                "--hidden",
                "16",
                "--layers",
                "2",
                "--steps",
                "30",
                "--quiet",
            ]
        )
        == 0
    )
    return run


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    data = folder / "text.txt"
    data.write_text('The cat sat (on the "mat").\nA dog ran.\n' * 40)
    run = folder / "text"
    assert (
        main(
            [
                "train",
                str(data),
                "--mode",
                "text",
                "--out",
                str(run),
                "--hidden",
                "16",
                "--seq-len",
                "16",
                "--steps",
                "30",
                "--quiet",
            ]
        )
        == 0
    )
    return run


@pytest.fixture(scope="module")
def server(words_run):
    srv = make_server(CharRNN.load(words_run), "127.0.0.1", 0, first_text="emma")
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def post(srv, path, body, raw=None):
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(
        srv.url.rstrip("/") + path, data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_page_and_routes(server, words_run):
    with urllib.request.urlopen(server.url, timeout=30) as r:
        html = r.read().decode()
    assert r.status == 200 and "charrnn: inside the model" in html and '"emma"' in html
    status, d = post(server, "/api/read", {"text": "emma\nanna"})
    model = CharRNN.load(words_run)
    want = [math.exp(-v) for s in model.score_details(["emma", "anna"]) for v in s.char_nll]
    assert status == 200 and d["tokens"] == list("emma\nanna\n")
    np.testing.assert_allclose(d["probs"], want, rtol=1e-6)
    acts = np.frombuffer(base64.b64decode(d["acts"][1]), np.int8).reshape(10, 16) / 127
    np.testing.assert_allclose(acts, model.read("emma\nanna").activations[1], atol=0.5 / 127 + 1e-6)
    status, d = post(server, "/api/influence", {"text": "emma", "index": 3})
    want = model.influence("emma", tokens=[3])[0]
    assert status == 200 and len(d["influence"]) == 64
    assert d["influence"][:-4] == [None] * 60
    np.testing.assert_allclose(d["influence"][-4:], want[-4:], rtol=1e-6)
    status, d = post(server, "/api/sample", {"n": 3, "prefix": "em", "temperature": 0.5})
    assert status == 200 and len(d["samples"]) == 3
    assert all(s.startswith("em") for s in d["samples"])
    status, d = post(server, "/api/complete", {"prefix": "em", "k": 4})
    assert status == 200 and d["method"] == "exact"
    assert [c["text"] for c in d["completions"]] == [c.text for c in model.complete("em", 4).items]


@pytest.mark.parametrize(
    "path, body, status, message",
    [
        ("/api/read", {"text": "emma%"}, 400, "not in the model's vocabulary"),
        ("/api/read", {"text": "a" * 20_001}, 400, "at most"),
        ("/api/read", {"text": 5}, 400, "text must be a string"),
        ("/api/influence", {"text": "emma", "index": 9}, 400, "out of range"),
        ("/api/sample", {"temperature": -1}, 400, "temperature must be between"),
        ("/api/sample", {"n": 10_000}, 400, "n must be between"),
        ("/api/complete", {"prefix": "e\nm"}, 400, "line break"),
        ("/api/nothing", {}, 404, "no route"),
    ],
)
def test_bad_input_is_a_message_never_a_traceback(server, path, body, status, message):
    got, d = post(server, path, body)
    assert got == status and message in d["error"] and "Traceback" not in d["error"]


def test_malformed_and_oversized_requests(server):
    assert post(server, "/api/read", None, raw=b"{not json")[0] == 400
    assert post(server, "/api/read", None, raw=b"[1, 2]")[0] == 400
    status, d = post(server, "/api/read", None, raw=b" " * 1_000_001)
    assert status == 413 and "larger" in d["error"]


def test_a_hundred_rapid_requests_are_all_answered(server):
    texts = [f"{'ab' * (i % 7)}emma" for i in range(100)]
    with ThreadPoolExecutor(max_workers=100) as pool:
        answers = list(pool.map(lambda t: post(server, "/api/read", {"text": t}), texts))
    assert [s for s, _ in answers] == [200] * 100
    assert all(d["tokens"] == list(t + "\n") for (_, d), t in zip(answers, texts, strict=True))


def test_a_busy_port_is_a_clear_error(server, words_run, cli):
    port = server.server_address[1]
    code, _, err = cli("serve", words_run, "--port", port)
    assert code == 2 and "cannot listen" in err
    code, _, err = cli("serve", words_run, "--port", "70000")
    assert code == 2 and "between 0 and 65535" in err


def test_text_model_payload_and_static_page(text_run):
    model = CharRNN.load(text_run)
    text = 'The cat (sat) "on" </script> the mat.\n'.replace("<", "(").replace(">", ")")
    text = model.vocab_.clean(text, "skip")
    d = payload(model, text, with_influence=True)
    assert d["tokens"] == list(text) and d["mode"] == "text"
    rows = np.frombuffer(base64.b64decode(d["influence"]["rows"]), np.uint8).reshape(len(text), 64)
    m = model.influence(text)
    np.testing.assert_array_equal(rows == 255, np.isnan(m))
    assert (np.where(rows == 255, 0, rows).max(axis=1) == 254).all()  # each row: own scale
    html = static_page(d)
    start = html.index('<script id="data" type="application/json">') + 42
    embedded = json.loads(html[start : html.index("</script>", start)])
    assert embedded["probs"] == d["probs"] and "const STATIC = true" in html


def test_embedded_text_cannot_close_the_script():
    html = static_page({"tokens": ["</script><b>"], "x": "<!--<script>"})
    assert html.count("</script>") == 4  # the page's own four scripts only
    assert "<!--<script" not in html


def test_a_first_text_holding_a_marker_stays_the_text():
    """Catches the models' list written into a first text that holds its marker."""
    from charrnn.viz.page import live_page

    html = live_page("/*MODELS*/[]", [{"name": "m", "model": "x", "live": False}])
    assert '"/*MODELS*/[]"' in html and '"name": "m"' in html


def test_viz_writes_a_page_and_refuses_bad_input(words_run, tmp_path, cli):
    out = tmp_path / "page.html"
    code, stdout, _ = cli("viz", words_run, "emma\nolivia", "--out", out)
    assert code == 0 and stdout.split() == [str(out)]
    html = out.read_text()
    assert "const STATIC = true" in html and "http://" not in html.replace("http://www.w3", "")
    bad = tmp_path / "bad.html"
    code, _, err = cli("viz", words_run, "emma%", "--out", bad)
    assert code == 2 and "vocabulary" in err and not bad.exists()
    code, _, err = cli("viz", words_run, "--out", bad)
    assert code == 2 and "TEXT" in err and not bad.exists()
    code, _, err = cli("viz", words_run, "emma", "--out", tmp_path / "no" / "such.html")
    assert code == 2 and "does not exist" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]  # no leftovers


@pytest.mark.slow
def test_viz_png_draws_both_pictures(text_run, tmp_path, cli):
    pytest.importorskip("matplotlib")
    code, stdout, _ = cli("viz", text_run, "The cat sat.", "--out", tmp_path / "v.html", "--png")
    assert code == 0
    names = [p.split("/")[-1] for p in stdout.split()]
    assert names == ["v.html", "v-activations.png", "v-influence.png"]
    for name in names[1:]:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_api_numbers_for_a_notebook(words_run):
    model = CharRNN.load(words_run)
    r = model.read("emma", top=3)
    assert r.top_ids.shape == (5, 3) and len(r.activations) == 2
    assert r.activations[0].shape == (5, 16)
    assert model.influence("emma", window=5).shape == (5, 5)
    units = model.tracking_units("emma anna")
    assert set(units) >= {"position in word", "line length"}


# The server is safe to leave running (docs/page.md, "Safety"): each rule below, tested over
# raw HTTP so that every header is the test's choice.


def request(srv, method, path, body=None, headers=None, *, raw=None):
    """One request on its own connection: (status, headers, JSON answer)."""
    port = srv.server_address[1]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    hdrs = {"Host": f"127.0.0.1:{port}"}
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    if data is not None:
        hdrs |= {"Content-Type": "application/json", "Content-Length": str(len(data))}
    hdrs |= headers or {}
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for k, v in hdrs.items():
            if v is not None:
                conn.putheader(k, v)
        conn.endheaders(data)
        r = conn.getresponse()
        payload_ = r.read()
        ctype = r.getheader("Content-Type", "")
        is_json = ctype.startswith("application/json") and method != "HEAD"
        answer = json.loads(payload_) if is_json else payload_
        return r.status, r, answer
    finally:
        conn.close()


def test_only_its_own_host_names_are_answered(server):
    port = server.server_address[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", f"[::1]:{port}"):
        assert request(server, "GET", "/", headers={"Host": host})[0] == 200, host
    for host in (f"evil.example:{port}", "127.0.0.1", f"127.0.0.1:{port + 1}", "", "a" * 5000):
        status, _, d = request(server, "GET", "/", headers={"Host": host})
        assert status == 421 and "its own address" in d["error"], host
        status, _, d = request(server, "POST", "/api/read", {"text": "emma"}, {"Host": host})
        assert status == 421, host
    status, _, d = request(server, "GET", "/", headers={"Host": None})  # no Host at all
    assert status == 421


def test_posts_must_be_same_origin_json(server):
    port = server.server_address[1]
    body = {"text": "emma"}
    assert request(server, "POST", "/api/read", body)[0] == 200  # no Origin: a script, curl
    own = {"Origin": f"http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin"}
    status, r, _ = request(server, "POST", "/api/read", body, own)
    assert status == 200 and r.getheader("Access-Control-Allow-Origin") is None
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": f"http://localhost:{port}"},  # another origin than the page's own
        {"Sec-Fetch-Site": "cross-site"},
    ):
        status, r, d = request(server, "POST", "/api/read", body, headers)
        assert status == 403 and "refused" in d["error"], headers
        assert r.getheader("Access-Control-Allow-Origin") is None
    # A "simple" cross-site request (no preflight) is text/plain or a form: refused.
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None):
        status, _, d = request(server, "POST", "/api/read", body, {"Content-Type": ctype})
        assert status == 415 and "application/json" in d["error"], ctype
    assert (
        request(
            server, "POST", "/api/read", body, {"Content-Type": "application/json; charset=utf-8"}
        )[0]
        == 200
    )


@pytest.mark.parametrize(
    "path, body, message",
    [
        ("/api/read", {"text": "a" * 20_001}, "text may have at most 20,000 characters"),
        ("/api/read", {"text": "em\ud800ma"}, "text is not valid Unicode"),
        ("/api/read", {"txt": "emma"}, "unknown field 'txt'; /api/read takes text"),
        ("/api/influence", {"text": "emma", "index": 10**20}, "index must be between 0 and 20000"),
        ("/api/influence", {"text": "emma", "index": -1}, "index must be between 0 and 20000"),
        ("/api/influence", {"text": "emma", "index": 1.5}, "index must be a whole number"),
        ("/api/sample", {"prefix": "e" * 201}, "prefix may have at most 200 characters"),
        ("/api/sample", {"n": 0}, "n must be between 1 and 50"),
        ("/api/sample", {"n": "5"}, "n must be a whole number between 1 and 50"),
        ("/api/sample", {"n": True}, "n must be a whole number"),
        ("/api/sample", {"seed": -1}, "seed must be between 0 and 4294967295"),
        ("/api/sample", {"seed": 2**64}, "seed must be between 0 and 4294967295"),
        ("/api/sample", {"temperature": 1e300}, "temperature must be between 0.0 and 100.0"),
        ("/api/sample", {"temperature": 101}, "temperature must be between 0.0 and 100.0"),
        ("/api/sample", {"max_len": 2001}, "max_len must be between 1 and 2000"),
        ("/api/sample", {"top_k": 10_000}, "top_k must be between 1 and"),
        ("/api/complete", {"prefix": "e" * 201}, "prefix may have at most 200 characters"),
        ("/api/complete", {"k": 101}, "k must be between 1 and 100"),
        ("/api/complete", {"max_len": 201}, "max_len must be between 1 and 200"),
        ("/api/complete", {"beam": 257}, "beam must be between 1 and 256"),
        ("/api/complete", {"prefix": ["e"]}, "prefix must be a string"),
    ],
)
def test_every_field_is_bounded_and_named(server, path, body, message):
    status, _, d = request(server, "POST", path, body)
    assert status == 400 and message in d["error"], d


def test_json_constants_depth_and_content_length(server):
    for raw in (
        b'{"temperature": NaN}',
        b'{"temperature": Infinity}',
        b'{"n": 1' + b"0" * 5000 + b"}",
    ):
        status, _, d = request(server, "POST", "/api/sample", raw=raw)
        assert status == 400 and "not a JSON object" in d["error"], raw[:30]
    for deep in (b'{"a":' * 9 + b"1" + b"}" * 9, b"[" * 100_000 + b"]" * 100_000):
        status, _, d = request(server, "POST", "/api/read", raw=deep)
        assert status == 400 and "nests deeper" in d["error"]
    for length in ("abc", "-5", "1e3", "", "5, 6", "99999999999999999999", "²"):
        status, _, d = request(
            server, "POST", "/api/read", raw=b"{}", headers={"Content-Length": length}
        )
        assert status == 400 and "Content-Length" in d["error"], length
    status, _, d = request(server, "POST", "/api/read", raw=b"{}", headers={"Content-Length": None})
    assert status == 411 and "Content-Length" in d["error"]
    status, _, d = request(
        server, "POST", "/api/read", raw=b"{}", headers={"Content-Length": "2000000"}
    )
    assert status == 413 and "larger than 1,000,000 bytes" in d["error"]
    assert request(server, "POST", "/api/read", {"text": "emma"})[0] == 200  # still answering


def test_security_headers_on_every_answer_and_only_get_and_post(server):
    answers = [
        request(server, "GET", "/"),
        request(server, "GET", "/page.js"),
        request(server, "GET", "/page.css"),
        request(server, "GET", "/nothing"),
        request(server, "POST", "/api/read", {"text": "emma"}),
        request(server, "POST", "/api/read", {"text": 5}),
        request(server, "GET", "/", headers={"Host": "evil.example"}),
    ]
    for method in ("OPTIONS", "PUT", "DELETE", "PATCH", "HEAD", "TRACE", "BREW"):
        status, r, d = request(server, method, "/api/read", raw=b"{}")
        assert status == 405 and r.getheader("Allow") == "GET, POST", method
        if method != "HEAD":
            assert method in d["error"]
        answers.append((status, r, d))
    for _, r, _ in answers:
        csp = r.getheader("Content-Security-Policy")
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert r.getheader("X-Frame-Options") == "DENY"
        assert r.getheader("X-Content-Type-Options") == "nosniff"
        assert r.getheader("Referrer-Policy") == "no-referrer"
        assert r.getheader("Access-Control-Allow-Origin") is None
    status, r, html = request(server, "GET", "/")
    assert b"<script>" not in html and b"<style>" not in html and b" style=" not in html
    assert b'<script src="/page.js">' in html and r.getheader("Content-Type").startswith(
        "text/html"
    )
    assert (
        request(server, "GET", "/page.js")[1]
        .getheader("Content-Type")
        .startswith("text/javascript")
    )


def test_an_idle_connection_is_closed_and_connections_are_bounded(words_run, monkeypatch):
    from charrnn.viz import server as server_module

    monkeypatch.setattr(server_module._Handler, "timeout", 0.5)
    monkeypatch.setattr(server_module, "MAX_CONNECTIONS", 3)
    srv = make_server(CharRNN.load(words_run), "127.0.0.1", 0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        port = srv.server_address[1]
        before = {t for t in threading.enumerate() if "process_request" in t.name}
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
        for s in idle[:3]:
            s.sendall(b"POST /api/read HTTP/1.1\r\n")  # half a request, then silence
        time.sleep(0.2)
        handlers = {t for t in threading.enumerate() if "process_request" in t.name} - before
        assert len(handlers) == 3  # 3 handler threads, not 5: the others wait in the queue
        t0 = time.perf_counter()
        # Dropped after the idle timeout: a normal request is answered, though 5 idle
        # connections were open and only 3 may be served at once.
        assert request(srv, "POST", "/api/read", {"text": "emma"})[0] == 200
        assert time.perf_counter() - t0 < 5
        for s in idle[:3]:
            s.settimeout(5)
            assert s.recv(100) == b""  # closed by the server, no answer to half a request
            s.close()
        for s in idle[3:]:
            s.close()
        # A body announced and not sent: 408 once the timeout passes, not a hang.
        status, _, d = request(
            srv, "POST", "/api/read", raw=b"{}", headers={"Content-Length": "10"}
        )
        assert status == 408 and "did not arrive" in d["error"]
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_stop_the_server_cleanly(words_run, sig):
    proc = subprocess.Popen(
        [sys.executable, "-m", "charrnn", "serve", str(words_run), "--port", "0", "--text", "an"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # A test run started in the background (nohup, `make test &`) hands its children
        # SIGINT ignored, and Python keeps an inherited SIG_IGN: give the server the
        # default a terminal gives it, which Python turns into KeyboardInterrupt.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    line = proc.stdout.readline()
    assert " at http://127.0.0.1:" in line
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "stopped" in err and "Traceback" not in err


def test_another_host_than_loopback_is_served_with_a_warning(words_run, cli, monkeypatch):
    from charrnn.viz import server as server_module

    def no_serving(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(server_module.PageServer, "serve_forever", no_serving)
    code, _, err = cli("serve", words_run, "--port", "0", "--host", "0.0.0.0", "--text", "an")
    assert code == 0 and "no authentication" in err and "anyone on that network" in err
    code, _, err = cli("serve", words_run, "--port", "0", "--text", "an")
    assert code == 0 and "warning" not in err and "stopped" in err
    # --text takes --unknown skip, as the message about unknown characters suggests.
    code, _out, err = cli("serve", words_run, "--port", "0", "--text", "an%", "--unknown", "skip")
    assert code == 0


# The fuzz test: random requests of every kind against every route. Our own seeded generator
# (no dependency): each request's shape is recorded so the test reports how many kinds of
# request it really tried.

ROUTES = list(LIMITS)  # every route: read, influence, reach, sample, complete, compare, live
NAMES = "emma anna bob olivia"  # in the names model's vocabulary


def _random_string(rng, budget):
    kind = rng.integers(7)
    n = int(rng.choice([0, 1, 5, 40, 300, budget]))
    if kind == 0:
        return "".join(rng.choice(list(NAMES), n))  # in the vocabulary: real work
    if kind == 1:
        return "".join(chr(int(c)) for c in rng.integers(0x20, 0x3000, n))
    if kind == 2:
        return "\ud800" + "a" * min(n, 10)  # a lone surrogate
    if kind == 3:
        return "\n" * n
    if kind == 4:
        return "".join(chr(int(c)) for c in rng.integers(0, 0x110000, min(n, 50)) if c < 0xD800)
    if kind == 5:
        return "<script>" * min(n, 20)
    return "e" * n


def _random_value(rng, depth=0):
    kind = rng.integers(12)
    if kind <= 2:
        return _random_string(rng, 21_000)
    if kind <= 5:
        return int(rng.choice([-1, 0, 1, 2, 5, 50, 51, 200, 2000, 2001, 2**31, 2**63, 10**20]))
    if kind == 6:
        return float(rng.choice([-0.5, 0.0, 0.3, 1.0, 1.5, 99.9, 1e300, -1e-300]))
    if kind == 7:
        return bool(rng.integers(2))
    if kind == 8:
        return None
    if kind == 9 and depth < 12:
        return [_random_value(rng, depth + 1) for _ in range(rng.integers(4))]
    if kind == 10 and depth < 12:
        return {f"k{i}": _random_value(rng, depth + 1) for i in range(rng.integers(4))}
    return int(rng.integers(0, 20))


def _valid_value(rng, kind, default, lo, hi):
    """A value within a field's range (often its largest: the compute budget's corner)."""
    if kind is bool:
        return bool(rng.integers(2))
    if kind is str:
        return "".join(rng.choice(list("emab"), int(rng.choice([0, 3, 20, hi or 0]))))
    hi = 30 if hi is None else hi
    if kind is int:
        return int(rng.choice([lo, hi, rng.integers(lo, hi + 1)]))
    return float(rng.uniform(lo, min(hi, 3.0)))


def _random_request(rng, port):
    """(method, path, headers, body bytes, shape): one random request and a summary of it."""
    others = ["GET", "PUT", "OPTIONS", "HEAD", "DELETE", "X"]
    method = "POST" if rng.random() < 0.85 else str(rng.choice(others))
    strange = ["/", "/page.js", "/nope", "/api/read?x=1", "/" + "a" * 3000]
    path = str(rng.choice(ROUTES)) if rng.random() < 0.85 else str(rng.choice(strange))
    route = path if path in ROUTES else "/api/read"
    fields = [*LIMITS[route], "extra", "text"]
    shape_body: object
    form = rng.integers(10)
    if form < 7:  # an object of known (and sometimes unknown) fields
        body = {}
        all_valid = rng.random() < 0.4  # a well-formed request: the models' own work
        names = list(LIMITS[route]) if all_valid else fields
        for name in rng.choice(names, rng.integers(0, len(names) + 1), replace=False):
            name = str(name)
            valid = name in LIMITS[route] and (all_valid or rng.random() < 0.6)
            body[name] = _valid_value(rng, *LIMITS[route][name]) if valid else _random_value(rng)
        if route == "/api/influence" and "index" in body and rng.integers(2):
            body["index"] = int(rng.integers(0, 30))  # often a valid index: real work
        if route == "/api/live" and "temperature" in body and rng.integers(2):
            body["temperature"] = float(rng.choice(TEMPERATURES))  # the ones it samples at
        if "model" in body and rng.integers(2):
            body["model"] = int(rng.integers(0, 2))  # one of the two models
        raw = json.dumps(body).encode()
        shape_body = tuple(sorted((k, type(v).__name__) for k, v in body.items()))
    elif form == 7:
        raw = json.dumps(_random_value(rng)).encode()
        shape_body = "any json"
    elif form == 8:
        raw = bytes(rng.integers(0, 256, int(rng.integers(0, 200))).tolist())
        shape_body = "bytes"
    else:
        d = int(rng.choice([5, 9, 50, 100_000]))
        raw = b'{"a":' * d + b"1" + b"}" * d
        shape_body = f"depth {d}"
    headers = {"Host": f"127.0.0.1:{port}", "Content-Type": "application/json"}
    flags = []
    for name, options in (
        ("Host", [f"localhost:{port}", "evil.example", ""]),
        ("Content-Type", ["text/plain", "application/json; charset=latin-1", None]),
        ("Origin", [f"http://127.0.0.1:{port}", "http://evil.example", "null"]),
        ("Sec-Fetch-Site", ["same-origin", "cross-site"]),
        ("Content-Length", ["abc", "-1", "", str(len(raw) + 5), str(max(0, len(raw) - 1)), None]),
    ):
        if rng.random() < 0.08:
            headers[name] = options[int(rng.integers(len(options)))]
            flags.append(f"{name}={headers[name]!r}"[:40])
    if "Content-Length" not in headers:
        headers["Content-Length"] = str(len(raw))
    return method, path, headers, raw, (method, path[:20], str(shape_body)[:200], tuple(flags))


def _send(port, method, path, headers, raw, timeout):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for k, v in headers.items():
            if v is not None:
                conn.putheader(k, v)
        conn.endheaders(raw if method != "GET" else None)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type") or "", r.read()
    finally:
        conn.close()


BUDGET = 20.0  # seconds the slowest answer may take (the compute budget, with room for a busy CI)


def fuzz(words_run, count, seed):
    """Send ``count`` random requests; return the figures the report gives."""
    from charrnn.viz import server as server_module

    saved = server_module._Handler.timeout
    # A body announced longer than sent gets 408 once the socket has waited this long;
    # short, since such requests are a few per cent of the fuzz and each waits it out.
    server_module._Handler.timeout = 0.25
    # Two models (compared side by side), the first a run directory that can be watched.
    model = CharRNN.load(words_run)
    srv = make_server([model, model], "127.0.0.1", 0, runs=[str(words_run), None])
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    rng = np.random.default_rng(seed)
    shapes, statuses, slowest, bad = set(), {}, 0.0, []
    try:
        for _ in range(count):
            method, path, headers, raw, shape = _random_request(rng, port)
            shapes.add(shape)
            t0 = time.perf_counter()
            status, ctype, answer = _send(port, method, path, headers, raw, BUDGET + 5)
            slowest = max(slowest, time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1
            ok = 200 <= status < 500 and (answer or method == "HEAD" or status == 204)
            if ok and method != "HEAD" and status != 204 and ctype.startswith("application/json"):
                ok = isinstance(json.loads(answer), dict)
            if not ok:
                bad.append((status, shape, answer[:200]))
        # Afterwards a normal request is answered as ever.
        status, _, answer = _send(
            port,
            "POST",
            "/api/read",
            {
                "Host": f"127.0.0.1:{port}",
                "Content-Type": "application/json",
                "Content-Length": "16",
            },
            b'{"text": "emma"}',
            30,
        )
        assert status == 200 and json.loads(answer)["tokens"] == list("emma\n")
    finally:
        srv.shutdown()
        srv.server_close()
        server_module._Handler.timeout = saved
    figures = {
        "requests": count,
        "distinct shapes": len(shapes),
        "largest answer time (s)": round(slowest, 3),
        "5xx": sum(n for s, n in statuses.items() if s >= 500),
        "statuses": dict(sorted(statuses.items())),
    }
    print(figures)
    assert bad == [], bad[:5]
    assert slowest < BUDGET
    return figures


def test_fuzz_every_route_never_5xx(words_run):
    figures = fuzz(words_run, 150, seed=0)
    assert figures["5xx"] == 0 and figures["distinct shapes"] > 100


@pytest.mark.long
def test_fuzz_every_route_ten_thousand_requests(words_run):
    figures = fuzz(words_run, 10_000, seed=1)
    assert figures["5xx"] == 0


SLOW_SERVER = """
import sys, time
from charrnn.viz import server
answer = server.PageServer.answer
def slow(self, route, body):
    time.sleep(1.5)  # a request that is still computing when the signal comes
    return answer(self, route, body)
server.PageServer.answer = slow
from charrnn.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_a_request_in_flight_is_answered_before_the_server_stops(words_run):
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_SERVER, "serve", str(words_run), "--port", "0", "--text", "a"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    port = int(proc.stdout.readline().split(":")[-1].split("/")[0])
    srv = type("S", (), {"server_address": ("127.0.0.1", port)})()
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(request, srv, "POST", "/api/read", {"text": "emma"})
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        status, _, d = answer.result(timeout=30)
    _, err = proc.communicate(timeout=30)
    assert status == 200 and d["tokens"] == list("emma\n")
    assert proc.returncode == 0 and "stopped" in err


# Side by side: several models on one text, each reading it with its own vocabulary.


@pytest.fixture(scope="module")
def jamo_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    data = folder / "ko.txt"
    data.write_text(
        "\n".join("사랑 사과 가방 강물 나무 노래 다리 바다 하늘 학교".split() * 3) + "\n"
    )
    run = folder / "jamo"
    args = ["train", str(data), "--units", "jamo", "--out", str(run), "--hidden", "16"]
    assert main([*args, "--steps", "20", "--quiet"]) == 0
    return run


@pytest.fixture(scope="module")
def trio(words_run, text_run, jamo_run):
    """A server of three models with three vocabularies: names, a text model, Korean jamo."""
    models = [CharRNN.load(r) for r in (words_run, text_run, jamo_run)]
    srv = make_server(models, "127.0.0.1", 0, names=["names", "text", "jamo"])
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv, models
    srv.shutdown()
    srv.server_close()


def test_side_by_side_each_model_reads_what_it_can(trio):
    from charrnn.generation.views import reach

    srv, models = trio
    text = "emma 사랑 The cat"
    status, _, d = request(srv, "POST", "/api/compare", {"text": text})
    assert (
        status == 200
        and d["text"] == text
        and [c["name"] for c in d["columns"]]
        == [
            "names",
            "text",
            "jamo",
        ]
    )
    for col, model in zip(d["columns"], models, strict=True):
        # Each column reads the text without the characters its model cannot read...
        readable = "".join(c for k, c in enumerate(text) if k not in col["unreadable"])
        assert not any(model.vocab_.unknown(c) for c in readable if c not in " \n")
        assert all(model.vocab_.unknown(text[k]) for k in col["unreadable"])
        # ... and its numbers are the model's own reading of that text.
        r = model.read(readable, top=3)
        assert col["tokens"] == list(r.text)
        np.testing.assert_allclose(col["probs"], r.probs, rtol=1e-5)
        # Every token names the character of the shared text it belongs to.
        assert len(col["src"]) == len(col["tokens"]) and col["src"] == sorted(col["src"])
        for tok, k in zip(col["tokens"], col["src"], strict=True):
            if k < len(text):
                assert tok in model.vocab_.to_symbols(text[k]) or text[k] == " "
    names, _, jamo = d["columns"]
    assert [text[k] for k in names["unreadable"]] == ["사", "랑", "T"]  # no capitals in @names
    assert jamo["src"].count(5) == 2 and jamo["src"].count(6) == 3  # 사 = 2 jamo, 랑 = 3
    # The reach of one character in every column, at that character's first token.
    status, _, d = request(srv, "POST", "/api/compare/reach", {"text": text, "at": 6})
    cols = d["columns"]
    assert status == 200 and cols[0]["reach"] is None and "cannot read" in cols[0]["why"]
    m = models[2]
    readable = "".join(c for k, c in enumerate(text) if k not in jamo["unreadable"])
    want = reach(m.params_, m.vocab_, readable, cols[2]["index"], mode="words", cell=m.config_.cell)
    assert jamo["src"][cols[2]["index"]] == 6 and jamo["tokens"][cols[2]["index"]] == "\u1105"
    got = np.array([[np.nan if v is None else v for v in row] for row in cols[2]["reach"]])
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_side_by_side_fields_are_bounded(trio):
    srv, _ = trio
    for path, body, message in (
        ("/api/compare/reach", {"text": "emma", "at": 5}, "at must be between 0 and 4"),
        ("/api/compare/reach", {"text": "emma", "at": -1}, "at must be between 0 and 20000"),
        ("/api/compare", {"text": "a" * 20_001}, "text may have at most 20,000 characters"),
        ("/api/read", {"text": "emma", "model": 3}, "model must be between 0 and 2"),
        ("/api/read", {"text": "emma", "skip": 1}, "skip must be true or false"),
        ("/api/sample", {"model": 2, "top_k": 30}, "top_k must be between 1 and"),
    ):
        status, _, d = request(srv, "POST", path, body)
        assert status == 400 and message in d["error"], (path, d)
    # One model's views of a shared text: what it cannot read is left out, as in its column.
    status, _, d = request(
        srv, "POST", "/api/read", {"text": "emma 사랑", "model": 2, "skip": True}
    )
    assert status == 200 and "".join(d["tokens"]) == " \u1109\u1161\u1105\u1161\u11bc\n"
    assert d["starts"] == [0, 1, 3, 6]  # where each shown character begins: jamo composed
    status, _, d = request(srv, "POST", "/api/read", {"text": "emma 사랑", "model": 2})
    assert status == 400 and "vocabulary" in d["error"]


def test_the_page_is_told_the_models(trio):
    srv, _ = trio
    _, _, html = request(srv, "GET", "/")
    start = html.index(b'<script id="models" type="application/json">') + 44
    models = json.loads(html[start : html.index(b"</script>", start)])
    assert [m["name"] for m in models] == ["names", "text", "jamo"]
    assert [m["live"] for m in models] == [False] * 3


def test_three_models_at_most(words_run):
    from charrnn.common.errors import CharRNNError

    model = CharRNN.load(words_run)
    with pytest.raises(CharRNNError, match="1 to 3 models"):
        make_server([model] * 4, "127.0.0.1", 0)


def test_serve_takes_several_runs(words_run, text_run, cli, monkeypatch):
    from charrnn.viz import server as server_module

    seen = {}

    def no_serving(self):
        seen["names"], seen["live"] = self.names, [w is not None for w in self.watchers]
        raise KeyboardInterrupt

    monkeypatch.setattr(server_module.PageServer, "serve_forever", no_serving)
    best = words_run / "best.npz"
    code, out, err = cli("serve", words_run, text_run, best, "--port", "0", "--text", "The É")
    assert code == 0 and "stopped" in err and f"serving {words_run} and {text_run}" in out
    assert seen["names"] == ["words", "text", "best.npz"]  # the runs' folder names
    assert seen["live"] == [True, True, False]  # run directories can be watched
    code, _, err = cli("serve", words_run, words_run, words_run, words_run, "--port", "0")
    assert code == 2 and "at most 3 runs" in err


def test_demo_page_serves_the_pair_side_by_side(words_run, cli, tmp_path, monkeypatch):
    """``charrnn demo --page``'s wiring (the pair's training and its lesson are checked in the
    browser test of the vector experiment)."""
    from charrnn.experiments import demo
    from charrnn.viz import server as server_module

    seen = {}

    def pair(out_dir, seeds, cell, say):
        seen["out"], seen["seeds"], seen["cell"] = out_dir, list(seeds), cell
        say("seed 4: naive rule p('r' | 'vecto') = 0.9500")
        return demo.VectorPair(str(words_run), str(words_run), 4, 0.99, 0.95)

    def no_serving(self):
        seen["names"], seen["first"], seen["live"] = self.names, self.first_text, self.watchers
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "vector_pair", pair)
    monkeypatch.setattr(server_module.PageServer, "serve_forever", no_serving)
    code, out, err = cli("demo", "--page", "--out", tmp_path, "--port", "0", "--seeds", "5")
    assert code == 0 and "serving" in out and "stopped" in err
    assert seen["out"] == str(tmp_path) and seen["seeds"] == [0, 1, 2, 3, 4]
    assert seen["names"] == ["full BPTT (seed 4)", "naive 1-hop rule (seed 4)"]
    assert seen["first"] == "vector" and all(w is not None for w in seen["live"])
    # A pair that does not show the lesson (the naive rule learnt it too) is said so.
    assert "never failed" in err and "seed 4: naive rule" in err


def test_serve_waits_for_a_training_runs_first_checkpoint(words_run, tmp_path, cli, monkeypatch):
    from charrnn.cli import serve as serve_module
    from charrnn.viz import server as server_module

    monkeypatch.setattr(serve_module, "WAIT_POLL", 0.05)
    monkeypatch.setattr(
        server_module.PageServer,
        "serve_forever",
        lambda self: (_ for _ in ()).throw(KeyboardInterrupt),
    )
    run = tmp_path / "starting"
    run.mkdir()
    (run / "config.json").write_text("{}")  # a run that has saved no model yet

    def first_save():
        time.sleep(0.5)
        CharRNN.load(words_run).save(run / "tmp.npz")
        os.replace(run / "tmp.npz", run / "latest.npz")

    thread = threading.Thread(target=first_save)
    thread.start()
    code, out, err = cli("serve", run, "--port", "0", "--text", "emma")
    thread.join()
    assert code == 0 and "waiting for the first checkpoint" in err and "serving" in out
    code, _, err = cli("serve", tmp_path / "nothing", "--port", "0")  # not a run: an error
    assert code == 2 and "nothing" in err


@pytest.mark.parametrize("which", ["words", "text", "jamo"])
def test_align_lines_every_token_up_with_a_character(which, words_run, text_run, jamo_run):
    """Random texts over mixed alphabets: each model reads what it can, token by token."""
    from charrnn.generation.views import align, read

    model = CharRNN.load({"words": words_run, "text": text_run, "jamo": jamo_run}[which])
    mode = model.config_.mode
    rng = np.random.default_rng(0)
    alphabet = [*'emab ÉT\n사랑과."', "e\u0301"]  # and a decomposed é
    for _ in range(40):
        text = "".join(rng.choice(alphabet, int(rng.integers(0, 30))))
        a = align(model.vocab_, text, mode)
        r = read(model.params_, model.vocab_, a.readable, mode=mode, cell=model.config_.cell)
        assert len(a.src) == len(r.text)
        kept = [k for k in range(len(a.shown)) if k not in a.unreadable]
        assert sorted(set(a.src.tolist()) - {len(a.shown)}) == kept
        for k in a.unreadable:
            assert model.vocab_.unknown(a.shown[k])


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="no process priorities here")
def test_serving_a_run_directory_yields_the_cores_to_its_trainer(words_run):
    """Catches a page that competes with the run it watches for the machine's cores (its
    samples of each new checkpoint slowed a trainer on two cores by a fifth)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "charrnn", "serve", str(words_run), "--port", "0", "--text", "a"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().startswith("serving ")
        assert os.getpriority(os.PRIO_PROCESS, proc.pid) == min(
            19, os.getpriority(os.PRIO_PROCESS, 0) + 10
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
