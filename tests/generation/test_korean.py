"""Korean: jamo units, NFC input, the syllable grammar on sampling, losses per character."""

from __future__ import annotations

import json
import re
import unicodedata

import numpy as np
import pytest

from charrnn import CharRNN, CharRNNError, Config
from charrnn.cli.flags import cli_message
from charrnn.core.model import init_params
from charrnn.core.reference import column_params, get_derivative
from charrnn.core.vocab import (
    S_BASE,
    S_COUNT,
    Units,
    Vocab,
    compose_hangul,
    decompose_hangul,
)
from charrnn.data.corpus import read_corpus
from charrnn.data.files import builtin_names, load_corpus
from charrnn.data.textcache import encode_to_file, open_tokens, scan_text
from charrnn.generation import constraints as constraints_mod
from charrnn.generation.constraints import JamoGrammar, allowed_mask
from charrnn.generation.sample import sample
from charrnn.training.evaluate import evaluate_text
from charrnn.training.trainer import make_batches

JAMO = Units("jamo")
ALL_SYLLABLES = "".join(chr(S_BASE + i) for i in range(S_COUNT))
LOOSE = re.compile("[\u1100-\u11ff]")  # a conjoining jamo left outside a syllable
MIXED = "한국어 abc 123 😀 가격\n값, café ㅋㅋ ᄀ 뷁 Ωmega\t끝"


# ----------------------------------------------------------------------------- round trips


def test_every_syllable_decomposes_as_nfd_and_composes_back():
    jamo = decompose_hangul(ALL_SYLLABLES)
    assert jamo == unicodedata.normalize("NFD", ALL_SYLLABLES)
    assert set(jamo) <= {chr(c) for c in range(0x1100, 0x1200)}
    assert len(set(jamo)) == 19 + 21 + 27
    assert compose_hangul(jamo) == ALL_SYLLABLES
    assert JAMO.show(JAMO.read(ALL_SYLLABLES)) == ALL_SYLLABLES


def test_mixed_text_round_trips_and_only_syllables_change():
    symbols = JAMO.read(MIXED)
    assert JAMO.show(symbols) == MIXED
    # Everything but the syllables is left as it is, in its place.
    assert re.sub("[\uac00-\ud7a3\u1100-\u11ff]", "", MIXED) == re.sub(
        "[\u1100-\u11ff]", "", symbols
    )
    assert len(symbols) == len(MIXED) + sum(
        1 + ((ord(c) - S_BASE) % 28 != 0) for c in MIXED if S_BASE <= ord(c) < S_BASE + S_COUNT
    )
    assert JAMO.read(symbols) == symbols  # reading symbols again changes nothing


def test_nfkd_and_nfd_input_read_as_the_typed_word():
    for form in ("NFD", "NFKD"):
        stored = unicodedata.normalize(form, "가격 사랑")
        assert stored != "가격 사랑"
        assert JAMO.read(stored) == JAMO.read("가격 사랑")
        assert Units("char").read(stored) == "가격 사랑"
    raw = unicodedata.normalize("NFD", "가격")
    assert Units("char", "none").read(raw) == raw  # kept as it is when asked


def test_streamed_reading_equals_whole_reading(rng):
    text = unicodedata.normalize("NFD", (MIXED + "\n") * 7)
    whole = JAMO.read(text)
    for _ in range(20):
        cuts = sorted(rng.choice(len(text), size=6, replace=False))
        chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        assert "".join(JAMO.read_chunks(chunks)) == whole
    # Cuts between a letter and its accent, and between an initial and its medial.
    chunks = ["가격 cafe", "\u0301 \u1100", "\u1161\u11a8", "한국어" * 3]
    for units in (JAMO, Units("char")):
        assert "".join(units.read_chunks(chunks)) == units.read("".join(chunks))
    assert "".join(Units("char").read_chunks(chunks)).count("각") == 1


def test_char_starts_count_the_composed_characters(rng):
    alphabet = list("\u1100\u1101\u1112\u1161\u1175\u11a8\u11c2ab\n")
    vocab = Vocab(JAMO.read("".join(alphabet)), JAMO)
    for _ in range(200):
        symbols = "".join(rng.choice(alphabet, size=int(rng.integers(1, 12))))
        ids = vocab.encode(symbols, symbols=True)
        assert vocab.char_starts(ids).sum() == len(compose_hangul(symbols)), symbols


def test_compatibility_jamo_are_letters_of_their_own_with_a_clear_message():
    assert JAMO.read("ㅋㅋ ㄱ") == "ㅋㅋ ㄱ"  # kept: they never join a syllable
    vocab = Vocab.from_text("가격\n각", JAMO)
    with pytest.raises(CharRNNError, match=r"'ㄱ' \(U\+3131\) is a compatibility jamo") as info:
        vocab.clean("ㄱ")
    assert "\n" not in str(info.value)  # one line


def test_a_model_trained_on_decomposed_text_explains_why_syllables_are_unknown():
    raw = Units("char", "none")
    vocab = Vocab.from_text(unicodedata.normalize("NFKD", "가격"), raw)
    with pytest.raises(CharRNNError, match="decomposed Hangul"):
        vocab.encode("가격")


def test_jamo_units_need_nfc():
    with pytest.raises(CharRNNError, match="units='jamo' reads text as NFC") as info:
        Config(units="jamo", normalize="none")
    assert cli_message(info.value).startswith("--units jamo reads text as NFC")
    assert "--normalize none applies to --units char only" in cli_message(info.value)


# ----------------------------------------------------------------------------- corpora


def test_korean_corpora_are_built_in_and_composed():
    assert {"ko-words", "ko-nouns"} <= set(builtin_names())
    words = load_corpus("@ko-words", "words")
    assert len(words) == 2048 and "가격" in words
    nouns = load_corpus("@ko-nouns", "words")
    assert len(nouns) == 20_000
    for w in (*words, *nouns):
        assert unicodedata.is_normalized("NFC", w)


def test_a_decomposed_word_list_trains_on_syllables(tmp_path):
    path = tmp_path / "nfkd.txt"
    path.write_text("\n".join(unicodedata.normalize("NFKD", w) for w in ("가격", "가능", "각")))
    char = read_corpus(str(path), "words")
    assert char.words == ["가격", "가능", "각"] and "가" in char.vocab.stoi
    jamo = read_corpus(str(path), "words", units=JAMO)
    assert jamo.vocab.size == 1 + len(set(JAMO.read("가격가능각")))
    raw = read_corpus(str(path), "words", units=Units("char", "none"))
    assert "가" not in raw.vocab.stoi


def test_streamed_text_in_jamo_units_matches_the_text_in_memory(tmp_path):
    text = unicodedata.normalize("NFD", (MIXED + "\n") * 50)
    path = tmp_path / "ko.txt"
    path.write_text(text, encoding="utf-8")
    scan = scan_text(path, units=JAMO)
    vocab = Vocab(scan.chars, JAMO)
    encode_to_file(path, vocab, tmp_path / "ids.bin")
    ids = open_tokens(tmp_path / "ids.bin", vocab.size)
    assert np.array_equal(ids, vocab.encode(text))
    assert scan.n_chars == len(JAMO.read(text))


# ----------------------------------------------------------------------------- grammar


def _loose(samples: list[str]) -> list[str]:
    return [s for s in samples if LOOSE.search(s)]


@pytest.fixture(scope="module")
def jamo_model():
    return CharRNN(hidden=32, steps=150, units="jamo", random_state=0).fit("@ko-words")


def test_the_grammar_allows_exactly_the_syllable_order():
    vocab = Vocab.from_text("가격 각\n", JAMO)
    g = JamoGrammar(vocab)
    ix = vocab.stoi
    after = {
        c: {vocab.itos[j] for j in np.flatnonzero(g.allowed(np.array([ix[c]]), 1)[0])}
        for c in vocab.itos
    }
    assert after["\u1100"] == {"\u1161", "\u1167"}  # initial -> a medial
    assert after["\u1161"] == {"\u1100", "\u11a8", " ", "\n"}  # medial -> final or next
    assert after["\u11a8"] == {"\u1100", " ", "\n"}  # final -> next
    assert after[" "] == {"\u1100", " ", "\n"}
    # At the last position no syllable may start: it could not finish.
    last = JamoGrammar(vocab, max_len=5).allowed(np.array([ix[" "]]), 4)[0]
    assert not last[ix["\u1100"]] and last[ix[" "]]
    # Right after the prefix its last syllable is kept as typed: no final.
    first = g.allowed(np.array([ix["\u1161"]]), 0)[0]
    assert not first[ix["\u11a8"]] and first[ix["\u1100"]]


def test_a_thousand_samples_compose_into_syllables(jamo_model):
    samples = jamo_model.sample(1000, random_state=3)
    assert _loose(samples) == []
    assert all(unicodedata.is_normalized("NFC", s) for s in samples)
    # Wild settings, greedy, a prefix and a cut at max_len: still whole syllables.
    for kwargs in (
        {"temperature": 3.0},
        {"greedy": True},
        {"top_k": 2},
        {"prefix": "가"},
        {"max_len": 4, "temperature": 2.0},
    ):
        assert _loose(jamo_model.sample(300, random_state=4, **kwargs)) == [], kwargs
    assert all(s.startswith("가") for s in jamo_model.sample(50, prefix="가"))


def test_without_the_grammar_samples_do_break(jamo_model, monkeypatch):
    # The test above can fail: an untrained model sampled without the mask leaves loose jamo.
    untrained = init_params(jamo_model.vocab_.size, 16, np.random.default_rng(0))
    masked = sample(untrained, jamo_model.vocab_, n=300, temperature=2.0)
    assert _loose(masked) == []
    monkeypatch.setattr("charrnn.generation.sample.unit_constraints", lambda vocab, max_len: [])
    unmasked = sample(untrained, jamo_model.vocab_, n=300, temperature=2.0)
    assert len(_loose(unmasked)) > 30


def test_constraints_are_anded_and_a_contradiction_is_an_error():
    vocab = Vocab.from_text("가\n", JAMO)

    class NoBoundary:
        def allowed(self, last, pos):
            m = np.ones((len(last), vocab.size), dtype=bool)
            m[:, vocab.boundary_id] = False
            return m

    last = np.array([vocab.stoi["\u1161"]])
    both = allowed_mask([JamoGrammar(vocab), NoBoundary()], last, 0, vocab.size)
    assert both.tolist() == [[False, True, False]]  # '\n' ruled out, the medial too

    class Nothing:
        def allowed(self, last, pos):
            return np.zeros((len(last), vocab.size), dtype=bool)

    with pytest.raises(CharRNNError, match="allow no symbol"):
        allowed_mask([Nothing()], last, 0, vocab.size)
    assert constraints_mod.unit_constraints(Vocab.from_text("ab")) == []


def test_text_mode_samples_compose_too():
    model = CharRNN(mode="text", hidden=24, steps=60, seq_len=16, units="jamo", random_state=0).fit(
        ["가격 사랑 한국어 공부\n" * 20]
    )
    out = model.sample(20, max_len=41, temperature=2.0)
    assert _loose(out) == [] and all(len(s) > 0 for s in out)


# ----------------------------------------------------------------------------- losses


def _hand_nll(model: CharRNN, text: str) -> float:
    """Summed loss of '\\n' + text + '\\n' by the tutorial's own per-character loop."""
    ids = list(model.vocab_.encode("\n" + text + "\n"))
    H = model.config_.hidden
    loss, _, _ = get_derivative(column_params(model.params_), ids[:-1], ids[1:], np.zeros((H, 1)))
    return loss


@pytest.mark.parametrize("units", ["char", "jamo"])
def test_score_and_eval_agree_with_a_hand_computation(units):
    words = ["가격", "가능", "각", "값", "강아지"]
    model = CharRNN(
        hidden=6, steps=5, units=units, dtype="float64", val_fraction=0, random_state=0
    ).fit(words)
    typed = ["가격", unicodedata.normalize("NFKD", "강아지")]
    for s, w in zip(model.score_details(typed), typed, strict=True):
        nll = _hand_nll(model, w)
        chars = len(unicodedata.normalize("NFC", w)) + 1  # the closing '\n' is predicted too
        symbols = len(model.vocab_.to_symbols(w)) + 1
        assert s.logprob == pytest.approx(-nll, rel=1e-10)
        assert s.nats_per_char == pytest.approx(nll / chars, rel=1e-10)
        assert s.nats_per_symbol == pytest.approx(nll / symbols, rel=1e-10)
        assert (symbols > chars) == (units == "jamo")
    loss = model.evaluate(words)
    total = sum(_hand_nll(model, w) for w in words)
    chars = sum(len(w) + 1 for w in words)
    symbols = sum(len(model.vocab_.to_symbols(w)) + 1 for w in words)
    assert loss.per_char == pytest.approx(total / chars, rel=1e-10)
    assert loss.nats == pytest.approx(total / symbols, rel=1e-10)
    d = loss.to_dict()
    assert (d["chars"], d["symbols"]) == (chars, symbols)
    assert d["nats_per_char"] == pytest.approx(total / chars)


def test_text_eval_counts_syllables_once():
    text = "가격 값\n강아지 abc\n" * 3
    model = CharRNN(
        mode="text",
        hidden=6,
        steps=3,
        seq_len=8,
        units="jamo",
        dtype="float64",
        val_fraction=0,
        random_state=0,
    ).fit([text])
    # One stream reads the whole text from a zero state: the tutorial's loop over it.
    loss = evaluate_text(model.params_, make_batches(model.config_, model.vocab_, text, 1))
    ids = list(model.vocab_.encode(text))
    nll, _, _ = get_derivative(column_params(model.params_), ids[:-1], ids[1:], np.zeros((6, 1)))
    assert loss.n_chars == len(ids) - 1  # every symbol but the first is predicted
    assert loss.chars == len(text) - 1  # ... spelling every character but the first
    assert loss.nats == pytest.approx(nll / (len(ids) - 1), rel=1e-10)
    assert loss.per_char == pytest.approx(nll / (len(text) - 1), rel=1e-10)


# ----------------------------------------------------------------------------- runs


def test_checkpoints_and_resume_record_the_units(tmp_path):
    out = tmp_path / "run"
    CharRNN(hidden=8, steps=20, units="jamo", log_every=10, random_state=0).fit(
        "@ko-words", out_dir=out
    )
    loaded = CharRNN.load(out)
    assert loaded.config_.units == "jamo" and loaded.vocab_.units == JAMO
    assert json.loads((out / "config.json").read_text())["config"]["units"] == "jamo"
    assert _loose(loaded.sample(50)) == []
    with pytest.raises(CharRNNError, match="cannot change units"):
        CharRNN(hidden=8, steps=30, units="char", log_every=10, random_state=0).fit(
            "@ko-words", out_dir=out, resume=True
        )
    resumed = CharRNN(hidden=8, steps=30, units="jamo", log_every=10, random_state=0).fit(
        "@ko-words", out_dir=out, resume=True
    )
    assert resumed.history_[-1].step == 30
    events = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert all(e["train_loss_per_char"] > e["train_loss"] for e in events)
    assert all(e["val_loss_per_char"] > e["val_loss"] for e in events if e["val_loss"])


def test_char_runs_log_no_extra_fields(tmp_path):
    CharRNN(hidden=8, steps=10, log_every=10, random_state=0).fit("@vector", out_dir=tmp_path / "r")
    event = json.loads((tmp_path / "r" / "metrics.jsonl").read_text().splitlines()[0])
    assert "train_loss_per_char" not in event


def test_cli_takes_hangul_as_typed(cli, tmp_path):
    run = tmp_path / "ko"
    code, out, err = cli(
        "train",
        "@ko-words",
        "--units",
        "jamo",
        "--hidden",
        "8",
        "--steps",
        "20",
        "--log-every",
        "10",
        "--out",
        run,
    )
    assert code == 0, err
    assert "per char: train" in out
    code, out, err = cli("score", run, "가격", unicodedata.normalize("NFD", "가능"))
    assert code == 0, err
    assert out.splitlines()[0].startswith("가격\t") and "nats/symbol over 6 jamo" in out
    code, out, _ = cli("eval", run, "@ko-words", "--json")
    d = json.loads(out)
    assert d["chars"] < d["symbols"] and d["nats_per_char"] > d["nats_per_symbol"]
    code, out, _ = cli("sample", run, "-n", "30", "--prefix", "가")
    assert code == 0 and _loose(out.splitlines()) == []
    code, out, _ = cli("trace", run, "각")
    assert code == 0 and "jamo units" in out
    code, _, err = cli("sample", run, "--prefix", "ㄱ")
    assert code == 2 and "compatibility jamo" in err and "Traceback" not in err


def test_the_training_log_converts_with_the_batch_counts():
    words = ["가격", "가능", "각", "값", "강아지", "abc"]
    model = CharRNN(
        hidden=8,
        steps=1,
        log_every=1,
        batch_size=len(words),
        units="jamo",
        val_fraction=0,
        random_state=0,
    ).fit(words)
    (event,) = model.history_
    symbols = sum(len(JAMO.read(w)) + 1 for w in words)
    chars = sum(len(w) + 1 for w in words)
    assert event.train_loss_per_char == pytest.approx(event.train_loss * symbols / chars)
    assert "per char: train" in event.format()


def test_configs_saved_before_units_existed_load_as_characters():
    old = {k: v for k, v in Config(hidden=7).to_dict().items() if k not in ("units", "normalize")}
    cfg = Config.from_dict(old)
    assert (cfg.units, cfg.normalize) == ("char", "nfc")


@pytest.mark.parametrize("mode", ["words", "text"])
def test_completions_of_a_jamo_model_are_whole_syllables(mode):
    from charrnn.generation.complete import complete

    vocab = Vocab.from_text("가각나낙다\n", JAMO)
    params = init_params(vocab.size, 16, np.random.default_rng(3), init="scaled", dtype="float64")
    params = {k: 3 * v for k, v in params.items()}  # far from uniform, loose jamo likely
    r = complete(params, vocab, "가", k=20, mode=mode, max_len=6, method="beam", beam=40)
    assert r.prefix == "가" and len(r.items) == 20
    for c in r.items:
        assert c.text.startswith("가")
        # Composed for the user: no conjoining jamo is left loose.
        assert not re.search("[\u1100-\u11ff]", c.text), c.text
