"""``charrnn serve`` without a browser: routes, errors as JSON, a burst of requests;
``charrnn viz``: the self-contained page and its pictures; the API behind them."""

from __future__ import annotations

import base64
import json
import math
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from charrnn import CharRNN
from charrnn.cli import main
from charrnn.viz.page import payload, static_page
from charrnn.viz.server import make_server


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
        ("/api/read", {"text": 5}, 400, "text must be a str"),
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
    html = static_page({"tokens": ["</script><b>"], "x": "</script>"})
    assert html.count("</script>") == 2  # the page's own two scripts only


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
