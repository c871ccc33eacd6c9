"""Parametrisations of the linear predictor.

* linear: ``eta = X beta + b``, penalty ``||beta||^2``;
* kernel: ``eta(x) = sum_j c_j k(x, x_j) + b``, penalty ``c' K c``.

This module evaluates kernels and applies fitted coefficients to new rows in
chunks, so that no ``n_query x n_train`` kernel block larger than a few tens
of megabytes is ever held in memory.
"""

import numpy as np
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.utils.extmath import safe_sparse_dot

# Elements of one kernel block (float64): 2**22 is 32 MiB.
_BLOCK_ELEMENTS = 2**22
# Rows per block when only the diagonal k(x, x) is wanted.
_DIAG_BLOCK = 32
# Kernels with k(x, x) = 1 for every x: exp(-gamma * d(x, x)) with d(x, x) = 0.
_UNIT_DIAGONAL = ("rbf", "laplacian", "chi2")


def kernel_params(estimator):
    """The keyword arguments ``pairwise_kernels`` needs for ``estimator.kernel``.

    Mirrors :class:`sklearn.kernel_ridge.KernelRidge`, so the same parameters
    give the same kernel.
    """
    if callable(estimator.kernel):
        return dict(estimator.kernel_params or {})
    return {
        "gamma": estimator.gamma,
        "degree": estimator.degree,
        "coef0": estimator.coef0,
    }


def kernel_matrix(X, Y, kernel, params):
    """``k(X, Y)`` as a dense array (``X`` itself for a precomputed kernel)."""
    if kernel == "precomputed":
        return np.asarray(X.toarray() if hasattr(X, "toarray") else X)
    return pairwise_kernels(X, Y, metric=kernel, filter_params=True, **params)


def kernel_diagonal(X, kernel, params):
    """``k(x, x)`` for every row of ``X``."""
    if kernel == "precomputed":
        raise ValueError(
            "With kernel='precomputed' the values k(x, x) of the query points "
            "are unknown, so the predictive variance cannot be computed. Use a "
            "named or callable kernel for return_std=True."
        )
    n = X.shape[0]
    if isinstance(kernel, str) and kernel in _UNIT_DIAGONAL:
        return np.ones(n)
    if isinstance(kernel, str) and kernel == "linear":
        return np.asarray(
            X.multiply(X).sum(axis=1)
            if hasattr(X, "multiply")
            else np.einsum("ij,ij->i", X, X)
        ).ravel()
    # Any other kernel: its diagonal block by block, through pairwise_kernels.
    out = np.empty(n)
    for start in range(0, n, _DIAG_BLOCK):
        block = X[start : start + _DIAG_BLOCK]
        out[start : start + _DIAG_BLOCK] = np.diag(
            kernel_matrix(block, block, kernel, params)
        )
    return out


def row_blocks(n_rows, n_cols):
    """Slices of at most ``_BLOCK_ELEMENTS / n_cols`` rows covering ``n_rows``."""
    step = max(1, _BLOCK_ELEMENTS // max(n_cols, 1))
    return [slice(i, min(i + step, n_rows)) for i in range(0, n_rows, step)]


def kernel_dot(X, X_fit, coefs, kernel, params):
    """``k(X, X_fit) @ coefs`` computed block by block of rows of ``X``."""
    coefs = np.asarray(coefs)
    if kernel == "precomputed":
        return safe_sparse_dot(X, coefs, dense_output=True)
    out = np.empty((X.shape[0],) + coefs.shape[1:])
    for rows in row_blocks(X.shape[0], X_fit.shape[0]):
        out[rows] = kernel_matrix(X[rows], X_fit, kernel, params) @ coefs
    return out
