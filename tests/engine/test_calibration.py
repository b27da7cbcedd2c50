"""The calibrated-relevance model: fitting, estimates, thresholds kept through JSON, and its error."""
from __future__ import annotations

import numpy as np
import pytest

from matchmaker.engine.calibration import (
    Calibration,
    auc,
    expected_calibration_error,
    fit,
    folds_of,
    judge_refit,
    log_loss,
)


def test_fitting_learns_which_signal_predicts_relevance():
    rng = np.random.default_rng(0)
    signal, noise = rng.random(2000), rng.random(2000)
    relevant = (rng.random(2000) < signal).astype(int)  # relevance follows the signal, not the noise
    model = fit(("signal", "noise"), np.column_stack([signal, noise]), relevant, strong_at=0.7)
    assert model.coefficients[0] > 3 and abs(model.coefficients[1]) < 0.5
    assert model.estimate({"signal": 0.9, "noise": 0.5}) > 0.7 > 0.3 > model.estimate({"signal": 0.1, "noise": 0.5})


def test_a_model_survives_json_with_its_thresholds_and_figures():
    model = Calibration(("dense",), (2.0,), -1.0, strong_at=0.8, shown_at=0.1, version="v1", figures={"ece": 0.01})
    again = Calibration.from_json(model.to_json())
    assert again == model and again.estimate({"dense": 0.5}) == pytest.approx(0.5)
    assert model.estimate({}) == pytest.approx(1 / (1 + np.e))  # a missing feature counts as 0


def test_one_coefficient_per_feature():
    with pytest.raises(ValueError):
        Calibration(("dense", "lexical"), (1.0,), 0.0)


def test_expected_calibration_error():
    assert expected_calibration_error([0.2] * 10, [1, 1] + [0] * 8) == pytest.approx(0.0)
    assert expected_calibration_error([0.9] * 4, [0, 0, 0, 0]) == pytest.approx(0.9)
    assert expected_calibration_error([], []) == 0.0


# -- judging a refit on held-out outcome labels ---------------------------------------------------

FEATURES = ("dense", "dense_title")
WHOLE_TEXT_ONLY = Calibration(FEATURES, (10.0, 0.0), -9.0, strong_at=0.7, shown_at=0.05)


def _outcomes(label_of, n: int = 200, seed: int = 1):
    """n pairs over 20 query listings, cosines in e5's narrow band, labelled by `label_of(dense, title, rng)`."""
    rng = np.random.default_rng(seed)
    dense, title = rng.uniform(0.75, 0.95, n), rng.uniform(0.75, 0.95, n)
    labels = np.array([label_of(d, t, rng) for d, t in zip(dense, title, strict=True)], dtype=int)
    return np.column_stack([dense, title]), labels, [i % 20 for i in range(n)]


def test_a_refit_on_outcomes_that_follow_the_title_moves_weight_to_the_title_and_is_accepted():
    x, y, groups = _outcomes(lambda d, t, rng: int(rng.random() < (0.9 if t > 0.85 else 0.1)))
    decision = judge_refit(WHOLE_TEXT_ONLY, x, y, groups)
    assert decision.accepted and decision.reason == "better"
    dense, title = decision.model.coefficients
    assert title > 5 and title > abs(dense)  # the active model gave the title nothing
    assert decision.figures["new"]["log_loss"] < decision.figures["active"]["log_loss"]
    assert decision.figures["new"]["auc"] > 0.75 and decision.model.strong_at == 0.7


def test_a_refit_on_noise_is_refused_however_bad_the_active_model_is():
    x, y, groups = _outcomes(lambda d, t, rng: int(rng.random() < 0.3))
    decision = judge_refit(WHOLE_TEXT_ONLY, x, y, groups)
    assert not decision.accepted and decision.reason == "no_signal"


def test_a_refit_worse_than_the_active_model_on_held_out_labels_is_refused():
    # Labels the active model predicts almost perfectly; the regularised refit cannot match it.
    x, y, groups = _outcomes(lambda d, t, rng: int(t > 0.85))
    sharp = Calibration(FEATURES, (0.0, 400.0), -340.0)
    decision = judge_refit(sharp, x, y, groups)
    assert not decision.accepted and decision.reason == "worse"
    assert decision.figures["new"]["log_loss"] > decision.figures["active"]["log_loss"]


def test_too_few_labels_or_only_one_kind_fit_nothing():
    x, y, groups = _outcomes(lambda d, t, rng: int(t > 0.85), n=20)
    assert judge_refit(WHOLE_TEXT_ONLY, x, y, groups).reason == "too_few_labels"
    x, y, groups = _outcomes(lambda d, t, rng: 1)
    decision = judge_refit(WHOLE_TEXT_ONLY, x, y, groups)
    assert (decision.reason, decision.model, decision.figures["negatives"]) == ("too_few_labels", None, 0)


def test_folds_keep_each_query_listing_whole():
    fold = folds_of(["a", "b", "a", "c", "b", "d", "e", "f"], 5)
    assert fold[0] == fold[2] and fold[1] == fold[4] and len(set(fold.tolist())) == 5


def test_held_out_figures():
    assert auc([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]) == 1.0
    assert auc([0.5, 0.5], [1, 0]) == 0.5
    assert log_loss([0.5, 0.5], [1, 0]) == pytest.approx(np.log(2))
