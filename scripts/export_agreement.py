"""How closely exported models agree with charrnn, and how large their files are.

    python scripts/export_agreement.py            # about three minutes on 2 cores

For every cell and layer count (1-3), in char units (a names model on ``@names``) and
jamo units (a Korean words model on ``@ko-words``): train a small model for a few
hundred steps, export it, and over 1,000 of the corpus's words print the largest
|Δ log p| against ``CharRNN.score_details`` (what ``charrnn score`` prints):

- ONNX Runtime, float32: the step graph per symbol, and the word scorer per word,
  against the float32 model;
- PyTorch, float64: the ``--to torch`` file of the model's float64 copy in
  ``torch.nn``, per symbol, against the float64 copy (a dash without torch);
- and, for scale, charrnn's own float32 against its float64 copy, per word: the
  rounding any float32 runtime starts from.

Then the size of each exported file for a model of the default size (``--hidden 128``,
one layer) on ``@names``, for each cell. Needs ``charrnn[export]``; torch is optional.
"""

from __future__ import annotations

import os
import sys
import tempfile
import unicodedata

import numpy as np

from charrnn import CharRNN
from charrnn.data.files import load_corpus
from charrnn.export import export_model
from charrnn.training.checkpoint import Checkpoint

try:
    import onnxruntime as ort
except ImportError:
    sys.exit("needs onnxruntime: pip install 'charrnn[export]'")
try:
    import torch
except ImportError:
    torch = None

CORPORA = {"char": "@names", "jamo": "@ko-words"}


def encode(vocab: list[str], units: str, text: str) -> list[int]:
    """Ids from the exported vocabulary alone, as an app reads text."""
    text = unicodedata.normalize("NFC", text)
    if units == "jamo":
        text = "".join(
            unicodedata.normalize("NFD", c) if 0xAC00 <= ord(c) <= 0xD7A3 else c for c in text
        )
    stoi = {c: i for i, c in enumerate(vocab)}
    return [stoi[c] for c in text]


def padded(seqs: list[list[int]], fill: int) -> np.ndarray:
    out = np.full((max(map(len, seqs)), len(seqs)), fill, dtype=np.int64)  # (T, B)
    for b, s in enumerate(seqs):
        out[: len(s), b] = s
    return out


def charrnn_table(scores, T: int) -> np.ndarray:
    out = np.zeros((T - 1, len(scores)))  # (T-1, B)
    for b, s in enumerate(scores):
        out[: len(s.char_nll), b] = -np.array(s.char_nll)
    return out


def onnx_deltas(model: CharRNN, words: list[str], folder: str) -> tuple[float, float]:
    """Largest |Δ log p| of ONNX Runtime's step graph (per symbol) and scorer (per word)."""
    path = os.path.join(folder, "m.onnx")
    export_model(model, path, "onnx")
    vocab, units = model.vocab_.itos, model.vocab_.units.kind
    seqs = [encode(vocab, units, "\n" + w + "\n") for w in words]
    tokens, lengths = padded(seqs, model.vocab_.boundary_id), np.array([len(s) for s in seqs])
    scores = model.score_details(words)
    theirs = charrnn_table(scores, len(tokens))
    step = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    L, S = model.config_.layers, step.get_inputs()[1].shape[2]
    state = np.zeros((L, len(words), S), dtype=np.float32)
    ours = np.zeros_like(theirs)
    for t in range(len(tokens) - 1):
        logp, state = step.run(None, {"token": tokens[t], "state": state})
        ours[t] = np.where(t < lengths - 1, logp[np.arange(len(words)), tokens[t + 1]], 0)
    scorer = ort.InferenceSession(path.replace(".onnx", ".scorer.onnx"))
    [logprob] = scorer.run(["logprob"], {"tokens": tokens, "lengths": lengths})
    per_word = np.abs(logprob - [s.logprob for s in scores]).max()
    return float(np.abs(ours - theirs).max()), float(per_word)


def float64_copy(model: CharRNN) -> CharRNN:
    cfg = model.config_.replace(dtype="float64")
    params = {k: v.astype(np.float64) for k, v in model.params_.items()}
    return CharRNN.from_checkpoint(Checkpoint(cfg, model.vocab_, params))


def torch_delta(model64: CharRNN, words: list[str], folder: str) -> float | None:
    """Largest |Δ log p| per symbol of the float64 model in torch.nn, or None without torch."""
    if torch is None:
        return None
    from charrnn.export.pytorch import torch_model

    path = os.path.join(folder, "m.pt")
    export_model(model64, path, "torch")
    module, meta = torch_model(path)
    seqs = [encode(meta["vocab"], meta["units"]["kind"], "\n" + w + "\n") for w in words]
    tokens = torch.from_numpy(padded(seqs, meta["boundary_id"]))
    lengths = torch.tensor([len(s) for s in seqs])
    with torch.no_grad():
        logits, _ = module(tokens[:-1])
        logp = torch.log_softmax(logits, -1).gather(2, tokens[1:, :, None])[..., 0]
    counted = torch.arange(len(tokens) - 1)[:, None] < (lengths - 1)[None, :]
    ours = torch.where(counted, logp, 0.0).numpy()
    theirs = charrnn_table(model64.score_details(words), len(tokens))
    return float(np.abs(ours - theirs).max())


def agreement() -> None:
    print(
        "cell  layers  units  words  ONNX per symbol  ONNX per word  torch f64 per symbol"
        "  charrnn f32-f64 per word"
    )
    for units, corpus in CORPORA.items():
        words = load_corpus(corpus, "words")
        test = [w for w in np.random.default_rng(0).permutation(words)[:1000]]
        for cell in ("rnn", "gru", "lstm"):
            for layers in (1, 2, 3):
                model = CharRNN(
                    cell=cell,
                    layers=layers,
                    units=units,
                    hidden=64,
                    steps=300,
                    lr=0.01,
                    random_state=0,
                ).fit(corpus)
                model64 = float64_copy(model)
                with tempfile.TemporaryDirectory() as folder:
                    step, word = onnx_deltas(model, test, folder)
                    t = torch_delta(model64, test, folder)
                own = np.abs(model.score_samples(test) - model64.score_samples(test)).max()
                shown = "-" if t is None else f"{t:.1e}"
                print(
                    f"{cell:5} {layers:6}  {units:5} {len(test):5}  {step:15.1e}  {word:13.1e}"
                    f"  {shown:>20}  {own:24.1e}"
                )


def sizes() -> None:
    print("\nfiles of a default-size model (hidden 128, 1 layer) on @names, bytes")
    formats = [("onnx", "m.onnx"), ("torch", "m.pt"), ("safetensors", "m.safetensors")]
    print("cell  checkpoint .npz  .onnx (step)  .scorer.onnx  .pt  .safetensors")
    for cell in ("rnn", "gru", "lstm"):
        model = CharRNN(cell=cell, steps=1, random_state=0).fit("@names")
        with tempfile.TemporaryDirectory() as folder:
            model.save(os.path.join(folder, "m.npz"))
            got = {"npz": os.path.getsize(os.path.join(folder, "m.npz"))}
            for to, name in formats:
                if to == "torch" and torch is None:
                    continue
                for path in export_model(model, os.path.join(folder, name), to):
                    got[os.path.basename(path)] = os.path.getsize(path)
        row = [got.get(k, "-") for k in ("npz", "m.onnx", "m.scorer.onnx", "m.pt")]
        print(f"{cell:5} " + "  ".join(f"{v:>12}" for v in row) + f"  {got['m.safetensors']:>12}")


if __name__ == "__main__":
    agreement()
    sizes()
