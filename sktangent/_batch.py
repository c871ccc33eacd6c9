"""Greedy batch selection without refitting (docs/theory.rst, section 4).

Adding a pool point ``x_q`` at its *predicted* label leaves the optimum
unchanged (its loss gradient is zero) and adds ``d_q x~_q x~_q'`` to ``H``,
with ``d_q = mu'(eta_q)^2 / V(mu_q)`` (the observed curvature at ``y = mu``).
Sherman-Morrison then updates, in closed form and on the whole pool,

    t_new(x) = t(x) - S(x, x_q) d_q t(x_q) / (1 + d_q S(x_q, x_q))
    S_new(x, x') = S(x, x') - S(x, x_q) S(x_q, x') d_q / (1 + d_q S(x_q, x_q))

so a batch of B picks costs about B passes over the pool and no refit.
"""

import numpy as np

from ._covariance import covariance_scale


class PoolCovariance:
    """``S(x, x')`` on a fixed pool: its diagonal, and columns on demand.

    With a factorised Hessian the pool is whitened once (``O(m p^2)`` for
    linear models, ``O(m n^2)`` for kernel models) and each column is then a
    product. Otherwise ("generic": the conjugate-gradient path, the
    multi-user view, a precomputed kernel, which raises a clear error) the
    fitted state computes each column, one solve per pick.

    ``state`` is a :class:`~sktangent._state.FittedState` or anything with
    its interface (the multi-user ``GroupedView``): ``factorisation``,
    ``kernel``, ``variance_scale`` and ``cross_variance_scale``.
    """

    def __init__(self, state, X_pool):
        self.state = state
        self.X = X_pool
        self.scale = None
        if state.factorisation is not None and not state.model.precomputed:
            self.scale = covariance_scale(state, X_pool)

    def diagonal(self):
        if self.scale is not None:
            return self.scale.diag()
        return self.state.variance_scale(self.X)

    @staticmethod
    def has_features(state):
        """Whether :meth:`features` will return a matrix for this state."""
        return state.factorisation == "primal"

    def features(self):
        """``F`` with ``S(x_a, x_b) = F_a . F_b`` when ``S`` has that form, else None.

        Linear models with a factorised primal Hessian have it, with
        ``n_features (+ 1)`` columns.
        """
        return getattr(self.scale, "features", lambda: None)()

    def block(self, a, b):
        """``S(X_pool[a], X_pool[b])`` for index arrays ``a`` and ``b``."""
        if self.scale is not None:
            return self.scale.among(a, b)
        return self.state.cross_variance_scale(self.X[a], self.X[b])

    def column(self, j):
        """``S(X_pool, x_j)``."""
        row = self.X[j : j + 1]
        if self.scale is not None:
            return self.scale.cross(row).ravel()
        return self.state.cross_variance_scale(self.X, row).ravel()


def _argmax(scores, order):
    """Index of the largest score; ties go to the earliest entry of ``order``."""
    if order is None:
        return int(np.argmax(scores))
    return int(order[np.argmax(scores[order])])


def take_best(score, taken, order, score_rows):
    """One greedy step: record the scores, mask earlier picks, take the best.

    Appends the row (NaN at earlier picks) to ``score_rows`` unless it is
    None, marks the pick in ``taken`` and returns it with its score.
    """
    if score_rows is not None:
        score_rows.append(np.where(taken, np.nan, score))
    score = np.where(taken, -np.inf, score)
    q = _argmax(score, order)
    taken[q] = True
    return q, score[q]


def greedy_batch(
    state, X_pool, n_instances, criterion, order=None, return_score_rows=False
):
    """Pick ``n_instances`` pool rows greedily, conditioning on earlier picks.

    Parameters
    ----------
    state : FittedState or GroupedView
        The fitted state of the model.
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
    family = state.family
    eta, tangent = state.eta(X_pool, with_tangent=True)
    phi = state.dispersion  # held fixed within a batch
    fisher = family.score_variance(eta)  # d_q, and E[l'^2] / phi
    mean_slope2 = family.mean_derivative(eta) ** 2
    need_variance = criterion == "variance" or n_instances > 1
    cov = PoolCovariance(state, X_pool) if need_variance else None
    s_diag = cov.diagonal() if criterion == "variance" else None

    indices, scores, low_rank = [], [], []
    score_rows = [] if return_score_rows else None
    taken = np.zeros(X_pool.shape[0], dtype=bool)
    for _ in range(n_instances):
        if criterion == "influence":
            score = phi * fisher * tangent**2
        else:
            score = phi * mean_slope2 * s_diag
        q, best = take_best(score, taken, order, score_rows)
        indices.append(q)
        scores.append(best)
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
