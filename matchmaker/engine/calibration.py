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


# -- learning from outcomes: is a refitted model better than the one in use? ------------------------

def _item_losses(probabilities: Sequence[float], outcomes: Sequence[int]) -> np.ndarray:
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-6, 1 - 1e-6)
    o = np.asarray(outcomes, dtype=np.float64)
    return -(o * np.log(p) + (1 - o) * np.log(1 - p))


def log_loss(probabilities: Sequence[float], outcomes: Sequence[int]) -> float:
    return float(_item_losses(probabilities, outcomes).mean()) if len(outcomes) else 0.0


def auc(probabilities: Sequence[float], outcomes: Sequence[int]) -> float:
    """Area under the ROC curve: the chance a relevant pair is scored above an irrelevant one (ties ½)."""
    p = np.asarray(probabilities, dtype=np.float64)
    o = np.asarray(outcomes, dtype=bool)
    positives, negatives = p[o], p[~o]
    if not len(positives) or not len(negatives):
        return 0.5
    above = (positives[:, None] > negatives[None, :]).sum() + 0.5 * (positives[:, None] == negatives[None, :]).sum()
    return float(above / (len(positives) * len(negatives)))


def folds_of(groups: Sequence[object], folds: int) -> np.ndarray:
    """Fold number per item; items of one group (e.g. one query listing) share a fold, so a model is
    never checked on a query it was fitted on. Fewer groups than folds: one group per fold."""
    keys = sorted(set(groups), key=str)
    folds = max(2, min(folds, len(keys)))
    which = {key: i % folds for i, key in enumerate(keys)}
    return np.array([which[g] for g in groups], dtype=int)


def fit_standardized(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> tuple[np.ndarray, float]:
    """fit_logistic on features scaled to unit variance, returned in the features' own units, so the
    penalty treats e5 cosines (squeezed into ~0.75-0.95) like features that span [0, 1]."""
    x = np.asarray(x, dtype=np.float64)
    mean, spread = x.mean(axis=0), x.std(axis=0)
    spread[spread < 1e-9] = 1.0
    coefficients, intercept = fit_logistic((x - mean) / spread, y, l2)
    return coefficients / spread, float(intercept - np.sum(coefficients * mean / spread))


def cross_validated(x: np.ndarray, y: np.ndarray, fold: np.ndarray, l2: float = 1.0) -> np.ndarray:
    """Each item's estimate from a model fitted on the other folds."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    out = np.zeros(len(y))
    for f in np.unique(fold):
        test = fold == f
        coefficients, intercept = fit_standardized(x[~test], y[~test], l2)
        out[test] = 1.0 / (1.0 + np.exp(-np.clip(intercept + x[test] @ coefficients, -40, 40)))
    return out


def base_rate_cross_validated(y: np.ndarray, fold: np.ndarray) -> np.ndarray:
    """The model that knows nothing but how often pairs are relevant, estimated on the other folds."""
    y = np.asarray(y, dtype=np.float64)
    out = np.zeros(len(y))
    for f in np.unique(fold):
        test = fold == f
        out[test] = (y[~test].sum() + 0.5) / ((~test).sum() + 1.0)
    return out


def scores(probabilities: Sequence[float], outcomes: Sequence[int], strong_at: float) -> dict[str, float | None]:
    """Held-out figures of estimates against outcomes: log-loss, ECE, AUC, and how the strong label did."""
    p = np.asarray(probabilities, dtype=np.float64)
    o = np.asarray(outcomes, dtype=np.float64)
    strong = p >= strong_at
    return {"log_loss": round(log_loss(p, o), 4), "ece": round(expected_calibration_error(p, o), 4),
            "auc": round(auc(p, o), 4), "strong_labels": float(strong.sum()),
            "strong_precision": round(float(o[strong].mean()), 4) if strong.any() else None}


@dataclass(frozen=True)
class RefitDecision:
    """A refitted model and whether it should replace the active one, with the figures that decided.

    ``reason`` is a code the staff page words in the reader's language: "better" (accepted),
    "too_few_labels", "no_signal" (no better than the base rate on held-out labels) or "worse".
    """

    model: Calibration | None
    accepted: bool
    reason: str
    figures: dict[str, object]


def judge_refit(active: Calibration, x: np.ndarray, y: np.ndarray, groups: Sequence[object],
                min_labels: int = 30, min_each: int = 5, folds: int = 5, l2: float = 1.0,
                z: float = 2.0, version: str = "") -> RefitDecision:
    """Refit `active`'s features on outcome labels and compare on held-out labels (cross-validation
    over groups): the new model must beat the base rate clearly in log-loss (else the labels are noise
    to these features) and must not be worse than the active model on the same labels."""
    x = np.asarray(x, dtype=np.float64).reshape(len(y), len(active.features))
    y = np.asarray(y, dtype=np.float64)
    positives = int(y.sum())
    figures: dict[str, object] = {"labels": int(len(y)), "positives": positives, "negatives": int(len(y)) - positives,
                                  "groups": len(set(groups))}
    if len(y) < min_labels or min(positives, len(y) - positives) < min_each or len(set(groups)) < 2:
        figures.update(needed_labels=min_labels, needed_each=min_each)
        return RefitDecision(None, False, "too_few_labels", figures)
    fold = folds_of(groups, folds)
    held_out = cross_validated(x, y, fold, l2)
    base = base_rate_cross_validated(y, fold)
    current = np.array([active.estimate(dict(zip(active.features, row, strict=True))) for row in x])
    new_scores, active_scores = scores(held_out, y, active.strong_at), scores(current, y, active.strong_at)
    figures.update(folds=int(len(np.unique(fold))), new=new_scores, active=active_scores,
                   base_rate_log_loss=round(log_loss(base, y), 4))
    coefficients, intercept = fit_standardized(x, y, l2)
    model = Calibration(active.features, tuple(round(float(c), 4) for c in coefficients), round(intercept, 4),
                        strong_at=active.strong_at, shown_at=active.shown_at, version=version,
                        figures={"labels": float(len(y)), "cv_log_loss": float(new_scores["log_loss"] or 0),
                                 "cv_ece": float(new_scores["ece"] or 0), "cv_auc": float(new_scores["auc"] or 0)})
    # Signal, not luck: the held-out gain over the base rate, pair by pair, must stand `z` standard
    # errors above zero (a fit on noise beats the base rate on some folds by chance).
    gain = _item_losses(base, y) - _item_losses(held_out, y)
    figures["gain_over_base_rate"] = round(float(gain.mean()), 4)
    if gain.mean() <= z * gain.std(ddof=1) / np.sqrt(len(gain)):
        return RefitDecision(model, False, "no_signal", figures)
    new_loss = log_loss(held_out, y)
    if new_loss > log_loss(current, y):
        return RefitDecision(model, False, "worse", figures)
    return RefitDecision(model, True, "better", figures)
