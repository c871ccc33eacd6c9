"""Fitting ``theta`` and factorising the Hessian at the optimum.

Every solver has one method, ``solve(objective, start=None) -> FitResult``:
the coefficients, the Hessian at the optimum (factorised where the solver
factorised it) and the linear predictor at the training points. The tangent
is then one more solve with that Hessian (:func:`finish`). Which solver fits
which problem, and in which model shape, is decided in one place,
:func:`choose_solver`.

* :class:`ClosedForm` -- the normal family: the penalised normal equations
  *are* the Hessian system, so fitting and the tangent share one Cholesky
  factorisation (:class:`~sktangent._implicit.PrimalHessian` for the primal
  linear model, :class:`~sktangent._implicit.DualHessian` for the dual ones).
* :class:`Newton` -- damped Newton with Cholesky solves, on the primal or the
  dual coefficients.
* :class:`LBFGS` -- linear models too large to factorise; the tangent by
  conjugate gradients (:class:`~sktangent._implicit.CGHessian`).
* :class:`SGD` -- minibatch SGD for linear models on many rows; the tangent
  is carried through the steps (SGDF, :mod:`sktangent._sgd`), other solves
  go through conjugate gradients.
"""

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.extmath import safe_sparse_dot

from ._implicit import CGHessian, DualHessian, PrimalHessian, constant_columns
from ._sgd import sgdf

# Above this many coefficients "auto" avoids factorising a dense Hessian.
MAX_DENSE_PARAMS = 2000


@dataclass
class FitResult:
    coef: np.ndarray  # beta (primal) or c (dual)
    intercept: float
    hessian: object  # a Hessian (sktangent._implicit)
    # The linear predictor at the training points (the dual closed form puts
    # y at rows of zero weight, which no estimate reads).
    eta: np.ndarray
    n_iter: int = 0
    # The tangent in theta's layout when the solver computed it itself
    # (SGDF); None: finish solves with the Hessian.
    tangent: np.ndarray = None


def choose_solver(name, family, kernel, n_samples, n_features, fit_intercept, options):
    """The solver for ``name`` (``"auto"`` resolved) and the model shape.

    Returns ``(solver, shape)`` with ``shape`` one of ``"primal"``,
    ``"linear-dual"`` (the closed form of a linear model with ``p > n``,
    through the linear kernel) and ``"kernel"``. ``options`` holds
    ``max_iter`` and ``tol`` of the iterative solvers, and may hold
    ``random_state`` and ``batch_size``, which only ``"sgd"`` reads.
    """
    closed_form = family.constant_variance
    if name == "cholesky" and not closed_form:
        raise ValueError(
            f"solver='cholesky' is the closed form of the normal family; "
            f"family={family.name!r} needs 'newton-cholesky' or 'lbfgs' "
            "(or 'auto')."
        )
    if name == "lbfgs" and kernel is not None:
        raise ValueError(
            "solver='lbfgs' fits linear models only; kernel models are "
            "fitted by Newton's method on the dual coefficients: use "
            "solver='auto' or 'newton-cholesky'."
        )
    if name == "sgd" and kernel is not None:
        raise ValueError(
            "solver='sgd' fits linear models only (kernel=None); kernel "
            "models are fitted by Newton's method on the dual coefficients: "
            "use solver='auto' or 'newton-cholesky'."
        )
    if name != "sgd":
        options = {"max_iter": options["max_iter"], "tol": options["tol"]}
    if name == "auto":
        name = "newton-cholesky"
        if closed_form:
            name = "cholesky"
        elif kernel is None and n_features + fit_intercept > MAX_DENSE_PARAMS:
            name = "lbfgs"
    if kernel is not None:
        shape = "kernel"
    elif name == "cholesky" and n_samples < n_features:
        shape = "linear-dual"
    else:
        shape = "primal"
    solver = {
        "cholesky": ClosedForm,
        "newton-cholesky": Newton,
        "lbfgs": LBFGS,
        "sgd": SGD,
    }[name]
    return solver(**options), shape


def finish(objective, result):
    """``(coef, intercept, tangent, intercept_tangent)`` of the estimator.

    The tangent is ``-H^-1 rho`` with the Hessian the solver left; both it
    and the coefficients are then mapped to the estimator's coefficients by
    the model (the primal ``beta`` of a linear model solved in the dual).
    """
    tangent = result.tangent
    if tangent is None:
        tangent = result.hessian.tangent(objective.rho(result.coef))
    tangent, intercept_tangent = objective.split(tangent)
    intercept_tangent = float(intercept_tangent)
    model = objective.model
    if not model.dual and objective.fit_intercept:
        # A constant column's tangent is exactly 0, like its coefficient;
        # an iterative solve (CG) leaves rounding there, which belongs to
        # the intercept (the same tangent at the training rows).
        constant = result.hessian.constant
        X = objective.design
        if constant is None:  # conjugate gradients: nothing factorised
            constant = constant_columns(X)
        if np.any(constant):
            first = X[:1].toarray().ravel() if hasattr(X, "toarray") else X[0]
            intercept_tangent += float(first[constant] @ tangent[constant])
            tangent = tangent.copy()
            tangent[constant] = 0.0
    coef, intercept = model.coefficients(result.coef, result.intercept)
    tangent, intercept_tangent = model.coefficients(tangent, intercept_tangent)
    return coef, float(intercept), tangent, float(intercept_tangent)


class ClosedForm:
    """The normal family in closed form (``solver="cholesky"``)."""

    name = "cholesky"

    def __init__(self, **options):
        pass  # no iterations: max_iter and tol do not apply

    def solve(self, objective, start=None):
        if objective.model.dual:
            return self._dual(objective)
        return self._primal(objective)

    @staticmethod
    def _primal(obj):
        """Ridge: ``A beta = Xc' W (y - ybar)`` and ``b = ybar - xbar' beta``."""
        X, y, w = obj.design, obj.y, obj.w
        hess = PrimalHessian(X, w, obj.alpha, obj.fit_intercept)
        y_mean = float(w @ y) / hess.d_sum if obj.fit_intercept else 0.0
        # Xc' W (y - ybar) = X' W (y - ybar) because sum W (y - ybar) = 0.
        Xy = np.asarray(safe_sparse_dot(X.T, w * (y - y_mean))).ravel()
        Xy[hess.constant] = 0.0  # their centred columns are exactly zero
        coef = hess.solve_centred(Xy)
        intercept = y_mean - float(hess.x_mean @ coef) if obj.fit_intercept else 0.0
        eta = np.asarray(safe_sparse_dot(X, coef)).ravel() + intercept
        return FitResult(coef, intercept, hess, eta, 1)

    @staticmethod
    def _dual(obj):
        """Kernel ridge through the bordered system.

        With ``c = sqrt(W) z`` the stationarity conditions ``W (K c + b - y)
        + alpha c = 0`` and ``sum(c) = 0`` become the symmetric system ``A z
        + sqrt(w) b = sqrt(W) y``, ``sqrt(w)' z = 0``. The kernel matrix is
        overwritten by the factor when the model made it for the fit.
        """
        y, w, alpha = obj.y, obj.w, obj.alpha
        hess = DualHessian(
            obj.design, w, alpha, obj.fit_intercept, overwrite_K=obj.model.gram_is_copy
        )
        if obj.model.gram_is_copy:
            # The factor took the kernel matrix's memory: the objective can
            # no longer evaluate, and must not pretend to.
            obj.design = None
        z, intercept = hess.bordered_solve(hess.sqrt_d * y)
        coef = hess.sqrt_d * z
        # K may be gone (overwritten by the factor): recover the training
        # predictions from stationarity, eta = y - alpha c / w. Rows with zero
        # weight carry no residual; they get eta = y, which no estimate reads.
        eta = y - np.divide(alpha * coef, w, out=np.zeros_like(coef), where=w > 0)
        return FitResult(coef, float(intercept), hess, eta, 1)


# --------------------------------------------------------------------- GLMs
def initial_intercept(family, y, w, fit_intercept):
    """The link of the weighted mean of y: the optimum of an intercept-only model."""
    if not fit_intercept:
        return 0.0
    mean = float(w @ y) / float(np.sum(w))
    low, high = family.mean_bounds
    return float(family.link(min(max(mean, low), high)))


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


def damped_newton(theta, value_at, gradient_at, step_at, max_iter, tol, scale):
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
            not_converged(n_iter, gnorm / scale, tol)
            break
        step = step_at(theta, grad)
        slope = float(grad @ step)
        if gnorm <= tol * scale and -0.5 * slope <= tol * scale:
            break
        if n_iter >= max_iter:
            not_converged(n_iter, gnorm / scale, tol)
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
            not_converged(n_iter, gnorm / scale, tol)
            break
    return theta, n_iter


def not_converged(n_iter, gnorm, tol, solver="newton-cholesky"):
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
# At most this many steps with an approximate Hessian before exact Newton.
_GUIDED_MAX_STEPS = 12
# The guided steps stop this far inside the gradient test.
_GUIDED_MARGIN = 1e-2


def _start(obj):
    """Zero coefficients and the intercept of an intercept-only model."""
    theta = np.zeros(obj.n_params)
    if obj.fit_intercept:
        theta[-1] = initial_intercept(obj.family, obj.y, obj.w, True)
    return theta


def guided_steps(obj, theta, hessian_at, tol, max_steps=_GUIDED_MAX_STEPS):
    """Newton steps on the exact gradient with an approximate Hessian.

    ``hessian_at(theta)`` returns a Hessian close to the objective's (the
    subsample's on tall data; the previous fit's when rows are added to it),
    or None to stop. Each step costs the gradient and a solve with that
    Hessian, not forming ``X' D X``, and cuts the gradient by about the
    Hessian's relative error. The steps stop when the gradient passes the
    solvers' test (``max|grad J| <= tol * sum(w)``) or stops halving each
    step; exact Newton then takes over from the point reached, and its first
    Hessian -- usually at the optimum already -- is the tangent's. The steps
    aim at ``_GUIDED_MARGIN`` times the test's bound: exact Newton stops
    there without a step (its last step would otherwise land far inside the
    bound, by quadratic convergence), so the cheap steps buy that accuracy.
    Returns ``(theta, n_steps)``.
    """
    gradient_tol = _GUIDED_MARGIN * tol * float(np.sum(obj.w))
    value = obj.value(theta)
    previous = np.inf
    for n_steps in range(max_steps):
        grad = obj.gradient(theta)
        gnorm = float(np.max(np.abs(grad)))
        if not gnorm > gradient_tol or gnorm > 0.25 * previous:
            return theta, n_steps
        hess = hessian_at(theta)
        if hess is None:
            return theta, n_steps
        step = -hess.solve(grad)
        slope = float(grad @ step)
        if not slope < 0:
            return theta, n_steps
        previous = gnorm
        if -slope <= 1e-10 * max(1.0, abs(value)):
            # Below what the line search can tell apart (as in damped_newton):
            # the full step, judged by the gradient at the next turn.
            theta = theta + step
            value = obj.value(theta)
            continue
        theta, value, ok = _line_search(obj.value, theta, step, value, slope)
        if not ok:
            return theta, n_steps
    return theta, max_steps


class Newton:
    """Newton's method with Cholesky solves (a damped IRLS).

    On the primal coefficients of a linear model, or on the dual
    coefficients of a kernel model; the Hessian factorised at the final
    iterate is the tangent's.
    """

    name = "newton-cholesky"

    def __init__(self, max_iter, tol):
        self.max_iter = int(max_iter)
        self.tol = float(tol)

    def solve(self, objective, start=None):
        if objective.model.dual:
            return self._dual(objective, start)
        return self._primal(objective, start)

    def _subsample_start(self, obj):
        """Newton's optimum on a tenth of the rows, as a start for the full fit.

        Every full Newton iteration forms ``X' D X``. On tall data the optimum
        of a random tenth of the rows (weights scaled up to the same total)
        is within sampling error of the full one, from where two or three
        full iterations reach ``tol`` instead of five or more from zero. Only
        the start changes: the full problem is still solved to ``tol``.
        Returns ``(theta, subsample objective)``, or None when the data are
        too small or sparse for this to help.
        """
        X, w = obj.design, obj.w
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
            sub = Newton(max_iter=20, tol=max(self.tol, 1e-4))
            subset = obj.subset(rows, w_sub)
            result = sub._primal(subset, None, final_hessian=False)
        return obj.join(result.coef, result.intercept), subset

    def _subsampled_steps(self, obj, theta, subset):
        """Newton steps on the full gradient with the subsample's Hessian.

        From the subsample's optimum the full optimum is a sampling error
        away. The subsample's Hessian at the current point (its weights scale
        its data term to the full one) is within a few per cent of the full
        Hessian on the tall data the subsample start is used for, so each step
        cuts the gradient by about that factor at the cost of two passes over
        the data instead of forming ``X' D X`` (:func:`guided_steps`).
        Returns ``(theta, n_steps)``.
        """

        def hessian_at(theta):
            # Fisher's curvature: on a subsample the observed one (y / mu for
            # the gamma family) adds the labels' noise to the Hessian's error.
            d = subset.w * obj.family.score_variance(subset.eta(theta))
            try:
                return PrimalHessian(
                    subset.design,
                    d,
                    obj.alpha,
                    obj.fit_intercept,
                    exact_centering=False,
                )
            except ValueError:
                return None

        return guided_steps(obj, theta, hessian_at, self.tol)

    def _iterate(self, obj, theta, step_at):
        return damped_newton(
            theta,
            obj.value,
            obj.gradient,
            step_at,
            self.max_iter,
            self.tol,
            float(np.sum(obj.w)),
        )

    def _primal(self, obj, start, final_hessian=True):
        X, alpha, fit_intercept = obj.design, obj.alpha, obj.fit_intercept
        theta, n_steps = start, 0
        if theta is None and final_hessian:  # not when fitting the subsample
            begun = self._subsample_start(obj)
            if begun is not None:
                theta, n_steps = self._subsampled_steps(obj, *begun)
        if theta is None:
            theta = _start(obj)

        # One scratch copy of X for the weighted rows, shared by every iteration.
        work = None if hasattr(X, "toarray") else np.empty_like(X)
        constant = constant_columns(X) if fit_intercept else None

        def hessian_at(d, exact=False):
            return PrimalHessian(
                X,
                d,
                alpha,
                fit_intercept,
                work,
                exact_centering=exact,
                constant=constant,
            )

        # The step taken where the gradient already passes the test is most
        # likely the last one, at the optimum: its Hessian is built as the
        # tangent's (exactly centred, at the observed curvature) and kept,
        # so that the optimum's Hessian is not formed a second time.
        last = {}
        gradient_tol = self.tol * float(np.sum(obj.w))

        def step_at(theta, grad):
            d, observed = obj.iteration_weights(theta)
            final = final_hessian and np.max(np.abs(grad)) <= gradient_tol
            hess = None
            if not observed:
                # Some observed curvatures are negative; the full Hessian may
                # still be positive definite, and then Newton keeps its speed.
                try:
                    hess = hessian_at(obj.curvature_weights(theta), exact=final)
                except ValueError:
                    hess = None
            if hess is None:
                final = final and observed
                hess = hessian_at(d, exact=final)
            if final:
                last["theta"], last["hessian"] = theta.copy(), hess
            return -hess.solve(grad)

        theta, n_iter = self._iterate(obj, theta, step_at)
        n_iter += n_steps
        if not final_hessian:
            coef, intercept = obj.split(theta)
            return FitResult(
                coef.copy(), float(intercept), None, obj.eta(theta), n_iter
            )
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
        if "theta" in last and np.array_equal(last["theta"], theta):
            hess = last["hessian"]
        else:
            hess = hessian_at(obj.curvature_weights(theta), exact=True)
        return FitResult(coef.copy(), float(intercept), hess, eta, n_iter)

    def _dual(self, obj, start):
        """Each Newton step is a weighted kernel ridge on the working response
        ``eta - l' / l''`` with weights ``D = w l''``: the bordered system
        ``(D K + alpha I) c + D 1 b = D (eta - l'/l'')``, ``1' c = 0``, solved
        in the symmetric variables ``c = sqrt(D) z``."""
        K, y, w = obj.design, obj.y, obj.w
        family, alpha, fit_intercept = obj.family, obj.alpha, obj.fit_intercept
        n = K.shape[0]
        theta = _start(obj) if start is None else start

        def step_at(theta, grad):
            eta = obj.eta(theta)
            d, _ = obj.iteration_weights(theta)
            hess = DualHessian(K, d, alpha, fit_intercept)
            lp = w * family.gradient(y, eta)
            rhs = hess.sqrt_d * eta - np.divide(
                lp, hess.sqrt_d, out=np.zeros(n), where=hess.sqrt_d > 0
            )
            z, b_new = hess.bordered_solve(rhs)
            return obj.join(hess.sqrt_d * z, b_new) - theta

        theta, n_iter = self._iterate(obj, theta, step_at)
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


class LBFGS:
    """L-BFGS on the weight-normalised objective; the tangent by CG.

    L-BFGS runs in the coordinates ``gamma_j = beta_j * rms(X_j)`` of
    features scaled to unit root mean square, and its gradient test applies
    there: a pure change of variables (same optimum), which makes the
    stopping rule independent of the features' units -- with tiny features
    the gradient in ``beta`` is tiny at the start point, and a test on it
    would stop there.
    """

    name = "lbfgs"

    def __init__(self, max_iter, tol):
        self.max_iter = int(max_iter)
        self.tol = float(tol)

    def solve(self, obj, start=None):
        X, w, tol = obj.design, obj.w, self.tol
        p = X.shape[1]
        cols = _column_scales(X, w)
        theta0 = _start(obj) if start is None else np.array(start, dtype=float)
        theta0[:p] *= cols
        scale = float(np.sum(w))

        def to_theta(gamma):
            theta = gamma.copy()
            theta[:p] = gamma[:p] / cols
            return theta

        # With an intercept a constant column's coefficient is 0 at the
        # optimum (it duplicates the intercept, and is penalised): hold it.
        constant = constant_columns(X) if obj.fit_intercept else np.zeros(p, dtype=bool)

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
            # ftol=0: stop on the gradient (as documented) rather than on a
            # slow decrease; scipy still stops once the value no longer
            # decreases at all (rounding level), and the test below warns.
            options={"maxiter": self.max_iter, "gtol": tol, "ftol": 0.0},
        )
        theta = to_theta(res.x)
        gnorm = float(np.max(np.abs(scaled_gradient(theta)))) / scale
        if gnorm > tol:
            not_converged(res.nit, gnorm, tol, solver="lbfgs")
        eta = obj.eta(theta)
        coef, intercept = obj.split(theta)
        hess = CGHessian(obj, obj.curvature_weights(theta))
        return FitResult(coef.copy(), float(intercept), hess, eta, int(res.nit))


class SGD:
    """Minibatch SGD with the tangent carried through training (SGDF).

    The loop, its step size and its stopping rule are in
    :mod:`sktangent._sgd`. The result keeps the SGDF tangent; every other
    solve with the Hessian (influence functions, predictive variance,
    batches) goes through conjugate gradients on Hessian-vector products
    (:class:`~sktangent._implicit.CGHessian`), as after ``solver="lbfgs"``.
    """

    name = "sgd"

    def __init__(self, max_iter, tol, random_state=None, batch_size="auto"):
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        self.random_state = random_state
        self.batch_size = batch_size

    def solve(self, obj, start=None):
        run = sgdf(
            obj,
            max_iter=self.max_iter,
            tol=self.tol,
            random_state=self.random_state,
            batch_size=self.batch_size,
            start=_start(obj) if start is None else start,
        )
        if not run.converged:
            not_converged(run.n_epochs, run.gnorm, self.tol, solver="sgd")
        coef, intercept = obj.split(run.theta)
        hess = CGHessian(obj, obj.curvature_weights(run.theta))
        return FitResult(
            coef.copy(),
            float(intercept),
            hess,
            obj.eta(run.theta),
            max(run.n_epochs, 1),
            tangent=run.tangent,
        )
