"""Dask arrays: pools scored block by block and linear models fitted by reductions.

dask is optional. Nothing here imports it at module level: a dask array is
recognised by the collection protocol (``__dask_graph__``) and dask is
imported only once one has been passed in.

* The verbs (``predict``, ``predict_tangent``, ``influence_score``) map the
  fitted state over the blocks of rows and return dask arrays: lazy, and
  computed chunk by chunk.
* The greedy batches of the query strategies make one pass over the pool per
  pick; each block returns only its best candidate (its row and the few
  numbers the Sherman-Morrison update needs), reduced in a tree. The earlier
  picks' rows travel to the blocks instead of the pool to the caller: every
  block replays the rank-one updates of :mod:`sktangent._batch` on its own
  rows, from ``S(x, x_q)`` against the picks.
* Fitting a linear model (``n >= p``, in the primal) takes the Gram matrix
  ``Xc' W Xc`` and ``X' W y`` as tree reductions over the chunks and then the
  in-memory factorisation (normal family), or one such reduction of value,
  gradient and Hessian per Newton iterate (the GLMs). The fitted state keeps
  no dask array: a primal state holds the factor and the coefficients only.
"""

from dataclasses import replace

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from ._families import get_family
from ._implicit import PrimalHessian, check_finite_fit
from ._models import LinearModel
from ._objective import Objective
from ._solvers import FitResult, choose_solver, damped_newton, finish, initial_intercept
from ._state import FittedState
from ._validation import check_unchanged, snapshot_params

# Partial results merged per task of the tree reductions.
_SPLIT_EVERY = 8


def is_dask(X):
    """Whether ``X`` is a dask collection, without importing dask.

    By the collection protocol: an object whose ``__dask_graph__()`` is not
    None (xarray objects have the method even when numpy holds their data).
    """
    graph = getattr(type(X), "__dask_graph__", None)
    return graph is not None and graph(X) is not None


def _require_dask():
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - a dask object implies dask
        raise ImportError(
            "Dask input needs dask[array]: pip install 'sktangent[dask]'."
        ) from exc
    return dask, da


def check_dask_rows(X, n_features, what="X", known_rows=True):
    """A 2-D dask array of numbers, one chunk wide, as float64 (lazy)."""
    _, da = _require_dask()
    if not isinstance(X, da.Array):
        raise TypeError(
            f"{what} is a {type(X).__name__}: sktangent accepts dask *arrays*. "
            "Convert a dask DataFrame with X.to_dask_array(lengths=True)."
        )
    if X.ndim != 2:
        raise ValueError(
            f"{what} must be a 2-D dask array (n_samples, n_features); got "
            f"{X.ndim} dimension(s)."
        )
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{what} must hold numbers; got dtype {X.dtype}.")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"{what} has {X.shape[1]} features, but the model was fitted with "
            f"{n_features} features."
        )
    if known_rows and any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            f"{what} has chunks of unknown size; call {what}.compute_chunk_sizes() "
            "first (row indices need them)."
        )
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})  # a block holds whole rows
    return X.astype(np.float64)


def _rows(block):
    """A block of rows checked as the in-memory verbs check them."""
    return check_array(block, dtype=np.float64)


def portable(state):
    """The state to ship to the workers: without its owner's validation
    callback (the estimator), with what is computed on first use computed
    once here rather than in every task."""
    root = state.dispersion_root
    lite = replace(state, check_query=None)
    lite.__dict__["dispersion_root"] = root
    return lite


def _check_query(estimator, X):
    check_is_fitted(estimator)
    check_unchanged(estimator)
    return check_dask_rows(X, estimator.n_features_in_, known_rows=False)


# ------------------------------------------------------------------- verbs
def _predict_block(block, state, return_std):
    block = _rows(block)
    if return_std:
        return np.column_stack(state.predict(block, return_std=True))
    return state.predict(block)


def _tangent_block(block, state):
    return state.predict_tangent(_rows(block))


def _influence_block(block, state):
    return state.influence_score(_rows(block))


def _labelled_influence_block(block, y, state):
    return state.influence_score(_rows(block), y[:, 0])


def predict(estimator, X, return_std=False):
    """``predict`` on a dask array: dask arrays of the mean (and std)."""
    X = _check_query(estimator, X)
    state = portable(estimator.fitted_state_)
    if not return_std:
        return X.map_blocks(_predict_block, state, False, drop_axis=1, dtype=np.float64)
    both = X.map_blocks(
        _predict_block,
        state,
        True,
        chunks=(X.chunks[0], (2,)),
        dtype=np.float64,
    )
    return both[:, 0], both[:, 1]


def predict_tangent(estimator, X):
    X = _check_query(estimator, X)
    state = portable(estimator.fitted_state_)
    return X.map_blocks(_tangent_block, state, drop_axis=1, dtype=np.float64)


def influence_score(estimator, X, y=None):
    """``influence_score`` on a dask array; ``y`` numpy or dask."""
    X = _check_query(estimator, X)
    state = portable(estimator.fitted_state_)
    if y is None:
        return X.map_blocks(_influence_block, state, drop_axis=1, dtype=np.float64)
    y = _column(y, X, "y")
    # y as a column: map_blocks aligns arrays by their last axes.
    return X.map_blocks(
        _labelled_influence_block, y[:, None], state, drop_axis=1, dtype=np.float64
    )


def _column(v, X, name):
    """``v`` (numpy or dask, one value per row of ``X``) chunked as ``X``'s rows."""
    _, da = _require_dask()
    if not is_dask(v):
        v = np.asarray(v)
        if v.ndim == 2 and v.shape[1] == 1:
            v = v[:, 0]
        if v.ndim != 1:
            raise ValueError(f"{name} must be 1-D; got shape {v.shape}.")
        if not np.isnan(X.shape[0]) and v.shape[0] != X.shape[0]:
            raise ValueError(
                f"{name} has {v.shape[0]} entries for {X.shape[0]} rows of X."
            )
        return da.from_array(v, chunks=(X.chunks[0],))
    if not isinstance(v, da.Array):
        raise TypeError(f"{name} must be a numpy or dask array.")
    if v.ndim == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {v.shape}.")
    if v.shape[0] != X.shape[0]:
        raise ValueError(f"{name} has {v.shape[0]} entries for {X.shape[0]} rows of X.")
    return v.rechunk((X.chunks[0],))


# --------------------------------------------------------- tree reductions
def _tree(parts, merge):
    """Merge delayed partial results in a tree (``_SPLIT_EVERY`` per task)."""
    dask, _ = _require_dask()
    merge = dask.delayed(merge, pure=True)
    while len(parts) > 1:
        parts = [
            merge(*parts[i : i + _SPLIT_EVERY])
            for i in range(0, len(parts), _SPLIT_EVERY)
        ]
    return parts[0]


def _blocks(*arrays):
    """The delayed row blocks of arrays chunked alike, as rows of tuples."""
    columns = [a.to_delayed().ravel() for a in arrays]
    return list(zip(*columns, strict=True))


def _offsets(X):
    return np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).astype(np.int64)


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
    block = _rows(block)
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
    dask, da = _require_dask()
    lite = portable(state)
    phi = lite.dispersion
    offsets = _offsets(X)
    ranks = None
    if order is not None:  # the rank of every row in the tie-breaking order
        rank = np.empty(order.size, dtype=np.int64)
        rank[order] = np.arange(order.size)
        ranks = da.from_array(rank, chunks=(X.chunks[0],))
    blocks = _blocks(X) if ranks is None else _blocks(X, ranks)
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
        best = _tree(parts, _best_of).compute()
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


# ------------------------------------------------------------------ fitting
def _check_fit_input(estimator, X, y, sample_weight):
    if estimator.kernel is not None:
        raise ValueError(
            "Kernel models need the training rows in memory (the kernel matrix "
            "is n x n); dask input fits linear models only. Compute X "
            "(X.compute()) or use a linear model (kernel=None)."
        )
    X = check_dask_rows(X, None)
    n, p = X.shape
    if n < 2:
        raise ValueError(
            f"Found {n} sample(s); {type(estimator).__name__} needs at least 2 "
            "samples to fit a model and estimate its dispersion."
        )
    y = _column(y, X, "y").astype(np.float64)
    if sample_weight is None or np.ndim(sample_weight) == 0:
        value = 1.0 if sample_weight is None else float(sample_weight)
        w = da_full_like(y, value)
    else:
        w = _column(sample_weight, X, "sample_weight").astype(np.float64)
    return X, y, w


def da_full_like(y, value):
    _, da = _require_dask()
    return da.full_like(y, value, dtype=np.float64)


def _stats_block(X, y, w, fit_intercept):
    """Pass 0: totals, weighted column sums, column ranges, the range of y."""
    X = _rows(X)
    y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
    w = check_array(w, ensure_2d=False, dtype=np.float64, input_name="sample_weight")
    return {
        "w": float(np.sum(w)),
        "wy": float(w @ y),
        "Xw": X.T @ w,
        "min_X": X.min(axis=0),
        "max_X": X.max(axis=0),
        "min_y": float(y.min()),
        "max_y": float(y.max()),
        "min_w": float(w.min()),
        "positive": int(np.sum(w > 0)),
    }


def _pearson_merge(a, b):
    (ma, qa), (mb, qb) = a, b
    m = max(ma, mb)
    if not (m > 0 and np.isfinite(m)):
        return (m, qa + qb)
    return (m, (qa * (ma / m) ** 2 if ma > 0 else 0.0) + qb * (mb / m) ** 2)


def _merge(*parts):
    """Add partial results key by key (``min_``/``max_`` keys: extremes)."""
    out = dict(parts[0])
    for part in parts[1:]:
        for key, value in part.items():
            if key.startswith("min_"):
                out[key] = np.minimum(out[key], value)
            elif key.startswith("max_"):
                out[key] = np.maximum(out[key], value)
            elif key == "pearson":
                out[key] = _pearson_merge(out[key], value)
            else:
                out[key] = out[key] + value
    return out


def _reduce(fn, blocks, *args):
    dask, _ = _require_dask()
    fn = dask.delayed(fn, pure=True)
    return _tree([fn(*b, *args) for b in blocks], _merge).compute()


def _pearson_block(X, y, w, family, coef, intercept):
    eta = _rows(X) @ coef + intercept
    m, q = family.pearson_statistic(y, eta, w)
    # The block's own (m, q) with q over m, as Family.pearson_statistic keeps it;
    # zero-weight blocks count nothing.
    return {"pearson": (m, q)}


def _centred_gram_block(X, y, w, family, theta, x_mean, fit_intercept, y_mean):
    """``Xc' D Xc`` at ``theta`` (D the observed curvature, or w for the normal
    family with ``theta=None``), ``X' W (y - ybar)`` and the Pearson statistic."""
    X = _rows(X)
    Xc = X - x_mean if fit_intercept else X
    out = {}
    if theta is None:
        d = w
        out["Xy"] = X.T @ (w * (y - y_mean))
    else:
        coef, b = _split(theta, X.shape[1], fit_intercept)
        eta = X @ coef + b
        d = w * family.hessian(y, eta)
        out["pearson"] = family.pearson_statistic(y, eta, w)
    out["G"] = Xc.T @ (d[:, None] * Xc)
    return out


def _split(theta, p, fit_intercept):
    return theta[:p], (theta[p] if fit_intercept else 0.0)


def _newton_block(X, y, w, family, theta, alpha, fit_intercept, fisher):
    """Value, gradient and the uncentred Gram ``X' D X`` at ``theta``.

    ``D`` is the observed curvature (its smallest entry tells the caller
    whether it is convex), or Fisher's with ``fisher``.
    """
    X = _rows(X)
    p = X.shape[1]
    coef, b = _split(theta, p, fit_intercept)
    eta = X @ coef + b
    with np.errstate(over="ignore", invalid="ignore"):
        value = float(np.sum(w * family.loss(y, eta)))
        g = w * family.gradient(y, eta)
        if fisher:
            d = w * family.score_variance(eta)
        else:
            d = w * family.hessian(y, eta)
    out = {
        "value": value,
        "grad": X.T @ g,
        "grad_b": float(np.sum(g)),
        "XDX": X.T @ (d[:, None] * X),
        "Xd": X.T @ d,
        "d": float(np.sum(d)),
        "min_d": float(np.min(d)) if d.size else 0.0,
    }
    return out


class _DaskNewton:
    """Newton's method whose every iterate is one reduction over the chunks.

    Runs :func:`sktangent._solvers.damped_newton`, the loop of the in-memory
    solver, with the same steps: the Hessian at the observed curvature
    (Fisher's where that is not convex), centred by subtracting ``sum(D)
    xbar xbar'`` during the iterations and exactly centred at the optimum.
    The start is the intercept-only model (the in-memory solver may start
    from a subsample's optimum on tall data: another path to the same
    optimum).
    """

    def __init__(self, blocks, family, alpha, fit_intercept, p, constant, x_const):
        self.blocks, self.family = blocks, family
        self.alpha, self.fit_intercept, self.p = alpha, fit_intercept, p
        self.constant, self.x_const = constant, x_const
        self._cache = {}

    def stats(self, theta, fisher=False):
        key = (theta.tobytes(), fisher)
        if key not in self._cache:
            if len(self._cache) > 8:
                self._cache.clear()
            self._cache[key] = _reduce(
                _newton_block,
                self.blocks,
                self.family,
                theta,
                self.alpha,
                self.fit_intercept,
                fisher,
            )
        return self._cache[key]

    def value(self, theta):
        coef = theta[: self.p]
        return self.stats(theta)["value"] + 0.5 * self.alpha * float(coef @ coef)

    def gradient(self, theta):
        s = self.stats(theta)
        grad = s["grad"] + self.alpha * theta[: self.p]
        if self.fit_intercept:
            grad = np.append(grad, s["grad_b"])
        return grad

    def hessian(self, s):
        """The iterations' Hessian from the uncentred sums of a pass."""
        p = self.p
        x_mean = np.zeros(p)
        A = s["XDX"].copy()
        if self.fit_intercept:
            if not s["d"] > 0:
                raise ValueError(
                    "The total curvature sum(w * l'') is not positive, so the "
                    "intercept is not identified at this solution. Check "
                    "sample_weight, or fit without an intercept."
                )
            x_mean = s["Xd"] / s["d"]
            A -= s["d"] * np.outer(x_mean, x_mean)
            x_mean[self.constant] = self.x_const[self.constant]
        return PrimalHessian.from_gram(
            A, x_mean, s["d"], self.alpha, self.fit_intercept, self.constant
        )

    def step(self, theta, grad):
        s = self.stats(theta)
        hess = None
        if s["min_d"] < 0:
            # As the in-memory solver: the observed curvature if the full
            # Hessian is still positive definite, else Fisher scoring.
            try:
                hess = self.hessian(s)
            except ValueError:
                hess = self.hessian(self.stats(theta, fisher=True))
        else:
            hess = self.hessian(s)
        return -hess.solve(grad)


def fit_dask(estimator, X, y, sample_weight):
    """``TangentRegressor.fit`` on dask arrays (linear models, ``n >= p``)."""
    X, y, w = _check_fit_input(estimator, X, y, sample_weight)
    n, p = X.shape
    family = get_family(estimator.family, estimator.power, warn=True)
    fit_intercept = bool(estimator.fit_intercept)
    solver, shape = choose_solver(
        estimator.solver,
        family,
        None,
        n,
        p,
        fit_intercept,
        {"max_iter": estimator.max_iter, "tol": estimator.tol},
    )
    if shape != "primal":
        raise ValueError(
            f"With dask input sktangent fits linear models in the primal, which "
            f"needs n_samples >= n_features; got {n} samples and {p} features. "
            "Compute X (X.compute()) to fit in the dual."
        )
    if solver.name == "lbfgs":
        raise ValueError(
            "solver='lbfgs' is not available with dask input (and 'auto' picks "
            f"it for {p} features): use solver='newton-cholesky', or compute X."
        )
    blocks = _blocks(X, y, w)
    stats = _reduce(_stats_block, blocks, fit_intercept)
    if stats["min_w"] < 0:
        raise ValueError("sample_weight must be non-negative; found negative weights.")
    if not stats["positive"]:
        raise ValueError("sample_weight is zero everywhere; nothing to fit.")
    family.check_y(np.array([stats["min_y"], stats["max_y"]]))
    constant = (
        stats["min_X"] == stats["max_X"] if fit_intercept else np.zeros(p, dtype=bool)
    )
    x_const = stats["min_X"]
    alpha = float(estimator.alpha)
    if solver.name == "cholesky":
        x_mean = np.zeros(p)
        y_mean = 0.0
        if fit_intercept:
            x_mean = stats["Xw"] / stats["w"]
            x_mean[constant] = x_const[constant]
            y_mean = stats["wy"] / stats["w"]
        part = _reduce(
            _centred_gram_block, blocks, family, None, x_mean, fit_intercept, y_mean
        )
        hess = PrimalHessian.from_gram(
            part["G"], x_mean, stats["w"], alpha, fit_intercept, constant
        )
        Xy = part["Xy"]
        Xy[constant] = 0.0
        coef = hess.solve_centred(Xy)
        intercept = y_mean - float(x_mean @ coef) if fit_intercept else 0.0
        pearson = _reduce(_pearson_block, blocks, family, coef, intercept)["pearson"]
        n_iter = 1
    else:
        newton = _DaskNewton(blocks, family, alpha, fit_intercept, p, constant, x_const)
        theta = np.zeros(p + fit_intercept)
        if fit_intercept:
            mean = stats["wy"] / stats["w"]
            theta[-1] = initial_intercept(family, np.array([mean]), np.ones(1), True)
        theta, n_iter = damped_newton(
            theta,
            newton.value,
            newton.gradient,
            newton.step,
            solver.max_iter,
            solver.tol,
            stats["w"],
        )
        if fit_intercept and np.any(constant):
            theta = theta.copy()
            theta[-1] += float(x_const[constant] @ theta[:-1][constant])
            theta[:-1][constant] = 0.0
        s = newton.stats(theta)
        x_mean = np.zeros(p)
        if fit_intercept:
            if not s["d"] > 0:
                raise ValueError(
                    "The total curvature sum(w * l'') is not positive, so the "
                    "intercept is not identified at this solution. Check "
                    "sample_weight, or fit without an intercept."
                )
            x_mean = s["Xd"] / s["d"]
            x_mean[constant] = x_const[constant]
        part = _reduce(
            _centred_gram_block, blocks, family, theta, x_mean, fit_intercept, 0.0
        )
        hess = PrimalHessian.from_gram(
            part["G"], x_mean, s["d"], alpha, fit_intercept, constant
        )
        coef, intercept = _split(theta, p, fit_intercept)
        coef, intercept = coef.copy(), float(intercept)
        pearson = part["pearson"]
    # finish() reads the objective's layout and, for constant columns, the
    # first row (a constant column's value): a one-row stand-in for X.
    objective = Objective(
        family, LinearModel(p), x_const[None, :], None, None, alpha, fit_intercept
    )
    result = FitResult(coef, float(intercept), hess, None, n_iter)
    coef, intercept, tangent, intercept_tangent = finish(objective, result)
    check_finite_fit(coef, tangent)
    state = FittedState(
        family=family,
        model=LinearModel(p),
        hessian=hess,
        alpha=alpha,
        fit_intercept=fit_intercept,
        coef=coef,
        tangent=tangent,
        intercept=intercept,
        intercept_tangent=intercept_tangent,
        solver=solver.name,
        tol=float(estimator.tol),
        dispersion_rule=estimator.dispersion,
        pearson=pearson,
        n_positive=int(stats["positive"]),
        check_query=estimator._validate_query,
    )
    estimator.n_features_in_ = p
    if hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_
    estimator.coef_, estimator.coef_tangent_ = state.coef, state.tangent
    for name in ("X_fit_", "dual_coef_", "dual_coef_tangent_"):
        if hasattr(estimator, name):
            delattr(estimator, name)
    estimator.intercept_ = state.intercept
    estimator.intercept_tangent_ = state.intercept_tangent
    estimator.n_iter_ = max(int(n_iter), 1)
    estimator.fitted_state_ = state
    estimator._fitted_params = snapshot_params(estimator)
    return estimator


# -------------------------------------------------------- query strategies
def _transform_block(block, transform):
    return np.asarray(transform.transform(block), dtype=np.float64)


def query_pool(estimator, transform, X):
    """The fitted state and the pool rows, still lazy, for the strategies."""
    state = getattr(estimator, "fitted_state_", None)
    check_is_fitted(estimator)
    check_unchanged(estimator)
    if not isinstance(state, FittedState):
        raise ValueError(
            f"A dask pool is scored block by block for TangentRegressor and "
            f"binary TangentClassifier learners; this one wraps a "
            f"{type(estimator).__name__} with a {type(state).__name__}. Compute "
            "the pool (X_pool.compute()) or query chunk by chunk."
        )
    return state, query_rows(X, transform, estimator.n_features_in_, "X_pool")


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
    from ._batch import PoolCovariance

    return PoolCovariance(state, block).features()


def _goal_gram_block(block, state, plan):
    """``A' Omega A`` over a block of goal rows, ``A = [F, -U]``."""
    block = _rows(block)
    omega = state.family.score_variance(state.eta(block))
    A = np.hstack([_features(state, block), -_updates(state, block, plan)])
    return {"M": A.T @ (omega[:, None] * A)}


def _goal_block(block, offset, ranks, state, plan, goal, phi, scale, noise):
    """The block's best candidate for the expected influence on the goal.

    ``goal`` is ``("features", M)`` (linear primal: the quadratic form over
    the whole goal set) or ``("rows", G, W_goal, U_goal, omega)`` (a
    subsample, whitened once).
    """
    block = _rows(block)
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
    from sklearn.utils import check_random_state

    goal = X if X_goal is None else X_goal
    n_goal = goal.shape[0]
    rows, scale = np.arange(n_goal), 1.0
    if goal_size is not None and n_goal > goal_size:
        rng = check_random_state(0 if random_state is None else random_state)
        rows = np.sort(rng.choice(n_goal, goal_size, replace=False))
        scale = n_goal / goal_size
    elif is_dask(goal):
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
    from ._batch import PoolCovariance

    dask, da = _require_dask()
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
    blocks = _blocks(X) if ranks is None else _blocks(X, ranks)
    offsets = _offsets(X)
    shipped = dask.delayed(lite, pure=True)
    block_fn = dask.delayed(_goal_block, pure=True)
    factorised = _factorised(lite)
    plan = _GoalPlan(p)
    if features:
        goal_X = X if X_goal is None else X_goal
        if not is_dask(goal_X):
            goal_X = da.from_array(goal_X, chunks=(max(1, 2**22 // max(p, 1)), p))
        goal_blocks = _blocks(goal_X)
        scale = 1.0
    else:
        G, scale = _goal_rows(X, X_goal, goal["goal_size"], random_state)
        omega = lite.family.score_variance(lite.eta(G))
        W_goal = lite.hessian.whiten(lite.model.rows(G))  # once, not per block
        U_goal = np.empty((G.shape[0], 0))
    indices, scores = [], []
    for k in range(n_instances):
        if features:
            M = _reduce(_goal_gram_block, goal_blocks, shipped, plan)["M"]
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
        score, _, q, x_q, d_q, u_q = _tree(parts, _best_of).compute()
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


def query_rows(X, transform, n_features, what):
    """Dask rows of a pool or goal set, transformed block by block by the
    pipeline's earlier steps (their width from the first row) and checked."""
    if transform is not None:
        X = check_dask_rows(X, None, what)
        width = np.asarray(transform.transform(X[:1].compute())).shape[1]
        X = X.map_blocks(
            _transform_block,
            transform,
            chunks=(X.chunks[0], (width,)),
            dtype=np.float64,
        )
    return check_dask_rows(X, n_features, what)
