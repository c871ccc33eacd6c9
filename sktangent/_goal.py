"""Goal-oriented acquisition: the expected influence of a label on a goal set.

Labelling a pool point ``x`` (weight ``d = mu'(eta)^2 / V(mu)``, the IRLS
weight of a new row at its predicted label) moves the linear predictor at a
goal point ``x_j`` by ``d S(x_j, x) (y - mu) / (1 + d S(x, x))``
(Sherman-Morrison). Over labels drawn from the model its expected square,
weighted by the goal point's Fisher weight ``omega_j`` and summed over the
goal set ``G``, is

    g(x) = phi sum_j omega_j S(x_j, x)^2 / (lambda / d + S(x, x))

with ``lambda = 1`` the model's own noise: Cohn's integrated reduction of
predictive variance, read as an influence (theory page, section 9). A
``lambda`` below 1 assumes quieter labels than the model does.

A greedy batch conditions ``S`` on each pick by the rank-one update of the
other strategies (``_batch``): with ``u_l`` the update vectors of the earlier
picks, ``S_k = S_0 - sum_l u_l u_l'`` on the pool and the goal rows alike.

Memory stays bounded in two ways, one per shape of ``S``:

* linear models with a factorised primal Hessian have ``S(x, x') = F_x . F_x'``
  with ``p + 1`` features, so the sum over the *whole* goal set is a quadratic
  form, ``a_x' M a_x``, with a ``(p + 1 + k)``-square ``M``: exact, no subsample;
* otherwise (kernel models, the dual, conjugate gradients, multi-user) the
  goal is represented by at most ``goal_size`` reference rows, whitened once
  together with the pool, and the pool is scored block by block against them,
  so no pool x goal array is ever held.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state

from ._batch import PoolCovariance, take_best
from ._models import row_blocks


class _FeatureGoal:
    """``S = F F'`` on pool and goal rows: the quadratic-form path.

    The features are the whitened rows ``W`` with a constant last column
    ``c``, held as ``W`` alone (the goal's are the pool's when the goal is
    the pool); every product with them runs block by block of rows, so a
    pick adds no array of the pool's size but its update vector.
    """

    def __init__(self, pool_parts, goal_parts):
        (self.W_pool, self.c), (self.W_goal, _) = pool_parts, goal_parts
        self.scale = 1.0

    def _rows(self, W, rows, U=None):
        """``[W, c, U]`` on ``rows``."""
        parts = [W[rows]]
        if self.c:
            parts.append(np.full((parts[0].shape[0], 1), self.c))
        if U is not None:
            parts.append(U[rows])
        return np.hstack(parts) if len(parts) > 1 else parts[0]

    def diagonal(self):
        return np.einsum("ij,ij->i", self.W_pool, self.W_pool) + self.c**2

    def column(self, q):
        w = self.W_pool[q]
        return (
            self.W_pool @ w + self.c**2,
            self.W_goal @ w + self.c**2,
        )

    def spread(self, U_pool, U_goal, omega):
        """``sum_j omega_j S_k(g_j, x)^2`` for every pool row ``x``."""
        width = self.W_pool.shape[1] + bool(self.c) + U_pool.shape[1]
        M = np.zeros((width, width))
        for rows in row_blocks(self.W_goal.shape[0], width):
            A = self._rows(self.W_goal, rows, -U_goal)
            M += A.T @ (omega[rows, None] * A)
        out = np.empty(self.W_pool.shape[0])
        for rows in row_blocks(self.W_pool.shape[0], width):
            B = self._rows(self.W_pool, rows, U_pool)
            out[rows] = np.einsum("ij,ij->i", B @ M, B)
        return out


class _BlockGoal:
    """``S`` from the covariance scale of the pool and goal rows together."""

    def __init__(self, cov, n_pool, goal_rows, scale):
        self.cov, self.n_pool, self.goal = cov, n_pool, goal_rows
        self.scale = scale
        self.blocks = row_blocks(n_pool, goal_rows.size)

    def diagonal(self):
        return self.cov.diagonal()[: self.n_pool]

    def column(self, q):
        col = self.cov.column(q)
        return col[: self.n_pool], col[self.goal]

    def spread(self, U_pool, U_goal, omega):
        out = np.empty(self.n_pool)
        for rows in self.blocks:
            a = np.arange(rows.start, rows.stop)
            S = self.cov.block(a, self.goal)
            if U_goal.shape[1]:
                S -= U_pool[a] @ U_goal.T
            np.square(S, out=S)
            out[a] = S @ omega
        return out


def goal_subsample(n_goal, goal_size, random_state):
    """``(rows, scale)``: at most ``goal_size`` of ``n_goal`` goal rows, drawn
    with ``random_state``, and the factor that scales sums over them to the
    whole goal set. A fixed default seed, so that repeated queries on the
    same pool agree."""
    if goal_size is None or n_goal <= goal_size:
        return np.arange(n_goal), 1.0
    rng = check_random_state(0 if random_state is None else random_state)
    rows = np.sort(rng.choice(n_goal, goal_size, replace=False))
    return rows, n_goal / goal_size


def _geometry(state, X_pool, X_goal, goal_size, random_state):
    """The goal geometry and the goal rows it uses.

    The rows are an index array into the pool when the goal is the pool,
    else the goal rows themselves.
    """
    n_pool = X_pool.shape[0]
    goal = X_pool if X_goal is None else X_goal
    if PoolCovariance.has_features(state):
        pool = PoolCovariance(state, X_pool).feature_parts()
        if X_goal is None:
            return _FeatureGoal(pool, pool), np.arange(n_pool)
        goal = PoolCovariance(state, X_goal).feature_parts()
        return _FeatureGoal(pool, goal), X_goal
    rows, scale = goal_subsample(goal.shape[0], goal_size, random_state)
    if X_goal is None:
        cov = PoolCovariance(state, X_pool)
        return _BlockGoal(cov, n_pool, rows, scale), rows
    stack = sp.vstack if sp.issparse(X_pool) else np.vstack
    X_all = stack([X_pool, X_goal[rows]])
    if sp.issparse(X_all):
        X_all = X_all.tocsr()
    cov = PoolCovariance(state, X_all)
    return _BlockGoal(cov, n_pool, n_pool + np.arange(rows.size), scale), X_goal[rows]


def expected_influence_batch(
    state,
    X_pool,
    n_instances,
    X_goal=None,
    *,
    goal_size=None,
    random_state=None,
    noise=1.0,
    order=None,
    return_score_rows=False,
):
    """Pick ``n_instances`` pool rows by their expected influence on the goal.

    Parameters
    ----------
    state : FittedState or GroupedView
        The fitted state of the model.
    X_pool : validated rows of the pool, shape (N, p)
    n_instances : int
    X_goal : validated rows of the goal set, shape (m, p), or None for the pool
    goal_size : int or None
        Where the goal is not summed exactly (see the module docstring), at
        most this many goal rows represent it, drawn with ``random_state`` (a
        fixed seed when None); the scores are scaled to the whole goal set.
    noise : float
        ``lambda``, the variance of a new label in units of the model's.
    order : ndarray or None
        A permutation of the pool deciding ties.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
    scores : ndarray of shape (n_instances,)
        ``g(x)`` of each pick when it was picked.
    score_rows : ndarray of shape (n_instances, N)
        Only with ``return_score_rows``: ``g`` on the pool before each pick,
        NaN at the earlier picks.
    """
    geometry, goal = _geometry(state, X_pool, X_goal, goal_size, random_state)
    family = state.family
    phi = state.dispersion  # held fixed within a batch
    d_pool = family.score_variance(state.eta(X_pool))
    if X_goal is None:
        omega = d_pool[goal]
    else:
        omega = family.score_variance(state.eta(goal))
    s_diag = geometry.diagonal()
    # A row the model gives no weight (d = 0, e.g. a Poisson mean that
    # underflows) cannot move anything: its score is 0, not 0/0.
    with np.errstate(divide="ignore"):
        label_noise = np.where(d_pool > 0, noise / d_pool, np.inf)

    n_pool = X_pool.shape[0]
    U_pool = np.empty((n_pool, 0))  # update vectors, one column per pick
    U_goal = np.empty((omega.size, 0))
    taken = np.zeros(n_pool, dtype=bool)
    indices, scores = [], []
    score_rows = [] if return_score_rows else None
    for k in range(n_instances):
        spread = geometry.spread(U_pool, U_goal, omega)
        with np.errstate(invalid="ignore", divide="ignore"):
            score = phi * geometry.scale * spread / (label_noise + s_diag)
        score = np.where(np.isfinite(label_noise), score, 0.0)
        q, best = take_best(score, taken, order, score_rows)
        indices.append(q)
        scores.append(best)
        if k == n_instances - 1:
            break
        # Condition on the pick, labelled at its prediction with weight d/lambda.
        col_pool, col_goal = geometry.column(q)
        col_pool = col_pool - U_pool @ U_pool[q]
        col_goal = col_goal - U_goal @ U_pool[q]
        d_q = d_pool[q] / noise
        factor = np.sqrt(d_q / (1.0 + d_q * col_pool[q]))
        U_pool = np.column_stack([U_pool, col_pool * factor])
        U_goal = np.column_stack([U_goal, col_goal * factor])
        s_diag = s_diag - U_pool[:, -1] ** 2
    out = (np.asarray(indices), np.asarray(scores))
    if return_score_rows:
        return out + (np.array(score_rows),)
    return out
