"""Metrics of a fitted model over a chunk source, one pass, without holding the rows.

Each task scores its piece chunk by chunk (exact covariates, as ``predict`` does) and
returns sums: weight, mean and centred sum of squares of the target (merged with Chan's
parallel formula, so no sum of squares cancels), squared residuals, log loss, correct
predictions; and, when asked, the scores themselves for a rank statistic (AUC).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sagegam.model.chunks import Chunk, encode_chunk
from sagegam.model.predictor import GAMPredictor
from sagegam.model.survey import chunk_weights

Array = NDArray[np.float64]
EPS = 1e-15  # probabilities are clipped to [EPS, 1 - EPS], as the estimators do


@dataclass
class Scores:
    weight: float = 0.0
    mean: float = 0.0  # of the target (regression) or the positive class (classification)
    centred: float = 0.0  # sum of w (y - mean)^2
    squared_error: float = 0.0
    log_loss: float = 0.0
    correct: float = 0.0
    kept: list[tuple[Array, Array]] = field(default_factory=list)  # (score, positive)

    def add(self, other: Scores) -> None:
        total = self.weight + other.weight
        if total > 0:
            delta = other.mean - self.mean
            self.centred += other.centred + delta * delta * self.weight * other.weight / total
            self.mean += delta * other.weight / total
        self.weight = total
        self.squared_error += other.squared_error
        self.log_loss += other.log_loss
        self.correct += other.correct
        self.kept += other.kept

    @classmethod
    def merged(cls, parts: Iterable[Scores]) -> Scores:
        total = cls()
        for part in parts:
            total.add(part)
        return total

    def train_info(self, classification: bool) -> dict[str, float]:
        """The estimator's ``train_*`` entries of the model's info."""
        if classification:
            return {"train_log_loss": self.log_loss / self.weight,
                    "train_accuracy": self.correct / self.weight}
        mse = self.squared_error / self.weight
        r2 = 1.0 - mse / (self.centred / self.weight) if self.centred > 0 else 0.0
        return {"train_r2": r2, "train_rmse": float(np.sqrt(mse))}

    def auc(self) -> float | None:
        """The area under the ROC curve of the kept scores (None: one class only)."""
        if not self.kept:
            return None
        from sklearn.metrics import roc_auc_score

        score = np.concatenate([s for s, _ in self.kept])
        positive = np.concatenate([p for _, p in self.kept])
        if positive.all() or not positive.any():  # one class: no ranking to measure
            return None
        return float(roc_auc_score(positive, score))


@dataclass(frozen=True)
class MetricsTask:
    """Score a piece; ``weighted``: by the sample weights (else every row counts once)."""

    predictor: GAMPredictor
    weighted: bool = True
    keep_scores: bool = False

    def __call__(self, piece: int, chunks: Iterator[Chunk]) -> Scores:
        scores = Scores()
        for chunk in chunks:
            scores.add(self._chunk(chunk))
        return scores

    def _chunk(self, chunk: Chunk) -> Scores:
        predictor = self.predictor
        weights = chunk_weights(chunk) if self.weighted else np.ones(len(chunk.y))
        codes = encode_chunk(predictor.schema, chunk.X)
        return score_rows(predictor, codes, _target(predictor, chunk.y), weights,
                          self.keep_scores)


def score_rows(predictor: GAMPredictor, codes: Array, y: Array, weights: Array,
               keep_scores: bool = False) -> Scores:
    """The sums of encoded rows; ``y`` the target (0/1 for the positive class)."""
    eta = predictor.link_of(codes)
    mu = predictor.family.inverse_link(eta)
    total = float(weights.sum())
    mean = float(np.dot(weights, y) / total) if total > 0 else 0.0
    out = Scores(total, mean, float(np.dot(weights, (y - mean) ** 2)))
    if predictor.classes is None:
        out.squared_error = float(np.dot(weights, (y - mu) ** 2))
        return out
    p = np.clip(mu, EPS, 1 - EPS)
    out.log_loss = float(np.dot(weights, -(y * np.log(p) + (1 - y) * np.log1p(-p))))
    out.correct = float(np.dot(weights, (eta > 0) == (y > 0.5)))
    if keep_scores:
        out.kept.append((mu, (y > 0.5).astype(np.float64)))
    return out


def _target(predictor: GAMPredictor, y: Any) -> Array:
    if predictor.classes is None:
        return np.asarray(y, dtype=np.float64)
    labels = np.asarray(y)
    unknown = set(np.unique(labels).tolist()) - set(predictor.classes)
    if unknown:
        raise ValueError(f"The target has labels {sorted(map(str, unknown))} that the model "
                         f"does not know ({list(map(str, predictor.classes))}).")
    return (labels == predictor.classes[1]).astype(np.float64)
