"""scikit-learn's own estimator checks over every configuration."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sktangent import TangentRegressor

ESTIMATORS = [
    TangentRegressor(),
    TangentRegressor(fit_intercept=False),
    TangentRegressor(kernel="rbf"),
    TangentRegressor(kernel="linear", fit_intercept=False),
    TangentRegressor(kernel="poly", degree=2, gamma=0.1),
    TangentRegressor(kernel="precomputed"),
]

_INDEFINITE = (
    "the check centres a Gram matrix by its mean, which makes the precomputed "
    "kernel indefinite; TangentRegressor requires a positive semi-definite "
    "kernel and says so with a ValueError"
)


def expected_failures(estimator):
    if estimator.kernel == "precomputed":
        return {
            "check_positive_only_tag_during_fit": _INDEFINITE,
            "check_estimators_dtypes": _INDEFINITE,
        }
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
