"""TangentClassifier against LogisticRegression, refits and finite differences."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import log_softmax, softmax
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.preprocessing import StandardScaler

from sktangent import TangentClassifier
from sktangent._multinomial import MultinomialObjective, one_hot

H = 1e-4  # step in s = log(alpha) for central differences


def data(name, n=None, seed=0):
    loader = {"iris": load_iris, "wine": load_wine, "cancer": load_breast_cancer}
    X, y = loader[name](return_X_y=True)
    rng = np.random.RandomState(seed)
    if n is not None:
        rows = np.sort(rng.choice(len(y), size=n, replace=False))
        X, y = X[rows], y[rows]
    X = StandardScaler().fit_transform(X)
    w = rng.uniform(0.5, 2.0, size=len(y))
    return X, y, w


def refit(clf, alpha, X, y, w):
    return TangentClassifier(**{**clf.get_params(), "alpha": alpha, "tol": 1e-12}).fit(
        X, y, sample_weight=w
    )


@pytest.mark.parametrize("name", ["iris", "wine", "cancer"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("alpha", [0.5, 4.0])
def test_coefficients_match_logistic_regression(name, fit_intercept, sparse, alpha):
    X, y, w = data(name)
    Xf = sp.csr_matrix(X) if sparse else X
    clf = TangentClassifier(alpha=alpha, fit_intercept=fit_intercept, tol=1e-12)
    clf.fit(Xf, y, sample_weight=w)
    ref = LogisticRegression(
        C=1.0 / alpha,
        fit_intercept=fit_intercept,
        solver="newton-cholesky",
        tol=1e-14,
        max_iter=1000,
    ).fit(X, y, sample_weight=w)
    scale = np.max(np.abs(ref.coef_))
    np.testing.assert_allclose(clf.coef_, ref.coef_, atol=1e-6 * scale)
    np.testing.assert_allclose(clf.intercept_, ref.intercept_, atol=1e-6 * scale)
    np.testing.assert_allclose(
        clf.predict_proba(Xf), ref.predict_proba(X), rtol=1e-6, atol=1e-9
    )
    np.testing.assert_array_equal(clf.predict(Xf), ref.predict(X))
    assert clf.coef_.shape == ref.coef_.shape
    assert clf.coef_tangent_.shape == ref.coef_.shape
    assert clf.intercept_tangent_.shape == ref.intercept_.shape


@pytest.mark.parametrize("name", ["iris", "cancer"])
@pytest.mark.parametrize("kernel", [None, "rbf"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_tangent_matches_central_differences(name, kernel, fit_intercept):
    X, y, w = data(name, n=60)
    clf = TangentClassifier(
        alpha=1.0, kernel=kernel, gamma=0.2, fit_intercept=fit_intercept, tol=1e-12
    ).fit(X, y, sample_weight=w)
    up, down = refit(clf, np.exp(H), X, y, w), refit(clf, np.exp(-H), X, y, w)
    fd = (up.decision_function(X) - down.decision_function(X)) / (2 * H)
    np.testing.assert_allclose(clf.predict_tangent(X), fd, rtol=1e-5, atol=1e-7)
    if kernel is None:
        fd_coef = (up.coef_ - down.coef_) / (2 * H)
        np.testing.assert_allclose(clf.coef_tangent_, fd_coef, rtol=1e-5, atol=1e-8)
    else:
        fd_dual = (up.dual_coef_ - down.dual_coef_) / (2 * H)
        np.testing.assert_allclose(
            clf.dual_coef_tangent_, fd_dual, rtol=1e-5, atol=1e-7
        )


@pytest.mark.parametrize("name", ["iris", "cancer"])
@pytest.mark.parametrize("kernel", [None, "rbf"])
def test_labelled_influence_is_the_log_alpha_derivative_of_the_loss(name, kernel):
    X, y, w = data(name, n=50)
    clf = TangentClassifier(alpha=1.0, kernel=kernel, gamma=0.2, tol=1e-12)
    clf.fit(X, y, sample_weight=w)
    up, down = refit(clf, np.exp(H), X, y, w), refit(clf, np.exp(-H), X, y, w)
    codes = np.searchsorted(clf.classes_, y)

    def loss(model):
        return -model.predict_log_proba(X)[np.arange(len(y)), codes]

    fd = (loss(up) - loss(down)) / (2 * H)
    np.testing.assert_allclose(clf.influence_score(X, y), fd, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("name", ["iris", "cancer"])
def test_unlabelled_influence_is_the_expected_square(name):
    X, y, _ = data(name, n=50)
    clf = TangentClassifier(alpha=1.0).fit(X, y)
    P = clf.predict_proba(X)
    expected = sum(
        P[:, k] * clf.influence_score(X, np.full(len(y), c)) ** 2
        for k, c in enumerate(clf.classes_)
    )
    np.testing.assert_allclose(clf.influence_score(X), expected, rtol=1e-10)


def _dense_std(clf, X, y, w):
    """Laplace std of the probabilities from the dense Hessian (pseudo-inverse)."""
    K = len(clf.classes_)
    codes = np.searchsorted(clf.classes_, y)
    Xt = np.column_stack([X, np.ones(len(X))])
    if K == 2:
        p = clf.predict_proba(X)[:, 1]
        d = w * p * (1 - p)
        Hd = Xt.T @ (d[:, None] * Xt) + clf.alpha * np.diag([1.0] * X.shape[1] + [0])
        S = np.einsum("ij,ji->i", Xt, np.linalg.solve(Hd, Xt.T))
        sd = p * (1 - p) * np.sqrt(S)
        return np.column_stack([sd, sd])
    obj = MultinomialObjective(X, one_hot(codes, K), w, clf.alpha, True)
    theta = np.column_stack([clf.coef_, clf.intercept_]).ravel()
    Hinv = np.linalg.pinv(obj.hessian(obj.probabilities(theta)))
    q = Xt.shape[1]
    out = np.empty((len(X), K))
    for i, (x, p) in enumerate(zip(Xt, clf.predict_proba(X), strict=True)):
        J = np.kron(np.eye(K), x[None, :])
        D = np.diag(p) - np.outer(p, p)
        out[i] = np.sqrt(np.diag(D @ J @ Hinv @ J.T @ D))
        assert J.shape == (K, K * q)
    return out


@pytest.mark.parametrize("name", ["iris", "cancer"])
def test_probability_std_is_the_delta_method_with_the_dense_hessian(name):
    X, y, w = data(name, n=60)
    clf = TangentClassifier(alpha=2.0, tol=1e-12).fit(X, y, sample_weight=w)
    _, std = clf.predict_proba(X[:10], return_std=True)
    np.testing.assert_allclose(std, _dense_std(clf, X, y, w)[:10], rtol=1e-7)


def test_multinomial_kernel_model_is_the_dual_model():
    """The eigen-features fit minimises the dual objective itself."""
    X, y, w = data("iris", n=40)
    clf = TangentClassifier(alpha=0.7, kernel="rbf", gamma=0.3, tol=1e-12)
    clf.fit(X, y, sample_weight=w)
    K = rbf_kernel(X, X, gamma=0.3)
    C = clf.dual_coef_
    eta = K @ C.T + clf.intercept_
    np.testing.assert_allclose(clf.decision_function(X), eta, rtol=1e-9, atol=1e-9)
    codes = np.searchsorted(clf.classes_, y)
    Y = one_hot(codes, 3)
    # Stationarity of the dual objective: K (W (P - Y) + alpha C') = 0.
    P = softmax(eta, axis=1)
    grad = K @ (w[:, None] * (P - Y) + 0.7 * C.T)
    assert np.max(np.abs(grad)) < 1e-6 * np.sum(w)
    loss = -np.sum(w * log_softmax(eta, axis=1)[np.arange(len(y)), codes])
    assert np.isfinite(loss)


def test_lbfgs_matches_newton_for_the_multinomial_model():
    X, y, w = data("wine")
    newton = TangentClassifier(alpha=1.0, tol=1e-10).fit(X, y, sample_weight=w)
    lbfgs = TangentClassifier(alpha=1.0, solver="lbfgs", tol=1e-9, max_iter=1000)
    lbfgs.fit(X, y, sample_weight=w)
    np.testing.assert_allclose(lbfgs.coef_, newton.coef_, atol=1e-6)
    np.testing.assert_allclose(
        lbfgs.coef_tangent_, newton.coef_tangent_, rtol=1e-5, atol=1e-7
    )


def test_string_labels_and_errors():
    X, y, _ = data("iris", n=45)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = TangentClassifier().fit(X, labels)
    assert set(clf.predict(X)) <= set(labels)
    with pytest.raises(ValueError, match="not seen in fit"):
        clf.influence_score(X[:2], ["setosa", "rose"])
    with pytest.raises(ValueError, match="at least 2 classes"):
        TangentClassifier().fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="multinomial"):
        TangentClassifier(solver="lbfgs").fit(X, y).predict_proba(X, return_std=True)


def test_set_params_without_refit_is_refused():
    X, y, _ = data("iris", n=45)
    clf = TangentClassifier().fit(X, y)
    before = clf.influence_score(X)
    clf.set_params(alpha=10.0)
    with pytest.raises(ValueError, match="changed"):
        clf.predict_proba(X)
    clf.set_params(alpha=1.0)
    np.testing.assert_array_equal(clf.influence_score(X), before)
