"""The data sets, the models and the per-seed split of the classification run.

Every data set ships inside a package (scikit-learn or statsmodels); nothing
is downloaded. One rule for all of them, shared with the regression
benchmark where it can be (``MAX_ROWS``, ``TEST_FRACTION``, ``ALPHA``):

* at most ``MAX_ROWS`` rows per seed, drawn without replacement with the
  seed (none of the five is larger today);
* features standardised on those rows (no labels used);
* a stratified third of the rows is the test set, the rest the pool;
* ``N_START`` starting labels: one random pool row of every class, then
  random rows up to ``N_START`` (digits, with ten classes, gets exactly one
  per class), so every fit sees every class and ``predict_proba`` always has
  one column per class;
* ``linear`` and ``rbf`` (``gamma = 1 / n_features``, scikit-learn's
  ``gamma="scale"`` on standardised features) logistic models with
  ``alpha = 1``, i.e. ``C = 1 / alpha``; nothing is tuned.

The model factory is pluggable. It builds ``sktangent.TangentClassifier``
when sktangent has one, and otherwise stand-ins from scikit-learn:
``LogisticRegression(C=1/alpha)`` for ``linear`` and :class:`NystroemLogistic`
for ``rbf``. :func:`model_classes` names what a run used, and the report
prints it, so a stand-in run is never mistaken for the real one.
"""

from dataclasses import dataclass
from functools import partial

import numpy as np
from active_learning.data import ALPHA, MAX_ROWS, TEST_FRACTION
from active_learning.data import Split as RegressionSplit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

import sktangent

__all__ = [
    "ALPHA",
    "DATASETS",
    "MAX_ROWS",
    "MODELS",
    "N_START",
    "TEST_FRACTION",
    "NystroemLogistic",
    "make_model",
    "make_split",
    "model_classes",
    "start_labels",
]

N_START = 10
MODELS = ("linear", "rbf")
N_NYSTROEM = 300
TangentClassifier = getattr(sktangent, "TangentClassifier", None)


@dataclass(frozen=True)
class DataSet:
    name: str
    description: str
    load: object  # () -> (X, y) with y in 0, ..., n_classes - 1


@dataclass
class Split(RegressionSplit):
    """One seed of one case, the regression benchmark's split and more.

    Labels are 0, ..., K - 1; ``error(y_true, proba)`` is the log-loss over
    all K classes.
    """

    start: np.ndarray  # indices into the pool of the starting labels
    kind: str  # "linear" or "rbf"
    n_classes: int


# ------------------------------------------------------------------ loaders
def _anes96():
    # Party identification PID (0 = strong Democrat ... 6 = strong
    # Republican) as 7 classes, from the numeric covariates: log population
    # (popul itself is left out, its log carries the same order without the
    # outliers), TV news days, the self-, Clinton- and Dole placements on the
    # left-right scale, age, education and income. vote is left out: it is an
    # outcome (the 1996 vote), nearly determined by the target.
    from statsmodels import datasets

    frame = datasets.anes96.load_pandas().data
    columns = ["logpopul", "TVnews", "selfLR", "ClinLR", "DoleLR", "age"]
    columns += ["educ", "income"]
    return frame[columns].to_numpy(float), frame["PID"].to_numpy().astype(int)


def _sklearn(loader):
    return lambda: loader(return_X_y=True)


DATASETS = {
    d.name: d
    for d in [
        DataSet("iris", "load_iris, 150 x 4, 3 classes", _sklearn(load_iris)),
        DataSet("wine", "load_wine, 178 x 13, 3 classes", _sklearn(load_wine)),
        DataSet(
            "breast_cancer",
            "load_breast_cancer, 569 x 30, 2 classes",
            _sklearn(load_breast_cancer),
        ),
        DataSet("digits", "load_digits, 1797 x 64, 10 classes", _sklearn(load_digits)),
        DataSet(
            "anes96",
            "statsmodels anes96: party identification PID, 944 x 8, 7 classes",
            _anes96,
        ),
    ]
}


# ------------------------------------------------------------------- models
class NystroemLogistic(ClassifierMixin, BaseEstimator):
    """Stand-in rbf logistic model: Nystroem features, then ``C = 1/alpha``.

    With ``n_components = min(n_components, n_samples)`` and the benchmark's
    at most a few dozen labelled rows, every training row is a landmark, so
    the features span the kernel's representer space and the fit is kernel
    logistic regression with the RKHS-norm penalty ``alpha / 2 ||f||^2`` and
    an unpenalised intercept. Used only until sktangent has a
    TangentClassifier.
    """

    def __init__(self, *, alpha=1.0, gamma=None, n_components=N_NYSTROEM):
        self.alpha = alpha
        self.gamma = gamma
        self.n_components = n_components

    def fit(self, X, y, sample_weight=None):
        n_components = min(self.n_components, len(X))
        self.pipeline_ = make_pipeline(
            Nystroem(gamma=self.gamma, n_components=n_components, random_state=0),
            LogisticRegression(C=1.0 / self.alpha, max_iter=1000),
        ).fit(X, y, logisticregression__sample_weight=sample_weight)
        self.classes_ = self.pipeline_.classes_
        self.n_features_in_ = np.shape(X)[1]
        return self

    def predict(self, X):
        check_is_fitted(self)
        return self.pipeline_.predict(X)

    def predict_proba(self, X):
        check_is_fitted(self)
        return self.pipeline_.predict_proba(X)

    def decision_function(self, X):
        check_is_fitted(self)
        return self.pipeline_.decision_function(X)


def make_model(kind, n_features, *, alpha=ALPHA, gamma=None):
    """The one model configuration of a case (``gamma`` defaults by rule)."""
    if kind not in MODELS:
        raise ValueError(f"Unknown model {kind!r}; choose one of {MODELS}.")
    if gamma is None:
        gamma = 1.0 / n_features
    if TangentClassifier is not None:
        if kind == "linear":
            return TangentClassifier(alpha=alpha)
        return TangentClassifier(alpha=alpha, kernel="rbf", gamma=gamma)
    if kind == "linear":
        return LogisticRegression(C=1.0 / alpha, max_iter=1000)
    return NystroemLogistic(alpha=alpha, gamma=gamma)


def model_classes():
    """What each model is built from in this environment, for the report."""
    if TangentClassifier is not None:
        return {
            "linear": "sktangent.TangentClassifier(alpha=1.0)",
            "rbf": "sktangent.TangentClassifier(alpha=1.0, kernel='rbf', "
            "gamma=1/n_features)",
        }
    return {
        "linear": "STAND-IN sklearn LogisticRegression(C=1/alpha=1.0, max_iter=1000)",
        "rbf": "STAND-IN NystroemLogistic: Nystroem(gamma=1/n_features, "
        f"n_components=min({N_NYSTROEM}, n_labelled)) + LogisticRegression(C=1.0)",
    }


# -------------------------------------------------------------------- split
def start_labels(y_pool, n_classes, seed):
    """One random row of every class, then random rows up to ``N_START``."""
    if n_classes > N_START:
        raise ValueError(f"{n_classes} classes need more than {N_START} labels")
    rng = np.random.RandomState([seed, 2])
    first = [rng.choice(np.flatnonzero(y_pool == c)) for c in range(n_classes)]
    rest = np.setdiff1d(np.arange(len(y_pool)), first)
    more = rng.choice(rest, N_START - n_classes, replace=False)
    return np.concatenate([first, more]).astype(int)


def make_split(dataset, kind, seed):
    """Subsample, standardise, split and pick the starting labels."""
    X, y = DATASETS[dataset].load()
    y = np.unique(y, return_inverse=True)[1]
    rng = np.random.RandomState(seed)
    if len(y) > MAX_ROWS:
        keep = rng.choice(len(y), MAX_ROWS, replace=False)
        X, y = X[keep], y[keep]
    X = StandardScaler().fit_transform(X)
    X_pool, X_test, y_pool, y_test = train_test_split(
        X, y, test_size=TEST_FRACTION, stratify=y, random_state=seed
    )
    n_classes = int(y.max()) + 1
    return Split(
        X_pool=X_pool,
        y_pool=y_pool,
        X_test=X_test,
        y_test=y_test,
        start=start_labels(y_pool, n_classes, seed),
        model=make_model(kind, X.shape[1]),
        error=partial(log_loss, labels=np.arange(n_classes)),
        kind=kind,
        n_classes=n_classes,
    )
