"""clone, pickle, Pipeline and GridSearchCV."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_diabetes
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktangent import TangentRegressor


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


@pytest.mark.parametrize("params", [{}, {"kernel": "rbf", "gamma": 0.1}])
def test_clone_and_pickle_round_trip(params, diabetes):
    X, y = diabetes
    est = TangentRegressor(alpha=0.5, **params).fit(X, y)
    fresh = clone(est)
    assert fresh.get_params() == est.get_params()
    assert not hasattr(fresh, "intercept_")
    loaded = pickle.loads(pickle.dumps(est))
    for method in ("predict", "predict_tangent", "influence_score"):
        np.testing.assert_array_equal(
            getattr(loaded, method)(X[:20]), getattr(est, method)(X[:20])
        )
    np.testing.assert_array_equal(
        loaded.predict(X[:20], return_std=True)[1],
        est.predict(X[:20], return_std=True)[1],
    )


def test_pipeline_with_scaler(diabetes):
    X, y = diabetes
    pipe = make_pipeline(StandardScaler(), TangentRegressor(alpha=1.0)).fit(X, y)
    assert pipe.score(X, y) > 0.45
    reg = pipe[-1]
    Xs = pipe[:-1].transform(X[:10])
    mean, std = pipe.predict(X[:10], return_std=True)
    np.testing.assert_allclose(mean, reg.predict(Xs))
    assert std.shape == (10,)
    assert np.all(reg.influence_score(Xs) >= 0)


def test_grid_search_over_alpha_and_gamma(diabetes):
    X, y = diabetes
    pipe = make_pipeline(StandardScaler(), TangentRegressor(kernel="rbf"))
    grid = GridSearchCV(
        pipe,
        {
            "tangentregressor__alpha": [0.1, 1.0, 10.0],
            "tangentregressor__gamma": [0.01, 0.1],
        },
        cv=3,
    ).fit(X, y)
    assert set(grid.best_params_) == {
        "tangentregressor__alpha",
        "tangentregressor__gamma",
    }
    best = grid.best_estimator_[-1]
    assert best.alpha == grid.best_params_["tangentregressor__alpha"]
    assert grid.best_estimator_.predict(X[:5]).shape == (5,)
    assert np.all(
        np.isfinite(best.predict_tangent(grid.best_estimator_[0].transform(X[:5])))
    )


def test_feature_names_are_recorded():
    pd = pytest.importorskip("pandas")
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    est = TangentRegressor().fit(X, y)
    np.testing.assert_array_equal(est.feature_names_in_, X.columns)
    assert est.influence_score(X.iloc[:3]).shape == (3,)
    assert isinstance(X, pd.DataFrame)
