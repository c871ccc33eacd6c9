"""The solvers (sktangent/_solvers.py): which one is chosen, and what it returns.

A solver's result is checked for what it claims to be: a stationary point of
the objective (its gradient, computed independently by
:class:`~sktangent._objective.Objective`, vanishes), the same optimum as the
other solvers, and predictions ``eta = design @ coef + intercept``.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import draw_targets
from sklearn.exceptions import ConvergenceWarning

from sktangent._families import get_family
from sktangent._implicit import CGHessian, DualHessian, PrimalHessian
from sktangent._models import KernelModel, LinearDualModel, LinearModel, make_model
from sktangent._objective import Objective
from sktangent._solvers import (
    LBFGS,
    MAX_DENSE_PARAMS,
    ClosedForm,
    FitResult,
    Newton,
    choose_solver,
    finish,
)

FAMILIES = [
    ("normal", None),
    ("poisson", None),
    ("gamma", None),
    ("binomial", None),
    ("tweedie", 1.5),
]
FAMILY_IDS = [name if power is None else f"{name}{power}" for name, power in FAMILIES]
OPTIONS = {"max_iter": 500, "tol": 1e-10}
# L-BFGS's line search compares values of J: from a relative gradient of
# about 1e-9 on, its decrease is below rounding and it stalls, so it is
# asked for less.
LBFGS_OPTIONS = {"max_iter": 500, "tol": 1e-8}


def problem(
    shape, family, fit_intercept, weighted, sparse=False, alpha=0.8, seed=0, p=None
):
    """``(objective, X)`` for a model ``shape`` ("primal", "kernel",
    "linear-dual"); the objective's design is never handed to a solver
    (see :func:`run`)."""
    rng = np.random.RandomState(seed)
    n, p_default = {"primal": (25, 4), "kernel": (15, 2)}.get(shape, (10, 25))
    p = p or p_default
    X = 0.4 * rng.normal(size=(n, p)) + 0.2
    X[rng.uniform(size=X.shape) < 0.3] = 0.0
    eta = X @ (rng.normal(size=p) / np.sqrt(p / 4)) + 0.3
    name, power = family
    y = draw_targets(name, eta, rng)
    w = rng.uniform(0.5, 2.0, size=n) if weighted else np.ones(n)
    if weighted:
        w[2] = 0.0
    if sparse:
        X = sp.csr_matrix(X)
    model = make_model(shape, X, w, fit_intercept, "rbf", {"gamma": 0.5})
    design = model.gram() if model.dual else X
    obj = Objective(get_family(name, power), model, design, y, w, alpha, fit_intercept)
    return obj, X


def copy_of(obj):
    """The same objective on a copy of its design: the closed form of a dual
    model overwrites the kernel matrix it is given with its factor."""
    return Objective(
        obj.family,
        obj.model,
        obj.design.copy(),
        obj.y,
        obj.w,
        obj.alpha,
        obj.fit_intercept,
    )


def run(solver, obj, start=None):
    """Solve a copy of ``obj``, failing on a ConvergenceWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        result = solver.solve(copy_of(obj), start=start)
    assert isinstance(result, FitResult)
    return result, obj.join(result.coef, result.intercept)


def dense(X):
    return X.toarray() if sp.issparse(X) else np.asarray(X)


SOLVERS = {
    "cholesky": lambda: ClosedForm(**OPTIONS),
    "newton": lambda: Newton(**OPTIONS),
    "lbfgs": lambda: LBFGS(**LBFGS_OPTIONS),
}

SOLVER_CASES = [
    (solver, shape, family, fi, weighted, sparse)
    for solver, shape in [
        ("cholesky", "primal"),
        ("cholesky", "kernel"),
        ("cholesky", "linear-dual"),
        ("newton", "primal"),
        ("newton", "kernel"),
        ("lbfgs", "primal"),
    ]
    for family in FAMILIES
    for fi in (True, False)
    for weighted in (False, True)
    for sparse in (False, True)
    if (solver != "cholesky" or family[0] == "normal")
    and not (shape == "kernel" and sparse)
]


def solver_id(case):
    solver, shape, (name, power), fi, weighted, sparse = case
    return "-".join(
        [
            solver,
            shape,
            name if power is None else f"{name}{power}",
            "intercept" if fi else "nointercept",
            "weighted" if weighted else "unweighted",
            "sparse" if sparse else "dense",
        ]
    )


SOLVER_PARAMS = [pytest.param(*case, id=solver_id(case)) for case in SOLVER_CASES]


# -------------------------------------------------------------- the table
@pytest.mark.parametrize(
    "name, family, kernel, n, p, fit_intercept, cls, shape",
    [
        ("auto", "normal", None, 50, 5, True, ClosedForm, "primal"),
        ("auto", "normal", None, 10, 50, True, ClosedForm, "linear-dual"),
        ("auto", "normal", None, 10, 50, False, ClosedForm, "linear-dual"),
        ("auto", "normal", None, 50, 50, True, ClosedForm, "primal"),
        ("auto", "normal", None, 100, 3000, True, ClosedForm, "linear-dual"),
        ("auto", "normal", None, 5000, 3000, True, ClosedForm, "primal"),
        ("auto", "normal", "rbf", 10, 50, True, ClosedForm, "kernel"),
        ("auto", "normal", "precomputed", 10, 10, False, ClosedForm, "kernel"),
        ("auto", "poisson", None, 50, 5, True, Newton, "primal"),
        ("auto", "poisson", None, 10, 50, True, Newton, "primal"),
        ("auto", "gamma", "rbf", 10, 3000, True, Newton, "kernel"),
        ("auto", "binomial", None, 100, 2000, True, LBFGS, "primal"),
        ("auto", "binomial", None, 100, 2000, False, Newton, "primal"),
        ("auto", "tweedie", None, 100, 2001, False, LBFGS, "primal"),
        ("auto", "poisson", None, 100, 1999, True, Newton, "primal"),
        ("cholesky", "normal", None, 50, 5, False, ClosedForm, "primal"),
        ("cholesky", "normal", None, 10, 50, False, ClosedForm, "linear-dual"),
        ("cholesky", "normal", "rbf", 10, 5, True, ClosedForm, "kernel"),
        ("newton-cholesky", "normal", None, 10, 50, True, Newton, "primal"),
        ("newton-cholesky", "normal", "rbf", 10, 5, True, Newton, "kernel"),
        ("newton-cholesky", "poisson", None, 100, 3000, True, Newton, "primal"),
        ("lbfgs", "normal", None, 10, 50, True, LBFGS, "primal"),
        ("lbfgs", "gamma", None, 50, 5, True, LBFGS, "primal"),
    ],
)
def test_choose_solver_table(name, family, kernel, n, p, fit_intercept, cls, shape):
    fam = get_family(family, 1.5 if family == "tweedie" else None)
    solver, got_shape = choose_solver(
        name, fam, kernel, n, p, fit_intercept, {"max_iter": 7, "tol": 1e-3}
    )
    assert type(solver) is cls
    assert got_shape == shape
    if cls is not ClosedForm:
        assert solver.max_iter == 7 and solver.tol == 1e-3
    assert (
        solver.name
        == {
            ClosedForm: "cholesky",
            Newton: "newton-cholesky",
            LBFGS: "lbfgs",
        }[cls]
    )


def test_the_threshold_counts_the_intercept():
    assert MAX_DENSE_PARAMS == 2000


@pytest.mark.parametrize("family", ["poisson", "gamma", "binomial"])
def test_cholesky_needs_the_normal_family(family):
    with pytest.raises(ValueError) as info:
        choose_solver("cholesky", get_family(family), None, 10, 2, True, OPTIONS)
    message = str(info.value)
    assert "solver='cholesky' is the closed form of the normal family" in message
    assert f"family={family!r}" in message
    assert "'newton-cholesky' or 'lbfgs'" in message


@pytest.mark.parametrize("family", ["normal", "poisson"])
@pytest.mark.parametrize("kernel", ["rbf", "precomputed"])
def test_lbfgs_fits_linear_models_only(family, kernel):
    with pytest.raises(ValueError, match="solver='lbfgs' fits linear models only"):
        choose_solver("lbfgs", get_family(family), kernel, 10, 2, True, OPTIONS)


# ------------------------------------------------------- stationarity
@pytest.mark.parametrize(
    "solver, shape, family, fit_intercept, weighted, sparse", SOLVER_PARAMS
)
def test_result_is_a_stationary_point(
    solver, shape, family, fit_intercept, weighted, sparse
):
    obj, _ = problem(shape, family, fit_intercept, weighted, sparse)
    result, theta = run(SOLVERS[solver](), obj)
    grad = obj.gradient(theta)
    scale = float(np.sum(obj.w))
    # Relative to the total weight, as the solvers' own tol; a kernel
    # model's gradient is K times the dual residual, so a little looser.
    tol = {"lbfgs": 1e-8, "newton": 1e-10}.get(solver, 1e-12)
    if shape != "primal":
        tol *= 10
    assert np.max(np.abs(grad)) <= tol * scale
    hess_class = {
        "cholesky": PrimalHessian if shape == "primal" else DualHessian,
        "newton": PrimalHessian if shape == "primal" else DualHessian,
        "lbfgs": CGHessian,
    }[solver]
    assert type(result.hessian) is hess_class


@pytest.mark.parametrize(
    "solver, shape, family, fit_intercept, weighted, sparse", SOLVER_PARAMS
)
def test_result_eta_is_the_linear_predictor(
    solver, shape, family, fit_intercept, weighted, sparse
):
    obj, _ = problem(shape, family, fit_intercept, weighted, sparse)
    result, _ = run(SOLVERS[solver](), obj)
    expected = dense(obj.design) @ result.coef + result.intercept
    rows = np.ones(expected.size, dtype=bool)
    if solver == "cholesky" and obj.model.dual:
        # The dual closed form recovers eta from stationarity, y - alpha c / w,
        # which says nothing where w = 0 (it puts y there).
        rows = obj.w > 0
    np.testing.assert_allclose(
        result.eta[rows], expected[rows], rtol=1e-9, atol=1e-9 * np.abs(expected).max()
    )
    assert result.eta.shape == (obj.y.size,)
    assert result.n_iter >= (solver != "lbfgs")


# ------------------------------------------------- the solvers agree
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_closed_form_newton_and_lbfgs_agree_on_the_normal_family(
    fit_intercept, weighted, sparse
):
    obj, _ = problem("primal", FAMILIES[0], fit_intercept, weighted, sparse)
    _, closed = run(ClosedForm(), obj)
    _, newton = run(Newton(**OPTIONS), obj)
    _, lbfgs = run(LBFGS(**LBFGS_OPTIONS), obj)
    np.testing.assert_allclose(newton, closed, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(lbfgs, closed, rtol=1e-6, atol=1e-8)
    # And the closed form is the normal equations' solution, written out.
    X = dense(obj.design)
    Xt = np.column_stack([X, np.ones(X.shape[0])]) if fit_intercept else X
    P = np.eye(Xt.shape[1])
    if fit_intercept:
        P[-1, -1] = 0.0
    A = Xt.T @ (obj.w[:, None] * Xt) + obj.alpha * P
    expected = np.linalg.solve(A, Xt.T @ (obj.w * obj.y))
    np.testing.assert_allclose(closed, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_closed_form_and_newton_agree_on_a_kernel_model(fit_intercept, weighted):
    obj, _ = problem("kernel", FAMILIES[0], fit_intercept, weighted)
    _, closed = run(ClosedForm(), obj)
    _, newton = run(Newton(**OPTIONS), obj)
    np.testing.assert_allclose(newton, closed, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("family", FAMILIES[1:], ids=FAMILY_IDS[1:])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("sparse", [False, True])
def test_newton_and_lbfgs_agree_on_glms(family, fit_intercept, sparse):
    obj, _ = problem("primal", family, fit_intercept, True, sparse)
    _, newton = run(Newton(**OPTIONS), obj)
    _, lbfgs = run(LBFGS(**LBFGS_OPTIONS), obj)
    np.testing.assert_allclose(lbfgs, newton, rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------- warm starts
@pytest.mark.parametrize("shape", ["primal", "kernel"])
@pytest.mark.parametrize("family", FAMILIES[1:], ids=FAMILY_IDS[1:])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_newton_warm_start(shape, family, fit_intercept):
    obj, _ = problem(shape, family, fit_intercept, True)
    cold, theta = run(Newton(**OPTIONS), obj)
    assert cold.n_iter >= 2
    again, theta_again = run(Newton(**OPTIONS), obj, start=theta.copy())
    assert again.n_iter <= 1
    np.testing.assert_allclose(theta_again, theta, rtol=1e-10, atol=1e-12)
    # From somewhere else: the same optimum.
    start = theta + 0.1 * np.random.RandomState(3).normal(size=theta.size)
    _, theta_far = run(Newton(**OPTIONS), obj, start=start)
    np.testing.assert_allclose(theta_far, theta, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("family", FAMILIES, ids=FAMILY_IDS)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("sparse", [False, True])
def test_lbfgs_warm_start(family, fit_intercept, sparse):
    obj, _ = problem("primal", family, fit_intercept, True, sparse)
    cold, theta = run(LBFGS(**LBFGS_OPTIONS), obj)
    start = theta.copy()
    again, theta_again = run(LBFGS(**LBFGS_OPTIONS), obj, start=start)
    assert np.array_equal(start, theta)  # the start is not modified
    assert again.n_iter < cold.n_iter
    np.testing.assert_allclose(theta_again, theta, rtol=1e-7, atol=1e-9)
    start = theta + 0.1 * np.random.RandomState(3).normal(size=theta.size)
    _, theta_far = run(LBFGS(**LBFGS_OPTIONS), obj, start=start)
    np.testing.assert_allclose(theta_far, theta, rtol=1e-6, atol=1e-8)


def test_closed_form_ignores_the_start():
    obj, _ = problem("primal", FAMILIES[0], True, True)
    _, theta = run(ClosedForm(), obj)
    _, theta_started = run(ClosedForm(), obj, start=np.zeros(obj.n_params) + 5.0)
    np.testing.assert_array_equal(theta_started, theta)


# --------------------------------------------------------------- finish
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("constant", [False, True])
def test_linear_dual_finish_is_the_primal_fit(
    fit_intercept, weighted, sparse, constant
):
    """p > n: the closed form through the centred linear kernel gives the
    primal coefficients and tangent."""
    rng = np.random.RandomState(5)
    n, p = 10, 25
    X = rng.normal(size=(n, p)) + 0.5
    X[rng.uniform(size=X.shape) < 0.3] = 0.0
    if constant:
        X[:, 4] = 3.7  # inert with an intercept, as in Ridge
    y = X @ rng.normal(size=p) + rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, size=n) if weighted else np.ones(n)
    X = sp.csr_matrix(X) if sparse else X
    alpha, family = 2.0, get_family("normal")

    dual_model = LinearDualModel(X, w, fit_intercept)
    dual = Objective(family, dual_model, dual_model.gram(), y, w, alpha, fit_intercept)
    primal = Objective(family, LinearModel(p), X, y, w, alpha, fit_intercept)
    got = finish(dual, ClosedForm().solve(dual))
    expected = finish(primal, ClosedForm().solve(primal))
    scale = np.abs(expected[0]).max()
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-8, atol=1e-10 * scale)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-8, atol=1e-10)
    scale = np.abs(expected[2]).max()
    np.testing.assert_allclose(got[2], expected[2], rtol=1e-8, atol=1e-10 * scale)
    np.testing.assert_allclose(got[3], expected[3], rtol=1e-8, atol=1e-10)
    if constant and fit_intercept:
        assert got[0][4] == 0.0 and got[2][4] == 0.0
    # And the primal tangent is the one of the dense Hessian.
    theta = primal.join(expected[0], expected[1])
    t = -np.linalg.solve(primal.hessian(theta), primal.rho(theta))
    np.testing.assert_allclose(
        primal.join(expected[2], expected[3]), t, rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize(
    "solver, family",
    [("cholesky", FAMILIES[0])]
    + [(solver, family) for solver in ("newton", "lbfgs") for family in FAMILIES],
    ids=["cholesky-normal"]
    + [f"{solver}-{name}" for solver in ("newton", "lbfgs") for name in FAMILY_IDS],
)
@pytest.mark.parametrize("sparse", [False, True])
def test_finish_zeroes_constant_columns(solver, family, sparse):
    """With an intercept a constant column's coefficient and tangent are
    exactly zero, and the fit is the one without the column."""
    obj, X = problem("primal", family, True, True)
    X = dense(X)
    X_const = np.column_stack([X[:, :2], np.full(X.shape[0], 1e4 + 0.3), X[:, 2:]])
    given = sp.csr_matrix(X_const) if sparse else X_const
    with_const = Objective(
        obj.family, LinearModel(X_const.shape[1]), given, obj.y, obj.w, obj.alpha, True
    )
    without = Objective(
        obj.family, LinearModel(X.shape[1]), X, obj.y, obj.w, obj.alpha, True
    )
    coef, b, tangent, b_tangent = finish(
        with_const, SOLVERS[solver]().solve(with_const)
    )
    assert coef[2] == 0.0 and tangent[2] == 0.0
    ref = finish(without, SOLVERS[solver]().solve(without))
    keep = [j for j in range(X_const.shape[1]) if j != 2]
    tol = {"rtol": 1e-6, "atol": 1e-8}
    np.testing.assert_allclose(coef[keep], ref[0], **tol)
    np.testing.assert_allclose(b, ref[1], **tol)
    np.testing.assert_allclose(tangent[keep], ref[2], **tol)
    np.testing.assert_allclose(b_tangent, ref[3], **tol)


@pytest.mark.parametrize("family", FAMILIES, ids=FAMILY_IDS)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_finish_of_a_kernel_fit_is_the_dual_solution(family, fit_intercept):
    obj, _ = problem("kernel", family, fit_intercept, True)
    solver = ClosedForm() if family[0] == "normal" else Newton(**OPTIONS)
    result, theta = run(solver, obj)
    coef, b, tangent, b_tangent = finish(obj, result)
    np.testing.assert_array_equal(obj.join(coef, b), theta)
    t = result.hessian.tangent(obj.rho(theta))
    np.testing.assert_allclose(obj.join(tangent, b_tangent), t, rtol=1e-14)
    if fit_intercept:  # sum(c) = 0 and its derivative
        assert abs(np.sum(coef)) <= 1e-10 * np.abs(coef).sum()
        assert abs(np.sum(tangent)) <= 1e-10 * np.abs(tangent).sum()
    assert isinstance(obj.model, KernelModel)


# ------------------------------------------- tall data: the subsample start
@pytest.mark.parametrize(
    "family",
    FAMILIES[1:] + [("tweedie", 3.0)],
    ids=FAMILY_IDS[1:] + ["tweedie3.0"],
)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_tall_newton_reaches_the_optimum_of_a_cold_start(
    family, fit_intercept, monkeypatch
):
    """On tall data Newton starts from a subsample's optimum and takes steps
    with the subsample's Hessian; the optimum and the Hessian handed back are
    those of Newton from the usual start (tweedie 3 has negative observed
    curvatures, where the steps use Fisher's)."""
    rng = np.random.RandomState(1)
    n, p = 24_000, 4
    X = rng.normal(size=(n, p)) / 2 + 0.3
    name, power = family
    eta = X @ rng.normal(size=p) / 2 + 0.2
    # Tweedie power >= 2 needs positive targets: gamma draws.
    y = draw_targets("gamma" if power == 3.0 else name, eta, rng)
    w = rng.uniform(0.5, 2.0, size=n)
    obj = Objective(
        get_family(name, power), LinearModel(p), X, y, w, 3.0, fit_intercept
    )
    steps = []
    original = Newton._subsampled_steps

    def counted(self, *args):
        theta, n_steps = original(self, *args)
        steps.append(n_steps)
        return theta, n_steps

    monkeypatch.setattr(Newton, "_subsampled_steps", counted)
    tall, theta = run(Newton(**OPTIONS), obj)
    assert steps and steps[0] >= 1  # the path under test was taken
    cold, theta_cold = run(Newton(**OPTIONS), obj, start=np.zeros(obj.n_params))
    # Both stop within tol of the optimum, from different sides.
    np.testing.assert_allclose(theta, theta_cold, rtol=1e-8, atol=1e-10)
    rho = obj.rho(theta)
    np.testing.assert_allclose(
        tall.hessian.tangent(rho), cold.hessian.tangent(rho), rtol=1e-8, atol=1e-12
    )
    assert np.max(np.abs(obj.gradient(theta))) <= OPTIONS["tol"] * np.sum(w)
