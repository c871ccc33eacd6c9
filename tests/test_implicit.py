"""The Hessians at the optimum (sktangent/_implicit.py) against dense algebra.

Each Hessian is built at the optimum of a fitted problem and compared with
an independent computation: the dense ``H`` of :class:`Objective` (primal,
conjugate gradients), the bordered matrix ``M = [[D K + alpha I, D 1], [1',
0]]`` written out here (dual), the function-space formula of ``S`` for a
kernel model, and finite differences of refits in ``log alpha``.
"""

from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import draw_targets

from sktangent._families import get_family
from sktangent._implicit import (
    CGHessian,
    DualHessian,
    IllConditionedError,
    PrimalHessian,
)
from sktangent._models import KernelModel, LinearDualModel, LinearModel
from sktangent._objective import Objective
from sktangent._solvers import ClosedForm, Newton

FAMILIES = [
    ("normal", None),
    ("poisson", None),
    ("gamma", None),
    ("binomial", None),
    ("tweedie", 1.5),
]
ALPHA = 0.8
GAMMA = 0.5


def solve_problem(obj, tol=1e-12):
    """The optimum of ``obj``: closed form for normal, Newton otherwise.

    The solver works on a copy of the design (the closed form of a dual
    model overwrites its kernel matrix with the factor).
    """
    work = Objective(
        obj.family,
        obj.model,
        obj.design.copy(),
        obj.y,
        obj.w,
        obj.alpha,
        obj.fit_intercept,
    )
    if obj.family.constant_variance:
        solver = ClosedForm()
    else:
        solver = Newton(max_iter=200, tol=tol)
    result = solver.solve(work)
    return result, obj.join(result.coef, result.intercept)


def with_alpha(obj, alpha):
    return Objective(
        obj.family,
        obj.model,
        obj.design,
        obj.y,
        obj.w,
        alpha,
        obj.fit_intercept,
    )


def make_fit(kind, family, fit_intercept, weighted, sparse=False, seed=0):
    """A fitted problem: ``kind`` is "primal", "cg", "dual" (rbf) or "linear-dual".

    Returns the objective (with the pristine design), the optimum, the
    Hessian at it, the curvature ``d``, training and query rows.
    """
    rng = np.random.RandomState(seed)
    name, power = family
    n, p = {"primal": (20, 3), "cg": (20, 3), "dual": (15, 2)}.get(kind, (8, 14))
    X = 0.4 * rng.normal(size=(n, p)) + 0.2
    if kind in ("primal", "cg"):
        X[rng.uniform(size=X.shape) < 0.3] = 0.0
    eta = X @ rng.normal(size=p) if kind != "dual" else np.sin(2 * X[:, 0])
    y = draw_targets(name, eta + 0.3, rng)
    w = rng.uniform(0.5, 2.0, size=n) if weighted else np.ones(n)
    if weighted:
        w[3] = 0.0  # a row the fit ignores: d = 0 there
    X_query = 0.4 * rng.normal(size=(4, p)) + 0.2
    X_query = np.vstack([X_query, X[:3]])  # some training points too
    if sparse:
        X, X_query = sp.csr_matrix(X), sp.csr_matrix(X_query)
    if kind == "dual":
        model = KernelModel("rbf", {"gamma": GAMMA}, X)
    elif kind == "linear-dual":
        model = LinearDualModel(X, w, fit_intercept)
    else:
        model = LinearModel(p)
    design = model.gram() if model.dual else X
    fam = get_family(name, power)
    obj = Objective(fam, model, design, y, w, ALPHA, fit_intercept)
    result, theta = solve_problem(obj)
    d = obj.curvature_weights(theta)
    hess = result.hessian
    if kind == "cg":
        hess = CGHessian(obj, d, rtol=1e-12)
    return SimpleNamespace(
        kind=kind,
        obj=obj,
        theta=theta,
        hess=hess,
        d=d,
        X=X,
        X_query=X_query,
        model=model,
        rng=rng,
    )


def dense(X):
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def with_ones(X, fit_intercept):
    X = dense(X)
    return np.column_stack([X, np.ones(X.shape[0])]) if fit_intercept else X


def bordered_matrix(K, d, alpha, fit_intercept):
    """``M = [[D K + alpha I, D 1], [1', 0]]`` (no border without intercept)."""
    n = K.shape[0]
    top = d[:, None] * K + alpha * np.eye(n)
    if not fit_intercept:
        return top
    M = np.zeros((n + 1, n + 1))
    M[:n, :n] = top
    M[:n, n] = d
    M[n, :n] = 1.0
    return M


def dense_matrix(fit):
    """The matrix every solve of ``fit.hess`` is checked against."""
    if fit.hess.factorisation == "dual":
        return bordered_matrix(fit.obj.design, fit.d, ALPHA, fit.obj.fit_intercept)
    return fit.obj.hessian(fit.theta)


def primal_S(X, d, alpha, fit_intercept, Xa, Xb):
    """``x~' H^-1 x~'`` with ``H = X~' D X~ + alpha P`` written out."""
    Xt = with_ones(X, fit_intercept)
    H = Xt.T @ (d[:, None] * Xt)
    p = dense(X).shape[1]
    H[:p, :p] += alpha * np.eye(p)
    return with_ones(Xa, fit_intercept) @ np.linalg.solve(
        H, with_ones(Xb, fit_intercept).T
    )


def function_space_S(K, d, alpha, fit_intercept, Ka, Kb, prior):
    """``S(x, x')`` of a kernel model from the Gaussian-process formula.

    Prior ``f ~ GP(0, k / alpha)``, a flat prior on the intercept, and a
    Gaussian likelihood of precision ``D``; rows with ``d = 0`` carry no
    information and are dropped. ``G = K + alpha D^-1``, ``r = 1 - 1'G^-1 k``:
    ``alpha S = k(x, x') - k_x' G^-1 k_x' + r r' / (1' G^-1 1)``.
    """
    pos = d > 0
    G = K[np.ix_(pos, pos)] + alpha * np.diag(1.0 / d[pos])
    A, B = Ka[:, pos], Kb[:, pos]
    S = prior - A @ np.linalg.solve(G, B.T)
    if fit_intercept:
        g1 = np.linalg.solve(G, np.ones(pos.sum()))
        S = S + np.outer(1.0 - A @ g1, 1.0 - B @ g1) / g1.sum()
    return S / alpha


def reference_S(fit, Xa, Xb):
    """``S`` between query rows, by a route independent of the Hessian classes."""
    fi = fit.obj.fit_intercept
    if fit.kind == "dual":
        m = fit.model
        return function_space_S(
            fit.obj.design, fit.d, ALPHA, fi, m.rows(Xa), m.rows(Xb), m.prior(Xa, Xb)
        )
    # The linear model solved in the dual is the primal linear model.
    return primal_S(fit.X, fit.d, ALPHA, fi, Xa, Xb)


def rows_and_prior(fit, Xa, Xb=None):
    m = fit.model
    rows = m.rows(Xa)
    if Xb is None:
        return rows, m.prior_diagonal(Xa)
    return rows, m.prior(Xa, Xb)


def right_hand_side(fit, rng):
    """A random ``g``: zero where ``d = 0`` for the dual, a non-zero border."""
    g = rng.normal(size=fit.hess.n_params)
    if fit.hess.factorisation == "dual":
        g[: fit.d.size][fit.d == 0] = 0.0
    return g


FIT_CASES = [
    (kind, fam, fi, weighted, sparse)
    for kind in ("primal", "cg", "dual", "linear-dual")
    for fam in FAMILIES
    for fi in (True, False)
    for weighted in (False, True)
    for sparse in (False, True)
    # The rbf kernel of sparse rows is the same dense K; the linear model in
    # the dual is the closed form of the normal family only.
    if not (kind == "dual" and sparse)
    and not (kind == "linear-dual" and fam[0] != "normal")
]


def fit_id(case):
    kind, (name, power), fi, weighted, sparse = case
    return "-".join(
        [
            kind,
            name if power is None else f"{name}{power}",
            "intercept" if fi else "nointercept",
            "weighted" if weighted else "unweighted",
            "sparse" if sparse else "dense",
        ]
    )


@pytest.fixture(params=FIT_CASES, ids=fit_id, scope="module")
def fit(request):
    return make_fit(*request.param)


@pytest.fixture(
    params=[c for c in FIT_CASES if c[0] == "dual"], ids=fit_id, scope="module"
)
def kernel_fit(request):
    return make_fit(*request.param)


@pytest.fixture(
    params=[c for c in FIT_CASES if c[0] != "cg"], ids=fit_id, scope="module"
)
def factorised_fit(request):
    return make_fit(*request.param)


# ------------------------------------------------------------------ solves
def test_hessian_is_the_expected_class(fit):
    expected = {
        "primal": PrimalHessian,
        "cg": CGHessian,
        "dual": DualHessian,
        "linear-dual": DualHessian,
    }[fit.kind]
    assert type(fit.hess) is expected
    assert fit.hess.n_params == fit.obj.n_params


def test_solve_matches_the_dense_matrix(fit):
    g = right_hand_side(fit, np.random.RandomState(1))
    expected = np.linalg.solve(dense_matrix(fit), g)
    rtol = 1e-7 if fit.kind == "cg" else 1e-9
    np.testing.assert_allclose(
        fit.hess.solve(g), expected, rtol=rtol, atol=rtol * np.max(np.abs(expected))
    )


def test_tangent_is_minus_the_solve_of_rho(fit):
    rho = fit.obj.rho(fit.theta)
    t = fit.hess.tangent(rho)
    np.testing.assert_allclose(t, -fit.hess.solve(rho), rtol=1e-12, atol=1e-15)
    expected = -np.linalg.solve(dense_matrix(fit), rho)
    rtol = 1e-7 if fit.kind == "cg" else 1e-9
    np.testing.assert_allclose(t, expected, rtol=rtol, atol=rtol * np.max(np.abs(t)))


def test_dual_tangent_is_the_objective_hessian_tangent(kernel_fit):
    """For a kernel model ``M`` is the Hessian with ``K`` factored out: the
    tangent of the predictions at the training points is ``-H^-1 (K rho)``
    with the objective's dense ``H`` (invertible: the rbf kernel matrix of
    distinct points is positive definite, unlike the centred linear one)."""
    fit = kernel_fit
    obj, theta = fit.obj, fit.theta
    rho = obj.rho(theta)
    in_theta = rho.copy()
    in_theta[: obj.n_coef] = obj.design @ rho[: obj.n_coef]
    t_dense = -np.linalg.solve(obj.hessian(theta), in_theta)
    t = fit.hess.tangent(rho)
    n = obj.n_coef
    b_dense = t_dense[n] if obj.fit_intercept else 0.0
    b = t[n] if obj.fit_intercept else 0.0
    expected = obj.design @ t_dense[:n] + b_dense
    np.testing.assert_allclose(
        obj.design @ t[:n] + b, expected, rtol=1e-7, atol=1e-9 * np.abs(expected).max()
    )


def test_tangent_matches_refits_in_log_alpha(fit):
    """``t = d theta / d log alpha`` against central differences of refits."""
    obj, h = fit.obj, 1e-4
    _, theta_plus = solve_problem(with_alpha(obj, ALPHA * np.exp(h)))
    _, theta_minus = solve_problem(with_alpha(obj, ALPHA * np.exp(-h)))
    fd = (theta_plus - theta_minus) / (2 * h)
    t = fit.hess.tangent(obj.rho(fit.theta))
    if fit.kind == "linear-dual":
        # c is identified only up to the kernel's null space: compare what
        # the estimator keeps, beta = Xc' c and the intercept of the rows.
        def primal(v):
            c, b = obj.split(v)
            return np.append(*fit.model.coefficients(c, b))

        t, fd = primal(t), primal(fd)
    np.testing.assert_allclose(t, fd, rtol=1e-5, atol=1e-6 * np.max(np.abs(t)))


# -------------------------------------------------------------- covariance
def test_covariance_scale_agrees_with_the_dense_formula(fit):
    hess, Xq = fit.hess, fit.X_query
    Xa, Xb = Xq[:4], Xq[2:]
    expected_ab = reference_S(fit, Xa, Xb)
    expected_all = reference_S(fit, Xq, Xq)
    tol = {"rtol": 1e-7, "atol": 1e-9 * np.abs(expected_all).max()}

    rows_a, prior_ab = rows_and_prior(fit, Xa, Xb)
    rows_b = fit.model.rows(Xb)
    W_b = hess.whiten(rows_b)
    np.testing.assert_allclose(hess.cross(rows_a, W_b, prior_ab), expected_ab, **tol)
    np.testing.assert_allclose(
        hess.cross_variance_scale(rows_a, rows_b, prior_ab), expected_ab, **tol
    )

    rows, prior_all = rows_and_prior(fit, Xq, Xq)
    W = hess.whiten(rows)
    a, b = np.arange(4), np.arange(2, Xq.shape[0])
    np.testing.assert_allclose(hess.among(W, a, b, prior_ab), expected_ab, **tol)
    prior_aa = None if prior_all is None else prior_all[:4, :4]
    np.testing.assert_allclose(
        hess.among(W, a, a, prior_aa), expected_all[:4, :4], **tol
    )

    _, prior_diag = rows_and_prior(fit, Xq)
    diagonal = np.diag(expected_all)
    np.testing.assert_allclose(hess.diag(W, prior_diag), diagonal, **tol)
    np.testing.assert_allclose(hess.variance_scale(rows, prior_diag), diagonal, **tol)
    assert np.all(diagonal > 0)


def test_stack_of_whitened_blocks_is_the_whitened_rows(fit):
    hess = fit.hess
    rows = fit.model.rows(fit.X_query)
    parts = [hess.whiten(rows[:2]), hess.whiten(rows[2:5]), hess.whiten(rows[5:])]
    stacked, whole = hess.stack(parts), hess.whiten(rows)
    if isinstance(whole, tuple):
        assert len(stacked) == len(whole)
        for s, w in zip(stacked, whole, strict=True):
            np.testing.assert_allclose(dense(s), dense(w), rtol=1e-10, atol=1e-12)
    else:
        np.testing.assert_allclose(stacked, whole, rtol=1e-12, atol=1e-14)
    prior = fit.model.prior_diagonal(fit.X_query)
    np.testing.assert_allclose(
        hess.diag(stacked, prior), hess.diag(whole, prior), rtol=1e-10
    )


def test_effective_dof_is_the_trace_of_the_hat_matrix(fit):
    """``trace(H^-1 X~' D X~) = sum_i d_i S(x_i, x_i)`` over the training rows."""
    X = fit.X
    expected = float(fit.d @ np.diag(reference_S(fit, X, X)))
    if fit.kind != "dual":
        Xt = with_ones(X, fit.obj.fit_intercept)
        H = Xt.T @ (fit.d[:, None] * Xt)
        p = Xt.shape[1] - fit.obj.fit_intercept
        H[:p, :p] += ALPHA * np.eye(p)
        direct = np.trace(np.linalg.solve(H, Xt.T @ (fit.d[:, None] * Xt)))
        np.testing.assert_allclose(direct, expected, rtol=1e-10)
    # Hutchinson's estimator with its 30 seeded probes is within 2% on these
    # problems; 5% leaves room without hiding a wrong trace.
    rtol = 0.05 if fit.kind == "cg" else 1e-9
    np.testing.assert_allclose(fit.hess.effective_dof(), expected, rtol=rtol)


def test_variance_scale_alpha_derivative_at_fixed_curvature(factorised_fit):
    """(CGHessian does not define it.)"""
    fit = factorised_fit
    h = 1e-5
    rows, prior_diag = rows_and_prior(fit, fit.X_query)
    cls = type(fit.hess)
    design = fit.obj.design if fit.hess.factorisation == "dual" else fit.X

    def S(alpha):
        hess = cls(design, fit.d, alpha, fit.obj.fit_intercept)
        return hess.variance_scale(rows, prior_diag)

    fd = (S(ALPHA * np.exp(h)) - S(ALPHA * np.exp(-h))) / (2 * h)
    out = fit.hess.variance_scale_alpha_derivative(rows, prior_diag)
    np.testing.assert_allclose(out, fd, rtol=1e-6, atol=1e-9 * np.abs(fd).max())


def test_directions_are_the_solves_of_the_rows(fit):
    """``H^-1 x~`` in the coordinates of the estimator's coefficients."""
    if fit.kind == "dual":
        W = fit.hess.whiten(fit.model.rows(fit.X_query))
        with pytest.raises(ValueError, match="function space"):
            fit.model.directions(fit.hess, W, fit.X_query, ALPHA)
        return
    fi = fit.obj.fit_intercept
    Xt = with_ones(fit.X, fi)
    H = Xt.T @ (fit.d[:, None] * Xt)
    p = Xt.shape[1] - fi
    H[:p, :p] += ALPHA * np.eye(p)
    expected = np.linalg.solve(H, with_ones(fit.X_query, fi).T).T
    W = fit.hess.whiten(fit.model.rows(fit.X_query))
    out = fit.model.directions(fit.hess, W, fit.X_query, ALPHA)
    rtol = 1e-7 if fit.kind == "cg" else 1e-9
    np.testing.assert_allclose(
        out, expected, rtol=rtol, atol=rtol * np.abs(expected).max()
    )


# ------------------------------------------------------ conjugate gradients
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_hutchinson_is_exact_when_the_inverse_is_diagonal(fit_intercept, rng):
    """Centred orthogonal columns with unit weights make ``H^-1 P`` diagonal,
    where Rademacher probes are exact: the estimate is the trace."""
    n, p = 30, 5
    Q, _ = np.linalg.qr(rng.normal(size=(n, p)))
    Q -= Q.mean(axis=0)
    Q, _ = np.linalg.qr(Q)  # still centred: a combination of centred columns
    X = Q * np.array([3.0, 2.0, 1.0, 0.5, 0.1])
    y = rng.normal(size=n)
    obj = Objective(
        get_family("normal"), LinearModel(p), X, y, np.ones(n), ALPHA, fit_intercept
    )
    hess = CGHessian(obj, np.ones(n), n_probes=3)
    s2 = np.array([9.0, 4.0, 1.0, 0.25, 0.01])
    expected = np.sum(s2 / (s2 + ALPHA)) + fit_intercept
    np.testing.assert_allclose(hess.effective_dof(), expected, rtol=1e-9)
    primal = PrimalHessian(X, np.ones(n), ALPHA, fit_intercept)
    np.testing.assert_allclose(primal.effective_dof(), expected, rtol=1e-12)


def test_cg_solve_of_zero_is_zero():
    X = np.eye(3)
    obj = Objective(
        get_family("normal"), LinearModel(3), X, np.ones(3), np.ones(3), 1.0, True
    )
    assert np.array_equal(CGHessian(obj, np.ones(3)).solve(np.zeros(4)), np.zeros(4))


# ------------------------------------------------------------ singularity
def duplicated_columns(rng, n=12):
    x = rng.normal(size=(n, 1))
    return np.hstack([x, x, rng.normal(size=(n, 1))])


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [1e-300, 0.0])
def test_primal_singular_problem_raises(fit_intercept, alpha, rng):
    X = duplicated_columns(rng)
    with pytest.raises(IllConditionedError, match="(?i)increase alpha"):
        PrimalHessian(X, np.ones(X.shape[0]), alpha, fit_intercept)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_dual_singular_problem_raises(fit_intercept, rng):
    X = rng.normal(size=(6, 2))
    X = np.vstack([X, X[:2]])  # repeated rows: a singular kernel matrix
    K = KernelModel("rbf", {"gamma": 0.5}, X).gram()
    with pytest.raises(IllConditionedError, match="(?i)increase alpha"):
        DualHessian(K, np.ones(X.shape[0]), 1e-300, fit_intercept)


def test_cg_on_a_singular_problem_raises(rng):
    X = duplicated_columns(rng)
    obj = Objective(
        get_family("normal"), LinearModel(3), X, X[:, 2], np.ones(12), 1e-300, False
    )
    hess = CGHessian(obj, np.ones(12))
    # scipy's CG divides by zero on its way to giving up: no warnings.
    # e_1 is not in the range of X'X (its null space holds e_1 - e_2).
    with (
        np.errstate(all="ignore"),
        pytest.raises(IllConditionedError, match="(?i)increase alpha"),
    ):
        hess.solve(np.array([1.0, 0.0, 0.0]))


def test_ill_conditioned_error_is_a_value_error():
    assert issubclass(IllConditionedError, ValueError)


def test_non_finite_hessian_is_a_value_error(rng):
    X = rng.normal(size=(5, 2))
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        PrimalHessian(X, np.ones(5), 1.0, False)
