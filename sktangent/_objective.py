"""The penalised objective ``J(theta; alpha)`` (docs/theory.rst, section 1).

``J = sum_i w_i l(y_i, eta_i) + (alpha / 2) Omega(theta)`` with ``theta`` laid
out as ``[beta, b]`` (linear) or ``[c, b]`` (kernel); the intercept ``b`` is
present only when fitted and is never penalised.

The objective is what the iterative solvers minimise and what the tests
differentiate numerically; the closed-form normal solver needs only the
factorised Hessian in :mod:`sktangent._implicit`.
"""

import numpy as np
from sklearn.utils.extmath import safe_sparse_dot


class Objective:
    """Value, gradient, Hessian and ``rho = d/ds grad J`` at ``theta``.

    Parameters
    ----------
    family : Family
    design : ndarray or sparse matrix
        ``X`` of shape (n, p) for the linear model, the kernel matrix ``K`` of
        shape (n, n) for the kernel model.
    y, sample_weight : ndarray of shape (n,)
    alpha : float
    fit_intercept : bool
    kernel : bool
        Whether ``design`` is a kernel matrix (penalty ``c' K c``) or a design
        matrix (penalty ``||beta||^2``).
    """

    def __init__(self, family, design, y, sample_weight, alpha, fit_intercept, kernel):
        self.family = family
        self.design = design
        self.y = y
        self.w = sample_weight
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.kernel = kernel
        self.n_coef = design.shape[1]
        self._last = (None, None)

    def split(self, theta):
        coef = theta[: self.n_coef]
        intercept = theta[self.n_coef] if self.fit_intercept else 0.0
        return coef, intercept

    def eta(self, theta):
        # The solvers ask for value, gradient and curvature at the same point:
        # one product with the design serves all three.
        last_theta, last_eta = self._last
        if last_theta is not None and np.array_equal(theta, last_theta):
            return last_eta
        coef, intercept = self.split(theta)
        eta = np.asarray(safe_sparse_dot(self.design, coef)).ravel() + intercept
        self._last = (np.array(theta, copy=True), eta)
        return eta

    def penalty(self, theta):
        """``Omega(theta)``."""
        coef, _ = self.split(theta)
        if self.kernel:
            return float(coef @ (self.design @ coef))
        return float(coef @ coef)

    def penalty_gradient(self, theta):
        """``grad Omega`` (zero in the intercept)."""
        coef, _ = self.split(theta)
        g = np.zeros_like(theta)
        g[: self.n_coef] = 2.0 * (self.design @ coef if self.kernel else coef)
        return g

    def value(self, theta):
        eta = self.eta(theta)
        data = np.sum(self.w * self.family.loss(self.y, eta))
        return data + 0.5 * self.alpha * self.penalty(theta)

    def _lift(self, v):
        """``X~' v`` (the transpose of the design with its column of ones)."""
        out = np.asarray(safe_sparse_dot(self.design.T, v)).ravel()
        if self.fit_intercept:
            out = np.append(out, np.sum(v))
        return out

    def gradient(self, theta):
        eta = self.eta(theta)
        g = self._lift(self.w * self.family.gradient(self.y, eta))
        return g + 0.5 * self.alpha * self.penalty_gradient(theta)

    def hessian(self, theta):
        """Dense ``H = X~' diag(w l'') X~ + (alpha / 2) grad^2 Omega``."""
        eta = self.eta(theta)
        d = self.w * self.family.hessian(self.y, eta)
        Xt = self.design
        if hasattr(Xt, "toarray"):
            Xt = Xt.toarray()
        if self.fit_intercept:
            Xt = np.column_stack([Xt, np.ones(Xt.shape[0])])
        H = Xt.T @ (d[:, None] * Xt)
        pen = self.design if self.kernel else np.eye(self.n_coef)
        if hasattr(pen, "toarray"):
            pen = pen.toarray()
        H[: self.n_coef, : self.n_coef] += self.alpha * pen
        return H

    def rho(self, theta):
        """``d/ds grad J = alpha grad Omega / 2`` (``s = log alpha``)."""
        return 0.5 * self.alpha * self.penalty_gradient(theta)

    def curvature_weights(self, theta):
        """``d_i = w_i l''(y_i, eta_i)``, the IRLS weights at ``theta``."""
        return self.w * self.family.hessian(self.y, self.eta(theta))
