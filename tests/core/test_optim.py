from __future__ import annotations

import math

import numpy as np

from charrnn.core.optim import SGD, Adagrad, Adam, clip_norm, clip_value, global_norm


def test_sgd_is_the_tutorial_update():
    p = {"w": np.array([1.0, -2.0])}
    SGD(0.1).step(p, {"w": np.array([0.5, 1.0])})
    np.testing.assert_allclose(p["w"], [0.95, -2.1])


def test_adagrad_matches_min_char_rnn():
    p = {"w": np.array([1.0])}
    opt = Adagrad(0.1)
    g1, g2 = 0.5, -0.25
    opt.step(p, {"w": np.array([g1])})
    opt.step(p, {"w": np.array([g2])})
    w = 1.0 - 0.1 * g1 / math.sqrt(g1**2 + 1e-8)
    w -= 0.1 * g2 / math.sqrt(g1**2 + g2**2 + 1e-8)
    np.testing.assert_allclose(p["w"], [w])


def test_adam_matches_textbook_formula():
    p = {"w": np.array([0.3])}
    opt = Adam(0.01)
    m = v = 0.0
    w = 0.3
    for t, g in enumerate([0.2, -0.1, 0.4], start=1):
        opt.step(p, {"w": np.array([g])})
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w -= 0.01 * (m / (1 - 0.9**t)) / (math.sqrt(v / (1 - 0.999**t)) + 1e-8)
    np.testing.assert_allclose(p["w"], [w], rtol=1e-6)


def test_clip_value_and_norm():
    g = {"a": np.array([3.0, -4.0]), "b": np.array([0.5])}
    clip_value(g, 1.0)
    np.testing.assert_array_equal(g["a"], [1.0, -1.0])
    g = {"a": np.array([3.0, 4.0]), "b": np.array([0.0])}
    assert clip_norm(g, 1.0) == 5.0
    assert abs(global_norm(g) - 1.0) < 1e-9
    small = {"a": np.array([0.3])}
    clip_norm(small, 1.0)
    assert small["a"][0] == 0.3
