"""Leave-one-out predictions and their derivative in ``s = log(alpha)``.

Sections 5 and 6 of the theory page (docs/theory.rst). Removing training
point ``i`` moves the optimum by one Newton step,
``theta_{-i} ~ theta* + H^-1 w_i grad l_i / (1 - h_i)``, so

    eta_{-i}(x_i) = eta_i + w_i l'_i S_ii / (1 - h_i),   h_i = d_i S_ii,

with ``d_i = w_i l''_i`` and ``S_ii = x~_i' H^-1 x~_i``. For the normal family
this is exact (``y_i - r_i / (1 - h_i)``); for the GLM families it is the
one-step approximation.

Every factor is a smooth function of ``s``; the chain rule needs the tangent
``t_i = d eta_i / ds``, ``dl'/ds = l'' t``, ``dd/ds = w l''' t`` and

    dS_ii/ds = alpha dS_ii/dalpha |_D - sum_j (dd_j/ds) S_ij^2,

the second term from the curvature weights moving with the fit (zero for the
normal family).
"""

from dataclasses import dataclass

import numpy as np

from ._implicit import RCOND_MIN, IllConditionedError
from ._models import row_blocks


@dataclass
class LeaveOneOut:
    eta: np.ndarray  # eta_{-i}(x_i)
    leverage: np.ndarray  # h_i
    error: float  # mean weighted deviance of the LOO predictions
    gradient: float | None  # d error / ds


def _curvature_part(state, X, d_dot):
    """``sum_j d_dot_j S_ij^2`` over the training rows, block by block."""
    out = np.empty(X.shape[0])
    for rows in row_blocks(X.shape[0], X.shape[0]):
        out[rows] = (state.cross_variance_scale(X[rows], X) ** 2) @ d_dot
    return out


def loo_shift(family, y, w, eta, S_diag):
    """``(w_i l'_i / (1 - h_i), h_i)``: ``eta_{-i}(x) = eta(x) + shift_i S(x, x_i)``.

    ``S_diag`` holds ``S(x_i, x_i)`` of the training points; ``h_i = w_i
    l''_i S(x_i, x_i)`` are their leverages.
    """
    h = w * family.hessian(y, eta) * S_diag
    if np.any(h >= 1.0 - 1e-12):
        raise IllConditionedError(
            "A training point has leverage 1 to rounding precision: the model "
            "interpolates it and its leave-one-out fit is undefined. Increase "
            "alpha."
        )
    return w * family.gradient(y, eta) / (1.0 - h), h


def leave_one_out(state, X, y, w, with_gradient=False, S=None):
    """LOO predictions, their mean deviance and optionally its s-derivative.

    ``state`` is the :class:`~sktangent._state.FittedState` of the fit, and
    ``X`` the validated training data it was fitted on. ``S`` holds ``S(x_i,
    x_i)`` when the caller has it (a precomputed kernel knows ``k(x_i,
    x_i)`` only as the diagonal of the training matrix).
    """
    if with_gradient and state.factorisation is None:
        raise ValueError(
            "The derivative of the leave-one-out error needs a factorised "
            "Hessian; fit with solver='newton-cholesky' (or 'auto' with fewer "
            "coefficients)."
        )
    family = state.family
    eta, t = state.eta(X, with_tangent=True)
    lp, lpp = family.gradient(y, eta), family.hessian(y, eta)
    if S is None:
        S = state.variance_scale(X)
    factor, h = loo_shift(family, y, w, eta, S)
    eta_loo = eta + factor * S
    n = X.shape[0]
    error = 2.0 * float(np.sum(w * family.loss(y, eta_loo))) / n
    if not with_gradient:
        return LeaveOneOut(eta_loo, h, error, None)

    d_dot = w * family.third_derivative(y, eta) * t
    # alpha dS_ii/dalpha at fixed curvature, then the curvature's own motion.
    S_dot = state.variance_scale_alpha_derivative(X)
    if np.any(d_dot != 0):
        S_dot = S_dot - _curvature_part(state, X, d_dot)
    h_dot = d_dot * S + w * lpp * S_dot
    lp_dot = lpp * t
    eta_loo_dot = t + w * (
        (lp_dot * S + lp * S_dot) / (1.0 - h) + lp * S * h_dot / (1.0 - h) ** 2
    )
    gradient = 2.0 * float(np.sum(w * family.gradient(y, eta_loo) * eta_loo_dot)) / n
    return LeaveOneOut(eta_loo, h, error, gradient)


class RidgePath:
    """Exact leave-one-out errors of a linear normal model for any alpha,
    from one singular value decomposition.

    With the weighted, centred rows ``Xc = sqrt(W) (X - xbar)`` written as
    ``U diag(sigma) V'`` and ``c = U' sqrt(W) (y - ybar)``, the fitted
    coefficients are ``beta = V diag(sigma / (sigma^2 + alpha)) c`` and the
    leverages ``h_i = sum_j U_ij^2 sigma_j^2 / (sigma_j^2 + alpha) + w_i /
    sum(w)`` (without the last term when no intercept is fitted), so that
    each alpha costs ``O(n p)``: the same error and derivative in ``s =
    log(alpha)`` as :func:`leave_one_out` on a fitted state (the normal
    family's LOO is exact), without a fit per alpha.
    """

    def __init__(self, X, y, w, fit_intercept):
        X = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
        self.w, self.n = w, X.shape[0]
        total = float(np.sum(w))
        x_mean = w @ X / total if fit_intercept else np.zeros(X.shape[1])
        y_mean = float(w @ y) / total if fit_intercept else 0.0
        self.Xc = X - x_mean
        self.yc = y - y_mean
        root = np.sqrt(w)
        A = root[:, None] * self.Xc
        with np.errstate(over="ignore", invalid="ignore"):
            finite = np.all(np.isfinite(A)) and np.all(np.isfinite(root * self.yc))
        if not finite:
            raise ValueError(
                "The weighted, centred data overflow to inf or NaN (the "
                "values of X, y or sample_weight are too large to combine); "
                "rescale them."
            )
        U, self.sigma, Vt = np.linalg.svd(A, full_matrices=False)
        self.V = Vt.T
        self.U2 = U**2
        self.c = U.T @ (root * self.yc)
        self.h0 = w / total if fit_intercept else np.zeros_like(w)

    def error(self, s, with_gradient=False):
        """``(error, d error / ds)`` at ``alpha = exp(s)``; ``inf`` where a
        point has leverage 1 to rounding precision."""
        alpha = float(np.exp(s))
        sig2 = self.sigma**2
        denom = sig2 + alpha
        # The factorised solvers refuse a system this ill-conditioned (its
        # tangent would be rounding noise); so does the path.
        smallest = sig2[-1] if sig2.size == self.V.shape[0] else 0.0
        if not (smallest + alpha) >= RCOND_MIN * (sig2[0] + alpha):
            return np.inf, np.nan
        beta = self.V @ (self.sigma / denom * self.c)
        r = self.yc - self.Xc @ beta
        h = self.U2 @ (sig2 / denom) + self.h0
        if np.any(h >= 1.0 - 1e-12):
            return np.inf, np.nan
        e = r / (1.0 - h)
        error = float(np.sum(self.w * e**2)) / self.n
        if not with_gradient:
            return error, None
        dbeta = self.V @ (-alpha * self.sigma / denom**2 * self.c)
        dr = -(self.Xc @ dbeta)
        dh = self.U2 @ (-alpha * sig2 / denom**2)
        de = dr / (1.0 - h) + r * dh / (1.0 - h) ** 2
        return error, 2.0 * float(np.sum(self.w * e * de)) / self.n
