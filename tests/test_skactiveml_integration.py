"""sktangent.skactiveml: the strategies in scikit-activeml's protocol."""

import importlib
import sys
import warnings
from functools import partial

import numpy as np
import pytest

pytest.importorskip("skactiveml")

from skactiveml.pool import (  # noqa: E402
    ExpectedModelChangeMaximization,
    ExpectedModelVarianceReduction,
    GreedySamplingTarget,
    GreedySamplingX,
    QueryByCommittee,
    RandomSampling,
)
from skactiveml.regressor import SklearnNormalRegressor, SklearnRegressor  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_friedman1  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sktangent import TangentRegressor  # noqa: E402
from sktangent.query import (  # noqa: E402
    expected_influence_sampling,
    influence_sampling,
    variance_sampling,
)
from sktangent.skactiveml import (  # noqa: E402
    ExpectedInfluenceSampling,
    InfluenceSampling,
    VarianceSampling,
)

STRATEGIES = {"influence": (InfluenceSampling, influence_sampling)}
STRATEGIES["variance"] = (VarianceSampling, variance_sampling)
# The whole goal set, so that both sides score against the same goal points.
STRATEGIES["expected"] = (
    partial(ExpectedInfluenceSampling, goal_size=None),
    partial(expected_influence_sampling, goal_size=None),
)


def _problem(n=80, n_labeled=12, seed=0, missing_label=np.nan):
    X, y_true = make_friedman1(n_samples=n, n_features=5, noise=0.3, random_state=seed)
    y = np.full(n, missing_label, dtype=float)
    labeled = np.random.RandomState(seed).choice(n, n_labeled, replace=False)
    y[labeled] = y_true[labeled]
    return X, y, y_true, labeled


def _reg():
    return TangentRegressor(alpha=0.3, kernel="rbf", gamma=0.2)


def _candidates(kind, X, y):
    if kind == "none":
        return None
    if kind == "indices":
        return np.flatnonzero(np.isnan(y))[::2]
    return X[np.isnan(y)][:15] + 0.05  # samples that are not rows of X


@pytest.mark.parametrize("kind", ["none", "indices", "samples"])
@pytest.mark.parametrize("criterion", sorted(STRATEGIES))
def test_picks_are_the_greedy_batch_of_sktangent_query(criterion, kind):
    X, y, _, labeled = _problem()
    cls, function = STRATEGIES[criterion]
    candidates = _candidates(kind, X, y)
    picks = cls(random_state=0).query(X, y, _reg(), candidates=candidates, batch_size=5)

    fitted = _reg().fit(X[labeled], y[labeled])
    if kind == "none":
        pool_rows = np.flatnonzero(np.isnan(y))
        expected = pool_rows[function(fitted, X[pool_rows], 5)[0]]
    elif kind == "indices":
        expected = candidates[function(fitted, X[candidates], 5)[0]]
    else:
        expected = function(fitted, candidates, 5)[0]
    np.testing.assert_array_equal(picks, expected)


@pytest.mark.parametrize("kind", ["none", "indices", "samples"])
@pytest.mark.parametrize("criterion", sorted(STRATEGIES))
def test_return_utilities_follow_skactiveml(criterion, kind):
    X, y, _, labeled = _problem()
    cls, function = STRATEGIES[criterion]
    candidates = _candidates(kind, X, y)
    batch = 4
    picks, utilities = cls(random_state=1).query(
        X, y, _reg(), candidates=candidates, batch_size=batch, return_utilities=True
    )
    assert picks.shape == (batch,)
    if kind == "samples":
        assert utilities.shape == (batch, candidates.shape[0])
        scored = np.ones(candidates.shape[0], dtype=bool)
        X_scored = candidates
    else:
        assert utilities.shape == (batch, X.shape[0])
        scored = (
            np.isnan(y)
            if candidates is None
            else np.isin(np.arange(len(y)), candidates)
        )
        X_scored = X[scored]
        # labelled samples and samples that are not candidates carry NaN
        assert np.all(np.isnan(utilities[:, ~scored]))

    fitted = _reg().fit(X[labeled], y[labeled])
    first = utilities[0, scored]
    if criterion == "influence":
        np.testing.assert_allclose(first, fitted.influence_score(X_scored), rtol=1e-10)
    _, scores = function(fitted, X_scored, batch)
    columns = np.flatnonzero(scored)  # where the candidates sit in a row
    for k in range(batch):
        row = utilities[k]
        assert np.all(np.isnan(row[picks[:k]]))  # earlier picks are out
        assert np.all(np.isfinite(row[np.setdiff1d(columns, picks[:k])]))
        # row k is what pick k was chosen from: the conditioned criterion
        assert np.nanargmax(row) == picks[k]
        np.testing.assert_allclose(row[picks[k]], scores[k], rtol=1e-6)
    if criterion == "variance":  # conditioning only ever removes variance
        later, earlier = utilities[1:], utilities[:-1]
        both = np.isfinite(later) & np.isfinite(earlier)
        assert np.all(later[both] <= earlier[both] * (1 + 1e-9))


@pytest.mark.parametrize(
    "wrap",
    [
        lambda reg: reg,
        SklearnRegressor,
        SklearnNormalRegressor,
        lambda reg: SklearnRegressor(make_pipeline(StandardScaler(), reg)),
    ],
    ids=["bare", "SklearnRegressor", "SklearnNormalRegressor", "pipeline"],
)
def test_regressor_wrappers_and_fit_reg(wrap):
    X, y, _, labeled = _problem(seed=3)
    reg = wrap(_reg())
    qs = InfluenceSampling(random_state=0)
    picks = qs.query(X, y, reg, batch_size=3)
    assert np.all(np.isnan(y[picks])) and len(set(picks.tolist())) == 3

    if isinstance(reg, SklearnRegressor):
        fitted = reg.fit(X, y)  # the wrapper drops the missing labels itself
        assert isinstance(fitted.estimator_, type(reg.estimator))
    else:
        fitted = reg.fit(X[labeled], y[labeled])
    again = qs.query(X, y, fitted, fit_reg=False, batch_size=3)
    np.testing.assert_array_equal(again, picks)


def test_sample_weight_reaches_the_fit():
    X, y, _, labeled = _problem(seed=4)
    w = np.random.RandomState(0).uniform(0.2, 3.0, size=len(y))
    picks = InfluenceSampling(random_state=0).query(
        X, y, _reg(), sample_weight=w, batch_size=3
    )
    fitted = _reg().fit(X[labeled], y[labeled], sample_weight=w[labeled])
    pool_rows = np.flatnonzero(np.isnan(y))
    expected = pool_rows[influence_sampling(fitted, X[pool_rows], 3)[0]]
    np.testing.assert_array_equal(picks, expected)


def test_custom_missing_label():
    X, y, _, labeled = _problem(seed=5, missing_label=-999.0)
    qs = InfluenceSampling(missing_label=-999.0, random_state=0)
    picks = qs.query(X, y, SklearnRegressor(_reg(), missing_label=-999.0))
    assert picks.shape == (1,) and y[picks[0]] == -999.0
    with pytest.raises(ValueError, match="missing_label"):
        qs.query(X, y, SklearnRegressor(_reg()))  # the wrapper's NaN differs


def test_batch_larger_than_the_candidates_shrinks_with_a_warning():
    X, y, _, _ = _problem(n=20, n_labeled=17)
    with pytest.warns(UserWarning, match="batch_size"):
        picks = InfluenceSampling(random_state=0).query(X, y, _reg(), batch_size=5)
    assert sorted(picks.tolist()) == np.flatnonzero(np.isnan(y)).tolist()


def test_errors_name_the_problem():
    X, y, _, _ = _problem()
    qs = InfluenceSampling()
    with pytest.raises(TypeError, match="TangentRegressor"):
        qs.query(X, y, Ridge())
    with pytest.raises(TypeError, match="TangentRegressor"):
        qs.query(X, y, SklearnRegressor(Ridge()))
    y_few = np.full_like(y, np.nan)
    y_few[0] = 1.0
    with pytest.raises(ValueError, match="at least two labelled samples"):
        qs.query(X, y_few, _reg())
    y_neg = y.copy()
    y_neg[~np.isnan(y)] = -1.0  # a Poisson model cannot be fitted to this
    poisson = SklearnRegressor(TangentRegressor(family="poisson"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # scikit-activeml's own
        with pytest.raises(ValueError, match="could not be fitted"):
            qs.query(X, y_neg, poisson)


def test_import_error_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m.split(".")[0] == "skactiveml"]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "skactiveml", None)
    monkeypatch.delitem(sys.modules, "sktangent.skactiveml")
    with pytest.raises(ImportError, match=r'pip install "\.\[skactiveml\]"'):
        importlib.import_module("sktangent.skactiveml")


def test_normal_regressor_uses_the_laplace_predictive_std():
    X, y, _, labeled = _problem(seed=6)
    wrapped = SklearnNormalRegressor(_reg()).fit(X, y)
    dist = wrapped.predict_target_distribution(X[:10])
    mean, std = _reg().fit(X[labeled], y[labeled]).predict(X[:10], return_std=True)
    np.testing.assert_allclose(dist.mean(), mean, rtol=1e-12)
    np.testing.assert_allclose(dist.std(), std, rtol=1e-12)
    # and scikit-activeml's probabilistic strategies accept it
    picks = ExpectedModelVarianceReduction(random_state=0).query(
        X, y, SklearnNormalRegressor(_reg()), batch_size=2
    )
    assert np.all(np.isnan(y[picks]))


def _gap_problem(seed):
    """1-D inputs with a hole in (-1, 1): the region the penalty decides."""
    rng = np.random.RandomState(seed)
    x = rng.uniform(-3, 3, size=150)
    X = x[:, None]
    y_true = np.sin(2 * x) + 0.1 * rng.normal(size=150)
    outside = np.flatnonzero(np.abs(x) > 1.2)
    y = np.full(150, np.nan)
    start = rng.choice(outside, 10, replace=False)
    y[start] = y_true[start]
    x_test = np.linspace(-3, 3, 200)[:, None]
    return X, y, y_true, x_test, np.sin(2 * x_test[:, 0])


def test_one_loop_against_scikit_activeml_regression_strategies():
    """Every strategy runs in the same loop on the same data and budget."""
    reg = SklearnRegressor(TangentRegressor(alpha=0.1, kernel="rbf", gamma=1.0))
    committee = [
        SklearnRegressor(TangentRegressor(alpha=a, kernel="rbf", gamma=g))
        for a, g in [(0.03, 0.5), (0.1, 1.0), (0.3, 2.0)]
    ]
    strategies = {
        "influence": (InfluenceSampling(random_state=0), {"reg": reg}),
        "variance": (VarianceSampling(random_state=0), {"reg": reg}),
        "expected": (ExpectedInfluenceSampling(random_state=0), {"reg": reg}),
        "random": (RandomSampling(random_state=0), {}),
        "GSx": (GreedySamplingX(random_state=0), {}),
        "iGS": (GreedySamplingTarget(method="GSi", random_state=0), {"reg": reg}),
        "QBC": (QueryByCommittee(random_state=0), {"ensemble": committee}),
        # n_train=1 (int) is a bootstrap of len(X) + 1 rows; see the benchmark
        "EMCM": (
            ExpectedModelChangeMaximization(n_train=1, random_state=0),
            {"reg": reg},
        ),
    }
    for seed in range(3):
        X, y0, y_true, X_test, y_test = _gap_problem(seed)
        start = clone(reg).fit(X, y0)
        start_rmse = np.sqrt(np.mean((start.predict(X_test) - y_test) ** 2))
        for name, (qs, kwargs) in strategies.items():
            y = y0.copy()
            for _ in range(6):
                picks = qs.query(X, y, batch_size=2, **kwargs)
                assert np.all(np.isnan(y[picks])) and len(set(picks.tolist())) == 2
                y[picks] = y_true[picks]
            if name in ("influence", "variance", "expected"):
                # twelve more labels, wherever they went, improve the fit
                model = clone(reg).fit(X, y)
                rmse = np.sqrt(np.mean((model.predict(X_test) - y_test) ** 2))
                assert rmse < start_rmse, name


@pytest.mark.parametrize("criterion", ["influence", "variance"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_strategies_accept_a_wrapped_tangent_classifier(criterion, n_classes):
    from skactiveml.classifier import SklearnClassifier
    from sklearn.datasets import load_iris

    from sktangent import TangentClassifier

    X, y_true = load_iris(return_X_y=True)
    keep = y_true < n_classes
    X, y_true = StandardScaler().fit_transform(X[keep]), y_true[keep]
    y = np.full(len(y_true), np.nan)
    labeled = np.random.RandomState(0).choice(len(y), 12, replace=False)
    y[labeled] = y_true[labeled]
    strategy, function = STRATEGIES[criterion]
    clf = SklearnClassifier(
        TangentClassifier(alpha=1.0), classes=list(range(n_classes)), random_state=0
    )
    picks = strategy(random_state=0).query(X, y, clf, batch_size=3)
    fitted = TangentClassifier(alpha=1.0).fit(X[labeled], y_true[labeled])
    unlabeled = np.flatnonzero(np.isnan(y))
    expected, _ = function(fitted, X[unlabeled], n_instances=3)
    np.testing.assert_array_equal(picks, unlabeled[expected])
