"""Query strategies: greedy batches against refits, and the modAL protocol."""

import numpy as np
import pytest
from conftest import ORACLE_CASES, add_rows, make_pool, make_problem, with_params
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktangent import TangentRegressor
from sktangent._batch import greedy_batch
from sktangent.query import influence_sampling, variance_sampling


@pytest.mark.parametrize("criterion", ["influence", "variance"])
@pytest.mark.parametrize("case", sorted(ORACLE_CASES))
def test_greedy_picks_equal_refits_at_predicted_labels(case, criterion):
    est, X, y, w, X_query = ORACLE_CASES[case]()
    est.fit(X, y, sample_weight=w)
    pool = make_pool(X, np.random.RandomState(5))
    n_picks = 4
    indices, scores, tangent, score_rows = greedy_batch(
        est.fitted_state_, pool, n_picks, criterion, return_score_rows=True
    )
    assert len(set(indices.tolist())) == n_picks

    phi = est.dispersion_  # held fixed within a batch
    family = est.fitted_state_.family
    for k in range(n_picks + 1):
        picked = indices[:k]
        refit = est
        if k:
            rows = pool[picked]
            Xa, ya, wa = add_rows(X, y, w, rows, est.predict(rows))
            refit = with_params(est).fit(Xa, ya, sample_weight=wa)
        eta, deta = refit.fitted_state_.eta(pool, with_tangent=True)
        np.testing.assert_allclose(
            eta, est.fitted_state_.eta(pool), rtol=1e-8, atol=1e-10
        )
        if k == n_picks:
            np.testing.assert_allclose(tangent, deta, rtol=1e-8, atol=1e-12)
            break
        if criterion == "influence":
            oracle = phi * family.score_variance(eta) * deta**2
        else:
            oracle = (
                phi
                * family.mean_derivative(eta) ** 2
                * refit.fitted_state_.variance_scale(pool)
            )
        np.testing.assert_allclose(
            score_rows[k][~np.isnan(score_rows[k])],
            np.delete(oracle, picked),
            rtol=1e-7,
        )
        assert np.all(np.isnan(score_rows[k][picked]))
        oracle[picked] = -np.inf
        assert np.argmax(oracle) == indices[k]
        np.testing.assert_allclose(scores[k], oracle[indices[k]], rtol=1e-7)


def test_single_pick_is_the_argmax_of_the_public_score(rng):
    est, X, y, w, _ = make_problem("rbf", True, False, False)
    est.fit(X, y)
    pool = rng.normal(size=(40, X.shape[1]))
    idx, scores = influence_sampling(est, pool)
    u = est.influence_score(pool)
    assert idx[0] == np.argmax(u) and scores[0] == pytest.approx(u.max())
    idx, scores = variance_sampling(est, pool)
    var = est.predict(pool, return_std=True)[1] ** 2 - est.dispersion_
    assert idx[0] == np.argmax(var)
    np.testing.assert_allclose(scores[0], var.max(), rtol=1e-8)


def test_batches_spread_out_where_repeats_would_not():
    """Greedy conditioning: a duplicated pool point is not picked twice."""
    rng = np.random.RandomState(0)
    x = np.concatenate([rng.uniform(-3, -1, 30), rng.uniform(1, 3, 30)])[:, None]
    est = TangentRegressor(alpha=0.1, kernel="rbf", gamma=1.0).fit(
        x, np.sin(2 * x[:, 0])
    )
    pool = np.repeat(np.linspace(-4, 4, 41)[:, None], 3, axis=0)
    idx, _ = influence_sampling(est, pool, n_instances=5)
    assert len(np.unique(pool[idx, 0])) == 5


# ------------------------------------------------------------ learners
@pytest.fixture
def diabetes_like(rng):
    X = rng.normal(size=(60, 4)) * [1, 10, 100, 0.1]
    y = X @ [1.0, 0.1, 0.01, 10.0] + rng.normal(size=60)
    return X, y, rng.normal(size=(30, 4)) * [1, 10, 100, 0.1]


def test_pipeline_transforms_the_pool(diabetes_like):
    X, y, pool = diabetes_like
    pipe = make_pipeline(StandardScaler(), TangentRegressor(alpha=1.0)).fit(X, y)
    idx, scores = influence_sampling(pipe, pool, n_instances=3)
    direct, direct_scores = influence_sampling(
        pipe[-1], pipe[0].transform(pool), n_instances=3
    )
    np.testing.assert_array_equal(idx, direct)
    np.testing.assert_allclose(scores, direct_scores)


def test_search_cv_and_modal_like_learners(diabetes_like):
    X, y, pool = diabetes_like
    pipe = make_pipeline(StandardScaler(), TangentRegressor())
    search = GridSearchCV(pipe, {"tangentregressor__alpha": [0.1, 10.0]}, cv=3).fit(
        X, y
    )

    class ModalLikeLearner:  # what modAL's ActiveLearner exposes
        def __init__(self, estimator):
            self.estimator = estimator

        def teach(self, X, y):  # pragma: no cover - protocol only
            raise NotImplementedError

    expected, _ = influence_sampling(search.best_estimator_, pool, n_instances=2)
    for learner in (search, ModalLikeLearner(search)):
        np.testing.assert_array_equal(
            influence_sampling(learner, pool, n_instances=2)[0], expected
        )
    pipe.fit(X, y)
    np.testing.assert_array_equal(
        variance_sampling(ModalLikeLearner(pipe), pool, n_instances=2)[0],
        variance_sampling(pipe, pool, n_instances=2)[0],
    )


def test_bad_learners_and_arguments(diabetes_like):
    from sklearn.linear_model import Ridge

    X, y, pool = diabetes_like
    with pytest.raises(TypeError, match="TangentRegressor"):
        influence_sampling(Ridge().fit(X, y), pool)
    with pytest.raises(NotFittedError):
        influence_sampling(TangentRegressor(), pool)
    est = TangentRegressor().fit(X, y)
    with pytest.raises(ValueError, match="empty"):
        influence_sampling(est, pool[:0])
    with pytest.raises(ValueError, match="exceeds the pool size"):
        influence_sampling(est, pool[:3], n_instances=4)
    with pytest.raises(ValueError, match="at least 1"):
        variance_sampling(est, pool, n_instances=0)
    with pytest.raises(TypeError, match="integer"):
        influence_sampling(est, pool, n_instances=2.5)
    with pytest.raises(ValueError, match="features"):
        influence_sampling(est, pool[:, :2])
    bad = pool.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        influence_sampling(est, bad)


def test_random_tie_break_picks_among_ties():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    est = TangentRegressor(alpha=1.0).fit(X, X[:, 0])
    pool = np.array([[5.0], [-1.0], [5.0], [5.0]])  # three tied maxima
    assert influence_sampling(est, pool)[0][0] == 0
    picks = {
        int(influence_sampling(est, pool, random_tie_break=True, random_state=s)[0][0])
        for s in range(20)
    }
    assert picks == {0, 2, 3}


def test_search_cv_is_recognised_without_its_private_base_class(diabetes_like):
    from sklearn.model_selection import RandomizedSearchCV

    X, y, pool = diabetes_like
    for search in (
        GridSearchCV(TangentRegressor(), {"alpha": [0.1, 10.0]}, cv=3),
        RandomizedSearchCV(TangentRegressor(), {"alpha": [0.1, 10.0]}, n_iter=2, cv=3),
    ):
        with pytest.raises(NotFittedError):
            influence_sampling(search, pool)
        search.fit(X, y)
        np.testing.assert_array_equal(
            influence_sampling(search, pool, n_instances=2)[0],
            influence_sampling(search.best_estimator_, pool, n_instances=2)[0],
        )
