"""Bad input: a clear error, never a silent NaN."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from sktangent import TangentRegressor

CONFIGS = [{}, {"kernel": "rbf"}]


@pytest.fixture
def data(rng):
    X = rng.normal(size=(20, 3))
    return X, X @ [1.0, 2.0, -1.0] + 0.1 * rng.normal(size=20)


@pytest.mark.parametrize("params", CONFIGS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_is_rejected(params, bad, data):
    X, y = data
    X_bad = X.copy()
    X_bad[3, 1] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        TangentRegressor(**params).fit(X_bad, y)
    y_bad = y.copy()
    y_bad[0] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        TangentRegressor(**params).fit(X, y_bad)
    est = TangentRegressor(**params).fit(X, y)
    for method in (est.predict, est.predict_tangent, est.influence_score):
        with pytest.raises(ValueError, match="NaN|infinity"):
            method(X_bad)
    with pytest.raises(ValueError, match="NaN|infinity"):
        est.influence_score(X, y_bad)


@pytest.mark.parametrize("params", CONFIGS)
def test_wrong_number_of_features(params, data):
    X, y = data
    est = TangentRegressor(**params).fit(X, y)
    for method in (est.predict, est.predict_tangent, est.influence_score):
        with pytest.raises(ValueError, match="features"):
            method(X[:, :2])


def test_wrong_target_shapes(data):
    X, y = data
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        TangentRegressor().fit(X, y[:-1])
    with pytest.raises(ValueError, match="y"):
        TangentRegressor().fit(X, np.column_stack([y, y]))
    est = TangentRegressor().fit(X, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        est.influence_score(X, y[:-2])
    with pytest.raises(ValueError, match="y"):
        est.influence_score(X, np.column_stack([y, y]))


@pytest.mark.parametrize("alpha", [0.0, -1.0])
def test_alpha_must_be_positive(alpha, data):
    with pytest.raises(ValueError, match="alpha"):
        TangentRegressor(alpha=alpha).fit(*data)


def test_unknown_kernel_and_family(data):
    with pytest.raises(ValueError, match="kernel"):
        TangentRegressor(kernel="no-such-kernel").fit(*data)
    with pytest.raises(ValueError, match="family"):
        TangentRegressor(family="cauchy").fit(*data)


@pytest.mark.parametrize("params", CONFIGS)
def test_unfitted_estimator(params, data):
    est = TangentRegressor(**params)
    for method in (est.predict, est.predict_tangent, est.influence_score):
        with pytest.raises(NotFittedError):
            method(data[0])
    with pytest.raises(NotFittedError):
        est.dispersion_  # noqa: B018


def test_one_sample_is_rejected(data):
    X, y = data
    with pytest.raises(ValueError, match="1 sample"):
        TangentRegressor().fit(X[:1], y[:1])


def test_bad_sample_weights(data):
    X, y = data
    w = np.ones(len(y))
    w[2] = -1.0
    with pytest.raises(ValueError, match="non-negative"):
        TangentRegressor().fit(X, y, sample_weight=w)
    with pytest.raises(ValueError, match="zero everywhere|non-zero"):
        TangentRegressor().fit(X, y, sample_weight=np.zeros(len(y)))


def test_precomputed_kernel_must_be_square(data):
    X, y = data
    with pytest.raises(ValueError, match="square"):
        TangentRegressor(kernel="precomputed").fit(X, y)


@pytest.mark.parametrize("params", [{}, {"kernel": "linear"}])
def test_singular_system_asks_for_more_alpha(params, rng):
    X = rng.normal(size=(30, 3))
    X = np.column_stack([X, X[:, 0]])  # collinear
    y = X[:, 0] + rng.normal(size=30)
    if params:
        X = np.repeat(X, 2, axis=0)[:30]  # duplicated rows: a singular kernel
    with pytest.raises(ValueError, match="increase alpha|Increase alpha"):
        TangentRegressor(alpha=1e-15, **params).fit(X, y)
    # A moderate alpha solves the same problem stably.
    est = TangentRegressor(alpha=1e-3, **params).fit(X, y)
    assert np.all(np.isfinite(est.predict(X)))
    assert np.all(np.isfinite(est.influence_score(X)))


def test_interpolating_fit_warns_about_dispersion(rng):
    X = rng.normal(size=(5, 40))
    y = rng.normal(size=5)
    est = TangentRegressor(alpha=1e-6).fit(X, y)
    with pytest.warns(UserWarning, match="degrees of freedom"):
        u = est.influence_score(X)
    assert np.all(np.isfinite(u))
