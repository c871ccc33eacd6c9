"""The penalised objective ``J(theta; alpha)`` (docs/theory.rst, section 1).

``J = sum_i w_i l(y_i, eta_i) + (alpha / 2) Omega(theta)`` with ``theta`` laid
out as ``[beta, b]`` (linear) or ``[c, b]`` (kernel); the intercept ``b`` is
present only when fitted and is never penalised.

Every solver goes through this object: the closed form reads its data, the
Newton and L-BFGS solvers its value, gradient and curvature, conjugate
gradients its Hessian-vector product, and the tangent its ``rho``.
"""

import numpy as np
from sklearn.utils.extmath import safe_sparse_dot


class Objective:
    """Value, gradient, Hessian and ``rho = d/ds grad J`` at ``theta``.

    Parameters
    ----------
    family : Family
    model : LinearModel, LinearDualModel or KernelModel
        The model shape (:mod:`sktangent._models`): it says what the
        penalty is.
    design : ndarray or sparse matrix
        ``X`` of shape (n, p) for the primal linear model, the kernel matrix
        ``K`` of shape (n, n) for a model solved in the dual.
    y, sample_weight : ndarray of shape (n,)
    alpha : float
    fit_intercept : bool
    """

    def __init__(self, family, model, design, y, sample_weight, alpha, fit_intercept):
        self.family = family
        self.model = model
        self.design = design
        self.y = y
        self.w = sample_weight
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.n_coef = design.shape[1]
        self.n_params = self.n_coef + bool(fit_intercept)
        self._last = (None, None)

    def subset(self, rows, sample_weight):
        """The same objective on the rows ``rows`` of a primal design."""
        return Objective(
            self.family,
            self.model,
            self.design[rows],
            self.y[rows],
            sample_weight,
            self.alpha,
            self.fit_intercept,
        )

    def split(self, theta):
        coef = theta[: self.n_coef]
        intercept = theta[self.n_coef] if self.fit_intercept else 0.0
        return coef, intercept

    def join(self, coef, intercept):
        return np.append(coef, intercept) if self.fit_intercept else np.asarray(coef)

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
        return float(coef @ self.model.penalise(self.design, coef))

    def penalty_gradient(self, theta):
        """``grad Omega`` (zero in the intercept)."""
        coef, _ = self.split(theta)
        g = np.zeros_like(theta)
        g[: self.n_coef] = 2.0 * self.model.penalise(self.design, coef)
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
        d = self.curvature_weights(theta)
        Xt = self.design
        if hasattr(Xt, "toarray"):
            Xt = Xt.toarray()
        if self.fit_intercept:
            Xt = np.column_stack([Xt, np.ones(Xt.shape[0])])
        H = Xt.T @ (d[:, None] * Xt)
        H[: self.n_coef, : self.n_coef] += self.alpha * self.model.penalty_matrix(
            self.design
        )
        return H

    def hessian_product(self, d, v):
        """``(X~' diag(d) X~ + alpha P) v`` for curvature weights ``d``."""
        coef, b = self.split(np.ravel(v))
        u = d * (np.asarray(safe_sparse_dot(self.design, coef)).ravel() + b)
        out = self._lift(u)
        out[: self.n_coef] += self.alpha * self.model.penalise(self.design, coef)
        return out

    def rho(self, theta):
        """``d/ds grad J`` (``s = log alpha``) in the coordinates of the Hessian
        the solver factorised: ``alpha [coef, 0]``. ``theta`` may be the
        coefficients alone, without the intercept.

        In ``theta`` itself ``d/ds grad J = (alpha / 2) grad Omega = alpha [P
        coef, 0]``; a model solved in the dual factors the penalty matrix
        ``P = K`` out of its rows and of the Hessian, which leaves ``alpha
        [c, 0]`` as for the primal linear model (``P = I``).
        """
        out = np.zeros(self.n_params)
        out[: self.n_coef] = self.alpha * theta[: self.n_coef]
        return out

    def curvature_weights(self, theta):
        """``d_i = w_i l''(y_i, eta_i)``, the IRLS weights at ``theta``."""
        return self.w * self.family.hessian(self.y, self.eta(theta))

    def iteration_weights(self, theta):
        """Curvature for a Newton step (:func:`iteration_weights`)."""
        return iteration_weights(self.family, self.y, self.w, self.eta(theta))


def iteration_weights(family, y, w, eta):
    """Curvature for a Newton step: observed where it is convex, else Fisher.

    The observed ``l''`` is negative for some points of the Tweedie family
    with power > 2 (or <= 0); Fisher scoring's expected curvature ``mu'^2 /
    V`` is always positive, so the iteration stays a descent method. Returns
    ``(d, observed)``.
    """
    d = w * family.hessian(y, eta)
    if np.all(d >= 0):
        return d, True
    return w * family.score_variance(eta), False
