"""Influence on complexity against exact refits and Monte Carlo."""

import numpy as np
import scipy.sparse as sp
from conftest import add_point, complexity, with_params


def _row(X, i):
    return X[i : i + 1]


def test_influence_of_training_point_matches_upweighting(problem):
    """c(z) = dC/d(eps) when the weight of a training point moves by +-eps."""
    est, X, y, w, _ = problem
    est.fit(X, y, sample_weight=w)
    w0 = np.ones(X.shape[0]) if w is None else w
    scores = est.influence_score(X, y)
    eps = 1e-5
    for i in (0, 3, 7):
        e = np.zeros_like(w0)
        e[i] = eps
        c_plus = complexity(with_params(est).fit(X, y, sample_weight=w0 + e))
        c_minus = complexity(with_params(est).fit(X, y, sample_weight=w0 - e))
        fd = (c_plus - c_minus) / (2 * eps)
        assert abs(scores[i] - fd) <= 1e-5 * abs(fd), (i, scores[i], fd)


def test_influence_of_new_point_matches_adding_it(problem):
    """A new point added at weight eps (Richardson-extrapolated forward
    difference, since a negative weight is not a model)."""
    est, X, y, w, X_query = problem
    est.fit(X, y, sample_weight=w)
    c0 = complexity(est)
    x_new = _row(X_query, 0)
    y_new = est.predict(x_new)[0] + 2.0  # a surprising label
    score = est.influence_score(x_new, [y_new])[0]

    def forward(eps):
        Xa, ya, wa = add_point(X, y, w, x_new, y_new, eps)
        return (complexity(with_params(est).fit(Xa, ya, sample_weight=wa)) - c0) / eps

    # Small steps: with p > n the new row leaves the span of the training
    # rows and the complexity curves sharply in eps. Forward differences err
    # by O(eps); one Richardson step cancels that term.
    eps = 1e-5
    fd = 2 * forward(eps / 2) - forward(eps)
    assert abs(score - fd) <= 1e-5 * abs(fd), (score, fd)


def test_influence_is_the_log_alpha_derivative_of_the_loss(problem):
    est, X, y, w, X_query = problem
    est.fit(X, y, sample_weight=w)
    y_query = est.predict(X_query) + np.linspace(-1.0, 1.0, X_query.shape[0]) + 0.3
    h = 1e-4
    loss = []
    for ds in (h, -h):
        refit = with_params(est, alpha=est.alpha * np.exp(ds)).fit(
            X, y, sample_weight=w
        )
        loss.append(0.5 * (y_query - refit.predict(X_query)) ** 2)
    fd = (loss[0] - loss[1]) / (2 * h)
    np.testing.assert_allclose(est.influence_score(X_query, y_query), fd, rtol=1e-5)


def test_unlabelled_score_is_expected_squared_influence(problem):
    est, X, y, w, X_query = problem
    est.fit(X, y, sample_weight=w)
    rng = np.random.RandomState(1)
    n_draws = 200_000
    mean = est.predict(X_query)
    u = est.influence_score(X_query)
    for j in range(X_query.shape[0]):
        labels = mean[j] + np.sqrt(est.dispersion_) * rng.normal(size=n_draws)
        rows = sp.vstack([_row(X_query, j)] * 1) if sp.issparse(X_query) else None
        x = rows if rows is not None else _row(X_query, j)
        c = est.influence_score(x, labels[:1])  # shape check on one label
        assert c.shape == (1,)
        dnds = est.predict_tangent(x)[0]
        c_all = (mean[j] - labels) * dnds  # l'(y, eta) * d eta / ds
        np.testing.assert_allclose(np.mean(c_all**2), u[j], rtol=0.02)
        assert abs(np.mean(c_all)) < 0.02 * np.sqrt(u[j])


def test_dispersion_is_pearson_over_residual_dof(problem):
    """Brute-force hat matrix: eta is linear in y, so refit on unit targets."""
    est, X, y, w, _ = problem
    est.fit(X, y, sample_weight=w)
    n = X.shape[0]
    w0 = np.ones(n) if w is None else w
    trace = 0.0
    for j in range(n):
        e = np.zeros(n)
        e[j] = 1.0
        trace += with_params(est).fit(X, e, sample_weight=w).predict(_row(X, j))[0]
    chi2 = np.sum(w0 * (y - est.predict(X)) ** 2)
    np.testing.assert_allclose(est.dispersion_, chi2 / (n - trace), rtol=1e-8)


def test_curiosity_peaks_in_a_gap():
    """u(x) is largest where the data leave the prediction to the penalty."""
    from sktangent import TangentRegressor

    rng = np.random.RandomState(0)
    x = np.concatenate([rng.uniform(-3, -1, 40), rng.uniform(1, 3, 40)])
    y = np.sin(2 * x) + 0.1 * rng.normal(size=x.size)
    est = TangentRegressor(alpha=0.1, kernel="rbf", gamma=1.0).fit(x[:, None], y)
    grid = np.linspace(-3, 3, 301)[:, None]
    u = est.influence_score(grid)
    assert -1 < grid[np.argmax(u), 0] < 1
    inside = (np.abs(grid[:, 0]) > 1.3) & (np.abs(grid[:, 0]) < 2.7)
    assert u[np.abs(grid[:, 0]) < 1].max() > 10 * np.median(u[inside])
