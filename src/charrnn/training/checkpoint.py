"""Checkpoints: one ``.npz`` (never pickled) with parameters, vocabulary, config,
optimiser state, position in the data and the run's state, written atomically.

Layout inside the archive::

    meta            uint8 bytes of a UTF-8 JSON object (format, version, config,
                    vocab, step, epoch, batch_pos, optimizer, run)
    param/<name>    model parameters
    optim/<slot>/<name>  optimiser state arrays
    train/<name>    the raw training parameters, when ``param/`` holds their
                    moving average (``Config.ema``)
    state/h         carried hidden state (text mode), when there is one

Version 1 kept the run's state in an untyped ``extra`` object; it still loads.

:func:`load` reads the archive itself (``zipfile`` plus numpy's ``.npy`` header
parser) rather than through ``np.load``, so that it can refuse pickles and
oversized entries before anything is allocated, and turn every way a damaged
file can fail into a :class:`CharRNNError`.
"""

from __future__ import annotations

import codecs
import dataclasses
import json
import math
import os
import struct
import tokenize
import warnings
import zipfile
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import numpy.lib.format as npy

from ..common.errors import CharRNNError
from ..common.files import atomic_write
from ..core.cells import get_cell
from ..core.config import Config
from ..core.model import param_shapes
from ..core.optim import OPTIMIZERS
from ..core.vocab import Units, Vocab
from ..data.manifest import records_from
from .budget import PlanEntry

FORMAT = "charrnn-checkpoint"
VERSION = 2
READS = (1, 2)  # format versions load() understands

# The optimiser is handed all parameters as one flat buffer under this name
# (see Trainer), so its state is one array per slot of the total parameter count.
FLAT_PARAM = "all"

_ADVICE = "use another checkpoint (best.npz / latest.npz of the run) or retrain"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first entry; an empty zip
_PICKLE_PROTO = b"\x80"  # pickle protocols 2 and later start with this opcode

_META_KEYS = {"format", "version", "config", "vocab", "step", "epoch", "batch_pos", "optimizer"}


@dataclass
class RunState:
    """What a training run knows besides the model and optimiser (saved in the JSON)."""

    data: str | None = None  # the data's source: absolute path(s), "@builtin" or "-"
    encoding: str = "utf-8"
    data_fingerprint: str | None = None
    best_val: float | None = None  # lowest validation loss so far
    bad_evals: int = 0  # validations since it last improved
    elapsed: float = 0.0  # wall-clock seconds of training so far
    # A time-budgeted run's plan: its decisions (charrnn.training.budget.PlanEntry) as dicts.
    plan: list[dict[str, Any]] = field(default_factory=list)
    # Each file read: {"path", "bytes", "sha256"[, "held_out"]} (MemberRecord.to_dict);
    # None for data in memory, and in runs from before the list.
    members: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> RunState:
        """Inverse of :meth:`to_dict`, checking every value's type.

        Unknown keys are an error: a version-2 file holds exactly these fields,
        so another key means the file is damaged or from a newer format.

        Raises
        ------
        CharRNNError
            If ``d`` is not a dict, has unknown keys, or a value of the wrong type.
        """
        if not isinstance(d, dict):
            raise CharRNNError(f"the run state must be a JSON object; got {_show(d)}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = set(d) - set(names)
        if unknown:
            raise CharRNNError(f"unknown run-state keys {sorted(map(str, unknown))}")
        for name in ("data", "data_fingerprint"):
            if not (d.get(name) is None or isinstance(d[name], str)):
                raise CharRNNError(
                    f"run state {name} must be a string or null; got {_show(d[name])}"
                )
        encoding = d.get("encoding", "utf-8")
        if not isinstance(encoding, str) or not _is_codec(encoding):
            raise CharRNNError(f"run state encoding must name a codec; got {_show(encoding)}")
        best = d.get("best_val")
        if not (best is None or _is_finite(best)):
            raise CharRNNError(f"run state best_val must be a number or null; got {_show(best)}")
        bad = d.get("bad_evals", 0)
        if not (_is_int(bad) and bad >= 0):
            raise CharRNNError(f"run state bad_evals must be an integer >= 0; got {_show(bad)}")
        elapsed = d.get("elapsed", 0.0)
        if not (_is_finite(elapsed) and elapsed >= 0):
            raise CharRNNError(f"run state elapsed must be seconds >= 0; got {_show(elapsed)}")
        plan = d.get("plan", [])
        if not isinstance(plan, list):
            raise CharRNNError(f"run state plan must be a list; got {_show(plan)}")
        entries = [PlanEntry.from_dict(e).to_dict() for e in plan]
        members = records_from(d.get("members"))
        return cls(
            data=d.get("data"),
            encoding=encoding,
            data_fingerprint=d.get("data_fingerprint"),
            best_val=None if best is None else float(best),
            bad_evals=bad,
            elapsed=float(elapsed),
            plan=entries,
            members=None if members is None else [r.to_dict() for r in members],
        )

    @classmethod
    def from_extra(cls, extra: Any) -> RunState:
        """The run state of a version-1 checkpoint's ``extra`` object (missing keys: defaults).

        ``extra`` was open-ended, so keys that are not run-state fields are ignored.
        """
        if not isinstance(extra, dict):
            raise CharRNNError(f"extra must be a JSON object; got {_show(extra)}")
        names = {f.name for f in dataclasses.fields(cls)}
        return cls.from_dict({k: v for k, v in extra.items() if k in names})


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
    run: RunState = field(default_factory=RunState)
    # With Config.ema, `params` is the averaged model and these are the raw
    # parameters training continues from; None otherwise.
    train_params: dict[str, np.ndarray] | None = None


# ----------------------------------------------------------------------------- writing


def save(path: str | os.PathLike[str], ckpt: Checkpoint) -> None:
    """Write ``ckpt`` to ``path`` atomically: a temp file in the same folder, then rename.

    A crash or a full disk mid-write leaves the previous file at ``path`` intact.
    The file gets the permissions any new file gets under the process umask.

    Raises
    ------
    CharRNNError
        If ``ckpt.run`` holds a value :func:`load` would refuse.
    """
    path = os.fspath(path)
    # Checked here so that save never writes a file that load refuses.
    run = RunState.from_dict(ckpt.run.to_dict())
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "config": ckpt.config.to_dict(),
        "vocab": ckpt.vocab.itos,
        "step": ckpt.step,
        "epoch": ckpt.epoch,
        "batch_pos": ckpt.batch_pos,
        "optimizer": {"name": ckpt.config.optimizer, "t": ckpt.optimizer_t},
        "run": run.to_dict(),
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
    # fsync: a checkpoint costs training time to remake, so it must survive a power cut.
    with atomic_write(path, "wb", fsync=True) as f:
        # The stub types **arrays as if a key might be savez's allow_pickle (none is).
        np.savez(f, **arrays)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- reading


class _Damaged(Exception):
    """A defect :func:`_read_archive` found itself (the message says which)."""


class _Pickled(Exception):
    """An archive entry holds Python objects, which only unpickling could read."""


# What parsing a damaged zip or .npy header can raise: zipfile's own errors,
# NotImplementedError/RuntimeError (unknown compression, encryption; RuntimeError
# also covers RecursionError), struct.error (short headers), OSError/EOFError
# (short reads), ValueError (bad magic, bad header, bad names: UnicodeDecodeError),
# SyntaxError/TypeError/MemoryError (ast.literal_eval of the header),
# tokenize.TokenError (numpy's fallback header filter), KeyError/IndexError/
# OverflowError (dtype descriptors), and Warning (turned into errors while reading).
_READ_ERRORS = (
    zipfile.BadZipFile,
    NotImplementedError,
    RuntimeError,
    struct.error,
    OSError,
    EOFError,
    ValueError,
    SyntaxError,
    TypeError,
    MemoryError,
    tokenize.TokenError,
    KeyError,
    IndexError,
    OverflowError,
    Warning,
    _Damaged,
)


def load(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint written by :func:`save` (format version 1 or 2), refusing pickles.

    Every array and every field of the metadata is checked, so a checkpoint
    that loads can be sampled from and trained on.

    Raises
    ------
    CharRNNError
        If the file is missing, is not a checkpoint, is truncated, corrupted or
        inconsistent, carries a pickled object, or is of another format version.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CharRNNError(f"no checkpoint at {path}; train a model first (charrnn train)")
    arrays = _read_archive(path)
    raw = arrays.pop("meta", None)
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise CharRNNError(f"{path} is not a charrnn checkpoint (no metadata)")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError, JSONDecodeError
        raise CharRNNError(f"{path} has corrupted metadata ({_brief(exc)}); {_ADVICE}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CharRNNError(f"{path} is not a charrnn checkpoint")
    version = meta.get("version")
    if not (_is_int(version) and version in READS):
        raise CharRNNError(
            f"{path} is checkpoint format version {_show(version)}, this charrnn reads "
            f"versions {', '.join(map(str, READS))}; use the charrnn version that wrote it"
        )
    try:
        return _build(meta, version, arrays)
    except _Superseded as exc:
        raise CharRNNError(f"{path} {exc}") from None
    except CharRNNError as exc:
        raise CharRNNError(f"{path} is damaged: {exc}; {_ADVICE}") from None


class _Superseded(CharRNNError):
    """A checkpoint, not damaged, of a model whose parameters this version no longer has."""


def _read_archive(path: str) -> dict[str, np.ndarray]:
    """Every entry of the ``.npz`` at ``path``, as arrays; CharRNNError if it cannot be read."""
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise CharRNNError(f"cannot read {path} ({exc.strerror or exc})") from None
    with f:
        head = f.read(4)
        if head.startswith(_PICKLE_PROTO):
            raise _pickle_refusal(path)
        if head not in _ZIP_MAGIC:
            raise CharRNNError(
                f"{path} is not a charrnn checkpoint (not an .npz archive); give the .npz "
                f"file charrnn wrote, or if this was one it is damaged: {_ADVICE}"
            )
        f.seek(0)
        size = os.fstat(f.fileno()).st_size
        try:
            with warnings.catch_warnings():
                # numpy warns, then guesses, on headers it can only half parse
                # (Python 2 files); charrnn never writes those, so they are damage.
                warnings.simplefilter("error")
                return _read_entries(f, size)
        except _Pickled:
            raise _pickle_refusal(path) from None
        except _READ_ERRORS as exc:
            raise CharRNNError(
                f"{path} is truncated or corrupted ({_brief(exc)}); {_ADVICE}"
            ) from None


def _read_entries(f: IO[bytes], size: int) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(f) as zf:
        for info in zf.infolist():
            key = info.filename.removesuffix(".npy")
            if key == info.filename or key in arrays:
                raise _Damaged(f"unexpected entry {info.filename!r}")
            # np.savez stores entries uncompressed; anything else is damage, and
            # refusing it bounds every entry by the file's own size.
            if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
                raise _Damaged(f"entry {key!r} is compressed or encrypted")
            if not info.file_size == info.compress_size <= size:
                raise _Damaged(f"entry {key!r} claims {info.file_size} bytes")
            with zf.open(info) as entry:
                arrays[key] = _read_npy(entry, key, info.file_size)
    return arrays


def _read_npy(entry: IO[bytes], key: str, entry_size: int) -> np.ndarray:
    """One ``.npy`` entry of ``entry_size`` bytes: header checked before the data is read."""
    version = npy.read_magic(entry)
    if version == (1, 0):
        shape, fortran, dtype = npy.read_array_header_1_0(entry)
    elif version == (2, 0):
        shape, fortran, dtype = npy.read_array_header_2_0(entry)
    else:
        raise _Damaged(f"entry {key!r} has .npy version {version}")
    if dtype.hasobject:
        raise _Pickled
    if dtype.kind not in "uif" or dtype.fields is not None or dtype.subdtype is not None:
        raise _Damaged(f"entry {key!r} has data type {dtype}")
    if any(isinstance(n, bool) or n < 0 for n in shape):
        raise _Damaged(f"entry {key!r} has shape {shape}")
    nbytes = math.prod(shape) * dtype.itemsize
    if entry.tell() + nbytes != entry_size:
        raise _Damaged(f"entry {key!r} is {entry_size} bytes, its header says otherwise")
    data = entry.read(nbytes)
    # Reading past the end makes zipfile verify the entry's CRC-32.
    if len(data) != nbytes or entry.read(1):
        raise _Damaged(f"entry {key!r} is not as long as its header says")
    return np.frombuffer(bytearray(data), dtype=dtype).reshape(shape, order="F" if fortran else "C")


def _pickle_refusal(path: str) -> CharRNNError:
    return CharRNNError(
        f"{path} holds a pickled object; charrnn never loads pickles. "
        "Use a checkpoint written by charrnn."
    )


# ----------------------------------------------------------------------------- checking


def _build(meta: dict[str, Any], version: int, arrays: dict[str, np.ndarray]) -> Checkpoint:
    """The checkpoint described by ``meta`` and ``arrays``, every part checked.

    Raises CharRNNError saying what is wrong; :func:`load` adds the path and advice.
    """
    run_key = "run" if version >= 2 else "extra"
    expected = _META_KEYS | {run_key}
    missing, unknown = expected - set(meta), set(meta) - expected
    if missing:
        raise CharRNNError(f"the metadata is missing {sorted(missing)}")
    if unknown:
        raise CharRNNError(f"the metadata has unknown keys {sorted(map(str, unknown))}")
    config = _config(meta["config"])
    vocab = Vocab.from_json(json.dumps(meta["vocab"]), Units.of(config))
    for name in ("step", "epoch", "batch_pos"):
        if not (_is_int(meta[name]) and meta[name] >= 0):
            raise CharRNNError(f"{name} must be an integer >= 0; got {_show(meta[name])}")
    opt = meta["optimizer"]
    if not (isinstance(opt, dict) and set(opt) == {"name", "t"}):
        raise CharRNNError(f"optimizer must be an object with name and t; got {_show(opt)}")
    if opt["name"] != config.optimizer:
        raise CharRNNError(
            f"the optimizer {_show(opt['name'])} is not the config's {config.optimizer!r}"
        )
    if not (_is_int(opt["t"]) and opt["t"] >= 0):
        raise CharRNNError(f"optimizer t must be an integer >= 0; got {_show(opt['t'])}")
    run = RunState.from_dict(meta["run"]) if version >= 2 else RunState.from_extra(meta["extra"])

    groups: dict[str, dict[str, np.ndarray]] = {"param": {}, "train": {}, "optim": {}, "state": {}}
    for key, a in arrays.items():
        prefix, _, name = key.partition("/")
        if prefix not in groups or not name:
            raise CharRNNError(f"unexpected entry {key!r}")
        groups[prefix][name] = a
    shapes = param_shapes(vocab.size, config.hidden, config.layers, config.cell, config.units)
    dtype = np.dtype(config.dtype)
    if config.units == "jamo3" and "Wth" in groups["param"] and "Wtu" not in groups["param"]:
        raise _Superseded(
            "holds a jamo3 model with the first final head (Wth, Wtl), which this version "
            "replaced by a chain through the medial head (Wtu); retrain it with --units jamo3"
        )
    params = _arrays("param", groups["param"], shapes, dtype)
    train = _arrays("train", groups["train"], shapes, dtype) if groups["train"] else None
    optim = _optimizer_state(groups["optim"], shapes, OPTIMIZERS[config.optimizer].slots, dtype)
    h = groups["state"].pop("h", None)
    if groups["state"]:
        raise CharRNNError(f"unexpected entries state/{sorted(groups['state'])}")
    if h is not None:
        _check_state(h, config, dtype)
    return Checkpoint(
        config=config,
        vocab=vocab,
        params=params,
        step=meta["step"],
        epoch=meta["epoch"],
        batch_pos=meta["batch_pos"],
        optimizer_t=opt["t"],
        optimizer_state=optim,
        h=h,
        run=run,
        train_params=train,
    )


def _config(d: Any) -> Config:
    """The saved config, its field types checked (Config itself checks the ranges)."""
    if not isinstance(d, dict):
        raise CharRNNError(f"config must be a JSON object; got {_show(d)}")
    kinds = {f.name: str(f.type) for f in dataclasses.fields(Config)}
    unknown = set(d) - set(kinds)
    if unknown:
        raise CharRNNError(f"unknown config keys {sorted(map(str, unknown))}")
    for name, value in d.items():
        kind = kinds[name]
        ok = {
            "int": _is_int(value),
            "int | None": value is None or _is_int(value),
            "float": _is_finite(value),
            "float | None": value is None or _is_finite(value),
            "str": isinstance(value, str),
            "str | None": value is None or isinstance(value, str),
        }.get(kind)
        if ok is None:  # a field type this check does not know: Config grew one
            raise CharRNNError(f"config field {name} has a type ({kind}) this loader cannot check")
        if not ok:
            raise CharRNNError(f"config {name} must be of type {kind}; got {_show(value)}")
    if d.get("seed", 0) < 0:
        raise CharRNNError(f"config seed must be >= 0; got {d['seed']}")
    try:
        return Config(**d)
    except TypeError as exc:  # a range check comparing against a value it did not expect
        raise CharRNNError(f"config is invalid ({exc})") from None


def _arrays(
    group: str, found: dict[str, np.ndarray], shapes: dict[str, tuple[int, ...]], dtype: np.dtype
) -> dict[str, np.ndarray]:
    """``found`` in ``shapes`` order, after checking names, shapes, dtype and finiteness."""
    missing = [k for k in shapes if k not in found]
    if missing:
        raise CharRNNError(f"{group}/{missing[0]} is missing; the checkpoint is incomplete")
    unknown = sorted(set(found) - set(shapes))
    if unknown:
        raise CharRNNError(f"unexpected entry {group}/{unknown[0]}")
    for k, shape in shapes.items():
        a = found[k]
        if a.shape != shape or a.dtype != dtype:
            raise CharRNNError(
                f"{group}/{k} has shape {a.shape} {a.dtype}, expected {shape} {dtype}; "
                "the checkpoint is inconsistent"
            )
        if not np.isfinite(a).all():
            raise CharRNNError(f"{group}/{k} holds non-finite values")
    return {k: found[k] for k in shapes}


def _optimizer_state(
    found: dict[str, np.ndarray],
    shapes: dict[str, tuple[int, ...]],
    slots: tuple[str, ...],
    dtype: np.dtype,
) -> dict[str, np.ndarray]:
    """The optimiser's state, checked, in the flat layout the trainer uses.

    Either every slot holds one flat array (``<slot>/all``), or (the first
    version-1 files) one array per parameter, shaped like it; those are joined
    in parameter order, the flat buffer's layout.
    """
    if not found:
        return {}
    if all(k.endswith(f"/{FLAT_PARAM}") for k in found):
        total = sum(math.prod(s) for s in shapes.values())
        return _arrays("optim", found, {f"{s}/{FLAT_PARAM}": (total,) for s in slots}, dtype)
    per_param = _arrays(
        "optim", found, {f"{s}/{k}": shape for s in slots for k, shape in shapes.items()}, dtype
    )
    return {
        f"{s}/{FLAT_PARAM}": np.concatenate([per_param[f"{s}/{k}"].ravel() for k in shapes])
        for s in slots
    }


def _check_state(h: np.ndarray, config: Config, dtype: np.dtype) -> None:
    """The carried state: text mode only, (L, *cell state of B sequences), B <= batch size."""
    if config.mode != "text":
        raise CharRNNError("a words-mode checkpoint carries a hidden state")
    B = h.shape[1] if h.ndim > 1 else 0
    cell = get_cell(config.cell)
    expected = (config.layers, *cell.state_shape(B, config.hidden))
    if h.shape != expected or not 1 <= B <= config.batch_size or h.dtype != dtype:
        raise CharRNNError(
            f"state/h has shape {h.shape} {h.dtype}, expected "
            f"{(config.layers, *cell.state_shape(config.batch_size, config.hidden))} {dtype} "
            "or fewer sequences"
        )
    if not np.isfinite(h).all():
        raise CharRNNError("state/h holds non-finite values")


# ----------------------------------------------------------------------------- helpers


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_finite(v: Any) -> bool:
    """A real number (JSON's ints count) that is a finite float."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an int beyond float's range
        return False


def _is_codec(name: str) -> bool:
    try:
        codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        return False
    return True


def _show(v: Any) -> str:
    """``repr`` cut short: a damaged field can be arbitrarily long."""
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def _brief(exc: BaseException) -> str:
    text = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
    return text if len(text) <= 160 else text[:157] + "..."
