"""solver="sgd": minibatch SGD with the tangent carried through training (SGDF).

Against the exact solvers (closed form, Newton), the LiSSA reading of the
tangent's recursion at a fixed theta, and the downstream consumers.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from sktangent import TangentClassifier, TangentRegressor, TangentRegressorCV
from sktangent._families import get_family
from sktangent._models import make_model
from sktangent._objective import Objective
from sktangent._sgd import SGDFProblem, sgdf
from sktangent.influence import parameter_influence, prediction_influence
from sktangent.query import influence_sampling, variance_sampling

FAMILIES = [
    ("normal", {}),
    ("poisson", {}),
    ("gamma", {}),
    ("tweedie", {"power": 1.5}),
    ("binomial", {}),
]

#: Coefficients and intercept: relative to the largest exact coefficient.
COEF_RTOL = 1e-5
#: The tangent at the default tol, on a well-conditioned problem.
TANGENT_RTOL = 1e-3


def make_data(family, n=400, p=5, seed=0, unscaled=True):
    """Features with very different scales and means (unless ``unscaled`` is
    False), and a target of the family with a mean near exp(0.3)."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, p))
    scales = np.array([1.0, 10.0, 0.1, 100.0, 1.0, 3.0, 0.3])[:p]
    means = np.array([0.0, 5.0, 0.0, 50.0, 0.0, -2.0, 1.0])[:p]
    if unscaled:
        X = X * scales + means
    beta = 0.5 * rng.normal(size=p) / (scales if unscaled else 1.0)
    Xc = X - (means if unscaled else 0.0)
    eta = Xc @ beta + 0.3
    if family == "normal":
        y = eta + rng.normal(size=n)
    elif family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    elif family == "binomial":
        y = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float)
    else:
        y = rng.gamma(2.0, np.exp(eta) / 2.0)
    return X, y


def exact(est):
    solver = "cholesky" if est.family == "normal" else "newton-cholesky"
    return clone(est).set_params(solver=solver, tol=1e-10)


def relative(a, b):
    return float(np.max(np.abs(np.asarray(a) - b)) / np.max(np.abs(b)))


@pytest.mark.parametrize("family, kw", FAMILIES, ids=[f for f, _ in FAMILIES])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["icpt", "noicpt"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_coefficients_and_tangent_match_the_exact_solver(
    family, kw, sparse, fit_intercept, weighted
):
    X, y = make_data(family)
    if not fit_intercept:
        # Without an intercept a mean far from zero is the intercept's job.
        X = X - X.mean(axis=0)
    w = None
    if weighted:
        w = np.random.RandomState(1).uniform(0.5, 2.0, size=X.shape[0])
    if sparse:
        X = X.copy()
        X[np.random.RandomState(2).uniform(size=X.shape) < 0.3] = 0.0
        X = sp.csr_matrix(X)
    est = TangentRegressor(
        alpha=1.0,
        family=family,
        fit_intercept=fit_intercept,
        solver="sgd",
        tol=1e-9,
        max_iter=2000,
        random_state=0,
        **kw,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        sgd = est.fit(X, y, sample_weight=w)
    ref = exact(est).fit(X, y, sample_weight=w)
    theta = np.append(sgd.coef_, sgd.intercept_)
    theta_ref = np.append(ref.coef_, ref.intercept_)
    assert relative(theta, theta_ref) <= COEF_RTOL
    t = np.append(sgd.coef_tangent_, sgd.intercept_tangent_)
    t_ref = np.append(ref.coef_tangent_, ref.intercept_tangent_)
    assert relative(t, t_ref) <= COEF_RTOL * 10
    assert sgd.fitted_state_.solver == "sgd"
    assert sgd.fitted_state_.factorisation is None


@pytest.mark.parametrize("family, kw", FAMILIES, ids=[f for f, _ in FAMILIES])
def test_tangent_at_default_tol_matches_minus_h_inverse_rho(family, kw):
    """The stored tangent is the SGDF one, not a CG solve: at the default
    tol it agrees with -H^-1 rho of the exact solver to 1e-3 relative."""
    X, y = make_data(family, n=2000, p=5, unscaled=False)
    est = TangentRegressor(alpha=5.0, family=family, solver="sgd", random_state=0, **kw)
    sgd = est.fit(X, y)
    ref = exact(est).fit(X, y)
    t = np.append(sgd.coef_tangent_, sgd.intercept_tangent_)
    t_ref = np.append(ref.coef_tangent_, ref.intercept_tangent_)
    assert relative(t, t_ref) <= TANGENT_RTOL


def test_tangent_matches_finite_differences_of_sgd_fits():
    """d theta / d log(alpha) of the sgd fits themselves."""
    X, y = make_data("poisson")
    est = TangentRegressor(
        alpha=2.0,
        family="poisson",
        solver="sgd",
        tol=1e-10,
        max_iter=2000,
        random_state=0,
    )
    t = np.append(est.fit(X, y).coef_tangent_, est.intercept_tangent_)
    h = 1e-3
    fits = [clone(est).set_params(alpha=2.0 * np.exp(s)).fit(X, y) for s in (h, -h)]
    fd = (
        np.append(fits[0].coef_, fits[0].intercept_)
        - np.append(fits[1].coef_, fits[1].intercept_)
    ) / (2 * h)
    assert relative(t, fd) <= 1e-5


def _objective(X, y, family, alpha, fit_intercept=False):
    w = np.ones(X.shape[0])
    model = make_model("primal", X, w, fit_intercept)
    return Objective(get_family(family), model, X, y, w, alpha, fit_intercept)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_recursion_at_fixed_theta_is_lissa(sparse):
    """At a fixed theta the tangent's steps are LiSSA with scale 1 / step:
    u <- r + (I - step H_B) u, t = t_snap - step u, with H_B the minibatch
    Hessian and r = H t_snap + rho (r = rho from t = 0 in the first epoch);
    the next snapshot is the average of the epoch's iterates."""
    rng = np.random.RandomState(3)
    n, p = 300, 4
    X = rng.normal(size=(n, p))
    # Unit root mean squares: the standardised coordinates are theta's own.
    X /= np.sqrt(np.mean(X**2, axis=0))
    y = rng.poisson(np.exp(0.3 * X @ rng.normal(size=p))).astype(float)
    if sparse:
        X = sp.csr_matrix(X)
    alpha = 3.0
    obj = _objective(X, y, "poisson", alpha)
    prob = SGDFProblem(obj)
    assert np.all(prob.coords.s == 1.0)
    theta = 0.2 * rng.normal(size=p)  # any fixed theta: not the optimum
    Xd = X.toarray() if sparse else X
    d = obj.curvature_weights(theta)
    W = float(n)
    H = (Xd.T * d) @ Xd / W + alpha / W * np.eye(p)
    rho = alpha * theta / W

    seen = []
    sgdf(
        obj,
        max_iter=3,
        tol=1e-300,
        random_state=0,
        batch_size=16,
        start=theta,
        fixed_theta=True,
        callback=lambda phi, tau, rows, step: seen.append(
            (phi.copy(), tau.copy(), rows.copy(), step)
        ),
    )
    # At least _MIN_STEPS steps per epoch: several passes on 300 rows.
    steps_per_epoch = len(seen) // 3
    assert len(seen) == 3 * steps_per_epoch >= 3 * int(np.ceil(n / 16))
    t_snap = np.zeros(p)
    for epoch in range(3):
        r = H @ t_snap + rho
        u = np.zeros(p)
        iterates = []
        for phi, tau, rows, step in seen[
            epoch * steps_per_epoch : (epoch + 1) * steps_per_epoch
        ]:
            np.testing.assert_array_equal(phi, theta)  # theta held fixed
            XB = Xd[rows]
            H_B = (XB.T * d[rows]) @ XB * (n / (rows.size * W)) + alpha / W * np.eye(p)
            u = r + u - step * (H_B @ u)  # LiSSA, scale 1 / step
            t_k = t_snap - step * u
            np.testing.assert_allclose(tau, t_k, rtol=1e-10, atol=1e-12)
            iterates.append(t_k)
        t_snap = np.mean(iterates, axis=0)


def test_lissa_fixed_point_is_the_tangent():
    """Run to convergence at the optimum, the recursion's limit is -H^-1 rho."""
    X, y = make_data("poisson", unscaled=False)
    est = TangentRegressor(alpha=50.0, family="poisson", fit_intercept=False)
    ref = est.set_params(solver="newton-cholesky", tol=1e-12).fit(X, y)
    obj = _objective(X, y, "poisson", 50.0)
    run = sgdf(
        obj,
        max_iter=500,
        tol=1e-12,
        random_state=0,
        start=ref.coef_,
        fixed_theta=True,
    )
    assert run.converged
    assert relative(run.tangent, ref.coef_tangent_) <= 1e-8


def test_random_state_makes_fits_reproducible():
    X, y = make_data("poisson")
    est = TangentRegressor(family="poisson", solver="sgd", tol=1e-3, random_state=7)
    a, b = clone(est).fit(X, y), clone(est).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.coef_tangent_, b.coef_tangent_)
    rs = np.random.RandomState(7)
    c = clone(est).set_params(random_state=rs).fit(X, y)
    np.testing.assert_array_equal(a.coef_, c.coef_)
    d = clone(est).set_params(random_state=8).fit(X, y)
    assert not np.array_equal(a.coef_, d.coef_)  # another order, same optimum
    np.testing.assert_allclose(a.coef_, d.coef_, rtol=1e-2)


def test_not_converging_warns_like_scikit_learn():
    X, y = make_data("normal")
    est = TangentRegressor(solver="sgd", max_iter=1, tol=1e-12, random_state=0)
    with pytest.warns(ConvergenceWarning, match="sgd solver stopped after 1"):
        est.fit(X, y)
    assert est.n_iter_ == 1


@pytest.mark.parametrize(
    "params, match",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": "big"}, "batch_size"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"random_state": "seed"}, "random_state"),
        ({"max_iter": 0}, "max_iter"),
        ({"kernel": "rbf"}, "linear models only"),
    ],
)
def test_bad_parameters_are_clear_errors(params, match):
    X, y = make_data("normal", n=50)
    with pytest.raises(ValueError, match=match):
        TangentRegressor(solver="sgd", **params).fit(X, y)


def test_cv_and_multinomial_refuse_sgd():
    X, y = make_data("normal", n=60)
    with pytest.raises(ValueError, match="sgd"):
        TangentRegressorCV(solver="sgd").fit(X, y)
    labels = np.arange(60) % 3
    with pytest.raises(ValueError, match="binary classifiers only"):
        TangentClassifier(solver="sgd").fit(X, labels)


def test_batch_size_larger_than_data_and_one_row_batches():
    X, y = make_data("normal", n=80)
    ref = exact(TangentRegressor()).fit(X, y)
    for batch_size in (1, 10_000):
        est = TangentRegressor(
            solver="sgd", batch_size=batch_size, tol=1e-9, max_iter=5000, random_state=0
        ).fit(X, y)
        assert relative(est.coef_, ref.coef_) <= COEF_RTOL


def test_constant_column_and_zero_weights():
    X, y = make_data("poisson", n=200)
    X[:, 2] = 4.0  # duplicates the intercept: its coefficient is 0
    w = np.ones(X.shape[0])
    w[:20] = 0.0
    est = TangentRegressor(family="poisson", solver="sgd", tol=1e-9, random_state=0)
    est.fit(X, y, sample_weight=w)
    ref = exact(est).fit(X, y, sample_weight=w)
    assert est.coef_[2] == 0.0 and est.coef_tangent_[2] == 0.0
    assert relative(est.coef_, ref.coef_) <= COEF_RTOL
    assert abs(est.intercept_ - ref.intercept_) <= COEF_RTOL * abs(ref.intercept_)


def test_binary_classifier_with_sgd_matches_newton():
    X, y = make_data("binomial")
    labels = np.where(y > 0, "yes", "no")
    sgd = TangentClassifier(solver="sgd", tol=1e-9, random_state=0).fit(X, labels)
    ref = TangentClassifier(solver="newton-cholesky", tol=1e-10).fit(X, labels)
    assert relative(sgd.coef_, ref.coef_) <= COEF_RTOL
    assert relative(sgd.coef_tangent_, ref.coef_tangent_) <= 10 * COEF_RTOL
    np.testing.assert_allclose(
        sgd.predict_proba(X[:5]), ref.predict_proba(X[:5]), rtol=1e-5
    )


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_downstream_consumers_agree_with_the_exact_solver(sparse):
    """influence_score uses the SGDF tangent; return_std, the influence
    functions and the query strategies use CG solves on the sgd fit."""
    X, y = make_data("poisson", n=500, unscaled=False)
    X_pool, _ = make_data("poisson", n=50, seed=5, unscaled=False)
    if sparse:
        X, X_pool = sp.csr_matrix(X), sp.csr_matrix(X_pool)
    est = TangentRegressor(alpha=2.0, family="poisson", solver="sgd", random_state=0)
    sgd = est.fit(X, y)
    ref = exact(est).fit(X, y)
    rtol = TANGENT_RTOL
    np.testing.assert_allclose(
        sgd.influence_score(X_pool), ref.influence_score(X_pool), rtol=2 * rtol
    )
    np.testing.assert_allclose(
        sgd.influence_score(X_pool[:10], y[:10]),
        ref.influence_score(X_pool[:10], y[:10]),
        rtol=rtol,
        atol=rtol * np.max(np.abs(ref.influence_score(X_pool[:10], y[:10]))),
    )
    _, std = sgd.predict(X_pool, return_std=True)
    _, std_ref = ref.predict(X_pool, return_std=True)
    np.testing.assert_allclose(std, std_ref, rtol=rtol)
    for strategy in (influence_sampling, variance_sampling):
        idx, scores = strategy(sgd, X_pool, n_instances=3)
        idx_ref, scores_ref = strategy(ref, X_pool, n_instances=3)
        np.testing.assert_array_equal(idx, idx_ref)
        np.testing.assert_allclose(scores, scores_ref, rtol=2 * rtol)
    infl = parameter_influence(sgd, X[:20], y[:20])
    infl_ref = parameter_influence(ref, X[:20], y[:20])
    assert relative(infl, infl_ref) <= rtol
    pred = prediction_influence(sgd, X[:20], y[:20], X_pool[:5])
    pred_ref = prediction_influence(ref, X[:20], y[:20], X_pool[:5])
    assert relative(pred, pred_ref) <= rtol


class NoDense(sp.csr_matrix):
    """A CSR matrix that refuses to become dense (beyond a single row or
    column, which reductions like the column maxima produce)."""

    def toarray(self, *args, **kwargs):
        if min(self.shape) > 1:
            raise AssertionError("a sparse design was densified")
        return super().toarray(*args, **kwargs)

    def todense(self, *args, **kwargs):
        raise AssertionError("a sparse design was densified")


@pytest.mark.parametrize("fit_intercept", [True, False], ids=["icpt", "noicpt"])
def test_sparse_input_is_never_densified(fit_intercept):
    X, y = make_data("poisson", n=300)
    X = X.copy()
    X[np.random.RandomState(2).uniform(size=X.shape) < 0.5] = 0.0
    X = NoDense(X)
    est = TangentRegressor(
        family="poisson", solver="sgd", fit_intercept=fit_intercept, random_state=0
    ).fit(X, y)
    assert isinstance(est.fitted_state_.hessian.objective.design, NoDense)
    ref = exact(est).fit(X.tocsr(), y)
    assert relative(est.coef_, ref.coef_) <= TANGENT_RTOL


def test_too_long_steps_are_discarded_and_halved(monkeypatch):
    """With the curvature estimate a thousand times too small the first
    epochs diverge; each is discarded and the step halved until the fit
    converges to the same optimum."""
    import sktangent._sgd as sgd_module

    monkeypatch.setattr(sgd_module, "_EIG_MARGIN", 1e-3)
    X, y = make_data("poisson", unscaled=False)
    ref = TangentRegressor(
        family="poisson", fit_intercept=False, solver="newton-cholesky", tol=1e-12
    ).fit(X, y)
    obj = _objective(X, y, "poisson", 1.0)
    run = sgdf(
        obj,
        max_iter=500,
        tol=1e-10,
        random_state=0,
        batch_size=100,
        start=np.zeros(X.shape[1]),
    )
    assert run.converged and run.n_discarded > 0
    assert relative(run.theta, ref.coef_) <= COEF_RTOL
    assert relative(run.tangent, ref.coef_tangent_) <= 10 * COEF_RTOL
