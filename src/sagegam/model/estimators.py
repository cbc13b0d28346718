"""scikit-learn estimators: :class:`GAMRegressor` and :class:`GAMClassifier`.

Both fit ``g(E[y]) = intercept + sum_j f_j(x_j)`` with one penalized B-spline term per
feature. They validate, resolve settings and hand the numerics to
:func:`~sagegam.model.solver.penalized_irls`; the fitted model lives in ``predictor_``
(:class:`~sagegam.model.predictor.GAMPredictor`), which every prediction and explanation
goes through, so an estimator and its saved artifact can never disagree.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from sagegam.model.basis import EXTRAPOLATIONS, SplineBasis, difference_penalty
from sagegam.model.design import SplineDesign
from sagegam.model.families import FAMILIES, REGRESSION_FAMILIES, Family
from sagegam.model.interpret import summary_text
from sagegam.model.predictor import GAMPredictor, PartialDependence
from sagegam.model.reml import Penalty
from sagegam.model.solver import FitResult, WarmStart, penalized_irls
from sagegam.model.threads import single_threaded_blas

Array = NDArray[np.float64]
AlphaSetting = str | float | None


class _GAM(BaseEstimator):  # type: ignore[misc]
    """What both estimators share: settings, fitting, interpretation."""

    _parameter_constraints: dict[str, list[Any]] = {
        "df": [Interval(Integral, 4, None, closed="left")],
        "degree": [Interval(Integral, 1, 5, closed="both")],
        "alpha": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left"), list, tuple,
                  dict, np.ndarray],
        "adaptive": [StrOptions({"auto"}), "boolean"],
        "extrapolation": [StrOptions(set(EXTRAPOLATIONS))],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        df: int = 25,
        degree: int = 3,
        alpha: Any = "auto",
        adaptive: Any = "auto",
        extrapolation: str = "linear",
        max_iter: int = 100,
        tol: float = 1e-9,
    ) -> None:
        self.df = df
        self.degree = degree
        self.alpha = alpha
        self.adaptive = adaptive
        self.extrapolation = extrapolation
        self.max_iter = max_iter
        self.tol = tol

    # -- fitting -----------------------------------------------------------------------

    def _fit_family(self, X: Array, y: Array, sample_weight: Any, family: Family,
                    classes: tuple[Any, ...] | None = None) -> None:
        if self.df <= self.degree:
            raise ValueError(
                f"df={self.df} must exceed degree={self.degree}: a degree-{self.degree} spline "
                f"needs at least {self.degree + 1} basis functions. Raise df or lower degree."
            )
        weights = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        if not weights.sum() > 0:
            raise ValueError("sample_weight must have at least one positive value.")
        alphas = self._alpha_per_feature(X.shape[1])
        X, y, weights = _distinct_rows(X, y, weights)
        fit_basis = _make_basis(X, self.df, self.degree)
        design = SplineDesign(fit_basis, X)
        constraint, blocks = _centering(fit_basis, design.column_sums(weights))
        structures = _Structures(
            _penalties(fit_basis, constraint, blocks, alphas, adaptive=False),
            _penalties(fit_basis, constraint, blocks, alphas, adaptive=True),
            [_pieces(fit_basis, j) for j in _free_features(fit_basis, alphas)],
            self.adaptive, constraint, family, self.max_iter, self.tol)
        with single_threaded_blas():
            result, adaptive = structures.fit(design, y, weights)
        if not result.converged:
            warnings.warn(
                f"Penalized IRLS did not converge in max_iter={self.max_iter} iterations; "
                "raise max_iter or check the data.", ConvergenceWarning, stacklevel=3)
        basis = SplineBasis(fit_basis.lower, fit_basis.upper, fit_basis.n_basis,
                            fit_basis.degree, self.extrapolation)  # type: ignore[arg-type]
        names = getattr(self, "feature_names_in_", None)
        feature_names = tuple(str(n) for n in names) if names is not None else tuple(
            f"x{j}" for j in range(X.shape[1]))
        self.predictor_ = GAMPredictor(
            basis, result.coef, result.covariance, family, feature_names, classes,
            _fit_info(result, fit_basis, alphas, weights, adaptive))
        self.n_iter_ = result.n_iter

    def _alpha_per_feature(self, n_features: int) -> list[float | None]:
        """The ``alpha`` setting as one weight (or None: choose it) per feature."""
        setting = self.alpha
        if isinstance(setting, dict):
            names = [str(n) for n in getattr(self, "feature_names_in_", range(n_features))]
            unknown = set(map(str, setting)) - set(names)
            if unknown:
                raise ValueError(f"alpha names unknown features {sorted(unknown)}; the "
                                 f"features are {names}.")
            lookup = {str(k): v for k, v in setting.items()}
            values: list[Any] = [lookup.get(n, "auto") for n in names]
        elif isinstance(setting, (list, tuple, np.ndarray)):
            values = list(setting)
            if len(values) != n_features:
                raise ValueError(f"alpha has {len(values)} values but X has {n_features} "
                                 "features; give one per feature or a single value.")
        else:
            values = [setting] * n_features
        return [_one_alpha(v) for v in values]

    # -- prediction and interpretation ---------------------------------------------------

    def _checked(self, X: Any) -> Array:
        check_is_fitted(self)
        checked: Array = validate_data(self, X, reset=False, dtype=np.float64)
        return checked

    def contributions(self, X: Any) -> Array:
        """Each feature's additive term per row, on the link scale.

        ``intercept_ + contributions(X).sum(axis=1)`` equals the linear predictor exactly.
        """
        checked = self._checked(X)
        return self.predictor_.contributions(checked)

    def partial_dependence(self, feature: int | str, grid: Any = None, *,
                           level: float = 0.95) -> PartialDependence:
        """One term's effect on a grid, with standard errors and a ``level`` band."""
        check_is_fitted(self)
        return self.predictor_.partial_dependence(feature, grid, level=level)

    def summary(self) -> str:
        """A table of every term: selected penalty, effective degrees of freedom, range."""
        check_is_fitted(self)
        return summary_text(self.predictor_)

    def plot(self, **kwargs: Any) -> Any:
        """Every term with its confidence band (needs matplotlib: ``sagegam[plot]``)."""
        from sagegam.model.plotting import plot_terms

        check_is_fitted(self)
        return plot_terms(self.predictor_, **kwargs)

    @property
    def intercept_(self) -> float:
        check_is_fitted(self)
        return self.predictor_.intercept

    @property
    def coef_(self) -> Array:
        check_is_fitted(self)
        return self.predictor_.coef

    @property
    def alpha_(self) -> Array:
        """Penalty weight per feature, as selected or given (nan: constant feature)."""
        check_is_fitted(self)
        return np.asarray(self.predictor_.info["alpha"], dtype=float)

    @property
    def edf_(self) -> Array:
        """Effective degrees of freedom per feature."""
        check_is_fitted(self)
        return np.asarray(self.predictor_.info["edf"], dtype=float)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "predictor_")


class GAMRegressor(RegressorMixin, _GAM):  # type: ignore[misc]
    """Generalized additive regression with automatic smoothness selection.

    Parameters
    ----------
    df : int, default=25
        Basis functions per feature (the reference's ``df``). With automatic ``alpha`` this
        is an upper bound on flexibility, not a smoothness choice: REML picks that, so the
        default leaves headroom for sharp features.
    degree : int, default=3
        Spline degree (3: cubic).
    alpha : "auto", float, sequence or dict, default="auto"
        Weight of each term's second-difference penalty. "auto" selects it by REML; a
        number fixes it for every feature; a sequence (one per feature) or a dict keyed by
        feature name mixes fixed values and "auto".
    adaptive : "auto" or bool, default="auto"
        Let smoothness vary along each automatically smoothed term (up to 5 local
        penalty weights per term). "auto" keeps the adaptive fit only when its restricted
        likelihood beats the plain one by more than one unit per added weight (an AIC-style
        test); True always keeps it; False never tries it.
    family : {"gaussian", "poisson", "gamma"}, default="gaussian"
        Response distribution, with identity (gaussian) or log link.
    extrapolation : {"linear", "constant", "error"}, default="linear"
        What a term does outside its training range: continue along its tangent, hold
        its boundary value, or refuse with a ValueError.
    max_iter : int, default=100
        Iterations of penalized IRLS (a gaussian model needs one).
    tol : float, default=1e-9
        Relative change of the penalized deviance that ends the iterations.

    Examples
    --------
    >>> from sagegam import GAMRegressor
    >>> from sagegam.datasets import load_gauss3
    >>> X, y = load_gauss3(return_X_y=True)
    >>> model = GAMRegressor().fit(X, y)
    >>> round(model.score(X, y), 3)
    0.997
    """

    _parameter_constraints = {
        **_GAM._parameter_constraints,
        "family": [StrOptions(set(REGRESSION_FAMILIES))],
    }

    def __init__(
        self,
        *,
        df: int = 25,
        degree: int = 3,
        alpha: Any = "auto",
        adaptive: Any = "auto",
        family: str = "gaussian",
        extrapolation: str = "linear",
        max_iter: int = 100,
        tol: float = 1e-9,
    ) -> None:
        super().__init__(df=df, degree=degree, alpha=alpha, adaptive=adaptive,
                         extrapolation=extrapolation, max_iter=max_iter, tol=tol)
        self.family = family

    @_fit_context(prefer_skip_nested_validation=True)  # type: ignore[misc]
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> GAMRegressor:
        """Fit the model; ``X`` numeric (numpy or pandas), ``y`` numeric."""
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, ensure_min_samples=2)
        family = FAMILIES[self.family]
        problem = family.valid_target(y)
        if problem is not None:
            raise ValueError(f"The target must hold {problem}; got values in "
                             f"[{y.min()!r}, {y.max()!r}].")
        self._fit_family(X, y.astype(np.float64), sample_weight, family)
        residual = y - self.predictor_.predict_mean(X)
        weights = _check_sample_weight(sample_weight, X, dtype=np.float64)
        total = np.average((y - np.average(y, weights=weights)) ** 2, weights=weights)
        mse = float(np.average(residual**2, weights=weights))
        self.predictor_.info["train_r2"] = 1.0 - mse / total if total > 0 else 0.0
        self.predictor_.info["train_rmse"] = float(np.sqrt(mse))
        return self

    def predict(self, X: Any) -> Array:
        """Expected response (the inverse link of the linear predictor)."""
        checked = self._checked(X)
        return self.predictor_.predict_mean(checked)


class GAMClassifier(ClassifierMixin, _GAM):  # type: ignore[misc]
    """Binary generalized additive classification (logistic link), smoothness by REML.

    Parameters are those of :class:`GAMRegressor` without ``family``.

    Examples
    --------
    >>> import numpy as np
    >>> from sagegam import GAMClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-3, 3, size=(500, 2))
    >>> y = rng.random(500) < 1 / (1 + np.exp(-np.sin(X[:, 0]) * 3))
    >>> model = GAMClassifier().fit(X, y)
    >>> model.predict_proba(X[:2]).shape
    (2, 2)
    """

    @_fit_context(prefer_skip_nested_validation=True)  # type: ignore[misc]
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> GAMClassifier:
        """Fit the model; ``y`` must hold exactly two classes (any labels)."""
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=2)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2 or type_of_target(y) not in ("binary",):
            raise ValueError(
                "Only binary classification is supported: GAMClassifier needs a target with "
                f"exactly 2 classes; got {len(self.classes_)}: {self.classes_[:5].tolist()}."
            )
        target = (y == self.classes_[1]).astype(np.float64)
        classes = tuple(c.item() if hasattr(c, "item") else c for c in self.classes_)
        self._fit_family(X, target, sample_weight, FAMILIES["binomial"], classes)
        weights = _check_sample_weight(sample_weight, X, dtype=np.float64)
        p = np.clip(self.predictor_.predict_mean(X), 1e-15, 1 - 1e-15)
        loss = -(target * np.log(p) + (1 - target) * np.log1p(-p))
        self.predictor_.info["train_log_loss"] = float(np.average(loss, weights=weights))
        self.predictor_.info["train_accuracy"] = float(
            np.average((p > 0.5) == (target > 0.5), weights=weights))
        return self

    def decision_function(self, X: Any) -> Array:
        """The linear predictor (log-odds of ``classes_[1]``)."""
        checked = self._checked(X)
        return self.predictor_.linear_predictor(checked)

    def predict_proba(self, X: Any) -> Array:
        checked = self._checked(X)
        return self.predictor_.predict_proba(checked)

    def predict(self, X: Any) -> NDArray[Any]:
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(np.intp)]  # type: ignore[no-any-return]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags


SUBSAMPLE_ROWS = 100_000


@dataclass
class _Structures:
    """Fits the plain penalty structure, the adaptive one, or both and keeps the better.

    On a large data set the choice, and a starting point for the full fit, come from a
    random subsample: IRLS from a cold start needs ~8 passes over the data, from the
    subsample's solution two or three. The restricted likelihood gain of adaptivity grows
    with n, so a choice made on the subsample is conservative.
    """

    plain: list[Penalty]
    split: list[Penalty]
    pieces: list[int]  # local smoothing parameters of each freely smoothed term
    setting: Any  # the estimator's ``adaptive``
    constraint: Array
    family: Family
    max_iter: int
    tol: float

    def fit(self, design: SplineDesign, y: Array, weights: Array) -> tuple[FitResult, bool]:
        if design.n_rows <= 2 * SUBSAMPLE_ROWS:
            return self._choose(design, y, weights, None)
        rows = np.sort(np.random.default_rng(0).choice(design.n_rows, SUBSAMPLE_ROWS,
                                                       replace=False))
        sample = SplineDesign(design.basis, design.X[rows])
        rough, adaptive = self._choose(sample, y[rows], weights[rows], None, tol=1e-6)
        start = WarmStart(rough.warm_start.theta, rough.warm_start.log_lambda)
        penalties = self.split if adaptive else self.plain
        return self._run(design, y, weights, penalties, start, self.tol), adaptive

    def _choose(self, design: SplineDesign, y: Array, weights: Array, start: WarmStart | None,
                tol: float | None = None) -> tuple[FitResult, bool]:
        tol = self.tol if tol is None else max(self.tol, tol)
        if self.setting is True and self.pieces:
            return self._run(design, y, weights, self.split, start, tol), True
        plain = self._run(design, y, weights, self.plain, start, tol)
        if self.setting is False or not self.pieces or len(self.split) == len(self.plain):
            return plain, False
        previous = plain.warm_start
        resumed = WarmStart(previous.theta, np.repeat(previous.log_lambda, self.pieces),
                            previous.eta, previous.working)
        candidate = self._run(design, y, weights, self.split, resumed, tol)
        # An AIC-style test on the restricted likelihood: keep the local smoothing
        # parameters only if they buy more than one log-likelihood unit each.
        if plain.criterion - candidate.criterion > len(self.split) - len(self.plain):
            return candidate, True
        return plain, False

    def _run(self, design: SplineDesign, y: Array, weights: Array, penalties: list[Penalty],
             start: WarmStart | None, tol: float) -> FitResult:
        return penalized_irls(design, y, weights, self.family, penalties, self.constraint,
                              max_iter=self.max_iter, tol=tol, start=start)


MERGE_ROWS = 50_000


def _distinct_rows(X: Array, y: Array, weights: Array) -> tuple[Array, Array, Array]:
    """The data as a weighted set: rows with zero weight dropped and, up to MERGE_ROWS
    rows, identical rows merged (weights summed) in sorted order.

    The model depends on the data only as such a set, and so, exactly, does the fit:
    repeated rows and integer weights, or the same rows in another order, give bitwise
    the same computation. On larger data the sort would cost more than it saves, and
    rounding differences there stay far below the model's uncertainty.
    """
    keep = weights > 0
    X, y, weights = X[keep], y[keep], weights[keep]
    if X.shape[0] > MERGE_ROWS:
        return X, y, weights
    rows, inverse = np.unique(np.column_stack([X, y]), axis=0, return_inverse=True)
    merged = np.bincount(inverse.ravel(), weights=weights, minlength=rows.shape[0])
    return np.ascontiguousarray(rows[:, :-1]), rows[:, -1].copy(), merged.astype(np.float64)


def _one_alpha(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and value == "auto"):
        return None
    if isinstance(value, (Real, np.floating, np.integer)):
        number = float(value)
        if np.isfinite(number) and number >= 0:
            return number
    raise ValueError(f"Each alpha must be 'auto' or a finite number >= 0; got {value!r}.")


def _make_basis(X: Array, df: int, degree: int) -> SplineBasis:
    """Per feature: range from the data; a constant gets no basis; few values, fewer."""
    lower, upper = X.min(axis=0), X.max(axis=0)
    distinct = np.array([np.unique(X[:, j]).size for j in range(X.shape[1])])
    n_basis = np.minimum(df, np.maximum(degree + 1, distinct))
    n_basis = np.where(distinct > 1, n_basis, 0).astype(np.int64)
    return SplineBasis(lower, upper, n_basis, degree, "linear")


def _centering(basis: SplineBasis, column_sums: Array) -> tuple[Array, list[slice]]:
    """``Z`` so that every term sums to zero over the (weighted) training rows.

    Returns ``Z`` (design columns x free coefficients) and each feature's block of free
    coefficients. The null space of each term's column-sum vector comes from a complete
    QR: its first column is parallel to the constraint, the rest span what is left.
    """
    n_free = 1 + int(np.sum(np.maximum(basis.n_basis - 1, 0)))
    Z = np.zeros((basis.n_columns, n_free))
    Z[0, 0] = 1.0
    blocks: list[slice] = []
    start = 1
    for j in range(basis.n_features):
        k = int(basis.n_basis[j])
        if k == 0:
            blocks.append(slice(start, start))
            continue
        rows = basis.block(j)
        q, _ = np.linalg.qr(column_sums[rows][:, None], mode="complete")
        Z[rows, start:start + k - 1] = q[:, 1:]
        blocks.append(slice(start, start + k - 1))
        start += k - 1
    return Z, blocks


ADAPTIVE_PIECES = 5


def _pieces(basis: SplineBasis, j: int) -> int:
    """Local smoothing parameters of an adaptive term: up to 5, each over >= 3 differences."""
    return int(min(ADAPTIVE_PIECES, max(1, (int(basis.n_basis[j]) - 2) // 3)))


def _free_features(basis: SplineBasis, alphas: list[float | None]) -> list[int]:
    return [int(j) for j in np.flatnonzero(basis.active) if alphas[j] is None]


def _penalties(basis: SplineBasis, Z: Array, blocks: list[slice], alphas: list[float | None],
               *, adaptive: bool) -> list[Penalty]:
    """Each active term's second-difference penalty, in constrained coordinates.

    An adaptive term splits its penalty ``D'D`` into ``D' diag(w_m) D`` with hat-function
    weights ``w_m`` over the difference positions (they sum to one), so that smoothness
    may vary along the feature (Ruppert and Carroll 2000; Wood 2017, section 5.3.5).
    """
    penalties = []
    for j in map(int, np.flatnonzero(basis.active)):
        rows, block = basis.block(j), blocks[j]
        Zj = Z[rows, block]
        n_basis = int(basis.n_basis[j])
        pieces = _pieces(basis, j) if adaptive and alphas[j] is None else 1
        for weights in _hat_weights(max(n_basis - 2, 1), pieces):
            S = _weighted_difference_penalty(n_basis, weights)
            penalties.append(Penalty(block, Zj.T @ S @ Zj, alphas[j]))
    return penalties


def _hat_weights(positions: int, pieces: int) -> list[Array]:
    if pieces == 1:
        return [np.ones(positions)]
    nodes = np.linspace(0.0, positions - 1.0, pieces)
    spacing = nodes[1] - nodes[0]
    grid = np.arange(positions, dtype=float)
    return [np.maximum(0.0, 1.0 - np.abs(grid - node) / spacing) for node in nodes]


def _weighted_difference_penalty(n_basis: int, weights: Array) -> Array:
    if n_basis <= 2:
        return difference_penalty(n_basis)
    D = np.diff(np.eye(n_basis), n=2, axis=0)
    return D.T @ (weights[:, None] * D)


def _fit_info(result: FitResult, basis: SplineBasis, alphas: list[float | None],
              weights: Array, adaptive: bool) -> dict[str, Any]:
    """Per-feature statistics; an adaptive term reports the geometric mean of its pieces."""
    alpha = np.full(basis.n_features, np.nan)
    edf = np.zeros(basis.n_features)
    owner = [j for j in map(int, np.flatnonzero(basis.active))
             for _ in range(_pieces(basis, j) if adaptive and alphas[j] is None else 1)]
    for j in set(owner):
        mine = [i for i, o in enumerate(owner) if o == j]
        alpha[j] = float(np.exp(np.mean(np.log(np.maximum(result.alphas[mine], 1e-300)))))
        # Penalties of one term share its block: its edf counts once.
        edf[j] = result.edf[mine[0]]
    return {
        "alpha": [None if np.isnan(a) else float(a) for a in alpha],
        "alpha_selected": [a is None for a in alphas],
        "edf": edf.tolist(),
        "edf_total": result.edf_total,
        "deviance": result.deviance,
        "null_deviance": result.null_deviance,
        "deviance_explained": 1.0 - result.deviance / result.null_deviance
        if result.null_deviance > 0 else 0.0,
        "scale": result.scale,
        "n_obs": float(weights.sum()),
        "n_iter": result.n_iter,
        "converged": result.converged,
        "smoothness": "REML",
        "adaptive": adaptive,
        "reml_criterion": result.criterion,
    }
