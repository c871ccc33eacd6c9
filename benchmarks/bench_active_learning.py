"""Active-learning strategies compared on learning curves.

Pool-based active learning on three regression problems; every strategy
labels the same number of pool points from the same start, and the same
model is refitted on the labelled points and scored on a held-out test set:

* ``diabetes``: :func:`sklearn.datasets.load_diabetes` (442 rows, 10
  features), ``TangentRegressor(alpha=1.0, kernel="rbf", gamma=0.03)``,
  scored by RMSE;
* ``friedman1``: :func:`sklearn.datasets.make_friedman1` (600 rows, 5
  features, noise 1.0), ``TangentRegressor(alpha=0.1, kernel="rbf",
  gamma=0.1)``, RMSE;
* ``poisson``: counts ``y ~ Poisson(exp(0.12 g(x) - 1))`` with ``g`` the
  noiseless Friedman #1 function of 600 ``make_friedman1`` inputs (means
  from 0.5 to 10), ``TangentRegressor(family="poisson", alpha=0.1,
  kernel="rbf", gamma=0.03)``, mean Poisson deviance.

Features are standardised on all rows (no labels used). The
hyperparameters are those a 5-fold grid search picks on a 60-point
subsample; they are fixed for every strategy and every round. Each seed
draws a test quarter, 10 random starting labels from the rest (the pool),
and the strategies' random states.

Strategies: ``random``; ``influence-1`` and ``influence-10``
(:func:`sktangent.query.influence_sampling`, one label per query, or greedy
batches of 10); ``variance-1`` (:func:`sktangent.query.variance_sampling`);
``gp-max-std`` (a :class:`~sklearn.gaussian_process.GaussianProcessRegressor`
with a constant x RBF + white-noise kernel refitted on the labelled points
before every query, which picks the pool point of largest predictive std;
only the picks come from the GP, the curve is the common model's); and,
when scikit-activeml is importable, ``GSx`` (``GreedySamplingX``), ``iGS``
(``GreedySamplingTarget(method="GSi")``), ``QBC`` (``QueryByCommittee`` of
three TangentRegressors with alpha and gamma scaled by 1/3 and 2, 1 and 1,
3 and 1/2) and ``EMCM`` (``ExpectedModelChangeMaximization`` with
``n_train=1``, i.e. bootstraps of the pool's size: scikit-activeml 1.0.1
draws ``len(X) * ceil(n_train * len(X)) + 1`` rows for a float
``n_train``, which makes the default 0.5 draw tens of thousands).

The learning curve is the test score after 0, 10, 20, ... new labels; its
area is the mean over those checkpoints (lower is better). The table gives
the mean and standard deviation of that area over the seeds, the final
score, and the median wall time of one query call (for ``influence-10`` a
call returns 10 labels; the refit of the common model is not included,
except for ``gp-max-std``, whose GP fit is part of its query). Run from the
repository root::

    python benchmarks/bench_active_learning.py                 # ~10 min
    python benchmarks/bench_active_learning.py --quick         # CI smoke run
    python benchmarks/bench_active_learning.py --out curves.png --seeds 20
"""

import argparse
import os
import platform
import statistics
import time
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_diabetes, make_friedman1  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.gaussian_process import GaussianProcessRegressor  # noqa: E402
from sklearn.gaussian_process.kernels import (  # noqa: E402
    RBF,
    ConstantKernel,
    WhiteKernel,
)
from sklearn.metrics import mean_poisson_deviance  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import sktangent  # noqa: E402
from sktangent import TangentRegressor  # noqa: E402
from sktangent.query import influence_sampling, variance_sampling  # noqa: E402

try:
    import skactiveml
    from skactiveml.pool import (
        ExpectedModelChangeMaximization,
        GreedySamplingTarget,
        GreedySamplingX,
        QueryByCommittee,
    )
    from skactiveml.regressor import SklearnRegressor
except ImportError:
    skactiveml = None

FULL = {"seeds": 10, "budget": 50, "step": 10}
QUICK = {"seeds": 2, "budget": 20, "step": 10}
N_START = 10


# ----------------------------------------------------------------- problems
def _split(X, y, seed, metric, model):
    X = StandardScaler().fit_transform(X)
    order = np.random.RandomState(seed).permutation(len(y))
    n_test = len(y) // 4
    test, pool = order[:n_test], order[n_test:]
    return {
        "X_pool": X[pool],
        "y_pool": y[pool],
        "X_test": X[test],
        "y_test": y[test],
        "metric": metric,
        "model": model,
    }


def _rmse(y, pred):
    return float(np.sqrt(np.mean((y - pred) ** 2)))


def _deviance(y, pred):
    return float(mean_poisson_deviance(y, pred))


def diabetes(seed):
    X, y = load_diabetes(return_X_y=True)
    model = TangentRegressor(alpha=1.0, kernel="rbf", gamma=0.03)
    return _split(X, y, seed, _rmse, model)


def friedman1(seed):
    X, y = make_friedman1(n_samples=600, n_features=5, noise=1.0, random_state=seed)
    model = TangentRegressor(alpha=0.1, kernel="rbf", gamma=0.1)
    return _split(X, y, seed, _rmse, model)


def poisson(seed):
    X, g = make_friedman1(n_samples=600, n_features=5, noise=0.0, random_state=seed)
    y = np.random.RandomState(seed).poisson(np.exp(0.12 * g - 1.0)).astype(float)
    model = TangentRegressor(family="poisson", alpha=0.1, kernel="rbf", gamma=0.03)
    return _split(X, y, seed, _deviance, model)


PROBLEMS = {"diabetes": diabetes, "friedman1": friedman1, "poisson": poisson}
METRIC_NAME = {"diabetes": "RMSE", "friedman1": "RMSE", "poisson": "deviance"}


# --------------------------------------------------------------- strategies
# Each strategy maps (state, rng) to pool indices; ``state`` holds the pool,
# the partial labels (NaN = unlabelled) and the model fitted on them.
def random_pick(state, rng):
    return rng.choice(np.flatnonzero(np.isnan(state["y"])), 1, replace=False)


def tangent_pick(function, n_instances):
    def pick(state, rng):
        unlabelled = np.flatnonzero(np.isnan(state["y"]))
        idx, _ = function(state["fitted"], state["X"][unlabelled], n_instances)
        return unlabelled[idx]

    return pick


def gp_pick(state, rng):
    labelled = ~np.isnan(state["y"])
    kernel = ConstantKernel() * RBF(np.ones(state["X"].shape[1])) + WhiteKernel()
    gp = GaussianProcessRegressor(kernel, normalize_y=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(state["X"][labelled], state["y"][labelled])
    unlabelled = np.flatnonzero(~labelled)
    _, std = gp.predict(state["X"][unlabelled], return_std=True)
    return unlabelled[[int(np.argmax(std))]]


def skactiveml_pick(make_strategy, kind):
    def pick(state, rng):
        qs = make_strategy(int(rng.randint(2**31 - 1)))
        if kind == "x":
            return qs.query(state["X"], state["y"])
        if kind == "committee":
            model = state["model"]
            committee = [
                SklearnRegressor(
                    clone(model).set_params(
                        alpha=model.alpha * a, gamma=model.gamma * g
                    )
                )
                for a, g in [(1 / 3, 2.0), (1.0, 1.0), (3.0, 0.5)]
            ]
            return qs.query(state["X"], state["y"], committee)
        return qs.query(state["X"], state["y"], state["wrapped"], fit_reg=False)

    return pick


def strategies():
    out = {
        "random": (random_pick, 1),
        "influence-1": (tangent_pick(influence_sampling, 1), 1),
        "influence-10": (tangent_pick(influence_sampling, 10), 10),
        "variance-1": (tangent_pick(variance_sampling, 1), 1),
        "gp-max-std": (gp_pick, 1),
    }
    if skactiveml is not None:
        out["GSx"] = (
            skactiveml_pick(lambda rs: GreedySamplingX(random_state=rs), "x"),
            1,
        )
        out["iGS"] = (
            skactiveml_pick(
                lambda rs: GreedySamplingTarget(method="GSi", random_state=rs), "reg"
            ),
            1,
        )
        out["QBC"] = (
            skactiveml_pick(lambda rs: QueryByCommittee(random_state=rs), "committee"),
            1,
        )
        out["EMCM"] = (
            skactiveml_pick(
                lambda rs: ExpectedModelChangeMaximization(n_train=1, random_state=rs),
                "reg",
            ),
            1,
        )
    return out


# -------------------------------------------------------------------- loop
def learning_curve(problem, pick, batch, seed, budget, step):
    """Test scores after 0, step, 2 step, ... labels; and the query times."""
    X, y_pool = problem["X_pool"], problem["y_pool"]
    rng = np.random.RandomState(seed)
    y = np.full(len(y_pool), np.nan)
    start = rng.choice(len(y_pool), N_START, replace=False)
    y[start] = y_pool[start]
    curve, times = [], []
    n_new = 0
    while True:
        wrapped = SklearnRegressor(problem["model"]) if skactiveml else None
        if wrapped is not None:
            wrapped.fit(X, y)
            fitted = wrapped.estimator_
        else:
            labelled = ~np.isnan(y)
            fitted = clone(problem["model"]).fit(X[labelled], y[labelled])
        if n_new % step == 0:
            pred = fitted.predict(problem["X_test"])
            curve.append(problem["metric"](problem["y_test"], pred))
        if n_new >= budget:
            return np.array(curve), times
        state = {
            "X": X,
            "y": y,
            "fitted": fitted,
            "wrapped": wrapped,
            "model": problem["model"],
        }
        t0 = time.perf_counter()
        picks = np.asarray(pick(state, rng))
        times.append(time.perf_counter() - t0)
        assert len(picks) == batch and np.all(np.isnan(y[picks]))
        y[picks] = y_pool[picks]
        n_new += batch


def run(config):
    results = {}
    for name, make_problem in PROBLEMS.items():
        for seed in range(config["seeds"]):
            problem = make_problem(seed)
            for strategy, (pick, batch) in strategies().items():
                curve, times = learning_curve(
                    problem, pick, batch, seed, config["budget"], config["step"]
                )
                entry = results.setdefault(
                    (name, strategy), {"curves": [], "times": []}
                )
                entry["curves"].append(curve)
                entry["times"].extend(times)
    return results


# ------------------------------------------------------------------ output
def print_environment(config):
    print(
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"scikit-learn {sklearn.__version__}, sktangent {sktangent.__version__}, "
        "scikit-activeml "
        f"{skactiveml.__version__ if skactiveml else 'not installed (skipped)'}"
    )
    print(f"os.cpu_count() = {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    print(
        f"{config['seeds']} seeds, {N_START} starting labels, {config['budget']} "
        f"new labels, checkpoints every {config['step']}"
    )
    if skactiveml is None:
        print(
            "Note: scikit-activeml is not importable; GSx, iGS, QBC and EMCM "
            'are skipped (pip install "sktangent[skactiveml]").'
        )


def print_tables(results):
    for name in PROBLEMS:
        metric = METRIC_NAME[name]
        print()
        print(
            f"### {name} (test {metric}; area = mean over checkpoints, lower is better)"
        )
        print()
        print(
            f"| strategy | labels per query | area mean | area std | final {metric} "
            "| median ms / query |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        for (problem, strategy), entry in results.items():
            if problem != name:
                continue
            curves = np.array(entry["curves"])
            area = curves.mean(axis=1)
            batch = strategies()[strategy][1]
            ms = 1000 * statistics.median(entry["times"])
            print(
                f"| {strategy} | {batch} | {area.mean():.4g} | {area.std():.3g} "
                f"| {curves[:, -1].mean():.4g} | {ms:.3g} |"
            )


def plot(results, config, out):
    fig, axes = plt.subplots(1, len(PROBLEMS), figsize=(5 * len(PROBLEMS), 4))
    labels = N_START + config["step"] * np.arange(
        config["budget"] // config["step"] + 1
    )
    for ax, name in zip(axes, PROBLEMS, strict=True):
        for (problem, strategy), entry in results.items():
            if problem != name:
                continue
            mean = np.array(entry["curves"]).mean(axis=0)
            style = "-" if strategy.startswith(("influence", "variance")) else "--"
            ax.plot(labels, mean, style, marker="o", markersize=3, label=strategy)
        ax.set_title(name)
        ax.set_xlabel("labelled points")
        ax.set_ylabel(f"test {METRIC_NAME[name]}")
    axes[0].legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(f"\nlearning curves written to {out}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI smoke run")
    parser.add_argument("--seeds", type=int, help="number of seeds")
    parser.add_argument(
        "--out", default="bench_active_learning.png", help="PNG of the curves"
    )
    args = parser.parse_args()
    config = dict(QUICK if args.quick else FULL)
    if args.seeds:
        config["seeds"] = args.seeds
    print_environment(config)
    t0 = time.perf_counter()
    results = run(config)
    print_tables(results)
    plot(results, config, args.out)
    print(f"total time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
