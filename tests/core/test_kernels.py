"""The compiled kernels (core/kernels/fused.c) against the numpy cells, the reference.

Bounds: float32 results agree to 1e-5 relative (of each array's largest value;
libmvec's exp and tanh are within 4 ulp, numpy's within a few, and BPTT sums
T steps of them); float64 to 1e-12. A saturated gate takes its exact limit in
both. Tests that need the built library skip, saying how to build it, where
it is not built; the choice and its errors are tested everywhere.
"""

from __future__ import annotations

import ctypes
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from charrnn import CharRNN
from charrnn.common.errors import CharRNNError
from charrnn.core import kernels
from charrnn.core.backend import NUMPY
from charrnn.core.cells import get_cell
from charrnn.core.cells import lstm as lstm_cell
from charrnn.core.config import Config
from charrnn.core.gradcheck import check, random_case
from charrnn.core.masks import KeyedBits
from charrnn.core.model import (
    _dropout,
    _softmax_nll,
    _weight_drop,
    backward,
    forward,
    init_params,
    step,
    zero_state,
)
from charrnn.core.optim import Adam
from charrnn.core.vocab import Vocab
from charrnn.core.workspace import Workspace
from charrnn.training.trainer import Trainer

BUILT, WHY = kernels.library()
needs_library = pytest.mark.skipif(BUILT is None, reason=f"the compiled kernels are {WHY}")
CELLS = ["rnn", "gru", "lstm"]  # the cells fused.c has kernels for
BOUND = {"float32": 1e-5, "float64": 1e-12}


@pytest.fixture(params=["c", "python"])
def loop(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Where the compiled path loops over time: in C, each step's matmul through numpy's
    own BLAS gemm (``*_seq``); or in Python, each through np.dot, as where no BLAS is found."""
    if request.param == "python":
        monkeypatch.setattr(kernels.Fused, "seq", lambda self, dtype: None)
    elif BUILT is not None and BUILT.gemm is None:
        pytest.skip("numpy's BLAS gemm was not found here: the loops run in Python")
    return str(request.param)


def _close(actual, expected, dtype, what=""):
    scale = float(np.abs(expected).max()) or 1.0
    np.testing.assert_allclose(
        actual, expected, rtol=BOUND[dtype], atol=BOUND[dtype] * scale, err_msg=what
    )


def _run(kind, cell, dtype, layers, dropout, masked, carried, bptt="full", window=None, B=5):
    rng = np.random.default_rng(0)
    V, H, T = 11, 8, 9
    p = init_params(V, H, rng, layers=layers, cell=cell, dtype=dtype, init="scaled")
    x, y = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))
    h0 = zero_state(p, B, cell=cell)
    if carried:
        h0 += rng.standard_normal(h0.shape).astype(dtype) * 0.5
    mask = (rng.random((T, B)) < 0.7).astype(dtype) if masked else None
    with kernels.using(kind):
        loss, cache = forward(
            p, x, y, h0, mask, dropout=dropout, rng=np.random.default_rng(1), cell=cell
        )
        final = cache.final_state.copy()
        grads, dh0 = backward(p, cache, cell=cell, bptt=bptt, window=window)
        h1, logits = step(p, x[0], h0, cell=cell)
    return loss, final, {k: v.copy() for k, v in grads.items()}, dh0.copy(), h1, logits


@needs_library
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "layers, dropout, masked, carried",
    [(1, 0.0, False, False), (2, 0.3, True, True), (3, 0.0, False, True), (1, 0.2, True, False)],
)
def test_compiled_forward_backward_and_step_equal_numpy(
    cell, dtype, layers, dropout, masked, carried, loop
):
    a = _run("numpy", cell, dtype, layers, dropout, masked, carried)
    b = _run("compiled", cell, dtype, layers, dropout, masked, carried)
    assert abs(b[0] - a[0]) <= BOUND[dtype] * abs(a[0])
    _close(b[1], a[1], dtype, "final state")
    for k in a[2]:
        _close(b[2][k], a[2][k], dtype, f"d{k}")
    _close(b[3], a[3], dtype, "dh0")
    _close(b[4], a[4], dtype, "step state")
    _close(b[5], a[5], dtype, "step logits")


@needs_library
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bptt, window", [("naive", None), ("full", 0), ("full", 3), ("full", 50)])
def test_every_backward_rule_equals_numpy_on_the_compiled_path(cell, dtype, bptt, window, loop):
    # The window's kernels (window 0: one part; 50 > T: every part reaches h0) and the
    # naive rule (all T steps in one call of the full rule's kernel, nothing carried).
    a = _run("numpy", cell, dtype, 1, 0.0, True, True, bptt, window)
    b = _run("compiled", cell, dtype, 1, 0.0, True, True, bptt, window)
    for k in a[2]:
        _close(b[2][k], a[2][k], dtype, f"d{k}")
    _close(b[3], a[3], dtype, "dh0")


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the C functions called from here on, once per call."""
    calls: list[str] = []
    real = kernels.Fused.fn

    def fn(self: kernels.Fused, name: str, dtype: Any) -> Any:
        c_function = real(self, name, dtype)
        return lambda *args: (calls.append(name), c_function(*args))[1]

    monkeypatch.setattr(kernels.Fused, "fn", fn)
    return calls


@needs_library
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "layers, carried, bptt, window",
    [
        (1, True, "full", None),
        (2, False, "full", None),
        (1, True, "naive", None),
        (1, True, "full", 3),
    ],
)
def test_the_lstm_forward_with_its_matmul_turned_round_equals_numpy(
    dtype, layers, carried, bptt, window, monkeypatch, loop
):
    # From lstm.COLUMNS_FROM rows of a batch up the compiled forward takes Wh h^T and
    # transposes in C: a batch that wide, with the other tests' small one beside it,
    # under every backward rule. The spy shows which kernels were called.
    B = lstm_cell.COLUMNS_FROM + 3
    a = _run("numpy", "lstm", dtype, layers, 0.0, True, carried, bptt, window, B=B)
    calls = _spy(monkeypatch)
    b = _run("compiled", "lstm", dtype, layers, 0.0, True, carried, bptt, window, B=B)
    assert abs(b[0] - a[0]) <= BOUND[dtype] * abs(a[0])
    _close(b[1], a[1], dtype, "final state")
    for k in a[2]:
        _close(b[2][k], a[2][k], dtype, f"d{k}")
    _close(b[3], a[3], dtype, "dh0")
    seq = "_seq" if loop == "c" else ""
    assert f"lstm_forward_cols{seq}" in calls
    rule = "lstm_window" if window is not None else "lstm_backward"
    assert rule + (seq if bptt == "full" and window is None else "") in calls


@needs_library
@pytest.mark.parametrize("cell", CELLS)
def test_the_loops_over_time_run_in_c_once_per_layer(cell, monkeypatch):
    # Where numpy's BLAS was found, full BPTT's forward and backward never come back to
    # Python between steps: one call of each *_seq function per layer, no step kernel.
    if BUILT is None or BUILT.gemm is None:
        pytest.skip("numpy's BLAS gemm was not found here: the loops run in Python")
    rng = np.random.default_rng(0)
    p = init_params(11, 8, rng, layers=2, cell=cell, dtype="float32", init="scaled")
    x, y = rng.integers(0, 11, (9, 5)), rng.integers(0, 11, (9, 5))
    calls = _spy(monkeypatch)
    with kernels.using("compiled"):
        _, cache = forward(p, x, y, zero_state(p, 5, cell=cell), None, cell=cell)
        backward(p, cache, cell=cell, bptt="full")
    assert calls.count(f"{cell}_forward_seq") == 2, calls
    assert calls.count(f"{cell}_backward_seq") == 2, calls
    assert f"{cell}_forward" not in calls and f"{cell}_backward" not in calls


@needs_library
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_naive_rule_takes_one_kernel_call_per_layer(cell, dtype, monkeypatch):
    # The naive rule has no loop over time: its backward is the full rule's kernel,
    # called once over all T*B rows with nothing from the step after.
    a = _run("numpy", cell, dtype, 2, 0.0, True, True, "naive")
    calls = _spy(monkeypatch)
    b = _run("compiled", cell, dtype, 2, 0.0, True, True, "naive")
    for k in a[2]:
        _close(b[2][k], a[2][k], dtype, f"d{k}")
    assert calls.count(f"{cell}_backward") == 2  # one call per layer, not one per step
    _close(b[3], a[3], dtype, "dh0")


@needs_library
@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="finds the BLAS in /proc")
def test_numpys_own_openblas_gemm_is_found_where_numpy_reports_one():
    # Were the search to break, every C-loop test would skip and the suite stay green.
    if kernels._numpy_openblas() is None:
        pytest.skip("numpy here is built on another BLAS: the loops run in Python")
    assert BUILT is not None and BUILT.gemm is not None, WHY
    assert "numpy" in BUILT.gemm.path and BUILT.gemm.ilp64 == kernels._numpy_openblas()[1]
    assert "loops over time in C" in WHY


def test_the_openblas_libraries_of_a_process_are_found_in_its_mappings_numpys_first():
    maps = "\n".join(
        [
            "7f00-7f01 r-xp 00000000 08:01 12 /usr/lib/libopenblasp-r0.3.so.0",
            "7f02-7f03 r-xp 00000000 08:01 13 /site/numpy.libs/libscipy_openblas64_-ab.so",
            "7f04-7f05 r-xp 00000000 08:01 14 /site/scipy.libs/libscipy_openblas-cd.so",
            "7f06-7f07 rw-p 00000000 00:00 0 ",  # anonymous: no path
            "7f08-7f09 r-xp 00000000 08:01 15 /site/numpy/_core/_multiarray_umath.so",
            "7f0a-7f0b r-xp 00000000 08:01 16 /a dir/libopenblas.so (deleted)",
        ]
    )
    assert kernels._loaded_libraries(maps) == [
        "/site/numpy.libs/libscipy_openblas64_-ab.so",
        "/a dir/libopenblas.so (deleted)",
        "/site/scipy.libs/libscipy_openblas-cd.so",
        "/usr/lib/libopenblasp-r0.3.so.0",
    ]
    assert kernels._gemm_in("/a dir/libopenblas.so (deleted)", "0.3.31", True) is None


def _other_openblas() -> tuple[str, str]:
    """An OpenBLAS with 32-bit sizes beside numpy's (scipy's wheel bundles one), or skip."""
    scipy = pytest.importorskip("scipy")
    libs = sorted((Path(scipy.__file__).parent.parent / "scipy.libs").glob("*openblas*.so*"))
    if not libs:
        pytest.skip("no OpenBLAS of scipy's beside numpy's")
    lib = ctypes.CDLL(str(libs[0]))
    name = next((n for n in kernels.CONFIG_NAMES[False] if hasattr(lib, n)), None)
    if name is None:
        pytest.skip("scipy's OpenBLAS does not name its build")
    getattr(lib, name).restype = ctypes.c_char_p
    return str(libs[0]), getattr(lib, name)().decode().split()[1]  # "OpenBLAS 0.3.x ..."


@needs_library
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_loop_over_time_runs_on_an_openblas_with_32_bit_sizes(dtype):
    # The C loops' other integer width, which numpy's own 64-bit build never takes: a
    # library of one width is never taken for the other, and the loop equals numpy's.
    path, version = _other_openblas()
    assert kernels._gemm_in(path, version, True) is None  # no 64-bit names there
    gemm = kernels._gemm_in(path, version, False)
    assert gemm is not None and gemm.ilp64 == 0
    rng = np.random.default_rng(0)
    T, B, H = 5, 3, 7
    pre = rng.standard_normal((T, B, H)).astype(dtype)
    WhhT = rng.standard_normal((H, H)).astype(dtype) / 3
    hs = np.zeros((T + 1, B, H), dtype)
    hs[0] = rng.standard_normal((B, H))
    want = hs.copy()
    for t in range(T):
        want[t + 1] = np.tanh(want[t] @ WhhT + pre[t])
    address = gemm.sgemm if dtype == "float32" else gemm.dgemm
    adr = kernels.address
    BUILT.fn("rnn_forward_seq", dtype)(address, 0, T, B, H, adr(pre), adr(WhhT), adr(hs))
    _close(hs, want, dtype, "h")


@needs_library
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("R, C, lds", [(1, 1, 1), (17, 33, 33), (40, 5, 9), (16, 16, 20)])
def test_the_compiled_transpose_takes_any_size_and_row_stride(dtype, R, C, lds):
    src = np.arange(R * lds, dtype=dtype).reshape(R, lds)
    dst = np.full((C, R), -1, dtype)
    fn = BUILT.fn("transpose", dtype)
    fn(R, C, kernels.address(src), lds, kernels.address(dst))
    np.testing.assert_array_equal(dst, src[:, :C].T)


@needs_library
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_saturated_gates_take_their_limits_in_the_compiled_kernels(cell, dtype):
    c = get_cell(cell)
    H, B, T = 4, 3, 2
    p = init_params(5, H, np.random.default_rng(0), cell=cell, dtype=dtype)
    # Every pre-activation at +-1e4: e^-x overflows to inf or underflows to 0.
    pre = np.resize(np.array([1e4, -1e4, -1e4], dtype), (T, B, c.gates * H))
    h0 = np.zeros(c.state_shape(B, H), dtype)
    runs = {}
    for kind in ("numpy", "compiled"):
        with np.errstate(all="raise"), kernels.using(kind):  # and no warning escapes
            out, final, cache = c.forward(p, 0, pre.copy(), h0, Workspace(), np)
        gates = {"rnn": cache, "gru": cache[1], "lstm": cache[2]}[cell]  # exactly 0 or +-1
        runs[kind] = (out.copy(), final.copy(), gates.copy())
    (out, final, gates), (out_np, final_np, gates_np) = runs["compiled"], runs["numpy"]
    assert np.isfinite(out).all() and np.isfinite(final).all()
    np.testing.assert_array_equal(gates, gates_np)
    assert set(np.unique(gates)) <= {-1.0, 0.0, 1.0}
    _close(out, out_np, dtype)
    _close(final, final_np, dtype)


WORDS = ["vector", "victor", "vera", "vendor", "ivory", "rover", "over", "cover"] * 4


@needs_library
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("mode", ["words", "text"])
def test_a_training_run_with_compiled_kernels_equals_the_numpy_one(cell, mode):
    vocab = Vocab.from_text("\n".join(WORDS))
    data: list[str] | str = WORDS if mode == "words" else "\n".join(WORDS)
    losses = {}
    for kind in ("numpy", "compiled"):
        cfg = Config(
            mode=mode,
            cell=cell,
            hidden=16,
            layers=2,
            batch_size=4,
            seq_len=8,
            steps=200,
            dropout=0.1,
            kernels=kind,
            seed=3,
        )
        t = Trainer(cfg, vocab, data)
        losses[kind] = np.array([t.train_step()[0] for _ in range(200)])
        losses[kind + "-params"] = t.flat.copy()
    # 200 Adam steps: float32 rounding differences grow through training, slowly (on
    # the development machine at most 4e-6 relative in a loss, 1.2e-4 in a parameter of
    # size ~1, both the LSTM's in text mode; the tanh cell and the GRU stay under 3e-7).
    np.testing.assert_allclose(losses["compiled"], losses["numpy"], rtol=1e-4)
    np.testing.assert_allclose(
        losses["compiled-params"], losses["numpy-params"], rtol=1e-3, atol=5e-4
    )


@needs_library
@pytest.mark.parametrize("cell", CELLS)
def test_checkpoints_are_interchangeable_between_kernels(tmp_path, cell):
    for trained, other in (("compiled", "numpy"), ("numpy", "compiled")):
        model = CharRNN(cell=cell, hidden=12, steps=30, kernels=trained, random_state=0)
        model.fit(WORDS, out_dir=tmp_path / trained)
        loaded = CharRNN.load(tmp_path / trained / "latest.npz")
        samples = {}
        for kind in (trained, other):
            with kernels.using(kind):
                samples[kind] = loaded.sample(5, random_state=1)
                scores = loaded.score_samples(["vector", "cover"])
                samples[kind + "-score"] = np.array(scores)
        assert samples[trained] == samples[other]
        _close(samples[other + "-score"], samples[trained + "-score"], "float32")


@needs_library
@pytest.mark.parametrize("cell", CELLS)
def test_resume_is_bit_identical_with_compiled_kernels(cli, tmp_path, cell):
    data = tmp_path / "d.txt"
    data.write_text("\n".join(f"{a}{b}x{a}" for a in "abcdefg" for b in "hijklmn"))
    flags = ["--mode", "text", "--cell", cell, "--layers", "2", "--hidden", "6"]
    flags += ["--batch-size", "5", "--seq-len", "7", "--dropout", "0.2", "--quiet"]
    flags += ["--schedule", "constant", "--kernels", "compiled"]
    one, two = tmp_path / "one", tmp_path / "two"
    assert cli("train", data, "--out", one, "--steps", "12", *flags)[0] == 0
    assert cli("train", data, "--out", two, "--steps", "5", *flags)[0] == 0
    assert cli("train", data, "--out", two, "--steps", "12", "--resume", *flags)[0] == 0
    with np.load(one / "latest.npz") as za, np.load(two / "latest.npz") as zb:
        assert json.loads(za["meta"].tobytes())["config"]["kernels"] == "compiled"
        for k in za.files:
            if k != "meta":
                np.testing.assert_array_equal(za[k], zb[k], err_msg=k)


def test_compiled_kernels_where_none_are_built_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("CHARRNN_KERNELS", raising=False)
    monkeypatch.setattr(kernels, "_loaded", (None, "not built (build them with `x`)"))
    with pytest.raises(CharRNNError, match="fused C library is not built"):
        kernels.check("compiled")
    vocab = Vocab.from_text("\n".join(WORDS))
    with pytest.raises(CharRNNError, match="build"):
        Trainer(Config(kernels="compiled", hidden=4), vocab, WORDS)
    # auto falls back to numpy, silently; the line says why
    assert kernels.active(np) is None
    assert kernels.describe().startswith("kernels: numpy (the compiled kernels are not built")


def test_an_unknown_choice_is_refused():
    with pytest.raises(CharRNNError, match="kernels must be one of"):
        Config(kernels="fast")
    with pytest.raises(CharRNNError, match="kernels must be one of"), kernels.using("fast"):
        pass


def test_numpy_choice_and_other_backends_take_the_numpy_cells(monkeypatch):
    with kernels.using("numpy"):
        assert kernels.active(np) is None
    assert kernels.active(object()) is None  # another array namespace: its own cells
    monkeypatch.setenv("CHARRNN_KERNELS", "numpy")
    assert kernels.choice() == "numpy" and kernels.active(np) is None
    with kernels.using("auto"):  # the environment's numpy turns auto into numpy everywhere
        assert kernels.active(np) is None


def test_a_library_built_for_another_cpu_is_not_loaded(tmp_path, monkeypatch):
    lib, stamp = tmp_path / "_fused.so", tmp_path / "_fused.cpu"
    lib.write_bytes(b"not a library")
    stamp.write_text("some other CPU")
    monkeypatch.setattr(kernels, "LIBRARY", lib)
    monkeypatch.setattr(kernels, "STAMP", stamp)
    found, why = kernels._load()
    assert found is None and "another CPU" in why
    stamp.write_text(kernels.cpu_fingerprint())
    found, why = kernels._load()
    assert found is None and "does not load" in why


@needs_library
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("ragged, carried", [(True, False), (False, True)], ids=["words", "text"])
def test_the_compiled_path_passes_the_gradient_check(cell, ragged, carried, loop):
    # The window's own checks (tests/core/test_window.py: the numerical gradient of the
    # truncated loss) run on the compiled path with the rest of the suite where it is built.
    case = random_case(np.random.default_rng(0), ragged=ragged, carried_state=carried, cell=cell)
    with kernels.using("compiled"):
        errors = check(case, "full")
    for name, err in errors.items():
        assert err < 1e-6, f"d{name}: relative error {err:.2e}"


def test_a_failed_build_leaves_the_numpy_cells_and_says_so(monkeypatch, capsys):
    from charrnn.core.kernels import build

    before = kernels.LIBRARY.stat().st_mtime_ns if kernels.LIBRARY.exists() else None
    monkeypatch.setenv("CC", "false")  # a compiler that always fails
    assert build.main([]) == 1
    assert "the build failed, charrnn runs its numpy cells" in capsys.readouterr().err
    assert build.main(["--quiet"]) == 0  # what make calls: never stops make
    assert capsys.readouterr() == ("", "")
    monkeypatch.setenv("CC", "/nonexistent/cc")
    ok, msg = build.build()
    assert not ok and "did not run" in msg
    after = kernels.LIBRARY.stat().st_mtime_ns if kernels.LIBRARY.exists() else None
    assert after == before  # a library already built stays as it was
    assert not kernels.LIBRARY.with_suffix(".so.tmp").exists()


@needs_library
def test_a_run_trained_with_compiled_kernels_samples_where_none_are_built(tmp_path, monkeypatch):
    CharRNN(cell="lstm", hidden=8, steps=5, kernels="compiled").fit(WORDS, out_dir=tmp_path)
    with kernels.using("compiled"):
        want = CharRNN.load(tmp_path / "latest.npz").sample(3, random_state=2)
    monkeypatch.setattr(kernels, "_loaded", (None, "not built"))
    model = CharRNN.load(tmp_path / "latest.npz")  # its config says compiled: still loads
    assert model.config_.kernels == "compiled"
    assert model.sample(3, random_state=2) == want  # auto: the numpy cells, same samples


@pytest.mark.slow  # two builds
@pytest.mark.skipif(not shutil.which("cc"), reason="no C compiler (cc) on this machine")
def test_a_build_that_links_but_does_not_load_gives_way_to_the_scalar_one(tmp_path, monkeypatch):
    from charrnn.core.kernels import build

    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setattr(kernels, "_loaded", kernels._loaded)  # restored after the test
    for module in (kernels, build):  # build into tmp_path, never over the package's library
        monkeypatch.setattr(module, "LIBRARY", tmp_path / "_fused.so")
        monkeypatch.setattr(module, "STAMP", tmp_path / "_fused.cpu")
    tries = []

    def declare(lib):  # the libmvec build loads without a vector function, as on old glibc
        tries.append(lib)
        if len(tries) == 1:
            raise AttributeError("undefined symbol: _ZGVeN16v_tanhf")
        kernels._declare(lib)

    monkeypatch.setattr(build, "_declare", declare)
    ok, msg = build.build()
    assert ok and "without libmvec" in msg and len(tries) == 2
    assert kernels.library()[0] is not None  # the scalar build, loaded


@needs_library
@pytest.mark.parametrize("cell", CELLS)
def test_everything_that_steps_a_model_goes_through_the_kernels(cell, monkeypatch):
    monkeypatch.delenv("CHARRNN_KERNELS", raising=False)  # auto: the compiled kernels
    model = CharRNN(cell=cell, hidden=8, steps=3).fit(WORDS)
    calls: list[str] = []
    real = kernels.Fused.fn
    monkeypatch.setattr(
        kernels.Fused, "fn", lambda self, name, d: calls.append(name) or real(self, name, d)
    )

    def used(run):
        calls.clear()
        run()
        return {name.split("_")[1] for name in calls}  # forward, backward, window

    with kernels.using("auto"):
        assert "forward" in used(lambda: model.sample(3))  # generation: the cell's step
        assert "forward" in used(lambda: model.score_samples(["vera"]))
        assert "forward" in used(lambda: model.trace("vera"))
        assert "forward" in used(lambda: model.complete("ve"))
        assert used(lambda: model.influence("vera")) >= {"forward", "backward"}  # the page's view
        assert "forward" in used(lambda: model.evaluate(WORDS[:4]))
    with kernels.using("numpy"):
        assert used(lambda: model.sample(3)) == set()


@needs_library
@pytest.mark.parametrize("cell", CELLS)
def test_arrays_the_kernels_do_not_take_run_the_numpy_cells(cell):
    # A dtype the kernels lack, or a mixed one, never reaches C: the numpy cell runs.
    c, H, B, T = get_cell(cell), 4, 3, 2
    p = init_params(5, H, np.random.default_rng(0), cell=cell, dtype="float16")
    pre = np.random.default_rng(1).standard_normal((T, B, c.gates * H)).astype(np.float16)
    h0 = np.zeros(c.state_shape(B, H), np.float16)
    outs = []
    for kind in ("numpy", "compiled"):
        with kernels.using(kind), np.errstate(all="ignore"):
            outs.append(c.forward(p, 0, pre.copy(), h0, Workspace(), np)[0].copy())
    np.testing.assert_array_equal(outs[1], outs[0])
    assert not kernels.fits(np.float32, np.zeros(3, np.float64))
    assert not kernels.fits(np.float32, np.zeros((3, 4), np.float32)[:, ::2])
    assert kernels.fits(np.float64, np.zeros((3, 4)))


@needs_library
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_fused_input_gradient_equals_the_one_hot_matmul_and_the_bias_sum(dtype):
    rng = np.random.default_rng(0)
    N, G, V = 300, 24, 17
    index = rng.integers(0, V - 2, N)  # repeats, unsorted, and columns no row reaches
    values = rng.standard_normal((N, G)).astype(dtype)
    onehot = np.zeros((N, V), dtype)
    onehot[np.arange(N), index] = 1
    out, bias = np.full((G, V), np.nan, dtype), np.full(G, np.nan, dtype)
    with kernels.using("compiled"):
        NUMPY.onehot_grad(index.astype(np.int32), values, out, Workspace(), bias=bias)
    _close(out, values.T @ onehot, dtype, "dWx")
    _close(bias, values.sum(axis=0), dtype, "db")
    assert not out[:, V - 2 :].any()  # columns of ids never seen are zeros
    bad = index.copy()
    bad[5] = V  # an id outside the vocabulary is an error, never a write past `out`
    with kernels.using("compiled"), pytest.raises(IndexError, match="1 input ids outside"):
        NUMPY.onehot_grad(bad, values, out, Workspace(), bias=bias)


@needs_library
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_fused_softmax_and_loss_equal_numpy(dtype):
    rng = np.random.default_rng(0)
    N, V = 50, 13
    logits = (rng.standard_normal((N, V)) * 4).astype(dtype)
    logits[0] = 1e4  # a row far from 0: the max shift keeps it finite
    logits[1, 3] = -np.inf  # a logit at its limit: probability exactly 0
    by = rng.standard_normal(V).astype(dtype)
    targets = rng.integers(0, V, N)
    targets[1] = 4  # not the -inf logit's: every loss here is finite
    runs = {}
    for kind in ("numpy", "compiled"):
        with kernels.using(kind), np.errstate(all="raise"):
            probs, nll = _softmax_nll(logits.copy(), by, targets, Workspace(), np)
        runs[kind] = probs.copy(), nll.copy()
    (p_c, nll_c), (p_n, nll_n) = runs["compiled"], runs["numpy"]
    _close(p_c, p_n, dtype, "probs")
    _close(nll_c, nll_n, dtype, "nll")
    assert nll_c.dtype == np.float64 and p_c[1, 3] == 0
    np.testing.assert_allclose(p_c.sum(axis=1), 1, rtol=BOUND[dtype] * 10)
    nan = logits.copy()
    nan[2, 5] = np.nan  # a NaN logit makes its row's loss NaN, as numpy's does
    with kernels.using("compiled"):
        assert np.isnan(_softmax_nll(nan, by, targets, Workspace(), np)[1][2])
        bad = targets.copy()
        bad[7] = -1
        with pytest.raises(IndexError, match="1 targets outside"):
            _softmax_nll(logits.copy(), by, bad, Workspace(), np)


@needs_library
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_fused_adam_step_equals_numpy(dtype):
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal(1000).astype(dtype)
    runs = {}
    for kind in ("numpy", "compiled"):
        opt, p = Adam(0.01), {"all": p0.copy()}
        grads = np.random.default_rng(1)
        with kernels.using(kind):
            for _ in range(20):
                opt.step(p, {"all": grads.standard_normal(1000).astype(dtype)})
        runs[kind] = p["all"], opt.state["m"]["all"], opt.state["v"]["all"]
    for what, c, n in zip(("p", "m", "v"), runs["compiled"], runs["numpy"], strict=True):
        _close(c, n, dtype, what)


@needs_library
@pytest.mark.parametrize("per_sequence", [False, True], ids=["step", "sequence"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_fused_dropout_masks_equal_numpy_exactly(dtype, per_sequence):
    rng = np.random.default_rng(0)
    out = rng.standard_normal((7, 5, 9)).astype(dtype)  # (T, B, H), H not a vector's width
    W = rng.standard_normal((27, 9)).astype(dtype)  # a GRU's (3H, H)
    assert kernels.fits(dtype, out, W)  # so the compiled run below takes the C kernel
    runs = {}
    for kind in ("numpy", "compiled"):
        keyed = KeyedBits(3, 8, np.array([4, 0, 2, 1, 6]))
        with kernels.using(kind):
            dropped, drop = _dropout(out, 0.3, keyed, Workspace(), 1, NUMPY, per_sequence)
            used, mult = _weight_drop(W, 0.4, keyed, Workspace(), 1, NUMPY)
        runs[kind] = [a.copy() for a in (dropped, drop, used, mult)]
    for what, c, n in zip(("dropped", "drop", "used", "mult"), *runs.values(), strict=True):
        np.testing.assert_array_equal(c, n, err_msg=what)
    dropped, drop, used, mult = runs["compiled"]
    assert (drop == 0).any() and (drop != 0).any() and (mult == 0).any()
    np.testing.assert_array_equal(dropped, out * drop)
    np.testing.assert_array_equal(used, W * mult)
    assert (drop == drop[:1]).all() == per_sequence  # one mask for all T steps, or T of them


def test_every_c_function_is_declared_with_its_parameters():
    """ctypes passes an undeclared argument as a 32-bit int, so a missing entry truncates
    an address (gru_window once lost its last one and crashed now and then). Needs no
    build: the table is checked against fused.c's own parameter lists."""
    import re

    source = (Path(kernels.__file__).parent / "fused.c").read_text(encoding="utf-8")
    found = {}
    returns = {}
    for m in re.finditer(r"(void|ptrdiff_t) (\w+)_##SFX\((.*?)\)", source, re.DOTALL):
        params = [p for p in m.group(3).replace("\\", " ").split(",") if p.strip()]
        kinds = ("p" if "*" in p else "f" if "double" in p else "n" for p in params)
        found[m.group(2)] = "".join(kinds)
        if m.group(1) != "void":
            returns[m.group(2)] = ctypes.c_ssize_t
    assert found == kernels.SIGNATURES
    assert returns == kernels.RETURNS
