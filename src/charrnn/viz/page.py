"""The learner's page: the views of :mod:`charrnn.generation.views` as JSON, and the HTML
around them.

One page (``web/page.html``: plain HTML, CSS and JavaScript, no network, no
libraries) serves both faces: ``charrnn serve`` fills it from the server's
JSON answers as the user types; ``charrnn viz`` embeds one text's answer in
the file, so it works from a file URL.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from importlib import resources
from typing import Any

import numpy as np

from ..generation.views import influence, properties_for, reach, read, tracking_units

WINDOW = 64  # earlier inputs shown for each prediction's influence
REACH_WINDOW = 64  # steps back the reach view differentiates
STATIC_REACH = 300  # the export precomputes every character's reach up to this many
TOP = 5  # next characters kept per character


def describe(model: Any) -> str:
    """One line about the model, for the page's header."""
    cfg = model.config_
    cell = cfg.cell
    return (
        f"{cfg.mode}-mode model: {cfg.layers} layer(s) of {cfg.hidden} {cell} units, "
        f"{model.vocab_.size} characters"
    )


def payload(model: Any, text: str, *, with_influence: bool = False) -> dict[str, Any]:
    """Everything the page draws for ``text``, as JSON-ready data.

    Activations travel as base64 int8 (the value times 127: every cell's
    output lies in [-1, 1]); the influence rows, when asked for, as base64
    uint8 scaled to each row's largest value (255 marks no input), which travels beside
    them (``scale``) so that the page can also shade on an absolute scale.
    """
    t0 = time.perf_counter()
    mode, cell = model.config_.mode, model.config_.cell  # the cell by its recorded name
    r = read(model.params_, model.vocab_, text, mode=mode, top=TOP, cell=cell)
    itos = model.vocab_.itos
    props = properties_for(model.vocab_, mode)  # only what can vary for this model
    data: dict[str, Any] = {
        "model": describe(model),
        "mode": mode,
        "layers": model.config_.layers,  # from the model: an empty text has no activations
        "hidden": int(model.params_["Why"].shape[1]),
        "tokens": list(r.text),
        "probs": [float(p) for p in r.probs],
        "top": [
            [[itos[int(i)], round(float(p), 4)] for i, p in zip(ids, ps, strict=True)]
            for ids, ps in zip(r.top_ids, r.top_probs, strict=True)
        ],
        "acts": [_b64(np.round(np.clip(a, -1, 1) * 127).astype(np.int8)) for a in r.activations],
        "tracking": {p: rows for p, rows in tracking_units(r).items() if p in props},
        # Jamo units: the tokens that start a syllable (the long-text strip composes them).
        "starts": (
            np.flatnonzero(model.vocab_.char_starts(r.ids)).tolist()
            if model.vocab_.units.kind == "jamo"
            else None
        ),
        "properties": props,
        "window": WINDOW,
        "influence": None,
    }
    if with_influence and len(r.text):
        m = influence(model.params_, model.vocab_, text, mode=mode, window=WINDOW, cell=cell)
        top = np.nanmax(np.where(np.isnan(m), -np.inf, m), axis=1, keepdims=True)
        scaled = np.round(254 * m / np.maximum(top, 1e-30))
        rows = np.where(np.isnan(m), 255, scaled).astype(np.uint8)
        scale = [float(v) if np.isfinite(v) else 0.0 for v in top[:, 0]]  # each row's largest
        data["influence"] = {"window": WINDOW, "rows": _b64(rows), "scale": scale}
        if len(r.text) <= STATIC_REACH:  # the export has no server to ask: precomputed
            data["reach"] = [reach_rows(model, text, i) for i in range(len(r.text))]
    data["seconds"] = time.perf_counter() - t0
    return data


def reach_rows(model: Any, text: str, index: int) -> list[list[float | None]]:
    """The reach view of token ``index``: per layer, ``||d log p / d h||`` j = 0, 1, ... steps
    back (None: before the text or the word); see :func:`charrnn.generation.views.reach`."""
    cfg = model.config_
    r = reach(
        model.params_, model.vocab_, text, index, mode=cfg.mode, window=REACH_WINDOW, cell=cfg.cell
    )
    return [[None if np.isnan(v) else float(v) for v in row] for row in r]


def influence_row(model: Any, text: str, index: int) -> list[float | None]:
    """The influence of the inputs before token ``index`` on its prediction (None: no input)."""
    cfg = model.config_
    row = influence(
        model.params_,
        model.vocab_,
        text,
        mode=cfg.mode,
        window=WINDOW,
        tokens=[index],
        cell=cfg.cell,
    )[0]
    return [None if np.isnan(v) else float(v) for v in row]


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def asset(name: str) -> str:
    """One file of ``web/`` (``page.html``, ``page.js``, ``page.css``) as text."""
    return resources.files("charrnn.viz").joinpath(f"web/{name}").read_text(encoding="utf-8")


# The live page's policy: nothing inline, nothing from elsewhere. Its script and style are
# files the server serves itself (/page.js, /page.css), so an injected <script> or style
# attribute could not run even if some text ever reached the markup unescaped.
LIVE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _script_json(data: Any) -> str:
    # Inside <script>, "</script" would end the element early and "<!--" can make the parser
    # swallow the real end tag: no "<" at all, as JSON's own escape (parsed back unchanged).
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


def live_page(first_text: str = "", models: list[dict[str, Any]] | None = None) -> str:
    """The page ``charrnn serve`` sends: it asks the server for every view.

    Its script and style are links to ``/page.js`` and ``/page.css``; the first
    text and the list of models (name, one line, whether its run can be watched)
    travel in JSON data blocks (not code, so the policy's ``script-src 'self'``
    does not apply to them).
    """
    return (
        asset("page.html")
        .replace("<!--CSP-->", "")  # the server sends the policy as a header
        .replace("<!--STYLE-->", '<link rel="stylesheet" href="/page.css">')
        .replace("<!--SCRIPT-->", '<script src="/page.js"></script>')
        # The models first: the first text is the user's and may hold the other marker.
        .replace("/*MODELS*/[]", _script_json(models or []))
        .replace('/*FIRST*/""', _script_json(first_text))
    )


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def static_page(data: dict[str, Any]) -> str:
    """A self-contained page for one text (no server, no network).

    One file must work from a file URL, so its script and style are inline;
    a ``<meta>`` policy allows exactly those two blocks (by their SHA-256)
    and no network at all, so the export cannot load or send anything even
    when opened from a web server.
    """
    js = "\n" + asset("page.js").replace("/*STATIC*/false", "true")
    css = "\n" + asset("page.css")
    csp = (
        f"default-src 'none'; script-src {_sha256(js)}; style-src {_sha256(css)}; "
        "base-uri 'none'; form-action 'none'"
    )
    return (
        asset("page.html")
        .replace("<!--CSP-->", f'<meta http-equiv="Content-Security-Policy" content="{csp}">')
        .replace("<!--STYLE-->", f"<style>{css}</style>")
        .replace("<!--SCRIPT-->", f"<script>{js}</script>")
        .replace("/*DATA*/null", _script_json(data))
    )
