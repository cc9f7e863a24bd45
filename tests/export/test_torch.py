"""PyTorch: the exported state dict in ``torch.nn.RNN/GRU/LSTM`` and ``Linear`` gives
charrnn's log-probabilities of 1,000 strings to 1e-6 (float64), and trains on.

Skipped without torch (``make test-torch`` installs it).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from charrnn.export.pytorch import torch_model

from .models import CELLS, LAYERS, UNITS, encode, matrix, random_model, random_strings

torch = pytest.importorskip("torch", reason="make test-torch installs torch")

TOLERANCE = 1e-6
COMBOS = [(c, l, u) for c in CELLS for l in LAYERS for u in UNITS]
IDS = [f"{c}-L{l}-{u}" for c, l, u in COMBOS]


def export(cli, model, folder):
    run, out = folder / "m.npz", folder / "m.pt"
    model.save(run)
    code, printed, err = cli("export", run, "--to", "torch", out)
    assert code == 0, err
    assert printed.split() == [str(out)]
    return out


def torch_logprobs(module, seqs: list[list[int]], boundary: int) -> np.ndarray:
    """(T-1, B): log p of each symbol after the first, by the torch module; 0 past the end."""
    T = max(map(len, seqs))
    tokens = torch.full((T, len(seqs)), boundary, dtype=torch.int64)
    for b, s in enumerate(seqs):
        tokens[: len(s), b] = torch.tensor(s)
    lengths = torch.tensor([len(s) for s in seqs])
    with torch.no_grad():
        logits, _ = module(tokens[:-1])  # (T-1, B, V)
        logp = torch.log_softmax(logits, dim=-1).gather(2, tokens[1:, :, None])[..., 0]
    counted = torch.arange(T - 1)[:, None] < (lengths - 1)[None, :]
    return torch.where(counted, logp, 0.0).numpy()


@pytest.mark.parametrize(("cell", "layers", "units"), matrix(COMBOS, IDS))
@pytest.mark.parametrize("mode", ["words", "text"])
def test_torch_gives_charrnn_scores_in_float64(cli, tmp_path, cell, layers, units, mode):
    model = random_model(cell, layers, units, mode, dtype="float64")
    path = export(cli, model, tmp_path)
    saved = torch.load(path, weights_only=True)  # tensors and a string: nothing unpickled
    assert set(saved) == {"state_dict", "metadata"} and isinstance(saved["metadata"], str)
    module, meta = torch_model(path)
    assert meta == json.loads(saved["metadata"]) and meta["vocab"] == model.vocab_.itos
    assert module.head.weight.dtype == torch.float64
    texts = random_strings(model)
    scores = model.score_details(texts)
    end = "\n" if mode == "words" else ""
    seqs = [encode(meta, "\n" + t + end) for t in texts]
    ours = torch_logprobs(module, seqs, meta["boundary_id"])
    theirs = np.zeros_like(ours)
    for b, s in enumerate(scores):
        theirs[: len(s.char_nll), b] = -np.array(s.char_nll)
    assert np.abs(ours - theirs).max() < TOLERANCE
    assert np.abs(ours.sum(axis=0) - [s.logprob for s in scores]).max() < TOLERANCE


def test_a_float32_model_loads_as_float64_on_request(cli, tmp_path):
    model = random_model("lstm", 2, "char", "words")
    module, _ = torch_model(export(cli, model, tmp_path), dtype=torch.float64)
    assert module.rnn.weight_hh_l1.dtype == torch.float64
    assert np.array_equal(module.rnn.weight_hh_l1.detach().numpy(), model.params_["Whifgo2"])


def test_training_continues_in_pytorch(cli, tmp_path):
    """A few Adam steps on words lower their loss: the module trains like any other."""
    model = random_model("gru", 2, "char", "words")
    module, meta = torch_model(export(cli, model, tmp_path))
    words = ["anna", "emma", "olivia", "ava", "mia"]
    seqs = [encode(meta, "\n" + w + "\n") for w in words]

    def loss() -> torch.Tensor:
        return -torch.tensor(0.0) - sum(
            torch.log_softmax(module(torch.tensor(s[:-1])[:, None])[0][:, 0], -1)
            .gather(1, torch.tensor(s[1:])[:, None])
            .sum()
            for s in seqs
        )

    before = loss().item()
    assert before == pytest.approx(-sum(s.logprob for s in model.score_details(words)), rel=1e-5)
    opt = torch.optim.Adam(module.parameters(), lr=1e-2)
    for _ in range(20):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert loss().item() < 0.8 * before
