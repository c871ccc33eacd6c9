"""The regularity tangent against finite differences of refits in log(alpha)."""

import numpy as np
from conftest import with_params

H = 1e-4  # step in s = log(alpha); central differences err by O(H^2)


def refit_at(est, X, y, w, ds):
    return with_params(est, alpha=est.alpha * np.exp(ds)).fit(X, y, sample_weight=w)


def relerr(a, b):
    return np.max(np.abs(np.asarray(a) - b)) / max(np.max(np.abs(b)), 1e-300)


def test_tangent_matches_central_differences(problem):
    est, X, y, w, X_query = problem
    est.fit(X, y, sample_weight=w)
    plus, minus = refit_at(est, X, y, w, H), refit_at(est, X, y, w, -H)

    if est.kernel is None:
        fd = (plus.coef_ - minus.coef_) / (2 * H)
        assert relerr(est.coef_tangent_, fd) < 1e-6
    else:
        fd = (plus.dual_coef_ - minus.dual_coef_) / (2 * H)
        assert relerr(est.dual_coef_tangent_, fd) < 1e-6
    fd_b = (plus.intercept_ - minus.intercept_) / (2 * H)
    if est.fit_intercept:
        assert abs(est.intercept_tangent_ - fd_b) < 1e-6 * max(abs(fd_b), 1e-3)
    else:
        assert est.intercept_tangent_ == 0.0

    fd_pred = (plus.predict(X_query) - minus.predict(X_query)) / (2 * H)
    assert relerr(est.predict_tangent(X_query), fd_pred) < 1e-6


def test_tangent_is_not_trivial(problem):
    """Guard against a test that cannot fail: the tangent moves predictions."""
    est, X, y, w, X_query = problem
    est.fit(X, y, sample_weight=w)
    assert np.max(np.abs(est.predict_tangent(X_query))) > 1e-3


def test_tangent_shrinks_the_penalised_part():
    """More penalty never increases ||beta||: d||beta||^2/ds = 2 beta.t <= 0."""
    from conftest import make_problem

    for case in [("linear", True, True, False), ("linear-dual", False, False, True)]:
        est, X, y, w, _ = make_problem(*case)
        est.fit(X, y, sample_weight=w)
        assert est.coef_ @ est.coef_tangent_ < 0
