"""sktangent.influence against brute force: up-weighting and removal refits."""

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import ALPHA, GAMMA, make_problem, with_params
from sklearn.base import clone
from sklearn.datasets import load_diabetes
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.model_selection import train_test_split

import sktangent._models
from sktangent import TangentRegressor
from sktangent._models import LinearModel
from sktangent._objective import Objective
from sktangent.influence import (
    drop_harmful,
    harm_score,
    leave_one_out,
    loss_influence,
    memorisation_score,
    parameter_influence,
    prediction_influence,
    self_influence,
)

EPS = 1e-5
GLM_FAMILIES = [
    ("poisson", None),
    ("gamma", None),
    ("tweedie", 1.5),
    ("binomial", None),
]
GLM_CASES = [(f, p, m) for f, p in GLM_FAMILIES for m in ("linear", "rbf")]


def glm_id(case):
    return f"{case[0]}-{case[2]}"


def make_glm(family, power, model, fit_intercept=True, seed=0, n=40):
    """``(estimator, X, y, sample_weight, X_test, y_test)`` for a GLM family."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n + 6, 3))
    eta = 0.5 * X @ rng.normal(size=3) + 0.3
    mu = np.exp(eta)
    if family == "poisson":
        y = rng.poisson(mu).astype(float)
    elif family == "gamma":
        y = rng.gamma(2.0, mu / 2.0)
    elif family == "tweedie":
        y = rng.poisson(mu) * rng.gamma(2.0, 0.5, size=mu.size)
    else:
        y = (rng.uniform(size=mu.size) < 1 / (1 + np.exp(-eta))).astype(float)
    w = rng.uniform(0.5, 2.0, size=n)
    est = TangentRegressor(
        alpha=1.0,
        family=family,
        power=power,
        kernel="rbf" if model == "rbf" else None,
        gamma=0.3,
        fit_intercept=fit_intercept,
        tol=1e-12,
        max_iter=200,
    )
    return est, X[:n], y[:n], w, X[n:], y[n:]


def eta(est, X):
    return est.fitted_state_.eta(est.fitted_state_.validate_query(X))


def weights(w, n):
    return np.ones(n) if w is None else np.asarray(w, dtype=float)


def upweighted(est, X, y, w, i, quantity):
    """Central difference of ``quantity(refit)`` in the weight of point i."""
    w0 = weights(w, X.shape[0])
    values = []
    for sign in (1, -1):
        wi = w0.copy()
        wi[i] += sign * EPS
        values.append(quantity(clone(est).fit(X, y, sample_weight=wi)))
    return (values[0] - values[1]) / (2 * EPS)


def removed(est, X, y, w, i):
    """The estimator refitted without training point i."""
    keep = np.arange(X.shape[0]) != i
    return clone(est).fit(X[keep], y[keep], sample_weight=weights(w, len(y))[keep])


def shifted_labels(est, X_test):
    """Test labels off the fitted predictions, so that l' is not small."""
    return est.predict(X_test) + np.linspace(-1.0, 1.5, X_test.shape[0])


# ------------------------------------------------------- influence matrices
def test_influence_matrices_match_upweighting(problem):
    est, X, y, w, X_test = problem
    est.fit(X, y, sample_weight=w)
    y_test = shifted_labels(est, X_test)
    L = loss_influence(est, X, y, X_test, y_test)
    P = prediction_influence(est, X, y, X_test)
    assert L.shape == P.shape == (X_test.shape[0], X.shape[0])
    for i in (0, 7):
        fd_eta = upweighted(est, X, y, w, i, lambda r: eta(r, X_test))
        fd_loss = upweighted(
            est, X, y, w, i, lambda r: 0.5 * (y_test - eta(r, X_test)) ** 2
        )
        np.testing.assert_allclose(P[:, i], fd_eta, rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(L[:, i], fd_loss, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("case", GLM_CASES, ids=glm_id)
def test_glm_influence_matrices_match_upweighting(case):
    est, X, y, w, X_test, y_test = make_glm(*case)
    est.fit(X, y, sample_weight=w)
    family = est.fitted_state_.family
    L = loss_influence(est, X, y, X_test, y_test)
    P = prediction_influence(est, X, y, X_test)
    for i in (0, 7):
        fd_eta = upweighted(est, X, y, w, i, lambda r: eta(r, X_test))
        fd_loss = upweighted(
            est, X, y, w, i, lambda r: family.loss(y_test, eta(r, X_test))
        )
        np.testing.assert_allclose(P[:, i], fd_eta, rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(L[:, i], fd_loss, rtol=1e-5, atol=1e-8)


def test_influence_of_a_new_point_matches_adding_it():
    """The points need not be training points: adding one at weight eps."""
    est, X, y, w, X_test, y_test = make_glm("poisson", None, "rbf")
    est.fit(X, y, sample_weight=w)
    x_new, y_new = X_test[:1], y_test[:1] + 3.0
    influence = loss_influence(est, x_new, y_new, X_test, y_test)[:, 0]

    def forward(eps):
        refit = clone(est).fit(
            np.vstack([X, x_new]), np.append(y, y_new), sample_weight=np.append(w, eps)
        )
        loss = est.fitted_state_.family.loss
        return (loss(y_test, eta(refit, X_test)) - loss(y_test, eta(est, X_test))) / eps

    fd = 2 * forward(EPS / 2) - forward(EPS)  # one Richardson step
    np.testing.assert_allclose(influence, fd, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("case", GLM_CASES, ids=glm_id)
def test_self_influence_is_the_diagonal_and_never_positive(case):
    est, X, y, w, _, _ = make_glm(*case)
    est.fit(X, y, sample_weight=w)
    s = self_influence(est, X, y)
    np.testing.assert_allclose(s, np.diag(loss_influence(est, X, y, X, y)), rtol=1e-10)
    assert np.all(s <= 0)
    i = 3
    fd = upweighted(
        est,
        X,
        y,
        w,
        i,
        lambda r: est.fitted_state_.family.loss(y[i], eta(r, X[i : i + 1])),
    )
    np.testing.assert_allclose(s[i], fd[0], rtol=1e-5)


def test_self_influence_never_positive_on_every_model_shape(problem):
    est, X, y, w, X_test = problem
    est.fit(X, y, sample_weight=w)
    assert np.all(self_influence(est, X_test, shifted_labels(est, X_test)) <= 0)
    assert np.all(self_influence(est, X, y) <= 0)


# ------------------------------------------------------- parameter influence
def _parameters(est):
    return np.append(est.coef_, est.intercept_) if est.fit_intercept else est.coef_


def _dense_hessian(est, X, y, w):
    X = X.toarray() if sp.issparse(X) else X
    obj = Objective(
        est.fitted_state_.family,
        LinearModel(X.shape[1]),
        X,
        y,
        weights(w, len(y)),
        est.alpha,
        est.fit_intercept,
    )
    return obj.hessian(_parameters(est))


def _design(est, X):
    X = X.toarray() if sp.issparse(X) else X
    return np.column_stack([X, np.ones(X.shape[0])]) if est.fit_intercept else X


def test_parameter_influence_matches_upweighting_and_dense_solve(problem):
    est, X, y, w, _ = problem
    if est.kernel is not None:
        pytest.skip("kernel models have prediction influences instead")
    est.fit(X, y, sample_weight=w)
    influence = parameter_influence(est, X, y)
    assert influence.shape == (X.shape[0], X.shape[1] + est.fit_intercept)
    H = _dense_hessian(est, X, y, w)
    lp = est.fitted_state_.family.gradient(y, eta(est, X))
    dense = -lp[:, None] * np.linalg.solve(H, _design(est, X).T).T
    np.testing.assert_allclose(influence, dense, rtol=1e-8, atol=1e-12)
    for i in (0, 5):
        fd = upweighted(est, X, y, w, i, _parameters)
        np.testing.assert_allclose(influence[i], fd, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("family,power", GLM_FAMILIES)
@pytest.mark.parametrize("solver", ["newton-cholesky", "lbfgs"])
def test_glm_parameter_influence(family, power, solver):
    est, X, y, w, _, _ = make_glm(family, power, "linear")
    tol = 1e-12 if solver == "newton-cholesky" else 1e-8
    est.set_params(solver=solver, tol=tol, max_iter=500)
    est.fit(X, y, sample_weight=w)
    influence = parameter_influence(est, X, y)
    H = _dense_hessian(est, X, y, w)
    lp = est.fitted_state_.family.gradient(y, eta(est, X))
    dense = -lp[:, None] * np.linalg.solve(H, _design(est, X).T).T
    np.testing.assert_allclose(influence, dense, rtol=1e-7, atol=1e-12)
    if solver == "newton-cholesky":
        fd = upweighted(est, X, y, w, 2, _parameters)
        np.testing.assert_allclose(influence[2], fd, rtol=1e-5, atol=1e-9)


def test_parameter_influence_refuses_kernel_models():
    est, X, y, w, _, _ = make_glm("poisson", None, "rbf")
    est.fit(X, y)
    with pytest.raises(ValueError, match="prediction_influence"):
        parameter_influence(est, X, y)


# ------------------------------------------------------- relative influence
def test_relative_influence_is_normalised_by_the_parameter_change(problem):
    est, X, y, w, X_test = problem
    est.fit(X, y, sample_weight=w)
    y_test = shifted_labels(est, X_test)
    L = loss_influence(est, X, y, X_test, y_test)
    R = loss_influence(est, X, y, X_test, y_test, relative=True)
    if est.kernel is None:
        norms = np.linalg.norm(parameter_influence(est, X, y), axis=1)
        np.testing.assert_allclose(R * norms, L, rtol=1e-8, atol=1e-12)
        return
    # Kernel: |df/d eps|^2 in the function space is c' K c + b^2 for the
    # finite difference (c, b) of the dual coefficients and the intercept.
    for i in (0, 7):
        c = upweighted(est, X, y, w, i, lambda r: r.dual_coef_)
        b = upweighted(est, X, y, w, i, lambda r: r.intercept_)
        Xd = X.toarray() if sp.issparse(X) else X
        norm = np.sqrt(c @ rbf_kernel(Xd, gamma=GAMMA) @ c + b**2)
        np.testing.assert_allclose(R[:, i] * norm, L[:, i], rtol=1e-5)


@pytest.mark.parametrize("family", ["normal", "poisson"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_relative_influence_of_the_linear_kernel_is_the_linear_models(
    family, fit_intercept
):
    est, X, y, w, X_test, y_test = make_glm("poisson", None, "linear", fit_intercept)
    params = dict(alpha=0.7, family=family, fit_intercept=fit_intercept, tol=1e-12)
    linear = TangentRegressor(**params).fit(X, y, sample_weight=w)
    kernel = TangentRegressor(kernel="linear", **params).fit(X, y, sample_weight=w)
    for relative in (False, True):
        np.testing.assert_allclose(
            loss_influence(kernel, X, y, X_test, y_test, relative=relative),
            loss_influence(linear, X, y, X_test, y_test, relative=relative),
            rtol=1e-7,
            atol=1e-12,
        )


def test_relative_influence_is_zero_for_a_point_fitted_exactly():
    est, X, y, w, X_test = make_problem("linear", True, False, False)
    est.fit(X, y)
    y_exact = y.copy()
    y_exact[0] = est.predict(X[:1])[0]
    R = loss_influence(est, X[:1], y_exact[:1], X_test, X_test[:, 0], relative=True)
    assert np.all(R == 0)


# ------------------------------------------------------------ leave-one-out
def test_exact_leave_one_out_of_the_normal_family(problem):
    est, X, y, w, _ = problem
    est.fit(X, y, sample_weight=w)
    loo = leave_one_out(est, X, y, sample_weight=w)
    brute = np.array(
        [removed(est, X, y, w, i).predict(X[i : i + 1])[0] for i in range(len(y))]
    )
    np.testing.assert_allclose(loo.predictions, brute, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(loo.residuals, y - brute, rtol=1e-8, atol=1e-10)
    r = y - est.predict(X)
    np.testing.assert_allclose(loo.residuals, r / (1 - loo.leverage), rtol=1e-10)
    memo = memorisation_score(est, X, y, sample_weight=w)
    np.testing.assert_allclose(memo, 0.5 * ((y - brute) ** 2 - r**2), atol=1e-8)
    assert np.all(memo >= 0)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_leave_one_out_equals_ridgecv(fit_intercept, weighted):
    """RidgeCV stores w_i times the squared leave-one-out residual."""
    est, X, y, w, _ = make_problem("linear", fit_intercept, weighted, False)
    est.fit(X, y, sample_weight=w)
    ridge = RidgeCV(alphas=[ALPHA], fit_intercept=fit_intercept, store_cv_results=True)
    ridge.fit(X, y, sample_weight=w)
    loo = leave_one_out(est, X, y, sample_weight=w)
    np.testing.assert_allclose(
        weights(w, len(y)) * loo.residuals**2, ridge.cv_results_[:, 0], rtol=1e-8
    )


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_kernel_leave_one_out_is_c_over_the_diagonal_of_the_inverse(
    fit_intercept, weighted
):
    est, X, y, w, _ = make_problem("rbf", fit_intercept, weighted, False)
    est.fit(X, y, sample_weight=w)
    n = len(y)
    G = rbf_kernel(X, gamma=GAMMA) + np.diag(ALPHA / weights(w, n))
    if fit_intercept:  # the border keeps sum(c) = 0
        G = np.block([[G, np.ones((n, 1))], [np.ones((1, n)), np.zeros((1, 1))]])
    diag = np.diag(np.linalg.inv(G))[:n]
    loo = leave_one_out(est, X, y, sample_weight=w)
    np.testing.assert_allclose(loo.residuals, est.dual_coef_ / diag, rtol=1e-8)


@pytest.mark.parametrize("case", GLM_CASES, ids=glm_id)
def test_glm_one_step_beats_the_plain_influence_approximation(case):
    """eta_-i from one Newton step against refits, and against the plain
    influence approximation theta* + w_i H^-1 grad l_i."""
    est, X, y, w, _, _ = make_glm(*case)
    est.fit(X, y, sample_weight=w)
    loo = leave_one_out(est, X, y, sample_weight=w)
    plain = eta(est, X) - w * np.diag(prediction_influence(est, X, y, X))
    brute = np.array(
        [eta(removed(est, X, y, w, i), X[i : i + 1])[0] for i in range(len(y))]
    )
    one_step_error = np.max(np.abs(loo.linear_predictor - brute))
    plain_error = np.max(np.abs(plain - brute))
    print(f"{glm_id(case)}: one-step {one_step_error:.2e}, plain {plain_error:.2e}")
    assert one_step_error < plain_error
    np.testing.assert_allclose(
        loo.predictions, est.fitted_state_.family.inverse_link(loo.linear_predictor)
    )
    memo = memorisation_score(est, X, y, sample_weight=w)
    family = est.fitted_state_.family
    expected = family.loss(y, loo.linear_predictor) - family.loss(y, eta(est, X))
    np.testing.assert_allclose(memo, expected, rtol=1e-12, atol=1e-14)


def test_zero_weight_points_keep_their_fit():
    est, X, y, w, _ = make_problem("rbf", True, True, False)
    w = w.copy()
    w[[2, 5]] = 0.0
    est.fit(X, y, sample_weight=w)
    loo = leave_one_out(est, X, y, sample_weight=w)
    np.testing.assert_allclose(loo.predictions[[2, 5]], est.predict(X[[2, 5]]))
    assert np.all(loo.leverage[[2, 5]] == 0)


def test_leave_one_out_with_conjugate_gradients_matches_cholesky():
    est, X, y, w, _ = make_problem("linear", True, True, False)
    exact = leave_one_out(est.fit(X, y, sample_weight=w), X, y, sample_weight=w)
    cg = with_params(est, solver="lbfgs", tol=1e-10, max_iter=1000)
    cg.fit(X, y, sample_weight=w)
    approx = leave_one_out(cg, X, y, sample_weight=w)
    np.testing.assert_allclose(approx.residuals, exact.residuals, rtol=1e-6)


def test_precomputed_kernel_matches_the_named_kernel():
    est, X, y, w, X_test = make_problem("rbf", True, True, False)
    y_test = shifted_labels(est.fit(X, y, sample_weight=w), X_test)
    pre = with_params(est, kernel="precomputed")
    K, K_test = rbf_kernel(X, gamma=GAMMA), rbf_kernel(X_test, X, gamma=GAMMA)
    pre.fit(K, y, sample_weight=w)
    for name in ("residuals", "leverage"):
        np.testing.assert_allclose(
            leave_one_out(pre, K, y, sample_weight=w)[name],
            leave_one_out(est, X, y, sample_weight=w)[name],
            rtol=1e-10,
        )
    for relative in (False, True):
        np.testing.assert_allclose(
            loss_influence(pre, K, y, K_test, y_test, relative=relative),
            loss_influence(est, X, y, X_test, y_test, relative=relative),
            rtol=1e-9,
            atol=1e-12,
        )
    np.testing.assert_allclose(
        harm_score(pre, K, y, K_test, y_test, sample_weight=w),
        harm_score(est, X, y, X_test, y_test, sample_weight=w),
        rtol=1e-9,
    )
    result = drop_harmful(pre, K, y, K_test, y_test, 3, sample_weight=w)
    assert result.estimator.dual_coef_.shape == (len(y) - 3,)
    with pytest.raises(ValueError, match="training kernel matrix"):
        loss_influence(pre, K_test, y_test, K_test, y_test)


# ----------------------------------------------------------------- cleaning
def test_harm_score_is_the_exact_removal_effect_for_the_normal_family(problem):
    est, X, y, w, X_val = problem
    est.fit(X, y, sample_weight=w)
    y_val = shifted_labels(est, X_val)
    harm = harm_score(est, X, y, X_val, y_val, sample_weight=w)

    def val_loss(model):
        return 0.5 * np.sum((y_val - model.predict(X_val)) ** 2)

    for i in (0, 4, 9):
        expected = val_loss(est) - val_loss(removed(est, X, y, w, i))
        np.testing.assert_allclose(harm[i], expected, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("case", GLM_CASES, ids=glm_id)
def test_first_order_harm_is_the_weighted_sum_of_loss_influences(case):
    est, X, y, w, X_val, y_val = make_glm(*case)
    est.fit(X, y, sample_weight=w)
    first = harm_score(est, X, y, X_val, y_val, sample_weight=w, method="influence")
    L = loss_influence(est, X, y, X_val, y_val)
    np.testing.assert_allclose(first, w * L.sum(axis=0), rtol=1e-10, atol=1e-14)
    newton = harm_score(est, X, y, X_val, y_val, sample_weight=w)

    def val_loss(model):
        return np.sum(est.fitted_state_.family.loss(y_val, eta(model, X_val)))

    brute = np.array(
        [val_loss(est) - val_loss(removed(est, X, y, w, i)) for i in range(6)]
    )
    assert np.max(np.abs(newton[:6] - brute)) < np.max(np.abs(first[:6] - brute))


def test_blocks_give_the_same_results(monkeypatch):
    """Forcing tiny blocks of test rows changes nothing."""
    for model in ("linear", "rbf"):
        est, X, y, w, X_test, y_test = make_glm("poisson", None, model)
        est.fit(X, y, sample_weight=w)
        results = []
        for block in (2**22, 50):
            monkeypatch.setattr(sktangent._models, "_BLOCK_ELEMENTS", block)
            results.append(
                (
                    loss_influence(est, X, y, X_test, y_test, relative=True),
                    harm_score(est, X, y, X_test, y_test, sample_weight=w),
                    harm_score(
                        est, X, y, X_test, y_test, sample_weight=w, method="influence"
                    ),
                )
            )
        for a, b in zip(*results, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def _diabetes_split(seed):
    """Train / validation / held-out test, 10% of training targets corrupted
    by a gross data-entry error (three standard deviations added)."""
    X, y = load_diabetes(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=seed)
    X_tr, X_val, y_tr, y_val = train_test_split(
        X_tr, y_tr, test_size=0.3, random_state=seed
    )
    rng = np.random.RandomState(seed)
    bad = rng.choice(len(y_tr), len(y_tr) // 10, replace=False)
    y_tr = y_tr.copy()
    y_tr[bad] += 3 * y.std()
    return X_tr, y_tr, X_val, y_val, X_te, y_te, bad


def test_dropping_harmful_points_beats_dropping_random_points():
    def rmse(model, X, y):
        return np.sqrt(np.mean((model.predict(X) - y) ** 2))

    flagged, random, found = [], [], []
    for seed in range(5):
        X_tr, y_tr, X_val, y_val, X_te, y_te, bad = _diabetes_split(seed)
        est = TangentRegressor(alpha=0.1).fit(X_tr, y_tr)
        k = len(bad)
        result = drop_harmful(est, X_tr, y_tr, X_val, y_val, k)
        flagged.append(rmse(result.estimator, X_te, y_te))
        found.append(np.isin(result.dropped, bad).mean())
        rng = np.random.RandomState(100 + seed)
        for _ in range(10):
            keep = np.sort(rng.choice(len(y_tr), len(y_tr) - k, replace=False))
            random.append(rmse(clone(est).fit(X_tr[keep], y_tr[keep]), X_te, y_te))
    print(
        f"held-out RMSE: dropping flagged {np.mean(flagged):.2f}, dropping random "
        f"{np.mean(random):.2f}; corrupted among flagged {np.mean(found):.0%}"
    )
    assert np.mean(flagged) < np.mean(random)
    assert np.mean(found) > 0.5


def test_drop_harmful_refits_on_the_kept_points():
    est, X, y, w, X_val = make_problem("linear", True, True, True)
    est.fit(X, y, sample_weight=w)
    y_val = shifted_labels(est, X_val)
    result = drop_harmful(est, X, y, X_val, y_val, 4, sample_weight=w)
    harm = harm_score(est, X, y, X_val, y_val, sample_weight=w)
    np.testing.assert_array_equal(result.harm, harm)
    np.testing.assert_array_equal(result.dropped, np.argsort(-harm)[:4])
    assert np.all(np.diff(harm[result.dropped]) <= 0)
    np.testing.assert_array_equal(
        np.sort(np.concatenate([result.dropped, result.kept])), np.arange(len(y))
    )
    ref = Ridge(alpha=ALPHA).fit(X[result.kept], y[result.kept], w[result.kept])
    np.testing.assert_allclose(result.estimator.coef_, ref.coef_, rtol=1e-8)
    assert result.estimator is not est


# --------------------------------------------------------------- validation
def test_errors():
    est, X, y, w, X_test = make_problem("linear", True, True, False)
    with pytest.raises(TypeError, match="TangentRegressor"):
        loss_influence(Ridge().fit(X, y), X, y, X_test, y[:5])
    with pytest.raises(NotFittedError):
        self_influence(clone(est), X, y)
    est.fit(X, y, sample_weight=w)
    with pytest.raises(ValueError, match="features"):
        prediction_influence(est, X, y, X_test[:, :2])
    with pytest.raises(ValueError, match="inconsistent"):
        self_influence(est, X, y[:-1])
    with pytest.raises(ValueError, match="inconsistent"):
        loss_influence(est, X, y, X_test, y[:4])
    with pytest.raises(ValueError, match="not the data the estimator was fitted on"):
        leave_one_out(est, X, y)  # the weights were forgotten
    with pytest.raises(ValueError, match="not the data the estimator was fitted on"):
        memorisation_score(est, X, y[::-1], sample_weight=w)
    with pytest.raises(ValueError, match="non-negative"):
        leave_one_out(est, X, y, sample_weight=-w)
    with pytest.raises(ValueError, match="method"):
        harm_score(est, X, y, X_test, y[:5], sample_weight=w, method="exact")
    for n_drop in (-1, len(y) - 1, 2.0, True):
        with pytest.raises(ValueError, match="n_drop"):
            drop_harmful(est, X, y, X_test, y[:5], n_drop, sample_weight=w)
    poisson, X, y, w, X_test, y_test = make_glm("poisson", None, "linear")
    poisson.fit(X, y)
    with pytest.raises(ValueError, match="non-negative targets"):
        loss_influence(poisson, X, y, X_test, -y_test - 1)
    with pytest.raises(ValueError, match="not the data the estimator was fitted on"):
        leave_one_out(poisson, X, y + 1)


def test_kernel_training_rows_must_be_in_order():
    est, X, y, w, _, _ = make_glm("gamma", None, "rbf")
    est.fit(X, y, sample_weight=w)
    order = np.arange(len(y))[::-1]
    with pytest.raises(ValueError, match="same order"):
        leave_one_out(est, X[order], y[order], sample_weight=w[order])
