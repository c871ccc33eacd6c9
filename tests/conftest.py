"""Shared problem generators: one seeded random state, no wall clock."""

import numpy as np
import pytest
import scipy.sparse as sp

from sktangent import TangentRegressor

ALPHA = 0.7
GAMMA = 0.2

#: (model, fit_intercept, weighted, sparse) -- every configuration the tests
#: sweep. "linear-dual" has more features than samples, so the linear model
#: is solved through its dual (the linear kernel).
CASES = [
    (model, fit_intercept, weighted, sparse)
    for model in ("linear", "linear-dual", "rbf")
    for fit_intercept in (True, False)
    for weighted in (False, True)
    for sparse in (False, True)
]


def case_id(case):
    model, fit_intercept, weighted, sparse = case
    return "-".join(
        [
            model,
            "intercept" if fit_intercept else "nointercept",
            "weighted" if weighted else "unweighted",
            "sparse" if sparse else "dense",
        ]
    )


def make_problem(model, fit_intercept, weighted, sparse, seed=0):
    """Return ``(estimator, X, y, sample_weight, X_query)`` for one case."""
    rng = np.random.RandomState(seed)
    n, p = (12, 20) if model == "linear-dual" else (30, 4)
    X = rng.normal(size=(n, p)) + 0.5
    X[rng.uniform(size=X.shape) < 0.3] = 0.0  # something for sparse to skip
    beta = rng.normal(size=p)
    y = X @ beta + 0.3 * rng.normal(size=n) + 1.5
    w = rng.uniform(0.5, 2.0, size=n) if weighted else None
    X_query = rng.normal(size=(5, p)) + 0.5
    if sparse:
        X, X_query = sp.csr_matrix(X), sp.csr_matrix(X_query)
    kernel = "rbf" if model == "rbf" else None
    est = TangentRegressor(
        alpha=ALPHA, kernel=kernel, gamma=GAMMA, fit_intercept=fit_intercept
    )
    return est, X, y, w, X_query


@pytest.fixture(params=CASES, ids=case_id)
def problem(request):
    return make_problem(*request.param)


@pytest.fixture
def rng():
    return np.random.RandomState(42)


def with_params(est, **params):
    from sklearn.base import clone

    return clone(est).set_params(**params)


def complexity(est):
    """``C = (alpha / 2) Omega(theta*)`` of a fitted estimator."""
    from sklearn.metrics.pairwise import pairwise_kernels

    if est.kernel is None:
        return 0.5 * est.alpha * float(est.coef_ @ est.coef_)
    K = pairwise_kernels(est.X_fit_, metric=est.kernel, gamma=est.gamma)
    return 0.5 * est.alpha * float(est.dual_coef_ @ K @ est.dual_coef_)


def add_point(X, y, w, x_new, y_new, weight):
    """Training data with one more row of the given weight."""
    import scipy.sparse as sp

    w = np.ones(X.shape[0]) if w is None else w
    X_new = sp.vstack([X, x_new]).tocsr() if sp.issparse(X) else np.vstack([X, x_new])
    return X_new, np.append(y, y_new), np.append(w, weight)
