"""The generation API over HTTP (docs/http.md): /api/v1/sample, /score and /complete answer
what the library answers, GET /api/v1 describes them, and errors are the documented ones."""

from __future__ import annotations

import json
import threading
import urllib.request

import pytest

from charrnn import CharRNN
from charrnn.viz.server import LIMITS, make_server
from tests.viz.test_serve import post, request


@pytest.fixture(scope="module")
def model():
    words = ["anna", "bob", "carla", "dave", "emma", "frank", "gina", "hank"] * 4
    return CharRNN(hidden=12, steps=40, val_fraction=0, random_state=0).fit(words)


@pytest.fixture(scope="module")
def srv(model):
    server = make_server(model, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_sample_score_and_complete_answer_what_the_library_answers(srv, model):
    code, got = post(srv, "/api/v1/sample", {"n": 4, "prefix": "e", "seed": 3})
    assert code == 200 and got["samples"] == model.sample(4, prefix="e", random_state=3)
    code, got = post(srv, "/api/v1/sample", {"n": 2, "greedy": True})
    assert code == 200 and got["samples"] == model.sample(2, greedy=True)
    code, got = post(srv, "/api/v1/score", {"text": "emma"})
    want = model.score_details(["emma"])[0]
    assert code == 200 and got["logprob"] == pytest.approx(want.logprob, abs=1e-9)
    assert got["nats_per_char"] == pytest.approx(want.nats_per_char, abs=1e-9)
    assert len(got["symbol_nll"]) == 5 and got["unit"] == "char"  # e m m a and the end
    code, got = post(srv, "/api/v1/complete", {"prefix": "ga", "k": 3})
    want = model.complete("ga", 3)
    assert code == 200 and [c["text"] for c in got["completions"]] == [c.text for c in want.items]


def test_get_api_v1_describes_every_route_with_its_bounds(srv, model):
    with urllib.request.urlopen(srv.url.rstrip("/") + "/api/v1", timeout=30) as r:
        doc = json.loads(r.read())
    assert doc["version"] == 1 and doc["models"][0]["mode"] == "words"
    assert set(doc["routes"]) == {r for r in LIMITS if r.startswith("/api/v1/")}
    top_k = doc["routes"]["/api/v1/sample"]["top_k"]
    assert (top_k["type"], top_k["min"], top_k["max"]) == ("integer", 1, model.vocab_.size)
    assert doc["routes"]["/api/v1/score"]["text"]["min"] == 1


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/api/v1/score", {"text": ""}, 400, "text must have at least 1 character"),
        ("/api/v1/score", {"text": "em\nma"}, 400, "one word at a time"),
        ("/api/v1/score", {"text": "emma!"}, 400, "!"),
        ("/api/v1/sample", {"n": 51}, 400, "n must be"),
        ("/api/v1/sample", {"greedy": 1}, 400, "greedy must be true or false"),
        ("/api/v1/sample", {"temperature": "hot"}, 400, "temperature"),
        ("/api/v1/complete", {"k": 0}, 400, "k must be"),
        ("/api/v1/complete", {"prefixx": "a"}, 400, "unknown field 'prefixx'"),
        ("/api/v2/sample", {}, 404, "no route"),
        # Integers past float's range overflowed float() and answered 500.
        ("/api/v1/sample", {"seed": 10**400}, 400, "seed must be between"),
        ("/api/v1/sample", {"temperature": -(10**400)}, 400, "temperature must be between"),
        ("/api/v1/complete", {"k": 10**20}, 400, "k must be between"),
    ],
)
def test_documented_errors(srv, path, body, status, message):
    code, got = post(srv, path, body)
    assert code == status and message in got["error"]


def test_an_app_without_an_origin_is_served_and_another_origin_is_not(srv):
    code, _, got = request(srv, "POST", "/api/v1/sample", {"n": 1})
    assert code == 200 and len(got["samples"]) == 1
    code, _, got = request(
        srv, "POST", "/api/v1/sample", {"n": 1}, {"Origin": "http://evil.example"}
    )
    assert code == 403 and "another origin" in got["error"]
    code, _, got = request(srv, "POST", "/api/v1/sample", {"n": 1}, {"Content-Type": "text/plain"})
    assert code == 415


def test_a_jamo3_model_gets_tighter_bounds():
    """Catches requests that make a jamo3 model enumerate its 11,172 syllables for minutes."""
    m = CharRNN(units="jamo3", hidden=8, steps=3, val_fraction=0, random_state=0)
    m.fit(["사랑", "하늘"])
    server = make_server(m, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        code, got = post(server, "/api/v1/sample", {"n": 1, "top_k": 100})
        assert code == 400 and "top_k must be between 1 and 64 for a jamo3 model" in got["error"]
        code, got = post(server, "/api/v1/complete", {"prefix": "사", "beam": 200})
        assert code == 400 and "beam must be between 1 and 32" in got["error"]
        code, got = post(server, "/api/v1/sample", {"n": 2, "top_k": 5, "max_len": 4})
        assert code == 200 and len(got["samples"]) == 2
    finally:
        server.shutdown()
        server.server_close()


def test_a_client_that_leaves_before_its_answer_prints_nothing(srv, capfd):
    import socket
    import time

    host, port = srv.server_address[:2]
    for _ in range(5):
        with socket.create_connection((host, port)) as s:
            # Closed before the page's answer (a large one) is read.
            s.sendall(f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    time.sleep(0.5)
    code, _, doc = request(srv, "GET", "/api/v1")
    assert code == 200 and doc["version"] == 1  # still serving
    assert "Traceback" not in capfd.readouterr().err
