"""The posterior covariance scale ``S(x, x_j)`` against a fixed set of points.

Whitening the points once against the factorised Hessian makes every later
``S(x, x_j)`` a product: the influence functions use it against the training
points, the greedy batches against the pool. One class per shape of the
Hessian (primal, dual or kernel, conjugate gradients).
"""

import numpy as np
from scipy import linalg
from sklearn.utils.extmath import safe_sparse_dot

from ._models import row_blocks


def dense(X):
    return np.asarray(X.toarray() if hasattr(X, "toarray") else X)


def training_kernel(state, Xa, Xb=None):
    """``k(Xa, Xb)``; ``Xb=None``, and any ``Xb`` with a precomputed kernel, is
    the training set."""
    if state.kernel == "precomputed":
        return dense(Xa)
    return state.train_kernel(Xa, Xb)


class PrimalScale:
    """``S(., x_j)`` of a linear model with a factorised primal Hessian.

    In the whitened rows ``z = L^-1 (x - xbar)``, ``S(x, x') = z.z' + 1/sum(d)``
    and ``H^-1 x~ = [L^-T z, 1/sum(d) - xbar' L^-T z]``.
    """

    def __init__(self, state, X):
        self.hess = state.hessian
        self.offset = 1.0 / self.hess.d_sum if state.fit_intercept else 0.0
        self.Z = self.hess.whiten(X)

    def cross(self, Xq):
        return self.hess.whiten(Xq) @ self.Z.T + self.offset

    def among(self, a, b):
        """``S`` between the rows ``a`` and ``b`` of ``X`` (index arrays)."""
        return self.Z[a] @ self.Z[b].T + self.offset

    def features(self):
        """``F`` with ``S(x_a, x_b) = F_a . F_b``: ``[z, sqrt(1/sum(d))]``."""
        if not self.offset:
            return self.Z
        return np.column_stack([self.Z, np.full(self.Z.shape[0], np.sqrt(self.offset))])

    def diag(self):
        return np.sum(self.Z**2, axis=1) + self.offset

    def directions(self):
        coef = self.Z @ self.hess.Linv
        if not self.hess.fit_intercept:
            return coef
        return np.column_stack([coef, self.offset - coef @ self.hess.x_mean])

    def norms(self):
        return np.linalg.norm(self.directions(), axis=1)


class CGScale:
    """``S(., x_j)`` of a linear model solved by conjugate gradients.

    One solve ``u_j = H^-1 x~_j`` per point; then ``S(x, x_j) = x~' u_j``.
    """

    def __init__(self, state, X):
        hess = state.hessian
        rows = dense(X)
        intercept = 1.0 if state.fit_intercept else 0.0
        solved = [hess.solve(row, intercept) for row in rows]
        self.U = np.array([u for u, _ in solved]).reshape(rows.shape)
        self.U_b = np.array([b for _, b in solved], dtype=float)
        self.X = X
        self.fit_intercept = state.fit_intercept

    def cross(self, Xq):
        return np.asarray(safe_sparse_dot(Xq, self.U.T, dense_output=True)) + self.U_b

    def diag(self):
        X = self.X
        prod = X.multiply(self.U).sum(axis=1) if hasattr(X, "toarray") else X * self.U
        return np.asarray(prod).reshape(X.shape[0], -1).sum(axis=1) + self.U_b

    def directions(self):
        return np.column_stack([self.U, self.U_b]) if self.fit_intercept else self.U

    def norms(self):
        return np.linalg.norm(self.directions(), axis=1)


class DualScale:
    """``S(., x_j)`` of a kernel model, or of a linear model solved in the dual.

    With ``(Z, b)`` the whitened kernel columns of
    :meth:`~sktangent._implicit.DualHessian.whiten`,
    ``S(x, x') = (k(x, x') - z.z' + b b'/s) / alpha``. The direction
    ``u = H^-1 grad eta(x_j)`` takes the values ``e = S(X_fit, x_j)`` at the
    training points, with ``sqrt(D) e = L^-T z - b M^-1 sqrt(d) / s`` (one
    back substitution); its intercept is ``S`` against a point with a zero
    kernel row, ``-b / (s alpha)`` (with ``p > n`` the kernel centres the rows
    at ``m``, so that is the intercept of the centred rows; the rows' own
    takes ``- m' beta_u`` more); and since ``u' H u = S(x_j, x_j)`` and
    ``H = sum_i d_i grad eta_i grad eta_i' + alpha P``, the squared
    function-space norm of ``u`` is ``(S(x_j, x_j) - sum_i d_i e_i^2) / alpha``.
    """

    def __init__(self, state, X):
        self.state = state
        self.hess = state.hessian
        self.alpha = float(state.alpha)
        self.X = X
        # Whitened block by block of rows: k(X, X_fit) itself may not fit.
        parts = [
            self.hess.whiten(training_kernel(state, X[rows]))
            for rows in row_blocks(X.shape[0], state.n_fit)
        ]
        self.Z = np.hstack([z for z, _ in parts])
        self.b = np.concatenate([b for _, b in parts])
        self.s = self.hess.s if state.fit_intercept else 1.0

    def cross(self, Xq):
        Zq, bq = self.hess.whiten(training_kernel(self.state, Xq))
        quad = Zq.T @ self.Z - np.outer(bq, self.b) / self.s
        return (training_kernel(self.state, Xq, self.X) - quad) / self.alpha

    def among(self, a, b):
        """``S`` between the rows ``a`` and ``b`` of ``X``: no new whitening."""
        # In place: the result is as large as a block of the pool x goal.
        out = training_kernel(self.state, self.X[a], self.X[b])
        out -= self.Z[:, a].T @ self.Z[:, b]
        if self.state.fit_intercept:
            out += np.outer(self.b[a] / self.s, self.b[b])
        out /= self.alpha
        return out

    def diag(self):
        if self.state.kernel == "precomputed":
            k_diag = np.diag(dense(self.X))
        else:
            k_diag = self.state.train_kernel_diagonal(self.X)
        quad = np.sum(self.Z**2, axis=0) - self.b**2 / self.s
        return np.maximum(k_diag - quad, 0.0) / self.alpha

    def _values(self):
        """``sqrt(D) e`` at the training points, shape (n_fit, n_points)."""
        top = linalg.solve_triangular(
            self.hess.L, self.Z, lower=True, trans="T", check_finite=False
        )
        if self.state.fit_intercept:
            top -= np.outer(self.hess.u, self.b / self.s)
        return top

    def _intercept(self, values):
        """The intercept of ``u``; ``values`` is :meth:`_values`."""
        if not self.state.fit_intercept:
            return np.zeros(self.Z.shape[1])
        b_u = -self.b / (self.s * self.alpha)
        kernel = self.state.linear_dual
        if kernel is not None:
            # m' beta_u = ((x - m)'m - (Xc m)' D e) / alpha, Xc the centred
            # training rows: beta_u is never formed (it is p wide).
            De = self.hess.sqrt_d[:, None] * values
            b_u -= (kernel.offset_dot(self.X) - kernel.offset_dot() @ De) / self.alpha
        return b_u

    def directions(self):
        """``H^-1 x~_j`` in the coefficients of a linear model solved in the dual.

        ``H u = x~`` gives ``beta_u = (x - m - Xc' D e) / alpha``, with ``Xc``
        the training rows centred at ``m`` (``1' D e = 1``).
        """
        kernel = self.state.linear_dual
        values = self._values()
        De = self.hess.sqrt_d[:, None] * values
        coef = (kernel.centred(self.X) - kernel.coef(De).T) / self.alpha
        if not self.state.fit_intercept:
            return coef
        return np.column_stack([coef, self._intercept(values)])

    def norms(self):
        values = self._values()
        f_sq = (self.diag() - np.sum(values**2, axis=0)) / self.alpha
        return np.sqrt(np.maximum(f_sq, 0.0) + self._intercept(values) ** 2)


def covariance_scale(state, X):
    """The covariance scale of a fitted state against the rows ``X``.

    With ``kernel="precomputed"``, ``X`` must be the training kernel matrix
    (the only points whose kernel values against others are known).
    """
    if state.dual:
        return DualScale(state, X)
    if state.factorisation == "primal":
        return PrimalScale(state, X)
    return CGScale(state, X)
