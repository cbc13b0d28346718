"""Both estimators honour scikit-learn's estimator contract, every check included."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sagegam import GAMClassifier, GAMRegressor


@parametrize_with_checks([GAMRegressor(), GAMClassifier()])
def test_estimator_passes_scikit_learn_check(estimator, check):
    check(estimator)
