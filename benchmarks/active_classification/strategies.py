"""The strategy registry of the classification run.

A strategy is a function ``pick(state) -> indices into the pool`` (one
label per call). ``state`` is a :class:`Round`: the pool, the partial labels
(NaN = unlabelled), the common model fitted on the labelled rows and a
random state of the strategy's own. A strategy that needs an optional
package registers only when it imports and otherwise records why in
``SKIPPED``. sktangent's own strategies are always registered, with
``ours=True``: when they cannot run (no ``TangentClassifier`` in sktangent,
no such function in ``sktangent.query``, or the call raises ``TypeError`` or
``ValueError`` for a classifier) the run records them as *unavailable*,
with the reason, and the report says so.

The three modAL strategies are reimplemented here from modAL's formulas
(``modAL.uncertainty``) on ``predict_proba``, because modAL itself does not
install next to the newest scikit-learn:

* ``uncertainty``: least confident, ``1 - max_k p_k(x)``;
* ``margin``: the smallest gap between the two largest ``p_k(x)``;
* ``entropy``: ``-sum_k p_k(x) log p_k(x)``.

Each picks the best score over the unlabelled pool; ties go to the first
row (modAL's default, ``random_tie_break=False``, also picks by position).
"""

from dataclasses import dataclass

import numpy as np
from scipy.stats import entropy

from sktangent import query

from . import data


class Unavailable(Exception):
    """A strategy of ours cannot run with this model; the message says why."""


@dataclass(frozen=True)
class Strategy:
    name: str
    pick: object
    wrapped: bool = False  # needs the common model as a fitted SklearnClassifier
    ours: bool = False  # sktangent's: may be unavailable, see the docstring
    description: str = ""


@dataclass
class Round:
    X: np.ndarray  # the whole pool
    y: np.ndarray  # its labels (0, ..., K - 1), NaN where unlabelled
    fitted: object  # the common model fitted on the labelled rows
    wrapped: object  # the same fit as a scikit-activeml SklearnClassifier, or None
    kind: str  # "linear" or "rbf"
    n_classes: int
    rng: np.random.RandomState

    @property
    def unlabelled(self):
        return np.flatnonzero(np.isnan(self.y))


STRATEGIES = {}
SKIPPED = {}


def register(name, pick, *, wrapped=False, ours=False, description=""):
    STRATEGIES[name] = Strategy(name, pick, wrapped, ours, description)


def skip(names, reason):
    for name in names:
        SKIPPED[name] = reason


def _seed(state):
    return int(state.rng.randint(2**31 - 1))


# ------------------------------------------------------------------ random
def random_pick(state):
    return state.rng.choice(state.unlabelled, 1, replace=False)


register("random", random_pick, description="uniform over the unlabelled pool")


# ----------------------------------------------------- modAL's formulas
def least_confidence(proba):
    return 1.0 - proba.max(axis=1)


def smallest_margin(proba):
    top_two = np.sort(proba, axis=1)[:, -2:]
    return -(top_two[:, 1] - top_two[:, 0])  # larger = smaller margin


def class_entropy(proba):
    return entropy(proba, axis=1)


def proba_pick(score):
    def pick(state):
        unlabelled = state.unlabelled
        values = score(state.fitted.predict_proba(state.X[unlabelled]))
        return unlabelled[[int(np.argmax(values))]]

    return pick


register(
    "uncertainty",
    proba_pick(least_confidence),
    description="least confident, modAL's uncertainty_sampling formula",
)
register(
    "margin",
    proba_pick(smallest_margin),
    description="smallest top-two margin, modAL's margin_sampling formula",
)
register(
    "entropy",
    proba_pick(class_entropy),
    description="largest entropy, modAL's entropy_sampling formula",
)


# --------------------------------------------------------------- sktangent
OURS = {
    "influence": "influence_sampling",
    "variance": "variance_sampling",
    "expected": "expected_influence_sampling",
}


def unavailable_reason(name):
    """Why an ``ours`` strategy cannot run in this environment, or None."""
    if data.TangentClassifier is None:
        return "sktangent has no TangentClassifier yet (stand-in models)"
    if not hasattr(query, OURS[name]):
        return f"sktangent.query has no {OURS[name]}"
    return None


def sktangent_pick(name):
    def pick(state):
        reason = unavailable_reason(name)
        if reason is not None:
            raise Unavailable(reason)
        unlabelled = state.unlabelled
        try:
            idx, _ = getattr(query, OURS[name])(state.fitted, state.X[unlabelled], 1)
        except (TypeError, ValueError) as exc:
            raise Unavailable(
                f"sktangent.query.{OURS[name]} raised {type(exc).__name__}: {exc}"
            ) from exc
        return unlabelled[np.asarray(idx, dtype=int)]

    return pick


for _name, _function in OURS.items():
    register(
        _name,
        sktangent_pick(_name),
        ours=True,
        description=f"sktangent.query.{_function} on the TangentClassifier",
    )


# --------------------------------------------------------- scikit-activeml
SKACTIVEML = ["US-LC", "US-margin", "QBC"]
try:
    from skactiveml.classifier import SklearnClassifier
    from skactiveml.pool import QueryByCommittee, UncertaintySampling
except ImportError as exc:
    SklearnClassifier = None
    skip(
        SKACTIVEML,
        f"scikit-activeml is not importable ({exc}); "
        'pip install "sktangent[skactiveml]"',
    )


def wrap(model, n_classes):
    """A scikit-activeml view of a model: NaN marks the unlabelled rows."""
    return SklearnClassifier(model, classes=np.arange(n_classes), missing_label=np.nan)


def uncertainty_pick(method):
    def pick(state):
        qs = UncertaintySampling(method=method, random_state=_seed(state))
        return qs.query(state.X, state.y, state.wrapped, fit_clf=False)

    return pick


COMMITTEE = [(1 / 3, 2.0), (1.0, 1.0), (3.0, 0.5)]  # alpha and gamma factors


def qbc_pick(state):
    n_features = state.X.shape[1]
    committee = [
        wrap(
            data.make_model(
                state.kind,
                n_features,
                alpha=data.ALPHA * a,
                gamma=g / n_features,
            ),
            state.n_classes,
        )
        for a, g in COMMITTEE
    ]
    qs = QueryByCommittee(random_state=_seed(state))
    return qs.query(state.X, state.y, committee)


if SklearnClassifier is not None:
    register(
        "US-LC",
        uncertainty_pick("least_confident"),
        wrapped=True,
        description='skactiveml UncertaintySampling(method="least_confident")',
    )
    register(
        "US-margin",
        uncertainty_pick("margin_sampling"),
        wrapped=True,
        description='skactiveml UncertaintySampling(method="margin_sampling")',
    )
    register(
        "QBC",
        qbc_pick,
        description="skactiveml QueryByCommittee (KL divergence) of three "
        "models with alpha x 1/3, 1, 3 (rbf: gamma x 2, 1, 1/2)",
    )


def select(names=None):
    """The strategies to run (registry order) and the skipped ones asked for."""
    asked = list(STRATEGIES) + list(SKIPPED) if names is None else list(names)
    unknown = sorted(set(asked) - set(STRATEGIES) - set(SKIPPED))
    if unknown:
        known = sorted(STRATEGIES) + sorted(SKIPPED)
        raise SystemExit(f"unknown strategies {unknown}; known: {known}")
    return (
        {name: s for name, s in STRATEGIES.items() if name in asked},
        {name: SKIPPED[name] for name in asked if name in SKIPPED},
    )
