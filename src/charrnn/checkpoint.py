"""Checkpoints: one ``.npz`` (never pickled) with parameters, vocabulary, config,
optimiser state, position in the data and RNG state, written atomically.

Layout inside the archive::

    meta            uint8 bytes of a UTF-8 JSON object (format, version, config,
                    vocab, step, epoch, batch_pos, optimizer, extra)
    param/<name>    model parameters
    optim/<slot>/<name>  optimiser state arrays
    train/<name>    the raw training parameters, when ``param/`` holds their
                    moving average (``Config.ema``)
    state/h         carried hidden state (text mode), when there is one
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import Config
from .errors import CharRNNError
from .model import param_shapes
from .vocab import Vocab

FORMAT = "charrnn-checkpoint"
VERSION = 1


@dataclass
class Checkpoint:
    """Everything needed to use a model, or to continue training it exactly."""

    config: Config
    vocab: Vocab
    params: dict[str, np.ndarray]
    step: int = 0
    epoch: int = 0
    batch_pos: int = 0
    optimizer_t: int = 0
    optimizer_state: dict[str, np.ndarray] = field(default_factory=dict)
    h: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # best val loss, run notes
    # With Config.ema, `params` is the averaged model and these are the raw
    # parameters training continues from; None otherwise.
    train_params: dict[str, np.ndarray] | None = None


def save(path: str | os.PathLike[str], ckpt: Checkpoint) -> None:
    """Write ``ckpt`` to ``path`` atomically: a temp file in the same folder, then rename.

    A crash or a full disk mid-write leaves the previous file at ``path`` intact.
    """
    path = os.fspath(path)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "config": ckpt.config.to_dict(),
        "vocab": ckpt.vocab.itos,
        "step": ckpt.step,
        "epoch": ckpt.epoch,
        "batch_pos": ckpt.batch_pos,
        "optimizer": {"name": ckpt.config.optimizer, "t": ckpt.optimizer_t},
        "extra": ckpt.extra,
    }
    arrays: dict[str, np.ndarray] = {
        "meta": np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), dtype=np.uint8)
    }
    for k, v in ckpt.params.items():
        arrays[f"param/{k}"] = np.asarray(v)
    for k, v in ckpt.optimizer_state.items():
        arrays[f"optim/{k}"] = np.asarray(v)
    if ckpt.h is not None:
        arrays["state/h"] = np.asarray(ckpt.h)
    for k, v in (ckpt.train_params or {}).items():
        arrays[f"train/{k}"] = np.asarray(v)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint written by :func:`save`, refusing anything pickled.

    Raises
    ------
    CharRNNError
        If the file is missing, truncated, corrupted, carries a pickled object,
        or is of another format version.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CharRNNError(f"no checkpoint at {path}; train a model first (charrnn train)")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise CharRNNError(
                f"{path} holds a pickled object; charrnn never loads pickles. "
                "Use a checkpoint written by charrnn."
            ) from None
        raise CharRNNError(f"{path} is not a readable checkpoint ({exc})") from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as exc:
        raise CharRNNError(
            f"{path} is truncated or corrupted ({exc.__class__.__name__}); "
            "use another checkpoint (best.npz / latest.npz) or retrain"
        ) from None
    if "meta" not in arrays or arrays["meta"].dtype != np.uint8:
        raise CharRNNError(f"{path} is not a charrnn checkpoint (no metadata)")
    try:
        meta = json.loads(arrays["meta"].tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CharRNNError(f"{path} has corrupted metadata ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CharRNNError(f"{path} is not a charrnn checkpoint")
    if meta.get("version") != VERSION:
        raise CharRNNError(
            f"{path} is checkpoint format version {meta.get('version')}, this charrnn reads "
            f"version {VERSION}; use the charrnn version that wrote it"
        )
    try:
        config = Config.from_dict(meta["config"])
        vocab = Vocab.from_json(json.dumps(meta["vocab"]))
        shapes = param_shapes(vocab.size, config.hidden, config.layers)
        params = {k: arrays[f"param/{k}"] for k in shapes}
    except KeyError as exc:
        raise CharRNNError(f"{path} is missing {exc}; the checkpoint is incomplete") from None
    train_params = None
    if any(k.startswith("train/") for k in arrays):
        try:
            train_params = {k: arrays[f"train/{k}"] for k in shapes}
        except KeyError as exc:
            raise CharRNNError(f"{path} is missing {exc}; the checkpoint is incomplete") from None
    for group in [params] if train_params is None else [params, train_params]:
        for k, shape in shapes.items():
            if group[k].shape != shape or group[k].dtype != np.dtype(config.dtype):
                raise CharRNNError(
                    f"{path}: parameter {k} has shape {group[k].shape} {group[k].dtype}, "
                    f"expected {shape} {config.dtype}; the checkpoint is inconsistent"
                )
            if not np.isfinite(group[k]).all():
                raise CharRNNError(f"{path}: parameter {k} holds non-finite values")
    return Checkpoint(
        config=config,
        vocab=vocab,
        params=params,
        step=int(meta.get("step", 0)),
        epoch=int(meta.get("epoch", 0)),
        batch_pos=int(meta.get("batch_pos", 0)),
        optimizer_t=int(meta.get("optimizer", {}).get("t", 0)),
        optimizer_state={k[6:]: v for k, v in arrays.items() if k.startswith("optim/")},
        h=arrays.get("state/h"),
        extra=dict(meta.get("extra", {})),
        train_params=train_params,
    )
