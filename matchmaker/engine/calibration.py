"""Honest confidence: turn a match's signals into the probability that a broker would call it relevant.

A logistic model over a match's signals (raw cosines of the whole need and of its title, the same
rescaled within the query, BM25 share, industry credit) fitted on judged pairs (`fit`), so 0.8 means
"about eight in ten such suggestions were judged relevant" on any query, unlike the rank score, which is
relative to the other candidates of one query. Pure numpy; the fitting runs offline and the site loads
the result (matchmaker/matching/calibration.json, docs/evaluation.md).
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Calibration:
    """P(grade >= 1) = sigmoid(intercept + Σ coefficient·feature), with the thresholds the site uses."""

    features: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float
    strong_at: float = 0.6  # at or above: labelled 「高匹配度」 and worth a notification
    shown_at: float = 0.15  # below: the list stops (the user may still ask for more)
    version: str = "untrained"
    figures: dict[str, float] = field(default_factory=dict)  # how it did where it was fitted

    def __post_init__(self) -> None:
        if len(self.features) != len(self.coefficients):
            raise ValueError("one coefficient per feature")

    def estimate(self, values: Mapping[str, float]) -> float:
        z = self.intercept + sum(c * float(values.get(name, 0.0))
                                 for name, c in zip(self.features, self.coefficients, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        data = json.loads(text)
        return cls(features=tuple(data["features"]), coefficients=tuple(float(c) for c in data["coefficients"]),
                   intercept=float(data["intercept"]), strong_at=float(data.get("strong_at", 0.6)),
                   shown_at=float(data.get("shown_at", 0.15)), version=str(data.get("version", "")),
                   figures=dict(data.get("figures") or {}))

    @classmethod
    def load(cls, path: Path) -> Calibration:
        return cls.from_json(path.read_text(encoding="utf-8"))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 50
                 ) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method (the intercept is not penalised)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    design = np.hstack([np.ones((len(x), 1)), x])
    weights = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ weights, -40, 40)))
        gradient = design.T @ (p - y) + penalty * weights
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty) + 1e-9 * np.eye(len(weights))
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-8:
            break
    return weights[1:], float(weights[0])


def fit(features: Sequence[str], x: np.ndarray, y: np.ndarray, l2: float = 1.0, **options: object) -> Calibration:
    coefficients, intercept = fit_logistic(x, y, l2)
    return Calibration(tuple(features), tuple(float(c) for c in coefficients), intercept, **options)  # type: ignore[arg-type]


def expected_calibration_error(probabilities: Sequence[float], outcomes: Sequence[int], bins: int = 10) -> float:
    """Σ over equal-width bins of (share of items) × |mean estimate − observed rate|."""
    p = np.asarray(probabilities, dtype=np.float64)
    o = np.asarray(outcomes, dtype=np.float64)
    if not len(p):
        return 0.0
    which = np.minimum((p * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(p[members].mean() - o[members].mean())
    return float(error)
