"""Damaged checkpoints: every mutation of a real file loads a usable model or is refused cleanly.

Mutation ``i`` draws everything from ``np.random.default_rng([SEED, i])``, so a
failure's report (seed ``i``, its base file and its kind) is enough to replay it.
Two bases: a words model saved by ``CharRNN.save``, and a text-mode run with a
moving average whose checkpoint holds every kind of entry.
"""

from __future__ import annotations

import io
import json
import math
import zipfile

import numpy as np
import pytest

from charrnn import CharRNN
from charrnn.common.errors import CharRNNError
from charrnn.core.config import Config
from charrnn.core.vocab import Vocab
from charrnn.training import checkpoint
from charrnn.training.trainer import Trainer

pytestmark = [pytest.mark.slow, pytest.mark.long]  # 10,000 loads: about 16 s

SEED = 20_24
N_FILE = 6_000  # mutations of the file's bytes
N_META = 4_000  # mutations of the JSON metadata inside a sound archive
FILE_KINDS = ("flip", "truncate", "zero", "insert", "shuffle")
META_KINDS = ("flip", "truncate", "zero", "insert", "shuffle", "value", "drop")
# Values a damaged or hand-edited field might hold.
ODD_VALUES = [
    None,
    True,
    False,
    0,
    -1,
    1,
    3,
    2**70,
    -(2**70),
    0.5,
    -0.5,
    1e308,
    "",
    "x",
    "a",
    "\n",
    [],
    ["\n"],
    ["\n", "a"],
    {},
    {"t": 0},
    [1, 2],
]


def _words_checkpoint(path):
    CharRNN(hidden=4, steps=2, val_fraction=0).fit(["ab", "abc"]).save(path)


def _text_ema_checkpoint(path):
    """A text-mode run with a moving average: it has train/, optim/ and state/h entries."""
    text = "abc ab cab\nbca " * 4
    config = Config(
        mode="text", hidden=4, seq_len=3, batch_size=2, steps=3, ema=0.9, val_fraction=0
    )
    trainer = Trainer(config, Vocab(text), text)
    trainer.run()
    run = checkpoint.RunState(data="@names", data_fingerprint="f00d", best_val=1.5, bad_evals=1)
    checkpoint.save(path, trainer.to_checkpoint(run))


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bases")
    out = {}
    for name, make in (("words", _words_checkpoint), ("text-ema", _text_ema_checkpoint)):
        path = folder / f"{name}.npz"
        make(path)
        with np.load(path, allow_pickle=False) as z:
            entries = {k: _npy(z[k]) for k in z.files}
        out[name] = (path.read_bytes(), entries)
    assert {"train/Wxh", "optim/m/all", "state/h"} <= set(out["text-ema"][1])
    return out


def _mutate_bytes(raw: bytes, kind: str, rng: np.random.Generator) -> bytes:
    b = bytearray(raw)
    n = len(b)
    if kind == "flip":
        for _ in range(rng.integers(1, 9)):
            b[rng.integers(n)] ^= 1 << int(rng.integers(8))
    elif kind == "truncate":
        del b[rng.integers(n) :]
    elif kind == "zero":
        i = int(rng.integers(n))
        j = min(n, i + int(rng.integers(1, 65)))
        b[i:j] = bytes(j - i)
    elif kind == "insert":
        i = int(rng.integers(n + 1))
        b[i:i] = rng.integers(0, 256, int(rng.integers(1, 17)), dtype=np.uint8).tobytes()
    elif kind == "shuffle":
        i = int(rng.integers(n))
        j = min(n, i + int(rng.integers(2, 65)))
        b[i:j] = bytes(rng.permutation(np.frombuffer(bytes(b[i:j]), np.uint8)))
    return bytes(b)


def _mutate_json(meta: dict, rng: np.random.Generator, drop: bool) -> dict:
    """Replace (or drop) one value somewhere in the metadata tree."""
    meta = json.loads(json.dumps(meta))
    node, key = meta, None
    # Walk down a random path; stop at a random depth.
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        key = keys[int(rng.integers(len(keys)))]
        child = node[key]
        if not isinstance(child, dict | list) or not child or rng.random() < 0.3:
            break
        node = child
    if key is None:
        return meta
    if drop:
        del node[key]
    else:
        node[key] = ODD_VALUES[int(rng.integers(len(ODD_VALUES)))]
    return meta


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, a, allow_pickle=False)
    return buf.getvalue()


def _meta_mutant(entries: dict[str, bytes], kind: str, rng: np.random.Generator) -> bytes:
    """The archive rebuilt with mutated metadata and every other entry intact.

    ``entries`` holds each entry's ``.npy`` bytes, made once: writing them into
    a fresh zip costs a fraction of ``np.savez``, which keeps this test quick.
    """
    raw = np.load(io.BytesIO(entries["meta"]), allow_pickle=False).tobytes()
    if kind in ("value", "drop"):
        meta = _mutate_json(json.loads(raw), rng, drop=kind == "drop")
        raw = json.dumps(meta, ensure_ascii=False).encode()
    else:
        raw = _mutate_bytes(raw, kind, rng)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for key, data in {**entries, "meta": _npy(np.frombuffer(raw, np.uint8))}.items():
            z.writestr(f"{key}.npy", data)
    return buf.getvalue()


def _outcome(path) -> str:
    """'loaded' or 'refused'; anything else (another exception, a bad sample) escapes."""
    try:
        ckpt = checkpoint.load(path)
    except CharRNNError as exc:
        assert str(exc).strip(), "empty message"
        return "refused"
    out = CharRNN.from_checkpoint(ckpt).sample(n=2, max_len=5)
    assert len(out) == 2 and all(isinstance(s, str) for s in out), out
    return "loaded"


def _run(bases, tmp_path, n, kinds, make):
    path = tmp_path / "mutant.npz"
    names = sorted(bases)
    counts = {"loaded": 0, "refused": 0}
    failures = []
    for seed in range(n):
        rng = np.random.default_rng([SEED, seed])
        name = names[seed % len(names)]
        kind = kinds[int(rng.integers(len(kinds)))]
        path.write_bytes(make(bases[name], kind, rng))
        try:
            counts[_outcome(path)] += 1
        except Exception as exc:
            failures.append(f"seed {seed} ({name}, {kind}): {exc.__class__.__name__}: {exc}")
    assert not failures, f"{len(failures)} of {n} mutations failed:\n" + "\n".join(failures[:20])
    return counts


def test_mutated_files_load_or_are_refused(bases, tmp_path):
    counts = _run(bases, tmp_path, N_FILE, FILE_KINDS, lambda b, k, r: _mutate_bytes(b[0], k, r))
    # Most damage is refused; the test would prove nothing if none were.
    assert counts["refused"] > N_FILE // 2, counts


def test_mutated_metadata_loads_or_is_refused(bases, tmp_path):
    counts = _run(bases, tmp_path, N_META, META_KINDS, lambda b, k, r: _meta_mutant(b[1], k, r))
    # Some edits leave a usable model (another learning rate, say): both paths run.
    assert counts["loaded"] > 0 and counts["refused"] > N_META // 2, counts


def test_every_base_loads_and_samples(bases, tmp_path):
    for name, (raw, _) in bases.items():
        (tmp_path / f"{name}.npz").write_bytes(raw)
        assert _outcome(tmp_path / f"{name}.npz") == "loaded", name
    run = checkpoint.load(tmp_path / "text-ema.npz").run
    assert run.data == "@names" and math.isclose(run.best_val, 1.5) and run.bad_evals == 1
