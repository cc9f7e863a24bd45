"""Presets, the makemore split, schedules, weight decay, the moving average and plotting."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from charrnn import CharRNN, Config
from charrnn.core.model import forward, init_params
from charrnn.core.vocab import Vocab
from charrnn.data.split import split_train_val
from charrnn.training import checkpoint
from charrnn.training.evaluate import evaluate_words
from charrnn.training.presets import PRESETS
from charrnn.training.trainer import Trainer


def test_makemore_split_holds_out_1000_names():
    words = [f"n{i}" for i in range(32033)]
    train, val = split_train_val(words, 0.1, seed=0, val_max=1000)
    assert len(val) == 1000 and len(train) == 31033
    assert split_train_val(words[:500], 0.1, seed=0, val_max=1000)[1].__len__() == 50


def test_cosine_schedule_with_warmup():
    c = Config(lr=1.0, schedule="cosine", warmup=10, lr_min_ratio=0.1, steps=110)
    assert c.lr_at(0, 110) == pytest.approx(0.1)
    assert c.lr_at(9, 110) == pytest.approx(1.0)
    assert c.lr_at(10, 110) == pytest.approx(1.0)
    assert c.lr_at(60, 110) == pytest.approx(0.55)
    assert c.lr_at(110, 110) == pytest.approx(0.1)
    rates = [c.lr_at(s, 110) for s in range(10, 110)]
    assert all(a >= b for a, b in itertools.pairwise(rates))
    assert Config(lr=0.3, schedule="constant").lr_at(500, 1000) == 0.3
    # The default is cosine over the run's steps, from lr to a tenth of it.
    assert Config(lr=0.3).lr_at(0, 1000) == pytest.approx(0.3)
    assert Config(lr=0.3).lr_at(1000, 1000) == pytest.approx(0.03)


def test_weight_decay_shrinks_weights_not_biases():
    """Decay scales every weight matrix, of both layers, and leaves the biases alone."""
    words = ["ab", "ba"] * 10
    vocab = Vocab.from_text("".join(words))
    rng = np.random.default_rng(0)
    start = init_params(vocab.size, 8, rng, layers=2)
    for k in ("bh", "bh2", "by"):  # non-zero, so that decaying them would show
        start[k] = rng.normal(0.5, 0.1, start[k].shape).astype(start[k].dtype)
    trained = {}
    for wd in (0.0, 1e7):
        config = Config(
            hidden=8,
            layers=2,
            steps=40,
            val_fraction=0,
            optimizer="sgd",
            lr=1e-9,
            schedule="constant",
            weight_decay=wd,
        )
        trainer = Trainer(config, vocab, words, params=start)
        trainer.run()
        trained[wd] = trainer.params
    plain, decayed = trained[0.0], trained[1e7]
    assert set(plain) == {"Wxh", "Whh", "Wxh2", "Whh2", "Why", "bh", "bh2", "by"}
    # lr * wd = 0.01 per step: weights shrink by 0.99^40; the gradient steps are negligible
    for k in ("Wxh", "Whh", "Wxh2", "Whh2", "Why"):
        np.testing.assert_allclose(decayed[k], plain[k] * 0.99**40, rtol=1e-4, atol=1e-8, err_msg=k)
    for k in ("bh", "bh2", "by"):
        np.testing.assert_allclose(plain[k], start[k], rtol=1e-6, err_msg=k)
        np.testing.assert_allclose(decayed[k], start[k], rtol=1e-6, err_msg=k)


def test_ema_is_the_moving_average_of_the_trained_parameters():
    """Step by step, the average follows avg = d avg + (1 - d) params with the ramped decay."""
    words = ["anna", "bob", "carla", "dave"] * 3
    config = Config(hidden=6, steps=30, lr=0.05, ema=0.9, val_fraction=0)
    trainer = Trainer(config, Vocab.from_text("".join(words)), words, words[:4])
    expected = trainer.flat.astype(np.float64)  # the average starts at the initialisation
    for step in range(30):
        trainer.train_step()
        decay = min(0.9, (1 + step) / (10 + step))
        expected = decay * expected + (1 - decay) * trainer.flat
    np.testing.assert_allclose(trainer.avg_flat, expected, rtol=1e-5, atol=1e-7)
    assert not np.allclose(trainer.avg_flat, trainer.flat)  # it lags the raw parameters
    # The model is the average: validation and host_params read it, not the raw ones.
    assert (
        trainer.validate().nats
        == evaluate_words(trainer.avg_params, trainer.val_batches).nats
        != evaluate_words(trainer.params, trainer.val_batches).nats
    )
    np.testing.assert_array_equal(trainer.host_params()["Whh"], trainer.avg_params["Whh"])
    ckpt = trainer.to_checkpoint()
    np.testing.assert_array_equal(ckpt.params["Whh"], trainer.avg_params["Whh"])
    np.testing.assert_array_equal(ckpt.train_params["Whh"], trainer.params["Whh"])


def test_without_ema_the_model_is_the_raw_parameters():
    trainer = Trainer(Config(hidden=6, steps=3), Vocab.from_text("ab"), ["ab", "ba"])
    trainer.run()
    assert trainer.avg_flat is None and trainer.model_params is trainer.params
    assert trainer.to_checkpoint().train_params is None


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_valid_configs(name):
    Config(**PRESETS[name]["config"])


def test_preset_flags_override_and_are_saved(cli, tmp_path):
    run = tmp_path / "r"
    code, _, err = cli(
        "train",
        "@names",
        "--out",
        run,
        "--preset",
        "names",
        "--steps",
        "3",
        "--hidden",
        "16",
        "--quiet",
    )
    assert code == 0, err
    cfg = checkpoint.load(run / "latest.npz").config
    assert (cfg.layers, cfg.hidden, cfg.steps, cfg.val_max) == (2, 16, 3, 1000)


def test_loss_falls_below_a_bound_with_the_quality_pieces():
    """Layers, dropout, schedule and decay together still learn a tiny corpus."""
    words = ["anna", "bob", "carla", "dave", "emma", "frank", "gina", "hank"] * 4
    m = CharRNN(
        hidden=48,
        layers=2,
        dropout=0.1,
        init="scaled",
        steps=400,
        lr=0.01,
        schedule="cosine",
        warmup=20,
        weight_decay=1e-4,
        val_fraction=0,
        batch_size=8,
    )
    m.fit(words)
    assert m.evaluate(sorted(set(words))).nats < 0.7  # uniform would be log(20) = 3.0


def test_plot_writes_a_png(cli, tmp_path):
    pytest.importorskip("matplotlib")
    run = tmp_path / "r"
    code, _, err = cli(
        "train",
        "@names",
        "--out",
        run,
        "--hidden",
        "8",
        "--steps",
        "40",
        "--log-every",
        "10",
        "--quiet",
    )
    assert code == 0, err
    code, out, _ = cli("plot", run)
    assert code == 0
    png = run / "loss.png"
    assert out.strip() == str(png)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 400 and height > 200


def test_plot_errors(cli, tmp_path):
    code, _, err = cli("plot", tmp_path / "nothing")
    assert code == 2 and "not a run directory" in err
    (tmp_path / "empty").mkdir()
    code, _, err = cli("plot", tmp_path / "empty")
    assert code == 2 and "metrics.jsonl" in err


@pytest.mark.parametrize(
    ("flags", "label"),
    [([], "validation"), (["--ema", "0.9"], "validation (moving average)")],
)
def test_plot_names_the_averaged_validation_curve(cli, tmp_path, monkeypatch, flags, label):
    from charrnn.viz import curves

    seen = {}
    monkeypatch.setattr(curves, "plot_metrics", lambda *a, **kw: seen.update(kw))
    run = tmp_path / "r"
    code, _, err = cli(
        "train",
        "@names",
        "--out",
        run,
        "--hidden",
        "8",
        "--steps",
        "4",
        "--log-every",
        "2",
        "--quiet",
        *flags,
    )
    assert code == 0, err
    assert cli("plot", run)[0] == 0
    assert seen["val_label"] == label


@pytest.mark.parametrize("masks", ["step", "sequence"])
def test_training_draws_the_dropout_masks_its_config_names(monkeypatch, masks):
    """Catches a trainer that drops the config's dropout_masks on the way to the model:
    ranks and one process would then agree on the wrong masks."""
    from charrnn.training import trainer as trainer_module

    seen = []

    def spy(*args, **kwargs):
        loss, cache = forward(*args, **kwargs)
        seen.extend(d.copy() for d in cache.drops)
        return loss, cache

    monkeypatch.setattr(trainer_module, "forward", spy)
    config = Config(hidden=16, layers=2, dropout=0.3, dropout_masks=masks, steps=2)
    Trainer(config, Vocab.from_text("abcdefgh"), ["abcdefgh", "hgfedcba"] * 4).run()
    assert len(seen) == 4  # two steps of two layers
    for d in seen:  # (T, B, H)
        assert d.shape[0] > 1 and (d == 0).any()
        assert (d == d[:1]).all() == (masks == "sequence")
