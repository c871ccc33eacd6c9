"""Leave-one-out tuning of alpha through the tangent (THEORY section 6)."""

import numpy as np
import pytest
from conftest import make_glm_problem
from sklearn.base import clone
from sklearn.datasets import load_diabetes
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import GridSearchCV, LeaveOneOut
from sklearn.utils.estimator_checks import parametrize_with_checks

from sktangent import TangentRegressor, TangentRegressorCV
from sktangent._loo import RidgePath, leave_one_out
from sktangent.query import influence_sampling


def _loo(est, X, y, w, alpha, gradient=False):
    model = clone(est).set_params(alpha=alpha).fit(X, y, sample_weight=w)
    return leave_one_out(
        model.fitted_state_, model.fitted_state_.validate_query(X), y, w, gradient
    )


LOO_CASES = {
    "linear": lambda: (
        TangentRegressor(),
        *make_glm_problem(("poisson", None), "linear", True, True)[1:4],
    ),
    "kernel": lambda: (
        TangentRegressor(kernel="rbf", gamma=0.3),
        *make_glm_problem(("gamma", None), "linear", True, True)[1:4],
    ),
    "linear-dual": None,
    "poisson-linear": lambda: make_glm_problem(("poisson", None), "linear", True, True)[
        :4
    ],
    "poisson-kernel": lambda: make_glm_problem(("poisson", None), "rbf", True, False)[
        :4
    ],
    "binomial-kernel": lambda: make_glm_problem(("binomial", None), "rbf", False, True)[
        :4
    ],
    "gamma-linear": lambda: make_glm_problem(("gamma", None), "linear", False, False)[
        :4
    ],
}


def _case(name):
    if name == "linear-dual":
        rng = np.random.RandomState(0)
        X = rng.normal(size=(12, 30))
        return (
            TangentRegressor(),
            X,
            X[:, 0] + rng.normal(size=12),
            rng.uniform(0.5, 2, 12),
        )
    est, X, y, w = LOO_CASES[name]()
    return est, X, y, np.ones(X.shape[0]) if w is None else w


@pytest.mark.parametrize("name", sorted(LOO_CASES))
def test_hypergradient_matches_finite_differences(name):
    est, X, y, w = _case(name)
    alpha, h = 0.8, 1e-4
    analytic = _loo(est, X, y, w, alpha, gradient=True).gradient
    fd = (
        _loo(est, X, y, w, alpha * np.exp(h)).error
        - _loo(est, X, y, w, alpha * np.exp(-h)).error
    ) / (2 * h)
    assert abs(analytic - fd) <= 1e-6 * abs(fd) + 1e-10, (analytic, fd)


@pytest.mark.parametrize("name", ["linear", "kernel", "linear-dual"])
def test_normal_leave_one_out_is_exact(name):
    est, X, y, w = _case(name)
    loo = _loo(est, X, y, w, 0.8)
    for i in range(0, X.shape[0], 5):
        keep = np.arange(X.shape[0]) != i
        refit = (
            clone(est)
            .set_params(alpha=0.8)
            .fit(X[keep], y[keep], sample_weight=w[keep])
        )
        np.testing.assert_allclose(
            loo.eta[i], refit.predict(X[i : i + 1])[0], rtol=1e-8
        )


def test_chosen_alpha_matches_ridge_cv_on_a_fine_grid():
    X, y = load_diabetes(return_X_y=True)
    grid = np.logspace(-6, 6, 2001)
    ref = RidgeCV(alphas=grid).fit(X, y)
    cv = TangentRegressorCV().fit(X, y)
    step = grid[1] / grid[0]
    assert ref.alpha_ / step <= cv.alpha_ <= ref.alpha_ * step
    assert cv.loo_error_ <= -ref.best_score_ * (1 + 1e-12)
    # The refinement is cheaper than the fine grid: far fewer fits.
    assert len(cv.alphas_evaluated_) < 60
    # The final model carries its tangent.
    np.testing.assert_allclose(cv.estimator_.alpha, cv.alpha_)
    assert np.all(cv.influence_score(X[:5]) >= 0)
    assert influence_sampling(cv, X[:50])[0].shape == (1,)


def test_weighted_loo_matches_ridge_cv_errors():
    rng = np.random.RandomState(3)
    X = rng.normal(size=(50, 4))
    y = X @ [1.0, -1.0, 0.5, 0.0] + rng.normal(size=50)
    w = rng.uniform(0.5, 2.0, size=50)
    ref = RidgeCV(alphas=[0.7], store_cv_results=True).fit(X, y, sample_weight=w)
    loo = _loo(TangentRegressor(), X, y, w, 0.7)
    # RidgeCV reports squared LOO errors of the sqrt(w)-rescaled problem.
    np.testing.assert_allclose(
        w * (y - loo.eta) ** 2, ref.cv_results_.ravel(), rtol=1e-8
    )


def _brute_force_grid(est, X, y, w, grid):
    """Exact leave-one-out by n refits per alpha (the reference)."""
    errors = []
    for alpha in grid:
        model = clone(est).set_params(alpha=alpha)
        pred = np.empty(len(y))
        for i in range(len(y)):
            keep = np.arange(len(y)) != i
            pred[i] = model.fit(
                X[keep], y[keep], sample_weight=w[keep]
            ).fitted_state_.eta(X[i : i + 1])[0]
        errors.append(2 * np.mean(w * model.fitted_state_.family.loss(y, pred)))
    return np.array(errors)


@pytest.mark.parametrize("name", ["kernel", "poisson-linear"])
def test_kernel_and_poisson_against_brute_force_grid_search(name):
    est, X, y, w = _case(name)
    est = clone(est).set_params(tol=1e-10)
    grid = np.logspace(-3, 2, 11)
    brute = _brute_force_grid(est, X, y, w, grid)
    # The model's parameters that TangentRegressorCV shares (not alpha, nor
    # the sgd solver's random_state and batch_size).
    shared = TangentRegressorCV().get_params()
    params = {k: v for k, v in est.get_params().items() if k in shared}
    cv = TangentRegressorCV(alphas=grid, **params).fit(X, y, sample_weight=w)
    best = grid[np.argmin(brute)]
    step = grid[1] / grid[0]
    assert best / step <= cv.alpha_ <= best * step
    if name == "kernel":  # exact: the grid errors agree with the refits
        for alpha, error in zip(grid, brute, strict=True):
            hit = np.isclose(cv.alphas_evaluated_, alpha, rtol=1e-12)
            np.testing.assert_allclose(cv.loo_errors_[hit], error, rtol=1e-8)


def test_kernel_choice_matches_grid_search_leave_one_out():
    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, size=(30, 1))
    y = np.sin(X[:, 0]) + 0.2 * rng.normal(size=30)
    grid = np.logspace(-4, 2, 13)
    search = GridSearchCV(
        TangentRegressor(kernel="rbf", gamma=0.5),
        {"alpha": grid},
        cv=LeaveOneOut(),
        scoring="neg_mean_squared_error",
    ).fit(X, y)
    cv = TangentRegressorCV(alphas=grid, refine=False, kernel="rbf", gamma=0.5).fit(
        X, y
    )
    assert cv.alpha_ == pytest.approx(search.best_params_["alpha"])
    np.testing.assert_allclose(cv.best_score_, search.best_score_, rtol=1e-8)


def test_bad_alphas_and_unsupported_settings():
    X, y = load_diabetes(return_X_y=True)
    for alphas in ([], [0.0, 1.0], [-1.0], [np.nan]):
        with pytest.raises(ValueError, match="alphas"):
            TangentRegressorCV(alphas=alphas).fit(X, y)
    with pytest.raises(ValueError, match="precomputed"):
        TangentRegressorCV(kernel="precomputed").fit(X @ X.T, y)
    with pytest.raises(ValueError, match="lbfgs"):
        TangentRegressorCV(family="poisson", solver="lbfgs").fit(X, np.abs(y))


_LOO_WEIGHTS = (
    "leave-one-out leaves out one row: a row of weight 2 is not two rows, so "
    "the chosen alpha (and with it the predictions) legitimately differs"
)


@parametrize_with_checks(
    [
        TangentRegressorCV(alphas=[0.1, 1.0, 10.0]),
        TangentRegressorCV(kernel="rbf", alphas=[0.1, 1.0]),
        TangentRegressorCV(family="poisson", alphas=[0.1, 1.0]),
    ],
    expected_failed_checks=lambda est: {
        "check_sample_weight_equivalence_on_dense_data": _LOO_WEIGHTS,
        "check_sample_weight_equivalence_on_sparse_data": _LOO_WEIGHTS,
    },
)
def test_sklearn_compatible_cv(estimator, check):
    check(estimator)


def test_interpolating_alphas_lose_instead_of_failing():
    """With p > n the smallest alphas interpolate: leverage 1, no LOO error."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 50))
    y = X[:, 0] + rng.normal(size=20)
    cv = TangentRegressorCV().fit(X, y)
    assert np.isinf(cv.loo_errors_).any()
    assert np.isfinite(cv.loo_error_) and cv.alpha_ > 1e-6
    with pytest.raises(ValueError, match="larger alphas"):
        TangentRegressorCV(alphas=[1e-12, 1e-11]).fit(X, y)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_ridge_path_is_the_leave_one_out_of_fitted_states(fit_intercept, weighted):
    """One SVD gives every alpha's LOO error and its s-derivative exactly."""

    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 6)) + 3.0
    X[:, 2] = 5.0  # a constant column
    y = X @ rng.normal(size=6) + rng.normal(size=60)
    w = rng.uniform(0.5, 2.0, size=60) if weighted else np.ones(60)
    path = RidgePath(X, y, w, fit_intercept)
    for alpha in (1e-3, 0.3, 20.0):
        model = TangentRegressor(alpha=alpha, fit_intercept=fit_intercept)
        model.fit(X, y, sample_weight=w)
        loo = leave_one_out(model.fitted_state_, X, y, w, with_gradient=True)
        error, gradient = path.error(np.log(alpha), with_gradient=True)
        np.testing.assert_allclose(error, loo.error, rtol=1e-10)
        np.testing.assert_allclose(gradient, loo.gradient, rtol=1e-7, atol=1e-12)


def test_ridge_path_choice_equals_the_fitted_choice():
    X, y = load_diabetes(return_X_y=True)
    alphas = np.logspace(-4, 2, 40)
    fast = TangentRegressorCV(alphas=alphas).fit(X, y)
    slow = TangentRegressorCV(alphas=alphas, solver="newton-cholesky", tol=1e-12)
    slow.fit(X, y)
    np.testing.assert_allclose(fast.alpha_, slow.alpha_, rtol=1e-6)
    np.testing.assert_allclose(fast.loo_error_, slow.loo_error_, rtol=1e-9)
    np.testing.assert_allclose(
        fast.estimator_.coef_, slow.estimator_.coef_, rtol=1e-6, atol=1e-8
    )


def test_overflowing_data_is_a_clear_error():
    """Weights and values too large to combine: a ValueError that says to
    rescale, not LAPACK's "SVD did not converge" (found by hypothesis)."""
    X = np.array([[1e150], [1e150]])
    with np.errstate(over="ignore", invalid="ignore"):
        with pytest.raises(ValueError, match="rescale"):
            TangentRegressorCV(alphas=[0.1, 1.0], refine=False).fit(
                X, np.zeros(2), sample_weight=np.array([0.0, 1e300])
            )
