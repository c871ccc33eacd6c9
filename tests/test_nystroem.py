"""Nyström kernel models (``n_components``): exact for the reduced model.

A Nyström TangentRegressor is the linear TangentRegressor on the features of
scikit-learn's ``Nystroem`` with the same landmarks; every verb, influence
function and strategy must agree with that linear model, and with all rows as
landmarks with the exact kernel model.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import Ridge
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.pipeline import make_pipeline

from sktangent import TangentClassifier, TangentRegressor, TangentRegressorCV
from sktangent.influence import (
    leave_one_out,
    parameter_influence,
    prediction_influence,
)
from sktangent.query import (
    expected_influence_sampling,
    influence_sampling,
    variance_sampling,
)

ALPHA, GAMMA, M = 0.8, 0.3, 40
FAMILIES = [
    ("normal", None),
    ("poisson", None),
    ("gamma", None),
    ("tweedie", 1.5),
    ("binomial", None),
]


def problem(family, n=120, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 3))
    f = np.sin(X[:, 0]) + 0.5 * X[:, 1]
    if family == "normal":
        y = f + 0.2 * rng.normal(size=n)
    elif family == "poisson":
        y = rng.poisson(np.exp(0.5 * f)).astype(float)
    elif family in ("gamma", "tweedie"):
        y = np.exp(0.5 * f) * rng.gamma(3.0, 1 / 3.0, size=n)
    else:
        y = (f + 0.5 * rng.normal(size=n) > 0).astype(float)
    w = rng.uniform(0.5, 2.0, size=n)
    return X, y, w, rng.normal(size=(30, 3))


def close(a, b, rtol=1e-10):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = max(float(np.max(np.abs(b), initial=0.0)), 1e-300)
    np.testing.assert_allclose(a, b, rtol=0, atol=rtol * scale)


def pair(family, power, fit_intercept, X, y, w, m=M, **kw):
    """The Nyström model and the linear model on Nystroem's own features."""
    params = dict(
        alpha=ALPHA,
        family=family,
        power=power,
        fit_intercept=fit_intercept,
        tol=1e-12,
        **kw,
    )
    nys = TangentRegressor(
        kernel="rbf", gamma=GAMMA, n_components=m, random_state=0, **params
    ).fit(X, y, sample_weight=w)
    features = Nystroem(kernel="rbf", gamma=GAMMA, n_components=m, random_state=0)
    features.fit(X)
    lin = TangentRegressor(**params).fit(features.transform(X), y, sample_weight=w)
    return nys, lin, features.transform


@pytest.mark.parametrize("family, power", FAMILIES)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_equals_linear_model_on_nystroem_features(family, power, fit_intercept):
    X, y, w, Xq = problem(family)
    nys, lin, phi = pair(family, power, fit_intercept, X, y, w)
    Fq, F = phi(Xq), phi(X)
    close(nys.coef_, lin.coef_)
    close(nys.coef_tangent_, lin.coef_tangent_)
    close(nys.intercept_, lin.intercept_)
    close(nys.intercept_tangent_, lin.intercept_tangent_)
    close(nys.predict(Xq), lin.predict(Fq))
    close(nys.predict_tangent(Xq), lin.predict_tangent(Fq))
    for a, b in zip(
        nys.predict(Xq, return_std=True), lin.predict(Fq, return_std=True), strict=True
    ):
        close(a, b)
    close(nys.influence_score(Xq), lin.influence_score(Fq))
    close(nys.influence_score(X, y), lin.influence_score(F, y))
    close(nys.dispersion_, lin.dispersion_)
    close(prediction_influence(nys, X, y, Xq), prediction_influence(lin, F, y, Fq))
    close(parameter_influence(nys, X, y), parameter_influence(lin, F, y))


@pytest.mark.parametrize("family, power", [("normal", None), ("poisson", None)])
def test_leave_one_out_and_strategies_equal_linear_model(family, power):
    X, y, w, Xq = problem(family)
    nys, lin, phi = pair(family, power, True, X, y, w)
    a = leave_one_out(nys, X, y, sample_weight=w)
    b = leave_one_out(lin, phi(X), y, sample_weight=w)
    close(a.predictions, b.predictions)
    pool = np.random.RandomState(1).normal(size=(80, 3))
    for strategy in (
        influence_sampling,
        variance_sampling,
        expected_influence_sampling,
    ):
        picks_a, scores_a = strategy(nys, pool, n_instances=4)
        picks_b, scores_b = strategy(lin, phi(pool), n_instances=4)
        np.testing.assert_array_equal(picks_a, picks_b)
        close(scores_a, scores_b)


def test_coefficients_equal_nystroem_ridge_pipeline():
    X, y, w, Xq = problem("normal")
    nys = TangentRegressor(
        alpha=ALPHA, kernel="rbf", gamma=GAMMA, n_components=M, random_state=3
    ).fit(X, y)
    pipe = make_pipeline(
        Nystroem(kernel="rbf", gamma=GAMMA, n_components=M, random_state=3),
        Ridge(alpha=ALPHA),
    ).fit(X, y)
    close(nys.coef_, pipe[-1].coef_)
    close(nys.intercept_, pipe[-1].intercept_)
    np.testing.assert_array_equal(nys.component_indices_, pipe[0].component_indices_)
    np.testing.assert_array_equal(nys.components_, pipe[0].components_)
    close(nys.normalization_, pipe[0].normalization_, rtol=1e-8)
    close(nys.predict(Xq), pipe.predict(Xq))
    # The landmark weights give the predictions through k(x, X_fit_).
    eta = rbf_kernel(Xq, nys.X_fit_, gamma=GAMMA) @ nys.dual_coef_ + nys.intercept_
    close(eta, nys.predict(Xq))
    eta_t = rbf_kernel(Xq, nys.X_fit_, gamma=GAMMA) @ nys.dual_coef_tangent_
    close(eta_t + nys.intercept_tangent_, nys.predict_tangent(Xq))


@pytest.mark.parametrize("family, power", FAMILIES)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_all_rows_as_landmarks_is_the_exact_kernel_model(family, power, fit_intercept):
    X, y, w, Xq = problem(family, n=60)
    params = dict(
        alpha=ALPHA,
        family=family,
        power=power,
        kernel="rbf",
        gamma=GAMMA,
        fit_intercept=fit_intercept,
        tol=1e-12,
    )
    exact = TangentRegressor(**params).fit(X, y, sample_weight=w)
    nys = TangentRegressor(n_components=60, random_state=0, **params)
    nys.fit(X, y, sample_weight=w)
    rtol = 1e-9 if family == "normal" else 1e-7
    close(nys.predict(Xq), exact.predict(Xq), rtol)
    close(nys.predict_tangent(Xq), exact.predict_tangent(Xq), rtol)
    # At the training rows (in the landmarks' span) the variances agree...
    for a, b in zip(
        nys.predict(X, return_std=True), exact.predict(X, return_std=True), strict=True
    ):
        close(a, b, rtol)
    # ...elsewhere the reduced model lacks the prior variance outside the span
    # of k(., Z): S_exact - S_nystroem = (k(x, x) - k(x, Z) K_ZZ^-1 k(Z, x)) / alpha.
    kq = rbf_kernel(Xq, X, gamma=GAMMA)
    outside = 1.0 - np.einsum(
        "ij,ji->i", kq, np.linalg.solve(rbf_kernel(X, gamma=GAMMA), kq.T)
    )
    gap = exact.fitted_state_.variance_scale(Xq) - nys.fitted_state_.variance_scale(Xq)
    close(gap, outside / ALPHA, rtol)
    assert np.max(outside) > 0.1  # some query points are far off the span
    close(nys.influence_score(Xq), exact.influence_score(Xq), rtol)
    close(nys.influence_score(X, y), exact.influence_score(X, y), rtol)
    # The landmark weights are the dual coefficients, in the landmarks' order.
    order = nys.component_indices_
    close(nys.dual_coef_, exact.dual_coef_[order], rtol)
    close(nys.dual_coef_tangent_, exact.dual_coef_tangent_[order], rtol)


def test_sparse_input_equals_dense():
    X, y, w, Xq = problem("normal")
    kw = dict(alpha=ALPHA, kernel="rbf", gamma=GAMMA, n_components=M, random_state=0)
    dense_fit = TangentRegressor(**kw).fit(X, y)
    sparse_fit = TangentRegressor(**kw).fit(sp.csr_matrix(X), y)
    close(sparse_fit.coef_, dense_fit.coef_)
    for a, b in zip(
        sparse_fit.predict(sp.csr_matrix(Xq), return_std=True),
        dense_fit.predict(Xq, return_std=True),
        strict=True,
    ):
        close(a, b)


def test_random_state_draws_the_landmarks():
    X, y, w, Xq = problem("normal")
    kw = dict(kernel="rbf", gamma=GAMMA, n_components=M)
    a = TangentRegressor(random_state=0, **kw).fit(X, y)
    b = TangentRegressor(random_state=0, **kw).fit(X, y)
    c = TangentRegressor(random_state=1, **kw).fit(X, y)
    np.testing.assert_array_equal(a.component_indices_, b.component_indices_)
    assert not np.array_equal(a.component_indices_, c.component_indices_)
    assert len(set(a.component_indices_.tolist())) == M  # without replacement


def test_refit_drops_the_other_shape_attributes():
    X, y, w, Xq = problem("normal")
    reg = TangentRegressor(kernel="rbf", n_components=M, random_state=0).fit(X, y)
    reg.set_params(n_components=None).fit(X, y)
    assert not hasattr(reg, "components_") and not hasattr(reg, "coef_")
    assert reg.dual_coef_.shape == (X.shape[0],)
    reg.set_params(kernel=None).fit(X, y)
    assert not hasattr(reg, "dual_coef_") and not hasattr(reg, "X_fit_")


def test_bad_n_components():
    X, y, w, Xq = problem("normal", n=50)
    with pytest.warns(UserWarning, match="with kernel=None .* ignored"):
        linear = TangentRegressor(n_components=10).fit(X, y)
    close(linear.coef_, TangentRegressor().fit(X, y).coef_)
    with pytest.raises(ValueError, match="exceeds the number of training samples"):
        TangentRegressor(kernel="rbf", n_components=51).fit(X, y)
    for bad in (1.5, "10", 0, -3):
        with pytest.raises(ValueError, match="n_components"):
            TangentRegressor(kernel="rbf", n_components=bad).fit(X, y)
    reg = TangentRegressor(kernel="rbf", n_components=10).fit(X, y)
    reg.set_params(n_components=20)
    with pytest.raises(ValueError, match="changed after fit"):
        reg.predict(Xq)


def test_cv_tunes_a_nystroem_model_with_fixed_landmarks():
    X, y, w, Xq = problem("normal")
    kw = dict(kernel="rbf", gamma=GAMMA, n_components=M)
    cv = TangentRegressorCV(alphas=np.logspace(-2, 2, 5), random_state=4, **kw)
    cv.fit(X, y)
    best = TangentRegressor(alpha=cv.alpha_, random_state=4, **kw).fit(X, y)
    close(cv.predict(Xq, return_std=True)[1], best.predict(Xq, return_std=True)[1])
    # Leave-one-out is that of the linear model on the features.
    phi = Nystroem(kernel="rbf", gamma=GAMMA, n_components=M, random_state=4).fit(X)
    lin = TangentRegressor(alpha=cv.alpha_).fit(phi.transform(X), y)
    close(
        leave_one_out(best, X, y).predictions,
        leave_one_out(lin, phi.transform(X), y).predictions,
    )
    # A RandomState instance: one draw of landmarks for the whole search.
    cv = TangentRegressorCV(random_state=np.random.RandomState(0), **kw).fit(X, y)
    assert cv.estimator_.components_.shape == (M, 3)


def test_precomputed_kernel_takes_the_landmark_columns():
    X, y, w, Xq = problem("poisson")
    kw = dict(family="poisson", n_components=M, random_state=2, tol=1e-12)
    named = TangentRegressor(kernel="rbf", gamma=GAMMA, **kw).fit(X, y)
    pre = TangentRegressor(kernel="precomputed", **kw)
    pre.fit(rbf_kernel(X, gamma=GAMMA), y)
    Kq = rbf_kernel(Xq, X, gamma=GAMMA)
    close(pre.coef_, named.coef_)
    # No prior term in the reduced model: return_std for any query rows.
    pairs = zip(
        pre.predict(Kq, return_std=True),
        named.predict(Xq, return_std=True),
        strict=True,
    )
    for a, b in pairs:
        close(a, b)
    close(pre.influence_score(Kq), named.influence_score(Xq))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_equals_linear_classifier_on_nystroem_features(n_classes):
    rng = np.random.RandomState(5)
    X = rng.normal(size=(150, 3))
    y = np.digitize(X[:, 0] + 0.5 * np.sin(2 * X[:, 1]), [-0.4, 0.4][: n_classes - 1])
    kw = dict(alpha=ALPHA, tol=1e-12)
    nys = TangentClassifier(
        kernel="rbf", gamma=GAMMA, n_components=M, random_state=1, **kw
    ).fit(X, y)
    phi = Nystroem(kernel="rbf", gamma=GAMMA, n_components=M, random_state=1).fit(X)
    lin = TangentClassifier(**kw).fit(phi.transform(X), y)
    Xq = rng.normal(size=(20, 3))
    Fq = phi.transform(Xq)
    close(nys.decision_function(Xq), lin.decision_function(Fq), 1e-8)
    close(nys.predict_tangent(Xq), lin.predict_tangent(Fq), 1e-8)
    for a, b in zip(
        nys.predict_proba(Xq, return_std=True),
        lin.predict_proba(Fq, return_std=True),
        strict=True,
    ):
        close(a, b, 1e-8)
    close(nys.influence_score(Xq), lin.influence_score(Fq), 1e-8)
    np.testing.assert_array_equal(nys.X_fit_, phi.components_)
    assert nys.dual_coef_.shape == (1 if n_classes == 2 else n_classes, M)
    # The landmark weights give the decision function through k(x, X_fit_).
    eta = rbf_kernel(Xq, nys.X_fit_, gamma=GAMMA) @ nys.dual_coef_.T + nys.intercept_
    close(eta.squeeze(), nys.decision_function(Xq), 1e-8)
    picks_a = influence_sampling(nys, Xq, n_instances=3)
    picks_b = influence_sampling(lin, Fq, n_instances=3)
    np.testing.assert_array_equal(picks_a[0], picks_b[0])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_lbfgs_fits_the_same_reduced_model():
    # L-BFGS stops short of tol=1e-12 (rounding), both models alike.
    X, y, w, Xq = problem("poisson")
    nys, lin, phi = pair("poisson", None, True, X, y, w, solver="lbfgs", max_iter=500)
    assert nys.fitted_state_.solver == "lbfgs"
    close(nys.coef_, lin.coef_, 1e-6)
    close(nys.influence_score(Xq), lin.influence_score(phi(Xq)), 1e-5)
    std_a = nys.predict(Xq, return_std=True)[1]
    close(std_a, lin.predict(phi(Xq), return_std=True)[1], 1e-6)
