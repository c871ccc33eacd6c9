"""The fitted state: its values, its immutability, and its consumers."""

import dataclasses
import pickle

import numpy as np
import pytest
from sklearn.base import clone

from sktangent import MultiUserTangentRegressor, TangentRegressor, TangentRegressorCV
from sktangent import influence as inf
from sktangent._batch import greedy_batch
from sktangent._covariance import covariance_scale
from sktangent._goal import expected_influence_batch
from sktangent._loo import leave_one_out
from sktangent.query import (
    expected_influence_sampling,
    influence_sampling,
    variance_sampling,
)

#: name -> (estimator, its factorisation, p); every shape of the Hessian.
CONFIGS = {
    "linear": (TangentRegressor(alpha=0.7), "primal", 4),
    "linear-dual": (TangentRegressor(alpha=0.7), "dual", 40),
    "rbf": (TangentRegressor(alpha=0.7, kernel="rbf", gamma=0.3), "dual", 4),
    "poisson": (TangentRegressor(alpha=0.7, family="poisson", tol=1e-10), "primal", 4),
    "poisson-rbf": (
        TangentRegressor(alpha=0.7, family="poisson", kernel="rbf", tol=1e-10),
        "dual",
        4,
    ),
    "lbfgs": (
        TangentRegressor(alpha=0.7, family="poisson", solver="lbfgs", tol=1e-10),
        None,
        4,
    ),
}

#: What the batches and the goal read, on a FittedState and a GroupedView.
BATCH_INTERFACE = (
    "family",
    "dispersion",
    "factorisation",
    "kernel",
    "eta",
    "variance_scale",
    "cross_variance_scale",
)


def fitted(name, seed=0):
    est, factorisation, p = CONFIGS[name]
    rng = np.random.RandomState(seed)
    n = 30
    X = rng.normal(size=(n, p))
    eta = 0.3 * X[:, 0] + 0.5
    if est.family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    else:
        y = eta + 0.3 * rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, size=n)
    pool = rng.normal(size=(12, p))
    return clone(est).fit(X, y, sample_weight=w), factorisation, X, y, w, pool


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_state_reports_what_the_estimator_reports(name):
    est, factorisation, X, _, _, pool = fitted(name)
    state = est.fitted_state_
    kernel_model = est.kernel is not None
    coef = est.dual_coef_ if kernel_model else est.coef_
    tangent = est.dual_coef_tangent_ if kernel_model else est.coef_tangent_
    np.testing.assert_array_equal(state.coef, coef)
    np.testing.assert_array_equal(state.tangent, tangent)
    assert state.intercept == est.intercept_
    assert state.intercept_tangent == est.intercept_tangent_
    assert state.alpha == est.alpha
    assert state.fit_intercept == est.fit_intercept
    assert state.family.name == est.family
    assert state.factorisation == factorisation
    assert state.dispersion == est.dispersion_
    # The verbs agree with the public methods built on them.
    rows = state.validate_query(pool)
    eta = state.eta(rows)
    np.testing.assert_array_equal(state.family.inverse_link(eta), est.predict(pool))
    eta, deta = state.eta(rows, with_tangent=True)
    np.testing.assert_allclose(
        state.family.mean_derivative(eta) * deta, est.predict_tangent(pool)
    )
    S = state.cross_variance_scale(rows, rows)
    np.testing.assert_allclose(np.diag(S), state.variance_scale(rows), rtol=1e-8)
    for attribute in BATCH_INTERFACE:
        assert hasattr(state, attribute)


@pytest.mark.parametrize("name", ["linear", "rbf"])
def test_state_is_frozen(name):
    est = fitted(name)[0]
    state = est.fitted_state_
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.alpha = 3.0
    with pytest.raises(ValueError, match="read-only"):
        state.coef[0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        state.tangent[0] = 1.0


def test_refit_builds_a_new_state_and_clone_has_none():
    est, _, X, y, w, _ = fitted("linear")
    first = est.fitted_state_
    est.set_params(alpha=3.0).fit(X, y, sample_weight=w)
    assert est.fitted_state_ is not first
    assert first.alpha == 0.7 and est.fitted_state_.alpha == 3.0
    assert not hasattr(clone(est), "fitted_state_")


@pytest.mark.parametrize("name", ["linear", "linear-dual", "rbf", "lbfgs"])
def test_pickle_keeps_the_state_and_its_validation(name):
    est, _, X, y, w, pool = fitted(name)
    copy = pickle.loads(pickle.dumps(est))
    state = copy.fitted_state_
    np.testing.assert_array_equal(state.coef, est.fitted_state_.coef)
    assert state.alpha == est.fitted_state_.alpha
    np.testing.assert_array_equal(copy.predict(pool), est.predict(pool))
    np.testing.assert_array_equal(
        influence_sampling(copy, pool, n_instances=3)[0],
        influence_sampling(est, pool, n_instances=3)[0],
    )
    # The unpickled state validates against the unpickled estimator.
    with pytest.raises(ValueError, match="features"):
        state.validate_query(pool[:, :2])


def _consumers(state, X, y, w, pool):
    """Every consumer of the state, on validated rows, as arrays."""
    out = {
        "greedy-influence": greedy_batch(state, pool, 3, "influence")[1],
        "greedy-variance": greedy_batch(state, pool, 3, "variance")[1],
        "expected": expected_influence_batch(state, pool, 3)[1],
        "expected-goal": expected_influence_batch(state, pool, 2, X[:5])[1],
    }
    scale = covariance_scale(state, X)
    out["S-diag"] = scale.diag()
    out["S-cross"] = scale.cross(pool)
    out["norms"] = scale.norms()
    if state.factorisation is not None:
        loo = leave_one_out(state, X, y, w, with_gradient=True)
        out["loo"] = np.append(loo.eta, [loo.error, loo.gradient])
    return out


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_consumers_work_from_the_state_alone(name):
    """set_params without a refit changes nothing the state's consumers see:
    they read the alpha that was fitted, never the constructor's."""
    est, _, X, y, w, pool = fitted(name)
    state = est.fitted_state_
    X_rows, pool_rows = state.validate_query(X), state.validate_query(pool)
    before = _consumers(state, X_rows, y, w, pool_rows)
    est.set_params(alpha=10.0, fit_intercept=False, tol=1e-2)
    after = _consumers(state, X_rows, y, w, pool_rows)
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value, err_msg=key)


@pytest.mark.parametrize("name", ["linear", "rbf"])
def test_public_verbs_refuse_changed_parameters_and_recover(name):
    """The public verbs keep the "changed after fit" check; setting the
    parameters back gives the same numbers as before."""
    est, _, X, y, w, pool = fitted(name)
    scores = {
        "prediction": inf.prediction_influence(est, X, y, pool),
        "self": inf.self_influence(est, X, y),
        "loo": inf.leave_one_out(est, X, y, sample_weight=w).residuals,
        "harm": inf.harm_score(est, X, y, pool, est.predict(pool), sample_weight=w),
        "influence": influence_sampling(est, pool, n_instances=2)[1],
        "variance": variance_sampling(est, pool, n_instances=2)[1],
        "expected": expected_influence_sampling(est, pool, n_instances=2)[1],
    }
    est.set_params(alpha=10.0)
    with pytest.raises(ValueError, match="changed after fit"):
        inf.prediction_influence(est, X, y, pool)
    with pytest.raises(ValueError, match="changed after fit"):
        inf.leave_one_out(est, X, y, sample_weight=w)
    with pytest.raises(ValueError, match="changed after fit"):
        influence_sampling(est, pool)
    est.set_params(alpha=0.7)
    again = {
        "prediction": inf.prediction_influence(est, X, y, pool),
        "self": inf.self_influence(est, X, y),
        "loo": inf.leave_one_out(est, X, y, sample_weight=w).residuals,
        "harm": inf.harm_score(est, X, y, pool, est.predict(pool), sample_weight=w),
        "influence": influence_sampling(est, pool, n_instances=2)[1],
        "variance": variance_sampling(est, pool, n_instances=2)[1],
        "expected": expected_influence_sampling(est, pool, n_instances=2)[1],
    }
    for key, value in scores.items():
        np.testing.assert_array_equal(again[key], value, err_msg=key)


def test_cv_exposes_its_models_state(rng):
    X = rng.normal(size=(40, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.3 * rng.normal(size=40)
    cv = TangentRegressorCV(alphas=np.logspace(-2, 2, 5)).fit(X, y)
    assert cv.fitted_state_ is cv.estimator_.fitted_state_
    assert cv.fitted_state_.alpha == cv.alpha_


def test_grouped_view_has_the_batch_interface(rng):
    X = rng.normal(size=(60, 3))
    groups = rng.randint(4, size=60)
    y = X @ [1.0, -2.0, 0.5] + 0.3 * rng.normal(size=60)
    est = MultiUserTangentRegressor(0.7, 1.3).fit(X, y, groups=groups)
    view = est.grouped_state("total")
    for attribute in BATCH_INTERFACE:
        assert hasattr(view, attribute)
    assert view.factorisation is None and view.kernel is None
    assert view.dispersion == est.dispersion_
    rows = view.rows(X[:5], groups[:5])
    eta, tangent = view.eta(rows, with_tangent=True)
    np.testing.assert_allclose(
        view.family.inverse_link(eta), est.predict(X[:5], groups[:5])
    )
    np.testing.assert_allclose(
        tangent, est.predict_tangent(X[:5], groups[:5]).sum(axis=1)
    )
    S = view.cross_variance_scale(rows, rows)
    np.testing.assert_allclose(np.diag(S), view.variance_scale(rows))
    with pytest.raises(ValueError, match="regularity"):
        est.grouped_state("both")
