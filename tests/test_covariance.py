"""The posterior covariance scale S(x, x') behind std, batches and influences."""

import numpy as np
import pytest
from conftest import make_problem
from test_glm import make_glm_problem

CASES = [
    ("linear", True, True, False),
    ("linear", False, False, True),
    ("linear-dual", True, True, False),
    ("linear-dual", False, False, True),
    ("rbf", True, True, False),
    ("rbf", False, False, True),
]


@pytest.mark.parametrize("case", CASES)
def test_cross_scale_is_symmetric_and_matches_the_diagonal(case):
    est, X, y, w, X_query = make_problem(*case)
    est.fit(X, y, sample_weight=w)
    S = est._cross_variance_scale(X_query, X_query)
    np.testing.assert_allclose(S, S.T, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(np.diag(S), est._variance_scale(X_query), rtol=1e-10)
    assert np.all(np.linalg.eigvalsh(S) > -1e-12)


@pytest.mark.parametrize("solver", ["newton-cholesky", "lbfgs"])
def test_cross_scale_of_glms(solver):
    est, X, y, w, X_query = make_glm_problem(("poisson", None), "linear", True, True)
    est.set_params(solver=solver, tol=1e-8).fit(X, y, sample_weight=w)
    S = est._cross_variance_scale(X_query, X[:3])
    rows = np.column_stack([X_query, np.ones(4)])
    train = np.column_stack([X[:3], np.ones(3)])
    from sktangent._objective import Objective

    obj = Objective(est._family, X, y, w, est.alpha, True, kernel=False)
    H = obj.hessian(np.append(est.coef_, est.intercept_))
    np.testing.assert_allclose(S, rows @ np.linalg.solve(H, train.T), rtol=1e-6)
