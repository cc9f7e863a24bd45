"""Config as the one source of the training flags; errors name parameters, the CLI flags."""

from __future__ import annotations

import dataclasses
import inspect
import json

import pytest

from charrnn import CharRNN, CharRNNError, Config
from charrnn.cli import build_parser
from charrnn.cli.flags import PARAM_FLAGS, add_config_flags, cli_message
from charrnn.core.config import GROUPS, MODEL_FIELDS, RESUME_MAY_CHANGE, TRAIN_FIELDS
from charrnn.data.files import load_corpus
from charrnn.generation.sample import check_sampling_args
from charrnn.training.presets import PRESETS

NAMES = [f.name for f in dataclasses.fields(Config)]
RUN_FIELDS = (
    "log_every",
    "eval_every",
    "save_every",
    "patience",
    "time_budget",
    "eval_minutes",
    "kernels",
)


def _train_parser():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sub.choices["train"]


# ----------------------------------------------------------------------------- metadata


def test_field_lists_are_read_from_the_metadata():
    assert TRAIN_FIELDS == tuple(NAMES)
    assert MODEL_FIELDS == ("mode", "hidden", "layers", "cell", "dtype", "units", "normalize")
    assert set(RESUME_MAY_CHANGE) == {"steps", "epochs", "lr", "clip", "clip_mode", *RUN_FIELDS}
    for f in dataclasses.fields(Config):
        assert f.metadata["group"] in GROUPS and f.metadata["help"], f.name


def test_every_field_is_in_the_class_docstring():
    doc = Config.__doc__ or ""
    for name in NAMES:
        assert f"\n    {name} : " in doc, name


def test_run_fields_default_and_validate():
    c = Config()
    assert (c.log_every, c.eval_every, c.save_every, c.patience, c.time_budget) == (
        100,
        None,
        None,
        None,
        None,
    )
    Config(eval_every=5, save_every=10, patience=3, time_budget=0.5)  # all valid
    for name, bad in [
        ("log_every", 0),
        ("log_every", None),
        ("eval_every", 0),
        ("save_every", -1),
        ("patience", 0),
        ("patience", 1.5),
        ("time_budget", 0),
        ("time_budget", float("inf")),
        ("seed", -1),
    ]:
        with pytest.raises(CharRNNError, match=f"^{name} must") as info:
            Config(**{name: bad})
        assert info.value.params == (name,)


def test_old_config_dicts_without_the_run_fields_still_load():
    old = {k: v for k, v in Config(hidden=7).to_dict().items() if k not in RUN_FIELDS}
    c = Config.from_dict(old)
    assert c.hidden == 7 and c.log_every == 100 and c.time_budget is None
    assert Config.from_dict(json.loads(json.dumps(c.to_dict()))) == c


def test_presets_carry_log_every_in_their_config():
    for name, p in PRESETS.items():
        assert set(p) <= {"config", "scale", "ranks"}, name  # the budget's rows: scale
        assert Config(**p["config"]).log_every == 1000


# ----------------------------------------------------------------------------- flags


def test_train_help_reads_in_sections_in_order():
    text = _train_parser().format_help()
    titles = ["Model:", "Data:", "Optimisation:", "Regularisation:", "Run:"]
    positions = [text.index("\n" + t + "\n") for t in titles]
    assert positions == sorted(positions)
    assert "--time-budget MINUTES" in text
    assert "--hidden H            hidden size (default 128)" in text


def test_every_field_has_a_flag_in_its_group_defaulting_to_none():
    parser = _train_parser()
    for group in parser._action_groups:
        for action in group._group_actions:
            if action.dest in NAMES:
                f = next(f for f in dataclasses.fields(Config) if f.name == action.dest)
                assert group.title.lower() == f.metadata["group"], action.dest
                assert action.option_strings == ["--" + f.name.replace("_", "-")]
    args = parser.parse_args(["@vector", "--out", "r"])
    assert all(getattr(args, name) is None for name in NAMES)
    run = next(g for g in parser._action_groups if g.title == "Run")
    hand = {"--out", "--preset", "--encoding", "--resume", "--force", "--quiet"}
    assert hand <= {s for a in run._group_actions for s in a.option_strings}


def test_flag_types_follow_the_field_types():
    parser = _train_parser()
    given = [
        "--hidden",
        "7",
        "--lr",
        "0.5",
        "--mode",
        "text",
        "--eval-every",
        "5",
        "--time-budget",
        "30",
        "--steps",
        "9",
    ]
    args = parser.parse_args(["d", "--out", "r", *given])
    assert (args.hidden, args.lr, args.mode, args.eval_every, args.time_budget) == (
        7,
        0.5,
        "text",
        5,
        30.0,
    )
    assert isinstance(args.time_budget, float) and isinstance(args.eval_every, int)
    config = Config(**{n: getattr(args, n) for n in NAMES if getattr(args, n) is not None})
    assert config.hidden == 7 and config.time_budget == 30.0
    for bad in (["--hidden", "3.5"], ["--lr", "nan"], ["--mode", "poem"], ["--patience", "x"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["d", "--out", "r", *bad])


def test_add_config_flags_on_a_fresh_parser():
    import argparse

    parser = argparse.ArgumentParser()
    groups = add_config_flags(parser)
    assert list(groups) == list(GROUPS)
    assert parser.parse_args(["--batch-size", "3"]).batch_size == 3


# ----------------------------------------------------------------------------- messages


def test_the_flag_table():
    for name in NAMES:
        assert PARAM_FLAGS[name] == "--" + name.replace("_", "-")
    assert PARAM_FLAGS["n"] == "-n" and PARAM_FLAGS["max_len"] == "--max-len"
    assert PARAM_FLAGS["out_dir"] == "--out" and PARAM_FLAGS["top_k"] == "--top-k"


def test_cli_message_rewrites_only_the_named_parameters_as_whole_words():
    exc = CharRNNError(
        "hidden=9000 is too large for runs/hidden.txt; hidden_size and lr stay; use hidden",
        params=("hidden",),
    )
    assert cli_message(exc) == (
        "--hidden 9000 is too large for runs/hidden.txt; hidden_size and lr stay; use --hidden"
    )
    assert cli_message(CharRNNError("use mode='text'", params=("mode",))) == "use --mode text"
    # A name in no table stays, as does a message that lists no parameters.
    assert cli_message(CharRNNError("backend x", params=("backend",))) == "backend x"
    assert cli_message(CharRNNError("hidden must be 1")) == "hidden must be 1"
    # One name is not rewritten inside the flag of another.
    exc = CharRNNError("n=5 times max_len=9 is too much", params=("n", "max_len"))
    assert cli_message(exc) == "-n 5 times --max-len 9 is too much"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from charrnn.cli import main

    run = tmp_path_factory.mktemp("runs") / "tiny"
    assert (
        main(["train", "@vector", "--out", str(run), "--steps", "2", "--hidden", "4", "--quiet"])
        == 0
    )
    return run


@pytest.mark.parametrize(
    "library_call,library_text,cli_args,cli_text",
    [
        (
            lambda: Config(hidden=0),
            "hidden must be a positive integer",
            ["train", "@vector", "--out", "{tmp}/r", "--hidden", "0"],
            "--hidden must be a positive integer",
        ),
        (
            lambda: check_sampling_args(1, 0, 1.0, None),
            "max_len must be between",
            ["sample", "{run}", "--max-len", "0"],
            "--max-len must be between",
        ),
        (
            lambda: check_sampling_args(0, 10, 1.0, None),
            "n must be between",
            ["sample", "{run}", "-n", "0"],
            "-n must be between",
        ),
        (
            lambda: load_corpus("@vector", "words", "klingon"),
            "encoding 'klingon' is unknown; try encoding='latin-1'",
            ["train", "@names", "--out", "{tmp}/r", "--encoding", "klingon"],
            "--encoding 'klingon' is unknown; try --encoding latin-1",
        ),
    ],
)
def test_library_names_parameters_and_the_cli_names_flags(
    cli, tmp_path, tiny_run, library_call, library_text, cli_args, cli_text
):
    with pytest.raises(CharRNNError) as info:
        library_call()
    assert str(info.value).startswith(library_text)
    assert "--" not in str(info.value)
    code, _, err = cli(*(a.format(tmp=tmp_path, run=tiny_run) for a in cli_args))
    assert code == 2 and f"error: {cli_text}" in err


# ----------------------------------------------------------------------------- CharRNN


def test_charrnn_signature_is_config_less_seed_plus_random_state_and_backend():
    params = inspect.signature(CharRNN).parameters
    assert list(params) == [n for n in NAMES if n != "seed"] + ["random_state", "backend"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    assert params["hidden"].default == Config().hidden and params["backend"].default == "numpy"


def test_get_params_round_trip_and_set_params():
    model = CharRNN(hidden=8, lr=0.01, patience=3, random_state=5)
    params = model.get_params()
    assert params["hidden"] == 8 and params["random_state"] == 5 and params["steps"] is None
    assert model.hidden == 8 and model.patience == 3  # stored as attributes, not validated
    assert CharRNN(**params).get_params() == params
    assert model.set_params(hidden=12, random_state=1) is model
    config = model.get_config()
    assert (config.hidden, config.seed, config.lr, config.patience) == (12, 1, 0.01, 3)


def test_unknown_parameters_are_a_clear_type_error():
    with pytest.raises(TypeError, match="'hiden'; did you mean 'hidden'"):
        CharRNN(hiden=8)
    with pytest.raises(TypeError, match="random_state"):
        CharRNN(seed=1)
    with pytest.raises(TypeError, match="'nope'"):
        CharRNN().set_params(nope=1)
    with pytest.raises(CharRNNError, match=r"^hidden must"):
        CharRNN(hidden=0).get_config()  # checked when used, as in scikit-learn


def test_sklearn_clone():
    base = pytest.importorskip("sklearn.base")
    model = CharRNN(hidden=8, eval_every=7, random_state=3)
    copy = base.clone(model)
    assert copy is not model and copy.get_params() == model.get_params()


def test_from_checkpoint_builds_the_model_from_its_saved_config(tiny_run):
    model = CharRNN.load(tiny_run)
    assert model.get_params()["hidden"] == 4 and model.random_state == model.config_.seed
    assert model.get_config() == model.config_
