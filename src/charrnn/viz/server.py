"""``charrnn serve``: the learner's page for one model, on a local web server.

The standard library's ``ThreadingHTTPServer`` is enough: one user, a handful
of small JSON requests, no templates or sessions; it needs nothing installed
beyond numpy and cannot drift from the package. Each request is answered in
its own thread; the model's numbers are computed under a semaphore so that a
burst of requests queues instead of multiplying memory.

Routes: ``GET /`` the page; ``POST /api/read``, ``/api/influence``,
``/api/sample``, ``/api/complete`` with a JSON body, answering JSON. A user's
mistake (unknown characters, a huge text, a bad number) is a 400 answer with
``{"error": message}``, which the page shows; nothing reaches the client as
a traceback.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..api import CharRNN
from ..common.errors import CharRNNError
from .page import influence_row, live_page, payload

MAX_BODY = 1_000_000  # bytes of a request body
MAX_SAMPLES = 50
COMPUTE_SLOTS = 4  # requests computing at once


def _field(
    body: dict[str, Any], name: str, kind: type, default: Any, lo: Any = None, hi: Any = None
) -> Any:
    """One field of a request, checked: a clear error names it."""
    value = body.get(name, default)
    if value is None:
        return default
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise CharRNNError(f"{name} must be a {kind.__name__}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise CharRNNError(f"{name} must be between {lo} and {hi}; got {value}")
    return value


class PageServer(ThreadingHTTPServer):
    """The HTTP server of one model."""

    daemon_threads = True
    request_queue_size = 128  # a burst of requests waits in the kernel's queue, not refused

    def __init__(
        self, address: tuple[str, int], model: CharRNN, first_text: str = "", quiet: bool = True
    ):
        super().__init__(address, _Handler)
        self.model = model
        self.first_text = first_text
        self.quiet = quiet
        self.slots = threading.BoundedSemaphore(COMPUTE_SLOTS)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        if isinstance(host, bytes):  # an AF_UNIX-style address; an IP server gives str
            host = host.decode()
        return f"http://{host}:{port}/"

    def answer(self, route: str, body: dict[str, Any]) -> dict[str, Any]:
        """The JSON answer of one API route."""
        m = self.model
        if route == "/api/read":
            return payload(m, _field(body, "text", str, ""))
        if route == "/api/influence":
            text = _field(body, "text", str, "")
            index = _field(body, "index", int, 0, 0)
            return {"influence": influence_row(m, text, index)}
        if route == "/api/sample":
            t0 = time.perf_counter()
            # Text mode: a paragraph, not sample()'s 500 characters, unless asked.
            length = 200 if m.config_.mode == "text" else None
            samples = m.sample(
                n=_field(body, "n", int, 5, 1, MAX_SAMPLES),
                prefix=_field(body, "prefix", str, ""),
                temperature=_field(body, "temperature", float, 1.0, 0.0, 100.0),
                top_k=_field(body, "top_k", int, None, 1, m.vocab_.size),
                max_len=_field(body, "max_len", int, length, 1, 2000),
                random_state=_field(body, "seed", int, None),
            )
            return {"samples": samples, "seconds": time.perf_counter() - t0}
        if route == "/api/complete":
            r = m.complete(
                _field(body, "prefix", str, ""),
                _field(body, "k", int, 10, 1, 100),
                max_len=_field(body, "max_len", int, None, 1, 200),
            )
            return r.to_dict()
        raise KeyError(route)


class _Handler(BaseHTTPRequestHandler):
    server: PageServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(
            status,
            json.dumps(data, ensure_ascii=False).encode("utf-8"),
            "application/json; charset=utf-8",
        )

    def do_GET(self) -> None:
        if self.path in ("/", "/index.html"):
            html = live_page(self.server.first_text).encode("utf-8")
            self._send(200, html, "text/html; charset=utf-8")
        elif self.path == "/favicon.ico":
            self._send(204, b"", "text/plain")
        else:
            self._json(404, {"error": f"no page {self.path}"})

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            # Read what was sent (up to a bound) before answering: a client still
            # writing its body would otherwise see the connection reset, not the answer.
            left = length if 0 < length <= 16 * MAX_BODY else 0
            while left > 0:
                chunk = self.rfile.read(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
            self.close_connection = True
            self._json(413, {"error": f"the request is larger than {MAX_BODY:,} bytes"})
            return
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw.decode("utf-8") or "{}")
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError):
            self._json(400, {"error": "the request is not a JSON object"})
            return
        try:
            with self.server.slots:
                data = self.server.answer(self.path, body)
        except KeyError:
            self._json(404, {"error": f"no route {self.path}"})
        except CharRNNError as exc:
            self._json(400, {"error": str(exc)})
        except Exception as exc:  # a bug: one line for the user and the log, no traceback out
            sys.stderr.write(f"charrnn serve: {self.path}: {type(exc).__name__}: {exc}\n")
            self._json(500, {"error": f"internal error ({type(exc).__name__}); see the server log"})
        else:
            self._json(200, data)


def make_server(
    model: CharRNN,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    first_text: str = "",
    quiet: bool = True,
) -> PageServer:
    """A server for ``model``, bound but not yet serving (``port=0`` picks a free one)."""
    if not 0 <= port <= 65535:
        raise CharRNNError(f"the port must be between 0 and 65535; got {port}")
    try:
        return PageServer((host, port), model, first_text, quiet)
    except OSError as exc:
        raise CharRNNError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def default_text(model: CharRNN) -> str:
    """A first text for the page: a few of the model's own greedy words or a short sample."""
    rng_text = model.sample(
        n=4 if model.config_.mode == "words" else 1, max_len=160, temperature=0.7, random_state=0
    )
    return "\n".join(rng_text) if model.config_.mode == "words" else rng_text[0]
