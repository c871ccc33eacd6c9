"""The strategy registry.

A strategy is a function ``pick(state) -> indices into the pool`` and the
number of labels one call returns (its batch). ``state`` is a
:class:`Round`: the pool, the partial labels (NaN = unlabelled), the common
model fitted on the labelled rows and a random state of the strategy's own.
To add a strategy, write its pick and call :func:`register`; one that
needs an optional package registers only when it imports, and otherwise
records why it is skipped in ``SKIPPED``.
"""

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

from sktangent import query


@dataclass(frozen=True)
class Strategy:
    name: str
    pick: object
    batch: int = 1
    wrapped: bool = False  # needs the common model as a fitted SklearnRegressor
    description: str = ""


@dataclass
class Round:
    X: np.ndarray  # the whole pool
    y: np.ndarray  # its labels, NaN where unlabelled
    fitted: object  # the common TangentRegressor fitted on the labelled rows
    wrapped: object  # the same fit as a scikit-activeml SklearnRegressor, or None
    model: object  # the unfitted common model
    rng: np.random.RandomState
    seed: int

    @property
    def unlabelled(self):
        return np.flatnonzero(np.isnan(self.y))


STRATEGIES = {}
SKIPPED = {}


def register(name, pick, batch=1, *, wrapped=False, description=""):
    STRATEGIES[name] = Strategy(name, pick, batch, wrapped, description)


def skip(names, reason):
    for name in names:
        SKIPPED[name] = reason


# ------------------------------------------------------------------ random
def random_pick(state):
    return state.rng.choice(state.unlabelled, 1, replace=False)


register("random", random_pick, description="uniform over the unlabelled pool")


# --------------------------------------------------------------- sktangent
def sktangent_pick(function, n_instances):
    def pick(state):
        unlabelled = state.unlabelled
        idx, _ = function(state.fitted, state.X[unlabelled], n_instances)
        return unlabelled[idx]

    return pick


register(
    "influence-1",
    sktangent_pick(query.influence_sampling, 1),
    description="sktangent.query.influence_sampling",
)
register(
    "variance-1",
    sktangent_pick(query.variance_sampling, 1),
    description="sktangent.query.variance_sampling",
)
if hasattr(query, "expected_influence_sampling"):
    for k in (1, 10):
        register(
            f"expected-{k}",
            sktangent_pick(query.expected_influence_sampling, k),
            k,
            description="sktangent.query.expected_influence_sampling"
            + (f", greedy batches of {k}" if k > 1 else ""),
        )
else:
    skip(
        ["expected-1", "expected-10"],
        "sktangent.query has no expected_influence_sampling in this sktangent",
    )


# ------------------------------------------------------------- gp-max-std
def gp_pick(state):
    # As modAL's regression example: a GP refitted on the labelled points
    # before every query (its fit is part of the query time); only the picks
    # come from the GP, the curve is the common model's.
    labelled = ~np.isnan(state.y)
    kernel = ConstantKernel() * RBF(np.ones(state.X.shape[1])) + WhiteKernel()
    gp = GaussianProcessRegressor(kernel, normalize_y=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(state.X[labelled], state.y[labelled])
    unlabelled = state.unlabelled
    _, std = gp.predict(state.X[unlabelled], return_std=True)
    return unlabelled[[int(np.argmax(std))]]


register(
    "gp-max-std",
    gp_pick,
    description="largest std of a GP (constant x ARD RBF + white noise)",
)


# --------------------------------------------------------- scikit-activeml
try:
    import skactiveml
    from skactiveml.pool import (
        ExpectedModelChangeMaximization,
        GreedySamplingTarget,
        GreedySamplingX,
        QueryByCommittee,
    )
    from skactiveml.regressor import SklearnRegressor
except ImportError as exc:
    skactiveml = None
    SklearnRegressor = None
    skip(
        ["GSx", "iGS", "QBC", "EMCM"],
        f"scikit-activeml is not importable ({exc}); "
        'pip install "sktangent[skactiveml]"',
    )


def _seed(state):
    return int(state.rng.randint(2**31 - 1))


def gsx_pick(state):
    return GreedySamplingX(random_state=_seed(state)).query(state.X, state.y)


def igs_pick(state):
    qs = GreedySamplingTarget(method="GSi", random_state=_seed(state))
    return qs.query(state.X, state.y, state.wrapped, fit_reg=False)


def emcm_pick(state):
    # n_train=1 means bootstraps of the pool's size: scikit-activeml 1.0.1
    # draws len(X) * ceil(n_train * len(X)) + 1 rows for a float n_train, so
    # the default 0.5 would draw tens of thousands of rows per bootstrap.
    qs = ExpectedModelChangeMaximization(n_train=1, random_state=_seed(state))
    return qs.query(state.X, state.y, state.wrapped, fit_reg=False)


COMMITTEE = [(1 / 3, 2.0), (1.0, 1.0), (3.0, 0.5)]  # alpha and gamma factors


def qbc_pick(state):
    model = state.model
    committee = []
    for a, g in COMMITTEE:
        member = clone(model).set_params(alpha=model.alpha * a)
        if model.gamma is not None:
            member.set_params(gamma=model.gamma * g)
        committee.append(SklearnRegressor(member))
    qs = QueryByCommittee(random_state=_seed(state))
    return qs.query(state.X, state.y, committee)


if skactiveml is not None:
    register("GSx", gsx_pick, description="skactiveml GreedySamplingX")
    register(
        "iGS",
        igs_pick,
        wrapped=True,
        description='skactiveml GreedySamplingTarget(method="GSi")',
    )
    register(
        "EMCM",
        emcm_pick,
        wrapped=True,
        description="skactiveml ExpectedModelChangeMaximization(n_train=1)",
    )
    register(
        "QBC",
        qbc_pick,
        description="skactiveml QueryByCommittee of three TangentRegressors "
        "(alpha x 1/3, 1, 3; gamma x 2, 1, 1/2)",
    )


# -------------------------------------------------------------- bmdal-reg
BMDAL_METHODS = {"MAXDET-P": "maxdet-p", "LCMD": "lcmd", "BAIT-P": "bait-p"}


def bmdal_pick(method, n_instances):
    def pick(state):
        labelled = ~np.isnan(state.y)
        unlabelled = state.unlabelled
        idx = bmdal.pick(
            method,
            state.model,
            state.X[labelled],
            state.y[labelled],
            state.X[unlabelled],
            n_instances,
            state.seed,
        )
        return unlabelled[np.asarray(idx, dtype=int)]

    return pick


try:
    from . import bmdal
except ImportError as exc:
    bmdal = None
    skip(BMDAL_METHODS, f"benchmarks/active_learning/bmdal.py not importable ({exc})")
else:
    if bmdal.available():
        for name, method in BMDAL_METHODS.items():
            register(
                name,
                bmdal_pick(method, 1),
                description=f'bmdal-reg select_batch, "{method}"',
            )
    else:
        skip(
            BMDAL_METHODS,
            "bmdal.available() is False: torch or bmdal_reg is not importable "
            "(see benchmarks/README.md for the bmdal-reg environment)",
        )


def select(names=None):
    """The strategies to run, in registry order, and the requested skips."""
    if names is None:
        return dict(STRATEGIES), dict(SKIPPED)
    unknown = [n for n in names if n not in STRATEGIES and n not in SKIPPED]
    if unknown:
        raise SystemExit(
            f"unknown strategies {unknown}; known: "
            f"{sorted(STRATEGIES) + sorted(SKIPPED)}"
        )
    chosen = {n: STRATEGIES[n] for n in STRATEGIES if n in names}
    skipped = {n: SKIPPED[n] for n in names if n in SKIPPED}
    return chosen, skipped
