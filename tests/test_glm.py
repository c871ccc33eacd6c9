"""GLM families: derivatives, parity with scikit-learn, tangent and influence."""

import warnings

import numpy as np
import pytest
from conftest import (
    FAMILIES,
    complexity,
    draw,
    family_id,
    make_glm_problem,
    with_params,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import (
    GammaRegressor,
    LogisticRegression,
    PoissonRegressor,
    TweedieRegressor,
)
from sklearn.metrics.pairwise import pairwise_kernels

from sktangent import TangentRegressor
from sktangent._families import get_family
from sktangent._models import LinearModel
from sktangent._objective import Objective

GLM_CASES = [
    (spec, model, fit_intercept, weighted)
    for spec in FAMILIES
    for model in ("linear", "rbf")
    for fit_intercept in (True, False)
    for weighted in (False, True)
    # The kernel tangent needs non-negative observed curvature (power <= 2).
    if not (model == "rbf" and spec == ("tweedie", 3.0))
]


def glm_id(case):
    spec, model, fit_intercept, weighted = case
    return "-".join(
        [
            family_id(spec),
            model,
            "intercept" if fit_intercept else "nointercept",
            "weighted" if weighted else "unweighted",
        ]
    )


@pytest.fixture(params=GLM_CASES, ids=glm_id)
def glm_problem(request):
    return make_glm_problem(*request.param)


# --------------------------------------------------------------- parity
@pytest.mark.parametrize(
    "name, power, reference",
    [
        ("poisson", None, PoissonRegressor),
        ("gamma", None, GammaRegressor),
        ("tweedie", 1.5, lambda **kw: TweedieRegressor(power=1.5, link="log", **kw)),
        ("tweedie", 3.0, lambda **kw: TweedieRegressor(power=3.0, link="log", **kw)),
    ],
)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_coefficients_match_sklearn_glms(
    name, power, reference, fit_intercept, weighted
):
    est, X, y, w, _ = make_glm_problem((name, power), "linear", fit_intercept, weighted)
    total = X.shape[0] if w is None else np.sum(w)
    ref = reference(
        alpha=est.alpha / total,
        fit_intercept=fit_intercept,
        solver="newton-cholesky",
        tol=1e-12,
        max_iter=1000,
    ).fit(X, y, sample_weight=w)
    est.fit(X, y, sample_weight=w)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-6)
    np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=1e-6, atol=1e-10)
    lbfgs = with_params(est, solver="lbfgs", tol=1e-8).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(lbfgs.coef_, ref.coef_, rtol=1e-5)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_binomial_matches_logistic_regression(fit_intercept):
    est, X, y, w, _ = make_glm_problem(
        ("binomial", None), "linear", fit_intercept, True
    )
    ref = LogisticRegression(
        C=1 / est.alpha,
        fit_intercept=fit_intercept,
        solver="newton-cholesky",
        tol=1e-12,
        max_iter=1000,
    ).fit(X, y, sample_weight=w)
    est.fit(X, y, sample_weight=w)
    np.testing.assert_allclose(est.coef_, ref.coef_[0], rtol=1e-6)
    np.testing.assert_allclose(
        est.intercept_, ref.intercept_[0] if fit_intercept else 0.0, atol=1e-8
    )
    np.testing.assert_allclose(est.predict(X), ref.predict_proba(X)[:, 1], rtol=1e-6)


# ----------------------------------------------------- tangent, influence
def test_glm_tangent_matches_central_differences(glm_problem):
    est, X, y, w, X_query = glm_problem
    est.fit(X, y, sample_weight=w)
    h = 1e-4
    plus = with_params(est, alpha=est.alpha * np.exp(h)).fit(X, y, sample_weight=w)
    minus = with_params(est, alpha=est.alpha * np.exp(-h)).fit(X, y, sample_weight=w)
    name = "dual_coef_" if est.kernel else "coef_"
    fd = (getattr(plus, name) - getattr(minus, name)) / (2 * h)
    tangent = getattr(est, name.replace("coef_", "coef_tangent_"))
    np.testing.assert_allclose(tangent, fd, rtol=1e-5, atol=1e-5 * np.max(np.abs(fd)))
    fd_b = (plus.intercept_ - minus.intercept_) / (2 * h)
    assert abs(est.intercept_tangent_ - fd_b) <= 1e-5 * max(
        abs(fd_b), np.max(np.abs(fd))
    )
    fd_pred = (plus.predict(X_query) - minus.predict(X_query)) / (2 * h)
    np.testing.assert_allclose(
        est.predict_tangent(X_query), fd_pred, rtol=1e-5, atol=1e-7
    )


def test_glm_influence_matches_upweighting(glm_problem):
    est, X, y, w, _ = glm_problem
    est.fit(X, y, sample_weight=w)
    w0 = np.ones(X.shape[0]) if w is None else w
    scores = est.influence_score(X, y)
    eps = 1e-5
    for i in (0, 5, 11):
        e = np.zeros_like(w0)
        e[i] = eps
        c_plus = complexity(with_params(est).fit(X, y, sample_weight=w0 + e))
        c_minus = complexity(with_params(est).fit(X, y, sample_weight=w0 - e))
        fd = (c_plus - c_minus) / (2 * eps)
        assert abs(scores[i] - fd) <= 1e-5 * abs(fd) + 1e-9, (i, scores[i], fd)


def test_glm_influence_is_the_log_alpha_derivative_of_the_loss(glm_problem):
    est, X, y, w, X_query = glm_problem
    est.fit(X, y, sample_weight=w)
    name, power = est.family, est.power
    y_query = draw(name, power, est.predict(X_query), 0.5, np.random.RandomState(3))
    if name == "binomial":
        y_query = np.clip(y_query, 0.1, 0.9)  # proportions, not only 0/1
    family = get_family(name, power)
    h = 1e-4
    losses = []
    for ds in (h, -h):
        refit = with_params(est, alpha=est.alpha * np.exp(ds)).fit(
            X, y, sample_weight=w
        )
        losses.append(family.loss(y_query, refit.fitted_state_.eta(X_query)))
    fd = (losses[0] - losses[1]) / (2 * h)
    np.testing.assert_allclose(
        est.influence_score(X_query, y_query), fd, rtol=1e-5, atol=1e-9
    )


def test_glm_unlabelled_score_is_expected_squared_influence(glm_problem):
    est, X, y, w, X_query = glm_problem
    est.fit(X, y, sample_weight=w)
    name, power = est.family, est.power
    phi = est.dispersion_
    u = est.influence_score(X_query)
    mu = est.predict(X_query)
    rng = np.random.RandomState(7)
    for j in range(X_query.shape[0]):
        labels = draw(name, power, mu[j], phi, rng, size=400_000)
        c = est.influence_score(
            np.repeat(X_query[j : j + 1], labels.size, axis=0), labels
        )
        np.testing.assert_allclose(np.mean(c**2), u[j], rtol=0.03)


def test_dispersion_is_fixed_or_pearson(glm_problem):
    est, X, y, w, _ = glm_problem
    est.fit(X, y, sample_weight=w)
    if est.family in ("poisson", "binomial"):
        assert est.dispersion_ == 1.0
        return
    family = get_family(est.family, est.power)
    w0 = np.ones(X.shape[0]) if w is None else w
    chi2 = np.sum(w0 * family.pearson_residuals_squared(y, est.fitted_state_.eta(X)))
    edf = est.fitted_state_.hessian.effective_dof()
    assert 1 < edf < X.shape[0]
    np.testing.assert_allclose(est.dispersion_, chi2 / (X.shape[0] - edf), rtol=1e-10)


def test_glm_std_combines_parameter_and_noise_variance(glm_problem):
    est, X, y, w, X_query = glm_problem
    est.fit(X, y, sample_weight=w)
    family = get_family(est.family, est.power)
    mean, std = est.predict(X_query, return_std=True)
    eta = est.fitted_state_.eta(X_query)
    noise = est.dispersion_ * family.variance(mean)
    assert np.all(std**2 > noise)
    # The parameter part is phi * mu'^2 * S(x, x). Linear: S = x~' H^-1 x~
    # with H the dense Hessian of J. Kernel: the Laplace posterior in function
    # space, a Gaussian process with prior k / alpha and noise 1 / D.
    w0 = np.ones(X.shape[0]) if w is None else w
    if est.kernel is None:
        obj = Objective(
            family, LinearModel(X.shape[1]), X, y, w0, est.alpha, est.fit_intercept
        )
        theta = np.append(est.coef_, est.intercept_) if est.fit_intercept else est.coef_
        rows = X_query
        if est.fit_intercept:
            rows = np.column_stack([rows, np.ones(rows.shape[0])])
        S = np.einsum("ij,ji->i", rows, np.linalg.solve(obj.hessian(theta), rows.T))
    else:
        d = w0 * family.hessian(y, est.fitted_state_.eta(X))
        K = pairwise_kernels(X, metric="rbf", gamma=est.gamma) / est.alpha
        Ks = pairwise_kernels(X_query, X, metric="rbf", gamma=est.gamma) / est.alpha
        Ky = K + np.diag(1 / d)
        S = 1 / est.alpha - np.einsum("ij,ji->i", Ks, np.linalg.solve(Ky, Ks.T))
        if est.fit_intercept:
            ones = np.ones(X.shape[0])
            Ky_inv_1 = np.linalg.solve(Ky, ones)
            S += (1 - Ks @ Ky_inv_1) ** 2 / (ones @ Ky_inv_1)
    param = est.dispersion_ * family.mean_derivative(eta) ** 2 * S
    np.testing.assert_allclose(std**2, param + noise, rtol=1e-7)


def test_lbfgs_tangent_matches_newton_tangent():
    """Conjugate gradients on Hessian-vector products give the Cholesky tangent."""
    for spec in [("poisson", None), ("gamma", None)]:
        est, X, y, w, X_query = make_glm_problem(spec, "linear", True, True)
        newton = with_params(est, solver="newton-cholesky").fit(X, y, sample_weight=w)
        lbfgs = with_params(est, solver="lbfgs", tol=1e-8).fit(X, y, sample_weight=w)
        np.testing.assert_allclose(lbfgs.coef_tangent_, newton.coef_tangent_, rtol=1e-5)
        np.testing.assert_allclose(
            lbfgs.fitted_state_.variance_scale(X_query),
            newton.fitted_state_.variance_scale(X_query),
            rtol=1e-5,
        )
        # Hutchinson's estimate of the degrees of freedom is close, not exact.
        np.testing.assert_allclose(lbfgs.dispersion_, newton.dispersion_, rtol=0.05)


# ------------------------------------------------------------ bad input
def test_bad_family_parameters(rng):
    X, y = rng.normal(size=(10, 2)), np.ones(10)
    with pytest.raises(ValueError, match="power"):
        TangentRegressor(family="tweedie", power=0.5).fit(X, y)
    with pytest.raises(ValueError, match="power"):
        TangentRegressor(family="tweedie").fit(X, y)
    with pytest.raises(ValueError, match="family"):
        TangentRegressor(family="lognormal").fit(X, y)
    with pytest.raises(ValueError, match="closed form"):
        TangentRegressor(family="poisson", solver="cholesky").fit(X, y)
    with pytest.raises(ValueError, match="linear models only"):
        TangentRegressor(family="poisson", kernel="rbf", solver="lbfgs").fit(X, y)


def test_extreme_linear_predictors_do_not_give_nan(rng):
    X = rng.normal(size=(30, 2)) * 1e3
    y = rng.poisson(1.0, size=30).astype(float)
    y[0] = 1e6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            est = TangentRegressor(family="poisson", alpha=1e-8, max_iter=50).fit(X, y)
        except ValueError as exc:  # a clear refusal is acceptable, NaN is not
            assert "alpha" in str(exc) or "Scale" in str(exc)
            return
    assert np.all(np.isfinite(est.coef_))
    assert np.all(np.isfinite(est.coef_tangent_))
    assert np.all(np.isfinite(est.influence_score(X)))


def test_non_convergence_warns(rng):
    X = rng.normal(size=(50, 3))
    y = rng.poisson(np.exp(X[:, 0]))
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        TangentRegressor(family="poisson", max_iter=1, tol=1e-12).fit(X, y)
