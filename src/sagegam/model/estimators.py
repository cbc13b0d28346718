"""scikit-learn estimators: :class:`GAMRegressor` and :class:`GAMClassifier`.

Both fit ``g(E[y]) = intercept + sum_j f_j(x_j)`` with one penalized B-spline term per
feature. They validate, resolve settings and hand the numerics to
:func:`~sagegam.model.solver.penalized_irls`; the fitted model lives in ``predictor_``
(:class:`~sagegam.model.predictor.GAMPredictor`), which every prediction and explanation
goes through, so an estimator and its saved artifact can never disagree.
"""

from __future__ import annotations

import warnings
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
from sagegam.model.solver import FitResult, Penalty, WarmStart, penalized_irls

Array = NDArray[np.float64]
AlphaSetting = str | float | None


class _GAM(BaseEstimator):  # type: ignore[misc]
    """What both estimators share: settings, fitting, interpretation."""

    _parameter_constraints: dict[str, list[Any]] = {
        "df": [Interval(Integral, 4, None, closed="left")],
        "degree": [Interval(Integral, 1, 5, closed="both")],
        "alpha": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left"), list, tuple,
                  dict, np.ndarray],
        "extrapolation": [StrOptions(set(EXTRAPOLATIONS))],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        df: int = 20,
        degree: int = 3,
        alpha: Any = "auto",
        extrapolation: str = "linear",
        max_iter: int = 100,
        tol: float = 1e-9,
    ) -> None:
        self.df = df
        self.degree = degree
        self.alpha = alpha
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
        fit_basis = _make_basis(X[weights > 0], self.df, self.degree)
        design = SplineDesign(fit_basis, X)
        constraint, blocks = _centering(fit_basis, design.column_sums(weights))
        penalties = [
            Penalty(blocks[j], _constrained_penalty(fit_basis, constraint, blocks[j], j), alphas[j])
            for j in np.flatnonzero(fit_basis.active)
        ]
        start = _subsample_start(design, y, weights, family, penalties, constraint,
                                 self.max_iter, self.tol)
        result = penalized_irls(design, y, weights, family, penalties, constraint,
                                max_iter=self.max_iter, tol=self.tol, start=start)
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
            _fit_info(result, fit_basis, alphas, weights))
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
        return self.predictor_.contributions(self._checked(X))

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
    df : int, default=20
        Basis functions per feature (the reference's ``df``). With automatic ``alpha`` this
        is an upper bound on flexibility, not a smoothness choice: REML picks that.
    degree : int, default=3
        Spline degree (3: cubic).
    alpha : "auto", float, sequence or dict, default="auto"
        Weight of each term's second-difference penalty. "auto" selects it by REML; a
        number fixes it for every feature; a sequence (one per feature) or a dict keyed by
        feature name mixes fixed values and "auto".
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
        df: int = 20,
        degree: int = 3,
        alpha: Any = "auto",
        family: str = "gaussian",
        extrapolation: str = "linear",
        max_iter: int = 100,
        tol: float = 1e-9,
    ) -> None:
        super().__init__(df=df, degree=degree, alpha=alpha, extrapolation=extrapolation,
                         max_iter=max_iter, tol=tol)
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
        return self

    def predict(self, X: Any) -> Array:
        """Expected response (the inverse link of the linear predictor)."""
        return self.predictor_.predict_mean(self._checked(X))


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
                "GAMClassifier needs a binary target with exactly 2 classes; got "
                f"{len(self.classes_)} class(es): {self.classes_[:5].tolist()}."
            )
        target = (y == self.classes_[1]).astype(np.float64)
        classes = tuple(c.item() if hasattr(c, "item") else c for c in self.classes_)
        self._fit_family(X, target, sample_weight, FAMILIES["binomial"], classes)
        return self

    def decision_function(self, X: Any) -> Array:
        """The linear predictor (log-odds of ``classes_[1]``)."""
        return self.predictor_.linear_predictor(self._checked(X))

    def predict_proba(self, X: Any) -> Array:
        return self.predictor_.predict_proba(self._checked(X))

    def predict(self, X: Any) -> NDArray[Any]:
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(np.intp)]  # type: ignore[no-any-return]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags


SUBSAMPLE_ROWS = 100_000


def _subsample_start(design: SplineDesign, y: Array, weights: Array, family: Family,
                     penalties: list[Penalty], constraint: Array, max_iter: int,
                     tol: float) -> WarmStart | None:
    """For a large non-gaussian fit, iterate first on a random subsample.

    IRLS from a cold start needs ~8 passes over the data; from the subsample's solution
    (coefficients and relative smoothing parameters) two or three finish the job. A
    gaussian identity model needs one pass anyway.
    """
    if family.link == "identity" or design.n_rows <= 2 * SUBSAMPLE_ROWS:
        return None
    rows = np.random.default_rng(0).choice(design.n_rows, SUBSAMPLE_ROWS, replace=False)
    rows.sort()
    sample = SplineDesign(design.basis, design.X[rows])
    result = penalized_irls(sample, y[rows], weights[rows], family, penalties, constraint,
                            max_iter=max_iter, tol=max(tol, 1e-6))
    return result.warm_start


def _one_alpha(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and value == "auto"):
        return None
    if isinstance(value, (Real, np.floating, np.integer)) and np.isfinite(value) and value >= 0:
        return float(value)
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


def _constrained_penalty(basis: SplineBasis, Z: Array, block: slice, j: int) -> Array:
    rows = basis.block(j)
    Zj = Z[rows, block]
    S = difference_penalty(int(basis.n_basis[j]))
    return Zj.T @ S @ Zj


def _fit_info(result: FitResult, basis: SplineBasis, alphas: list[float | None],
              weights: Array) -> dict[str, Any]:
    alpha = np.full(basis.n_features, np.nan)
    edf = np.zeros(basis.n_features)
    active = np.flatnonzero(basis.active)
    alpha[active] = result.alphas
    edf[active] = result.edf
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
    }
