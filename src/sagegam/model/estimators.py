"""scikit-learn estimators: :class:`GAMRegressor` and :class:`GAMClassifier`.

Both fit ``g(E[y]) = intercept + sum_j f_j(x_j) + sum_(j,k) f_jk(x_j, x_k)``: a smooth
per numeric feature, a shrunk effect per level of a categorical one, and chosen pairs as
tensor products. This module keeps scikit-learn's contract (parameters, validation,
fitted attributes); :mod:`~sagegam.model.learn` does the fitting and the fitted model lives
in ``predictor_`` (:class:`~sagegam.model.predictor.GAMPredictor`), which every prediction
and explanation goes through, so an estimator and its saved artifact can never disagree.
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
from sklearn.utils.validation import (
    _check_sample_weight,
    _check_y,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from sagegam.model.basis import EXTRAPOLATIONS
from sagegam.model.dask_collections import dask_aware
from sagegam.model.diagnostics import FitWarning
from sagegam.model.families import FAMILIES, REGRESSION_FAMILIES, Family
from sagegam.model.features import (
    categorical_mask,
    encode_columns,
    frame_columns,
    learn_schema,
    numeric_columns,
)
from sagegam.model.fitting import Settings
from sagegam.model.interpret import summary_text
from sagegam.model.knots import PLACEMENTS
from sagegam.model.learn import Problem, fit_model
from sagegam.model.options import (
    alpha_per_feature,
    curvature_per_feature,
    df_per_feature,
    monotone_per_feature,
    offset_columns,
    pair_alpha,
    refuse_offset_settings,
    regression_family,
)
from sagegam.model.predictor import Label, PredictionInterval
from sagegam.model.schema import HANDLE_UNKNOWN, Schema, UnknownCells
from sagegam.model.streaming import fit_out_of_memory, out_of_memory
from sagegam.model.terms import TermEffect
from sagegam.model.threads import single_threaded_blas

Array = NDArray[np.float64]


class _GAM(BaseEstimator):  # type: ignore[misc]
    """What both estimators share: settings, fitting, interpretation."""

    _parameter_constraints: dict[str, list[Any]] = {
        "df": [Interval(Integral, 4, None, closed="left"), dict],
        "degree": [Interval(Integral, 1, 5, closed="both")],
        "knots": [StrOptions(set(PLACEMENTS))],
        "monotonic_cst": ["array-like", dict, None],
        "curvature_cst": ["array-like", dict, None],
        "alpha": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left"), list, tuple,
                  dict, np.ndarray],
        "adaptive": [StrOptions({"auto"}), "boolean"],
        "extrapolation": [StrOptions(set(EXTRAPOLATIONS))],
        "categorical_features": [StrOptions({"from_dtype"}), "array-like", None],
        "offset": [str, Interval(Integral, 0, None, closed="left"), None],
        "exposure": [str, Interval(Integral, 0, None, closed="left"), None],
        "interactions": [StrOptions({"auto"}), Interval(Integral, 0, None, closed="left"),
                         list, tuple, None],
        "interaction_df": [Interval(Integral, 4, None, closed="left")],
        "handle_unknown": [StrOptions(set(HANDLE_UNKNOWN))],
        "discrete": [StrOptions({"auto"}), "boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        df: int = 25,
        degree: int = 3,
        knots: str = "auto",
        monotonic_cst: Any = None,
        curvature_cst: Any = None,
        alpha: Any = "auto",
        adaptive: Any = "auto",
        extrapolation: str = "linear",
        categorical_features: Any = "from_dtype",
        offset: Any = None,
        exposure: Any = None,
        interactions: Any = None,
        interaction_df: int = 7,
        handle_unknown: str = "error",
        discrete: Any = "auto",
        max_iter: int = 100,
        tol: float = 1e-9,
    ) -> None:
        self.df = df
        self.degree = degree
        self.knots = knots
        self.monotonic_cst = monotonic_cst
        self.curvature_cst = curvature_cst
        self.alpha = alpha
        self.adaptive = adaptive
        self.extrapolation = extrapolation
        self.categorical_features = categorical_features
        self.offset = offset
        self.exposure = exposure
        self.interactions = interactions
        self.interaction_df = interaction_df
        self.handle_unknown = handle_unknown
        self.discrete = discrete
        self.max_iter = max_iter
        self.tol = tol

    # -- fitting -----------------------------------------------------------------------

    def _validated(self, X: Any, y: Any, family: Family, *,
                   y_numeric: bool = False) -> tuple[Schema, Array, Any]:
        """The schema learnt from ``X``, ``X`` encoded, and ``y`` validated."""
        setting = self.categorical_features
        by_dtype = isinstance(setting, str) and setting == "from_dtype"
        if setting is None or (by_dtype and not _any_text(X)):
            X, y = validate_data(self, X, y, dtype=np.float64, ensure_all_finite="allow-nan",
                                 ensure_min_samples=2, y_numeric=y_numeric)
            names = self._names(X.shape[1])
            offsets = offset_columns(self.offset, self.exposure, names, family)
            mask = np.zeros(X.shape[1], dtype=bool)
            schema = learn_schema(list(X.T), names, mask, self.handle_unknown, {}, offsets)
            return schema, schema.encode(X), y
        # Mixed columns: validate names and counts here, the values column by column
        # (one object array of the whole frame would cost more than the fit's data pass).
        validate_data(self, X, y, skip_check_array=True)
        columns = frame_columns(X)
        names = self._names(len(columns))
        offsets = offset_columns(self.offset, self.exposure, names, family)
        mask = categorical_mask(X, setting, names)
        if not by_dtype:
            refuse_offset_settings(offsets, names, {"categorical_features": list(mask)})
        mask[list(offsets)] = False  # read as numbers: a text cell there is an error
        y = _check_y(y, y_numeric=y_numeric)
        check_consistent_length(columns[0] if columns else [], y)
        if len(y) < 2:
            raise ValueError(f"Found array with {len(y)} sample(s) while a minimum of 2 is "
                             "required.")
        values = numeric_columns(columns, names, mask)
        schema = learn_schema(values, names, mask, self.handle_unknown,
                              _pandas_categories(X, mask), offsets)
        return schema, encode_columns(schema, [values[j] if not mask[j] else c
                                               for j, c in enumerate(columns)]), y

    def _names(self, n_features: int) -> list[str]:
        names = getattr(self, "feature_names_in_", None)
        return [str(n) for n in names] if names is not None else [
            f"x{j}" for j in range(n_features)]

    def _fit_family(self, schema: Schema, codes: Array, y: Array, sample_weight: Any,
                    family: Family, classes: tuple[Label, ...] | None = None, *,
                    estimate_family: bool = False) -> None:
        names = self._names(len(schema.features))
        categorical = [f.categorical for f in schema.features]
        monotone = monotone_per_feature(self.monotonic_cst, names, categorical)
        curvature = curvature_per_feature(self.curvature_cst, names, categorical,
                                          self.extrapolation)
        settings = self._fit_settings(names, monotone, curvature)
        self._refuse_offset_settings(schema.offsets, names, settings[1], {
            "monotonic_cst": [sign != 0 for sign in monotone],
            "curvature_cst": [sign != 0 for sign in curvature]})
        weights = _check_sample_weight(sample_weight, codes, dtype=np.float64,
                                       ensure_non_negative=True)
        positive = int(np.count_nonzero(weights))
        if positive < 2:
            raise ValueError(f"sample_weight gives {positive} row(s) a positive weight; a fit "
                             "needs at least 2.")
        problem = Problem(schema, codes, y, weights, family, *settings, self.interactions,
                          estimate_family)
        with single_threaded_blas():
            self.predictor_ = fit_model(problem, classes)
        for finding in self.predictor_.info["warnings"]:
            category = ConvergenceWarning if finding["kind"] == "convergence" else FitWarning
            warnings.warn(finding["message"], category, stacklevel=3)
        self.n_iter_ = self.predictor_.info["n_iter"]

    def _refuse_offset_settings(self, offsets: dict[int, Any], names: list[str],
                                alphas: list[float | None],
                                shapes: dict[str, list[bool]] | None = None) -> None:
        """Refuse df, alpha (or ``shapes``) set for an offset column (it has no term)."""
        per_feature = isinstance(self.alpha, (dict, list, tuple, np.ndarray))
        refuse_offset_settings(offsets, names, {
            **(shapes or {}),
            "df": [isinstance(self.df, dict) and n in map(str, self.df) for n in names],
            "alpha": [per_feature and a is not None for a in alphas]})

    def _fit_settings(self, names: list[str], monotone: tuple[int, ...],
                      curvature: tuple[int, ...] = ()
                      ) -> tuple[Settings, list[float | None], float | None]:
        """Settings, penalty weight per feature (None: REML) and the pairs' weight."""
        df = df_per_feature(self.df, names)
        for name, size in [("df", d) for d in df] + [("interaction_df", self.interaction_df)]:
            if size <= self.degree:
                raise ValueError(
                    f"{name}={size} must exceed degree={self.degree}: a degree-{self.degree} "
                    f"spline needs at least {self.degree + 1} basis functions. Raise {name} "
                    "or lower degree.")
        settings = Settings(tuple(df), self.degree, self.adaptive, self.extrapolation,
                            self.max_iter, self.tol, self.interaction_df, self.discrete,
                            self.knots, monotone, curvature)
        return settings, alpha_per_feature(self.alpha, names), pair_alpha(self.alpha)

    # -- prediction and interpretation ---------------------------------------------------

    def _checked(self, X: Any) -> Array:
        """``X`` validated and encoded; unplaceable cells warned about when ignored."""
        check_is_fitted(self)
        schema = self.predictor_.schema
        unknown = UnknownCells()
        if schema.numeric_only:
            X = validate_data(self, X, reset=False, dtype=np.float64,
                              ensure_all_finite="allow-nan")
            codes = self.predictor_.encode(X, unknown)
        else:
            validate_data(self, X, reset=False, skip_check_array=True)
            codes = encode_columns(schema, frame_columns(X), unknown)
        if unknown.count:
            warnings.warn(f"{unknown.count} value(s) unknown to the model were given zero "
                          f"effect (handle_unknown='ignore'); first: "
                          f"{unknown.sentences()[0]}.", UserWarning, stacklevel=3)
        return codes

    @dask_aware
    def contributions(self, X: Any) -> Array:
        """Each term's additive part per row, on the link scale (columns: ``term_names_``).

        ``intercept_ + contributions(X).sum(axis=1)`` equals the linear predictor exactly,
        plus the offset (or the log of the exposure) for a model with one.
        """
        return self.predictor_.contributions_of(self._checked(X))

    def partial_dependence(self, term: Any, grid: Any = None, *,
                           level: float = 0.95) -> TermEffect:
        """One term's effect with standard errors and a ``level`` band: a curve for a
        numeric feature, one value per level for a categorical one, a grid for a pair
        (name it ``"a:b"`` or ``("a", "b")``)."""
        check_is_fitted(self)
        return self.predictor_.partial_dependence(term, grid, level=level)

    def predict_interval(self, X: Any, level: float = 0.95) -> PredictionInterval:
        """Predictions with standard errors and a pointwise ``level`` confidence interval
        for the mean (a probability for a classifier), on the link and response scales
        (:class:`~sagegam.model.predictor.PredictionInterval`). The uncertainty is the
        Bayesian posterior covariance of all coefficients, intercept included (mgcv's
        ``predict(se.fit = TRUE)``)."""
        return self.predictor_.predict_interval_of(self._checked(X), level)

    def summary(self) -> str:
        """A table of every term: edf, its test of being zero (reference df, statistic,
        approximate p-value: Wood 2013), penalty weight and how it was chosen, its range
        or levels, and each level's effect for a categorical feature."""
        check_is_fitted(self)
        return summary_text(self.predictor_)

    def plot(self, **kwargs: Any) -> Any:
        """Every term with its confidence band (needs matplotlib: ``sagegam[plot]``)."""
        from sagegam.model.plotting import plot_terms

        check_is_fitted(self)
        return plot_terms(self.predictor_, **kwargs)

    def explore(self, path: Any, X: Any = None, y: Any = None, **options: Any) -> Any:
        """Write the interactive explorer, one self-contained HTML file (see
        :func:`sagegam.explore.write_explorer` for ``X``, ``y`` and the options)."""
        from sagegam.explore import write_explorer

        check_is_fitted(self)
        return write_explorer(path, self.predictor_, X, y, **options)

    @property
    def intercept_(self) -> float:
        check_is_fitted(self)
        return self.predictor_.intercept

    @property
    def coef_(self) -> Array:
        check_is_fitted(self)
        return self.predictor_.coef

    @property
    def term_names_(self) -> tuple[str, ...]:
        """One name per term: the feature's, or ``"a:b"`` for a pair."""
        check_is_fitted(self)
        return self.predictor_.term_names

    @property
    def alpha_(self) -> Array:
        """Penalty weight per term, as selected or given (nan: unpenalized or constant)."""
        check_is_fitted(self)
        return np.array([np.nan if a is None else a for a in self.predictor_.info["alpha"]])

    @property
    def edf_(self) -> Array:
        """Effective degrees of freedom per term."""
        check_is_fitted(self)
        return np.asarray(self.predictor_.info["edf"], dtype=float)

    @property
    def p_values_(self) -> Array:
        """Approximate p-value per term of the test that it is zero (nan: no columns)."""
        check_is_fitted(self)
        return np.array([np.nan if test is None else test["p_value"]
                         for test in self.predictor_.info["tests"]])

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "predictor_")

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        return tags


class GAMRegressor(RegressorMixin, _GAM):  # type: ignore[misc]
    """Generalized additive regression with automatic smoothness selection.

    Parameters
    ----------
    df : int or dict, default=25
        Basis functions per numeric feature (the reference's ``df``); a dict sets it per
        feature name (others 25). With automatic ``alpha`` this is an upper bound on
        flexibility, not a smoothness choice: REML picks that, so the default leaves
        headroom for sharp features.
    degree : int, default=3
        Spline degree (3: cubic).
    monotonic_cst : array-like of {-1, 0, 1}, dict or None, default=None
        Shape constraints per numeric feature (scikit-learn's HistGradientBoosting
        convention): 1 increasing, -1 decreasing, 0 none; a dict sets some by name or index.
        Guaranteed everywhere the model predicts, beyond the training range included:
        the term's B-spline coefficients are fitted as non-negative increments
        (smoothness still by REML). A constrained feature cannot be in an interaction.
    curvature_cst : array-like of {-1, 0, 1}, dict or None, default=None
        The sign the second derivative must keep, per numeric feature (as
        ``monotonic_cst`` gives the first's): 1 convex, -1 concave, 0 none; a dict sets
        some by name or index. Combines with ``monotonic_cst`` on the same feature.
        Guaranteed everywhere the model predicts, beyond the training range included
        (the slopes of the term's B-spline are fitted as a start plus non-negative
        changes; smoothness still by REML). Not with ``extrapolation="constant"``; a
        constrained feature cannot be in an interaction.
    knots : {"auto", "uniform", "quantile", "balanced"}, default="auto"
        Where a numeric feature's knots go: equally spaced over its range, at quantiles
        of its distinct values, or balanced (half the intervals at quantiles, half
        spread over the range). "auto" keeps equally spaced knots unless an interval
        would hold more than 5 times its share of the values (outliers, long tails),
        and then balances them, so that one outlier cannot flatten a term.
    alpha : "auto", float, sequence or dict, default="auto"
        Weight of each term's penalty. "auto" selects it by REML; a number fixes it for
        every term; a sequence (one per feature) or a dict keyed by feature name mixes
        fixed values and "auto" for the main effects (pairs then use "auto").
    adaptive : "auto" or bool, default="auto"
        Let smoothness vary along each automatically smoothed numeric term (up to 5
        local penalty weights per term). "auto" keeps the adaptive fit only when its
        restricted likelihood beats the plain one by more than one unit per added
        weight (an AIC-style test); True always keeps it; False never tries it.
    family : {"gaussian", "poisson", "gamma", "tweedie", "negative_binomial"}, \
default="gaussian"
        Response distribution, with identity (gaussian) or log link. Tweedie (variance
        ``phi mu^power``, a mass at 0 and a continuous part: insurance claims) and the
        negative binomial (variance ``mu + mu^2 / theta``: over-dispersed counts) have
        a parameter of their own, below.
    power : "auto" or float in (1, 2), default="auto"
        The Tweedie family's variance power; "auto" estimates it by maximum likelihood
        (in [1.01, 1.99]) with the smoothness. Only with ``family="tweedie"``.
    theta : "auto" or float > 0, default="auto"
        The negative binomial's shape; "auto" estimates it by maximum likelihood with the
        smoothness. Only with ``family="negative_binomial"``.
    extrapolation : {"linear", "constant", "error"}, default="linear"
        What a smooth does outside its training range: continue along its tangent, hold
        its boundary value, or refuse with a ValueError.
    categorical_features : "from_dtype", array-like or None, default="from_dtype"
        Which features are categorical (scikit-learn's HistGradientBoosting convention):
        "from_dtype" takes pandas ``category``, ``object`` and ``string`` columns; or
        feature names, indices or one boolean per feature; None for none. Each becomes
        one effect per level, shrunk towards zero by a ridge penalty REML weighs (a
        random effect), so rare levels are pulled towards zero.
    offset : str, int or None, default=None
        A column of ``X`` (name or 0-based index) added to the linear predictor with
        coefficient 1; not a feature (no term, no smoothing), but read from every row in
        ``predict``, the artifact and the endpoint alike. Missing or infinite values are
        refused, naming row and column.
    exposure : str, int or None, default=None
        A column of positive exposures (time, size or count at risk) whose log is the
        offset, so the expected response scales with it: a rate model (mgcv's
        ``offset(log(E))``). Needs a log link; a value <= 0 is refused, naming row and
        column.
    interactions : None, "auto", int or list of pairs, default=None
        Pairs of features whose joint effect is more than the sum of their own: a list
        of pairs (names or indices), "auto" to find the significant pairs on the main
        effects' residuals, or an int ``k`` for the ``k`` strongest. Each pair is a
        tensor-product smooth without its main effects (mgcv's ``ti``): a surface for two
        numeric features, a curve per level for a numeric and a categorical one.
    interaction_df : int, default=7
        Basis functions per numeric feature of a pair.
    handle_unknown : {"error", "ignore"}, default="error"
        At prediction, a level not seen in training, or a missing value in a feature that
        had none in training: refuse with a ValueError naming row, column and value, or
        give it zero effect (with a warning; the endpoint says so in its answer).
        Missing values seen in training always have their own effect.
    discrete : "auto" or bool, default="auto"
        Fit on covariates rounded to at most 256 values each (64 in a pair), as mgcv's
        ``bam(discrete=TRUE)`` does: the Gram matrix then comes from cross-tabulations,
        several times faster on large data. "auto" does so from 100,000 rows. Predictions
        always use the exact values; False fits on them too.
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
        "power": [StrOptions({"auto"}), Interval(Real, 1, 2, closed="neither")],
        "theta": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        df: int = 25,
        degree: int = 3,
        knots: str = "auto",
        monotonic_cst: Any = None,
        curvature_cst: Any = None,
        alpha: Any = "auto",
        adaptive: Any = "auto",
        family: str = "gaussian",
        power: Any = "auto",
        theta: Any = "auto",
        extrapolation: str = "linear",
        categorical_features: Any = "from_dtype",
        offset: Any = None,
        exposure: Any = None,
        interactions: Any = None,
        interaction_df: int = 7,
        handle_unknown: str = "error",
        discrete: Any = "auto",
        max_iter: int = 100,
        tol: float = 1e-9,
    ) -> None:
        super().__init__(df=df, degree=degree, knots=knots, monotonic_cst=monotonic_cst,
                         curvature_cst=curvature_cst,
                         alpha=alpha, adaptive=adaptive,
                         extrapolation=extrapolation, categorical_features=categorical_features,
                         offset=offset, exposure=exposure,
                         interactions=interactions, interaction_df=interaction_df,
                         handle_unknown=handle_unknown, discrete=discrete, max_iter=max_iter,
                         tol=tol)
        self.family = family
        self.power = power
        self.theta = theta

    @_fit_context(prefer_skip_nested_validation=True)  # type: ignore[misc]
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> GAMRegressor:
        """Fit the model; ``X`` numeric or mixed (numpy or pandas), ``y`` numeric.

        ``X`` may also be data too large for memory: a Dask collection (``y`` one too) or
        a chunk source (:mod:`~sagegam.model.chunks`: files, shards), fitted in passes.
        """
        if out_of_memory(X):
            return fit_out_of_memory(self, X, y, sample_weight)  # type: ignore[no-any-return]
        family, estimate = regression_family(self.family, self.power, self.theta)
        schema, codes, y = self._validated(X, y, family, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        problem = family.valid_target(y)
        if problem is not None:
            raise ValueError(f"The target must hold {problem}; got values in "
                             f"[{y.min():g}, {y.max():g}].")
        self._fit_family(schema, codes, y, sample_weight, family, estimate_family=estimate)
        residual = y - self.predictor_.family.inverse_link(self.predictor_.link_of(codes))
        weights = _check_sample_weight(sample_weight, codes, dtype=np.float64)
        total = np.average((y - np.average(y, weights=weights)) ** 2, weights=weights)
        mse = float(np.average(residual**2, weights=weights))
        self.predictor_.info["train_r2"] = 1.0 - mse / total if total > 0 else 0.0
        self.predictor_.info["train_rmse"] = float(np.sqrt(mse))
        return self

    @dask_aware
    def predict(self, X: Any, return_std: bool = False) -> Array | tuple[Array, Array]:
        """Expected response (the inverse link of the linear predictor); with
        ``return_std``, also its standard error (delta method on the Bayesian posterior
        covariance; :meth:`predict_interval` gives intervals on both scales)."""
        codes = self._checked(X)
        if return_std:
            interval = self.predictor_.predict_interval_of(codes)
            return interval.mean, interval.std
        return self.predictor_.family.inverse_link(self.predictor_.link_of(codes))

    @property
    def power_(self) -> float:
        """The Tweedie family's variance power, as given or estimated."""
        return self._family_parameter("power")

    @property
    def theta_(self) -> float:
        """The negative binomial's theta, as given or estimated."""
        return self._family_parameter("theta")

    def _family_parameter(self, name: str) -> float:
        check_is_fitted(self)
        parameters = self.predictor_.family.parameters
        if name not in parameters:
            raise AttributeError(f"A {self.predictor_.family.name} model has no {name}_.")
        return parameters[name]


class GAMClassifier(ClassifierMixin, _GAM):  # type: ignore[misc]
    """Binary generalized additive classification (logistic link), smoothness by REML.

    Parameters are those of :class:`GAMRegressor` without ``family``, ``power`` and
    ``theta``; ``offset`` adds to the log-odds, and ``exposure`` (which needs a log link)
    is refused.

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
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> GAMClassifier:
        """Fit the model; ``y`` must hold exactly two classes (any labels). ``X`` may be
        data too large for memory, as for :meth:`GAMRegressor.fit`."""
        if out_of_memory(X):
            return fit_out_of_memory(self, X, y, sample_weight)  # type: ignore[no-any-return]
        schema, codes, y = self._validated(X, y, FAMILIES["binomial"])
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2 or type_of_target(y) not in ("binary",):
            raise ValueError(
                "Only binary classification is supported: GAMClassifier needs a target with "
                f"exactly 2 classes; got {len(self.classes_)}: {self.classes_[:5].tolist()}."
            )
        target = (y == self.classes_[1]).astype(np.float64)
        classes = tuple(c.item() if hasattr(c, "item") else c for c in self.classes_)
        self._fit_family(schema, codes, target, sample_weight, FAMILIES["binomial"], classes)
        weights = _check_sample_weight(sample_weight, codes, dtype=np.float64)
        eta = self.predictor_.link_of(codes)
        p = np.clip(self.predictor_.family.inverse_link(eta), 1e-15, 1 - 1e-15)
        loss = -(target * np.log(p) + (1 - target) * np.log1p(-p))
        self.predictor_.info["train_log_loss"] = float(np.average(loss, weights=weights))
        self.predictor_.info["train_accuracy"] = float(
            np.average((p > 0.5) == (target > 0.5), weights=weights))
        return self

    @dask_aware
    def decision_function(self, X: Any) -> Array:
        """The linear predictor (log-odds of ``classes_[1]``), offset included."""
        codes = self._checked(X)
        return self.predictor_.link_of(codes)

    @dask_aware
    def predict_proba(self, X: Any) -> Array:
        eta = self.decision_function(X)
        positive = self.predictor_.family.inverse_link(eta)
        return np.column_stack([1.0 - positive, positive])

    @dask_aware
    def predict(self, X: Any) -> NDArray[Any]:
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(np.intp)]  # type: ignore[no-any-return]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags


def _any_text(X: Any) -> bool:
    """Whether a DataFrame has a column "from_dtype" takes as categorical."""
    dtypes = getattr(X, "dtypes", None)
    return dtypes is not None and bool(categorical_mask(X, "from_dtype",
                                                        [str(c) for c in X.columns]).any())


def _pandas_categories(X: Any, mask: NDArray[np.bool_]) -> dict[int, list[Any]]:
    """The category order of pandas ``category`` columns among the categorical ones."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None:
        return {}
    return {j: list(X.iloc[:, j].cat.categories) for j, dtype in enumerate(dtypes)
            if mask[j] and str(dtype) == "category"}
