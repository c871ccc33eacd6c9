"""partial_fit: every update equals a refit on all the rows (THEORY section 11).

The normal family's updates (rank-k Cholesky updates in the primal, the
bordered factor grown by a block in the dual) are exact: a refit agrees to
rounding (1e-10). The GLM families and the classifiers restart Newton from the
previous optimum and agree with a refit to the solver's tolerance.
"""

import copy
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import ALPHA, FAMILIES, GAMMA, draw, family_id, make_problem
from sklearn.base import clone
from sklearn.datasets import make_classification

from sktangent import TangentClassifier, TangentRegressor
from sktangent.influence import leave_one_out, self_influence
from sktangent.query import influence_sampling, variance_sampling

EXACT = 1e-10


def close(a, b, rtol=EXACT):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = max(float(np.max(np.abs(a), initial=0.0)), 1.0)
    np.testing.assert_allclose(a, b, rtol=0, atol=rtol * scale)


def incremental(est, X, y, w, splits, **kwargs):
    """``est`` fitted by partial_fit on the consecutive blocks of rows."""
    inc = clone(est)
    bounds = [0, *splits, X.shape[0]]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        inc.partial_fit(
            X[a:b], y[a:b], sample_weight=None if w is None else w[a:b], **kwargs
        )
    return inc


def assert_same_fit(full, inc, X_query, rtol=EXACT, std=True):
    a, b = full.fitted_state_, inc.fitted_state_
    close(a.coef, b.coef, rtol)
    close(a.tangent, b.tangent, rtol)
    close(a.intercept, b.intercept, rtol)
    close(a.intercept_tangent, b.intercept_tangent, rtol)
    close(a.dispersion, b.dispersion, rtol)
    close(full.predict(X_query), inc.predict(X_query), rtol)
    close(full.predict_tangent(X_query), inc.predict_tangent(X_query), rtol)
    close(full.influence_score(X_query), inc.influence_score(X_query), rtol)
    if std:
        close(
            full.predict(X_query, return_std=True)[1],
            inc.predict(X_query, return_std=True)[1],
            rtol,
        )
        close(
            a.cross_variance_scale(X_query, X_query),
            b.cross_variance_scale(X_query, X_query),
            rtol,
        )


def _splits(model, n):
    # A single row, a block, and for the primal a block as wide as the model
    # (the refactorised path).
    if model == "linear-dual":
        return [5, 6, 9]
    return [8, 9, 13, n - 6]


# --------------------------------------------------------- exact updates
def test_normal_updates_equal_a_refit(problem):
    est, X, y, w, X_query = problem
    full = clone(est).fit(X, y, sample_weight=w)
    model = "linear-dual" if X.shape[1] > X.shape[0] else "other"
    inc = incremental(est, X, y, w, _splits(model, X.shape[0]))
    assert inc.fitted_state_.factorisation == full.fitted_state_.factorisation
    assert inc.fitted_state_.training.n == X.shape[0]
    assert_same_fit(full, inc, X_query)


@pytest.mark.parametrize("model", ["linear", "rbf"])
def test_many_single_row_updates(model):
    est, X, y, w, X_query = make_problem(model, True, True, False, seed=3)
    full = clone(est).fit(X, y, sample_weight=w)
    inc = incremental(est, X, y, w, list(range(3, X.shape[0])))
    assert_same_fit(full, inc, X_query)


def test_rank_k_update_and_refactorisation_agree():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 6)) * [1, 10, 0.1, 1, 1, 100] + 5.0
    y = X @ rng.normal(size=6) + rng.normal(size=60)
    est = TangentRegressor(alpha=2.0)
    full = clone(est).fit(X, y)
    # k = 1 and 2 use Givens rotations, k = 3 and 20 (2k >= p) refactorise.
    inc = incremental(est, X, y, None, [30, 31, 33, 36])
    assert_same_fit(full, inc, X[:5])


@pytest.mark.parametrize("model", ["linear", "rbf"])
def test_updates_carry_the_trace(model):
    est, X, y, w, X_query = make_problem(model, True, True, False, seed=1)
    inc = clone(est).partial_fit(X[:10], y[:10], sample_weight=w[:10])
    assert inc.dispersion_ > 0  # computes trace(A^-1); the updates carry it
    step = 1 if model == "linear" else 7  # k >= p/2 refactorises the primal
    for a in range(10, X.shape[0], step):
        rows = slice(a, a + step)
        inc.partial_fit(X[rows], y[rows], sample_weight=w[rows])
        assert inc.fitted_state_.hessian._trace is not None
    full = clone(est).fit(X, y, sample_weight=w)
    assert_same_fit(full, inc, X_query)


def test_linear_dual_grows_into_the_primal():
    est, X, y, _, X_query = make_problem("linear-dual", True, False, False)
    rng = np.random.RandomState(1)
    X2 = np.vstack([X, rng.normal(size=(20, X.shape[1]))])
    y2 = np.append(y, rng.normal(size=20))
    inc = incremental(est, X2, y2, None, [6, 11, 25])
    full = clone(est).fit(X2, y2)
    assert inc.fitted_state_.factorisation == "primal"
    assert_same_fit(full, inc, X_query)


@pytest.mark.parametrize("sparse", [False, True])
def test_constant_columns(sparse):
    rng = np.random.RandomState(2)
    X = rng.normal(size=(40, 4))
    X[:, 1] = 7.3  # constant in every row
    X[:, 2] = 2.1
    X[30:, 2] = rng.normal(size=10)  # constant in the first call only
    y = X @ [1.0, 2.0, -1.0, 0.5] + rng.normal(size=40)
    Xs = sp.csr_matrix(X) if sparse else X
    est = TangentRegressor(alpha=ALPHA)
    inc = incremental(est, Xs, y, None, [20, 30, 31])
    full = clone(est).fit(Xs, y)
    assert inc.coef_[1] == 0.0 and inc.coef_tangent_[1] == 0.0
    assert inc.coef_[2] != 0.0
    assert_same_fit(full, inc, Xs[:6])


def test_zero_weight_rows():
    est, X, y, _, X_query = make_problem("linear", True, True, False)
    w = np.ones(X.shape[0])
    w[10:14] = 0.0
    full = clone(est).fit(X, y, sample_weight=w)
    inc = incremental(est, X, y, w, [9, 12, 15])
    assert_same_fit(full, inc, X_query)
    rbf = clone(est).set_params(kernel="rbf")
    assert_same_fit(
        clone(rbf).fit(X, y, sample_weight=w),
        incremental(rbf, X, y, w, [9, 12, 15]),
        X_query,
    )
    with pytest.raises(ValueError, match="non-zero"):
        inc.partial_fit(X[:2], y[:2], sample_weight=[0.0, 0.0])


@pytest.mark.parametrize("model", ["linear", "rbf"])
def test_newton_on_the_normal_family_is_updated_exactly(model):
    est, X, y, w, X_query = make_problem(model, True, True, False)
    est = est.set_params(solver="newton-cholesky")
    full = clone(est).fit(X, y, sample_weight=w)
    inc = incremental(est, X, y, w, [10, 11, 20])
    assert_same_fit(full, inc, X_query, rtol=1e-8)


def test_first_call_is_fit(problem):
    est, X, y, w, X_query = problem
    full = clone(est).fit(X, y, sample_weight=w)
    first = clone(est).partial_fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(full.fitted_state_.coef, first.fitted_state_.coef)
    np.testing.assert_array_equal(
        full.fitted_state_.tangent, first.fitted_state_.tangent
    )
    np.testing.assert_array_equal(full.predict(X_query), first.predict(X_query))


def test_partial_fit_after_fit_continues_it():
    est, X, y, w, X_query = make_problem("linear", True, True, False)
    inc = clone(est).fit(X[:12], y[:12], sample_weight=w[:12])
    inc.partial_fit(X[12:], y[12:], sample_weight=w[12:])
    assert_same_fit(clone(est).fit(X, y, sample_weight=w), inc, X_query)


# ------------------------------------------------------------------- GLMs
@pytest.mark.parametrize("spec", FAMILIES, ids=family_id)
@pytest.mark.parametrize("kernel", [None, "rbf"])
def test_glm_updates_equal_a_refit(spec, kernel):
    name, power = spec
    if kernel and power == 3.0:
        pytest.skip("kernel models refuse negative observed curvature")
    rng = np.random.RandomState(4)
    X = rng.normal(size=(60, 3))
    mu = 1 / (1 + np.exp(-X[:, 0])) if name == "binomial" else np.exp(0.4 * X[:, 0])
    y = draw(name, power, mu, 0.5, rng)
    w = rng.uniform(0.5, 2.0, size=60)
    est = TangentRegressor(
        alpha=ALPHA, family=name, power=power, kernel=kernel, gamma=GAMMA, tol=1e-10
    )
    full = clone(est).fit(X, y, sample_weight=w)
    inc = incremental(est, X, y, w, [30, 31, 45])
    # Two runs of Newton to tol: they agree to the solver's accuracy.
    assert_same_fit(full, inc, X[:6], rtol=1e-7)
    assert inc.n_iter_ >= 1


@pytest.mark.parametrize("spec", FAMILIES[1:], ids=family_id)
def test_glm_updates_factorise_once(spec, monkeypatch):
    """Adding a few rows to a linear GLM: the steps from the previous optimum
    use the previous fit's Hessian, and the Hessian is formed and factorised
    once, at the new optimum (for the tangent)."""
    import sktangent._implicit as implicit

    name, power = spec
    rng = np.random.RandomState(5)
    X = rng.normal(size=(400, 4))
    mu = 1 / (1 + np.exp(-X[:, 0])) if name == "binomial" else np.exp(0.4 * X[:, 0])
    y = draw(name, power, mu, 0.5, rng)
    est = TangentRegressor(alpha=ALPHA, family=name, power=power, tol=1e-10)
    est.partial_fit(X[:396], y[:396])
    built = []
    original = implicit.PrimalHessian.__init__

    def counted(self, *args, **kwargs):
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(implicit.PrimalHessian, "__init__", counted)
    est.partial_fit(X[396:], y[396:])
    assert len(built) == 1
    full = TangentRegressor(alpha=ALPHA, family=name, power=power, tol=1e-10)
    assert_same_fit(full.fit(X, y), est, X[:6], rtol=1e-7)


def test_lbfgs_updates_equal_a_refit():
    rng = np.random.RandomState(5)
    X = rng.normal(size=(80, 4))
    y = rng.poisson(np.exp(0.3 * X[:, 0])).astype(float)
    est = TangentRegressor(family="poisson", solver="lbfgs", tol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = clone(est).fit(X, y)
        inc = incremental(est, X, y, None, [40, 41])
    assert inc.fitted_state_.factorisation is None
    assert_same_fit(full, inc, X[:5], rtol=1e-5, std=False)


# ------------------------------------------------------------ classifiers
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("kernel", [None, "rbf"])
def test_classifier_updates_equal_a_refit(n_classes, kernel):
    X, y = make_classification(
        90, 4, n_informative=3, n_redundant=0, n_classes=n_classes, random_state=0
    )
    labels = np.array(["ant", "bee", "cat"])[:n_classes]
    y = labels[y]
    est = TangentClassifier(alpha=ALPHA, kernel=kernel, gamma=GAMMA, tol=1e-10)
    full = clone(est).fit(X, y)
    inc = incremental(est, X, y, None, [40, 41, 70], classes=labels)
    np.testing.assert_array_equal(inc.classes_, full.classes_)
    P_full, S_full = full.predict_proba(X[:8], return_std=True)
    P_inc, S_inc = inc.predict_proba(X[:8], return_std=True)
    close(P_full, P_inc, 1e-7)
    close(S_full, S_inc, 1e-7)
    close(full.influence_score(X[:8]), inc.influence_score(X[:8]), 1e-7)
    close(full.predict_tangent(X[:8]), inc.predict_tangent(X[:8]), 1e-7)
    later = clone(est).partial_fit(X[:40], y[:40])  # classes from y
    later.partial_fit(X[40:], y[40:])
    close(later.predict_proba(X[:8]), P_full, 1e-7)


def test_classifier_classes_errors():
    X, y = make_classification(
        60, 4, n_classes=3, n_informative=3, n_redundant=0, random_state=0
    )
    clf = TangentClassifier()
    with pytest.raises(ValueError, match="no samples of the classes"):
        clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    with pytest.raises(ValueError, match="not fitted on"):
        clone(clf).partial_fit(X, y + 5 * (y == 2), classes=[0, 1, 2])
    clf.partial_fit(X, y, classes=[2, 0, 1])
    with pytest.raises(ValueError, match="labels the classifier was not fitted on"):
        clf.partial_fit(X[:3], [0, 1, 7])
    with pytest.raises(ValueError, match="is not the classes_"):
        clf.partial_fit(X[:3], y[:3], classes=[0, 1, 2, 3])
    clf.partial_fit(X[:3], y[:3], classes=[0, 1, 2])  # the same classes: fine


# ----------------------------------------------------------------- errors
def test_changed_parameters_say_to_call_fit():
    est, X, y, w, _ = make_problem("linear", True, False, False)
    for name, value in [
        ("alpha", 2.0),
        ("fit_intercept", False),
        ("kernel", "rbf"),
        ("family", "poisson"),
    ]:
        reg = clone(est).partial_fit(X[:10], y[:10])
        reg.set_params(**{name: value})
        with pytest.raises(ValueError, match="Call fit again"):
            reg.partial_fit(X[10:], y[10:])
    rbf = clone(est).set_params(kernel="rbf").partial_fit(X[:10], y[:10])
    rbf.set_params(gamma=1.0)
    with pytest.raises(ValueError, match="Call fit again"):
        rbf.partial_fit(X[10:], y[10:])
    clf = TangentClassifier().partial_fit(X[:10], y[:10] > 1.5)
    clf.set_params(alpha=3.0)
    with pytest.raises(ValueError, match="Call fit again"):
        clf.partial_fit(X[10:], y[10:] > 1.5)


def test_bad_rows_are_refused():
    est, X, y, _, _ = make_problem("linear", True, False, False)
    reg = clone(est).partial_fit(X[:10], y[:10])
    before = reg.fitted_state_
    with pytest.raises(ValueError, match="features"):
        reg.partial_fit(X[10:, :-1], y[10:])
    X_nan = X[10:].copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        reg.partial_fit(X_nan, y[10:])
    with pytest.raises(ValueError, match="NaN|infinity"):
        reg.partial_fit(X[10:], np.full(X.shape[0] - 10, np.nan))
    with pytest.raises(ValueError, match="0 sample"):
        reg.partial_fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="non-negative"):
        reg.partial_fit(X[10:12], y[10:12], sample_weight=[1.0, -1.0])
    with pytest.raises(ValueError, match="1 sample"):
        clone(est).partial_fit(X[:1], y[:1])  # the first call fits: 2 rows
    poisson = TangentRegressor(family="poisson").partial_fit(X[:10], np.ones(10))
    with pytest.raises(ValueError):
        poisson.partial_fit(X[10:12], [-1.0, 2.0])
    # A refused update leaves the estimator as it was.
    assert reg.fitted_state_ is before
    assert reg.fitted_state_.training.n == 10


def test_precomputed_kernels_have_no_partial_fit():
    reg = TangentRegressor(kernel="precomputed")
    assert not hasattr(reg, "partial_fit")
    with pytest.raises(AttributeError) as error:
        reg.partial_fit(np.eye(3), np.ones(3))
    assert "Call fit with the full kernel" in str(error.value.__cause__)
    assert not hasattr(TangentClassifier(kernel="precomputed"), "partial_fit")
    assert hasattr(TangentRegressor(kernel="rbf"), "partial_fit")


def test_a_state_without_training_rows_cannot_be_updated():
    from sktangent._online import update_state

    est, X, y, w, _ = make_problem("linear", True, False, False)
    reg = clone(est).fit(X, y)
    state = copy.copy(reg.fitted_state_)
    object.__setattr__(state, "training", None)
    with pytest.raises(ValueError, match="call fit on all the rows"):
        update_state(state, X[:2], y[:2], np.ones(2), reg, reg._validate_query)


# ------------------------------------------------------ states stay frozen
@pytest.mark.filterwarnings("ignore:Only .* residual degrees of freedom")
@pytest.mark.parametrize("model", ["linear", "linear-dual", "rbf"])
def test_old_states_are_unchanged(model):
    est, X, y, w, X_query = make_problem(model, True, True, False)
    reg = clone(est).partial_fit(X[:6], y[:6], sample_weight=w[:6])
    reg.partial_fit(X[6:7], y[6:7], sample_weight=w[6:7])
    old = reg.fitted_state_
    saved = {
        "coef": old.coef.copy(),
        "tangent": old.tangent.copy(),
        "L": old.hessian.L.copy(),
        "X": np.array(old.training.X, copy=True),
        "y": old.training.y.copy(),
        "predict": old.predict(X_query, return_std=True),
        "dispersion": old.dispersion,
    }
    n_old = old.training.n
    for a in range(7, X.shape[0], 2):
        reg.partial_fit(X[a : a + 2], y[a : a + 2], sample_weight=w[a : a + 2])
    assert reg.fitted_state_ is not old
    assert old.training.n == n_old
    np.testing.assert_array_equal(old.coef, saved["coef"])
    np.testing.assert_array_equal(old.tangent, saved["tangent"])
    np.testing.assert_array_equal(old.hessian.L, saved["L"])
    np.testing.assert_array_equal(old.training.X, saved["X"])
    np.testing.assert_array_equal(old.training.y, saved["y"])
    mean, std = old.predict(X_query, return_std=True)
    np.testing.assert_array_equal(mean, saved["predict"][0])
    np.testing.assert_array_equal(std, saved["predict"][1])
    assert old.dispersion == saved["dispersion"]
    assert not old.coef.flags.writeable


def test_two_estimators_updated_from_one_state_keep_their_rows():
    est, X, y, _, X_query = make_problem("linear", True, False, False)
    base = clone(est).partial_fit(X[:10], y[:10]).partial_fit(X[10:11], y[10:11])
    twin = copy.copy(base)
    base.partial_fit(X[11:20], y[11:20])
    twin.partial_fit(X[20:], y[20:])  # shares base's old rows, not its new ones
    rows = np.r_[0:11, 20 : X.shape[0]]
    assert_same_fit(clone(est).fit(X[rows], y[rows]), twin, X_query)
    assert_same_fit(clone(est).fit(X[:20], y[:20]), base, X_query)


# ------------------------------------------------- consumers of the state
@pytest.mark.parametrize("model", ["linear", "rbf"])
def test_consumers_of_an_updated_state_equal_those_of_a_refit(model):
    est, X, y, w, _ = make_problem(model, True, True, False)
    rng = np.random.RandomState(7)
    pool = rng.normal(size=(40, X.shape[1])) + 0.5
    full = clone(est).fit(X, y, sample_weight=w)
    inc = incremental(est, X, y, w, [10, 11, 20])
    for strategy in (influence_sampling, variance_sampling):
        a, b = strategy(full, pool, n_instances=3), strategy(inc, pool, n_instances=3)
        np.testing.assert_array_equal(a[0], b[0])
    close(full.influence_score(pool), inc.influence_score(pool))
    close(full.influence_score(X, y), inc.influence_score(X, y))
    loo_full = leave_one_out(full, X, y, sample_weight=w)
    loo_inc = leave_one_out(inc, X, y, sample_weight=w)
    for key in loo_full:
        close(loo_full[key], loo_inc[key], 1e-9)
    close(self_influence(full, X, y), self_influence(inc, X, y), 1e-9)


@pytest.mark.parametrize("kernel", [None, "linear"])
def test_an_update_is_refused_where_a_refit_is(kernel):
    from sktangent._implicit import IllConditionedError

    rng = np.random.RandomState(8)
    X = rng.normal(size=(30, 3))
    y = rng.normal(size=30)
    est = TangentRegressor(alpha=1e-3, kernel=kernel)
    inc = clone(est).partial_fit(X, y)
    # A row far out makes the largest eigenvalue 1e15 times alpha.
    X_far = np.array([[3e7, 0.0, 0.0]])
    with pytest.raises(IllConditionedError, match="Increase alpha"):
        clone(est).fit(np.vstack([X, X_far]), np.append(y, 0.0))
    with pytest.raises(IllConditionedError, match="Increase alpha"):
        inc.partial_fit(X_far, [0.0])


def test_the_norm_estimate_accepts_what_a_refit_accepts():
    # K is nearly the identity (distant points): alpha / trace(A) is below
    # the threshold, so the update estimates the condition number as
    # factorise does, and accepts it as the refit does.
    rng = np.random.RandomState(9)
    X = rng.normal(size=(31, 3)) * 10
    y = rng.normal(size=31)
    est = TangentRegressor(alpha=5e-13, kernel="rbf", gamma=10.0)
    inc = incremental(est, X, y, None, [30])
    close(clone(est).fit(X, y).predict(X[:5]), inc.predict(X[:5]), 1e-8)


@pytest.mark.parametrize("spec", FAMILIES, ids=family_id)
def test_nystroem_updates_keep_the_landmarks(spec):
    """A Nyström model's updates keep the first fit's landmarks: the result
    is the linear model on those features fitted on all the rows."""
    name, power = spec
    rng = np.random.RandomState(6)
    X = rng.normal(size=(80, 3))
    mu = 1 / (1 + np.exp(-X[:, 0])) if name == "binomial" else np.exp(0.4 * X[:, 0])
    y = draw(name, power, mu, 0.5, rng)
    w = rng.uniform(0.5, 2.0, size=80)
    params = dict(alpha=ALPHA, family=name, power=power, tol=1e-10)
    est = TangentRegressor(
        kernel="rbf", gamma=GAMMA, n_components=12, random_state=0, **params
    )
    inc = incremental(est, X, y, w, [50, 51, 65])
    first = clone(est).fit(X[:50], y[:50], sample_weight=w[:50])
    np.testing.assert_array_equal(inc.components_, first.components_)
    model = inc.fitted_state_.model
    F = model.design(X)
    ref = TangentRegressor(**params).fit(F, y, sample_weight=w)
    rtol = EXACT if name == "normal" else 1e-7
    close(inc.coef_, ref.coef_, rtol)
    close(inc.coef_tangent_, ref.coef_tangent_, rtol)
    close(inc.intercept_, ref.intercept_, rtol)
    Q = rng.normal(size=(6, 3))
    close(inc.influence_score(Q), ref.influence_score(model.design(Q)), 1e-6)
    close(inc.predict(Q), ref.predict(model.design(Q)), rtol)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_nystroem_classifier_updates_keep_the_landmarks(n_classes):
    X, y = make_classification(
        n_samples=90,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        n_classes=n_classes,
        random_state=1,
    )
    est = TangentClassifier(
        alpha=ALPHA,
        kernel="rbf",
        gamma=GAMMA,
        n_components=10,
        random_state=0,
        tol=1e-10,
    )
    inc = incremental(est, X, y, None, [60], classes=np.unique(y))
    first = clone(est).fit(X[:60], y[:60])
    np.testing.assert_array_equal(inc.components_, first.components_)
    # The same features (the first fit's landmarks) fitted on all rows.
    model = first.fitted_state_.model
    F = model.features(X) if n_classes > 2 else model.design(X)
    lin = TangentClassifier(alpha=ALPHA, tol=1e-10).fit(F, y)
    close(inc.decision_function(X), lin.decision_function(F), 1e-6)
