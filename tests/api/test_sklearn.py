"""CharRNN keeps the scikit-learn conventions it claims.

Checks of ``sklearn.utils.estimator_checks`` run here (they skip cleanly
without scikit-learn): the ones about how an estimator holds its
hyperparameters, which any estimator must pass:

- check_parameters_default_constructible, check_no_attributes_set_in_init,
  check_get_params_invariance, check_set_params, check_estimator_cloneable,
  check_estimator_repr, check_do_not_raise_errors_in_init_or_set_params,
  check_mixin_order, check_estimator_tags_renamed, check_valid_tag_types.

The rest do not apply to a text model, and are not run:

- every check that fits on generated numeric data (make_blobs and the like):
  check_fit_score_takes_y, check_dont_overwrite_parameters,
  check_estimators_overwrite_params, check_fit_check_is_fitted,
  check_n_features_in_after_fitting, check_fit2d_*, check_fit1d,
  check_estimators_dtypes, check_estimators_nan_inf, check_estimators_empty_data,
  check_estimators_pickle, check_dict_unchanged, check_methods_subset_invariance,
  check_methods_sample_order_invariance, check_fit_idempotent, ...: CharRNN
  learns from strings; a float matrix is not a corpus (``n_features_in_``
  means nothing for it either);
- the classifier, regressor, transformer, clusterer and outlier checks: it is
  none of them (an unsupervised density model of strings, with
  ``score``/``score_samples`` as a density estimator's);
- sparse input, sample weights, positive-only input: not its kinds of input.

What those checks would guard is tested through strings instead: ``fit(X, y)``
with ``y=None``, ``score`` a float, and model selection end to end.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from charrnn import CharRNN
from charrnn.common.errors import CharRNNError

estimator_checks = pytest.importorskip("sklearn.utils.estimator_checks")

PARAMETER_CHECKS = [
    "check_parameters_default_constructible",
    "check_no_attributes_set_in_init",
    "check_get_params_invariance",
    "check_set_params",
    "check_estimator_cloneable",
    "check_estimator_repr",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_mixin_order",
    "check_estimator_tags_renamed",
    "check_valid_tag_types",
]

WORDS = ["anna", "bob", "emma", "otto", "abba", "bobo", "mona", "nemo"] * 12


@pytest.mark.parametrize("name", PARAMETER_CHECKS)
def test_sklearn_parameter_checks(name):
    check = getattr(estimator_checks, name, None)
    if check is None:
        pytest.skip(f"this scikit-learn has no {name}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        check("CharRNN", CharRNN(hidden=4, steps=3, random_state=0))


def test_clone_round_trip_keeps_every_parameter():
    from sklearn.base import clone

    model = CharRNN(hidden=8, cell="gru", patience=2, random_state=3)
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    assert not hasattr(copy, "params_")  # a clone is not fitted


@pytest.fixture(scope="module")
def fitted():
    return CharRNN(hidden=8, steps=40, random_state=0).fit(WORDS)


def test_score_is_one_float_higher_is_better(fitted):
    value = fitted.score(["anna", "bob"])
    assert isinstance(value, float)
    assert value == pytest.approx(-fitted.evaluate(["anna", "bob"]).per_char, rel=1e-6)
    assert fitted.score(["anna", "bob"]) > fitted.score(["nbon", "aomb"])


def test_score_samples_are_each_strings_log_probability(fitted):
    logp = fitted.score_samples(["anna", "bob"])
    assert logp.dtype == np.float64 and logp.shape == (2,)
    details = fitted.score_details(["anna", "bob"])
    assert list(logp) == [d.logprob for d in details]
    with pytest.raises(CharRNNError, match="list of strings"):
        fitted.score_details("anna")


def test_fit_takes_y_none_only(fitted):
    with pytest.raises(CharRNNError, match="y is not used"):
        CharRNN(steps=2).fit(WORDS, [1] * len(WORDS))
    with pytest.raises(CharRNNError, match="y is not used"):
        fitted.score(["anna"], [1])


def test_fit_hyperparameters_are_deprecated_but_still_work():
    with pytest.warns(DeprecationWarning, match=r"CharRNN\(patience=1\)"):
        m = CharRNN(hidden=4, steps=4, eval_every=1, log_every=1, random_state=0)
        m.fit(WORDS, patience=1)
    assert m.config_.patience == 1 and m.patience is None  # this fit only
    with pytest.warns(DeprecationWarning, match="time_budget"):
        CharRNN(hidden=4, steps=2, random_state=0).fit(WORDS, time_budget=5.0)


def test_model_selection_works_end_to_end():
    from sklearn.model_selection import GridSearchCV, KFold

    search = GridSearchCV(
        CharRNN(steps=20, random_state=0),
        {"hidden": [4, 8]},
        cv=KFold(2, shuffle=True, random_state=0),
    )
    search.fit(WORDS)
    assert search.best_params_["hidden"] in (4, 8) and np.isfinite(search.best_score_)


def test_numpy_scalars_from_a_grid_are_plain_numbers_in_the_config():
    m = CharRNN(hidden=np.int64(8), steps=np.int64(3), lr=np.float32(0.01), random_state=0)
    m.fit(["anna", "bob", "carl"] * 4)
    assert type(m.config_.hidden) is int and type(m.config_.lr) is float
    assert m.config_.hidden == 8 and m.config_.lr == pytest.approx(0.01)


def test_evaluating_no_words_says_so():
    m = CharRNN(hidden=4, steps=2, random_state=0).fit(["anna", "bob"] * 4)
    with pytest.raises(CharRNNError, match="no words to score"):
        m.evaluate([])
