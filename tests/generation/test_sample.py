from __future__ import annotations

import numpy as np
import pytest

from charrnn import CharRNN, CharRNNError
from charrnn.core.model import forward
from charrnn.generation.sample import _pick, sample, score


@pytest.fixture(scope="module")
def names_model():
    return CharRNN(hidden=32, steps=150, random_state=0).fit("@names")


def test_same_seed_same_samples(names_model):
    a = names_model.sample(20, random_state=5)
    b = names_model.sample(20, random_state=5)
    c = names_model.sample(20, random_state=6)
    assert a == b and a != c


def test_temperature_to_zero_equals_greedy(names_model):
    greedy = names_model.sample(5, greedy=True)
    assert names_model.sample(5, temperature=0) == greedy
    assert names_model.sample(5, temperature=1e-4, random_state=9) == greedy
    assert len(set(greedy)) == 1  # greedy is deterministic for every sample


@pytest.mark.parametrize("top_k", [None, 3])
def test_temperatures_past_float_range_are_greedy_or_uniform_never_empty(names_model, top_k):
    # Dividing the logits first overflowed to inf - inf = nan and drew id 0 ('\n'), so every
    # sample came out empty.
    greedy = names_model.sample(5, greedy=True)
    for t in (1e-39, 1e-300):
        assert names_model.sample(5, temperature=t, top_k=top_k, random_state=3) == greedy
    hot = names_model.sample(200, temperature=1e300, top_k=top_k, random_state=3, max_len=8)
    assert all(hot)
    if top_k is None:
        assert len(set(hot)) > 100  # near uniform over the vocabulary, not stuck
    else:
        assert len(set("".join(hot))) <= 3 * 8  # at most the top 3 at each of 8 positions


def test_top_k_never_leaves_the_k_most_likely(rng):
    logits = rng.standard_normal((2000, 30))
    for k in (1, 3, 10):
        picks = _pick(logits, rng, 1.0, k, False)
        allowed = np.argsort(-logits, axis=1)[:, :k]
        assert (allowed == picks[:, None]).any(axis=1).all()
    # and without top-k it does use other characters
    picks = _pick(logits, rng, 1.0, None, False)
    assert not (np.argsort(-logits, axis=1)[:, :3] == picks[:, None]).any(axis=1).all()


def test_sampling_follows_the_distribution(rng):
    logits = np.log(np.array([[0.7, 0.2, 0.1]] * 20000))
    picks = _pick(logits, rng, 1.0, None, False)
    np.testing.assert_allclose(np.bincount(picks, minlength=3) / 20000, [0.7, 0.2, 0.1], atol=0.01)


def test_prefix_words_stop_at_boundary_and_max_len(names_model):
    out = names_model.sample(50, prefix="ma", random_state=1)
    assert all(s.startswith("ma") and "\n" not in s for s in out)
    short = names_model.sample(50, max_len=2, random_state=1)
    assert all(len(s) <= 2 for s in short)


def test_text_mode_generates_exact_length():
    text = "the cat sat on the mat. " * 40
    m = CharRNN(mode="text", hidden=16, seq_len=16, batch_size=4, steps=30).fit(text=text)
    out = m.sample(3, prefix="the ", max_len=50)
    assert [len(s) for s in out] == [54, 54, 54]


def test_score_is_the_forward_loss(names_model):
    words = ["anna", "bob", "zyx"]
    scores = names_model.score_details(words)
    v = names_model.vocab_
    for s, w in zip(scores, words, strict=True):
        ids = v.encode("\n" + w + "\n")
        h0 = np.zeros((1, 32), np.float32)
        loss, _ = forward(names_model.params_, ids[:-1, None], ids[1:, None], h0)
        assert s.logprob == pytest.approx(-loss, rel=1e-5)
        assert len(s.char_nll) == len(w) + 1
    assert scores[0].logprob > scores[2].logprob  # a real name beats a jumble


def test_unknown_characters_in_prefix_and_score(names_model):
    with pytest.raises(CharRNNError, match="'Q'"):
        names_model.sample(1, prefix="Qa")
    with pytest.raises(CharRNNError, match="'!'"):
        names_model.score_details(["ab!"])


def test_absurd_requests_are_refused(names_model):
    with pytest.raises(CharRNNError, match=r"^n must"):
        names_model.sample(10**7)
    with pytest.raises(CharRNNError, match=r"^max_len must"):
        names_model.sample(1, max_len=10**9)
    with pytest.raises(CharRNNError, match=r"^temperature must"):
        names_model.sample(1, temperature=-1)


def test_parallel_batch_equals_one_at_a_time_greedy(names_model):
    p, v = names_model.params_, names_model.vocab_
    both = sample(p, v, n=2, prefix="ka", greedy=True)
    one = sample(p, v, n=1, prefix="ka", greedy=True)
    assert both == one * 2
    assert score(p, v, ["ka"])[0].logprob == pytest.approx(names_model.score_samples(["ka"])[0])
