"""The posterior covariance scale S(x, x') behind std, batches and influences."""

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import make_glm_problem, make_problem

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
    S = est.fitted_state_.cross_variance_scale(X_query, X_query)
    np.testing.assert_allclose(S, S.T, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(
        np.diag(S), est.fitted_state_.variance_scale(X_query), rtol=1e-10
    )
    assert np.all(np.linalg.eigvalsh(S) > -1e-12)


@pytest.mark.parametrize("solver", ["newton-cholesky", "lbfgs"])
def test_cross_scale_of_glms(solver):
    est, X, y, w, X_query = make_glm_problem(("poisson", None), "linear", True, True)
    est.set_params(solver=solver, tol=1e-8).fit(X, y, sample_weight=w)
    S = est.fitted_state_.cross_variance_scale(X_query, X[:3])
    rows = np.column_stack([X_query, np.ones(4)])
    train = np.column_stack([X[:3], np.ones(3)])
    from sktangent._models import LinearModel
    from sktangent._objective import Objective

    obj = Objective(
        est.fitted_state_.family, LinearModel(X.shape[1]), X, y, w, est.alpha, True
    )
    H = obj.hessian(np.append(est.coef_, est.intercept_))
    np.testing.assert_allclose(S, rows @ np.linalg.solve(H, train.T), rtol=1e-6)


@pytest.mark.parametrize(
    "kernel, params",
    [
        ("rbf", {"gamma": 0.3}),
        ("laplacian", {"gamma": 0.3}),
        ("chi2", {"gamma": 0.7}),
        ("linear", {}),
        ("polynomial", {"gamma": 0.2, "degree": 3, "coef0": 1}),
        ("sigmoid", {"gamma": 0.1, "coef0": 0.5}),
    ],
)
@pytest.mark.parametrize("sparse", [False, True])
def test_kernel_diagonal_equals_the_diagonal_of_the_kernel_matrix(
    kernel, params, sparse
):
    from sklearn.metrics.pairwise import pairwise_kernels

    from sktangent._models import kernel_diagonal

    X = np.random.RandomState(0).uniform(0.1, 2, size=(70, 4))
    if sparse and kernel == "chi2":
        pytest.skip("chi2 takes dense input only")
    A = sp.csr_matrix(X) if sparse else X
    expected = np.diag(pairwise_kernels(A, A, metric=kernel, **params))
    np.testing.assert_allclose(
        kernel_diagonal(A, kernel, params), expected, rtol=1e-13, atol=1e-14
    )
