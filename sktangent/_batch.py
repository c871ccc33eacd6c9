"""Greedy batch selection without refitting (THEORY section 4).

Adding a pool point ``x_q`` at its *predicted* label leaves the optimum
unchanged (its loss gradient is zero) and adds ``d_q x~_q x~_q'`` to ``H``,
with ``d_q = mu'(eta_q)^2 / V(mu_q)`` (the observed curvature at ``y = mu``).
Sherman-Morrison then updates, in closed form and on the whole pool,

    t_new(x) = t(x) - S(x, x_q) d_q t(x_q) / (1 + d_q S(x_q, x_q))
    S_new(x, x') = S(x, x') - S(x, x_q) S(x_q, x') d_q / (1 + d_q S(x_q, x_q))

so a batch of B picks costs about B passes over the pool and no refit.
"""

import numpy as np

from ._implicit import DualHessian, PrimalHessian
from ._models import row_blocks


class PoolCovariance:
    """``S(x, x')`` on a fixed pool: its diagonal, and columns on demand.

    The pool is whitened once (``O(m p^2)`` for linear models, ``O(m n^2)``
    for kernel models); each column then costs ``O(m p)`` or ``O(m n)``.
    """

    def __init__(self, estimator, X_pool):
        self.est = estimator
        self.X = X_pool
        hess = estimator._hessian
        # "generic": anything that only offers the estimator-level S (the
        # conjugate-gradient path, the multi-user model's view).
        self.kind = "primal" if isinstance(hess, PrimalHessian) else "generic"
        if isinstance(hess, DualHessian):
            self.kind = "dual"
            X_train = (
                estimator._X_dual if estimator.kernel is None else estimator.X_fit_
            )
            parts = [
                hess.whiten(estimator._train_kernel(X_pool[rows], X_train))
                for rows in row_blocks(X_pool.shape[0], X_train.shape[0])
            ]
            self.Z = np.hstack([z for z, _ in parts])
            self.border = np.concatenate([b for _, b in parts])
            self.s = hess.s if hess.fit_intercept else np.inf
            self.alpha = hess.alpha
        elif self.kind == "primal":
            self.Z = np.vstack(
                [hess.whiten(X_pool[rows]) for rows in row_blocks(X_pool.shape[0], 64)]
            ).T
            self.const = 1.0 / hess.d_sum if hess.fit_intercept else 0.0

    def diagonal(self):
        if self.kind == "primal":
            return np.sum(self.Z**2, axis=0) + self.const
        if self.kind == "dual":
            k_diag = self.est._train_kernel_diagonal(self.X)
            quad = np.sum(self.Z**2, axis=0) - self.border**2 / self.s
            return np.maximum(k_diag - quad, 0.0) / self.alpha
        return self.est._variance_scale(self.X)

    def column(self, j):
        """``S(X_pool, x_j)``."""
        if self.kind == "primal":
            return self.Z.T @ self.Z[:, j] + self.const
        if self.kind == "dual":
            k = self.est._train_kernel(self.X, self.X[j : j + 1]).ravel()
            quad = self.Z.T @ self.Z[:, j] - self.border * self.border[j] / self.s
            return (k - quad) / self.alpha
        return self.est._cross_variance_scale(self.X, self.X[j : j + 1]).ravel()


def _argmax(scores, order):
    """Index of the largest score; ties go to the earliest entry of ``order``."""
    if order is None:
        return int(np.argmax(scores))
    return int(order[np.argmax(scores[order])])


def greedy_batch(
    estimator, X_pool, n_instances, criterion, order=None, return_score_rows=False
):
    """Pick ``n_instances`` pool rows greedily, conditioning on earlier picks.

    Parameters
    ----------
    estimator : fitted TangentRegressor
    X_pool : validated array or sparse matrix
    n_instances : int
    criterion : {"influence", "variance"}
        "influence" ranks by the unlabelled influence score ``u(x)``,
        "variance" by the Laplace variance of the predicted mean.
    order : ndarray or None
        A permutation of the pool deciding ties (random tie-breaking).

    Returns
    -------
    indices : ndarray of shape (n_instances,)
    scores : ndarray of shape (n_instances,)
        The criterion of each pick when it was picked.
    tangent : ndarray of shape (n_pool,)
        ``d eta / ds`` on the pool as if every pick had been added at its
        predicted label (unchanged when ``n_instances == 1``).
    score_rows : ndarray of shape (n_instances, n_pool)
        Only with ``return_score_rows``: the criterion on the whole pool
        before each pick, NaN at the earlier picks.
    """
    family = estimator._family
    eta, tangent = estimator._eta(X_pool, with_tangent=True)
    phi = estimator.dispersion_  # held fixed within a batch
    fisher = family.score_variance(eta)  # d_q, and E[l'^2] / phi
    mean_slope2 = family.mean_derivative(eta) ** 2
    need_variance = criterion == "variance" or n_instances > 1
    cov = PoolCovariance(estimator, X_pool) if need_variance else None
    s_diag = cov.diagonal() if criterion == "variance" else None

    indices, scores, low_rank, score_rows = [], [], [], []
    taken = np.zeros(X_pool.shape[0], dtype=bool)
    for _ in range(n_instances):
        if criterion == "influence":
            score = phi * fisher * tangent**2
        else:
            score = phi * mean_slope2 * s_diag
        if return_score_rows:
            score_rows.append(np.where(taken, np.nan, score))
        score = np.where(taken, -np.inf, score)
        q = _argmax(score, order)
        indices.append(q)
        scores.append(score[q])
        taken[q] = True
        if n_instances == 1:
            break  # nothing to condition; the tangent stays as fitted
        col = cov.column(q)
        for v in low_rank:
            col = col - v * v[q]
        d_q = fisher[q]
        denom = 1.0 + d_q * col[q]
        tangent = tangent - col * (d_q * tangent[q] / denom)
        if s_diag is not None:
            s_diag = s_diag - d_q * col**2 / denom
        low_rank.append(col * np.sqrt(d_q / denom))
    if return_score_rows:
        return np.asarray(indices), np.asarray(scores), tangent, np.array(score_rows)
    return np.asarray(indices), np.asarray(scores), tangent
