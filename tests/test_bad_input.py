"""Property-based bad-input battery (issue 14).

Random finite and non-finite arrays, extreme scales, odd shapes and dtypes are
fed to every public estimator, to the query strategies and to the influence
functions. Each call must either raise a clear error (a ValueError or
TypeError with a message, or scikit-learn's own, never a numpy linear-algebra
or ufunc error) or return finite output of the documented shape; no input may
be mutated. Derandomised, so that CI runs the same cases every time.
"""

import os
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402

from sktangent import (  # noqa: E402
    MultiUserTangentRegressor,
    TangentRegressor,
    TangentRegressorCV,
)
from sktangent import influence as inf  # noqa: E402
from sktangent.query import influence_sampling, variance_sampling  # noqa: E402

SETTINGS = settings(
    max_examples=int(os.environ.get("SKTANGENT_HYPOTHESIS_EXAMPLES", 150)),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)

#: (id, factory, family) of every estimator configuration under test.
CONFIGS = [
    ("normal-linear", lambda: TangentRegressor(alpha=0.5), "normal"),
    ("normal-rbf", lambda: TangentRegressor(alpha=0.5, kernel="rbf"), "normal"),
    ("poisson", lambda: TangentRegressor(family="poisson"), "poisson"),
    (
        "poisson-rbf",
        lambda: TangentRegressor(family="poisson", kernel="rbf", alpha=0.5),
        "poisson",
    ),
    ("gamma", lambda: TangentRegressor(family="gamma"), "gamma"),
    ("tweedie", lambda: TangentRegressor(family="tweedie", power=1.5), "tweedie"),
    ("binomial", lambda: TangentRegressor(family="binomial"), "binomial"),
    (
        "poisson-lbfgs",
        lambda: TangentRegressor(family="poisson", solver="lbfgs"),
        "poisson",
    ),
    (
        "poisson-sgd",
        lambda: TangentRegressor(
            family="poisson", solver="sgd", max_iter=5, random_state=0
        ),
        "poisson",
    ),
    (
        "gamma-pearson-nointercept",
        lambda: TangentRegressor(family="gamma", fit_intercept=False),
        "gamma",
    ),
    (
        "cv",
        lambda: TangentRegressorCV(alphas=[0.1, 1.0, 10.0], refine=False),
        "normal",
    ),
    (
        "cv-poisson",
        lambda: TangentRegressorCV(
            alphas=[0.1, 1.0, 10.0], refine=False, family="poisson"
        ),
        "poisson",
    ),
]

SPECIAL = [np.nan, np.inf, -np.inf, 1e300, -1e300, 1e-300, 5e-324, 1e154, 0.0]
SCALES = [1.0, 1.0, 1.0, 1e-6, 1e6, 1e-150, 1e150]

#: Calls made, by outcome; printed by the last test for the issue note.
COUNTS = {"cases": 0, "calls": 0, "errors": 0, "finite": 0}


@st.composite
def matrices(draw, n, p):
    """A mostly well-behaved matrix with a few special entries and a scale."""
    X = draw(arrays(np.float64, (n, p), elements=st.floats(-5, 5, width=64)))
    for _ in range(draw(st.integers(0, 2))):
        if X.size:
            i = draw(st.integers(0, X.size - 1))
            X.flat[i] = draw(st.sampled_from(SPECIAL))
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return X * draw(st.sampled_from(SCALES))


def support(y, family, respect):
    """Targets in the family's support (when ``respect``), else raw."""
    if not respect:
        return y
    with np.errstate(invalid="ignore"):
        if family in ("poisson", "tweedie"):
            return np.round(np.abs(y))
        if family == "gamma":
            return np.abs(y) + 0.1
        if family == "binomial":
            return (y > 0).astype(float)
    return y


@st.composite
def problems(draw, family):
    n = draw(st.integers(0, 12))
    p = draw(st.integers(1, 3))
    X = draw(matrices(n, p))
    y = draw(arrays(np.float64, (n,), elements=st.floats(-5, 5, width=64)))
    if n and draw(st.integers(0, 4)) == 0:
        y[draw(st.integers(0, n - 1))] = draw(st.sampled_from(SPECIAL))
    y = support(y, family, draw(st.integers(0, 3)) > 0)
    if family != "binomial":
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            y = y * draw(st.sampled_from(SCALES))
    m = draw(st.integers(0, 6))
    X_query = draw(matrices(m, p))
    y_query = support(
        draw(arrays(np.float64, (m,), elements=st.floats(-5, 5, width=64))),
        family,
        True,
    )
    return X, y, X_query, y_query


def _dense(a):
    return a.toarray() if hasattr(a, "toarray") else np.asarray(a)


def _is_clear(exc):
    """A deliberate error: not numpy's linear algebra or ufunc machinery."""
    if isinstance(exc, NotFittedError):
        return True
    if isinstance(exc, np.linalg.LinAlgError):
        return False
    if type(exc).__name__.startswith("UFunc") or "ufunc" in str(exc):
        return False
    return isinstance(exc, (ValueError, TypeError)) and bool(str(exc))


def attempt(fn, *arrays_in):
    """``fn()``, or None after a clear error; inputs must not be mutated."""
    before = [_dense(a).copy() for a in arrays_in]
    COUNTS["calls"] += 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                out = fn()
    except Exception as exc:  # noqa: BLE001 - classified just below
        assert _is_clear(exc), f"unclear error {type(exc).__name__}: {exc}"
        COUNTS["errors"] += 1
        out = None
    for a, b in zip(arrays_in, before, strict=True):
        np.testing.assert_array_equal(_dense(a), b, err_msg="an input was mutated")
    return out


def assert_finite(out, shape):
    if out is None:
        return
    for part in out if isinstance(out, tuple) else (out,):
        part = np.asarray(part)
        assert part.shape == shape, (part.shape, shape)
        assert np.all(np.isfinite(part)), part
    COUNTS["finite"] += 1


def exercise_fitted(model, family, X, y, X_query, y_query):
    """Every post-fit verb, strategy and influence function on one model."""
    m = X_query.shape[0]
    args = (X, y, X_query, y_query)
    assert_finite(attempt(lambda: model.predict(X_query), *args), (m,))
    assert_finite(attempt(lambda: model.predict(X_query, return_std=True), *args), (m,))
    assert_finite(attempt(lambda: model.predict_tangent(X_query), *args), (m,))
    assert_finite(attempt(lambda: model.influence_score(X_query), *args), (m,))
    assert_finite(attempt(lambda: model.influence_score(X_query, y_query), *args), (m,))
    k = min(2, m) or 1
    for strategy in (influence_sampling, variance_sampling):
        out = attempt(lambda s=strategy: s(model, X_query, n_instances=k), *args)
        assert_finite(out, (k,))
        if out is not None:
            assert len(set(out[0].tolist())) == k
            assert np.all((0 <= out[0]) & (out[0] < m))
    n = X.shape[0]
    assert_finite(attempt(lambda: inf.self_influence(model, X, y), *args), (n,))
    assert_finite(
        attempt(lambda: inf.leave_one_out(model, X, y).predictions, *args), (n,)
    )
    assert_finite(attempt(lambda: inf.memorisation_score(model, X, y), *args), (n,))
    assert_finite(
        attempt(lambda: inf.prediction_influence(model, X, y, X_query), *args),
        (m, n),
    )
    assert_finite(
        attempt(lambda: inf.loss_influence(model, X, y, X_query, y_query), *args),
        (m, n),
    )
    assert_finite(
        attempt(lambda: inf.harm_score(model, X, y, X_query, y_query), *args), (n,)
    )


@pytest.mark.parametrize(
    "factory, family", [c[1:] for c in CONFIGS], ids=[c[0] for c in CONFIGS]
)
@SETTINGS
@given(data=st.data())
def test_estimators_on_random_arrays(factory, family, data):
    X, y, X_query, y_query = data.draw(problems(family))
    weights = None
    if X.shape[0] and data.draw(st.integers(0, 3)) == 0:
        weights = data.draw(
            arrays(
                np.float64,
                (X.shape[0],),
                elements=st.sampled_from([0.0, 0.5, 1.0, 3.0, -1.0, np.nan, 1e300]),
            )
        )
    COUNTS["cases"] += 1
    model = attempt(lambda: factory().fit(X, y, sample_weight=weights), X, y)
    if weights is not None and model is not None:
        # The influence functions need the weights of the fit.
        args = (X, y, weights)
        n = X.shape[0]
        assert_finite(
            attempt(
                lambda: (
                    inf.leave_one_out(model, X, y, sample_weight=weights).predictions
                ),
                *args,
            ),
            (n,),
        )
    if model is None:
        return
    coef = getattr(model, "coef_", None)
    if coef is not None:
        assert np.all(np.isfinite(coef))
    exercise_fitted(model, family, X, y, X_query, y_query)


@pytest.mark.parametrize(
    "factory, family",
    [c[1:] for c in CONFIGS if c[0] in ("normal-linear", "poisson", "normal-rbf")],
    ids=["normal-linear", "poisson", "normal-rbf"],
)
@SETTINGS
@given(data=st.data())
def test_estimators_on_random_sparse_arrays(factory, family, data):
    X, y, X_query, y_query = data.draw(problems(family))
    X, X_query = sp.csr_matrix(X), sp.csr_matrix(X_query)
    COUNTS["cases"] += 1
    model = attempt(lambda: factory().fit(X, y), X, y)
    if model is not None:
        exercise_fitted(model, family, X, y, X_query, y_query)


@SETTINGS
@given(data=st.data())
def test_multiuser_on_random_arrays(data):
    family = data.draw(st.sampled_from(["normal", "poisson", "binomial"]))
    X, y, X_query, y_query = data.draw(problems(family))
    n, m = X.shape[0], X_query.shape[0]
    groups = data.draw(arrays(np.int64, (n,), elements=st.integers(0, 2)))
    groups_query = data.draw(arrays(np.int64, (m,), elements=st.integers(0, 3)))
    COUNTS["cases"] += 1
    args = (X, y, groups, X_query, groups_query)
    model = attempt(
        lambda: MultiUserTangentRegressor(family=family).fit(X, y, groups=groups),
        *args,
    )
    if model is None:
        return
    assert_finite(attempt(lambda: model.predict(X_query, groups_query), *args), (m,))
    assert_finite(
        attempt(lambda: model.predict_tangent(X_query, groups_query), *args), (m, 2)
    )
    assert_finite(
        attempt(lambda: model.influence_score(X_query, groups=groups_query), *args),
        (m, 2),
    )
    k = min(2, m) or 1
    out = attempt(
        lambda: influence_sampling(model, X_query, n_instances=k, groups=groups_query),
        *args,
    )
    assert_finite(out, (k,))


ODD_INPUTS = [
    ("empty", lambda rng: np.empty((0, 2))),
    ("one-row", lambda rng: rng.normal(size=(1, 2))),
    ("1-D", lambda rng: rng.normal(size=6)),
    ("3-D", lambda rng: rng.normal(size=(6, 2, 1))),
    ("no-columns", lambda rng: np.empty((6, 0))),
    ("int", lambda rng: rng.randint(-3, 3, size=(6, 2))),
    ("bool", lambda rng: rng.uniform(size=(6, 2)) > 0.5),
    ("float32", lambda rng: rng.normal(size=(6, 2)).astype(np.float32)),
    ("complex", lambda rng: rng.normal(size=(6, 2)) + 1j),
    ("strings", lambda rng: np.array([["a", "b"]] * 6)),
    ("object", lambda rng: np.array([[1.0, None]] * 6, dtype=object)),
    ("list", lambda rng: rng.normal(size=(6, 2)).tolist()),
]
ODD_TARGETS = [
    ("good", lambda rng: rng.uniform(0.1, 2.0, size=6)),
    ("2-D", lambda rng: rng.uniform(0.1, 2.0, size=(6, 2))),
    ("short", lambda rng: rng.uniform(0.1, 2.0, size=5)),
    ("strings", lambda rng: np.array(["a", "b"] * 3)),
    ("numeric-strings", lambda rng: np.array(["1.5", "0.5"] * 3)),
    ("constant", lambda rng: np.ones(6)),
]


@SETTINGS
@given(
    config=st.sampled_from(CONFIGS),
    X_kind=st.sampled_from(ODD_INPUTS),
    y_kind=st.sampled_from(ODD_TARGETS),
    query_kind=st.sampled_from(ODD_INPUTS),
)
def test_odd_shapes_and_dtypes(config, X_kind, y_kind, query_kind):
    _, factory, family = config
    rng = np.random.RandomState(0)
    X, y, X_query = X_kind[1](rng), y_kind[1](rng), query_kind[1](rng)
    if family == "binomial" and y_kind[0] in ("good", "constant"):
        y = (np.asarray(y) > 1.0).astype(float)
    COUNTS["cases"] += 1
    arrays_in = [a for a in (X, y, X_query) if isinstance(a, np.ndarray)]
    model = attempt(lambda: factory().fit(X, y), *arrays_in)
    if model is None:
        return
    m = np.shape(X_query)[0] if np.ndim(X_query) else 0
    for call in (
        lambda: model.predict(X_query),
        lambda: model.influence_score(X_query),
        lambda: influence_sampling(model, X_query),
    ):
        out = attempt(call, *arrays_in)
        if out is not None:
            parts = out if isinstance(out, tuple) else (out,)
            assert all(np.all(np.isfinite(np.asarray(p, dtype=float))) for p in parts)
    assert_finite(attempt(lambda: model.predict(X_query), *arrays_in), (m,))


def test_report_case_count(capsys):
    """Not a check: prints how many cases and calls the battery ran."""
    with capsys.disabled():
        print(f"\nbad-input battery: {COUNTS}")
