"""return_std against closed-form Bayesian posteriors."""

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import make_problem
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
from sklearn.metrics.pairwise import pairwise_kernels


def _dense(X):
    return X.toarray() if sp.issparse(X) else X


@pytest.mark.parametrize("model", ["linear", "linear-dual"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_linear_std_is_the_bayesian_ridge_posterior(
    model, fit_intercept, weighted, sparse
):
    """Prior beta ~ N(0, phi/alpha I), flat prior on b, noise N(0, phi / w)."""
    est, X, y, w, X_query = make_problem(model, fit_intercept, weighted, sparse)
    est.fit(X, y, sample_weight=w)
    Xd, Xq = _dense(X), _dense(X_query)
    w0 = np.ones(Xd.shape[0]) if w is None else w
    if fit_intercept:
        Xd = np.column_stack([Xd, np.ones(Xd.shape[0])])
        Xq = np.column_stack([Xq, np.ones(Xq.shape[0])])
    P = np.eye(Xd.shape[1])
    if fit_intercept:
        P[-1, -1] = 0.0
    phi = est.dispersion_
    posterior_cov = phi * np.linalg.inv(Xd.T @ (w0[:, None] * Xd) + est.alpha * P)
    var_f = np.einsum("ij,jk,ik->i", Xq, posterior_cov, Xq)
    mean, std = est.predict(X_query, return_std=True)
    np.testing.assert_allclose(mean, Xq @ (posterior_cov @ (Xd.T @ (w0 * y))) / phi)
    np.testing.assert_allclose(std, np.sqrt(var_f + phi), rtol=1e-8)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_kernel_std_is_the_gaussian_process_posterior(fit_intercept, weighted):
    """Prior f ~ GP(0, phi/alpha k), flat prior on b (explicit basis)."""
    est, X, y, w, X_query = make_problem("rbf", fit_intercept, weighted, False)
    est.fit(X, y, sample_weight=w)
    phi, alpha = est.dispersion_, est.alpha
    w0 = np.ones(X.shape[0]) if w is None else w
    K = pairwise_kernels(X, metric="rbf", gamma=est.gamma)
    Ks = pairwise_kernels(X_query, X, metric="rbf", gamma=est.gamma)
    Ky = (phi / alpha) * K + np.diag(phi / w0)
    kss = phi / alpha * np.ones(X_query.shape[0])
    var_f = kss - np.einsum(
        "ij,ji->i", (phi / alpha) * Ks, np.linalg.solve(Ky, (phi / alpha) * Ks.T)
    )
    if fit_intercept:
        # Rasmussen & Williams (2006), eq. 2.42, with h(x) = 1 and a vague prior.
        ones = np.ones(X.shape[0])
        Ky_inv_1 = np.linalg.solve(Ky, ones)
        R = 1.0 - (phi / alpha) * Ks @ Ky_inv_1
        var_f = var_f + R**2 / (ones @ Ky_inv_1)
    _, std = est.predict(X_query, return_std=True)
    np.testing.assert_allclose(std, np.sqrt(var_f + phi), rtol=1e-8)


def test_kernel_std_matches_sklearn_gaussian_process():
    est, X, y, _, X_query = make_problem("rbf", False, False, False)
    est.fit(X, y)
    phi, alpha = est.dispersion_, est.alpha
    kernel = ConstantKernel(phi / alpha, "fixed") * RBF(
        1.0 / np.sqrt(2 * est.gamma), "fixed"
    ) + WhiteKernel(phi, "fixed")
    gp = GaussianProcessRegressor(kernel, optimizer=None).fit(X, y)
    gp_mean, gp_std = gp.predict(X_query, return_std=True)
    mean, std = est.predict(X_query, return_std=True)
    np.testing.assert_allclose(mean, gp_mean, rtol=1e-8)
    np.testing.assert_allclose(std, gp_std, rtol=1e-8)


def test_std_grows_away_from_the_data():
    est, X, y, _, _ = make_problem("linear", True, False, False)
    est.fit(X, y)
    centre = np.asarray(X.mean(axis=0)).reshape(1, -1)
    far = centre + 10.0
    assert (
        est.predict(far, return_std=True)[1][0]
        > est.predict(centre, return_std=True)[1][0]
    )
