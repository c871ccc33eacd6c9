"""sktangent.query inside modAL's learners (modAL 0.4.2.1, scikit-learn < 1.8).

modAL is not in the main test environment; ``.ci/integration_env.sh`` builds
one where these tests run.
"""

from functools import partial

import numpy as np
import pytest

pytest.importorskip("modAL")

# modAL 0.4.2.1 calls check_X_y with the argument scikit-learn 1.6 renamed;
# silence that one warning of modAL's, not ours.
pytestmark = pytest.mark.filterwarnings(
    "ignore:'force_all_finite' was renamed:FutureWarning"
)

from modAL.acquisition import max_EI  # noqa: E402
from modAL.disagreement import max_std_sampling  # noqa: E402
from modAL.models import (  # noqa: E402
    ActiveLearner,
    BayesianOptimizer,
    CommitteeRegressor,
)
from sklearn.datasets import load_diabetes, make_friedman1  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sktangent import TangentRegressor  # noqa: E402
from sktangent.query import (  # noqa: E402
    expected_influence_sampling,
    influence_sampling,
    variance_sampling,
)


def _rmse(model, X, y):
    return float(np.sqrt(np.mean((model.predict(X) - y) ** 2)))


def _diabetes_split(seed=0, n_start=10, n_test=142):
    X, y = load_diabetes(return_X_y=True)
    order = np.random.RandomState(seed).permutation(len(y))
    test, start, pool = np.split(order, [n_test, n_test + n_start])
    return (X[start], y[start]), (X[pool], y[pool]), (X[test], y[test])


@pytest.mark.parametrize("n_instances", [1, 5])
def test_active_learner_with_a_pipeline(n_instances):
    (X0, y0), (X_pool, y_pool), (X_test, y_test) = _diabetes_split()
    learner = ActiveLearner(
        estimator=Pipeline(
            [("scale", StandardScaler()), ("reg", TangentRegressor(alpha=1.0))]
        ),
        query_strategy=influence_sampling,
        X_training=X0,
        y_training=y0,
    )
    rmse_start = _rmse(learner, X_test, y_test)
    n_labeled = len(y0)
    for _ in range(20):
        expected_idx, expected_scores = influence_sampling(
            learner, X_pool, n_instances=n_instances
        )
        idx, X_query, metrics = learner.query(
            X_pool, n_instances=n_instances, return_metrics=True
        )
        # the metrics modAL hands back are our scores, for our picks
        np.testing.assert_array_equal(idx, expected_idx)
        np.testing.assert_array_equal(metrics, expected_scores)
        np.testing.assert_array_equal(X_query, X_pool[idx])
        assert idx.shape == (n_instances,) and len(set(idx.tolist())) == n_instances
        # the first pick's score is the estimator's own influence score
        scaler, reg = learner.estimator["scale"], learner.estimator["reg"]
        first = reg.influence_score(scaler.transform(X_pool[idx[:1]]))
        np.testing.assert_allclose(metrics[0], first[0], rtol=1e-10)

        learner.teach(X_query, y_pool[idx])
        queried = X_pool[idx]
        X_pool = np.delete(X_pool, idx, axis=0)
        y_pool = np.delete(y_pool, idx)
        n_labeled += n_instances
        assert learner.X_training.shape[0] == n_labeled
        # the queried rows left the pool, and only they did
        for row in queried:
            assert not np.any(np.all(X_pool == row, axis=1))
        assert X_pool.shape[0] == len(y_pool)
    assert X_pool.shape[0] == 442 - 142 - 10 - 20 * n_instances
    assert _rmse(learner, X_test, y_test) < rmse_start


def test_active_learner_variance_sampling_and_kernel_model():
    X, y = make_friedman1(n_samples=300, n_features=5, noise=0.5, random_state=1)
    X_pool, y_pool = X[20:250], y[20:250]
    learner = ActiveLearner(
        estimator=TangentRegressor(alpha=0.3, kernel="rbf", gamma=0.2),
        query_strategy=variance_sampling,
        X_training=X[:20],
        y_training=y[:20],
    )
    rmse_start = _rmse(learner, X[250:], y[250:])
    for _ in range(10):
        idx, X_query, metrics = learner.query(
            X_pool, n_instances=3, return_metrics=True
        )
        _, std = learner.predict(X_pool, return_std=True)
        phi = learner.estimator.dispersion_
        # the first pick has the largest variance of the predicted mean
        assert idx[0] == np.argmax(std)
        np.testing.assert_allclose(metrics[0], std[idx[0]] ** 2 - phi, rtol=1e-8)
        learner.teach(X_query, y_pool[idx])
        X_pool, y_pool = np.delete(X_pool, idx, axis=0), np.delete(y_pool, idx)
    assert _rmse(learner, X[250:], y[250:]) < rmse_start


@pytest.mark.parametrize("n_instances", [1, 4])
def test_active_learner_expected_influence_with_a_goal_set(n_instances):
    """modAL passes extra keyword arguments through: a goal set by partial."""
    (X0, y0), (X_pool, y_pool), (X_test, y_test) = _diabetes_split(seed=1)
    strategy = partial(expected_influence_sampling, X_goal=X_test, goal_size=64)
    learner = ActiveLearner(
        estimator=Pipeline(
            [
                ("scale", StandardScaler()),
                ("reg", TangentRegressor(alpha=1.0, kernel="rbf", gamma=0.1)),
            ]
        ),
        query_strategy=strategy,
        X_training=X0,
        y_training=y0,
    )
    rmse_start = _rmse(learner, X_test, y_test)
    for _ in range(20):
        expected = strategy(learner, X_pool, n_instances=n_instances)
        idx, X_query, metrics = learner.query(
            X_pool, n_instances=n_instances, return_metrics=True
        )
        np.testing.assert_array_equal(idx, expected[0])
        np.testing.assert_array_equal(metrics, expected[1])
        assert np.all(np.isfinite(metrics)) and len(set(idx.tolist())) == n_instances
        learner.teach(X_query, y_pool[idx])
        X_pool, y_pool = np.delete(X_pool, idx, axis=0), np.delete(y_pool, idx)
    assert learner.X_training.shape[0] == 10 + 20 * n_instances
    assert _rmse(learner, X_test, y_test) < rmse_start


def test_committee_regressor_of_tangent_regressors():
    X, y = make_friedman1(n_samples=400, n_features=5, noise=0.3, random_state=2)
    X_test, y_test = X[300:], y[300:]
    X_pool, y_pool = X[15:300], y[15:300]
    members = [
        TangentRegressor(alpha=0.1, kernel="rbf", gamma=0.1),
        TangentRegressor(alpha=1.0, kernel="rbf", gamma=0.3),
        TangentRegressor(alpha=0.3, kernel="laplacian", gamma=0.1),
        TangentRegressor(alpha=1.0),
    ]
    learners = [
        ActiveLearner(estimator=m, X_training=X[:15], y_training=y[:15])
        for m in members
    ]
    committee = CommitteeRegressor(
        learner_list=learners, query_strategy=max_std_sampling
    )
    rmse_start = _rmse(committee, X_test, y_test)
    for _ in range(15):
        idx, X_query = committee.query(X_pool, n_instances=2)
        votes = committee.vote(X_pool)
        mean, std = committee.predict(X_pool, return_std=True)
        np.testing.assert_allclose(std, votes.std(axis=1))
        assert set(idx.tolist()) == set(np.argsort(std)[-2:].tolist())
        committee.teach(X_query, y_pool[idx])
        X_pool, y_pool = np.delete(X_pool, idx, axis=0), np.delete(y_pool, idx)
    assert all(len(lrn.y_training) == 15 + 30 for lrn in committee)
    assert _rmse(committee, X_test, y_test) < rmse_start
    # each member is a modAL learner our strategies accept as it is
    idx, scores = influence_sampling(committee.learner_list[0], X_pool, 3)
    assert idx.shape == scores.shape == (3,)


# A near-interpolating fit of a noiseless function estimates a tiny
# dispersion, and the Laplace std scales with it (the prior variance of the
# fit is dispersion / alpha), so expected improvement explores little: the
# start points must bracket the optimum's basin.
@pytest.mark.filterwarnings("ignore:Only .* residual degrees of freedom:UserWarning")
def test_bayesian_optimizer_with_expected_improvement():
    def f(x):
        return x * np.sin(x)  # maximum on [0, 10] at x = 7.9787, f = 7.9167

    X_grid = np.linspace(0, 10, 501)[:, None]
    X0 = np.array([[2.0], [5.0], [9.0]])
    optimizer = BayesianOptimizer(
        estimator=TangentRegressor(alpha=1e-3, kernel="rbf", gamma=0.1),
        query_strategy=max_EI,
        X_training=X0,
        y_training=f(X0[:, 0]),
    )
    for _ in range(10):
        idx, X_query = optimizer.query(X_grid)
        _, std = optimizer.predict(X_grid, return_std=True)  # what EI used
        assert std.shape == (501,) and np.all(std > 0)
        optimizer.teach(X_query, f(X_query[:, 0]))
    X_max, y_max = optimizer.get_max()
    assert abs(float(np.ravel(X_max)[0]) - 7.9787) < 0.2
    assert float(y_max) > 7.8


# ------------------------------------------------------------ classification
def _digits_split(seed=0, n_test=300, n_pool=300):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(y))
    test, rest = order[:n_test], order[n_test:]
    # One starting label per class, as the active-learning benchmark does.
    start = np.array([rest[y[rest] == c][0] for c in range(10)])
    pool = rng.permutation(np.setdiff1d(rest, start))[:n_pool]
    return (X[start], y[start]), (X[pool], y[pool]), (X[test], y[test])


@pytest.mark.parametrize("strategy", [influence_sampling, variance_sampling])
@pytest.mark.parametrize("n_instances", [1, 4])
def test_active_learner_with_a_tangent_classifier(strategy, n_instances):
    from sktangent import TangentClassifier

    (X0, y0), (X_pool, y_pool), (X_test, y_test) = _digits_split()
    learner = ActiveLearner(
        estimator=TangentClassifier(alpha=1.0),
        query_strategy=strategy,
        X_training=X0,
        y_training=y0,
    )
    start = learner.score(X_test, y_test)
    for _ in range(20):
        idx, _ = learner.query(X_pool, n_instances=n_instances)
        assert len(set(idx)) == n_instances
        learner.teach(X_pool[idx], y_pool[idx])
        X_pool, y_pool = np.delete(X_pool, idx, axis=0), np.delete(y_pool, idx)
    assert learner.X_training.shape[0] == 10 + 20 * n_instances
    assert learner.score(X_test, y_test) > start


def test_committee_of_tangent_classifiers_with_vote_entropy():
    from modAL.disagreement import vote_entropy_sampling
    from modAL.models import Committee

    from sktangent import TangentClassifier

    (X0, y0), (X_pool, y_pool), (X_test, y_test) = _digits_split(seed=1)
    members = [
        ActiveLearner(
            estimator=TangentClassifier(alpha=alpha, kernel="rbf", gamma=1 / 64),
            X_training=X0,
            y_training=y0,
        )
        for alpha in (0.1, 1.0, 10.0)
    ]
    committee = Committee(learner_list=members, query_strategy=vote_entropy_sampling)
    for _ in range(10):
        idx, _ = committee.query(X_pool, n_instances=2)
        committee.teach(X_pool[idx], y_pool[idx])
        X_pool, y_pool = np.delete(X_pool, idx, axis=0), np.delete(y_pool, idx)
    assert all(m.X_training.shape[0] == 30 for m in committee.learner_list)
    assert committee.score(X_test, y_test) > 0.5


class OnlineLearner(ActiveLearner):
    """The recipe of docs/online.rst: ``teach(..., only_new=True)`` adds the
    rows by ``partial_fit`` instead of fitting on them alone."""

    def _fit_on_new(self, X, y, bootstrap=False, **fit_kwargs):
        if bootstrap:
            raise ValueError("partial_fit adds rows; it cannot bootstrap.")
        self.estimator.partial_fit(X, y, **fit_kwargs)
        return self


@pytest.mark.parametrize(
    "make_estimator",
    [
        lambda: TangentRegressor(alpha=1.0),
        lambda: TangentRegressor(alpha=1.0, kernel="rbf", gamma=0.1),
    ],
    ids=["linear", "rbf"],
)
@pytest.mark.parametrize("n_instances", [1, 3])
def test_partial_fit_learner_picks_as_a_refitting_learner(make_estimator, n_instances):
    (X0, y0), (X_pool, y_pool), (X_test, _) = _diabetes_split(seed=2)
    X_mean, X_scale = X0.mean(axis=0), X0.std(axis=0)  # scaled once, not refitted
    X0, X_pool, X_test = [(X - X_mean) / X_scale for X in (X0, X_pool, X_test)]
    online = OnlineLearner(
        estimator=make_estimator(),
        query_strategy=influence_sampling,
        X_training=X0,
        y_training=y0,
    )
    refit = ActiveLearner(
        estimator=make_estimator(),
        query_strategy=influence_sampling,
        X_training=X0,
        y_training=y0,
    )
    remaining = np.arange(X_pool.shape[0])
    for _ in range(15):
        idx, _ = online.query(X_pool[remaining], n_instances=n_instances)
        idx_refit, _ = refit.query(X_pool[remaining], n_instances=n_instances)
        np.testing.assert_array_equal(idx, idx_refit)
        rows = remaining[idx]
        online.teach(X_pool[rows], y_pool[rows], only_new=True)
        refit.teach(X_pool[rows], y_pool[rows])
        remaining = np.delete(remaining, idx)
    n_labels = X0.shape[0] + 15 * n_instances
    assert online.estimator.fitted_state_.training.n == n_labels
    assert refit.X_training.shape[0] == n_labels
    np.testing.assert_allclose(
        online.predict(X_test), refit.predict(X_test), rtol=0, atol=1e-9
    )
    with pytest.raises(ValueError, match="cannot bootstrap"):
        online.teach(X_pool[:1], y_pool[:1], only_new=True, bootstrap=True)


def test_only_new_without_the_recipe_forgets_the_earlier_rows():
    # Why the recipe is needed: modAL's own only_new=True calls fit on the new
    # rows, which replaces the model.
    (X0, y0), (X_pool, y_pool), _ = _diabetes_split()
    learner = ActiveLearner(
        estimator=TangentRegressor(alpha=1.0), X_training=X0, y_training=y0
    )
    learner.teach(X_pool[:3], y_pool[:3], only_new=True)
    assert learner.estimator.fitted_state_.training.n == 3
