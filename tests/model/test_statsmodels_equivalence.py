"""Given the same basis and penalty, our solver and statsmodels' GLMGam agree."""

import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.gam.api import BSplines, GLMGam

from sagegam.model.design import DenseDesign
from sagegam.model.families import FAMILIES
from sagegam.model.solver import Penalty, penalized_irls

N_ROWS = 400
ALPHAS = [2.0, 5.0]


def _data(family: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(0, 1, size=(N_ROWS, 2))
    eta = np.sin(3 * x[:, 0]) + x[:, 1]
    if family == "gaussian":
        return x, eta + rng.normal(0, 0.3, N_ROWS)
    if family == "binomial":
        return x, (rng.random(N_ROWS) < 1 / (1 + np.exp(-eta))).astype(float)
    return x, rng.poisson(np.exp(eta)).astype(float)


STATSMODELS_FAMILIES = {
    "gaussian": sm.families.Gaussian,
    "binomial": sm.families.Binomial,
    "poisson": sm.families.Poisson,
}


@pytest.mark.parametrize("family", ["gaussian", "binomial", "poisson"])
def test_solver_matches_statsmodels_glmgam_coefficients_and_predictions(family):
    x, y = _data(family, np.random.default_rng(7))
    smoother = BSplines(x, df=[8, 8], degree=[3, 3])
    reference = GLMGam(y, exog=np.ones((N_ROWS, 1)), smoother=smoother, alpha=ALPHAS,
                       family=STATSMODELS_FAMILIES[family]()).fit()
    design = np.column_stack([np.ones(N_ROWS), smoother.basis])
    first = smoother.smoothers[0].dim_basis
    penalties = [
        Penalty(slice(1, 1 + first), smoother.penalty_matrices[0], ALPHAS[0]),
        Penalty(slice(1 + first, design.shape[1]), smoother.penalty_matrices[1], ALPHAS[1]),
    ]

    ours = penalized_irls(DenseDesign(design), y, np.ones(N_ROWS), FAMILIES[family],
                          penalties, tol=1e-13)

    np.testing.assert_allclose(ours.coef, reference.params, rtol=1e-6, atol=1e-9)
    predicted = FAMILIES[family].inverse_link(design @ ours.coef)
    np.testing.assert_allclose(predicted, reference.fittedvalues, rtol=1e-6)
