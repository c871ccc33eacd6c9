"""The model shapes (sktangent/_models.py) against explicit formulas.

Every number here is recomputed independently: ``X @ beta``, scikit-learn's
``pairwise_kernels`` and the centred Gram matrix written out densely.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics.pairwise import pairwise_kernels

from sktangent import _models
from sktangent._models import (
    CentredLinearKernel,
    KernelModel,
    LinearDualModel,
    LinearModel,
    constant_columns,
    kernel_diagonal,
    kernel_dot,
    kernel_matrix,
    make_model,
    row_blocks,
)

KERNELS = [
    ("rbf", {"gamma": 0.3}),
    ("laplacian", {"gamma": 0.2}),
    ("linear", {}),
    ("polynomial", {"gamma": 0.5, "degree": 3, "coef0": 1.0}),
    ("sigmoid", {"gamma": 0.1, "coef0": 0.2}),
    ("cosine", {}),
]


def data(rng, n=13, p=4, sparse=False, nonnegative=False):
    X = rng.normal(size=(n, p)) + 0.5
    if nonnegative:
        X = np.abs(X)
    X[rng.uniform(size=X.shape) < 0.3] = 0.0
    return sp.csr_matrix(X) if sparse else X


def weights(rng, n, weighted):
    return rng.uniform(0.5, 2.0, size=n) if weighted else np.ones(n)


def as_dense(X):
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def centred_reference(X, w, fit_intercept):
    """The rows centred at the weighted mean, constant columns exactly zero."""
    X = as_dense(X)
    if not fit_intercept:
        return X.copy()
    Xc = X - (w @ X) / np.sum(w)
    Xc[:, np.all(X == X[0], axis=0)] = 0.0
    return Xc


# ----------------------------------------------------------------- eta
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("n_columns", [None, 2])
def test_linear_eta_is_X_beta(sparse, n_columns, rng):
    X = data(rng, sparse=sparse)
    shape = (4,) if n_columns is None else (4, n_columns)
    coefs = rng.normal(size=shape)
    out = LinearModel(4).eta(X, coefs)
    assert out.shape == (13,) + shape[1:]
    np.testing.assert_allclose(out, as_dense(X) @ coefs, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("kernel, params", KERNELS)
@pytest.mark.parametrize("n_columns", [None, 2])
def test_kernel_eta_is_the_kernel_rows_times_c(kernel, params, n_columns, rng):
    X_fit, X = data(rng, n=9), data(rng, n=11)
    c = rng.normal(size=(9,) if n_columns is None else (9, n_columns))
    model = KernelModel(kernel, params, X_fit)
    expected = pairwise_kernels(X, X_fit, metric=kernel, **params) @ c
    np.testing.assert_allclose(model.eta(X, c), expected, rtol=1e-12, atol=1e-12)


def test_kernel_eta_in_many_blocks(monkeypatch, rng):
    """Blocks of 3 rows give the same predictions as one block."""
    X_fit, X = data(rng, n=9), data(rng, n=11)
    c = rng.normal(size=9)
    expected = pairwise_kernels(X, X_fit, metric="rbf", gamma=0.3) @ c
    monkeypatch.setattr(_models, "_BLOCK_ELEMENTS", 3 * 9)
    assert len(row_blocks(11, 9)) == 4
    out = kernel_dot(X, X_fit, c, "rbf", {"gamma": 0.3})
    np.testing.assert_allclose(out, expected, rtol=1e-13)


@pytest.mark.parametrize("sparse", [False, True])
def test_precomputed_kernel_eta_and_rows(sparse, rng):
    X_fit, X = data(rng, n=9), data(rng, n=6)
    K_query = pairwise_kernels(X, X_fit, metric="rbf", gamma=0.3)
    given = sp.csr_matrix(K_query) if sparse else K_query
    model = KernelModel("precomputed", {}, pairwise_kernels(X_fit, metric="rbf"))
    assert model.precomputed and model.dual
    c = rng.normal(size=9)
    np.testing.assert_allclose(model.eta(given, c), K_query @ c, rtol=1e-13)
    rows = model.rows(given)
    assert isinstance(rows, np.ndarray)
    np.testing.assert_array_equal(rows, K_query)
    np.testing.assert_array_equal(model.prior(given, None, training=True), K_query)


def test_precomputed_kernel_has_no_prior_between_query_points(rng):
    K = pairwise_kernels(data(rng, n=5), metric="rbf")
    model = KernelModel("precomputed", {}, K)
    with pytest.raises(ValueError, match="precomputed"):
        model.prior(K, K)
    with pytest.raises(ValueError, match="precomputed"):
        model.prior_diagonal(K)
    with pytest.raises(ValueError, match="precomputed"):
        kernel_diagonal(K, "precomputed", {})


# ------------------------------------------------------- rows and prior
@pytest.mark.parametrize("kernel, params", KERNELS)
@pytest.mark.parametrize("sparse", [False, True])
def test_kernel_rows_and_prior_are_pairwise_kernels(kernel, params, sparse, rng):
    X_fit = data(rng, n=9, sparse=sparse)
    Xa, Xb = data(rng, n=7, sparse=sparse), data(rng, n=5, sparse=sparse)
    model = KernelModel(kernel, params, X_fit)
    np.testing.assert_allclose(
        model.rows(Xa),
        pairwise_kernels(as_dense(Xa), as_dense(X_fit), metric=kernel, **params),
        rtol=1e-12,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        model.prior(Xa, Xb),
        pairwise_kernels(as_dense(Xa), as_dense(Xb), metric=kernel, **params),
        rtol=1e-12,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        model.prior_diagonal(Xa), np.diag(model.prior(Xa, Xa)), rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(
        model.gram(),
        pairwise_kernels(as_dense(X_fit), metric=kernel, **params),
        rtol=1e-12,
        atol=1e-12,
    )


@pytest.mark.parametrize("sparse", [False, True])
def test_linear_model_rows_are_the_rows_and_has_no_prior(sparse, rng):
    X = data(rng, sparse=sparse)
    model = LinearModel(4)
    assert model.rows(X) is X
    assert model.prior(X, X) is None and model.prior_diagonal(X) is None
    assert not model.dual and model.width == 4
    beta = rng.normal(size=4)
    assert model.coefficients(beta, 0.3) == (beta, 0.3)


# ------------------------------------------------------ kernel diagonal
@pytest.mark.parametrize(
    "kernel, params",
    KERNELS + [("chi2", {"gamma": 0.7}), ("additive_chi2", {})],
)
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("n", [5, 70])  # one block and several of 32 rows
def test_kernel_diagonal_matches_the_full_matrix(kernel, params, sparse, n, rng):
    nonnegative = "chi2" in kernel
    X = data(rng, n=n, nonnegative=nonnegative)
    if sparse and "chi2" in kernel:
        pytest.skip("scikit-learn's chi2 kernels do not take sparse input")
    given = sp.csr_matrix(X) if sparse else X
    expected = np.diag(pairwise_kernels(X, metric=kernel, **params))
    np.testing.assert_allclose(
        kernel_diagonal(given, kernel, params), expected, rtol=1e-12, atol=1e-12
    )


def test_kernel_diagonal_of_a_callable_kernel(rng):
    X = data(rng, n=40)

    def kernel(a, b):
        return (1.0 + a @ b) ** 2

    expected = np.diag(pairwise_kernels(X, metric=kernel))
    np.testing.assert_allclose(kernel_diagonal(X, kernel, {}), expected, rtol=1e-12)
    np.testing.assert_allclose(
        kernel_matrix(X, X[:3], kernel, {}),
        pairwise_kernels(X, X[:3], metric=kernel),
        rtol=1e-12,
    )


# ------------------------------------------------------ linear dual model
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_linear_dual_kernel_is_the_centred_gram_matrix(
    fit_intercept, weighted, sparse, rng
):
    n, p = 8, 15
    X = data(rng, n=n, p=p, sparse=sparse)
    w = weights(rng, n, weighted)
    Xq, Xr = data(rng, n=5, p=p, sparse=sparse), data(rng, n=3, p=p, sparse=sparse)
    model = LinearDualModel(X, w, fit_intercept)
    m = (w @ as_dense(X)) / np.sum(w) if fit_intercept else np.zeros(p)
    np.testing.assert_allclose(model.offset, m, rtol=1e-13, atol=1e-15)
    Xc = centred_reference(X, w, fit_intercept)
    Qc, Rc = as_dense(Xq) - m, as_dense(Xr) - m
    tol = {"rtol": 1e-11, "atol": 1e-12}
    np.testing.assert_allclose(model.gram(), Xc @ Xc.T, **tol)
    np.testing.assert_allclose(model(Xq), Qc @ Xc.T, **tol)
    np.testing.assert_allclose(model.rows(Xq), Qc @ Xc.T, **tol)
    np.testing.assert_allclose(model(Xq, Xr), Qc @ Rc.T, **tol)
    np.testing.assert_allclose(model.prior(Xq, Xr), Qc @ Rc.T, **tol)
    np.testing.assert_allclose(model.prior_diagonal(Xq), np.sum(Qc**2, axis=1), **tol)
    np.testing.assert_allclose(
        model.prior_diagonal(Xq), np.diag(model.prior(Xq, Xq)), **tol
    )
    np.testing.assert_allclose(model.offset_dot(Xq), Qc @ m, **tol)
    np.testing.assert_allclose(model.offset_dot(), Xc @ m, **tol)
    np.testing.assert_allclose(model.centred(Xq), Qc, **tol)
    C = rng.normal(size=(n, 2))
    np.testing.assert_allclose(model.coef(C), Xc.T @ C, **tol)
    assert model.dual and model.width == n
    assert isinstance(model, CentredLinearKernel)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_linear_dual_sparse_equals_dense(fit_intercept, weighted, rng):
    n, p = 8, 15
    X = data(rng, n=n, p=p)
    X[:, 3] = 2.5  # a constant column, handled apart in the sparse path
    w = weights(rng, n, weighted)
    Xq = data(rng, n=5, p=p)
    dense_model = LinearDualModel(X, w, fit_intercept)
    sparse_model = LinearDualModel(sp.csr_matrix(X), w, fit_intercept)
    tol = {"rtol": 1e-11, "atol": 1e-12}
    np.testing.assert_allclose(sparse_model.gram(), dense_model.gram(), **tol)
    for Q in (Xq, sp.csr_matrix(Xq)):
        np.testing.assert_allclose(sparse_model(Q), dense_model(Q), **tol)
        np.testing.assert_allclose(
            sparse_model.diagonal(Q), dense_model.diagonal(Q), **tol
        )
        np.testing.assert_allclose(
            sparse_model.offset_dot(Q), dense_model.offset_dot(Q), **tol
        )
    np.testing.assert_allclose(
        sparse_model.offset_dot(), dense_model.offset_dot(), **tol
    )
    c = rng.normal(size=n)
    c -= c.mean()
    np.testing.assert_allclose(sparse_model.coef(c), dense_model.coef(c), **tol)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_linear_dual_constant_columns_are_exactly_zero(sparse, weighted, rng):
    n, p = 7, 12
    X = data(rng, n=n, p=p)
    # A large value that a weighted mean need not reproduce exactly.
    X[:, 2] = 1e6 + 0.1
    X[:, 5] = -3.3
    w = weights(rng, n, weighted)
    given = sp.csr_matrix(X) if sparse else X
    model = LinearDualModel(given, w, True)
    assert np.array_equal(np.flatnonzero(model.constant), [2, 5])
    assert model.offset[2] == X[0, 2] and model.offset[5] == X[0, 5]
    Xq = data(rng, n=4, p=p)
    Xq[:, 2], Xq[:, 5] = X[0, 2], X[0, 5]
    assert np.all(model.centred(Xq)[:, [2, 5]] == 0.0)
    beta = model.coef(rng.normal(size=(n, 3)))
    assert np.all(beta[[2, 5]] == 0.0)
    # The kernel ignores the constant columns: it equals the kernel without them.
    keep = np.setdiff1d(np.arange(p), [2, 5])
    reduced = LinearDualModel(X[:, keep], w, True)
    np.testing.assert_allclose(model.gram(), reduced.gram(), rtol=1e-10, atol=1e-10)
    q = sp.csr_matrix(Xq) if sparse else Xq
    np.testing.assert_allclose(model(q), reduced(Xq[:, keep]), rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_linear_dual_coefficients_give_the_same_predictions(
    fit_intercept, weighted, sparse, rng
):
    n, p = 8, 15
    X = data(rng, n=n, p=p, sparse=sparse)
    w = weights(rng, n, weighted)
    model = LinearDualModel(X, w, fit_intercept)
    c = rng.normal(size=n)
    if fit_intercept:
        c -= c.mean()  # the bordered system's constraint sum(c) = 0
    b = 0.7 if fit_intercept else 0.0
    beta, intercept = model.coefficients(c, b)
    K = model.gram()
    np.testing.assert_allclose(
        as_dense(X) @ beta + intercept, K @ c + b, rtol=1e-10, atol=1e-10
    )
    np.testing.assert_allclose(model.eta(X, beta), as_dense(X) @ beta, rtol=1e-12)
    # Also at new rows: x' beta + b' = k(x, X) c + b, the offset cancelling
    # because sum(c) = 0 (always, without an intercept, where m = 0).
    Xq = data(rng, n=4, p=p)
    np.testing.assert_allclose(
        Xq @ beta + intercept, model(Xq) @ c + b, rtol=1e-10, atol=1e-10
    )


# ------------------------------------------------------- the penalty
@pytest.mark.parametrize("shape", ["primal", "linear-dual", "kernel"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_penalise_is_the_penalty_matrix_times_coef(shape, fit_intercept, rng):
    n = 9
    X = data(rng, n=n, p=4 if shape != "linear-dual" else 14)
    w = weights(rng, n, True)
    model = make_model(shape, X, w, fit_intercept, "rbf", {"gamma": 0.3})
    design = model.gram() if model.dual else X
    coef = rng.normal(size=design.shape[1])
    P = model.penalty_matrix(design)
    assert P.shape == (design.shape[1],) * 2
    np.testing.assert_allclose(model.penalise(design, coef), P @ coef, rtol=1e-13)
    expected = np.eye(4) if shape == "primal" else design
    np.testing.assert_array_equal(P, expected)


@pytest.mark.parametrize(
    "shape, cls", [("primal", LinearModel), ("linear-dual", LinearDualModel)]
)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_make_model_linear_shapes(shape, cls, fit_intercept, rng):
    X = data(rng, n=6, p=10)
    model = make_model(shape, X, np.ones(6), fit_intercept)
    assert type(model) is cls
    assert model.kernel is None and model.dual == (shape == "linear-dual")
    if shape == "primal":
        assert model.n_features == 10
    else:
        assert model.fit_intercept == fit_intercept and model.n_fit == 6


def test_make_model_kernel_shape(rng):
    X = data(rng, n=6)
    model = make_model("kernel", X, np.ones(6), True, "rbf", {"gamma": 0.3})
    assert type(model) is KernelModel
    assert model.kernel == "rbf" and model.params == {"gamma": 0.3}
    assert model.X_fit is X and model.width == 6 and model.dual
    assert make_model("kernel", X, np.ones(6), True, "linear").params == {}


# -------------------------------------------------- row blocks, constants
@pytest.mark.parametrize("n_rows", [0, 1, 7, 100, 1001])
@pytest.mark.parametrize("n_cols", [0, 1, 3, 50])
def test_row_blocks_cover_every_row_once(monkeypatch, n_rows, n_cols):
    monkeypatch.setattr(_models, "_BLOCK_ELEMENTS", 150)
    blocks = row_blocks(n_rows, n_cols)
    covered = np.concatenate(
        [np.arange(n_rows)[b] for b in blocks] + [np.array([], dtype=int)]
    )
    np.testing.assert_array_equal(covered, np.arange(n_rows))
    largest = max(1, 150 // max(n_cols, 1))
    assert all(0 < b.stop - b.start <= largest for b in blocks)


@pytest.mark.parametrize("sparse", [False, True])
def test_constant_columns(sparse, rng):
    X = rng.normal(size=(6, 5))
    X[:, 1] = 0.0
    X[:, 3] = 4.2
    X[:5, 4] = 4.2  # constant but for one row
    given = sp.csr_matrix(X) if sparse else X
    np.testing.assert_array_equal(
        constant_columns(given), [False, True, False, True, False]
    )
    assert not np.any(constant_columns(np.zeros((0, 3))))
