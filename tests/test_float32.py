"""float32 input: outputs in scikit-learn's dtype, computed in float64, and a
float32 pool never copied to float64 as a whole."""

import tracemalloc

import numpy as np
import pytest
import sklearn
from sklearn.kernel_approximation import Nystroem
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline

import sktangent._models
from sktangent import TangentClassifier, TangentRegressor
from sktangent.query import (
    expected_influence_sampling,
    influence_sampling,
    variance_sampling,
)

GAMMA = 0.1
SKLEARN_VERSION = tuple(int(part) for part in sklearn.__version__.split(".")[:2])
SHAPES = {
    "linear": ({}, lambda: Ridge(alpha=1.0)),
    "nystroem": (
        {"kernel": "rbf", "gamma": GAMMA, "n_components": 30, "random_state": 0},
        lambda: make_pipeline(
            Nystroem(kernel="rbf", gamma=GAMMA, n_components=30, random_state=0),
            Ridge(alpha=1.0),
        ),
    ),
    "kernel": (
        {"kernel": "rbf", "gamma": GAMMA},
        lambda: KernelRidge(alpha=1.0, kernel="rbf", gamma=GAMMA),
    ),
}


def data(family, n=150, p=4, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, p)).astype(np.float32)
    f = X @ np.linspace(-0.5, 0.5, p)
    y = {
        "normal": f + 0.3 * rng.normal(size=n),
        "poisson": rng.poisson(np.exp(f)).astype(float),
        "binomial": (f + 0.5 * rng.normal(size=n) > 0).astype(float),
    }[family]
    return X, y, rng.normal(size=(40, p)).astype(np.float32)


def outputs(model, X):
    mean, std = model.predict(X, return_std=True)
    return {
        "predict": model.predict(X),
        "predict mean": mean,
        "predict std": std,
        "predict_tangent": model.predict_tangent(X),
        "influence_score": model.influence_score(X),
    }


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("fit32", [True, False])
@pytest.mark.parametrize("query32", [True, False])
def test_output_dtype_is_scikit_learns(shape, fit32, query32):
    X, y, Xq = data("normal")
    params, reference = SHAPES[shape]
    X_fit = X if fit32 else X.astype(np.float64)
    X_query = Xq if query32 else Xq.astype(np.float64)
    expected = reference().fit(X_fit, y).predict(X_query).dtype
    model = TangentRegressor(**params).fit(X_fit, y)
    for name, out in outputs(model, X_query).items():
        assert out.dtype == expected, name
    labelled = model.influence_score(X_query, model.predict(X_query) + 0.1)
    assert labelled.dtype == expected


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("family", ["normal", "poisson", "binomial"])
def test_float32_values_are_the_float64_values_rounded(shape, family):
    X, y, Xq = data(family)
    params = dict(SHAPES[shape][0], family=family)
    model32 = TangentRegressor(**params).fit(X, y)
    model64 = TangentRegressor(**params).fit(X.astype(np.float64), y)
    # Fitted in float64 either way: the same model.
    np.testing.assert_array_equal(
        model32.fitted_state_.coef, model64.fitted_state_.coef
    )
    out32 = outputs(model32, Xq)
    out64 = outputs(model64, Xq.astype(np.float64))
    for name, a in out32.items():
        b = out64[name]
        np.testing.assert_allclose(a, b.astype(a.dtype), rtol=1e-6, err_msg=name)
    picks32 = variance_sampling(model32, Xq, n_instances=3)
    picks64 = variance_sampling(model64, Xq.astype(np.float64), n_instances=3)
    np.testing.assert_array_equal(picks32[0], picks64[0])
    np.testing.assert_allclose(picks32[1], picks64[1], rtol=1e-8)


def peak_bytes(func):
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("shape", ["linear", "nystroem"])
def test_a_float32_pool_is_never_copied_to_float64_whole(shape, monkeypatch):
    # Small blocks, so that a block is far smaller than the pool.
    monkeypatch.setattr(sktangent._models, "_BLOCK_ELEMENTS", 2**16)
    X, y, _ = data("normal", n=400, p=200)
    model = TangentRegressor(**SHAPES[shape][0]).fit(X, y)
    pool = np.random.RandomState(1).normal(size=(20_000, 200)).astype(np.float32)
    copy64 = pool.size * 8  # 32 MB
    for verb in (
        lambda: model.predict(pool),
        lambda: model.predict(pool, return_std=True),
        lambda: model.predict_tangent(pool),
        lambda: model.influence_score(pool),
        lambda: influence_sampling(model, pool, n_instances=3),
        lambda: variance_sampling(model, pool, n_instances=3),
    ):
        verb()  # the dispersion, computed once
        # A few pool-length float64 vectors (scores, tangents) and one block.
        assert peak_bytes(verb) < copy64 / 2
    # The goal-oriented strategy keeps the whitened pool (p + 1 float64
    # columns per row, section 9 of the theory), but no copy of the pool.
    width = model.fitted_state_.model.width + 1
    peak = peak_bytes(lambda: expected_influence_sampling(model, pool, n_instances=3))
    assert peak < 5 * pool.shape[0] * width * 8


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("fit32", [True, False])
@pytest.mark.parametrize("query32", [True, False])
def test_classifier_dtypes_are_logistic_regressions(n_classes, fit32, query32):
    X, _, Xq = data("normal")
    y = np.digitize(X[:, 0], [-0.5, 0.5][: n_classes - 1])
    X_fit = X if fit32 else X.astype(np.float64)
    X_query = Xq if query32 else Xq.astype(np.float64)
    expected = np.float32 if fit32 and query32 else np.float64
    # scikit-learn 1.9 keeps float32 in LogisticRegression; 1.7 gave float64.
    if SKLEARN_VERSION >= (1, 9):
        reference = LogisticRegression().fit(X_fit, y).predict_proba(X_query)
        assert reference.dtype == expected
    clf = TangentClassifier().fit(X_fit, y)
    ref = TangentClassifier().fit(X.astype(np.float64), y)
    Xq64 = Xq.astype(np.float64)
    proba, std = clf.predict_proba(X_query, return_std=True)
    for name, out, out64 in [
        (
            "decision_function",
            clf.decision_function(X_query),
            ref.decision_function(Xq64),
        ),
        ("predict_tangent", clf.predict_tangent(X_query), ref.predict_tangent(Xq64)),
        ("predict_proba", proba, ref.predict_proba(Xq64)),
        ("std", std, ref.predict_proba(Xq64, return_std=True)[1]),
        ("influence_score", clf.influence_score(X_query), ref.influence_score(Xq64)),
    ]:
        assert out.dtype == expected, name
        np.testing.assert_allclose(out, out64, rtol=1e-6, atol=1e-7, err_msg=name)
    # A kernel classifier (no scikit-learn counterpart) stays float64.
    kernel = TangentClassifier(kernel="rbf", gamma=GAMMA).fit(X_fit, y)
    assert kernel.predict_proba(X_query).dtype == np.float64


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_float32_pool_gives_the_float64_batches(n_classes):
    X, _, Xq = data("normal")
    y = np.digitize(X[:, 0], [-0.5, 0.5][: n_classes - 1])
    clf = TangentClassifier().fit(X, y)
    for strategy in (
        influence_sampling,
        variance_sampling,
        expected_influence_sampling,
    ):
        a = strategy(clf, Xq, n_instances=3)
        b = strategy(clf, Xq.astype(np.float64), n_instances=3)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_allclose(a[1], b[1], rtol=1e-9)
