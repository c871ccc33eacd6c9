"""Query strategies with TangentClassifier learners, against refits."""

from functools import partial

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktangent import TangentClassifier, TangentRegressor
from sktangent._strategy import select, strategy_options
from sktangent.query import (
    expected_influence_sampling,
    influence_sampling,
    variance_sampling,
)


def labelled(loader, n=30, seed=0):
    X, y = loader(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    rng = np.random.RandomState(seed)
    lab = rng.choice(len(y), size=n, replace=False)
    pool = np.setdiff1d(np.arange(len(y)), lab)[:80]
    return X[lab], y[lab], X[pool]


def pool_scores(clf, X_pool, criterion):
    """The criterion on the pool, computed from the classifier's own verbs."""
    if criterion == "influence":
        return clf.influence_score(X_pool)
    _, std = clf.predict_proba(X_pool, return_std=True)
    if len(clf.classes_) == 2:
        return std[:, 1] ** 2
    return np.sum(std**2, axis=1)


def with_soft_labels(X, y, picks, P, classes):
    """The labelled set plus every pick at its predicted class distribution:
    one copy per class, weighted by the class's probability."""
    K = len(classes)
    if not picks:
        return X, y, np.ones(len(y))
    X_new = np.vstack([X, np.repeat(np.array(picks), K, axis=0)])
    y_new = np.concatenate([y, np.tile(classes, len(picks))])
    w_new = np.concatenate([np.ones(len(y)), np.concatenate(P)])
    return X_new, y_new, w_new


@pytest.mark.parametrize("kernel", [None, "rbf"])
@pytest.mark.parametrize("criterion", ["influence", "variance"])
def test_multinomial_batches_are_greedy_refits(kernel, criterion):
    """Each pick is the argmax of the criterion after refitting with the
    earlier picks added at their predicted class distributions."""
    X, y, X_pool = labelled(load_iris)
    clf = TangentClassifier(alpha=1.0, kernel=kernel, gamma=0.2, tol=1e-12).fit(X, y)
    options = strategy_options(False, None, None, "total")
    picks, scores, rows = select(clf, X_pool, 4, criterion, options, True)
    added, probs = [], []
    for step, q in enumerate(picks):
        model = TangentClassifier(alpha=1.0, kernel=kernel, gamma=0.2, tol=1e-12)
        Xa, ya, wa = with_soft_labels(X, y, added, probs, clf.classes_)
        model.fit(Xa, ya, sample_weight=wa)
        # Soft labels at the prediction leave the fitted function in place.
        np.testing.assert_allclose(
            model.decision_function(X_pool), clf.decision_function(X_pool), atol=1e-6
        )
        expected = pool_scores(model, X_pool, criterion)
        expected[picks[:step]] = np.nan
        if kernel is None:
            np.testing.assert_allclose(rows[step], expected, rtol=1e-6, atol=1e-12)
        else:
            # The conditioning stays in the span of the training points: the
            # pick's own kernel direction is left out.
            error = np.nanmax(np.abs(rows[step] - expected)) / np.nanmax(expected)
            assert error < 0.03
            assert q == np.nanargmax(expected)
        assert scores[step] == np.nanmax(rows[step])
        assert rows[step][q] == scores[step]
        added.append(X_pool[q])
        probs.append(clf.predict_proba(X_pool[q : q + 1])[0])
    if criterion == "influence":
        np.testing.assert_allclose(rows[0], clf.influence_score(X_pool), rtol=1e-12)


def test_binary_classifier_strategies_are_the_binomial_regressor_s():
    X, y, X_pool = labelled(load_breast_cancer)
    clf = TangentClassifier(alpha=1.0, kernel="rbf", gamma=0.05).fit(X, y)
    reg = TangentRegressor(
        alpha=1.0, family="binomial", dispersion="fixed", kernel="rbf", gamma=0.05
    ).fit(X, (y == clf.classes_[1]).astype(float))
    # goal="auto" is "predictions" for a classifier, "complexity" for a
    # binomial regressor: the regressor is asked for the classifier's goal.
    expected = partial(expected_influence_sampling, goal="predictions")
    pairs = [(f, f) for f in (influence_sampling, variance_sampling)]
    for strategy, reference in [*pairs, (expected_influence_sampling, expected)]:
        a = strategy(clf, X_pool, n_instances=3)
        b = reference(reg, X_pool, n_instances=3)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_allclose(a[1], b[1], rtol=1e-10)


def test_classifier_in_a_pipeline_and_the_goal_rule():
    X, y, X_pool = labelled(load_iris)
    pipe = make_pipeline(StandardScaler(), TangentClassifier()).fit(X, y)
    idx, scores = influence_sampling(pipe, X_pool, n_instances=2)
    assert idx.shape == (2,) and np.all(np.isfinite(scores))
    # For classifiers goal="auto" scores the predictions, not the complexity.
    auto = expected_influence_sampling(pipe, X_pool, n_instances=2)
    pred = expected_influence_sampling(pipe, X_pool, n_instances=2, goal="predictions")
    np.testing.assert_array_equal(auto[0], pred[0])
    complexity = expected_influence_sampling(pipe, X_pool, 2, goal="complexity")
    np.testing.assert_array_equal(complexity[0], idx)


@pytest.mark.parametrize("noise", [1.0, 0.5])
def test_multinomial_goal_scores_are_the_covariance_reduction_of_refits(noise):
    """g(x) = sum_j tr(D_j (C_j - C_j')) with C' the covariance of the model
    refitted with x added at its predicted class distribution, weight
    1 / noise; later picks condition on the earlier ones."""
    X, y, X_pool = labelled(load_iris, n=25)
    X_goal = X_pool[::4]
    clf = TangentClassifier(alpha=1.0, tol=1e-12).fit(X, y)
    options = strategy_options(False, None, None, "total")
    goal = {"goal": "predictions", "X_goal": X_goal, "goal_size": None}
    picks, _, rows = select(
        clf, X_pool, 3, "expected", options, True, goal={**goal, "noise": noise}
    )

    def goal_variance(model):
        state = model.fitted_state_
        Ft = np.column_stack([X_goal, np.ones(len(X_goal))])
        C = state.hessian.eta_covariance(Ft)
        P = clf.predict_proba(X_goal)
        D = np.einsum("mk,kl->mkl", P, np.eye(3)) - np.einsum("mk,ml->mkl", P, P)
        return np.einsum("mkl,mlk->", D, C)

    added, probs = [], []
    for step in range(len(picks)):
        Xa, ya, wa = with_soft_labels(X, y, added, probs, clf.classes_)
        wa[len(y) :] /= noise
        base = TangentClassifier(alpha=1.0, tol=1e-12).fit(Xa, ya, sample_weight=wa)
        for j in np.argsort(-np.nan_to_num(rows[step], nan=-1))[:3]:
            p = clf.predict_proba(X_pool[j : j + 1])[0]
            Xb, yb, wb = with_soft_labels(Xa, ya, [X_pool[j]], [p], clf.classes_)
            wb[: len(wa)] = wa
            wb[len(wa) :] /= noise
            after = TangentClassifier(alpha=1.0, tol=1e-12)
            after.fit(Xb, yb, sample_weight=wb)
            expected = goal_variance(base) - goal_variance(after)
            np.testing.assert_allclose(rows[step][j], expected, rtol=1e-6)
        added.append(X_pool[picks[step]])
        probs.append(clf.predict_proba(X_pool[picks[step] : picks[step] + 1])[0])
