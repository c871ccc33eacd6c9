"""GLM families: sktangent's fit against scikit-learn's regressors of the same family.

``TangentRegressor(family=f, alpha=a).fit`` (regularity tangent included) is
timed against ``PoissonRegressor`` / ``GammaRegressor`` fitted to the same data
with ``alpha=a / n``. The two objectives then have the same minimiser:
sktangent sums the half deviance over the samples, scikit-learn averages it.
Each scikit-learn estimator is run twice, as two baselines: with its default
solver ``"lbfgs"`` and with ``solver="newton-cholesky"``. The target is a
ratio of at most 1.0 against ``"lbfgs"``; the ``"newton-cholesky"`` ratio is
reported without a target.

Like for like: scikit-learn runs with ``tol=1e-8`` (``--sklearn-tol``) and
``max_iter=10_000``, sktangent with its defaults, and the script prints the
largest coefficient difference between the two fits, relative to the largest
coefficient, ``max_j |b_j - b'_j| / max_j |b'_j|`` over the coefficients and
the intercept. A convergence warning from either side is reported too.

Data: ``X`` standard gaussian divided by ``sqrt(p)``, coefficients standard
gaussian, so that ``eta = X @ beta + 0.5`` has a standard deviation near 1;
``y ~ Poisson(exp(eta))`` and ``y ~ Gamma(shape=2, scale=exp(eta) / 2)``.

Every time is the median of ``--repeats`` runs after one warm-up run; the
three estimators are timed in turn within each repeat, all with
``time.perf_counter`` in one process, so that a slow spell of the machine
hits them alike.

``--threads N`` limits the BLAS and OpenMP thread pools to ``N`` threads for
the whole run (through threadpoolctl). On machines with few cores the
thread pools of numpy's and scipy's BLAS and scikit-learn's OpenMP loops can
compete for the cores and slow every estimator down, unevenly; comparing a
run with ``--threads 1`` against one with the default pools shows it.

Run from the repository root::

    python benchmarks/bench_glm.py             # n = 100 000, p = 50
    python benchmarks/bench_glm.py --quick     # small smoke run (CI)
    python benchmarks/bench_glm.py --repeats 9 --threads 1
"""

import argparse
import gc
import statistics
import time
import warnings

import numpy as np
from _common import print_environment
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import GammaRegressor, PoissonRegressor
from threadpoolctl import threadpool_limits

from sktangent import TangentRegressor

FULL = {"n": 100_000, "p": 50}
QUICK = {"n": 2_000, "p": 10}
ALPHA = 1.0
GAMMA_SHAPE = 2.0
SKLEARN_MAX_ITER = 10_000
TARGET = 1.0
BASELINES = {"poisson": PoissonRegressor, "gamma": GammaRegressor}
SOLVERS = ("lbfgs", "newton-cholesky")


def make_data(family, n, p, rng):
    """Gaussian inputs and counts or positive responses with a log-linear mean."""
    X = rng.standard_normal((n, p)) / np.sqrt(p)
    eta = X @ rng.standard_normal(p) + 0.5
    mean = np.exp(eta)
    if family == "poisson":
        y = rng.poisson(mean).astype(np.float64)
    else:
        y = rng.gamma(GAMMA_SHAPE, mean / GAMMA_SHAPE)
    return X, y


class Timed:
    """An estimator fitted repeatedly on the same data; warnings are recorded."""

    def __init__(self, estimator, X, y):
        self.estimator = estimator
        self.X = X
        self.y = y
        self.times = []
        self.warnings = set()

    def run(self):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            gc.collect()
            start = time.perf_counter()
            self.estimator.fit(self.X, self.y)
            elapsed = time.perf_counter() - start
        for warning in caught:
            if issubclass(warning.category, ConvergenceWarning):
                self.warnings.add(warning.category.__name__)
        return elapsed

    def params(self):
        est = self.estimator
        return np.append(est.coef_, est.intercept_)

    def iterations(self):
        return int(np.max(getattr(self.estimator, "n_iter_", -1)))


def time_in_turn(timed, repeats):
    """One warm-up run each, then ``repeats`` rounds timing every entry in turn."""
    for entry in timed:
        entry.run()
    for _ in range(repeats):
        for entry in timed:
            entry.times.append(entry.run())
    return [statistics.median(entry.times) for entry in timed]


def max_relative_difference(ours, reference):
    """``max |ours - reference| / max |reference|`` over coefficients and intercept."""
    return float(np.max(np.abs(ours - reference)) / np.max(np.abs(reference)))


def bench_family(family, sizes, repeats, sklearn_tol, rng):
    """Fit one family with sktangent and both scikit-learn solvers; return rows."""
    n, p = sizes["n"], sizes["p"]
    X, y = make_data(family, n, p, rng)
    ours = Timed(TangentRegressor(alpha=ALPHA, family=family), X, y)
    baselines = [
        Timed(
            BASELINES[family](
                alpha=ALPHA / n,
                solver=solver,
                tol=sklearn_tol,
                max_iter=SKLEARN_MAX_ITER,
            ),
            X,
            y,
        )
        for solver in SOLVERS
    ]
    ours_time, *baseline_times = time_in_turn([ours, *baselines], repeats)

    rows = []
    for solver, baseline, baseline_time in zip(
        SOLVERS, baselines, baseline_times, strict=True
    ):
        rows.append(
            {
                "case": (
                    f"{family} n={n} p={p} / "
                    f"{type(baseline.estimator).__name__}({solver})"
                ),
                "ours": ours_time,
                "baseline": baseline_time,
                "target": TARGET if solver == "lbfgs" else None,
                "diff": max_relative_difference(ours.params(), baseline.params()),
                "iters": f"{ours.iterations()} / {baseline.iterations()}",
                "warnings": ", ".join(
                    sorted(
                        [f"sktangent: {w}" for w in ours.warnings]
                        + [f"{solver}: {w}" for w in baseline.warnings]
                    )
                )
                or "-",
            }
        )
        print(
            f"  {rows[-1]['case']}: {ours_time:.3g} s vs {baseline_time:.3g} s, "
            f"max rel. coef diff {rows[-1]['diff']:.1e}",
            flush=True,
        )
    return rows


def print_table(rows):
    """Markdown table; a ratio is sktangent's time over the baseline's."""
    print(
        "| case | sktangent (s) | baseline (s) | ratio | target | met "
        "| max rel. coef diff | iterations (sktangent / baseline) "
        "| convergence warnings |"
    )
    print("|---|---:|---:|---:|---:|:---:|---:|---:|---|")
    for row in rows:
        ratio = row["ours"] / row["baseline"]
        if row["target"] is None:
            target_cell, met = "-", "-"
        else:
            target_cell = f"≤ {row['target']:g}"
            met = "yes" if ratio <= row["target"] else "no"
        print(
            f"| {row['case']} | {row['ours']:.3g} | {row['baseline']:.3g} "
            f"| {ratio:.2f} | {target_cell} | {met} | {row['diff']:.1e} "
            f"| {row['iters']} | {row['warnings']} |"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, for a smoke run in CI"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed runs per measurement (default 5, or 3 with --quick)",
    )
    parser.add_argument(
        "--sklearn-tol",
        type=float,
        default=1e-8,
        help="tol of the scikit-learn estimators (default 1e-8)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="limit the BLAS and OpenMP thread pools (default: leave them as is)",
    )
    args = parser.parse_args()
    if args.threads is None:
        run(args)
    else:
        with threadpool_limits(limits=args.threads):
            run(args)


def run(args):
    """Print the environment, run every family, print the table."""
    sizes = QUICK if args.quick else FULL
    repeats = args.repeats or (3 if args.quick else 5)

    print_environment()
    print(
        f"{'quick' if args.quick else 'full'} run, median of {repeats} repeats; "
        f"TangentRegressor(alpha={ALPHA:g}, family=f) with default solver, tol and "
        f"max_iter; scikit-learn alpha={ALPHA:g}/n, tol={args.sklearn_tol:g}, "
        f"max_iter={SKLEARN_MAX_ITER}:"
    )

    rng = np.random.default_rng(0)
    start = time.perf_counter()
    rows = []
    for family in BASELINES:
        rows += bench_family(family, sizes, repeats, args.sklearn_tol, rng)
    print(f"total benchmark time {time.perf_counter() - start:.1f} s\n")
    print_table(rows)


if __name__ == "__main__":
    main()
