"""The learner's page and live training curves inside a Jupyter notebook.

:func:`explain` renders the page's views of one text inline, as the same
self-contained HTML that ``charrnn viz`` writes (no server, no network), in an
``<iframe srcdoc>``, so the page's own script and style run under its own
content policy and cannot clash with the notebook's. :class:`LiveLoss` is a
``fit(on_event=...)`` callback that redraws the loss curves in place while a
model trains.
"""

from __future__ import annotations

import html
import io
import math
import os
from typing import Any

from ..common.errors import CharRNNError
from ..common.files import write_atomic
from ..common.optional import optional, pyplot
from ..training.trainer import LogEvent
from .page import payload, static_page


class PageView:
    """The learner's page for one text: shown inline by Jupyter, or saved as a file.

    Attributes
    ----------
    html : str
        The whole self-contained page (what ``charrnn viz`` writes).
    height : int
        Pixels of the inline frame.
    """

    def __init__(self, page: str, height: int = 720):
        self.html = page
        self.height = height

    def _repr_html_(self) -> str:
        # srcdoc takes the page as an attribute value: escaped quotes and ampersands
        # come back unchanged when the browser parses it.
        return (
            f'<iframe srcdoc="{html.escape(self.html, quote=True)}" '
            f'style="width:100%;height:{self.height}px;border:1px solid #ccc" '
            'sandbox="allow-scripts"></iframe>'
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the page to ``path`` (atomically), as ``charrnn viz --out`` does."""
        write_atomic(os.fspath(path), self.html)


def explain(model: Any, text: str, *, unknown: str = "error", height: int = 720) -> PageView:
    """The page's views of ``text`` under ``model`` (a fitted :class:`charrnn.CharRNN`).

    Parameters
    ----------
    model : CharRNN
    text : str
        What to read: probabilities, activations, reach and influence per character.
    unknown : {"error", "skip"}
        What to do with characters the model never saw (see ``Vocab.clean``).
    height : int
        Pixels of the inline frame.

    Raises
    ------
    CharRNNError
        If the model is not fitted, or ``text`` holds characters it cannot read
        (with ``unknown="error"``).
    """
    if not hasattr(model, "params_"):
        raise CharRNNError("this model is not trained yet: call fit() or CharRNN.load()")
    clean = model.vocab_.clean(text, unknown)
    return PageView(static_page(payload(model, clean, with_influence=True)), height)


class LiveLoss:
    """A ``fit(on_event=LiveLoss())`` callback: the loss curves, redrawn in place as it trains.

    In a notebook the figure updates in its output cell at every log event;
    elsewhere it draws nothing, and :attr:`points` still keeps the curve.

    Attributes
    ----------
    points : list of (step, train_loss, val_loss or nan)
    """

    def __init__(self, title: str = "") -> None:
        self.title = title
        self.points: list[tuple[int, float, float]] = []
        self._handle: Any = None
        self._fig: Any = None
        self._display = _notebook_display()

    def __call__(self, event: LogEvent) -> bool:
        val = event.val_loss if event.val_loss is not None else math.nan
        self.points.append((event.step, event.train_loss, val))
        if self._display is not None:
            self._draw()
        return False  # never asks the run to stop

    def _draw(self) -> None:
        plt = pyplot(what="LiveLoss", extra="plot")
        if self._fig is None:
            self._fig, self._ax = plt.subplots(figsize=(6, 3.2))
            plt.close(self._fig)  # shown through the display handle only
        ax = self._ax
        ax.clear()
        steps = [p[0] for p in self.points]
        ax.plot(steps, [p[1] for p in self.points], label="train", color="tab:blue")
        vals = [(s, p[2]) for s, p in zip(steps, self.points, strict=True) if p[2] == p[2]]
        if vals:
            ax.plot(*zip(*vals, strict=True), label="validation", color="tab:orange")
        ax.set_xlabel("step")
        ax.set_ylabel("loss (nats/char)")
        ax.set_title(self.title)
        ax.grid(alpha=0.3)
        ax.legend()
        # A PNG, not the figure itself: the figure's own rich display needs the inline
        # backend, and charrnn draws with Agg.
        buffer = io.BytesIO()
        self._fig.savefig(buffer, format="png", dpi=90)
        from IPython.display import Image

        image = Image(data=buffer.getvalue(), format="png")  # type: ignore[no-untyped-call]
        if self._handle is None:
            self._handle = self._display(image, display_id=True)
        else:
            self._handle.update(image)


def _notebook_display() -> Any:
    """IPython's ``display`` when running in a notebook kernel, else ``None``."""
    ipython = optional("IPython")
    if ipython is None:
        return None
    shell = ipython.get_ipython()
    if shell is None or "Terminal" in type(shell).__name__:
        return None
    from IPython.display import display

    return display
