"""sktangent.influence on TangentClassifier: the binary model against the
binomial regressor, the multinomial model against up-weighting and removal
refits."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import log_softmax, softmax
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktangent import TangentClassifier, TangentRegressor
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
NAMES = np.array(["setosa", "versicolor", "virginica"])


def standardised(X):
    return (X - X.mean(axis=0)) / X.std(axis=0)


def multinomial_problem(kernel, seed=0, n=45, n_test=15):
    """``(estimator, X, y, w, X_test, y_test)``: iris (linear) or wine (rbf)
    subsets, weighted; iris labels as strings."""
    if kernel is None:
        X, y = load_iris(return_X_y=True)
        y = NAMES[y]
    else:
        X, y = load_wine(return_X_y=True)
    idx = np.random.RandomState(seed).permutation(len(y))[: n + n_test]
    X = standardised(X)[idx]
    y = y[idx]
    w = np.random.RandomState(seed + 1).uniform(0.5, 2.0, size=n)
    est = TangentClassifier(alpha=1.0, kernel=kernel, gamma=0.1, tol=1e-12)
    return est, X[:n], y[:n], w, X[n:], y[n:]


def binary_problem(kernel, seed=0, n=50, n_test=10):
    X, y = load_breast_cancer(return_X_y=True)
    idx = np.random.RandomState(seed).permutation(len(y))[: n + n_test]
    X, y = standardised(X)[idx][:, :6], y[idx]
    w = np.random.RandomState(seed + 1).uniform(0.5, 2.0, size=n)
    return X[:n], y[:n], w, X[n:], y[n:]


def log_loss(est, X, y):
    """``-log p_y`` of every row."""
    L = log_softmax(est.decision_function(X), axis=1)
    return -L[np.arange(len(y)), np.searchsorted(est.classes_, y)]


def theta(est):
    """``[coef_k, intercept_k]`` class by class: the layout of theta."""
    return np.column_stack([est.coef_, est.intercept_]).ravel()


def upweighted(est, X, y, w, i, quantity):
    """Central difference of ``quantity(refit)`` in the weight of point i."""
    values = []
    for sign in (1, -1):
        wi = w.copy()
        wi[i] += sign * EPS
        values.append(quantity(clone(est).fit(X, y, sample_weight=wi)))
    return (values[0] - values[1]) / (2 * EPS)


def removed(est, X, y, w, i):
    keep = np.arange(len(y)) != i
    return clone(est).fit(X[keep], y[keep], sample_weight=w[keep])


def assert_close_to(actual, expected, rtol):
    """Relative to the largest entry: influences near zero are not compared
    entry by entry against finite-difference noise."""
    scale = np.max(np.abs(expected))
    assert np.max(np.abs(actual - expected)) <= rtol * scale, (
        np.max(np.abs(actual - expected)) / scale
    )


# ------------------------------------------------------------- two classes
@pytest.mark.parametrize("kernel", [None, "rbf"])
def test_binary_classifier_is_the_binomial_regressor(kernel):
    """Labels 'benign'/'malignant' against the binomial model on 0/1."""
    X, y01, w, X_val, y01_val = binary_problem(kernel)
    names = np.array(["benign", "malignant"])
    y, y_val = names[y01], names[y01_val]
    params = dict(alpha=1.0, kernel=kernel, gamma=0.1, tol=1e-10)
    clf = TangentClassifier(**params).fit(X, y, sample_weight=w)
    reg = TangentRegressor(family="binomial", dispersion="fixed", **params)
    reg.fit(X, y01.astype(float), sample_weight=w)
    t, t_val = y01.astype(float), y01_val.astype(float)

    def same(a, b):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)

    same(prediction_influence(clf, X, y, X_val), prediction_influence(reg, X, t, X_val))
    for relative in (False, True):
        same(
            loss_influence(clf, X, y, X_val, y_val, relative=relative),
            loss_influence(reg, X, t, X_val, t_val, relative=relative),
        )
    same(self_influence(clf, X, y), self_influence(reg, X, t))
    if kernel is None:
        same(parameter_influence(clf, X, y), parameter_influence(reg, X, t))
    loo_c = leave_one_out(clf, X, y, sample_weight=w)
    loo_r = leave_one_out(reg, X, t, sample_weight=w)
    for key in ("predictions", "residuals", "linear_predictor", "leverage"):
        same(loo_c[key], loo_r[key])
    same(
        memorisation_score(clf, X, y, sample_weight=w),
        memorisation_score(reg, X, t, sample_weight=w),
    )
    for method in ("newton", "influence"):
        same(
            harm_score(clf, X, y, X_val, y_val, sample_weight=w, method=method),
            harm_score(reg, X, t, X_val, t_val, sample_weight=w, method=method),
        )
    dropped_c = drop_harmful(clf, X, y, X_val, y_val, 3, sample_weight=w)
    dropped_r = drop_harmful(reg, X, t, X_val, t_val, 3, sample_weight=w)
    np.testing.assert_array_equal(dropped_c.dropped, dropped_r.dropped)
    same(
        dropped_c.estimator.predict_proba(X_val)[:, 1],
        dropped_r.estimator.predict(X_val),
    )


# ---------------------------------------------------- influence matrices
@pytest.mark.parametrize("kernel", [None, "rbf"])
def test_multinomial_influences_match_upweighting(kernel):
    est, X, y, w, X_test, y_test = multinomial_problem(kernel)
    est.fit(X, y, sample_weight=w)
    K = len(est.classes_)
    P = prediction_influence(est, X, y, X_test)
    L = loss_influence(est, X, y, X_test, y_test)
    S = self_influence(est, X, y)
    assert P.shape == (len(y_test), len(y), K)
    assert L.shape == (len(y_test), len(y))
    assert S.shape == (len(y),)
    assert np.all(S <= 0)
    for i in (0, 7):
        fd_eta = upweighted(est, X, y, w, i, lambda r: r.decision_function(X_test))
        fd_loss = upweighted(est, X, y, w, i, lambda r: log_loss(r, X_test, y_test))
        point = (X[[i]], y[[i]])
        fd_self = upweighted(est, X, y, w, i, lambda r, z=point: log_loss(r, *z))
        assert_close_to(P[:, i, :], fd_eta, rtol=1e-6)
        assert_close_to(L[:, i], fd_loss, rtol=1e-6)
        assert_close_to(S[i], fd_self, rtol=1e-6)
    # The loss influence is the decision-function influence through
    # d loss / d eta = p - e_y at the test points.
    R = softmax(est.decision_function(X_test), axis=1)
    R[np.arange(len(y_test)), np.searchsorted(est.classes_, y_test)] -= 1.0
    np.testing.assert_allclose(L, np.einsum("tk,tjk->tj", R, P), atol=1e-12)


def test_multinomial_parameter_influence_is_laid_out_as_theta():
    """(n, K q): rows reshape to (K, q), [coef_k, intercept_k] per class."""
    est, X, y, w, _, _ = multinomial_problem(None)
    est.fit(X, y, sample_weight=w)
    influence = parameter_influence(est, X, y)
    K, q = len(est.classes_), X.shape[1] + 1
    assert influence.shape == (len(y), K * q)
    for i in (0, 7):
        assert_close_to(influence[i], upweighted(est, X, y, w, i, theta), rtol=1e-6)
    # Every direction keeps the intercepts summing to zero.
    blocks = influence.reshape(len(y), K, q)
    np.testing.assert_allclose(blocks[:, :, -1].sum(axis=1), 0.0, atol=1e-12)
    with pytest.raises(ValueError, match="kernel model"):
        rbf, X, y, w, _, _ = multinomial_problem("rbf")
        parameter_influence(rbf.fit(X, y, sample_weight=w), X, y)


def test_multinomial_relative_influence_is_normalised_by_the_parameter_change():
    est, X, y, w, X_test, y_test = multinomial_problem(None)
    est.fit(X, y, sample_weight=w)
    norms = np.linalg.norm(parameter_influence(est, X, y), axis=1)
    L = loss_influence(est, X, y, X_test, y_test)
    rel = loss_influence(est, X, y, X_test, y_test, relative=True)
    np.testing.assert_allclose(rel * norms, L, rtol=1e-12, atol=1e-15)
    P = prediction_influence(est, X, y, X_test)
    relP = prediction_influence(est, X, y, X_test, relative=True)
    np.testing.assert_allclose(relP * norms[:, None], P, rtol=1e-12, atol=1e-15)


def test_multinomial_kernel_relative_influence_uses_the_function_space_norm():
    """The norm of a kernel model's parameter change is that of the function
    in the RKHS, with the intercepts: sum_k dc_k' K dc_k + |db|^2 from the
    refits' dual coefficients."""
    from sklearn.metrics.pairwise import rbf_kernel

    est, X, y, w, X_test, y_test = multinomial_problem("rbf")
    est.fit(X, y, sample_weight=w)
    L = loss_influence(est, X, y, X_test, y_test)
    rel = loss_influence(est, X, y, X_test, y_test, relative=True)
    K = rbf_kernel(X, gamma=0.1)
    for i in (0, 7):
        dc = upweighted(est, X, y, w, i, lambda r: r.dual_coef_)
        db = upweighted(est, X, y, w, i, lambda r: r.intercept_)
        norm = np.sqrt(np.einsum("kn,nm,km->", dc, K, dc) + db @ db)
        np.testing.assert_allclose(L[:, i] / norm, rel[:, i], rtol=1e-5)


# ------------------------------------------------------------ leave-one-out
@pytest.mark.parametrize("kernel", [None, "rbf"])
def test_multinomial_leave_one_out_is_close_to_refits(kernel):
    """One Newton step against refits without the point: the error on the
    move of eta_-i(x_i) is a few percent of the move (observed: at most 5%
    for iris, 1.2% for wine rbf), and well below the plain influence
    approximation's."""
    est, X, y, w, _, _ = multinomial_problem(kernel)
    est.fit(X, y, sample_weight=w)
    loo = leave_one_out(est, X, y, sample_weight=w)
    eta = est.decision_function(X)
    n, K = len(y), len(est.classes_)
    assert loo.linear_predictor.shape == loo.predictions.shape == (n, K)
    assert loo.residuals.shape == (n, K) and loo.leverage.shape == (n,)
    refits = [removed(est, X, y, w, i) for i in range(n)]
    brute = np.array([r.decision_function(X[[i]])[0] for i, r in enumerate(refits)])
    P = prediction_influence(est, X, y, X)
    plain = eta - w[:, None] * P[np.arange(n), np.arange(n)]
    move = np.max(np.abs(brute - eta), axis=1)
    one_step = np.max(np.abs(loo.linear_predictor - brute), axis=1) / move
    plain_error = np.max(np.abs(plain - brute), axis=1) / move
    print(
        f"relative error of the LOO move: one step median {np.median(one_step):.2%} "
        f"max {one_step.max():.2%}; plain median {np.median(plain_error):.2%}"
    )
    assert one_step.max() < 0.1
    assert np.median(one_step) < 0.5 * np.median(plain_error)
    # The probabilities and residuals follow from the linear predictor.
    np.testing.assert_allclose(loo.predictions, softmax(loo.linear_predictor, axis=1))
    Y = (y[:, None] == est.classes_).astype(float)
    np.testing.assert_allclose(loo.residuals, Y - loo.predictions)
    assert np.all(loo.leverage > 0)
    # The memorisation score is the log-loss the point gains by removal.
    memo = memorisation_score(est, X, y, sample_weight=w)
    full = log_loss(est, X, y)
    L_loo = -log_softmax(loo.linear_predictor, axis=1)[
        np.arange(n), np.searchsorted(est.classes_, y)
    ]
    np.testing.assert_allclose(memo, L_loo - full, rtol=1e-10, atol=1e-14)
    assert np.all(memo > 0)
    refit_memo = np.array(
        [log_loss(r, X[[i]], y[[i]])[0] for i, r in enumerate(refits)]
    )
    np.testing.assert_allclose(memo, refit_memo - full, rtol=0.15)


def test_multinomial_zero_weight_points_keep_their_fit():
    est, X, y, w, _, _ = multinomial_problem(None)
    w = w.copy()
    w[[2, 5]] = 0.0
    est.fit(X, y, sample_weight=w)
    loo = leave_one_out(est, X, y, sample_weight=w)
    np.testing.assert_allclose(
        loo.linear_predictor[[2, 5]], est.decision_function(X[[2, 5]])
    )
    assert np.all(loo.leverage[[2, 5]] == 0)
    np.testing.assert_array_equal(
        memorisation_score(est, X, y, sample_weight=w)[[2, 5]], 0.0
    )


# -------------------------------------------------------- harm and cleaning
@pytest.mark.parametrize("kernel", [None, "rbf"])
def test_multinomial_harm_score_against_removal_refits(kernel):
    est, X, y, w, X_val, y_val = multinomial_problem(kernel)
    est.fit(X, y, sample_weight=w)
    harm = harm_score(est, X, y, X_val, y_val, sample_weight=w)
    first = harm_score(est, X, y, X_val, y_val, sample_weight=w, method="influence")
    L = loss_influence(est, X, y, X_val, y_val)
    np.testing.assert_allclose(first, w * L.sum(axis=0), rtol=1e-10, atol=1e-14)
    full = log_loss(est, X_val, y_val).sum()
    brute = np.array(
        [
            full - log_loss(removed(est, X, y, w, i), X_val, y_val).sum()
            for i in range(len(y))
        ]
    )
    newton_error = np.max(np.abs(harm - brute))
    first_error = np.max(np.abs(first - brute))
    print(f"harm: newton {newton_error:.2e}, first order {first_error:.2e}")
    assert newton_error < 0.1 * np.max(np.abs(brute))
    assert newton_error < first_error


def test_multinomial_drop_harmful_refits_on_the_kept_points():
    est, X, y, w, X_val, y_val = multinomial_problem(None)
    est.fit(X, y, sample_weight=w)
    result = drop_harmful(est, X, y, X_val, y_val, 4, sample_weight=w)
    harm = harm_score(est, X, y, X_val, y_val, sample_weight=w)
    np.testing.assert_array_equal(result.harm, harm)
    np.testing.assert_array_equal(result.dropped, np.argsort(-harm)[:4])
    kept = result.kept
    ref = clone(est).fit(X[kept], y[kept], sample_weight=w[kept])
    np.testing.assert_allclose(result.estimator.coef_, ref.coef_, rtol=1e-10)


# ------------------------------------------------- solvers, inputs, wrappers
def test_multinomial_conjugate_gradients_match_cholesky():
    est, X, y, w, X_val, y_val = multinomial_problem(None)
    exact = est.fit(X, y, sample_weight=w)
    cg = clone(est).set_params(solver="lbfgs", tol=1e-9, max_iter=2000)
    cg.fit(X, y, sample_weight=w)
    for f in (
        lambda m: loss_influence(m, X, y, X_val, y_val),
        lambda m: leave_one_out(m, X, y, sample_weight=w).linear_predictor,
        lambda m: harm_score(m, X, y, X_val, y_val, sample_weight=w),
    ):
        assert_close_to(f(cg), f(exact), rtol=1e-5)


def test_multinomial_sparse_rows_and_pipelines():
    est, X, y, w, X_val, y_val = multinomial_problem(None)
    dense = clone(est).fit(X, y, sample_weight=w)
    sparse = clone(est).fit(sp.csr_matrix(X), y, sample_weight=w)
    np.testing.assert_allclose(
        loss_influence(sparse, sp.csr_matrix(X), y, sp.csr_matrix(X_val), y_val),
        loss_influence(dense, X, y, X_val, y_val),
        rtol=1e-8,
        atol=1e-12,
    )
    pipe = make_pipeline(StandardScaler(), clone(est))
    pipe.fit(X, y, tangentclassifier__sample_weight=w)
    Z, Z_val = pipe[0].transform(X), pipe[0].transform(X_val)
    np.testing.assert_allclose(
        memorisation_score(pipe, X, y, sample_weight=w),
        memorisation_score(pipe[-1], Z, y, sample_weight=w),
    )
    result = drop_harmful(pipe, X, y, X_val, y_val, 2, sample_weight=w)
    assert result.estimator[-1].coef_.shape == (3, X.shape[1])
    np.testing.assert_allclose(
        prediction_influence(pipe, X, y, X_val),
        prediction_influence(pipe[-1], Z, y, Z_val),
    )


def test_classifier_labels_are_checked():
    est, X, y, w, X_val, y_val = multinomial_problem(None)
    est.fit(X, y, sample_weight=w)
    bad = y.copy()
    bad[3] = "rose"
    with pytest.raises(ValueError, match=r"y contains labels .*'rose'"):
        self_influence(est, X, bad)
    with pytest.raises(ValueError, match=r"y_test contains labels .*'rose'"):
        loss_influence(est, X, y, X_val, bad[: len(y_val)])
    with pytest.raises(ValueError, match=r"y_val contains labels .*'rose'"):
        harm_score(est, X, y, X_val, bad[: len(y_val)], sample_weight=w)
    with pytest.raises(ValueError, match="labels the classifier was not fitted on"):
        self_influence(est, X, np.zeros(len(y)))  # numbers, not the names
    with pytest.raises(ValueError, match="inconsistent"):
        self_influence(est, X, y[:-1])
    with pytest.raises(ValueError, match="not the data the estimator was fitted on"):
        leave_one_out(est, X, y)  # the weights were forgotten
    with pytest.raises(ValueError, match="not the data the estimator was fitted on"):
        memorisation_score(est, X, np.roll(y, 1), sample_weight=w)
    X2, y01, w2, _, _ = binary_problem(None)
    binary = TangentClassifier().fit(X2, y01, sample_weight=w2)
    with pytest.raises(ValueError, match=r"labels .*\[2\]"):
        self_influence(binary, X2, y01 + 1)
    with pytest.raises(ValueError, match="not the data the estimator was fitted on"):
        leave_one_out(binary, X2, 1 - y01, sample_weight=w2)
