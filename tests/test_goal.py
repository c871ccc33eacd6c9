"""expected_influence_sampling: the goal-oriented score against refits."""

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import ORACLE_CASES, add_rows, make_pool, make_problem, with_params
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sktangent._models
from sktangent import MultiUserTangentRegressor, TangentRegressor
from sktangent._goal import expected_influence_batch
from sktangent.query import (
    expected_influence_sampling,
    influence_sampling,
    variance_sampling,
)


def _dense(X):
    return X.toarray() if sp.issparse(X) else X


def _oracle(refit, pool, goal, phi, noise):
    """``g`` on the pool from a refitted model's own covariance scale."""
    family = refit.fitted_state_.family
    d = family.score_variance(refit.fitted_state_.eta(pool))
    omega = family.score_variance(refit.fitted_state_.eta(goal))
    S = refit.fitted_state_.cross_variance_scale(goal, pool)
    return phi * (omega @ S**2) / (noise / d + refit.fitted_state_.variance_scale(pool))


@pytest.mark.parametrize("noise", [1.0, 0.25])
@pytest.mark.parametrize("case", sorted(ORACLE_CASES))
def test_greedy_picks_equal_refits_at_predicted_labels(case, noise):
    """Each pick is the argmax of g after refitting with the earlier picks.

    The picks are added at their predicted labels with weight 1 / noise, so
    that the refitted Hessian is the conditioned one; its S gives the oracle.
    """
    est, X, y, w, _ = ORACLE_CASES[case]()
    est.fit(X, y, sample_weight=w)
    rng = np.random.RandomState(5)
    pool = make_pool(X, rng)
    goal = make_pool(X, rng, m=7)
    n_picks = 4
    indices, scores, score_rows = expected_influence_batch(
        est.fitted_state_,
        pool,
        n_picks,
        goal,
        noise=noise,
        return_score_rows=True,
    )
    assert len(set(indices.tolist())) == n_picks
    phi = est.dispersion_  # held fixed within a batch
    for k in range(n_picks):
        picked = indices[:k]
        refit = est
        if k:
            rows = pool[picked]
            Xa, ya, wa = add_rows(X, y, w, rows, est.predict(rows))
            wa[-k:] = 1.0 / noise
            refit = with_params(est).fit(Xa, ya, sample_weight=wa)
        oracle = _oracle(refit, pool, goal, phi, noise)
        np.testing.assert_allclose(
            score_rows[k][~np.isnan(score_rows[k])],
            np.delete(oracle, picked),
            rtol=1e-7,
        )
        assert np.all(np.isnan(score_rows[k][picked]))
        oracle[picked] = -np.inf
        assert np.argmax(oracle) == indices[k]
        np.testing.assert_allclose(scores[k], oracle[indices[k]], rtol=1e-7)


@pytest.mark.parametrize("model", ["linear", "rbf", "linear-dual"])
def test_score_is_the_expected_squared_move_of_the_goal_predictions(model):
    """Normal family: labelling x moves the goal predictions linearly in the
    label's residual; the mean square of that move over the predictive
    distribution of the label is g(x). Checked with exact refits."""
    est, X, y, w, _ = make_problem(model, True, True, False)
    est.fit(X, y, sample_weight=w)
    rng = np.random.RandomState(1)
    pool = make_pool(X, rng, m=6)
    goal = make_pool(X, rng, m=9)
    phi = est.dispersion_
    _, _, rows = expected_influence_batch(
        est.fitted_state_, pool, 1, goal, return_score_rows=True
    )
    S_xx = est.fitted_state_.variance_scale(pool)
    for i in range(pool.shape[0]):
        x = pool[i : i + 1]
        moved = []
        for residual in (1.0, -2.0):
            label = est.predict(x) + residual
            Xa, ya, wa = add_rows(X, y, w, x, label)
            moved.append(with_params(est).fit(Xa, ya, sample_weight=wa).predict(goal))
        delta = (moved[0] - est.predict(goal)) / 1.0
        # Linear in the residual: the two refits agree on the move per unit.
        np.testing.assert_allclose(
            (moved[1] - est.predict(goal)) / -2.0, delta, rtol=1e-6, atol=1e-9
        )
        label_variance = phi * (1.0 + S_xx[i])  # noise plus predictive variance
        np.testing.assert_allclose(
            label_variance * np.sum(delta**2), rows[0][i], rtol=1e-6
        )


def test_score_is_the_reduction_of_the_summed_predictive_variance():
    """Cohn's criterion: g(x) = sum over the goal of Var before - Var after."""
    est, X, y, w, _ = make_problem("rbf", True, False, False)
    est.fit(X, y)
    rng = np.random.RandomState(2)
    pool, goal = make_pool(X, rng, m=5), make_pool(X, rng, m=8)
    _, _, rows = expected_influence_batch(
        est.fitted_state_, pool, 1, goal, return_score_rows=True
    )
    var_before = est.predict(goal, return_std=True)[1] ** 2
    for i in range(pool.shape[0]):
        x = pool[i : i + 1]
        Xa, ya, wa = add_rows(X, y, w, x, est.predict(x))
        after = with_params(est).fit(Xa, ya, sample_weight=wa)
        # Same dispersion on both sides: compare the covariance scales.
        var_after = est.dispersion_ * after.fitted_state_.variance_scale(goal)
        var_b = var_before - est.dispersion_  # the mean's variance, no noise
        np.testing.assert_allclose(np.sum(var_b - var_after), rows[0][i], rtol=1e-7)


def test_public_function_goal_defaults_and_subsample(rng):
    est, X, y, w, _ = make_problem("rbf", True, False, False)
    est.fit(X, y)
    pool = rng.normal(size=(60, X.shape[1])) + 0.5
    idx, scores = expected_influence_sampling(est, pool, n_instances=2)
    ref_idx, ref_scores = expected_influence_batch(est.fitted_state_, pool, 2)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(scores, ref_scores)
    # A goal subsample: the same as scoring against those rows, scaled up.
    idx, scores = expected_influence_sampling(est, pool, goal_size=20, random_state=3)
    rows = np.sort(np.random.RandomState(3).choice(60, 20, replace=False))
    sub_idx, sub_scores = expected_influence_batch(
        est.fitted_state_, pool, 1, pool[rows]
    )
    assert idx[0] == sub_idx[0]
    np.testing.assert_allclose(scores, sub_scores * 3.0)
    # Deterministic without a random_state.
    a = expected_influence_sampling(est, pool, n_instances=3, goal_size=10)
    b = expected_influence_sampling(est, pool, n_instances=3, goal_size=10)
    np.testing.assert_array_equal(a[0], b[0])
    # An explicit goal set.
    goal = rng.normal(size=(15, X.shape[1]))
    idx, scores = expected_influence_sampling(est, pool, X_goal=goal)
    assert idx[0] == expected_influence_batch(est.fitted_state_, pool, 1, goal)[0][0]


def test_goal_changes_the_picks_towards_it():
    """With the goal on one side of the data, the picks go to that side."""
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(20, 1))
    est = TangentRegressor(alpha=0.1, kernel="rbf", gamma=2.0).fit(X, np.sin(X[:, 0]))
    pool = np.linspace(-4, 4, 81)[:, None]
    for side in (-1, 1):
        goal = side * rng.uniform(2, 3.5, size=(30, 1))
        idx, _ = expected_influence_sampling(est, pool, n_instances=3, X_goal=goal)
        assert np.all(side * pool[idx, 0] > 1)


def test_blocks_give_the_same_picks(monkeypatch):
    est, X, y, w, _ = make_problem("rbf", True, True, False)
    est.fit(X, y, sample_weight=w)
    pool = make_pool(X, np.random.RandomState(4), m=40)
    full = expected_influence_batch(est.fitted_state_, pool, 3, pool[::2])
    monkeypatch.setattr(sktangent._models, "_BLOCK_ELEMENTS", 50)
    small = expected_influence_batch(est.fitted_state_, pool, 3, pool[::2])
    np.testing.assert_array_equal(full[0], small[0])
    np.testing.assert_allclose(full[1], small[1], rtol=1e-10)


def test_linear_goal_is_summed_exactly_whatever_goal_size(rng):
    """Primal linear models sum over the whole goal set (a quadratic form):
    the result equals the block path over every goal row."""
    est, X, y, w, _ = make_problem("linear", True, True, False)
    est.fit(X, y, sample_weight=w)
    pool, goal = make_pool(X, rng, m=50), make_pool(X, rng, m=40)
    exact = expected_influence_batch(
        est.fitted_state_, pool, 4, goal, goal_size=5, return_score_rows=True
    )
    from sktangent._batch import PoolCovariance
    from sktangent._goal import _BlockGoal

    cov = PoolCovariance(est.fitted_state_, np.vstack([pool, goal]))
    block = _BlockGoal(cov, 50, 50 + np.arange(40), 1.0)
    omega = np.ones(40)
    np.testing.assert_allclose(
        exact[2][0] * (1 + block.diagonal()) / est.dispersion_,
        block.spread(np.empty((50, 0)), np.empty((40, 0)), omega),
        rtol=1e-10,
    )


def test_pipeline_and_sparse_pool(rng):
    X = rng.normal(size=(50, 4)) * [1, 10, 100, 0.1]
    y = X @ [1.0, 0.1, 0.01, 10.0] + rng.normal(size=50)
    pool = rng.normal(size=(30, 4)) * [1, 10, 100, 0.1]
    goal = rng.normal(size=(10, 4)) * [1, 10, 100, 0.1]
    pipe = make_pipeline(StandardScaler(), TangentRegressor(alpha=1.0)).fit(X, y)
    got = expected_influence_sampling(pipe, pool, n_instances=3, X_goal=goal)
    direct = expected_influence_sampling(
        pipe[-1],
        pipe[0].transform(pool),
        n_instances=3,
        X_goal=pipe[0].transform(goal),
    )
    np.testing.assert_array_equal(got[0], direct[0])
    np.testing.assert_allclose(got[1], direct[1])
    est = TangentRegressor(alpha=1.0).fit(sp.csr_matrix(X), y)
    sparse = expected_influence_sampling(est, sp.csr_matrix(pool), n_instances=3)
    dense = expected_influence_sampling(est, pool, n_instances=3)
    np.testing.assert_array_equal(sparse[0], dense[0])
    np.testing.assert_allclose(sparse[1], dense[1], rtol=1e-10)


def test_multi_user_learner(rng):
    users = np.repeat(np.arange(4), 15)
    X = rng.normal(size=(60, 3))
    y = X @ [1.0, -1.0, 0.5] + users * 0.3 + rng.normal(size=60) * 0.2
    est = MultiUserTangentRegressor(alpha_global=1.0, alpha_user=3.0).fit(
        X, y, groups=users
    )
    pool = rng.normal(size=(20, 3))
    pool_users = rng.randint(0, 4, size=20)
    idx, scores = expected_influence_sampling(
        est, pool, n_instances=3, groups=pool_users
    )
    assert len(set(idx.tolist())) == 3 and np.all(np.isfinite(scores))
    with pytest.raises(ValueError, match="X_goal"):
        expected_influence_sampling(est, pool, X_goal=pool, groups=pool_users)


def test_poisson_rows_without_weight_score_zero():
    """A mean that underflows gives the label no weight: score 0, not NaN."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 2))
    y = rng.poisson(np.exp(0.5 * X[:, 0]))
    est = TangentRegressor(family="poisson", alpha=1.0).fit(X, y)
    pool = np.vstack([rng.normal(size=(10, 2)), [[-3000.0 / est.coef_[0], 0.0]]])
    _, _, rows = expected_influence_batch(
        est.fitted_state_, pool, 2, return_score_rows=True
    )
    assert np.all(np.isfinite(rows[0]))
    assert rows[0][-1] == 0.0


def test_bad_arguments(rng):
    X = rng.normal(size=(30, 3))
    est = TangentRegressor().fit(X, X[:, 0])
    pool = rng.normal(size=(10, 3))
    with pytest.raises(ValueError, match="noise"):
        expected_influence_sampling(est, pool, noise=0.0)
    with pytest.raises(ValueError, match="noise"):
        expected_influence_sampling(est, pool, noise=np.inf)
    with pytest.raises(TypeError, match="noise"):
        expected_influence_sampling(est, pool, noise="small")
    with pytest.raises(ValueError, match="goal_size"):
        expected_influence_sampling(est, pool, goal_size=0)
    with pytest.raises(TypeError, match="goal_size"):
        expected_influence_sampling(est, pool, goal_size=2.5)
    with pytest.raises(ValueError, match="empty"):
        expected_influence_sampling(est, pool, X_goal=pool[:0])
    with pytest.raises(ValueError, match="features"):
        expected_influence_sampling(est, pool, X_goal=pool[:, :2])
    bad = pool.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        expected_influence_sampling(est, pool, X_goal=bad)
    with pytest.raises(ValueError, match="empty"):
        expected_influence_sampling(est, pool[:0])


def test_first_pick_differs_from_pointwise_variance_where_density_matters():
    """A lone outlier has the largest variance; a dense unlabelled cluster
    settles more of the pool, so the goal-oriented score picks the cluster."""
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(15, 1))
    est = TangentRegressor(alpha=0.1, kernel="rbf", gamma=1.0).fit(X, X[:, 0] ** 2)
    pool = np.vstack([rng.normal(2.5, 0.1, size=(30, 1)), [[6.0]]])
    assert variance_sampling(est, pool)[0][0] == 30
    assert expected_influence_sampling(est, pool)[0][0] < 30
    assert _dense(pool).shape == (31, 1)


def test_goal_rule_follows_the_family(rng):
    """auto: predictions for the normal family or given goal points, the
    pointwise complexity score (influence_sampling's) for the other families."""
    X = rng.normal(size=(40, 2))
    pool = rng.normal(size=(30, 2))
    y = rng.poisson(np.exp(0.5 * X[:, 0])).astype(float)
    glm = TangentRegressor(family="poisson", alpha=1.0).fit(X, y)
    for n in (1, 4):
        auto = expected_influence_sampling(glm, pool, n_instances=n)
        pointwise = influence_sampling(glm, pool, n_instances=n)
        np.testing.assert_array_equal(auto[0], pointwise[0])
        np.testing.assert_allclose(auto[1], pointwise[1])
        complexity = expected_influence_sampling(
            glm, pool, n_instances=n, goal="complexity"
        )
        np.testing.assert_array_equal(complexity[0], pointwise[0])
    predictions = expected_influence_sampling(glm, pool, goal="predictions")
    np.testing.assert_array_equal(
        predictions[0], expected_influence_batch(glm.fitted_state_, pool, 1)[0]
    )
    goal = rng.normal(size=(10, 2))
    with_goal = expected_influence_sampling(glm, pool, X_goal=goal)
    np.testing.assert_array_equal(
        with_goal[0], expected_influence_batch(glm.fitted_state_, pool, 1, goal)[0]
    )
    normal = TangentRegressor(alpha=1.0).fit(X, X[:, 0] + rng.normal(size=40))
    np.testing.assert_array_equal(
        expected_influence_sampling(normal, pool, n_instances=3)[0],
        expected_influence_batch(normal.fitted_state_, pool, 3)[0],
    )
    with pytest.raises(ValueError, match="goal"):
        expected_influence_sampling(normal, pool, goal="loss")
    with pytest.raises(ValueError, match="X_goal"):
        expected_influence_sampling(normal, pool, goal="complexity", X_goal=goal)


def test_conjugate_gradient_model_scores_from_its_own_covariance(rng):
    """solver="lbfgs" has no factorised Hessian: S comes from CG solves."""
    X = rng.normal(size=(50, 3))
    y = rng.poisson(np.exp(0.3 * X[:, 0] + 0.5)).astype(float)
    est = TangentRegressor(family="poisson", solver="lbfgs", alpha=1.0, tol=1e-10)
    est.fit(X, y)
    pool, goal = rng.normal(size=(12, 3)), rng.normal(size=(6, 3))
    idx, scores, rows = expected_influence_batch(
        est.fitted_state_, pool, 2, goal, return_score_rows=True
    )
    np.testing.assert_allclose(
        rows[0], _oracle(est, pool, goal, est.dispersion_, 1.0), rtol=1e-6
    )
    assert idx[0] == np.argmax(rows[0])
