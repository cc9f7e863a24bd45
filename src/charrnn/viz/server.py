"""``charrnn serve``: the learner's page for one model or several side by side, on a local
web server.

The standard library's ``ThreadingHTTPServer`` is enough: one user, a handful
of small JSON requests, no templates or sessions; it needs nothing installed
beyond numpy and cannot drift from the package. Each request is answered in
its own thread; the model's numbers are computed under a semaphore so that a
burst of requests queues instead of multiplying memory.

Routes: ``GET /`` the page, ``/page.js`` and ``/page.css`` its script and
style; ``POST /api/read``, ``/api/influence``, ``/api/reach``,
``/api/sample``, ``/api/complete`` (each for one of the models, ``model``),
``/api/compare`` and ``/api/compare/reach`` (every model side by side) and
``/api/live`` (a run as it trains) with a JSON body, answering JSON. A user's
mistake (unknown characters, a huge text, a bad number) is a 4xx answer with
``{"error": message}``, which the page shows; nothing reaches the client as a
traceback.

It is safe to leave running on a laptop (``docs/page.md``, "Safety"):

- only Host headers naming the address it bound are answered (421 otherwise):
  a page on another site whose name resolves to 127.0.0.1 (DNS rebinding)
  cannot read the answers;
- a POST must be ``application/json`` and come from the page's own origin
  (403 otherwise), and no answer carries CORS headers, so another site can
  neither read an answer nor spend the model's time with a "simple" request;
- every field has a type and a range, the body a size and a nesting depth,
  and each route a bound on its work (:data:`LIMITS`);
- every answer carries a Content-Security-Policy (no inline code, nothing
  from elsewhere, no framing), ``nosniff`` and ``no-referrer``;
- an idle connection is closed after :data:`IDLE_TIMEOUT` seconds and at most
  :data:`MAX_CONNECTIONS` are served at once.
"""

from __future__ import annotations

import json
import math
import re
import socket
import sys
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from ..api import CharRNN
from ..common.errors import CharRNNError
from ..generation.views import MAX_TEXT, align
from .compare import MAX_MODELS, compare, compare_reach
from .live import RunWatcher
from .page import (
    LIVE_CSP,
    REACH_WINDOW,
    asset,
    describe,
    influence_row,
    live_page,
    payload,
    reach_rows,
)

MAX_BODY = 1_000_000  # bytes of a request body
MAX_DEPTH = 8  # nesting of a request's JSON (every field is a scalar: 1 would do)
MAX_SAMPLES = 50
MAX_PREFIX = 200  # characters of a sampling or completion prefix
MAX_SAMPLE_LEN = 2000
MAX_BEAM = 256
MAX_SEED = 2**32 - 1
COMPUTE_SLOTS = 4  # requests computing at once
MAX_CONNECTIONS = 32  # connections served at once; more wait in the kernel's queue
IDLE_TIMEOUT = 15.0  # seconds a connection may stay silent
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")

# Each route's fields: (type, default, low, high). A bound of None is filled from the
# server (model: one of its models; top_k: at most the model's vocabulary). Together they
# are the per-request compute budget: a read or influence reads at most MAX_TEXT
# characters (a comparison, with each of at most MAX_MODELS models); a sample takes at most
# MAX_SAMPLES x (MAX_PREFIX + MAX_SAMPLE_LEN) steps; a completion at most the library's
# 50,000 exact-search steps (then a beam search), or 200 steps of MAX_BEAM in text mode;
# a poll of a live run reads at most 8 MB of its log and samples at most two new
# checkpoints.
MODEL = (int, 0, 0, None)
SKIP = (bool, False, False, True)  # leave out characters the model cannot read
LIMITS: dict[str, dict[str, tuple[type, Any, Any, Any]]] = {
    "/api/read": {"text": (str, "", 0, MAX_TEXT), "model": MODEL, "skip": SKIP},
    "/api/influence": {
        "text": (str, "", 0, MAX_TEXT),
        "index": (int, 0, 0, MAX_TEXT),
        "model": MODEL,
        "skip": SKIP,
    },
    "/api/reach": {
        "text": (str, "", 0, MAX_TEXT),
        "index": (int, 0, 0, MAX_TEXT),
        "model": MODEL,
        "skip": SKIP,
    },
    "/api/compare": {"text": (str, "", 0, MAX_TEXT)},
    "/api/compare/reach": {"text": (str, "", 0, MAX_TEXT), "at": (int, 0, 0, MAX_TEXT)},
    "/api/live": {"model": MODEL, "temperature": (float, 1.0, 0.0, 100.0)},
    "/api/sample": {
        "model": MODEL,
        "prefix": (str, "", 0, MAX_PREFIX),
        "n": (int, 5, 1, MAX_SAMPLES),
        "temperature": (float, 1.0, 0.0, 100.0),
        "top_k": (int, None, 1, None),
        "max_len": (int, None, 1, MAX_SAMPLE_LEN),
        "seed": (int, None, 0, MAX_SEED),
    },
    "/api/complete": {
        "model": MODEL,
        "prefix": (str, "", 0, MAX_PREFIX),
        "k": (int, 10, 1, 100),
        "max_len": (int, None, 1, 200),
        "beam": (int, None, 1, MAX_BEAM),
    },
}
# The generation API for apps (docs/http.md): versioned paths whose fields, answers and
# errors stay as documented while the page's own routes above may change with the page.
API_VERSION = 1
V1 = f"/api/v{API_VERSION}"
LIMITS.update(
    {
        f"{V1}/sample": {**LIMITS["/api/sample"], "greedy": (bool, False, False, True)},
        f"{V1}/complete": dict(LIMITS["/api/complete"]),
        f"{V1}/score": {"model": MODEL, "text": (str, "", 1, MAX_TEXT)},
    }
)


class RequestError(Exception):
    """A request the server refuses: its HTTP status and a message for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _depth(value: Any) -> int:
    """How deeply ``value`` nests lists and objects (iteratively: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict | list):
            deepest = max(deepest, d)
            if d <= MAX_DEPTH:  # no need to look deeper than the limit
                stack.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: Python's json accepts them


def parse_body(raw: bytes) -> dict[str, Any]:
    """A request body as a JSON object, or a :class:`RequestError` (400) saying why."""
    try:
        body = json.loads(raw.decode("utf-8") or "{}", parse_constant=_no_constant)
    except RecursionError:
        raise RequestError(400, f"the request nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError):
        raise RequestError(400, "the request is not a JSON object (UTF-8)") from None
    if not isinstance(body, dict):
        raise RequestError(400, "the request is not a JSON object")
    if _depth(body) > MAX_DEPTH:
        raise RequestError(400, f"the request nests deeper than {MAX_DEPTH} levels")
    return body


def fields(route: str, body: dict[str, Any], highs: dict[str, int]) -> dict[str, Any]:
    """The fields of one request, each checked against :data:`LIMITS`.

    ``highs`` fills the upper bounds that depend on the server (``model``,
    ``top_k``). A wrong field is a :class:`RequestError` (400) naming the
    field, what it must be and its range; an unknown field is refused too (a
    typo would otherwise be silently ignored).
    """
    limits = LIMITS[route]
    unknown = sorted(set(body) - set(limits))
    if unknown:
        raise RequestError(
            400, f"unknown field {unknown[0]!r}; {route} takes {', '.join(limits)}"[:300]
        )
    out = {}
    for name, (kind, default, lo, hi) in limits.items():
        hi = highs[name] if hi is None else hi
        value: Any = body.get(name)
        if value is None:
            out[name] = default
            continue
        if kind is bool:
            if not isinstance(value, bool):
                raise RequestError(400, f"{name} must be true or false")
            out[name] = value
            continue
        huge = isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53
        if kind in (int, float) and huge:
            # Past float's exact range every field is out of its bounds (float() of a
            # 400-digit integer overflows): say so before any conversion.
            raise RequestError(400, f"{name} must be between {lo} and {hi}; got a huge number")
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        what = {str: "a string", int: "a whole number", float: "a number"}[kind]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise RequestError(400, f"{name} must be {what} between {lo} and {hi}")
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise RequestError(400, f"{name} is not valid Unicode (a lone surrogate)") from None
            if len(value) > hi:
                raise RequestError(
                    400, f"{name} may have at most {hi:,} characters; got {len(value):,}"
                )
        elif not (math.isfinite(num := cast(float, value)) and lo <= num <= hi):
            shown = num if abs(num) < 1e15 else f"{num:.3g}"
            raise RequestError(400, f"{name} must be between {lo} and {hi}; got {shown}")
        out[name] = value
    return out


class PageServer(ThreadingHTTPServer):
    """The HTTP server of one model, or of two or three side by side.

    ``names`` label the models on the page; ``runs`` gives, for each model, the run
    directory to watch as it trains (None: a checkpoint file, nothing to watch).
    """

    daemon_threads = True
    request_queue_size = 128  # a burst of requests waits in the kernel's queue, not refused

    def __init__(
        self,
        address: tuple[str, int],
        models: Sequence[CharRNN],
        first_text: str = "",
        quiet: bool = True,
        names: Sequence[str] | None = None,
        runs: Sequence[str | None] | None = None,
    ):
        super().__init__(address, _Handler)
        self.models = list(models)
        self.names = (
            list(names) if names is not None else [f"model {i + 1}" for i in range(len(models))]
        )
        runs = list(runs) if runs is not None else [None] * len(self.models)
        self.watchers = [RunWatcher(r) if r is not None else None for r in runs]
        self.first_text = first_text
        self.quiet = quiet
        self.slots = threading.BoundedSemaphore(COMPUTE_SLOTS)
        self.connections = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.busy = 0  # requests computing now (see wait_until_idle)
        self.idle = threading.Condition()
        port = self.server_address[1]
        hostnames = {*LOOPBACK, str(address[0]).lower()}
        hostnames |= {f"[{n}]" for n in hostnames if ":" in n and not n.startswith("[")}
        # The Host headers answered: each name with the bound port (browsers always send it
        # for a port other than 80).
        self.hosts = {f"{n}:{port}" for n in hostnames} | (hostnames if port == 80 else set())

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that left before its answer (closed tab, cancelled fetch) is not an
        error to print; anything else is, as socketserver prints it."""
        if isinstance(sys.exc_info()[1], ConnectionError):  # broken pipe, reset, aborted
            return
        super().handle_error(request, client_address)

    @property
    def model(self) -> CharRNN:
        """The first model (the only one, unless models are compared)."""
        return self.models[0]

    def page_models(self) -> list[dict[str, Any]]:
        """What the page is told about the models: name, one line, whether it can be watched."""
        return [
            {"name": n, "model": describe(m), "live": w is not None}
            for n, m, w in zip(self.names, self.models, self.watchers, strict=True)
        ]

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        if isinstance(host, bytes):  # an AF_UNIX-style address; an IP server gives str
            host = host.decode()
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"

    def process_request(self, request: Any, client_address: Any) -> None:
        # At most MAX_CONNECTIONS handler threads: the accept loop waits for a free one, so
        # further connections wait in the kernel's queue instead of each holding a thread.
        self.connections.acquire()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.connections.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connections.release()

    def wait_until_idle(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until no request is computing; True when none is.

        A stopping server calls it after ``serve_forever`` returns: requests already
        computing finish and send their answer instead of being cut off.
        """
        with self.idle:
            return self.idle.wait_for(lambda: self.busy == 0, timeout)

    def answer(self, route: str, body: dict[str, Any]) -> dict[str, Any]:
        """The JSON answer of one API route (``body`` already parsed; fields checked here)."""
        highs = self.highs()
        f = fields(route, body, highs)
        if route == "/api/compare":
            return compare(self.models, self.names, f["text"])
        if route == "/api/compare/reach":
            cols = [compare_reach(m, f["text"], f["at"]) for m in self.models]
            return {"columns": cols, "window": REACH_WINDOW}
        m = self.models[f["model"]]
        if route == "/api/live":
            return self._live(f["model"], f["temperature"])
        text = f.get("text", "")
        if f.get("skip"):  # a comparison: the characters this model cannot read are left out
            text = align(m.vocab_, text, m.config_.mode).readable
        if route == "/api/read":
            return payload(m, text)
        if route == "/api/influence":
            return {"influence": influence_row(m, text, f["index"])}
        if route == "/api/reach":
            return {"reach": reach_rows(m, text, f["index"]), "window": REACH_WINDOW}
        if f.get("top_k") is not None and f["top_k"] > m.vocab_.size:
            raise RequestError(400, f"top_k must be between 1 and {m.vocab_.size}")
        if m.config_.units == "jamo3":
            _jamo3_bounds(f)
        if route == f"{V1}/score":
            return _score(m, f["text"])
        if route in ("/api/sample", f"{V1}/sample"):
            t0 = time.perf_counter()
            # Text mode: a paragraph, not sample()'s 500 characters, unless asked.
            length = 200 if m.config_.mode == "text" else None
            samples = m.sample(
                n=f["n"],
                prefix=f["prefix"],
                temperature=f["temperature"],
                top_k=f["top_k"],
                max_len=f["max_len"] or length,
                random_state=f["seed"],
                greedy=f.get("greedy", False),
            )
            return {"samples": samples, "seconds": time.perf_counter() - t0}
        r = m.complete(f["prefix"], f["k"], max_len=f["max_len"], beam=f["beam"])
        return r.to_dict()

    def highs(self) -> dict[str, int]:
        """The upper bounds :data:`LIMITS` leaves to the server: its models, their vocabulary."""
        return {"model": len(self.models) - 1, "top_k": max(m.vocab_.size for m in self.models)}

    def describe_api(self) -> dict[str, Any]:
        """``GET /api/v1``: the version, the models, and every route's fields with their
        defaults and ranges, so an app can check a request before it sends it."""
        highs = self.highs()
        routes = {}
        for route, limits in LIMITS.items():
            if route.startswith(V1 + "/"):
                routes[route] = {
                    name: {
                        "type": {str: "string", int: "integer", float: "number", bool: "boolean"}[
                            kind
                        ],
                        "default": default,
                        "min": lo,
                        "max": highs[name] if hi is None else hi,
                    }
                    for name, (kind, default, lo, hi) in limits.items()
                }
        models = [
            {"index": i, "name": n, "mode": m.config_.mode, "units": m.config_.units}
            for i, (n, m) in enumerate(zip(self.names, self.models, strict=True))
        ]
        return {"version": API_VERSION, "models": models, "routes": routes}

    def _live(self, index: int, temperature: float) -> dict[str, Any]:
        watcher = self.watchers[index]
        if watcher is None:
            raise RequestError(
                400, f"model {index} was loaded from a checkpoint file: there is no run to watch"
            )
        answer = watcher.poll(temperature)
        if watcher.model is not None and watcher.model is not self.models[index]:
            # The newest model a load of the run gives: the page's other views read it
            # from now on (requests computing with the old one finish with it).
            self.models[index] = watcher.model
        return answer


# A jamo3 model's step enumerates its 11,172 syllables for completions, and a wide top-k
# ranks them all: these bounds keep its requests within the others' compute budget.
JAMO3_BOUNDS = {"top_k": 64, "beam": 32, "max_len": 200}


def _jamo3_bounds(f: dict[str, Any]) -> None:
    for name, high in JAMO3_BOUNDS.items():
        if f.get(name) is not None and f[name] > high:
            raise RequestError(400, f"{name} must be between 1 and {high} for a jamo3 model")


def _score(model: CharRNN, text: str) -> dict[str, Any]:
    """One text's log-probability under ``model`` (words mode: the text is one word)."""
    if not text:
        raise RequestError(400, "text must have at least 1 character")
    if model.config_.mode == "words" and "\n" in text:
        raise RequestError(400, "a words-mode model scores one word at a time: text has a newline")
    s = model.score_details([text])[0]
    return {
        "text": s.text,
        "logprob": s.logprob,
        "nats_per_char": s.nats_per_char,
        "symbol_nll": list(s.char_nll),
        "unit": model.unit_name,
    }


def _page_message(exc: CharRNNError) -> str:
    # The library's advice names API parameters; on the page there is no "unknown" to pass.
    return str(exc).replace(" or pass unknown='skip' to drop them", "")


class _Handler(BaseHTTPRequestHandler):
    server: PageServer
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT  # socketserver sets it on the connection: a silent client is dropped
    # The standard library adds a version banner; a local page has no use for it.
    server_version = "charrnn"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def end_headers(self) -> None:
        # On every answer, errors included: no framing, no sniffing, no referrer, no cache.
        self.send_header("Content-Security-Policy", LIVE_CSP)
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def _send(
        self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8", "replace")
        self._send(status, body, "application/json; charset=utf-8", headers)

    def _refuse(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        """Answer before the body is read, then close: the body cannot be told from the next
        request."""
        self.close_connection = True
        self.linger = True
        self._json(status, {"error": message}, headers)

    def finish(self) -> None:
        super().finish()
        if getattr(self, "linger", False):
            # A lingering close: stop writing, then read and drop what the client is still
            # sending (bounded in bytes and time). Closing at once would reset the connection
            # under a client still writing its body, and it would never read the answer.
            try:
                self.connection.shutdown(socket.SHUT_WR)
                self.connection.settimeout(1.0)
                deadline, left = time.monotonic() + 5.0, 16 * MAX_BODY
                while left > 0 and time.monotonic() < deadline:
                    chunk = self.connection.recv(65536)
                    if not chunk:
                        break
                    left -= len(chunk)
            except OSError:
                pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's own refusals (a bad request line, headers too long), as JSON."""
        try:
            self._refuse(code, message or self.responses.get(code, ("error",))[0])
        except OSError:
            pass  # the client is gone

    def __getattr__(self, name: str) -> Any:
        # Any method without a do_ handler (OPTIONS, PUT, DELETE, PATCH, ...) is a JSON 405,
        # not the standard library's HTML 501 page.
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        self._refuse(405, f"method {self.command[:20]} is not allowed", {"Allow": "GET, POST"})

    def _check_host(self) -> bool:
        host = (self.headers.get("Host") or "").strip().lower()
        if host in self.server.hosts:
            return True
        self._refuse(
            421,
            "this server answers only requests to its own address "
            f"({self.server.url.rstrip('/')}); not Host {host[:100]!r}",
        )
        return False

    def do_GET(self) -> None:
        if not self._check_host():
            return
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            html = live_page(self.server.first_text, self.server.page_models()).encode("utf-8")
            self._send(200, html, "text/html; charset=utf-8")
        elif path == "/page.js":
            self._send(200, asset("page.js").encode(), "text/javascript; charset=utf-8")
        elif path == "/page.css":
            self._send(200, asset("page.css").encode(), "text/css; charset=utf-8")
        elif path == "/favicon.ico":
            self._send(204, b"", "text/plain")
        elif path == V1:
            self._json(200, self.server.describe_api())
        else:
            self._json(404, {"error": f"no page {path[:200]}"})

    def _body(self) -> bytes:
        """The request's body, read only once its headers pass (else a RequestError)."""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        origin = self.headers.get("Origin")
        own = "http://" + (self.headers.get("Host") or "").strip().lower()
        if origin is not None and origin.lower() != own:
            raise RequestError(403, f"requests from another origin ({origin[:100]}) are refused")
        if self.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            raise RequestError(403, "requests from another site are refused")
        if self.headers.get("Transfer-Encoding"):
            raise RequestError(411, "send the body with a Content-Length, not chunked")
        given = self.headers.get_all("Content-Length") or []
        if not given:
            raise RequestError(411, "a POST needs a Content-Length")
        if len(set(given)) > 1 or not re.fullmatch(r"[0-9]{1,12}", given[0].strip()):
            raise RequestError(400, "Content-Length must be one whole number of bytes")
        length = int(given[0])
        if length > MAX_BODY:
            raise RequestError(413, f"the request is larger than {MAX_BODY:,} bytes")
        if ctype != "application/json":
            # Checked after the length so that the body can be drained below.
            raise RequestError(415, "send the request as Content-Type: application/json")
        try:
            raw = self.rfile.read(length)
        except TimeoutError:
            raise RequestError(408, f"the body did not arrive within {self.timeout:g} s") from None
        if len(raw) < length:
            raise RequestError(400, "the request body is shorter than its Content-Length")
        return raw

    def do_POST(self) -> None:
        # Counted busy until the answer is sent: a stopping server waits for it.
        with self.server.idle:
            self.server.busy += 1
        try:
            self._post()
        finally:
            with self.server.idle:
                self.server.busy -= 1
                self.server.idle.notify_all()

    def _post(self) -> None:
        if not self._check_host():
            return
        try:
            raw = self._body()
        except RequestError as exc:
            self._refuse(exc.status, str(exc))
            return
        try:
            body = parse_body(raw)
            if self.path not in LIMITS:
                raise RequestError(404, f"no route {self.path[:200]}")
            with self.server.slots:
                data = self.server.answer(self.path, body)
        except RequestError as exc:
            self._json(exc.status, {"error": str(exc)})
        except CharRNNError as exc:
            self._json(400, {"error": _page_message(exc)})
        except Exception as exc:  # a bug: one line for the user and the log, no traceback out
            sys.stderr.write(f"charrnn serve: {self.path}: {type(exc).__name__}: {exc}\n")
            self._json(500, {"error": f"internal error ({type(exc).__name__}); see the server log"})
        else:
            self._json(200, data)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (nothing on the network can connect)."""
    return host.lower() in LOOPBACK or host.startswith("127.")


def make_server(
    model: CharRNN | Sequence[CharRNN],
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    first_text: str = "",
    quiet: bool = True,
    names: Sequence[str] | None = None,
    runs: Sequence[str | None] | None = None,
) -> PageServer:
    """A server for ``model`` (or up to three models side by side), bound but not yet
    serving (``port=0`` picks a free one); see :class:`PageServer` for ``names`` and ``runs``.
    """
    models = [model] if isinstance(model, CharRNN) else list(model)
    if not 1 <= len(models) <= MAX_MODELS:
        raise CharRNNError(
            f"the page shows 1 to {MAX_MODELS} models side by side; got {len(models)}"
        )
    for given, what in ((names, "names"), (runs, "runs")):
        if given is not None and len(given) != len(models):
            raise CharRNNError(f"give one of {what} per model")
    if not 0 <= port <= 65535:
        raise CharRNNError(f"the port must be between 0 and 65535; got {port}")
    if not host.strip():
        # An empty host binds every interface: an empty shell variable must not open
        # the page to the network.
        raise CharRNNError(
            "the host is empty; give 127.0.0.1 (this machine only) or 0.0.0.0 (every "
            "network interface, on purpose)"
        )
    try:
        cls = PageServer
        if ":" in host:  # an IPv6 address: the standard library's server binds IPv4 only

            class _V6(PageServer):
                address_family = socket.AF_INET6

            cls = _V6
        return cls((host, port), models, first_text, quiet, names, runs)
    except OSError as exc:
        raise CharRNNError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def default_text(model: CharRNN) -> str:
    """A first text for the page: a few of the model's own greedy words or a short sample."""
    rng_text = model.sample(
        n=4 if model.config_.mode == "words" else 1, max_len=160, temperature=0.7, random_state=0
    )
    return "\n".join(rng_text) if model.config_.mode == "words" else rng_text[0]
