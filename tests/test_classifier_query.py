"""Query strategies with TangentClassifier learners, against refits."""

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
    for strategy in (
        influence_sampling,
        variance_sampling,
        expected_influence_sampling,
    ):
        a = strategy(clf, X_pool, n_instances=3)
        b = strategy(reg, X_pool, n_instances=3)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_allclose(a[1], b[1], rtol=1e-10)


def test_classifier_in_a_pipeline_and_goal_errors():
    X, y, X_pool = labelled(load_iris)
    pipe = make_pipeline(StandardScaler(), TangentClassifier()).fit(X, y)
    idx, scores = influence_sampling(pipe, X_pool, n_instances=2)
    assert idx.shape == (2,) and np.all(np.isfinite(scores))
    idx_auto, _ = expected_influence_sampling(pipe, X_pool, n_instances=2)
    np.testing.assert_array_equal(idx, idx_auto)  # auto scores the complexity
    with pytest.raises(ValueError, match="multinomial"):
        expected_influence_sampling(pipe, X_pool, goal="predictions")
