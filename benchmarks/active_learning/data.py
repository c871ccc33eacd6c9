"""The data sets, the models and the per-seed split of the benchmark.

Every data set ships inside a package (scikit-learn or statsmodels); nothing
is downloaded. One rule for all of them:

* at most ``MAX_ROWS`` rows per seed, drawn without replacement with the
  seed (only ``fair`` and ``randhie`` are larger);
* features standardised on those rows (no labels used);
* a random third of the rows is the test set, the rest the pool;
* ``linear`` is ``TangentRegressor(alpha=1.0, family=f)``, ``rbf`` adds
  ``kernel="rbf", gamma=1 / n_features`` (scikit-learn's ``gamma="scale"`` on
  standardised features); nothing is tuned.
"""

from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_diabetes, make_friedman1
from sklearn.metrics import mean_poisson_deviance
from sklearn.preprocessing import StandardScaler

from sktangent import TangentRegressor

MAX_ROWS = 3000
TEST_FRACTION = 1 / 3
ALPHA = 1.0


@dataclass(frozen=True)
class DataSet:
    """A regression target, the family that fits it and its test error."""

    name: str
    family: str
    error: str
    description: str
    load: object  # seed -> (X, y); the seed only matters for generated data


@dataclass
class Split:
    """One seed of one (data set, model) case."""

    X_pool: np.ndarray
    y_pool: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    model: TangentRegressor
    error: object  # (y_true, y_pred) -> float, lower is better


# ------------------------------------------------------------------ loaders
def _statsmodels(name):
    from statsmodels import datasets

    return getattr(datasets, name).load_pandas()


def _diabetes(seed):
    return load_diabetes(return_X_y=True)


def _friedman1(seed):
    return make_friedman1(n_samples=600, n_features=5, noise=1.0, random_state=seed)


def _fair(seed):
    data = _statsmodels("fair")
    return data.exog.to_numpy(float), data.endog.to_numpy(float)


def _randhie(seed):
    data = _statsmodels("randhie")
    return data.exog.to_numpy(float), data.endog.to_numpy(float)


def _star98(seed):
    # The trial counts span 18 to 38 000 pupils: as sample weights they would
    # let a few large districts decide every fit, and no peer strategy knows
    # a candidate's weight. The target is the plain proportion, unweighted.
    data = _statsmodels("star98")
    counts = data.endog.to_numpy(float)
    return data.exog.to_numpy(float), counts[:, 0] / counts.sum(axis=1)


def _anes96(seed):
    # statsmodels' own endog and exog: party identification (0 = strong
    # Democrat ... 6 = strong Republican) from log population, self-placement
    # on the left-right scale, age, education and income.
    data = _statsmodels("anes96")
    return data.exog.to_numpy(float), data.endog.to_numpy(float)


DATASETS = {
    d.name: d
    for d in [
        DataSet("diabetes", "normal", "RMSE", "load_diabetes, 442 x 10", _diabetes),
        DataSet(
            "friedman1",
            "normal",
            "RMSE",
            "make_friedman1, 600 x 5, noise 1, drawn with the seed",
            _friedman1,
        ),
        DataSet(
            "fair",
            "normal",
            "RMSE",
            "statsmodels fair: affairs, 6366 x 8",
            _fair,
        ),
        DataSet(
            "randhie",
            "poisson",
            "Poisson deviance",
            "statsmodels randhie: visit counts mdvis, 20190 x 9",
            _randhie,
        ),
        DataSet(
            "star98",
            "binomial",
            "binomial deviance",
            "statsmodels star98: NABOVE / (NABOVE + NBELOW), 303 x 20, unweighted",
            _star98,
        ),
        DataSet(
            "anes96",
            "normal",
            "RMSE",
            "statsmodels anes96: party identification PID (0-6), 944 x 5",
            _anes96,
        ),
    ]
}
MODELS = ("linear", "rbf")


# ------------------------------------------------------------------- errors
def rmse(y, pred):
    return float(np.sqrt(np.mean((y - pred) ** 2)))


def poisson_deviance(y, pred):
    return float(mean_poisson_deviance(y, pred))


def binomial_deviance(y, pred):
    """Mean binomial deviance of proportions, 2 [y log(y/p) + (1-y) log(...)]."""
    p = np.clip(pred, 1e-12, 1 - 1e-12)
    y_log_y = np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / p), 0.0)
    q = 1 - y
    q_log_q = np.where(q > 0, q * np.log(np.where(q > 0, q, 1) / (1 - p)), 0.0)
    return float(np.mean(2 * (y_log_y + q_log_q)))


ERRORS = {"normal": rmse, "poisson": poisson_deviance, "binomial": binomial_deviance}


# -------------------------------------------------------------------- split
def make_model(family, model, n_features):
    """The one model configuration of a case: alpha=1, gamma by rule."""
    if model == "linear":
        return TangentRegressor(alpha=ALPHA, family=family)
    if model == "rbf":
        return TangentRegressor(
            alpha=ALPHA, family=family, kernel="rbf", gamma=1.0 / n_features
        )
    raise ValueError(f"Unknown model {model!r}; choose one of {MODELS}.")


def make_split(dataset, model, seed):
    """Subsample, standardise and split one data set for one seed."""
    data = DATASETS[dataset]
    X, y = data.load(seed)
    rng = np.random.RandomState(seed)
    if len(y) > MAX_ROWS:
        keep = rng.choice(len(y), MAX_ROWS, replace=False)
        X, y = X[keep], y[keep]
    X = StandardScaler().fit_transform(X)
    order = rng.permutation(len(y))
    n_test = int(round(len(y) * TEST_FRACTION))
    test, pool = order[:n_test], order[n_test:]
    return Split(
        X_pool=X[pool],
        y_pool=y[pool],
        X_test=X[test],
        y_test=y[test],
        model=make_model(data.family, model, X.shape[1]),
        error=ERRORS[data.family],
    )
