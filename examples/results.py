"""Train a preset for its time budget and record its result; regenerate the results table.

    python examples/results.py names                 # ../shared/data/names.txt, 10 minutes
    python examples/results.py shakespeare           # ../shared/data/tinyshakespeare.txt, 30
    python examples/results.py names-gru --minutes 5 # a preset at another budget
    python examples/results.py korean                # built-in @ko-nouns, 5 minutes
    python examples/results.py names-gru --set weight_drop=0.3 --ranks 2  # an ablation row
    python examples/results.py --table               # the table and plot from every result
    python examples/results.py --table --runs runs/ko10 --plot ko10.png --ylim 4.38,4.5

A run is ``charrnn train DATA --preset NAME [--time-budget M] --out runs/NAME-Mmin``
(``--force`` starts it again). ``--set FIELD=VALUE`` (repeatable) adds the flag of a
config field, and ``--ranks K`` trains on K MPI ranks (``mpiexec -n K``, the ``mpi``
extra; by default the ranks the preset asks for, ``shakespeare-gru``'s two past its
5-minute row); such a variant runs in ``runs/NAME-Mmin-VARIANT`` and its table row
shows the whole command, so the preset and its ablations sit side by side.

Afterwards the script reads the best checkpoint and the metrics log: parameters,
held-out loss per character of text whatever the units (on the split training never
saw: names and Korean nouns: 1,000 words by seeded permutation; text: the last 10% of
the file), wall clock, the steps the budget allowed, and the machine (CPU model,
cores, BLAS kernel), and writes them with the loss-against-minutes curve to
``runs/NAME-Mmin/result.json``.

``--table`` reads every ``runs/*/result.json`` and prints the Markdown table of
docs/recipes.md, and draws docs/results.png: held-out loss against minutes for
every result on one plot, with the reference figures (makemore's Transformer on
names, nanoGPT's baby GPT on Shakespeare, and the targets) as lines.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import platform
import shutil
import subprocess
import sys

from charrnn.cli import run_script
from charrnn.training.presets import PRESETS, preset_ranks

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Each corpus's data: a file of ../shared/data, or a built-in corpus (@name).
DATA = {"names": "names.txt", "shakespeare": "tinyshakespeare.txt", "korean": "@ko-nouns"}
# Figures this project compares itself with (held-out nats/char on the same splits).
ANCHORS = {
    "names": [("makemore Transformer, 10 min on 2 cores", 1.966), ("target", 1.86)],
    "shakespeare": [("nanoGPT baby GPT (A100)", 1.4697), ("target", 1.42)],
}


def corpus_of(preset: str) -> str:
    """The corpus a preset trains on: ``names-gru`` trains on names like ``names``."""
    return preset.split("-")[0]


def charrnn(*args: str, capture: bool = False, ranks: int = 1) -> str:
    prefix, env = launcher(ranks)
    cmd = [*(prefix or [sys.executable]), "-m", "charrnn", *args]
    p = subprocess.run(cmd, check=True, text=True, capture_output=capture, env=env)
    return p.stdout if capture else ""


def machine() -> dict[str, object]:
    """What ran it: CPU model, cores, and the BLAS kernel numpy uses."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    kernel = "unknown"
    try:
        from threadpoolctl import threadpool_info

        blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if blas:
            kernel = f"{blas[0].get('internal_api')} {blas[0].get('architecture')}"
    except ImportError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "blas": kernel}


def variant_flags(sets: list[str]) -> list[str]:
    """``["weight_drop=0.3"]`` -> ``["--weight-drop", "0.3"]``: config fields as train flags."""
    flags = []
    for item in sets:
        field, eq, value = item.partition("=")
        if not eq or not field:
            sys.exit(f"--set takes FIELD=VALUE, e.g. weight_drop=0.3; got {item!r}")
        flags += [f"--{field.replace('_', '-')}", value]
    return flags


def variant_name(sets: list[str], ranks: int) -> str:
    """The run directory's suffix for a variant: ``-weight_drop0.3-2ranks``; empty for none."""
    parts = [item.replace("=", "") for item in sets] + ([f"{ranks}ranks"] if ranks > 1 else [])
    return "".join(f"-{p}" for p in parts)


def ranks_for(preset: str, minutes: float | None, given: int | None) -> int:
    """The MPI ranks a run of ``preset`` gets: ``given``, else the ranks its recipe asks for
    (one process for a budget one of its scale rows covers)."""
    return given if given is not None else preset_ranks(preset, minutes)


def launcher(ranks: int) -> tuple[list[str], dict[str, str] | None]:
    """The command prefix and environment that run charrnn on ``ranks`` MPI ranks."""
    if ranks <= 1:
        return [], None
    beside = pathlib.Path(sys.executable).parent / "mpiexec"
    mpiexec = str(beside) if beside.is_file() else shutil.which("mpiexec")
    if mpiexec is None:
        sys.exit(
            f"{ranks} MPI ranks (the preset's, or --ranks) need mpiexec: "
            "pip install 'charrnn[mpi]', or give --ranks 1 to run on one process"
        )
    env = dict(os.environ)
    if os.name == "posix" and os.geteuid() == 0:  # Open MPI refuses root unless told twice
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return [mpiexec, "-n", str(ranks), sys.executable, "-m", "mpi4py"], env


def train_and_record(
    preset: str,
    minutes: float | None,
    force: bool,
    runs: pathlib.Path,
    sets: list[str] | None = None,
    ranks: int = 1,
) -> pathlib.Path:
    data = DATA[corpus_of(preset)]
    if not data.startswith("@"):
        data = str(ROOT.parent / "shared" / "data" / data)
        if not pathlib.Path(data).is_file():
            sys.exit(f"{data} is absent: this script needs ../shared/data")
    sets = sets or []
    budget = minutes if minutes is not None else PRESETS[preset]["config"]["time_budget"]
    run = runs / f"{preset}-{budget:g}min{variant_name(sets, ranks)}"
    extra = variant_flags(sets)
    if force or not (run / "latest.npz").is_file():
        flags = ["--time-budget", f"{budget:g}", *extra]
        flags += ["--out", str(run), "--force"]
        charrnn("train", data, "--preset", preset, *flags, ranks=ranks)

    from charrnn import CharRNN

    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    validated = validations(metrics)
    best = min(validated, key=lambda m: m["val_loss"])
    model = CharRNN.load(run)  # best.npz
    cfg = model.config_
    shape = f"{cfg.layers}x{cfg.hidden}" if cfg.layers > 1 else f"H={cfg.hidden}"
    saved = json.loads((run / "config.json").read_text())
    result = {
        "preset": preset,
        "corpus": corpus_of(preset),
        "budget_minutes": budget,
        "shape": f"{cfg.cell.upper()} {shape}",
        "parameters": int(sum(v.size for v in model.params_.values())),
        "minutes": metrics[-1]["wall_time"] / 60,
        "steps": metrics[-1]["step"],
        "plan": saved.get("plan"),
        "flags": extra,
        "ranks": ranks,
        "best_val": best["val_loss"],
        "best_step": best["step"],
        "curve": [[m["wall_time"] / 60, m["val_loss"]] for m in validated],
        "machine": machine(),
    }
    if cfg.mode == "words":
        out = charrnn("sample", str(run), "-n", "1000", "--novelty", "--json", capture=True)
        d = json.loads(out)
        result["new_share"] = d["new_share"]
        result["samples"] = d["samples"][:15]
    else:
        flags = ["--max-len", "300", "-n", "1", "--prefix", "ROMEO:", "--seed", "1", "--json"]
        out = charrnn("sample", str(run), *flags, capture=True)
        result["samples"] = json.loads(out)["samples"][:1]
    (run / "result.json").write_text(json.dumps(result, indent=1) + "\n")
    return run


def validations(metrics: list[dict]) -> list[dict]:
    """The metrics log's validated rows, each ``val_loss`` in nats per character of text.

    Jamo units log their loss per jamo (``val_loss``) and per character of the composed
    text (``val_loss_per_char``); the table compares units, so it takes the second.
    """
    rows = [dict(m) for m in metrics if m["val_loss"] is not None]
    for m in rows:
        if m.get("val_loss_per_char") is not None:
            m["val_loss"] = m["val_loss_per_char"]
    return rows


def row(r: dict) -> str:
    nats = r["best_val"]
    m = r["machine"]
    ranks = r.get("ranks", 1)
    command = " ".join(
        [f"mpiexec -n {ranks}"] * (ranks > 1)
        + [f"--preset {r['preset']} --time-budget {r['budget_minutes']:g}", *r.get("flags", [])]
    )
    return (
        f"| {r['corpus']} | `{command}` | "
        f"{r['shape']} | {r['parameters']:,} | {r['minutes']:.1f} | {r['steps']:,} | "
        f"{nats:.3f} | {nats / math.log(2):.3f} | {m['cpu']}, {m['cores']} cores, {m['blas']} |"
    )


def table(runs: pathlib.Path, plot: pathlib.Path, ylim: tuple[float, float] | None = None) -> None:
    results = sorted(
        (json.loads(p.read_text()) for p in runs.glob("*/result.json")),
        key=lambda r: (
            r["corpus"],
            r["preset"],
            r["budget_minutes"],
            r.get("flags", []),
            r.get("ranks", 1),
        ),
    )
    if not results:
        sys.exit(f"no {runs}/*/result.json yet: run `python examples/results.py PRESET` first")
    print(
        "| data | command | model | parameters | minutes | steps | held-out nats/char "
        "| bits/char | machine |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in results:
        print(row(r))
    from charrnn.common.optional import pyplot

    plt = pyplot(what="the results plot", extra="plot")
    corpora = sorted({r["corpus"] for r in results})
    fig, axes = plt.subplots(1, len(corpora), figsize=(6 * len(corpora), 4), squeeze=False)
    for ax, corpus in zip(axes[0], corpora, strict=True):
        for r in (r for r in results if r["corpus"] == corpus):
            xs, ys = zip(*r["curve"], strict=True)
            label = " ".join([r["preset"], *r.get("flags", [])])
            label += f" ×{r['ranks']} ranks" if r.get("ranks", 1) > 1 else ""
            ax.plot(xs, ys, label=f"{label} ({r['budget_minutes']:g} min)", lw=1.3)
        for i, (label, value) in enumerate(ANCHORS.get(corpus, ())):
            ax.axhline(value, ls="--" if i == 0 else ":", color="gray", lw=1)
            ax.annotate(label, (0, value), textcoords="offset points", xytext=(4, 3), fontsize=8)
        ax.set_title(corpus)
        if ylim:
            ax.set_ylim(*ylim)
        ax.set_xlabel("minutes of training")
        ax.set_ylabel("held-out loss (nats/char)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(plot, dpi=110)
    print(f"wrote {plot}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("preset", nargs="?", choices=sorted(PRESETS))
    ap.add_argument("--minutes", type=float, help="time budget (default: the preset's)")
    ap.add_argument("--force", action="store_true", help="retrain even if the run exists")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a config field for a variant of the preset (repeatable), e.g. weight_drop=0.3",
    )
    ap.add_argument(
        "--ranks",
        type=int,
        help="train on K MPI ranks (mpiexec -n K; default: the ranks the preset asks for)",
    )
    ap.add_argument("--table", action="store_true", help="print the table of every result")
    ap.add_argument("--runs", type=pathlib.Path, default=ROOT / "runs", help="where runs go")
    ap.add_argument(
        "--plot", type=pathlib.Path, default=ROOT / "docs" / "results.png", help="the plot"
    )
    ap.add_argument(
        "--ylim",
        type=lambda s: tuple(float(v) for v in s.split(",")),
        metavar="LOW,HIGH",
        help="the plot's held-out loss axis, to see differences of thousandths",
    )
    args = ap.parse_args()
    if args.ylim is not None and len(args.ylim) != 2:
        ap.error("--ylim takes two numbers: LOW,HIGH")
    if args.preset is None and not args.table:
        ap.error("name a preset, or give --table")
    if args.preset is not None:
        ranks = ranks_for(args.preset, args.minutes, args.ranks)
        run = train_and_record(args.preset, args.minutes, args.force, args.runs, args.set, ranks)
        r = json.loads((run / "result.json").read_text())
        print(row(r))
        print(f"best at step {r['best_step']:,} of {r['steps']:,}; plan {r['plan']}")
        if "new_share" in r:
            print(f"novelty: {100 * r['new_share']:.1f}% of 1,000 samples are new")
        print("samples:", " ".join(r["samples"]))
    if args.table:
        table(args.runs, args.plot, args.ylim)


if __name__ == "__main__":
    run_script(main)
