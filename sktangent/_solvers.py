"""Fitting ``theta`` and factorising the Hessian at the optimum.

Every solver returns a :class:`FitResult`: the coefficients, the factorised
Hessian (primal or dual) and the linear predictor at the training points. The
tangent is then one more solve with that factor.

The normal family is solved in closed form: the penalised normal equations
*are* the Hessian system, so fitting and the tangent share one Cholesky
factorisation (:class:`~sktangent._implicit.PrimalHessian` when ``n >= p``,
:class:`~sktangent._implicit.DualHessian` otherwise and for kernels).
"""

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.extmath import safe_sparse_dot

from ._implicit import CGHessian, DualHessian, PrimalHessian, constant_columns
from ._objective import Objective


@dataclass
class FitResult:
    coef: np.ndarray  # beta (primal) or c (dual)
    intercept: float
    hessian: object  # PrimalHessian or DualHessian
    eta: np.ndarray  # linear predictor at the training points
    n_iter: int = 0


def fit_normal_primal(X, y, w, alpha, fit_intercept):
    """Ridge in closed form.

    ``A beta = Xc' W (y - ybar)`` and ``b = ybar - xbar' beta``.
    """
    hess = PrimalHessian(X, w, alpha, fit_intercept)
    y_mean = float(w @ y) / hess.d_sum if fit_intercept else 0.0
    # Xc' W (y - ybar) = X' W (y - ybar) because sum W (y - ybar) = 0.
    Xy = np.asarray(safe_sparse_dot(X.T, w * (y - y_mean))).ravel()
    Xy[hess.constant] = 0.0  # their centred columns are exactly zero
    coef, _ = hess.solve(Xy)
    intercept = y_mean - float(hess.x_mean @ coef) if fit_intercept else 0.0
    eta = np.asarray(safe_sparse_dot(X, coef)).ravel() + intercept
    return FitResult(coef, intercept, hess, eta)


def fit_normal_dual(K, y, w, alpha, fit_intercept, overwrite_K=False):
    """Kernel ridge in closed form through the bordered system.

    With ``c = sqrt(W) z`` the stationarity conditions
    ``W (K c + b - y) + alpha c = 0`` and ``sum(c) = 0`` become the symmetric
    system ``A z + sqrt(w) b = sqrt(W) y``, ``sqrt(w)' z = 0``.
    """
    hess = DualHessian(K, w, alpha, fit_intercept, overwrite_K=overwrite_K)
    z, intercept = hess.bordered_solve(hess.sqrt_d * y)
    coef = hess.sqrt_d * z
    # K may be gone (overwritten by the factor): recover the training
    # predictions from stationarity, eta = y - alpha c / w. Rows with zero
    # weight carry no residual; they get eta = y, which no estimate reads.
    eta = y - np.divide(alpha * coef, w, out=np.zeros_like(coef), where=w > 0)
    return FitResult(coef, float(intercept), hess, eta)


# --------------------------------------------------------------------- GLMs
def _initial_intercept(family, y, w, fit_intercept):
    """The link of the weighted mean of y: the optimum of an intercept-only model."""
    if not fit_intercept:
        return 0.0
    mean = float(w @ y) / float(np.sum(w))
    low, high = family.mean_bounds
    return float(family.link(min(max(mean, low), high)))


def _iteration_weights(family, y, w, eta):
    """Curvature for a Newton step: observed where it is convex, else Fisher.

    The observed ``l''`` is negative for some points of the Tweedie family
    with power > 2 (or <= 0); Fisher scoring's expected curvature
    ``mu'^2 / V`` is always positive, so the iteration stays a descent method.
    """
    d = w * family.hessian(y, eta)
    if np.all(d >= 0):
        return d, True
    return w * family.score_variance(eta), False


def _line_search(objective_at, theta, step, value, slope, max_halvings=50):
    """Backtracking (Armijo) along ``step``; returns ``(theta, value, ok)``.

    Non-finite objective values (overflow of exp for extreme eta) count as a
    failed trial, so an iterate never lands where the model is undefined.
    """
    lam = 1.0
    for _ in range(max_halvings):
        trial = theta + lam * step
        trial_value = objective_at(trial)
        if np.isfinite(trial_value) and trial_value <= value + 1e-4 * lam * slope:
            return trial, trial_value, True
        lam *= 0.5
    return theta, value, False


def _damped_newton(theta, value_at, gradient_at, step_at, max_iter, tol, scale):
    """Newton's method with backtracking, shared by the linear and kernel GLMs.

    Stops when both ``max|grad J| <= tol * scale`` (``scale = sum(w)``: the
    gradient of the weight-normalised objective of scikit-learn's GLMs is
    below ``tol``) and the Newton decrement ``grad' H^-1 grad / 2 <= tol *
    scale`` -- the second test, as in scikit-learn's Newton solver, is
    invariant to the scale of the features, so tiny features (a tiny
    gradient at the start) cannot stop the solver before its first step --
    or after a final full step once the decrement is at rounding level.
    Warns with a ConvergenceWarning otherwise.
    """
    value = value_at(theta)
    n_iter = 0
    while True:
        grad = gradient_at(theta)
        gnorm = float(np.max(np.abs(grad)))
        if n_iter >= max_iter and gnorm > tol * scale:
            _not_converged(n_iter, gnorm / scale, tol)
            break
        step = step_at(theta, grad)
        slope = float(grad @ step)
        if gnorm <= tol * scale and -0.5 * slope <= tol * scale:
            break
        if n_iter >= max_iter:
            _not_converged(n_iter, gnorm / scale, tol)
            break
        n_iter += 1
        if -slope <= 1e-10 * max(1.0, abs(value)):
            # Within rounding distance of the quadratic model, where the line
            # search cannot tell better from worse: one full step polishes
            # the optimum to the precision the gradient is computed with.
            theta = theta + step
            break
        theta, value, ok = _line_search(value_at, theta, step, value, slope)
        if not ok:
            _not_converged(n_iter, gnorm / scale, tol)
            break
    return theta, n_iter


def _not_converged(n_iter, gnorm, tol, solver="newton-cholesky"):
    warnings.warn(
        f"The {solver} solver stopped after {n_iter} iterations with gradient "
        f"norm {gnorm:.3g} > tol={tol:g} (relative to the total weight). "
        "Increase max_iter, loosen tol, or increase alpha; the tangent assumes "
        "an exact optimum.",
        ConvergenceWarning,
        stacklevel=5,
    )


# A warm start from a subsample pays off from this many rows per coefficient.
_SUBSAMPLE_MIN_ROWS_PER_PARAM = 200
_SUBSAMPLE_MIN_ROWS = 20_000


def _subsample_start(family, X, y, w, alpha, fit_intercept, tol):
    """Newton's optimum on a tenth of the rows, as a start for the full fit.

    Every full Newton iteration forms ``X' D X``. On tall data the optimum of
    a random tenth of the rows (weights scaled up to the same total) is
    within sampling error of the full one, from where two or three full
    iterations reach ``tol`` instead of five or more from zero. Only the
    start changes: the full problem is still solved to ``tol``. Returns None
    when the data are too small or sparse for this to help.
    """
    n, p = X.shape
    if (
        hasattr(X, "toarray")
        or n < _SUBSAMPLE_MIN_ROWS
        or n < _SUBSAMPLE_MIN_ROWS_PER_PARAM * (p + 1)
    ):
        return None
    rows = np.random.RandomState(0).choice(n, size=n // 10, replace=False)
    rows.sort()
    w_sub = w[rows] * (np.sum(w) / np.sum(w[rows]))
    with warnings.catch_warnings():
        # The start need not be converged; the full fit decides and warns.
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = fit_newton_primal(
            family,
            X[rows],
            y[rows],
            w_sub,
            alpha,
            fit_intercept,
            max_iter=20,
            tol=max(tol, 1e-4),
            final_hessian=False,
        )
    theta = result.coef
    return np.append(theta, result.intercept) if fit_intercept else theta


def fit_newton_primal(
    family, X, y, w, alpha, fit_intercept, max_iter, tol, final_hessian=True
):
    """Newton's method with Cholesky solves (a damped IRLS) for linear GLMs.

    The Hessian factorised at the final iterate is the tangent's.
    """
    obj = Objective(family, X, y, w, alpha, fit_intercept, kernel=False)
    theta = None
    if final_hessian:  # not when this is already the subsample's fit
        theta = _subsample_start(family, X, y, w, alpha, fit_intercept, tol)
    if theta is None:
        theta = np.zeros(X.shape[1] + fit_intercept)
        if fit_intercept:
            theta[-1] = _initial_intercept(family, y, w, fit_intercept)

    # One scratch copy of X for the weighted rows, shared by every iteration.
    work = None if hasattr(X, "toarray") else np.empty_like(X)
    constant = constant_columns(X) if fit_intercept else None

    def hessian_at(d):
        return PrimalHessian(
            X, d, alpha, fit_intercept, work, exact_centering=False, constant=constant
        )

    def step_at(theta, grad):
        d, observed = _iteration_weights(family, y, w, obj.eta(theta))
        hess = None
        if not observed:
            # Some observed curvatures are negative; the full Hessian may
            # still be positive definite, and then Newton keeps its speed.
            try:
                hess = hessian_at(obj.curvature_weights(theta))
            except ValueError:
                hess = None
        if hess is None:
            hess = hessian_at(d)
        s_coef, s_b = hess.solve(*obj.split(grad))
        return -(np.append(s_coef, s_b) if fit_intercept else s_coef)

    theta, n_iter = _damped_newton(
        theta, obj.value, obj.gradient, step_at, max_iter, tol, float(np.sum(w))
    )
    if not final_hessian:
        coef, intercept = obj.split(theta)
        return FitResult(coef.copy(), float(intercept), None, obj.eta(theta), n_iter)
    if fit_intercept and np.any(constant):
        # A constant column duplicates the intercept, so its penalised
        # coefficient is 0 at the optimum; the iterations leave rounding
        # noise there, which moves to the intercept (same training fit).
        theta = theta.copy()
        values = X[:1].toarray().ravel() if hasattr(X, "toarray") else X[0]
        theta[-1] += float(values[constant] @ theta[:-1][constant])
        theta[:-1][constant] = 0.0
    eta = obj.eta(theta)
    coef, intercept = obj.split(theta)
    # The tangent's Hessian, at the final iterate and exactly centred.
    hess = PrimalHessian(
        X, obj.curvature_weights(theta), alpha, fit_intercept, work, constant=constant
    )
    return FitResult(coef.copy(), float(intercept), hess, eta, n_iter)


def _column_scales(X, w):
    """Weighted root mean square of each column, to a power of two.

    Weighted, so that a weight of 2 and a repeated row give the same scales
    (and the same iterates).
    """
    if hasattr(X, "toarray"):
        sq = np.asarray(safe_sparse_dot(X.multiply(X).T, w)).ravel()
    else:
        sq = np.einsum("ij,ij,i->j", X, X, w)
    rms = np.sqrt(sq / np.sum(w))
    rms = np.where((rms > 0) & np.isfinite(rms), rms, 1.0)
    # Powers of two: exact scaling, and rounding-level differences in the
    # RMS (weights or repeated rows, summation order) give the same scales.
    return np.exp2(np.round(np.log2(rms)))


def fit_lbfgs_primal(family, X, y, w, alpha, fit_intercept, max_iter, tol):
    """L-BFGS on the weight-normalised objective; the tangent by CG.

    L-BFGS runs in the coordinates ``gamma_j = beta_j * rms(X_j)`` of
    features scaled to unit root mean square, and its gradient test applies
    there: a pure change of variables (same optimum), which makes the
    stopping rule independent of the features' units -- with tiny features
    the gradient in ``beta`` is tiny at the start point, and a test on it
    would stop there.
    """
    obj = Objective(family, X, y, w, alpha, fit_intercept, kernel=False)
    p = X.shape[1]
    cols = _column_scales(X, w)
    theta0 = np.zeros(p + fit_intercept)
    if fit_intercept:
        theta0[-1] = _initial_intercept(family, y, w, fit_intercept)
    scale = float(np.sum(w))

    def to_theta(gamma):
        theta = gamma.copy()
        theta[:p] = gamma[:p] / cols
        return theta

    # With an intercept a constant column's coefficient is 0 at the optimum
    # (it duplicates the intercept, and is penalised): hold it there.
    constant = constant_columns(X) if fit_intercept else np.zeros(p, dtype=bool)

    def scaled_gradient(theta):
        grad = obj.gradient(theta)
        grad[:p] = grad[:p] / cols
        grad[:p][constant] = 0.0
        return grad

    def fun(gamma):
        theta = to_theta(gamma)
        value = obj.value(theta)
        if not np.isfinite(value):
            return np.inf, np.zeros_like(gamma)
        return value / scale, scaled_gradient(theta) / scale

    res = optimize.minimize(
        fun,
        theta0,
        jac=True,
        method="L-BFGS-B",
        # ftol=0: stop on the gradient (as documented), not on a stalled value.
        options={"maxiter": max_iter, "gtol": tol, "ftol": 0.0},
    )
    theta = to_theta(res.x)
    gnorm = float(np.max(np.abs(scaled_gradient(theta)))) / scale
    if gnorm > tol:
        _not_converged(res.nit, gnorm, tol, solver="lbfgs")
    eta = obj.eta(theta)
    d = w * family.hessian(y, eta)
    coef, intercept = obj.split(theta)
    hess = CGHessian(X, d, alpha, fit_intercept)
    return FitResult(coef.copy(), float(intercept), hess, eta, int(res.nit))


def fit_newton_dual(family, K, y, w, alpha, fit_intercept, max_iter, tol):
    """Newton's method on the dual coefficients of a kernel GLM.

    Each Newton step is a weighted kernel ridge on the working response
    ``eta - l' / l''`` with weights ``D = w l''``: the bordered system
    ``(D K + alpha I) c + D 1 b = D (eta - l'/l'')``, ``1' c = 0``, solved in
    the symmetric variables ``c = sqrt(D) z``. The objective is the one of
    :class:`~sktangent._objective.Objective` with ``theta = [c, b]``.
    """
    n = K.shape[0]
    obj = Objective(family, K, y, w, alpha, fit_intercept, kernel=True)
    theta = np.zeros(n + fit_intercept)
    if fit_intercept:
        theta[-1] = _initial_intercept(family, y, w, fit_intercept)

    def step_at(theta, grad):
        eta = obj.eta(theta)
        d, _ = _iteration_weights(family, y, w, eta)
        hess = DualHessian(K, d, alpha, fit_intercept)
        lp = w * family.gradient(y, eta)
        rhs = hess.sqrt_d * eta - np.divide(
            lp, hess.sqrt_d, out=np.zeros(n), where=hess.sqrt_d > 0
        )
        z, b_new = hess.bordered_solve(rhs)
        new = hess.sqrt_d * z
        return (np.append(new, b_new) if fit_intercept else new) - theta

    theta, n_iter = _damped_newton(
        theta, obj.value, obj.gradient, step_at, max_iter, tol, float(np.sum(w))
    )
    eta = obj.eta(theta)
    d = obj.curvature_weights(theta)
    if np.any(d < 0):
        raise ValueError(
            f"The observed curvature of family={family.name!r} is negative at "
            f"{int(np.sum(d < 0))} training points at the optimum, so the "
            "kernel system behind the tangent is not positive definite. Use "
            "a linear model (kernel=None) for this family and power, or a "
            "Tweedie power in [1, 2]."
        )
    hess = DualHessian(K, d, alpha, fit_intercept)
    c, b = obj.split(theta)
    return FitResult(c.copy(), float(b), hess, eta, n_iter)
