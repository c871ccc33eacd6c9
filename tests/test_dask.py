"""Dask arrays on a real two-worker cluster: every verb, query strategy and
fit equals its in-memory result, and no pool is ever gathered."""

import itertools
import subprocess
import sys
import warnings

import numpy as np
import pytest
from conftest import FAMILIES, draw, family_id

from sktangent import MultiUserTangentRegressor, TangentClassifier, TangentRegressor
from sktangent._dask import is_dask
from sktangent._families import get_family
from sktangent.query import (
    expected_influence_sampling,
    influence_sampling,
    variance_sampling,
)

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

RTOL = 1e-10


@pytest.fixture(scope="module")
def client():
    # Threads, not processes: quick to start on two cores; the tasks still
    # go through the distributed scheduler and its serialisation of the
    # graph.
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        dashboard_address=None,
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def test_import_does_not_import_dask():
    """``import sktangent`` works where dask is absent, and never imports it."""
    code = (
        "import sys\n"
        "sys.modules['dask'] = None  # importing dask now raises\n"
        "import sktangent, sktangent.query\n"
        "import numpy as np\n"
        "X = np.arange(20.0).reshape(10, 2) ** 0.5\n"
        "reg = sktangent.TangentRegressor().fit(X, X[:, 0])\n"
        "reg.predict(X); sktangent.query.influence_sampling(reg, X)\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "ok"


# ------------------------------------------------------------------ pools
def _data(seed=0, n=80, p=3):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, p))
    pool = rng.normal(size=(700, p))
    return rng, X, pool


def _fitted(kind):
    rng, X, pool = _data()
    eta = 0.5 * X @ np.array([1.0, -0.5, 0.25]) + 0.2
    if kind == "normal":
        y = eta + 0.3 * rng.normal(size=eta.size)
        est = TangentRegressor(alpha=0.7)
    elif kind == "weighted-nointercept":
        y = eta + 0.3 * rng.normal(size=eta.size)
        est = TangentRegressor(alpha=0.7, fit_intercept=False)
        return est.fit(X, y, sample_weight=rng.uniform(0.5, 2, size=eta.size)), pool
    elif kind == "rbf":
        y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=eta.size)
        est = TangentRegressor(alpha=0.3, kernel="rbf", gamma=0.4)
    elif kind == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
        est = TangentRegressor(alpha=0.7, family="poisson")
    elif kind == "gamma-lbfgs":
        y = rng.gamma(2.0, np.exp(eta) / 2.0)
        est = TangentRegressor(alpha=0.7, family="gamma", solver="lbfgs")
    elif kind == "linear-dual":
        X = np.hstack([X[:10], rng.normal(size=(10, 10))])
        y = X[:, 0] + 0.1 * rng.normal(size=10)
        pool = rng.normal(size=(700, 13))
        est = TangentRegressor(alpha=0.7)
    elif kind == "classifier":
        y = (eta + 0.5 * rng.normal(size=eta.size) > 0.2).astype(int)
        est = TangentClassifier(alpha=0.7)
    return est.fit(X, y), pool


KINDS = [
    "normal",
    "weighted-nointercept",
    "rbf",
    "poisson",
    "gamma-lbfgs",
    "linear-dual",
    "classifier",
]


def _pool(pool, rows=100):
    return da.from_array(pool, chunks=(rows, pool.shape[1]))


@pytest.mark.parametrize("kind", KINDS)
def test_verbs_on_a_dask_pool_equal_numpy(client, kind):
    est, pool = _fitted(kind)
    P = _pool(pool)
    if kind != "classifier":
        lazy = est.predict(P)
        assert isinstance(lazy, da.Array)
        np.testing.assert_allclose(lazy.compute(), est.predict(pool), rtol=RTOL)
        mean, std = est.predict(P, return_std=True)
        assert isinstance(std, da.Array)
        mean, std = dask.compute(mean, std)
        expected = est.predict(pool, return_std=True)
        np.testing.assert_allclose(mean, expected[0], rtol=RTOL)
        np.testing.assert_allclose(std, expected[1], rtol=RTOL)
        tangent = est.predict_tangent(P)
        assert isinstance(tangent, da.Array)
        np.testing.assert_allclose(
            tangent.compute(), est.predict_tangent(pool), rtol=RTOL, atol=1e-14
        )
        scores = est.influence_score(P)
        assert isinstance(scores, da.Array)
        np.testing.assert_allclose(
            scores.compute(), est.influence_score(pool), rtol=RTOL, atol=1e-300
        )
        y = est.predict(pool) * 1.1 + 0.05
        for labels in (y, da.from_array(y, chunks=70)):  # numpy or dask labels
            np.testing.assert_allclose(
                est.influence_score(P, labels).compute(),
                est.influence_score(pool, y),
                rtol=RTOL,
                atol=1e-14,
            )


STRATEGIES = [
    (influence_sampling, {}),
    (variance_sampling, {}),
    (expected_influence_sampling, {}),
    (expected_influence_sampling, {"goal": "predictions", "goal_size": 40}),
]


@pytest.mark.parametrize("kind", KINDS)
def test_strategies_on_a_dask_pool_equal_numpy(client, kind):
    est, pool = _fitted(kind)
    P = _pool(pool)
    for (strategy, options), n_instances in itertools.product(STRATEGIES, (1, 4)):
        if kind == "linear-dual" and options.get("goal"):
            continue  # the dual's goal batches: covered by rbf
        idx, scores = strategy(est, pool, n_instances=n_instances, **options)
        idx_d, scores_d = strategy(est, P, n_instances=n_instances, **options)
        np.testing.assert_array_equal(idx_d, idx, err_msg=strategy.__name__)
        np.testing.assert_allclose(scores_d, scores, rtol=RTOL)


def test_strategy_options_on_a_dask_pool(client):
    est, pool = _fitted("normal")
    P = _pool(pool, rows=64)
    # Ties everywhere: a pool of repeated rows decides by the tie-breaking.
    tied = np.repeat(pool[:7], 50, axis=0)
    T = _pool(tied, rows=64)
    for strategy in (influence_sampling, expected_influence_sampling):
        for seed in (0, 5):
            a = strategy(est, tied, 3, random_tie_break=True, random_state=seed)
            b = strategy(est, T, 3, random_tie_break=True, random_state=seed)
            np.testing.assert_array_equal(b[0], a[0])
    X_goal = pool[:30] + 0.5
    for goal in (X_goal, da.from_array(X_goal, chunks=13)):
        a = expected_influence_sampling(est, pool, 3, X_goal=X_goal)
        b = expected_influence_sampling(est, P, 3, X_goal=goal)
        np.testing.assert_array_equal(b[0], a[0])
        np.testing.assert_allclose(b[1], a[1], rtol=RTOL)


def test_pipeline_transforms_a_dask_pool_block_by_block(client):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng, X, pool = _data()
    pipe = make_pipeline(StandardScaler(), TangentRegressor(alpha=0.5))
    pipe.fit(3 * X + 1, X[:, 0] + 0.1 * rng.normal(size=X.shape[0]))
    a = influence_sampling(pipe, pool, 3)
    b = influence_sampling(pipe, _pool(pool), 3)
    np.testing.assert_array_equal(b[0], a[0])


# --------------------------------------------- the pool is never gathered
class _Sizes(dask.callbacks.Callback):
    """The largest result of any task (the local scheduler's callbacks)."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def _posttask(self, key, result, dsk, state, worker_id):
        self.largest = max(self.largest, dask.sizeof.sizeof(result))


def _largest_result(run):
    with dask.config.set(scheduler="sync"), _Sizes() as sizes:
        run()
    return sizes.largest


@pytest.mark.parametrize("kind", ["normal", "rbf"])
def test_no_task_holds_more_than_a_block(kind):
    """Every task of every verb returns at most one block's worth of data:
    a pool of 30 blocks is scored, queried and fitted on without ever being
    concatenated (gathering it would make one result 30 blocks large)."""
    est, _ = _fitted(kind)
    rows = 100
    # Generated block by block: no whole array anywhere in the graph.
    random = da.random.RandomState(1)
    P = random.normal(size=(30 * rows, 3), chunks=(rows, 3))
    block = rows * 3 * 8
    runs = [
        # Summed: the scores themselves are one number per row.
        lambda: est.predict(P, return_std=True)[1].sum().compute(),
        lambda: est.influence_score(P).sum().compute(),
        lambda: est.predict_tangent(P).sum().compute(),
        lambda: influence_sampling(est, P, 3),
        lambda: variance_sampling(est, P, 3),
        lambda: expected_influence_sampling(est, P, 3),
    ]
    if kind == "normal":
        Y = P @ np.array([1.0, 2.0, -1.0]) + random.normal(size=30 * rows, chunks=rows)
        runs.append(lambda: TangentRegressor(alpha=1.0).fit(P, Y))
        runs.append(lambda: TangentRegressor(family="poisson").fit(P, abs(Y)))
    for run in runs:
        assert 0 < _largest_result(run) <= 1.05 * block
    # The check can fail: gathering the pool holds it in one result.
    gathered = _largest_result(lambda: dask.delayed(np.sum)(P).compute())
    assert gathered >= 30 * block


# ------------------------------------------------------------------- fit
def _fit_problem(name, power, fit_intercept, weighted, seed=0):
    rng = np.random.RandomState(seed)
    n, p = 600, 4
    X = rng.normal(size=(n, p))
    X[:, 3] = 2.5 if fit_intercept else X[:, 3]  # a constant column
    eta = 0.4 * X[:, :3] @ np.array([1.0, -0.5, 0.3]) + 0.2
    if name == "normal":
        y = eta + 0.4 * rng.normal(size=n)
    else:
        y = draw(name, power, get_family(name, power).inverse_link(eta), 0.5, rng)
    w = rng.uniform(0.5, 2.0, size=n) if weighted else None
    return X, y, w


def _assert_same_fit(a, b):
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(a.coef_tangent_, b.coef_tangent_, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(
        a.intercept_tangent_, b.intercept_tangent_, rtol=RTOL, atol=1e-12
    )
    np.testing.assert_allclose(a.dispersion_, b.dispersion_, rtol=RTOL)


def _no_dask_inside(obj, seen=None, depth=0):
    """No dask collection anywhere in the attributes of ``obj``."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 4:
        return
    seen.add(id(obj))
    assert not hasattr(type(obj), "__dask_graph__"), type(obj)
    values = getattr(obj, "__dict__", {}).values()
    if isinstance(obj, (list, tuple)):
        values = obj
    for value in values:
        if not callable(value):
            _no_dask_inside(value, seen, depth + 1)


SPECS = [("normal", None), *FAMILIES]


@pytest.mark.parametrize("spec", SPECS, ids=family_id)
@pytest.mark.parametrize(
    "fit_intercept, weighted",
    [(True, True), (False, True), (True, False)],
    ids=["intercept-weighted", "nointercept-weighted", "intercept-unweighted"],
)
def test_fit_on_dask_equals_fit_in_memory(client, spec, fit_intercept, weighted):
    name, power = spec
    X, y, w = _fit_problem(name, power, fit_intercept, weighted)
    params = {"alpha": 2.0, "family": name, "power": power}
    params.update(fit_intercept=fit_intercept, tol=1e-12)
    ref = TangentRegressor(**params).fit(X, y, sample_weight=w)
    Xd = da.from_array(X, chunks=(250, 2))  # uneven row and column chunks
    yd = da.from_array(y, chunks=180)  # other chunks than X's
    wd = None if w is None else da.from_array(w, chunks=250)
    inputs = [(yd, wd)]
    if fit_intercept and weighted:
        inputs.append((y, w))  # numpy y and weights with a dask X
    for labels, weights in inputs:
        est = TangentRegressor(**params).fit(Xd, labels, sample_weight=weights)
        _assert_same_fit(est, ref)
        assert est.n_features_in_ == X.shape[1]
        _no_dask_inside(est.fitted_state_)
        np.testing.assert_allclose(
            est.predict(X, return_std=True)[1],
            ref.predict(X, return_std=True)[1],
            rtol=RTOL,
        )
    if fit_intercept:
        assert est.coef_[3] == 0.0 and est.coef_tangent_[3] == 0.0


def test_fit_on_dask_with_scalar_weight(client):
    X, y, _ = _fit_problem("poisson", None, True, False)
    ref = TangentRegressor(family="poisson", tol=1e-12).fit(X, y, sample_weight=3.0)
    est = TangentRegressor(family="poisson", tol=1e-12)
    est.fit(da.from_array(X, chunks=200), y, sample_weight=3.0)
    _assert_same_fit(est, ref)


# ----------------------------------------------------------------- errors
def test_unsupported_dask_input_is_refused(client):
    X, y, _ = _fit_problem("normal", None, True, False)
    Xd = da.from_array(X, chunks=100)
    with pytest.raises(ValueError, match="kernel=None"):
        TangentRegressor(kernel="rbf").fit(Xd, y)
    wide = da.from_array(np.random.RandomState(0).normal(size=(5, 8)), chunks=2)
    with pytest.raises(ValueError, match="n_samples >= n_features"):
        TangentRegressor().fit(wide, np.arange(5.0))
    with pytest.raises(ValueError, match="lbfgs"):
        TangentRegressor(family="poisson", solver="lbfgs").fit(Xd, abs(y))
    with pytest.raises(ValueError, match="solver='sgd' is not available"):
        TangentRegressor(solver="sgd").fit(Xd, y)
    with pytest.raises(ValueError, match="non-negative"):
        TangentRegressor().fit(Xd, y, sample_weight=-np.ones(y.size))
    with pytest.raises(ValueError, match="poisson"):
        TangentRegressor(family="poisson").fit(Xd, y - 10)
    with pytest.raises(ValueError, match="entries for"):
        TangentRegressor().fit(Xd, y[:-1])
    est = TangentRegressor().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        est.predict(da.from_array(X[:, :2], chunks=100))
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        influence_sampling(est, Xd[Xd[:, 0] > 0])
    nan = X.copy()
    nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.predict(da.from_array(nan, chunks=100)).compute()
    est.set_params(alpha=3.0)
    with pytest.raises(ValueError, match="fit again"):
        est.predict(Xd)


def test_multi_user_learner_refuses_a_dask_pool(client):
    rng, X, pool = _data()
    groups = np.arange(X.shape[0]) % 3
    est = MultiUserTangentRegressor().fit(X, X[:, 0], groups=groups)
    with pytest.raises(ValueError, match="Compute"):
        influence_sampling(est, _pool(pool), groups=np.zeros(pool.shape[0]))


# ------------------------------------------------------------------- docs
def test_the_local_cluster_recipe_of_the_docs_runs():
    """docs/large_data.rst's recipe, run as it is (it starts its own cluster;
    last in the module, after the tests that use the shared one)."""
    import pathlib
    import textwrap

    page = pathlib.Path(__file__).parents[1] / "docs" / "large_data.rst"
    if not page.exists():
        pytest.skip("the documentation sources are not next to the tests")
    text = page.read_text()
    recipe = text[text.index("A LocalCluster recipe") :]
    code = recipe[recipe.index(".. code-block:: python") :].split("\n", 1)[1]
    code = textwrap.dedent(code)
    namespace = {}
    with warnings.catch_warnings():
        # Another cluster (a benchmark, a notebook) may hold the dashboard's port.
        warnings.filterwarnings("ignore", "Port .* is already in use")
        exec(compile(code, str(page), "exec"), namespace)
    assert namespace["indices"].shape == (3,)
    assert abs(namespace["glm"].coef_[0] - 0.3) < 0.05


def test_the_state_shipped_to_the_workers_keeps_no_training_rows():
    """The rows partial_fit keeps stay with the estimator: no query reads
    them, and every task would otherwise carry them."""
    from sktangent._dask import portable

    X, y, _ = _fit_problem("normal", None, True, False)
    state = TangentRegressor().fit(X, y).fitted_state_
    assert state.training is not None
    shipped = portable(state)
    assert shipped.training is None and shipped.check_query is None
    np.testing.assert_array_equal(shipped.coef, state.coef)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("kernel", [None, "rbf"])
def test_classifier_verbs_on_a_dask_pool(client, n_classes, kernel):
    """TangentClassifier's verbs on a dask pool: lazy dask arrays, computed
    block by block, equal to the verbs on the pool in memory."""
    rng = np.random.RandomState(7)
    X = rng.normal(size=(120, 3))
    names = np.array(["ant", "bee", "cat"])[:n_classes]
    y = names[np.argmax(X[:, :n_classes] + 0.5 * rng.normal(size=(120, n_classes)), 1)]
    clf = TangentClassifier(alpha=0.5, kernel=kernel).fit(X, y)
    pool = rng.normal(size=(700, 3))
    labels = names[rng.randint(n_classes, size=700)]
    Xd = da.from_array(pool, chunks=150)
    for verb in (
        "decision_function",
        "predict_tangent",
        "predict_proba",
        "predict_log_proba",
        "influence_score",
    ):
        lazy = getattr(clf, verb)(Xd)
        assert is_dask(lazy)
        np.testing.assert_allclose(
            lazy.compute(), getattr(clf, verb)(pool), rtol=1e-10, atol=1e-12
        )
    predicted = clf.predict(Xd)
    assert is_dask(predicted)
    np.testing.assert_array_equal(predicted.compute(), clf.predict(pool))
    labelled = clf.influence_score(Xd, da.from_array(labels, chunks=150))
    np.testing.assert_allclose(
        labelled.compute(), clf.influence_score(pool, labels), rtol=1e-10, atol=1e-12
    )
    with pytest.raises(ValueError, match="dask"):
        clf.predict_proba(Xd, return_std=True)
