"""The query strategies' batches on a dask pool, one tree reduction per pick.

Each block of the pool scores its rows after replaying on them the rank-one
updates of the earlier picks (those of :mod:`sktangent._batch` and
:mod:`sktangent._goal`, from ``S(x, x_q)`` against the picks' rows) and
returns only its best candidate; the candidates are reduced in a tree on the
workers. The client holds the picks' rows and a few numbers per pick, never
the pool.
"""

import numpy as np

from ._batch import PoolCovariance
from ._dask import (
    block_offsets,
    checked_rows,
    delayed_blocks,
    is_dask,
    portable,
    query_rows,
    reduce_blocks,
    require_dask,
    tree_reduce,
)
from ._goal import goal_subsample


# ------------------------------------------------------------- greedy picks
def _better(a, b):
    """The better of two candidates ``(score, rank, ...)``: higher score,
    then lower rank; NaN first (the caller then refuses it)."""
    if a is None:
        return b
    if b is None:
        return a
    if np.isnan(a[0]) != np.isnan(b[0]):
        return a if np.isnan(a[0]) else b
    if a[0] != b[0] and not np.isnan(a[0]):
        return a if a[0] > b[0] else b
    return a if a[1] <= b[1] else b


def _best_of(*candidates):
    best = None
    for c in candidates:
        best = _better(best, c)
    return best


class _Plan:
    """What a block needs to replay the batch's rank-one updates so far.

    ``Xq`` are the picks' rows, ``solved`` their ``H^-1 x~_q`` (None without
    a factorised Hessian), ``Vq[l, m]`` the update vector ``v_m`` at pick
    ``l``, and per pick the coefficients of the tangent and variance updates
    and of the update vector.
    """

    def __init__(self, n_features):
        self.picks = np.empty(0, dtype=np.int64)
        self.Xq = np.empty((0, n_features))
        self.solved = None
        self.Vq = np.empty((0, 0))
        self.tangent_coef = []
        self.variance_coef = []
        self.vector_coef = []


def _raw_columns(state, block, Xq, solved):
    """``S(x, x_q)`` for the rows of a block against the picks."""
    if solved is None:
        return state.cross_variance_scale(block, Xq)
    model = state.model
    prior = model.prior(block, Xq) if model.dual else None
    return np.asarray(state.hessian.cross_solved(model.rows(block), solved, prior))


def _factorised(state):
    return state.factorisation is not None and not state.model.precomputed


def _block_best(score, offset, ranks, picks):
    """The block's best row (earlier picks masked): its position and rank.

    Ties go to the lowest rank (the position in the pool, or in the
    tie-breaking order), as :func:`sktangent._batch.take_best` breaks them.
    """
    local = picks - offset
    score[local[(local >= 0) & (local < score.size)]] = -np.inf
    rank = np.arange(offset, offset + score.size) if ranks is None else ranks
    nan = np.isnan(score)
    if np.any(nan):
        i = int(np.flatnonzero(nan)[np.argmin(rank[nan])])
    else:
        top = np.flatnonzero(score == np.max(score))
        i = int(top[np.argmin(rank[top])])
    return i, int(rank[i])


def _greedy_block(block, offset, ranks, state, criterion, phi, plan):
    """The best candidate of one block after the picks in ``plan``."""
    block = checked_rows(block)
    family = state.family
    eta, tangent = state.eta(block, with_tangent=True)
    fisher = family.score_variance(eta)
    s_diag = None
    if criterion == "variance":
        slope2 = family.mean_derivative(eta) ** 2
        s_diag = state.variance_scale(block)
    k = plan.picks.size
    V = np.empty((block.shape[0], k))
    if k:
        R = _raw_columns(state, block, plan.Xq, plan.solved)
        for j in range(k):  # the updates of _batch.greedy_batch, in order
            col = R[:, j]
            for m in range(j):
                col = col - V[:, m] * plan.Vq[j, m]
            tangent = tangent - col * plan.tangent_coef[j]
            if s_diag is not None:
                s_diag = s_diag - plan.variance_coef[j] * col**2
            V[:, j] = col * plan.vector_coef[j]
    if criterion == "influence":
        score = phi * fisher * tangent**2
    else:
        score = phi * slope2 * s_diag
    i, rank = _block_best(score, offset, ranks, plan.picks)
    return (
        float(score[i]),
        rank,
        int(offset + i),
        block[i].copy(),
        float(tangent[i]),
        float(fisher[i]),
        V[i].copy(),
    )


def greedy_batch(state, X, n_instances, criterion, order=None):
    """:func:`sktangent._batch.greedy_batch` on a dask pool, one pass per pick.

    Returns ``(indices, scores)``; the pool is never gathered, only the
    picks' rows.
    """
    dask, da = require_dask()
    lite = portable(state)
    phi = lite.dispersion
    offsets = block_offsets(X)
    ranks = None
    if order is not None:  # the rank of every row in the tie-breaking order
        rank = np.empty(order.size, dtype=np.int64)
        rank[order] = np.arange(order.size)
        ranks = da.from_array(rank, chunks=(X.chunks[0],))
    blocks = delayed_blocks(X) if ranks is None else delayed_blocks(X, ranks)
    shipped = dask.delayed(lite, pure=True)
    block_fn = dask.delayed(_greedy_block, pure=True)
    factorised = _factorised(lite)
    plan = _Plan(X.shape[1])
    indices, scores = [], []
    for k in range(n_instances):
        parts = [
            block_fn(
                b[0],
                offsets[j],
                b[1] if ranks is not None else None,
                shipped,
                criterion,
                phi,
                plan,
            )
            for j, b in enumerate(blocks)
        ]
        best = tree_reduce(parts, _best_of).compute()
        score, _, q, x_q, t_q, d_q, v_q = best
        indices.append(q)
        scores.append(score)
        if k == n_instances - 1:
            break
        x_q = x_q[None, :]
        if factorised:
            solved_q = lite.hessian.solved(lite.model.rows(x_q))
            s_qq = float(_raw_columns(lite, x_q, x_q, solved_q)[0, 0])
        else:
            solved_q = None
            s_qq = float(lite.cross_variance_scale(x_q, x_q)[0, 0])
        col_q = s_qq - float(np.sum(v_q**2))
        denom = 1.0 + d_q * col_q
        plan = _extend(plan, q, x_q, solved_q, v_q, d_q, t_q, denom)
    return np.asarray(indices), np.asarray(scores)


def _extend(plan, q, x_q, solved_q, v_q, d_q, t_q, denom):
    """The plan with one more pick (a new object: the old one may be in flight)."""
    new = _Plan(x_q.shape[1])
    k = plan.picks.size
    new.picks = np.append(plan.picks, q)
    new.Xq = np.vstack([plan.Xq, x_q])
    new.solved = _stack_solved(plan.solved, solved_q)
    new.Vq = np.zeros((k + 1, k + 1))
    new.Vq[:k, :k] = plan.Vq
    new.Vq[k, :k] = v_q
    new.tangent_coef = plan.tangent_coef + [d_q * t_q / denom]
    new.variance_coef = plan.variance_coef + [d_q / denom]
    new.vector_coef = plan.vector_coef + [np.sqrt(d_q / denom)]
    return new


def _stack_solved(old, new):
    """``H^-1 x~_q`` of the earlier picks and one more, in the Hessian's layout:
    an array of rows (primal) or the pair ``(a, b)`` of columns (dual)."""
    if new is None:
        return None
    if old is None:
        return new
    if isinstance(new, tuple):
        return np.hstack([old[0], new[0]]), np.concatenate([old[1], new[1]])
    return np.vstack([old, new])


# ---------------------------------------------------------- goal batches
class _GoalPlan:
    """The picks of a goal batch: rows, ``H^-1 x~_q``, the update vectors at
    the picks (``Uq[l, m] = u_m(x_{q_l})``) and their factors."""

    def __init__(self, n_features):
        self.picks = np.empty(0, dtype=np.int64)
        self.Xq = np.empty((0, n_features))
        self.solved = None
        self.Uq = np.empty((0, 0))
        self.factors = []


def _updates(state, block, plan):
    """The update vectors ``u_l`` of :mod:`sktangent._goal` at a block's rows."""
    k = plan.picks.size
    U = np.empty((block.shape[0], k))
    if k:
        R = _raw_columns(state, block, plan.Xq, plan.solved)
        for j in range(k):
            U[:, j] = (R[:, j] - U[:, :j] @ plan.Uq[j, :j]) * plan.factors[j]
    return U


def _features(state, block):
    return PoolCovariance(state, block).features()


def _goal_gram_block(block, state, plan):
    """``A' Omega A`` over a block of goal rows, ``A = [F, -U]``."""
    block = checked_rows(block)
    omega = state.family.score_variance(state.eta(block))
    A = np.hstack([_features(state, block), -_updates(state, block, plan)])
    return {"M": A.T @ (omega[:, None] * A)}


def _goal_block(block, offset, ranks, state, plan, goal, phi, scale, noise):
    """The block's best candidate for the expected influence on the goal.

    ``goal`` is ``("features", M)`` (linear primal: the quadratic form over
    the whole goal set) or ``("rows", G, W_goal, U_goal, omega)`` (a
    subsample, whitened once).
    """
    block = checked_rows(block)
    d = state.family.score_variance(state.eta(block))
    U = _updates(state, block, plan)
    if goal[0] == "features":
        F = _features(state, block)
        s_diag = np.sum(F**2, axis=1)
        B = np.hstack([F, U])
        spread = np.einsum("ij,ij->i", B @ goal[1], B)
    else:
        _, G, W_goal, U_goal, omega = goal
        s_diag = state.variance_scale(block)
        model = state.model
        prior = model.prior(block, G) if model.dual else None
        S = state.hessian.cross(model.rows(block), W_goal, prior)
        if U_goal.shape[1]:
            S -= U @ U_goal.T
        spread = S**2 @ omega
    for j in range(U.shape[1]):
        s_diag = s_diag - U[:, j] ** 2
    with np.errstate(divide="ignore"):
        label_noise = np.where(d > 0, noise / d, np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = phi * scale * spread / (label_noise + s_diag)
    score = np.where(np.isfinite(label_noise), score, 0.0)
    i, rank = _block_best(score, offset, ranks, plan.picks)
    return (float(score[i]), rank, int(offset + i), block[i].copy(), float(d[i]), U[i])


def _goal_rows(X, X_goal, goal_size, random_state):
    """The goal subsample (in memory) and the scale to the whole goal set."""
    goal = X if X_goal is None else X_goal
    n_goal = goal.shape[0]
    rows, scale = goal_subsample(n_goal, goal_size, random_state)
    if scale == 1.0 and is_dask(goal):
        raise ValueError(
            "goal_size=None would hold the whole dask goal set in memory; give "
            "goal_size (the goal is then represented by that many rows)."
        )
    G = goal[rows]
    return (G.compute() if is_dask(G) else G), scale


def expected_batch(state, X, n_instances, goal, transform, order, random_state=None):
    """:func:`sktangent._goal.expected_influence_batch` on a dask pool.

    Linear models with a factorised primal Hessian sum over the whole goal
    set exactly: one reduction of ``A' Omega A`` over the goal's blocks and
    one scoring pass per pick. Otherwise the goal is a subsample of
    ``goal_size`` rows held in memory, and one scoring pass per pick.
    """
    dask, da = require_dask()
    lite = portable(state)
    phi = lite.dispersion
    noise = float(goal["noise"])
    X_goal = goal["X_goal"]
    p = X.shape[1]
    if X_goal is not None:
        if transform is not None and not is_dask(X_goal):
            X_goal = transform.transform(X_goal)
        if is_dask(X_goal):
            X_goal = query_rows(X_goal, transform, p, "X_goal")
        else:
            X_goal = state.validate_query(X_goal)
    features = PoolCovariance.has_features(lite)
    ranks = None
    if order is not None:
        rank = np.empty(order.size, dtype=np.int64)
        rank[order] = np.arange(order.size)
        ranks = da.from_array(rank, chunks=(X.chunks[0],))
    blocks = delayed_blocks(X) if ranks is None else delayed_blocks(X, ranks)
    offsets = block_offsets(X)
    shipped = dask.delayed(lite, pure=True)
    block_fn = dask.delayed(_goal_block, pure=True)
    factorised = _factorised(lite)
    plan = _GoalPlan(p)
    if features:
        goal_X = X if X_goal is None else X_goal
        if not is_dask(goal_X):
            goal_X = da.from_array(goal_X, chunks=(max(1, 2**22 // max(p, 1)), p))
        goal_blocks = delayed_blocks(goal_X)
        scale = 1.0
    else:
        G, scale = _goal_rows(X, X_goal, goal["goal_size"], random_state)
        omega = lite.family.score_variance(lite.eta(G))
        W_goal = lite.hessian.whiten(lite.model.rows(G))  # once, not per block
        U_goal = np.empty((G.shape[0], 0))
    indices, scores = [], []
    for k in range(n_instances):
        if features:
            M = reduce_blocks(_goal_gram_block, goal_blocks, shipped, plan)["M"]
            spec = ("features", M)
        else:
            spec = ("rows", G, W_goal, U_goal, omega)
        parts = [
            block_fn(
                b[0],
                offsets[j],
                b[1] if ranks is not None else None,
                shipped,
                plan,
                spec,
                phi,
                scale,
                noise,
            )
            for j, b in enumerate(blocks)
        ]
        score, _, q, x_q, d_q, u_q = tree_reduce(parts, _best_of).compute()
        indices.append(q)
        scores.append(score)
        if k == n_instances - 1:
            break
        x_q = x_q[None, :]
        solved_q = None
        if factorised:
            solved_q = lite.hessian.solved(lite.model.rows(x_q))
        raw_qq = float(_raw_columns(lite, x_q, x_q, solved_q)[0, 0])
        col_q = raw_qq - float(u_q @ u_q)
        d_q = d_q / noise
        factor = np.sqrt(d_q / (1.0 + d_q * col_q))
        if not features:
            col_goal = _raw_columns(lite, G, x_q, solved_q)[:, 0] - U_goal @ u_q
            U_goal = np.column_stack([U_goal, col_goal * factor])
        new = _GoalPlan(p)
        new.picks = np.append(plan.picks, q)
        new.Xq = np.vstack([plan.Xq, x_q])
        new.solved = _stack_solved(plan.solved, solved_q)
        new.Uq = np.zeros((k + 1, k + 1))
        new.Uq[:k, :k] = plan.Uq
        new.Uq[k, :k] = u_q
        new.factors = plan.factors + [factor]
        plan = new
    return np.asarray(indices), np.asarray(scores)


def select(
    state,
    X,
    n_instances,
    criterion,
    order,
    return_score_rows,
    goal,
    transform,
    random_state=None,
):
    """The greedy batch of a strategy on a dask pool: ``(indices, scores)``."""
    if return_score_rows:
        raise ValueError(
            "The scores of every pool row before each pick are not kept for a "
            "dask pool (n_instances x n_pool numbers); compute the pool."
        )
    if criterion == "expected":
        return expected_batch(
            state, X, n_instances, goal, transform, order, random_state
        )
    return greedy_batch(state, X, n_instances, criterion, order)
