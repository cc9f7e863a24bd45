"""A model in a notebook: its card, its page inline, a progress bar and a live loss curve,
and the example notebook executed end to end."""

from __future__ import annotations

import html
import re

import pytest

from charrnn import CharRNN
from charrnn.common.errors import CharRNNError
from charrnn.viz.notebook import LiveLoss, PageView, explain
from charrnn.viz.page import payload, static_page
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def model():
    words = ["anna", "bob", "carla", "dave", "emma", "frank", "gina", "hank"] * 4
    return CharRNN(hidden=12, steps=40, log_every=20, val_fraction=0.25, random_state=0).fit(words)


def test_the_card_shows_settings_size_loss_and_samples(model):
    """Catches a card that shows the defaults instead of the model, or no held-out loss."""
    card = model._repr_html_()
    n = sum(v.size for v in model.params_.values())
    assert "words-mode RNN, 1 x 12" in card and f"{n:,}" in card
    assert f"{model.run_.best_val:.4f} nats/char" in card
    for s in model.sample(3, random_state=0):
        assert html.escape(repr(s)) in card
    unfitted = CharRNN(hidden=7)._repr_html_()
    assert "1 x 7" in unfitted and "not trained yet" in unfitted


def test_the_card_escapes_what_it_shows():
    m = CharRNN(hidden=6, steps=5, val_fraction=0, random_state=0).fit(["<b>", "a&b"])
    card = m._repr_html_()
    # The only tags are the card's own: every < of a sample arrives escaped.
    assert re.findall(r"<(/?\w+)", card) and not [
        t
        for t in re.findall(r"<(/?\w+)", card)
        if t.strip("/") not in ("table", "caption", "tr", "th", "td")
    ]
    assert "&lt;" in card


def _without_timing(page):
    return re.sub(r'"seconds": [-+\d.e]+', '"seconds": 0', page)


def test_explain_is_the_viz_page_in_a_frame(model):
    """Catches an inline page that differs from `charrnn viz`'s, or breaks out of its frame."""
    view = model.explain("emma")
    assert isinstance(view, PageView)
    page = static_page(payload(model, "emma", with_influence=True))
    assert _without_timing(view.html) == _without_timing(page)
    frame = view._repr_html_()
    assert frame.startswith("<iframe srcdoc=") and 'sandbox="allow-scripts"' in frame
    # The page travels escaped inside one attribute: no raw quote or tag of it is left.
    inner = re.match(r'<iframe srcdoc="([^"]*)"', frame).group(1)
    assert html.unescape(inner) == view.html


def test_explain_refuses_unknown_characters_and_unfitted_models(model, tmp_path):
    with pytest.raises(CharRNNError, match="not trained"):
        explain(CharRNN(), "x")
    with pytest.raises(CharRNNError):
        model.explain("emma!")
    skipped = model.explain("emma!", unknown="skip").html
    assert _without_timing(skipped) == _without_timing(model.explain("emma").html)
    model.explain("bob").save(tmp_path / "p.html")
    assert (tmp_path / "p.html").read_text(encoding="utf-8").startswith("<!")


def test_live_loss_keeps_the_curve_outside_a_notebook():
    live = LiveLoss()
    m = CharRNN(hidden=8, steps=30, log_every=10, val_fraction=0.25, random_state=0)
    m.fit(["anna", "bob", "carla", "dave"] * 3, on_event=live)
    assert [p[0] for p in live.points] == [10, 20, 30]
    assert [p[1] for p in live.points] == [e.train_loss for e in m.history_]


def test_fit_shows_a_progress_bar_of_its_steps(capsys):
    pytest.importorskip("tqdm")
    CharRNN(hidden=8, steps=25, val_fraction=0, random_state=0).fit(["ab", "ba"], progress=True)
    err = capsys.readouterr().err
    assert "25/25" in err


@pytest.mark.long
def test_the_example_notebook_runs_and_shows_the_vector_result():
    """Catches a notebook that no longer runs, or whose tutorial cell no longer shows full
    BPTT writing `vector` where the naive rule falls into `ectoaxg`."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(ROOT / "examples" / "tutorial.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3").execute(
        cwd=str(ROOT / "examples")
    )
    code = [c for c in nb.cells if c.cell_type == "code"]
    printed = "".join(o.get("text", "") for o in code[0].outputs)
    assert "full BPTT: v -> vector" in printed and "naive 1-hop: v -> vectoaxg" in printed
    kinds = [set(o.get("data", {})) for c in code for o in c.outputs]
    assert sum("image/png" in k for k in kinds) >= 1  # the live loss curve
    pages = [
        o["data"]["text/html"] for c in code for o in c.outputs if "text/html" in o.get("data", {})
    ]
    assert sum(p.startswith("<iframe srcdoc=") for p in pages) == 2  # both pages
    assert any("held-out loss" in p for p in pages)  # the names model's card
