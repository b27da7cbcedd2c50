"""The calibrated-relevance model: fitting, estimates, thresholds kept through JSON, and its error."""
from __future__ import annotations

import numpy as np
import pytest

from matchmaker.engine.calibration import Calibration, expected_calibration_error, fit


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
