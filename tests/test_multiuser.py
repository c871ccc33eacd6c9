"""Several regularity parameters: the multi-user model (THEORY section 7)."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from sktangent import MultiUserTangentRegressor, TangentRegressor
from sktangent._batch import greedy_batch
from sktangent._multiuser import REGULARITY_WEIGHTS
from sktangent.query import influence_sampling, variance_sampling


def make_users(family="normal", n_users=5, n=120, p=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, p))
    groups = rng.randint(n_users, size=n)
    offsets = rng.normal(scale=0.5, size=(n_users, p))
    eta = np.einsum("ij,ij->i", X, 0.5 + offsets[groups]) + 0.2 * groups
    if family == "poisson":
        y = rng.poisson(np.exp(0.5 * eta)).astype(float)
    else:
        y = eta + 0.2 * rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, size=n)
    return X, y, groups, w


def complexities(est):
    glob = 0.5 * est.alpha_global * float(est.coef_ @ est.coef_)
    users = (
        0.5
        * est.alpha_user
        * float(np.sum(est.user_coef_**2) + np.sum(est.user_intercept_**2))
    )
    return np.array([glob, users])


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_schur_solve_equals_dense_solve(fit_intercept):
    X, y, groups, w = make_users()
    est = MultiUserTangentRegressor(0.7, 1.3, fit_intercept=fit_intercept)
    est.fit(X, y, groups=groups, sample_weight=w)
    hess = est.fitted_state_.hessian
    rng = np.random.RandomState(1)
    q = X.shape[1] + fit_intercept
    assert hess.n_params == q * 6
    g = rng.normal(size=q * 6)
    H = hess.dense()
    np.testing.assert_allclose(hess.solve(g), np.linalg.solve(H, g), rtol=1e-10)
    G = rng.normal(size=(q * 6, 3))
    np.testing.assert_allclose(hess.solve(G), np.linalg.solve(H, G), rtol=1e-10)


@pytest.mark.parametrize("family", ["normal", "poisson"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_both_tangents_match_finite_differences(family, fit_intercept):
    X, y, groups, w = make_users(family)
    est = MultiUserTangentRegressor(
        0.7, 1.3, family=family, fit_intercept=fit_intercept, tol=1e-12
    ).fit(X, y, groups=groups, sample_weight=w)
    X_query, g_query = X[:10] + 0.3, np.append(groups[:9], 99)  # 99: unknown
    h = 1e-4
    for k, name in enumerate(["alpha_global", "alpha_user"]):
        alpha = getattr(est, name)
        fits = [
            clone(est)
            .set_params(**{name: alpha * np.exp(ds)})
            .fit(X, y, groups=groups, sample_weight=w)
            for ds in (h, -h)
        ]
        fd = (fits[0].predict(X_query, g_query) - fits[1].predict(X_query, g_query)) / (
            2 * h
        )
        tangent = est.predict_tangent(X_query, g_query)[:, k]
        np.testing.assert_allclose(
            tangent, fd, rtol=1e-6, atol=1e-6 * np.max(np.abs(fd))
        )
        fd_coef = (fits[0].user_coef_ - fits[1].user_coef_) / (2 * h)
        np.testing.assert_allclose(
            est.user_coef_tangent_[k], fd_coef, rtol=1e-6, atol=1e-9
        )


@pytest.mark.parametrize("family", ["normal", "poisson"])
def test_labelled_influence_per_regularity_matches_upweighting(family):
    X, y, groups, w = make_users(family)
    est = MultiUserTangentRegressor(0.7, 1.3, family=family, tol=1e-12)
    est.fit(X, y, groups=groups, sample_weight=w)
    scores = est.influence_score(X, y, groups=groups)
    total = est.influence_score(X, y, groups=groups, combine="sum")
    np.testing.assert_allclose(total, scores.sum(axis=1))
    eps = 1e-5
    for i in (0, 7):
        e = np.zeros_like(w)
        e[i] = eps
        plus = clone(est).fit(X, y, groups=groups, sample_weight=w + e)
        minus = clone(est).fit(X, y, groups=groups, sample_weight=w - e)
        fd = (complexities(plus) - complexities(minus)) / (2 * eps)
        np.testing.assert_allclose(scores[i], fd, rtol=1e-5, atol=1e-10)


def test_unlabelled_scores_are_expected_squares():
    X, y, groups, w = make_users()
    est = MultiUserTangentRegressor(0.7, 1.3).fit(X, y, groups=groups)
    u = est.influence_score(X[:3], groups=groups[:3])
    u_sum = est.influence_score(X[:3], groups=groups[:3], combine="sum")
    t = est.predict_tangent(X[:3], groups[:3])
    np.testing.assert_allclose(u, est.dispersion_ * t**2)
    np.testing.assert_allclose(u_sum, est.dispersion_ * t.sum(axis=1) ** 2)


def test_large_user_penalty_gives_the_global_model():
    X, y, groups, w = make_users()
    multi = MultiUserTangentRegressor(0.7, 1e10).fit(
        X, y, groups=groups, sample_weight=w
    )
    single = TangentRegressor(alpha=0.7).fit(X, y, sample_weight=w)
    # Users deviate by O(n_u / alpha_user): 1e-8 at this penalty.
    np.testing.assert_allclose(multi.coef_, single.coef_, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(multi.predict(X, groups), single.predict(X), atol=1e-6)


def test_large_global_penalty_gives_separate_user_models():
    X, y, groups, w = make_users()
    multi = MultiUserTangentRegressor(1e10, 0.4, fit_intercept=False)
    multi.fit(X, y, groups=groups, sample_weight=w)
    for u in range(5):
        rows = groups == u
        alone = TangentRegressor(alpha=0.4, fit_intercept=False)
        alone.fit(X[rows], y[rows], sample_weight=w[rows])
        np.testing.assert_allclose(
            multi.user_coef_[u], alone.coef_, rtol=1e-6, atol=1e-8
        )


def test_unknown_users_and_no_groups_use_the_global_model():
    X, y, groups, _ = make_users()
    est = MultiUserTangentRegressor(0.7, 1.3).fit(X, y, groups=groups)
    glob = X @ est.coef_ + est.intercept_
    np.testing.assert_allclose(est.predict(X, np.full(len(X), 42)), glob)
    np.testing.assert_allclose(est.predict(X), glob)


def test_fit_scales_linearly_with_users():
    """The Schur solve never forms the ((U+1)q)^2 matrix."""
    for n_users in (10, 200):
        X, y, groups, _ = make_users(n_users=n_users, n=20 * n_users, p=4)
        est = MultiUserTangentRegressor(1.0, 1.0).fit(X, y, groups=groups)
        hess = est.fitted_state_.hessian
        assert len(hess.blocks) == n_users
        assert all(b.shape == (5, 5) for b in hess.blocks)


def test_query_strategies_with_users():
    X, y, groups, _ = make_users(n_users=4)
    est = MultiUserTangentRegressor(0.7, 1.3).fit(X[:60], y[:60], groups=groups[:60])
    pool, pool_groups = X[60:], groups[60:]
    for regularity, column in (("global", 0), ("user", 1)):
        idx, scores = influence_sampling(
            est, pool, groups=pool_groups, regularity=regularity
        )
        u = est.influence_score(pool, groups=pool_groups)[:, column]
        assert idx[0] == np.argmax(u)
        np.testing.assert_allclose(scores[0], u.max())
    idx, _ = influence_sampling(est, pool, n_instances=3, groups=pool_groups)
    assert len(set(idx)) == 3
    idx, _ = variance_sampling(est, pool, n_instances=2, groups=pool_groups)
    assert len(set(idx)) == 2
    with pytest.raises(ValueError, match="regularity"):
        influence_sampling(est, pool, groups=pool_groups, regularity="both")


@pytest.mark.parametrize("regularity", ["global", "total"])
def test_multiuser_greedy_batch_equals_refits(regularity):
    X, y, groups, w = make_users(n_users=3, n=60)
    est = MultiUserTangentRegressor(0.7, 1.3).fit(X, y, groups=groups, sample_weight=w)
    rng = np.random.RandomState(2)
    pool = rng.normal(size=(15, 3))
    pool_groups = rng.randint(4, size=15)  # user 3 is unknown
    view = est.grouped_state(regularity)
    rows = view.rows(pool, pool_groups)
    idx, _, tangent = greedy_batch(view, rows, 3, "influence")
    labels = est.predict(pool[idx], pool_groups[idx])
    refit = clone(est).fit(
        np.vstack([X, pool[idx]]),
        np.append(y, labels),
        groups=np.append(groups, pool_groups[idx]),
        sample_weight=np.append(w, np.ones(3)),
    )
    weights = REGULARITY_WEIGHTS[regularity]
    expected = refit.predict_tangent(pool, pool_groups) @ np.array(weights)
    np.testing.assert_allclose(tangent, expected, rtol=1e-8, atol=1e-12)


def test_bad_groups():
    X, y, groups, _ = make_users()
    with pytest.raises(ValueError, match="groups has"):
        MultiUserTangentRegressor().fit(X, y, groups=groups[:-1])
    est = MultiUserTangentRegressor().fit(X, y, groups=groups)
    with pytest.raises(ValueError, match="groups has"):
        est.predict(X, groups[:3])
    with pytest.raises(ValueError, match="combine"):
        est.influence_score(X, groups=groups, combine="mean")
    with pytest.raises(ValueError, match="groups only apply"):
        influence_sampling(TangentRegressor().fit(X, y), X, groups=groups)


@parametrize_with_checks(
    [MultiUserTangentRegressor(), MultiUserTangentRegressor(family="poisson")]
)
def test_sklearn_compatible_multiuser(estimator, check):
    check(estimator)
