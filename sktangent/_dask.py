"""Dask arrays: recognising them, checking them, and the verbs on a dask pool.

dask is optional. Nothing here imports it at module level: a dask array is
recognised by the collection protocol (``__dask_graph__``) and dask is
imported only once one has been passed in.

* The verbs (``predict``, ``predict_tangent``, ``influence_score``) map a
  portable copy of the fitted state over the blocks of rows and return dask
  arrays: lazy, and computed chunk by chunk.
* The tree reductions over delayed blocks, shared by the strategies' batches
  (:mod:`sktangent._dask_batch`: one pass per pick, each block returning its
  best candidate) and the linear fits (:mod:`sktangent._dask_fit`: the Gram
  matrix, or one pass per Newton iterate).
"""

import copy
from dataclasses import is_dataclass, replace

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from ._state import FittedState
from ._validation import check_unchanged

# Partial results merged per task of the tree reductions.
_SPLIT_EVERY = 8


def is_dask(X):
    """Whether ``X`` is a dask collection, without importing dask.

    By the collection protocol: an object whose ``__dask_graph__()`` is not
    None (xarray objects have the method even when numpy holds their data).
    """
    graph = getattr(type(X), "__dask_graph__", None)
    return graph is not None and graph(X) is not None


def require_dask():
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - a dask object implies dask
        raise ImportError(
            'Dask input needs dask[array] and distributed: pip install ".[dask]" '
            "from the sktangent checkout."
        ) from exc
    return dask, da


def check_dask_rows(X, n_features, what="X", known_rows=True):
    """A 2-D dask array of numbers, one chunk wide, as float64 (lazy)."""
    _, da = require_dask()
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


def checked_rows(block):
    """A block of rows checked as the in-memory verbs check them."""
    return check_array(block, dtype=np.float64)


def portable(state):
    """The state to ship to the workers: without its owner's validation
    callback (the estimator) and the rows ``partial_fit`` keeps (no query
    reads them), with what is computed on first use computed once here
    rather than in every task."""
    root = state.dispersion_root
    lite = replace(state, check_query=None, training=None)
    lite.__dict__["dispersion_root"] = root
    return lite


def _check_query(estimator, X):
    check_is_fitted(estimator)
    check_unchanged(estimator)
    return check_dask_rows(X, estimator.n_features_in_, known_rows=False)


# ------------------------------------------------------------------- verbs
def _predict_block(block, state, return_std):
    block = checked_rows(block)
    if return_std:
        return np.column_stack(state.predict(block, return_std=True))
    return state.predict(block)


def _tangent_block(block, state):
    return state.predict_tangent(checked_rows(block))


def _influence_block(block, state):
    return state.influence_score(checked_rows(block))


def _labelled_influence_block(block, y, state):
    return state.influence_score(checked_rows(block), y[:, 0])


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
    y = as_column(y, X, "y")
    # y as a column: map_blocks aligns arrays by their last axes.
    return X.map_blocks(
        _labelled_influence_block, y[:, None], state, drop_axis=1, dtype=np.float64
    )


def _verb_block(block, estimator, verb):
    return getattr(estimator, verb)(block)


def _labelled_verb_block(block, y, estimator, verb):
    return getattr(estimator, verb)(block, y[:, 0])


def _shipped(estimator):
    """A shallow copy of a fitted estimator for the workers, its state
    without the rows ``partial_fit`` keeps (as :func:`portable`)."""
    state = estimator.fitted_state_
    if is_dataclass(state):
        lite = portable(state)
    else:  # the multinomial state: a plain object
        lite = copy.copy(state)
        lite.__dict__["training"] = None
    shipped = copy.copy(estimator)
    shipped.__dict__["fitted_state_"] = lite
    return shipped


def map_verb(estimator, verb, X, y=None, *, width=None, dtype=np.float64):
    """``estimator.verb(block)`` (or ``(block, y_block)``) on every block of
    rows of the dask array ``X``, lazily: a dask array with one value per
    row (``width=None``) or ``width`` columns per row.

    For the verbs of estimators whose state has no dask path of its own
    (:class:`~sktangent.TangentClassifier`): each task runs the in-memory
    verb on its block, so the pool is never gathered.
    """
    X = _check_query(estimator, X)
    shipped = _shipped(estimator)
    if width is None:
        shape = {"drop_axis": 1}
    else:
        shape = {"chunks": (X.chunks[0], (width,))}
    if y is None:
        return X.map_blocks(_verb_block, shipped, verb, dtype=dtype, **shape)
    y = as_column(y, X, "y")
    return X.map_blocks(
        _labelled_verb_block, y[:, None], shipped, verb, dtype=dtype, **shape
    )


def as_column(v, X, name):
    """``v`` (numpy or dask, one value per row of ``X``) chunked as ``X``'s rows."""
    _, da = require_dask()
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
def tree_reduce(parts, merge):
    """Merge delayed partial results in a tree (``_SPLIT_EVERY`` per task)."""
    dask, _ = require_dask()
    merge = dask.delayed(merge, pure=True)
    while len(parts) > 1:
        parts = [
            merge(*parts[i : i + _SPLIT_EVERY])
            for i in range(0, len(parts), _SPLIT_EVERY)
        ]
    return parts[0]


def delayed_blocks(*arrays):
    """The delayed row blocks of arrays chunked alike, as rows of tuples."""
    columns = [a.to_delayed().ravel() for a in arrays]
    return list(zip(*columns, strict=True))


def block_offsets(X):
    return np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).astype(np.int64)


# -------------------------------------------------------- query strategies
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


def reduce_blocks(fn, blocks, *args):
    dask, _ = require_dask()
    fn = dask.delayed(fn, pure=True)
    return tree_reduce([fn(*b, *args) for b in blocks], _merge).compute()


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
