"""Same minimiser as scikit-learn's Ridge and KernelRidge."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.metrics.pairwise import pairwise_kernels

from sktangent import TangentRegressor


@pytest.mark.parametrize("shape", [(60, 8), (15, 40)], ids=["primal", "dual"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_linear_matches_ridge(shape, fit_intercept, weighted, sparse, rng):
    X = rng.normal(size=shape) + 2.0
    y = X @ rng.normal(size=shape[1]) + rng.normal(size=shape[0]) + 3.0
    w = rng.uniform(0.1, 3.0, size=shape[0]) if weighted else None
    # The reference is always dense Cholesky: Ridge's sparse solvers are
    # iterative and would limit the comparison to their tolerance.
    ref = Ridge(alpha=2.5, fit_intercept=fit_intercept, solver="cholesky")
    ref.fit(X, y, sample_weight=w)
    Xfit = sp.csc_matrix(X) if sparse else X
    est = TangentRegressor(alpha=2.5, fit_intercept=fit_intercept)
    est.fit(Xfit, y, sample_weight=w)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-8)
    np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(est.predict(Xfit), ref.predict(X), rtol=1e-8)


def _callable_kernel(a, b):
    return float(np.exp(-0.3 * np.sum(np.abs(a - b))))


@pytest.mark.parametrize(
    "kernel, params",
    [
        ("rbf", {"gamma": 0.2}),
        ("laplacian", {"gamma": 0.1}),
        ("poly", {"degree": 2, "coef0": 1.0, "gamma": 0.1}),
        ("linear", {}),
        (_callable_kernel, {}),
    ],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_kernel_matches_kernel_ridge(kernel, params, weighted, rng):
    X = rng.normal(size=(40, 3))
    y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=40)
    w = rng.uniform(0.1, 3.0, size=40) if weighted else None
    ref = KernelRidge(alpha=0.5, kernel=kernel, **params).fit(X, y, sample_weight=w)
    est = TangentRegressor(alpha=0.5, kernel=kernel, fit_intercept=False, **params)
    est.fit(X, y, sample_weight=w)
    np.testing.assert_allclose(est.dual_coef_, ref.dual_coef_, rtol=1e-8)
    X_test = rng.normal(size=(7, 3))
    np.testing.assert_allclose(est.predict(X_test), ref.predict(X_test), rtol=1e-8)


def test_precomputed_kernel_matches_named_kernel(rng):
    X = rng.normal(size=(30, 2))
    y = X[:, 0] ** 2 + 0.1 * rng.normal(size=30)
    X_test = rng.normal(size=(6, 2))
    named = TangentRegressor(alpha=0.3, kernel="rbf", gamma=0.5).fit(X, y)
    K = pairwise_kernels(X, metric="rbf", gamma=0.5)
    K_before = K.copy()
    pre = TangentRegressor(alpha=0.3, kernel="precomputed").fit(K, y)
    np.testing.assert_array_equal(K, K_before)  # the user's matrix is untouched
    K_test = pairwise_kernels(X_test, X, metric="rbf", gamma=0.5)
    np.testing.assert_allclose(pre.predict(K_test), named.predict(X_test), rtol=1e-10)
    np.testing.assert_allclose(
        pre.influence_score(K_test), named.influence_score(X_test), rtol=1e-8
    )
    with pytest.raises(ValueError, match="precomputed"):
        pre.predict(K_test, return_std=True)


def test_kernel_intercept_is_unpenalised(rng):
    """Shifting y by a constant moves only the intercept."""
    X = rng.normal(size=(25, 2))
    y = np.cos(X[:, 1]) + 0.1 * rng.normal(size=25)
    a = TangentRegressor(alpha=1.0, kernel="rbf").fit(X, y)
    b = TangentRegressor(alpha=1.0, kernel="rbf").fit(X, y + 100.0)
    np.testing.assert_allclose(b.dual_coef_, a.dual_coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.intercept_, a.intercept_ + 100.0, rtol=1e-12)
    np.testing.assert_allclose(np.sum(a.dual_coef_), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.sum(a.dual_coef_tangent_), 0.0, atol=1e-12)
