"""Several regularity parameters: the multi-user model (THEORY section 7)."""

import re

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from sktangent import MultiUserTangentRegressor, TangentRegressor
from sktangent._batch import greedy_batch
from sktangent._grouped import REGULARITY_WEIGHTS
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


def fitted(family="normal", fit_intercept=True, **kwargs):
    X, y, groups, w = make_users(family, **kwargs)
    est = MultiUserTangentRegressor(
        0.7, 1.3, family=family, fit_intercept=fit_intercept, tol=1e-12
    ).fit(X, y, groups=groups, sample_weight=w)
    return est, X, y, groups, w


def penalty_matrices(hess):
    """``P_global`` and ``P_user`` in the flat parameter layout."""
    q, n = hess.q, hess.n_params
    P_global, P_user = np.zeros((n, n)), np.eye(n)
    P_global[:q, :q] = hess.P
    P_user[:q, :q] = 0.0
    return P_global, P_user


@pytest.mark.parametrize("family", ["normal", "poisson"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_hessian_tangent_and_effective_dof_equal_dense_formulas(family, fit_intercept):
    est, *_ = fitted(family, fit_intercept)
    state = est.fitted_state_
    hess = state.hessian
    H = hess.dense()
    rho = np.random.RandomState(3).normal(size=hess.n_params)
    np.testing.assert_allclose(hess.tangent(rho), -np.linalg.solve(H, rho), rtol=1e-9)
    P_global, P_user = penalty_matrices(hess)
    H_inv = np.linalg.inv(H)
    dof = (
        hess.n_params
        - state.alpha_global * np.trace(H_inv @ P_global)
        - state.alpha_user * np.trace(H_inv @ P_user)
    )
    np.testing.assert_allclose(hess.effective_dof(), dof, rtol=1e-10)
    # The fitted tangents solve H t_k = -rho_k with rho_k = alpha_k P_k theta.
    theta = state.theta
    for k, (alpha, P) in enumerate(
        [(state.alpha_global, P_global), (state.alpha_user, P_user)]
    ):
        np.testing.assert_allclose(
            state.tangents[k], -np.linalg.solve(H, alpha * P @ theta), rtol=1e-8
        )


@pytest.mark.parametrize("family", ["normal", "poisson"])
def test_grouped_objective_derivatives_match_finite_differences(family):
    from sktangent._families import get_family
    from sktangent._grouped import GroupedObjective, design

    X, y, groups, w = make_users(family, n_users=3, n=40)

    def objective(a0, a1):
        Xt = design(X, True)
        return GroupedObjective(get_family(family), Xt, groups, 3, y, w, a0, a1, True)

    obj = objective(0.7, 1.3)
    theta = np.random.RandomState(4).normal(scale=0.1, size=obj.n_params)
    h = 1e-6
    basis = np.eye(obj.n_params)
    fd_grad = [
        (obj.value(theta + h * e) - obj.value(theta - h * e)) / (2 * h) for e in basis
    ]
    np.testing.assert_allclose(obj.gradient(theta), fd_grad, rtol=1e-6, atol=1e-6)
    fd_hess = np.array(
        [
            (obj.gradient(theta + h * e) - obj.gradient(theta - h * e)) / (2 * h)
            for e in basis
        ]
    )
    np.testing.assert_allclose(obj.hessian(theta).dense(), fd_hess, atol=1e-5)
    for k in range(2):
        step = np.exp(h * np.eye(2)[k])
        plus = objective(0.7 * step[0], 1.3 * step[1]).gradient(theta)
        step = np.exp(-h * np.eye(2)[k])
        minus = objective(0.7 * step[0], 1.3 * step[1]).gradient(theta)
        np.testing.assert_allclose(
            obj.rho(theta)[k], (plus - minus) / (2 * h), rtol=1e-6, atol=1e-8
        )


def test_fitted_state_is_frozen_and_public():
    from dataclasses import FrozenInstanceError

    est, X, y, groups, w = fitted()
    state = est.fitted_state_
    for name in ("theta", "tangents", "users"):
        assert not getattr(state, name).flags.writeable
    with pytest.raises(FrozenInstanceError):
        state.alpha_user = 2.0
    with pytest.raises(ValueError, match="read-only"):
        state.theta[0] = 1.0
    assert state.dispersion == est.dispersion_
    for name in ("_theta", "_hessian", "_family", "_pearson", "_dispersion"):
        assert not hasattr(est, name)
    est.fit(X, y, groups=groups)
    assert est.fitted_state_ is not state


def test_set_params_without_refit_raises_or_leaves_scores_unchanged():
    est, X, y, groups, w = fitted(n_users=3, n=60)
    pool, pool_groups = X[:12] + 0.2, np.append(groups[:10], [7, 7])
    view = est.grouped_state("user")
    rows = view.rows(pool, pool_groups)
    scores = {
        "predict": est.predict(pool, pool_groups),
        "tangent": est.predict_tangent(pool, pool_groups),
        "influence": est.influence_score(pool, groups=pool_groups),
        "labelled": est.influence_score(X, y, groups=groups),
        "sampling": influence_sampling(est, pool, 3, groups=pool_groups)[1],
        "batch": greedy_batch(view, rows, 3, "influence")[2],
    }
    est.set_params(alpha_user=10.0)
    for call in (
        lambda: est.predict(pool, pool_groups),
        lambda: est.influence_score(pool, groups=pool_groups),
        lambda: est.grouped_state("user"),
        lambda: est.dispersion_,
        lambda: view.rows(pool, pool_groups),
        lambda: influence_sampling(est, pool, 3, groups=pool_groups),
    ):
        with pytest.raises(ValueError, match="changed after fit"):
            call()
    # A view already built reads the frozen state, not the new parameters.
    np.testing.assert_array_equal(
        greedy_batch(view, rows, 3, "influence")[2], scores["batch"]
    )
    est.set_params(alpha_user=1.3)
    again = {
        "predict": est.predict(pool, pool_groups),
        "tangent": est.predict_tangent(pool, pool_groups),
        "influence": est.influence_score(pool, groups=pool_groups),
        "labelled": est.influence_score(X, y, groups=groups),
        "sampling": influence_sampling(est, pool, 3, groups=pool_groups)[1],
        "batch": greedy_batch(est.grouped_state("user"), rows, 3, "influence")[2],
    }
    for key, value in scores.items():
        np.testing.assert_array_equal(again[key], value, err_msg=key)


def sparse_problem(family, seed=0):
    rng = np.random.RandomState(seed)
    n, p = 150, 8
    X = rng.normal(size=(n, p)) * (rng.uniform(size=(n, p)) < 0.3)
    groups = rng.randint(6, size=n)
    eta = 0.5 * X @ rng.normal(size=p) + 0.1 * groups
    if family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    else:
        y = eta + 0.2 * rng.normal(size=n)
    return X, y, groups, rng.uniform(0.5, 2.0, size=n)


@pytest.mark.parametrize("family", ["normal", "poisson"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("container", ["csr_matrix", "csc_matrix", "csr_array"])
def test_sparse_fit_equals_dense_fit(family, fit_intercept, container):
    from scipy import sparse

    to_sparse = getattr(sparse, container)
    X, y, groups, w = sparse_problem(family)
    params = {"family": family, "fit_intercept": fit_intercept, "tol": 1e-10}
    dense = MultiUserTangentRegressor(0.7, 1.3, **params)
    dense.fit(X, y, groups=groups, sample_weight=w)
    sparse_fit = MultiUserTangentRegressor(0.7, 1.3, **params)
    sparse_fit.fit(to_sparse(X), y, groups=groups, sample_weight=w)
    for name in (
        "coef_",
        "intercept_",
        "user_coef_",
        "user_intercept_",
        "coef_tangent_",
        "user_coef_tangent_",
        "user_intercept_tangent_",
        "dispersion_",
    ):
        np.testing.assert_allclose(
            getattr(sparse_fit, name), getattr(dense, name), rtol=1e-10, atol=1e-12
        )
    query, query_groups = X[:20], np.append(groups[:18], [50, 50])
    for verb in ("predict", "predict_tangent"):
        np.testing.assert_allclose(
            getattr(sparse_fit, verb)(to_sparse(query), query_groups),
            getattr(dense, verb)(query, query_groups),
            rtol=1e-10,
            atol=1e-12,
        )
    for labels in (None, y[:20]):
        np.testing.assert_allclose(
            sparse_fit.influence_score(to_sparse(query), labels, groups=query_groups),
            dense.influence_score(query, labels, groups=query_groups),
            rtol=1e-10,
            atol=1e-12,
        )
    picks = [
        variance_sampling(est, Q, n_instances=3, groups=query_groups)
        for est, Q in ((dense, query), (sparse_fit, to_sparse(query)))
    ]
    np.testing.assert_array_equal(picks[0][0], picks[1][0])
    np.testing.assert_allclose(picks[0][1], picks[1][1], rtol=1e-10)


def test_sparse_fit_never_densifies_the_data(monkeypatch):
    from scipy import sparse

    X, y, groups, w = sparse_problem("poisson")
    X_sparse = sparse.csr_matrix(X)
    shapes = []

    def recording(method):
        def wrapper(self, *args, **kwargs):
            shapes.append(self.shape)
            return method(self, *args, **kwargs)

        return wrapper

    for name in ("csr_matrix", "csc_matrix", "coo_matrix", "csr_array", "csc_array"):
        cls = getattr(sparse, name)
        monkeypatch.setattr(cls, "toarray", recording(cls.toarray))
    est = MultiUserTangentRegressor(0.7, 1.3, family="poisson")
    est.fit(X_sparse, y, groups=groups, sample_weight=w)
    est.predict(X_sparse, groups)
    est.influence_score(X_sparse, groups=groups)
    assert shapes, "the q x q blocks come from sparse products"
    n, q = X.shape[0], X.shape[1] + 1
    assert all(shape[1] < q - 1 or shape[0] < n for shape in shapes), shapes


def test_sample_weights_are_checked_as_by_tangent_regressor():
    from sktangent._validation import check_weights

    X, y, groups, w = make_users()
    bad = w.copy()
    bad[[3, 5]] = -1.0
    with pytest.raises(ValueError, match=r"negative weights at indices \[3, 5\]"):
        MultiUserTangentRegressor().fit(X, y, groups=groups, sample_weight=bad)
    for weights in (bad, np.zeros_like(w)):
        # scikit-learn may refuse all-zero weights itself, with its own message.
        with pytest.raises(ValueError) as single:
            TangentRegressor().fit(X, y, sample_weight=weights)
        with pytest.raises(ValueError, match=re.escape(str(single.value))):
            MultiUserTangentRegressor().fit(X, y, groups=groups, sample_weight=weights)
        with pytest.raises(ValueError, match=re.escape(str(single.value))):
            check_weights(weights, X)
    np.testing.assert_array_equal(check_weights(None, X), np.ones(len(X)))


def test_parameter_specifications_are_those_of_tangent_regressor():
    shared = TangentRegressor._parameter_constraints
    own = MultiUserTangentRegressor._parameter_constraints
    assert set(own) == set(MultiUserTangentRegressor().get_params())
    for name in ("family", "power", "dispersion", "fit_intercept", "max_iter", "tol"):
        assert own[name] is shared[name]
    assert own["alpha_global"] is own["alpha_user"] is shared["alpha"]
