"""What every query strategy shares: unwrapping the learner, validating the
pool and the options, and running the greedy batch.

The public front ends are :mod:`sktangent.query` (modAL's protocol) and
:mod:`sktangent.skactiveml`; both call :func:`select`. The influence
functions use :func:`unwrap` to reach the fitted state through pipelines,
searches and modAL learners.
"""

from functools import partial
from numbers import Integral, Real

import numpy as np
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _dask, _dask_batch
from ._batch import greedy_batch
from ._classifier import TangentClassifier
from ._cv import TangentRegressorCV
from ._estimator import TangentRegressor
from ._goal import expected_influence_batch
from ._grouped import GroupedView
from ._multiuser import MultiUserTangentRegressor
from ._validation import check_finite_scores


def is_search_cv(obj):
    """A scikit-learn hyper-parameter search (GridSearchCV and its kin).

    Recognised by the parameters every search shares rather than by
    scikit-learn's private base class.
    """
    return all(
        hasattr(obj, name) for name in ("estimator", "scoring", "refit", "cv")
    ) and not hasattr(obj, "teach")


def unwrap(learner):
    """The fitted TangentRegressor and the transform to apply to the pool."""
    transform = None
    seen = learner
    for _ in range(10):  # wrappers nest, but not forever
        if isinstance(
            seen, (TangentRegressor, TangentClassifier, MultiUserTangentRegressor)
        ):
            check_is_fitted(seen)
            return seen, transform
        if is_search_cv(seen):
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


def prepare(
    learner, X_pool, n_instances, *, random_tie_break, random_state, groups, regularity
):
    """Validate everything before any computation (modAL may call us again)."""
    estimator, transform = unwrap(learner)
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
    if _dask.is_dask(X_pool):  # scored block by block, never gathered
        state, X_pool = _dask.query_pool(estimator, transform, X_pool)
    else:
        if transform is not None:
            X_pool = transform.transform(X_pool)
        if multi_user:
            state = estimator.grouped_state(regularity)
            X_pool = state.rows(X_pool, groups)
        else:
            state = estimator.fitted_state_
            X_pool = state.validate_query(X_pool)
    order = None
    if random_tie_break:
        order = check_random_state(random_state).permutation(n_pool)
    return state, X_pool, order, transform


def goal_rows(state, transform, X_goal):
    """The validated goal rows, or None when the goal is the pool."""
    if X_goal is None:
        return None
    if isinstance(state, GroupedView):
        raise ValueError(
            "X_goal is not supported with a MultiUserTangentRegressor "
            "learner: the goal is the pool itself (leave X_goal=None)."
        )
    if (X_goal.shape[0] if hasattr(X_goal, "shape") else len(X_goal)) == 0:
        raise ValueError("X_goal is empty: pass at least one goal point.")
    if transform is not None:
        X_goal = transform.transform(X_goal)
    return state.validate_query(X_goal)


GOALS = ("auto", "predictions", "complexity")


def resolve_goal(goal, X_goal, family, classifier=False):
    """The goal that ``goal="auto"`` stands for: a rule on the model.

    Predictions for classifiers, where the variance does not depend on the
    mean (the normal family) or where the user names goal points; elsewhere
    (the other regression families) the complexity, whose pointwise score
    does not lean on a Laplace covariance built from means that a few labels
    determine poorly.
    """
    if goal == "complexity" and X_goal is not None:
        raise ValueError(
            "X_goal is a set of points whose predictions matter; it applies to "
            'goal="predictions" (or "auto"), not to goal="complexity".'
        )
    if goal != "auto":
        return goal
    if classifier or X_goal is not None or family.constant_variance:
        return "predictions"
    return "complexity"


def check_goal_options(goal, goal_size, noise):
    if goal not in GOALS:
        raise ValueError(f"goal must be one of {GOALS}; got {goal!r}.")
    if goal_size is not None and (
        not isinstance(goal_size, Integral) or isinstance(goal_size, bool)
    ):
        raise TypeError(f"goal_size must be an integer or None; got {goal_size!r}.")
    if goal_size is not None and goal_size < 1:
        raise ValueError(f"goal_size must be at least 1; got {goal_size}.")
    if not isinstance(noise, Real) or isinstance(noise, bool):
        raise TypeError(f"noise must be a positive number; got {noise!r}.")
    if not (np.isfinite(noise) and noise > 0):
        raise ValueError(
            f"noise must be a positive finite number (1.0: the model's own noise); "
            f"got {noise!r}."
        )


def strategy_options(random_tie_break, random_state, groups, regularity):
    """The keyword arguments every strategy shares, for :func:`prepare`."""
    return {
        "random_tie_break": random_tie_break,
        "random_state": random_state,
        "groups": groups,
        "regularity": regularity,
    }


def select(
    learner,
    X_pool,
    n_instances,
    criterion,
    options,
    return_score_rows=False,
    goal=None,
):
    """Validate, then run the greedy batch; shared by every front end.

    ``criterion`` is "influence" or "variance" (:func:`greedy_batch`), or
    "expected" with ``goal`` the keyword arguments ``goal``, ``X_goal``,
    ``goal_size`` and ``noise`` of :func:`expected_influence_sampling`.
    """
    if criterion == "expected":
        check_goal_options(goal["goal"], goal["goal_size"], goal["noise"])
    state, X, order, transform = prepare(learner, X_pool, n_instances, **options)
    if criterion == "expected":
        classifier = is_classifier(unwrap(learner)[0])
        kind = resolve_goal(goal["goal"], goal["X_goal"], state.family, classifier)
        criterion = "influence" if kind == "complexity" else "expected"
    if _dask.is_dask(X):
        out = _dask_batch.select(
            state,
            X,
            n_instances,
            criterion,
            order,
            return_score_rows,
            goal,
            transform,
            options["random_state"],
        )
    elif criterion == "expected":
        # A state with goal batches of its own (multinomial) runs them.
        goal_batch = getattr(state, "goal_batch", None)
        out = (goal_batch or partial(expected_influence_batch, state))(
            X,
            n_instances,
            goal_rows(state, transform, goal["X_goal"]),
            goal_size=goal["goal_size"],
            random_state=options["random_state"],
            noise=float(goal["noise"]),
            order=order,
            return_score_rows=return_score_rows,
        )
    else:
        batch = getattr(state, "batch", None)
        if batch is None:
            out = greedy_batch(
                state, X, n_instances, criterion, order, return_score_rows
            )
        else:  # a state with batches of its own (multinomial)
            out = batch(X, n_instances, criterion, order, return_score_rows)
        out = out[:2] + out[3:]  # without the conditioned tangent
    # argmax picks a NaN or inf first, so the picks' scores reveal any.
    check_finite_scores(out[1], f"{criterion} scores of the pool")
    return out
