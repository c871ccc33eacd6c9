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
from ._models import row_blocks


class PoolCovariance:
    """``S(x, x')`` on a fixed pool: its diagonal, and columns on demand.

    The diagonal and the columns stream over the pool block by block and
    keep nothing of it: a column ``S(., x_q)`` is one solve ``H^-1 x~_q``
    and one pass over the pool's rows (``O(N p)`` for linear models,
    ``O(N n)`` kernel products for kernel models), so a batch of ``B``
    picks holds ``O(B N)`` numbers besides the pool. Only the goal-oriented
    batches, which need ``S`` between many pool and goal rows
    (:meth:`block`, :meth:`features`), whiten the pool once, on first use
    (``O(N p)`` or ``O(n N)`` memory). Without a factorised Hessian
    ("generic": the conjugate-gradient path, the multi-user view, a
    precomputed kernel, which raises a clear error) the fitted state
    computes each column, one solve per pick.

    ``state`` is a :class:`~sktangent._state.FittedState` or anything with
    its interface (the multi-user ``GroupedView``): ``factorisation``,
    ``kernel``, ``variance_scale`` and ``cross_variance_scale``.
    """

    def __init__(self, state, X_pool):
        self.state = state
        self.X = X_pool
        self.factorised = (
            state.factorisation is not None and not state.model.precomputed
        )
        self._scale = None

    @property
    def scale(self):
        """The whitened pool, made on first use (goal batches only)."""
        if self._scale is None and self.factorised:
            self._scale = covariance_scale(self.state, self.X)
        return self._scale

    def diagonal(self):
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

    def feature_parts(self):
        """:meth:`features` as ``(W, c)``, ``W`` and a constant last column
        ``c`` not joined (a copy of the pool's size fewer), or None."""
        return getattr(self.scale, "feature_parts", lambda: None)()

    def block(self, a, b):
        """``S(X_pool[a], X_pool[b])`` for index arrays ``a`` and ``b``."""
        if self.scale is not None:
            return self.scale.among(a, b)
        return self.state.cross_variance_scale(self.X[a], self.X[b])

    def column(self, j):
        """``S(X_pool, x_j)``, block by block of the pool."""
        row = self.X[j : j + 1]
        if not self.factorised:
            return self.state.cross_variance_scale(self.X, row).ravel()
        hess, model = self.state.hessian, self.state.model
        solved = hess.solved(model.rows(row))
        out = np.empty(self.X.shape[0])
        for rows in row_blocks(self.X.shape[0], model.width):
            block = self.X[rows]
            prior = model.prior(block, row) if model.dual else None
            out[rows] = hess.cross_solved(model.rows(block), solved, prior).ravel()
        return out


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
