"""Shared problem generators: one seeded random state, no wall clock.

Test modules import the plain functions and constants below with
``from conftest import ...``; no test module imports another.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit

from sktangent import TangentRegressor
from sktangent._families import get_family

ALPHA = 0.7
GAMMA = 0.2

#: (model, fit_intercept, weighted, sparse) -- every configuration the tests
#: sweep. "linear-dual" has more features than samples, so the linear model
#: is solved through its dual (the linear kernel).
CASES = [
    (model, fit_intercept, weighted, sparse)
    for model in ("linear", "linear-dual", "rbf")
    for fit_intercept in (True, False)
    for weighted in (False, True)
    for sparse in (False, True)
]


def case_id(case):
    model, fit_intercept, weighted, sparse = case
    return "-".join(
        [
            model,
            "intercept" if fit_intercept else "nointercept",
            "weighted" if weighted else "unweighted",
            "sparse" if sparse else "dense",
        ]
    )


def make_problem(model, fit_intercept, weighted, sparse, seed=0):
    """Return ``(estimator, X, y, sample_weight, X_query)`` for one case."""
    rng = np.random.RandomState(seed)
    n, p = (12, 20) if model == "linear-dual" else (30, 4)
    X = rng.normal(size=(n, p)) + 0.5
    X[rng.uniform(size=X.shape) < 0.3] = 0.0  # something for sparse to skip
    beta = rng.normal(size=p)
    y = X @ beta + 0.3 * rng.normal(size=n) + 1.5
    w = rng.uniform(0.5, 2.0, size=n) if weighted else None
    X_query = rng.normal(size=(5, p)) + 0.5
    if sparse:
        X, X_query = sp.csr_matrix(X), sp.csr_matrix(X_query)
    kernel = "rbf" if model == "rbf" else None
    est = TangentRegressor(
        alpha=ALPHA, kernel=kernel, gamma=GAMMA, fit_intercept=fit_intercept
    )
    return est, X, y, w, X_query


@pytest.fixture(params=CASES, ids=case_id)
def problem(request):
    return make_problem(*request.param)


@pytest.fixture
def rng():
    return np.random.RandomState(42)


def with_params(est, **params):
    from sklearn.base import clone

    return clone(est).set_params(**params)


def complexity(est):
    """``C = (alpha / 2) Omega(theta*)`` of a fitted estimator."""
    from sklearn.metrics.pairwise import pairwise_kernels

    if est.kernel is None:
        return 0.5 * est.alpha * float(est.coef_ @ est.coef_)
    K = pairwise_kernels(est.X_fit_, metric=est.kernel, gamma=est.gamma)
    return 0.5 * est.alpha * float(est.dual_coef_ @ K @ est.dual_coef_)


def add_point(X, y, w, x_new, y_new, weight):
    """Training data with one more row of the given weight."""
    import scipy.sparse as sp

    w = np.ones(X.shape[0]) if w is None else w
    X_new = sp.vstack([X, x_new]).tocsr() if sp.issparse(X) else np.vstack([X, x_new])
    return X_new, np.append(y, y_new), np.append(w, weight)


# ------------------------------------------------------------- GLM families
FAMILIES = [
    ("poisson", None),
    ("gamma", None),
    ("tweedie", 1.5),
    ("tweedie", 3.0),
    ("binomial", None),
]


def family_id(spec):
    name, power = spec
    return name if power is None else f"{name}{power}"


def draw(name, power, mu, phi, rng, size=None):
    """Targets from the family with mean mu and dispersion phi."""
    if name == "poisson":
        return rng.poisson(mu, size=size).astype(float)
    if name == "binomial":
        return (rng.uniform(size=size if size else np.shape(mu)) < mu).astype(float)
    if name == "gamma" or (name == "tweedie" and power == 2):
        return rng.gamma(1 / phi, mu * phi, size=size)
    if name == "tweedie" and 1 < power < 2:
        # Compound Poisson-gamma: N ~ Poisson(lam), y = sum of N gammas.
        lam = mu ** (2 - power) / (phi * (2 - power))
        shape = (2 - power) / (power - 1)
        scale = phi * (power - 1) * mu ** (power - 1)
        n = rng.poisson(lam, size=size)
        return np.where(n > 0, rng.gamma(np.maximum(n, 1) * shape, scale), 0.0)
    if name == "tweedie" and power == 3:
        # Inverse Gaussian with mean mu and shape 1 / phi.
        return rng.wald(mu, 1 / phi, size=size)
    raise ValueError(name)


def draw_targets(name, eta, rng):
    """Labels drawn from the family at the linear predictor ``eta``."""
    mu = np.exp(eta)
    if name == "normal":
        return eta + 0.3 * rng.normal(size=eta.size)
    if name == "poisson":
        return rng.poisson(mu).astype(float)
    if name == "gamma":
        return rng.gamma(2.0, mu / 2.0)
    if name == "binomial":
        return rng.binomial(1, expit(eta)).astype(float)
    # Tweedie 1 < p < 2: compound Poisson-gamma, exact zeros included.
    return rng.gamma(2.0, mu / 2.0) * (rng.uniform(size=eta.size) < 0.7)


def make_glm_problem(spec, model, fit_intercept, weighted, seed=0, **params):
    """``(estimator, X, y, sample_weight, X_query)`` with targets drawn from
    the family ``spec = (name, power)``."""
    name, power = spec
    rng = np.random.RandomState(seed)
    n, p = 40, 3
    X = rng.normal(size=(n, p))
    eta = 0.4 * X @ rng.normal(size=p) + (0.3 if name != "binomial" else 0.0)
    mu = get_family(name, power).inverse_link(eta)
    y = draw(name, power, mu, 0.5, rng)
    w = rng.uniform(0.5, 2.0, size=n) if weighted else None
    X_query = rng.normal(size=(4, p))
    est = TangentRegressor(
        alpha=0.8,
        family=name,
        power=power,
        kernel="rbf" if model == "rbf" else None,
        gamma=0.3,
        fit_intercept=fit_intercept,
        tol=1e-12,
        **params,
    )
    return est, X, y, w, X_query


# ----------------------------------------- greedy batches against refits
ORACLE_CASES = {
    "linear": lambda: make_problem("linear", True, True, False),
    "linear-sparse": lambda: make_problem("linear", False, False, True),
    "linear-dual": lambda: make_problem("linear-dual", True, False, False),
    "rbf": lambda: make_problem("rbf", True, True, False),
    "poisson-linear": lambda: make_glm_problem(("poisson", None), "linear", True, True),
    "poisson-rbf": lambda: make_glm_problem(("poisson", None), "rbf", True, False),
    "gamma-linear": lambda: make_glm_problem(("gamma", None), "linear", False, True),
}


def make_pool(X, rng, m=25):
    """``m`` candidate rows near the training rows, sparse if ``X`` is."""
    dense = X.toarray() if sp.issparse(X) else X
    pool = dense[rng.choice(dense.shape[0], m)] + 0.7 * rng.normal(
        size=(m, dense.shape[1])
    )
    return sp.csr_matrix(pool) if sp.issparse(X) else pool


def add_rows(X, y, w, rows, labels):
    """Training data with the given rows added at weight 1."""
    return add_point(X, y, w, rows, labels, np.ones(rows.shape[0]))
