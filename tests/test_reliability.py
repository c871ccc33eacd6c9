"""Regression tests of issue 14: no silent NaN, no silently wrong answer."""

import numpy as np
import pytest

from sktangent import TangentRegressor
from sktangent.query import (
    expected_influence_sampling,
    influence_sampling,
    variance_sampling,
)

LOG_LINKS = [
    ("poisson", None),
    ("tweedie", 1.5),
    ("tweedie", 1.0),
    ("gamma", None),
]


def _counts(seed=0, n=40):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 2))
    y = rng.poisson(np.exp(0.5 * X[:, 0] - 0.2 * X[:, 1])).astype(float)
    return X, y


# ------------------------------------------------- 1. underflowing means
def _underflow_pool(model, rng):
    """Rows whose mean underflows (eta < -745), then ordinary rows."""
    far = -np.sign(model.coef_) * 1e4
    return np.vstack([far, 2 * far, rng.normal(size=(6, 2))])


@pytest.mark.parametrize("family, power", LOG_LINKS)
def test_no_nan_scores_where_the_mean_underflows(family, power):
    X, y = _counts()
    y = y + 1.0 if family == "gamma" else y
    model = TangentRegressor(family=family, power=power).fit(X, y)
    pool = _underflow_pool(model, np.random.RandomState(1))
    assert model.fitted_state_.eta(pool[:2]).max() < -745
    scores = model.influence_score(pool)
    assert np.all(np.isfinite(scores))
    if family != "gamma":  # mu'^2 / V = mu^(2 - p) -> 0
        assert np.all(scores[:2] == 0.0)
    mean, std = model.predict(pool, return_std=True)
    assert np.all(np.isfinite(mean)) and np.all(np.isfinite(std))
    for strategy in (influence_sampling, variance_sampling):
        idx, picked = strategy(model, pool, n_instances=3)
        assert np.all(np.isfinite(picked))
        assert len(set(idx.tolist())) == 3
    idx, picked = influence_sampling(model, pool, n_instances=3)
    if family != "gamma":
        # The underflowed rows score 0 and are never picked first.
        assert idx[0] >= 2
        np.testing.assert_allclose(picked[0], scores.max())


def test_strategies_raise_instead_of_ranking_a_non_finite_score(monkeypatch):
    X, y = _counts()
    model = TangentRegressor(family="poisson").fit(X, y)
    fam = model.fitted_state_.family

    def nan_fisher(eta):
        out = np.ones_like(eta)
        out[0] = np.nan
        return out

    monkeypatch.setattr(fam, "score_variance", nan_fisher)
    with pytest.raises(ValueError, match="not finite"):
        influence_sampling(model, X[:5], n_instances=2)
    for goal in ("auto", "predictions"):
        with pytest.raises(ValueError, match="not finite"):
            expected_influence_sampling(model, X[:5], n_instances=2, goal=goal)
    with pytest.raises(ValueError, match="not finite"):
        model.influence_score(X[:5])


# ------------------------------------------ 2. huge linear predictor
@pytest.mark.parametrize("family, power", LOG_LINKS)
def test_huge_linear_predictor_raises_instead_of_capping(family, power):
    X, y = _counts()
    y = y + 1.0 if family == "gamma" else y
    model = TangentRegressor(family=family, power=power).fit(X, y)
    far = np.vstack([np.sign(model.coef_) * 1e4, X[:2]])
    assert model.fitted_state_.eta(far[1:]).max() < 700
    calls = [
        lambda: model.predict(far),
        lambda: model.predict(far, return_std=True),
        lambda: model.predict_tangent(far),
        lambda: influence_sampling(model, far),
        lambda: variance_sampling(model, far),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="linear predictor reaches"):
            call()
    if family == "gamma":
        # u = phi (d eta / ds)^2 does not involve the mean: still defined.
        assert np.all(np.isfinite(model.influence_score(far)))
    else:
        with pytest.raises(ValueError, match="linear predictor reaches"):
            model.influence_score(far)
    # Within range, nothing changes.
    assert np.all(np.isfinite(model.predict(far[1:], return_std=True)[1]))


def test_non_finite_linear_predictor_raises_for_every_family():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 2))
    model = TangentRegressor().fit(X, X @ [1.0, 2.0])
    huge = np.array([[1e308, 1e308]])
    with pytest.raises(ValueError, match="not finite"):
        model.predict(huge)


# ---------------------------------------------------- 3. huge targets
def test_dispersion_in_scaled_form_for_huge_targets():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.3 * rng.normal(size=50)
    small = TangentRegressor(alpha=1.0).fit(X, y)
    big = TangentRegressor(alpha=1.0).fit(X, y * 1e200)
    np.testing.assert_allclose(big.coef_, small.coef_ * 1e200, rtol=1e-10)
    mean, std = big.predict(X[:5], return_std=True)
    _, std_small = small.predict(X[:5], return_std=True)
    assert np.all(np.isfinite(std))
    np.testing.assert_allclose(std, std_small * 1e200, rtol=1e-10)
    np.testing.assert_allclose(
        big.fitted_state_.dispersion_root, np.sqrt(small.dispersion_) * 1e200
    )
    # phi ~ 1e399 is beyond float64; the scores (~1e800) cannot be held either:
    # a clear error, never inf or NaN.
    assert big.dispersion_ == np.inf
    with pytest.raises(ValueError, match="not finite"):
        big.influence_score(X[:5])
    with pytest.raises(ValueError, match="not finite"):
        influence_sampling(big, X[:5])
    # On a scale where the scores fit (u scales as y^4) they are exact.
    mid = TangentRegressor(alpha=1.0).fit(X, y * 1e50)
    np.testing.assert_allclose(
        mid.influence_score(X[:5]) / 1e200, small.influence_score(X[:5]), rtol=1e-8
    )


# ------------------------------------ 4. feature names through the CV model
def test_cv_checks_feature_names_everywhere():
    pd = pytest.importorskip("pandas")
    from sktangent import TangentRegressorCV
    from sktangent import influence as inf

    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
    y = X.to_numpy() @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=40)
    cv = TangentRegressorCV(alphas=[0.1, 1.0, 10.0]).fit(X, y)
    swapped = X[["c", "a", "b"]]
    calls = [
        lambda: cv.predict(swapped),
        lambda: cv.predict(swapped, return_std=True),
        lambda: cv.predict_tangent(swapped),
        lambda: cv.influence_score(swapped),
        lambda: influence_sampling(cv, swapped),
        lambda: variance_sampling(cv, swapped),
        lambda: inf.self_influence(cv, swapped, y),
        lambda: inf.leave_one_out(cv, swapped, y),
        lambda: inf.prediction_influence(cv, X, y, swapped),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="feature names"):
            call()
    # The same frame in the right order still works, identically to arrays.
    np.testing.assert_allclose(cv.predict(X), cv.estimator_.predict(X))


# --------------------------------------------------- 7. targets as strings
@pytest.mark.parametrize("estimator", ["single", "cv", "multi"])
def test_numeric_strings_as_targets_are_accepted_like_ridge(estimator):
    from sklearn.linear_model import Ridge

    from sktangent import MultiUserTangentRegressor, TangentRegressorCV

    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 2))
    y = X @ [1.0, 2.0] + 0.1 * rng.normal(size=20)
    y_str = np.array([f"{v:.6f}" for v in y])
    make = {
        "single": lambda: TangentRegressor(),
        "cv": lambda: TangentRegressorCV(alphas=[1.0]),
        "multi": lambda: MultiUserTangentRegressor(),
    }[estimator]
    model = make().fit(X, y_str)
    np.testing.assert_allclose(
        model.predict(X), make().fit(X, y_str.astype(float)).predict(X)
    )
    if estimator == "single":
        np.testing.assert_allclose(model.coef_, Ridge().fit(X, y_str).coef_)
        model.influence_score(X[:3], y_str[:3])
    with pytest.raises(ValueError, match="y must be numeric"):
        make().fit(X, np.array(["cat", "dog"] * 10))


def test_binomial_accepts_string_zero_one():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 2))
    y = (X[:, 0] + 0.5 * rng.normal(size=30) > 0).astype(int)
    a = TangentRegressor(family="binomial").fit(X, y.astype(str))
    b = TangentRegressor(family="binomial").fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_)


# ------------------------------------------ 8. set_params after fit
@pytest.mark.parametrize(
    "change",
    [{"kernel": "rbf"}, {"alpha": 3.0}, {"family": "poisson"}, {"dispersion": "fixed"}],
)
def test_changing_the_model_after_fit_asks_for_a_refit(change):
    from sktangent.influence import self_influence

    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 2))
    y = np.abs(X @ [1.0, 2.0]) + 1.0
    model = TangentRegressor().fit(X, y)
    model.set_params(**change)
    for call in (
        lambda: model.predict(X),
        lambda: model.influence_score(X),
        lambda: model.dispersion_,
        lambda: self_influence(model, X, y),
        lambda: influence_sampling(model, X),
    ):
        with pytest.raises(ValueError, match="changed after fit.*fit again"):
            call()
    # Settings that do not define the model may change.
    model2 = TangentRegressor().fit(X, y).set_params(max_iter=5, solver="auto")
    model2.predict(X)
    model.fit(X, y).predict(X)


# ------------------------------------------ 10. power with another family
def test_power_with_another_family_warns():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 2))
    y = X @ [1.0, 2.0]
    with pytest.warns(UserWarning, match="only used with family='tweedie'"):
        TangentRegressor(power=1.5).fit(X, y)
    from sktangent import MultiUserTangentRegressor, TangentRegressorCV

    with pytest.warns(UserWarning, match="only used with family='tweedie'"):
        MultiUserTangentRegressor(power=1.5).fit(X, y)
    with pytest.warns(UserWarning, match="only used with family='tweedie'") as rec:
        TangentRegressorCV(alphas=[0.1, 1.0], power=1.5).fit(X, y)
    assert len(rec) == 1


# ------------------------------- 5. convergence test that scales with X
@pytest.mark.parametrize("solver", ["newton-cholesky", "lbfgs"])
@pytest.mark.parametrize("family", ["poisson", "gamma", "binomial"])
def test_glm_solver_does_not_stop_at_the_start_for_small_features(family, solver):
    from sklearn.linear_model import (
        GammaRegressor,
        LogisticRegression,
        PoissonRegressor,
    )

    rng = np.random.RandomState(0)
    n = 60
    X = rng.normal(size=(n, 2))
    eta = 0.5 * X[:, 0] - 0.3 * X[:, 1]
    if family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
        ref = PoissonRegressor(alpha=1e-12 / n, solver="newton-cholesky", tol=1e-12)
    elif family == "gamma":
        y = rng.gamma(2.0, np.exp(eta) / 2.0)
        ref = GammaRegressor(alpha=1e-12 / n, solver="newton-cholesky", tol=1e-12)
    else:
        y = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float)
        ref = LogisticRegression(C=1e12, solver="newton-cholesky", tol=1e-12)
    small = TangentRegressor(family=family, alpha=1e-12, solver=solver)
    small.fit(X * 1e-6, y)
    # The same problem on the unit scale: alpha * scale^-2.
    unit = TangentRegressor(family=family, alpha=1.0).fit(X, y)
    assert small.n_iter_ > 1
    assert np.all(small.coef_ != 0)
    rtol = 1e-6 if solver == "newton-cholesky" else 1e-4
    np.testing.assert_allclose(small.coef_ * 1e-6, unit.coef_, rtol=rtol)
    ref.fit(X * 1e-6, y)
    np.testing.assert_allclose(small.coef_, np.ravel(ref.coef_), rtol=max(rtol, 1e-5))
    # Large features as well (the equivalent problem has alpha * 1e-6).
    large = TangentRegressor(family=family, alpha=1e6, solver=solver).fit(X * 1e3, y)
    np.testing.assert_allclose(large.coef_ * 1e3, unit.coef_, rtol=rtol)


# ------------------------------------------- 6. constant columns ignored
@pytest.mark.parametrize(
    "family, solver", [("normal", "auto"), ("poisson", "auto"), ("poisson", "lbfgs")]
)
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_constant_column_is_exactly_ignored(family, solver, sparse, weighted):
    import scipy.sparse as sp
    from sklearn.linear_model import Ridge

    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3))
    w = rng.uniform(0.5, 2.0, size=40) if weighted else None
    if family == "normal":
        y = X[:, 0] + rng.normal(size=40)
    else:
        y = rng.poisson(np.exp(0.3 * X[:, 0])).astype(float)
    X_const = X.copy()
    X_const[:, 1] = 1e8
    X_fit = sp.csr_matrix(X_const) if sparse else X_const
    model = TangentRegressor(family=family, solver=solver)
    model.fit(X_fit, y, sample_weight=w)
    assert model.coef_[1] == 0.0
    assert model.coef_tangent_[1] == 0.0
    reduced = np.delete(X, 1, axis=1)
    without = TangentRegressor(family=family, solver=solver)
    without.fit(reduced, y, sample_weight=w)
    X_zero = X.copy()
    X_zero[:, 1] = 0.0  # where the constant feature is absent
    rtol = 1e-10 if family == "normal" else 1e-6
    np.testing.assert_allclose(
        model.predict(X_zero), without.predict(reduced), rtol=rtol
    )
    np.testing.assert_allclose(
        model.predict_tangent(X_zero),
        without.predict_tangent(reduced),
        rtol=1e-6,
        atol=1e-9,
    )
    reference = without.influence_score(reduced)
    np.testing.assert_allclose(
        model.influence_score(X_const),
        reference,
        rtol=1e-6,
        atol=1e-9 * reference.max(),
    )
    if family == "normal":
        ridge = Ridge().fit(X_const, y, sample_weight=w)
        np.testing.assert_allclose(model.coef_, ridge.coef_, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_constant_column_is_exactly_ignored_in_the_dual(sparse, weighted):
    """p > n: the linear kernel of the centred rows, as in the primal."""
    import scipy.sparse as sp
    from sklearn.linear_model import Ridge

    from sktangent import influence
    from sktangent.query import expected_influence_sampling

    rng = np.random.RandomState(0)
    n, p = 12, 20
    X = rng.normal(size=(n, p))
    w = rng.uniform(0.5, 2.0, size=n) if weighted else None
    y = X[:, 0] - X[:, 2] + 0.3 * rng.normal(size=n)
    X_const = X.copy()
    X_const[:, 1] = 1e8
    pool = rng.normal(size=(15, p))
    pool[:, 1] = 1e8
    as_input = sp.csr_matrix if sparse else np.asarray
    model = TangentRegressor(alpha=1.0).fit(as_input(X_const), y, sample_weight=w)
    assert model.coef_[1] == 0.0
    assert model.coef_tangent_[1] == 0.0
    reduced, pool_reduced = np.delete(X, 1, axis=1), np.delete(pool, 1, axis=1)
    without = TangentRegressor(alpha=1.0).fit(as_input(reduced), y, sample_weight=w)
    ridge = Ridge(alpha=1.0).fit(X_const, y, sample_weight=w)
    np.testing.assert_allclose(model.coef_, ridge.coef_, rtol=1e-8, atol=1e-12)

    def close(a, b):
        a, b = np.asarray(a), np.asarray(b)
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12 * np.abs(b).max())

    close(np.delete(model.coef_, 1), without.coef_)
    close(np.delete(model.coef_tangent_, 1), without.coef_tangent_)
    close(model.intercept_, without.intercept_)
    close(model.intercept_tangent_, without.intercept_tangent_)
    for Xq, Xq_red in [(X_const, reduced), (pool, pool_reduced)]:
        Xq, Xq_red = as_input(Xq), as_input(Xq_red)
        pred, std = model.predict(Xq, return_std=True)
        pred_red, std_red = without.predict(Xq_red, return_std=True)
        close(pred, pred_red)
        close(std, std_red)
        close(model.predict_tangent(Xq), without.predict_tangent(Xq_red))
        close(model.influence_score(Xq), without.influence_score(Xq_red))
    P, P_red = as_input(pool), as_input(pool_reduced)
    for strategy in (influence_sampling, variance_sampling):
        picked = strategy(model, P, n_instances=3)
        picked_red = strategy(without, P_red, n_instances=3)
        np.testing.assert_array_equal(picked[0], picked_red[0])
    picked = expected_influence_sampling(model, P, n_instances=3)
    picked_red = expected_influence_sampling(without, P_red, n_instances=3)
    np.testing.assert_array_equal(picked[0], picked_red[0])
    Xt, Xt_red = as_input(X_const), as_input(reduced)
    param = influence.parameter_influence(model, Xt, y)
    assert np.all(param[:, 1] == 0.0)
    close(
        np.delete(param, 1, axis=1), influence.parameter_influence(without, Xt_red, y)
    )
    for relative in (False, True):
        close(
            influence.prediction_influence(model, Xt, y, P, relative=relative),
            influence.prediction_influence(
                without, Xt_red, y, P_red, relative=relative
            ),
        )
    close(
        influence.self_influence(model, Xt, y),
        influence.self_influence(without, Xt_red, y),
    )
    loo = influence.leave_one_out(model, Xt, y, sample_weight=w)
    loo_red = influence.leave_one_out(without, Xt_red, y, sample_weight=w)
    close(loo.predictions, loo_red.predictions)
    close(loo.leverage, loo_red.leverage)


# --------------------------------------------- 9. the multi-user groups
def _users(seed=0, n=90):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 2))
    users = rng.randint(3, size=n)
    y = X @ [1.0, -1.0] + 2.0 * users + 0.1 * rng.normal(size=n)
    return X, y, users


@pytest.mark.parametrize(
    "bad, match",
    [
        ("2d", "groups must be a 1-D array"),
        ("mixed", "groups must hold users of one kind"),
        ("nan", "groups"),
    ],
)
def test_multiuser_groups_errors_name_groups(bad, match):
    from sktangent import MultiUserTangentRegressor

    X, y, users = _users()
    groups = {
        "2d": np.column_stack([users, users]),
        "mixed": np.array(["a", 1] * 45, dtype=object),
        "nan": np.where(users == 0, np.nan, users),
    }[bad]
    with pytest.raises(ValueError, match=match):
        MultiUserTangentRegressor().fit(X, y, groups=groups)
    model = MultiUserTangentRegressor().fit(X, y, groups=users)
    with pytest.raises(ValueError, match=match):
        model.predict(X, groups=groups)


def test_strategies_require_groups_with_a_multiuser_learner():
    from sktangent import MultiUserTangentRegressor

    X, y, users = _users()
    model = MultiUserTangentRegressor().fit(X, y, groups=users)
    for strategy in (influence_sampling, variance_sampling):
        with pytest.raises(ValueError, match="groups is required"):
            strategy(model, X)
        idx, _ = strategy(model, X, groups=users)
        assert idx.shape == (1,)


def test_grid_search_routes_groups_to_the_multiuser_model():
    import sklearn
    from sklearn.model_selection import GridSearchCV, GroupKFold, KFold

    from sktangent import MultiUserTangentRegressor

    X, y, users = _users()
    grid = {"alpha_user": [0.01, 100.0]}
    with sklearn.config_context(enable_metadata_routing=True):
        est = (
            MultiUserTangentRegressor()
            .set_fit_request(groups=True)
            .set_score_request(groups=True)
        )
        search = GridSearchCV(est, grid, cv=GroupKFold(3)).fit(X, y, groups=users)
        np.testing.assert_array_equal(search.best_estimator_.users_, [0, 1, 2])
        # Seen users are scored with their own models: a small alpha_user wins.
        search = GridSearchCV(est, grid, cv=KFold(3)).fit(X, y, groups=users)
        assert search.best_params_ == {"alpha_user": 0.01}
        assert search.best_score_ > 0.99
    model = MultiUserTangentRegressor(alpha_user=0.01).fit(X, y, groups=users)
    assert model.score(X, y, groups=users) > model.score(X, y)


# ---------------------------------- 11. dispersion for over-dispersed data
def _negative_binomial(seed, size=2.0, n=400, m=4000):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n + m, 2))
    mu = np.exp(1.5 + 0.4 * X[:, 0] - 0.3 * X[:, 1])
    # Variance mu + mu^2 / size: over-dispersed relative to Poisson.
    y = rng.negative_binomial(size, size / (size + mu)).astype(float)
    return X[:n], y[:n], X[n:], y[n:]


def test_pearson_dispersion_gives_honest_intervals_on_overdispersed_counts():
    coverage = {"fixed": [], "pearson": []}
    for seed in range(5):
        X, y, X_test, y_test = _negative_binomial(seed)
        for mode in coverage:
            model = TangentRegressor(family="poisson", dispersion=mode).fit(X, y)
            mean, std = model.predict(X_test, return_std=True)
            coverage[mode].append(np.mean(np.abs(y_test - mean) <= 1.96 * std))
    # Measured: fixed 0.778 (0.769-0.788), pearson 0.946 (0.933-0.952).
    assert np.mean(coverage["fixed"]) < 0.85
    assert 0.93 <= np.mean(coverage["pearson"]) <= 0.97
    assert min(coverage["pearson"]) >= 0.92


def test_pearson_dispersion_matches_statsmodels_quasi_poisson():
    sm = pytest.importorskip("statsmodels.api")
    X, y, _, _ = _negative_binomial(0, n=300, m=0)
    model = TangentRegressor(family="poisson", alpha=1e-8, dispersion="pearson")
    model.fit(X, y)
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Poisson()).fit(scale="X2")
    np.testing.assert_allclose(model.dispersion_, ref.scale, rtol=1e-5)
    fixed = TangentRegressor(family="poisson", alpha=1e-8).fit(X, y)
    assert fixed.dispersion == "auto" and fixed.dispersion_ == 1.0
    np.testing.assert_allclose(
        model.influence_score(X[:5]), ref.scale * fixed.influence_score(X[:5])
    )
    _, picked = influence_sampling(model, X[:20])
    _, picked_fixed = influence_sampling(fixed, X[:20])
    np.testing.assert_allclose(picked, ref.scale * picked_fixed)


def test_dispersion_parameter_on_every_estimator():
    from sktangent import MultiUserTangentRegressor, TangentRegressorCV

    X, y, _, _ = _negative_binomial(1, n=200, m=0)
    normal = TangentRegressor(dispersion="fixed").fit(X, np.log1p(y))
    assert normal.dispersion_ == 1.0
    cv = TangentRegressorCV(family="poisson", dispersion="pearson").fit(X, y)
    assert cv.estimator_.dispersion == "pearson" and cv.estimator_.dispersion_ > 1.5
    multi = MultiUserTangentRegressor(family="poisson", dispersion="pearson")
    assert multi.fit(X, y).dispersion_ > 1.5
    assert MultiUserTangentRegressor(family="poisson").fit(X, y).dispersion_ == 1.0
    with pytest.raises(ValueError, match="dispersion"):
        TangentRegressor(dispersion="deviance").fit(X, y)


# -------------------------------------------- 12. pipelines everywhere
def test_every_influence_function_accepts_a_pipeline():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sktangent import influence as inf

    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 3)) * [1.0, 10.0, 100.0] + 5.0
    y = X @ [1.0, -0.2, 0.01] + 0.1 * rng.normal(size=50)
    X_tr, y_tr, X_val, y_val = X[:35], y[:35], X[35:], y[35:]
    pipe = make_pipeline(StandardScaler(), TangentRegressor(alpha=1.0))
    pipe.fit(X_tr, y_tr)
    model = pipe[-1]
    Z_tr, Z_val = pipe[0].transform(X_tr), pipe[0].transform(X_val)
    pairs = [
        (
            inf.parameter_influence(pipe, X_tr, y_tr),
            inf.parameter_influence(model, Z_tr, y_tr),
        ),
        (
            inf.prediction_influence(pipe, X_tr, y_tr, X_val),
            inf.prediction_influence(model, Z_tr, y_tr, Z_val),
        ),
        (
            inf.loss_influence(pipe, X_tr, y_tr, X_val, y_val),
            inf.loss_influence(model, Z_tr, y_tr, Z_val, y_val),
        ),
        (inf.self_influence(pipe, X_tr, y_tr), inf.self_influence(model, Z_tr, y_tr)),
        (
            inf.leave_one_out(pipe, X_tr, y_tr).predictions,
            inf.leave_one_out(model, Z_tr, y_tr).predictions,
        ),
        (
            inf.memorisation_score(pipe, X_tr, y_tr),
            inf.memorisation_score(model, Z_tr, y_tr),
        ),
        (
            inf.harm_score(pipe, X_tr, y_tr, X_val, y_val),
            inf.harm_score(model, Z_tr, y_tr, Z_val, y_val),
        ),
    ]
    for got, expected in pairs:
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    result = inf.drop_harmful(pipe, X_tr, y_tr, X_val, y_val, n_drop=2)
    expected = inf.drop_harmful(model, Z_tr, y_tr, Z_val, y_val, n_drop=2)
    np.testing.assert_array_equal(result.dropped, expected.dropped)
    assert type(result.estimator) is type(pipe)  # the whole pipeline, refitted
    with pytest.raises(TypeError, match="Pipeline"):
        inf.self_influence(make_pipeline(StandardScaler()).fit(X), X, y)


# -------------------------- found by the bad-input battery (test_bad_input)
def test_influence_functions_raise_instead_of_returning_inf():
    from sktangent import influence as inf

    X = np.array([[0.0], [1.0]])
    y = np.array([0.0, 1.0])
    model = TangentRegressor(alpha=0.5).fit(X, y)
    far = np.array([[1e300]])
    # eta ~ 1e300 and S ~ 1e299 are finite; their product is not.
    assert np.all(np.isfinite(inf.prediction_influence(model, X, y, far)))
    with pytest.raises(ValueError, match="not finite"):
        inf.loss_influence(model, X, y, far, [0.0])


def test_influence_functions_name_non_numeric_labels():
    from sktangent import influence as inf

    rng = np.random.RandomState(0)
    X = rng.normal(size=(10, 2))
    y = X @ [1.0, 2.0]
    model = TangentRegressor().fit(X, y)
    np.testing.assert_allclose(
        inf.self_influence(model, X, y.astype(str)), inf.self_influence(model, X, y)
    )
    with pytest.raises(ValueError, match="y_test must be numeric"):
        inf.loss_influence(model, X, y, X[:2], ["a", "b"])


def test_multiuser_asks_for_a_refit_after_set_params():
    from sktangent import MultiUserTangentRegressor

    X, y, users = _users()
    model = MultiUserTangentRegressor().fit(X, y, groups=users)
    model.set_params(alpha_user=5.0)
    with pytest.raises(ValueError, match="changed after fit"):
        model.predict(X, groups=users)
    with pytest.raises(ValueError, match="changed after fit"):
        influence_sampling(model, X, groups=users)


def test_cv_asks_for_a_refit_after_set_params():
    from sktangent import TangentRegressorCV

    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 2))
    y = X @ [1.0, 2.0] + 0.1 * rng.normal(size=30)
    cv = TangentRegressorCV(alphas=[0.1, 1.0]).fit(X, y)
    cv.set_params(kernel="rbf")
    for call in (cv.predict, cv.predict_tangent, cv.influence_score):
        with pytest.raises(ValueError, match="changed after fit"):
            call(X)
    cv.set_params(alphas=[1.0, 10.0])  # the search, not the model
    cv.set_params(kernel=None).predict(X)
