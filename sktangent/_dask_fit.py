"""Linear models fitted on dask arrays by tree reductions over the chunks.

The normal family reduces the centred Gram matrix ``Xc' W Xc`` and ``X' W
(y - ybar)`` and then factorises as in memory; the GLMs run the in-memory
Newton loop (:func:`sktangent._solvers.damped_newton`) with each iterate one
reduction of the loss, the gradient and ``X' D X``. Only linear models in the
primal (``n >= p``): the fitted state then holds the factor and the
coefficients, no rows.
"""

import numpy as np
from sklearn.utils import check_array

from ._dask import (
    as_column,
    check_dask_rows,
    checked_rows,
    delayed_blocks,
    reduce_blocks,
    require_dask,
)
from ._families import get_family
from ._implicit import PrimalHessian, check_finite_fit
from ._models import LinearModel
from ._objective import Objective
from ._solvers import FitResult, choose_solver, damped_newton, finish, initial_intercept
from ._state import FittedState


# ------------------------------------------------------------------ fitting
def _check_fit_input(estimator, X, y, sample_weight):
    if estimator.kernel is not None:
        raise ValueError(
            "Kernel models need the training rows in memory (the kernel matrix "
            "is n x n); dask input fits linear models only. Compute X "
            "(X.compute()) or use a linear model (kernel=None)."
        )
    X = check_dask_rows(X, None)
    n, p = X.shape
    if n < 2:
        raise ValueError(
            f"Found {n} sample(s); {type(estimator).__name__} needs at least 2 "
            "samples to fit a model and estimate its dispersion."
        )
    y = as_column(y, X, "y").astype(np.float64)
    if sample_weight is None or np.ndim(sample_weight) == 0:
        value = 1.0 if sample_weight is None else float(sample_weight)
        w = da_full_like(y, value)
    else:
        w = as_column(sample_weight, X, "sample_weight").astype(np.float64)
    return X, y, w


def da_full_like(y, value):
    _, da = require_dask()
    return da.full_like(y, value, dtype=np.float64)


def _stats_block(X, y, w, fit_intercept):
    """Pass 0: totals, weighted column sums, column ranges, the range of y."""
    X = checked_rows(X)
    y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
    w = check_array(w, ensure_2d=False, dtype=np.float64, input_name="sample_weight")
    return {
        "w": float(np.sum(w)),
        "wy": float(w @ y),
        "Xw": X.T @ w,
        "min_X": X.min(axis=0),
        "max_X": X.max(axis=0),
        "min_y": float(y.min()),
        "max_y": float(y.max()),
        "min_w": float(w.min()),
        "positive": int(np.sum(w > 0)),
    }


def _pearson_block(X, y, w, family, coef, intercept):
    eta = checked_rows(X) @ coef + intercept
    m, q = family.pearson_statistic(y, eta, w)
    # The block's own (m, q) with q over m, as Family.pearson_statistic keeps it;
    # zero-weight blocks count nothing.
    return {"pearson": (m, q)}


def _centred_gram_block(X, y, w, family, theta, x_mean, fit_intercept, y_mean):
    """``Xc' D Xc`` at ``theta`` (D the observed curvature, or w for the normal
    family with ``theta=None``), ``X' W (y - ybar)`` and the Pearson statistic."""
    X = checked_rows(X)
    Xc = X - x_mean if fit_intercept else X
    out = {}
    if theta is None:
        d = w
        out["Xy"] = X.T @ (w * (y - y_mean))
    else:
        coef, b = _split(theta, X.shape[1], fit_intercept)
        eta = X @ coef + b
        d = w * family.hessian(y, eta)
        out["pearson"] = family.pearson_statistic(y, eta, w)
    out["G"] = Xc.T @ (d[:, None] * Xc)
    return out


def _split(theta, p, fit_intercept):
    return theta[:p], (theta[p] if fit_intercept else 0.0)


def _newton_block(X, y, w, family, theta, alpha, fit_intercept, fisher):
    """Value, gradient and the uncentred Gram ``X' D X`` at ``theta``.

    ``D`` is the observed curvature (its smallest entry tells the caller
    whether it is convex), or Fisher's with ``fisher``.
    """
    X = checked_rows(X)
    p = X.shape[1]
    coef, b = _split(theta, p, fit_intercept)
    eta = X @ coef + b
    with np.errstate(over="ignore", invalid="ignore"):
        value = float(np.sum(w * family.loss(y, eta)))
        g = w * family.gradient(y, eta)
        if fisher:
            d = w * family.score_variance(eta)
        else:
            d = w * family.hessian(y, eta)
    out = {
        "value": value,
        "grad": X.T @ g,
        "grad_b": float(np.sum(g)),
        "XDX": X.T @ (d[:, None] * X),
        "Xd": X.T @ d,
        "d": float(np.sum(d)),
        "min_d": float(np.min(d)) if d.size else 0.0,
    }
    return out


class _DaskNewton:
    """Newton's method whose every iterate is one reduction over the chunks.

    Runs :func:`sktangent._solvers.damped_newton`, the loop of the in-memory
    solver, with the same steps: the Hessian at the observed curvature
    (Fisher's where that is not convex), centred by subtracting ``sum(D)
    xbar xbar'`` during the iterations and exactly centred at the optimum.
    The start is the intercept-only model (the in-memory solver may start
    from a subsample's optimum on tall data: another path to the same
    optimum).
    """

    def __init__(self, blocks, family, alpha, fit_intercept, p, constant, x_const):
        self.blocks, self.family = blocks, family
        self.alpha, self.fit_intercept, self.p = alpha, fit_intercept, p
        self.constant, self.x_const = constant, x_const
        self._cache = {}

    def stats(self, theta, fisher=False):
        key = (theta.tobytes(), fisher)
        if key not in self._cache:
            if len(self._cache) > 8:
                self._cache.clear()
            self._cache[key] = reduce_blocks(
                _newton_block,
                self.blocks,
                self.family,
                theta,
                self.alpha,
                self.fit_intercept,
                fisher,
            )
        return self._cache[key]

    def value(self, theta):
        coef = theta[: self.p]
        return self.stats(theta)["value"] + 0.5 * self.alpha * float(coef @ coef)

    def gradient(self, theta):
        s = self.stats(theta)
        grad = s["grad"] + self.alpha * theta[: self.p]
        if self.fit_intercept:
            grad = np.append(grad, s["grad_b"])
        return grad

    def hessian(self, s):
        """The iterations' Hessian from the uncentred sums of a pass."""
        p = self.p
        x_mean = np.zeros(p)
        A = s["XDX"].copy()
        if self.fit_intercept:
            if not s["d"] > 0:
                raise ValueError(
                    "The total curvature sum(w * l'') is not positive, so the "
                    "intercept is not identified at this solution. Check "
                    "sample_weight, or fit without an intercept."
                )
            x_mean = s["Xd"] / s["d"]
            A -= s["d"] * np.outer(x_mean, x_mean)
            x_mean[self.constant] = self.x_const[self.constant]
        return PrimalHessian.from_gram(
            A, x_mean, s["d"], self.alpha, self.fit_intercept, self.constant
        )

    def step(self, theta, grad):
        s = self.stats(theta)
        hess = None
        if s["min_d"] < 0:
            # As the in-memory solver: the observed curvature if the full
            # Hessian is still positive definite, else Fisher scoring.
            try:
                hess = self.hessian(s)
            except ValueError:
                hess = self.hessian(self.stats(theta, fisher=True))
        else:
            hess = self.hessian(s)
        return -hess.solve(grad)


def fit_dask(estimator, X, y, sample_weight, check_query):
    """The fitted state of ``TangentRegressor.fit`` on dask arrays (linear
    models, ``n >= p``), whose parameters ``estimator`` holds; returns
    ``(state, n_iter)``."""
    X, y, w = _check_fit_input(estimator, X, y, sample_weight)
    n, p = X.shape
    family = get_family(estimator.family, estimator.power, warn=True)
    fit_intercept = bool(estimator.fit_intercept)
    solver, shape = choose_solver(
        estimator.solver,
        family,
        None,
        n,
        p,
        fit_intercept,
        {"max_iter": estimator.max_iter, "tol": estimator.tol},
    )
    if shape != "primal":
        raise ValueError(
            f"With dask input sktangent fits linear models in the primal, which "
            f"needs n_samples >= n_features; got {n} samples and {p} features. "
            "Compute X (X.compute()) to fit in the dual."
        )
    if solver.name not in ("cholesky", "newton-cholesky"):
        raise ValueError(
            f"solver={solver.name!r} is not available with dask input ('auto' "
            f"picks 'lbfgs' for {p} features): use solver='newton-cholesky' "
            "(or 'cholesky' for the normal family), or compute X."
        )
    blocks = delayed_blocks(X, y, w)
    stats = reduce_blocks(_stats_block, blocks, fit_intercept)
    if stats["min_w"] < 0:
        raise ValueError("sample_weight must be non-negative; found negative weights.")
    if not stats["positive"]:
        raise ValueError("sample_weight is zero everywhere; nothing to fit.")
    family.check_y(np.array([stats["min_y"], stats["max_y"]]))
    constant = (
        stats["min_X"] == stats["max_X"] if fit_intercept else np.zeros(p, dtype=bool)
    )
    x_const = stats["min_X"]
    alpha = float(estimator.alpha)
    if solver.name == "cholesky":
        x_mean = np.zeros(p)
        y_mean = 0.0
        if fit_intercept:
            x_mean = stats["Xw"] / stats["w"]
            x_mean[constant] = x_const[constant]
            y_mean = stats["wy"] / stats["w"]
        part = reduce_blocks(
            _centred_gram_block, blocks, family, None, x_mean, fit_intercept, y_mean
        )
        hess = PrimalHessian.from_gram(
            part["G"], x_mean, stats["w"], alpha, fit_intercept, constant
        )
        Xy = part["Xy"]
        Xy[constant] = 0.0
        coef = hess.solve_centred(Xy)
        intercept = y_mean - float(x_mean @ coef) if fit_intercept else 0.0
        pearson = reduce_blocks(_pearson_block, blocks, family, coef, intercept)[
            "pearson"
        ]
        n_iter = 1
    else:
        newton = _DaskNewton(blocks, family, alpha, fit_intercept, p, constant, x_const)
        theta = np.zeros(p + fit_intercept)
        if fit_intercept:
            mean = stats["wy"] / stats["w"]
            theta[-1] = initial_intercept(family, np.array([mean]), np.ones(1), True)
        theta, n_iter = damped_newton(
            theta,
            newton.value,
            newton.gradient,
            newton.step,
            solver.max_iter,
            solver.tol,
            stats["w"],
        )
        if fit_intercept and np.any(constant):
            theta = theta.copy()
            theta[-1] += float(x_const[constant] @ theta[:-1][constant])
            theta[:-1][constant] = 0.0
        s = newton.stats(theta)
        x_mean = np.zeros(p)
        if fit_intercept:
            if not s["d"] > 0:
                raise ValueError(
                    "The total curvature sum(w * l'') is not positive, so the "
                    "intercept is not identified at this solution. Check "
                    "sample_weight, or fit without an intercept."
                )
            x_mean = s["Xd"] / s["d"]
            x_mean[constant] = x_const[constant]
        part = reduce_blocks(
            _centred_gram_block, blocks, family, theta, x_mean, fit_intercept, 0.0
        )
        hess = PrimalHessian.from_gram(
            part["G"], x_mean, s["d"], alpha, fit_intercept, constant
        )
        coef, intercept = _split(theta, p, fit_intercept)
        coef, intercept = coef.copy(), float(intercept)
        pearson = part["pearson"]
    # finish() reads the objective's layout and, for constant columns, the
    # first row (a constant column's value): a one-row stand-in for X.
    objective = Objective(
        family, LinearModel(p), x_const[None, :], None, None, alpha, fit_intercept
    )
    result = FitResult(coef, float(intercept), hess, None, n_iter)
    coef, intercept, tangent, intercept_tangent = finish(objective, result)
    check_finite_fit(coef, tangent)
    state = FittedState(
        family=family,
        model=LinearModel(p),
        hessian=hess,
        alpha=alpha,
        fit_intercept=fit_intercept,
        coef=coef,
        tangent=tangent,
        intercept=intercept,
        intercept_tangent=intercept_tangent,
        solver=solver.name,
        tol=float(estimator.tol),
        dispersion_rule=estimator.dispersion,
        pearson=pearson,
        n_positive=int(stats["positive"]),
        check_query=check_query,
    )
    return state, max(int(n_iter), 1)
