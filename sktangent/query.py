"""Active-learning query strategies built on the regularity tangent.

The strategies follow the protocol of modAL's ``ActiveLearner`` (and work
without modAL installed): ``strategy(learner, X_pool, n_instances=1, ...)``
returns ``(indices, scores)``, the pool rows to label next and the criterion
of each. ``learner`` may be

* a fitted :class:`~sktangent.TangentRegressor`;
* a fitted :class:`~sklearn.pipeline.Pipeline` whose last step is one (the
  pool is transformed by the earlier steps first);
* a fitted :class:`~sklearn.model_selection.GridSearchCV` or
  :class:`~sklearn.model_selection.RandomizedSearchCV` (its
  ``best_estimator_``), or a fitted :class:`~sktangent.TangentRegressorCV`
  (its ``estimator_``), or any of these inside a modAL learner (its
  ``estimator``).

Batches (``n_instances > 1``) are chosen greedily: after each pick the
tangent and the posterior covariance on the pool are updated by
Sherman-Morrison as if the pick had been labelled with its predicted value,
so later picks avoid what earlier ones already cover, without a refit.
"""

from numbers import Integral

from sklearn.model_selection._search import BaseSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._batch import greedy_batch
from ._cv import TangentRegressorCV
from ._estimator import TangentRegressor
from ._multiuser import GroupedView, MultiUserTangentRegressor
from ._validation import check_finite_scores

__all__ = ["influence_sampling", "variance_sampling"]


def _unwrap(learner):
    """The fitted TangentRegressor and the transform to apply to the pool."""
    transform = None
    seen = learner
    for _ in range(10):  # wrappers nest, but not forever
        if isinstance(seen, (TangentRegressor, MultiUserTangentRegressor)):
            check_is_fitted(seen)
            return seen, transform
        if isinstance(seen, BaseSearchCV):
            check_is_fitted(seen, "best_estimator_")
            seen = seen.best_estimator_
        elif isinstance(seen, TangentRegressorCV):
            check_is_fitted(seen)
            seen = seen.estimator_
        elif isinstance(seen, Pipeline):
            if transform is not None:
                raise TypeError("Nested pipelines are not supported; flatten them.")
            check_is_fitted(seen)
            transform = seen[:-1] if len(seen) > 1 else None
            seen = seen[-1]
        elif hasattr(seen, "estimator") and hasattr(seen, "teach"):
            seen = seen.estimator  # a modAL learner
        else:
            break
    raise TypeError(
        "The learner must be a fitted TangentRegressor, a Pipeline ending in "
        "one, a GridSearchCV/RandomizedSearchCV over one, or a modAL learner "
        f"wrapping any of these; got {type(learner).__name__}."
    )


def _prepare(
    learner, X_pool, n_instances, *, random_tie_break, random_state, groups, regularity
):
    """Validate everything before any computation (modAL may call us again)."""
    estimator, transform = _unwrap(learner)
    multi_user = isinstance(estimator, MultiUserTangentRegressor)
    if groups is not None and not multi_user:
        raise ValueError(
            "groups only apply to a MultiUserTangentRegressor learner; this one "
            f"wraps a {type(estimator).__name__}."
        )
    if groups is None and multi_user:
        raise ValueError(
            "groups is required with a MultiUserTangentRegressor learner: pass "
            "the user of every pool row (groups=...); a new user gets the "
            "global model."
        )
    if not isinstance(n_instances, Integral) or isinstance(n_instances, bool):
        raise TypeError(f"n_instances must be an integer; got {n_instances!r}.")
    if n_instances < 1:
        raise ValueError(f"n_instances must be at least 1; got {n_instances}.")
    n_pool = X_pool.shape[0] if hasattr(X_pool, "shape") else len(X_pool)
    if n_pool == 0:
        raise ValueError("The pool is empty: there is nothing left to query.")
    if n_instances > n_pool:
        raise ValueError(
            f"n_instances={n_instances} exceeds the pool size {n_pool}; ask for "
            "at most as many instances as the pool holds."
        )
    if transform is not None:
        X_pool = transform.transform(X_pool)
    if multi_user:
        estimator = GroupedView(estimator, regularity)
        X_pool = estimator.rows(X_pool, groups)
    else:
        X_pool = estimator._validate_query(X_pool)
    order = None
    if random_tie_break:
        order = check_random_state(random_state).permutation(n_pool)
    return estimator, X_pool, order


def _select(learner, X_pool, n_instances, criterion, options, return_score_rows=False):
    """Validate, then run the greedy batch; shared by every front end."""
    estimator, X, order = _prepare(learner, X_pool, n_instances, **options)
    out = greedy_batch(estimator, X, n_instances, criterion, order, return_score_rows)
    # argmax picks a NaN or inf first, so the picks' scores reveal any.
    check_finite_scores(out[1], f"{criterion} scores of the pool")
    if return_score_rows:
        return out[0], out[1], out[3]
    return out[0], out[1]


def influence_sampling(
    learner,
    X_pool,
    n_instances=1,
    *,
    random_tie_break=False,
    random_state=None,
    groups=None,
    regularity="total",
):
    """Query the pool points with the largest unlabelled influence score.

    The score is the expected squared influence of a point on model
    complexity, :math:`u(x) = \\phi\\, \\mu'(\\eta)^2 / V(\\mu)\\,
    (d\\eta(x)/ds)^2` (see :meth:`TangentRegressor.influence_score`): large
    where the penalty rather than the data decides the prediction.

    Parameters
    ----------
    learner : TangentRegressor, Pipeline, search CV or modAL learner
        A fitted model; see the module docstring for what is accepted.
    X_pool : {array-like, sparse matrix} of shape (n_pool, n_features)
        Candidate points, in the learner's input space.
    n_instances : int, default=1
        Number of points to return. Above 1 the batch is greedy, each pick
        conditioned on the earlier ones by Sherman-Morrison updates of the
        tangent (dispersion held fixed within the batch).
    random_tie_break : bool, default=False
        Break ties between equal scores at random instead of by position.
    random_state : int, RandomState instance or None, default=None
        Seed for ``random_tie_break``.
    groups : array-like of shape (n_pool,), default=None
        The user of every pool row; required for, and only accepted with, a
        :class:`~sktangent.MultiUserTangentRegressor` learner.
    regularity : {"total", "global", "user"}, default="total"
        For a multi-user learner, which complexity the score is about: the
        global model's ("which user's next label would change the global
        model most"), the users' deviations', or their sum.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X_pool`` to label, in the order picked.
    scores : ndarray of shape (n_instances,)
        The score of each pick when it was picked.

    Examples
    --------
    >>> import numpy as np
    >>> from sktangent import TangentRegressor
    >>> from sktangent.query import influence_sampling
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-3, 3, size=(20, 1))
    >>> reg = TangentRegressor(alpha=0.1, kernel="rbf").fit(X, np.sin(X[:, 0]))
    >>> pool = np.linspace(-5, 5, 101)[:, None]
    >>> idx, scores = influence_sampling(reg, pool, n_instances=3)
    >>> idx.shape, scores.shape
    ((3,), (3,))
    """
    options = {
        "random_tie_break": random_tie_break,
        "random_state": random_state,
        "groups": groups,
        "regularity": regularity,
    }
    return _select(learner, X_pool, n_instances, "influence", options)


def variance_sampling(
    learner,
    X_pool,
    n_instances=1,
    *,
    random_tie_break=False,
    random_state=None,
    groups=None,
    regularity="total",
):
    """Query the pool points whose predicted mean is most uncertain.

    The classical uncertainty baseline, from the same factorisation: the
    Laplace variance of the predicted mean, :math:`\\phi\\, \\mu'(\\eta)^2
    S(x, x)` with :math:`S(x, x) = \\tilde x^\\top H^{-1} \\tilde x`. Batches
    are greedy with the same Sherman-Morrison conditioning as
    :func:`influence_sampling`. Parameters and returns are those of
    :func:`influence_sampling`.

    Parameters
    ----------
    learner : TangentRegressor, Pipeline, search CV or modAL learner
        A fitted model.
    X_pool : {array-like, sparse matrix} of shape (n_pool, n_features)
        Candidate points.
    n_instances : int, default=1
        Number of points to return.
    random_tie_break : bool, default=False
        Break ties at random.
    random_state : int, RandomState instance or None, default=None
        Seed for ``random_tie_break``.
    groups : array-like of shape (n_pool,), default=None
        The user of every pool row (multi-user learners only).
    regularity : {"total", "global", "user"}, default="total"
        Ignored by this criterion, which does not involve a tangent; accepted
        so that both strategies take the same arguments.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X_pool`` to label.
    scores : ndarray of shape (n_instances,)
        The variance of each pick when it was picked.
    """
    options = {
        "random_tie_break": random_tie_break,
        "random_state": random_state,
        "groups": groups,
        "regularity": regularity,
    }
    return _select(learner, X_pool, n_instances, "variance", options)
