"""The posterior covariance scale ``S(x, x_j)`` against a fixed set of points.

Whitening the points once against the Hessian makes every later ``S(x,
x_j)`` a product: the influence functions use it against the training
points, the greedy batches against the pool. The formulas of ``S`` are the
Hessian's (:class:`~sktangent._implicit.Hessian`); the rows and the prior
term are the model's (:mod:`sktangent._models`). This module only keeps the
whitened points and maps the Hessian's directions back to the estimator's
coefficients.
"""

import numpy as np

from ._models import dense, row_blocks


class Scale:
    """``S(., x_j)`` against the rows ``X`` of a fitted state.

    With ``kernel="precomputed"``, ``X`` must be the training kernel matrix
    (the only points whose kernel values against others are known).
    """

    def __init__(self, state, X):
        self.state = state
        self.hess = state.hessian
        self.model = state.model
        self.X = X
        # Whitened block by block of rows: k(X, X_fit) itself may not fit.
        blocks = list(row_blocks(X.shape[0], self.model.width))
        first = self.hess.whiten(self.model.rows(X[blocks[0]]))
        if len(blocks) == 1:
            self.W = first
        elif isinstance(first, np.ndarray):
            # Whitened rows (the primal Hessian): written into one array, so
            # the blocks and their join are never held together.
            self.W = np.empty((X.shape[0],) + first.shape[1:], dtype=first.dtype)
            self.W[blocks[0]] = first
            for rows in blocks[1:]:
                self.W[rows] = self.hess.whiten(self.model.rows(X[rows]))
        else:
            parts = [first]
            parts += [self.hess.whiten(self.model.rows(X[rows])) for rows in blocks[1:]]
            self.W = self.hess.stack(parts)

    def cross(self, Xq):
        """``S(x_q, x_j)``, shape (n_q, n_X)."""
        prior = self.model.prior(Xq, self.X, training=True) if self.model.dual else None
        return self.hess.cross(self.model.rows(Xq), self.W, prior)

    def among(self, a, b):
        """``S`` between the rows ``a`` and ``b`` of ``X``: no new whitening."""
        prior = None
        if self.model.dual:
            prior = self.model.prior(self.X[a], self.X[b], training=True)
        return self.hess.among(self.W, a, b, prior)

    def diag(self):
        if self.model.precomputed:
            prior = np.diag(dense(self.X))
        else:
            prior = self.model.prior_diagonal(self.X)
        return self.hess.diag(self.W, prior)

    def features(self):
        """``F`` with ``S(x_a, x_b) = F_a . F_b``, when the Hessian has one."""
        features = getattr(self.hess, "features", None)
        return None if features is None else features(self.W)

    def feature_parts(self):
        """:meth:`features` as ``(W, c)``: ``W`` and a constant last column
        ``c``, not joined (None when the Hessian has no features)."""
        parts = getattr(self.hess, "feature_parts", None)
        return None if parts is None else parts(self.W)

    def directions(self):
        """``H^-1 x~_j`` in the coefficients of the estimator (linear models)."""
        return self.model.directions(self.hess, self.W, self.X, self.state.alpha)

    def norms(self):
        """``|H^-1 x~_j|`` in the estimator's coefficients (function-space
        norm for kernel models)."""
        if not self.model.dual:
            return np.linalg.norm(self.directions(), axis=1)
        # u' H u = S(x_j, x_j) and H = sum_i d_i grad eta_i grad eta_i' +
        # alpha P, so the squared function-space norm of u is (S(x_j, x_j) -
        # sum_i d_i e_i^2) / alpha.
        alpha = self.state.alpha
        values = self.hess.training_values(self.W)
        f_sq = (self.diag() - np.sum(values**2, axis=0)) / alpha
        b_u = self.model.direction_intercepts(self.hess, self.W, self.X, values, alpha)
        return np.sqrt(np.maximum(f_sq, 0.0) + b_u**2)


def covariance_scale(state, X):
    """The covariance scale of a fitted state against the rows ``X``."""
    return Scale(state, X)
