"""Choosing alpha by leave-one-out: TangentRegressorCV against scikit-learn's searches.

``TangentRegressorCV`` evaluates the leave-one-out (LOO) error on its default
grid of 25 alphas from 1e-6 to 1e6, then follows the sign of the analytic
hypergradient ``dE/d log(alpha)`` between the neighbours of the best grid
point until the bracket is narrower than 1e-3 in ``log(alpha)``. It is timed
against

* ``RidgeCV(alphas=np.logspace(-6, 6, 100))`` for linear models: scikit-learn's
  efficient LOO, one decomposition of ``X`` shared by every alpha;
* ``GridSearchCV(TangentRegressor(kernel="rbf", gamma=0.1), {"alpha": grid},
  cv=LeaveOneOut(), scoring="neg_mean_squared_error", n_jobs=1)`` for a kernel
  model, which refits the model ``n`` times per alpha. The grid has 20 alphas
  from 1e-6 to 1e6 (``--kernel-alphas``), 4000 refits per search at n = 200:
  with 100 alphas the search refits five times as many models and takes five
  times as long, repeated for every timed run.

Like for like: every search picks its alpha by its own criterion, then the
LOO error (mean squared error of the LOO predictions) at each chosen alpha is
computed in one way for both. For the linear cases it is the closed form
``r_i / (1 - h_i)`` of ``sktangent._loo.leave_one_out`` at a fresh fit, exact
for ridge regression; for the kernel case it is brute force, ``n`` refits of
``TangentRegressor`` without the point left out, which does not rely on any
sktangent formula. The error ratio is sktangent's over the baseline's:
below 1, sktangent's alpha generalises better by this criterion. The LOO
error each search reports about itself is printed before the table, as a
check.

Data: the diabetes data (n = 442, p = 10); ``make_regression`` with
n = 5000, p = 50, ``effective_rank=10`` and ``noise=50`` (correlated
features, where the best alpha is well inside the grid); ``make_friedman1``
with n = 200 for the kernel model.

Every time is the median of ``--repeats`` runs after one warm-up run (whose
fitted searches give the chosen alphas); sktangent and its baseline are timed
alternately, all with ``time.perf_counter`` in one process. ``--threads N``
limits the BLAS and OpenMP thread pools for the whole run (threadpoolctl): on
a machine with few cores and other load, multi-threaded LAPACK calls on small
matrices can be many times slower than single-threaded ones.

Run from the repository root::

    python benchmarks/bench_tuning.py              # about a minute
    python benchmarks/bench_tuning.py --quick      # small smoke run (CI)
    python benchmarks/bench_tuning.py --threads 1 --kernel-alphas 100
"""

import argparse
import gc
import statistics
import time
import warnings

import numpy as np
from _common import load_average, print_environment
from sklearn.datasets import load_diabetes, make_friedman1, make_regression
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import GridSearchCV, LeaveOneOut
from threadpoolctl import threadpool_limits

from sktangent import TangentRegressor, TangentRegressorCV
from sktangent._loo import leave_one_out

FULL = {"regression_n": 5_000, "regression_p": 50, "kernel_n": 200}
QUICK = {"regression_n": 500, "regression_p": 20, "kernel_n": 40}
RIDGE_ALPHAS = np.logspace(-6, 6, 100)
GAMMA = 0.1


def linear_loo_error(alpha, X, y):
    """Exact LOO mean squared error of ridge regression, in closed form."""
    model = TangentRegressor(alpha=alpha).fit(X, y)
    return leave_one_out(model.fitted_state_, X, y, np.ones(len(y))).error


def brute_force_loo_error(alpha, X, y, params):
    """LOO mean squared error by ``n`` refits, one per left-out point."""
    keep = np.ones(len(y), dtype=bool)
    errors = np.empty(len(y))
    for i in range(len(y)):
        keep[i] = False
        model = TangentRegressor(alpha=alpha, **params).fit(X[keep], y[keep])
        errors[i] = (y[i] - model.predict(X[i : i + 1])[0]) ** 2
        keep[i] = True
    return float(np.mean(errors))


def time_alternately(ours, baseline, repeats):
    """Warm-up results and median wall times of two searches, timed in turn."""
    results = ours(), baseline()
    times = ([], [])
    for _ in range(repeats):
        for func, record in zip((ours, baseline), times, strict=True):
            gc.collect()
            start = time.perf_counter()
            func()
            record.append(time.perf_counter() - start)
    return results, statistics.median(times[0]), statistics.median(times[1])


def run_case(case, X, y, params, baseline, baseline_name, repeats, exact_loo):
    """Time TangentRegressorCV and a baseline search; return one table row."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (cv, base), ours_time, base_time = time_alternately(
            lambda: TangentRegressorCV(**params).fit(X, y),
            lambda: baseline.fit(X, y),
            repeats,
        )
    if isinstance(base, RidgeCV):
        base_alpha, n_base = float(base.alpha_), len(base.alphas)
    else:
        base_alpha = float(base.best_params_["alpha"])
        n_base = len(base.cv_results_["params"])
    row = {
        "case": case,
        "baseline": baseline_name,
        "ours": ours_time,
        "base": base_time,
        "ours_error": exact_loo(cv.alpha_),
        "base_error": exact_loo(base_alpha),
        "ours_alpha": cv.alpha_,
        "base_alpha": base_alpha,
        "evaluated": f"{len(cv.alphas_evaluated_)} / {n_base}",
        "warnings": sorted({w.category.__name__ for w in caught}),
    }
    print(
        f"  {case}: {ours_time:.3g} s vs {base_time:.3g} s; LOO error as reported "
        f"by the searches: sktangent {cv.loo_error_:.6g}, {baseline_name} "
        f"{-base.best_score_:.6g}; recomputed: {row['ours_error']:.6g} vs "
        f"{row['base_error']:.6g}"
        + (f"; warnings: {', '.join(row['warnings'])}" if row["warnings"] else ""),
        flush=True,
    )
    return row


def bench(sizes, repeats, kernel_alphas):
    """Run the three cases; return their rows."""
    rows = []
    ridge_name = f"RidgeCV ({len(RIDGE_ALPHAS)} alphas)"

    X, y = load_diabetes(return_X_y=True)
    rows.append(
        run_case(
            f"diabetes n={X.shape[0]} p={X.shape[1]}",
            X,
            y,
            {},
            RidgeCV(alphas=RIDGE_ALPHAS),
            ridge_name,
            repeats,
            lambda alpha: linear_loo_error(alpha, X, y),
        )
    )

    n, p = sizes["regression_n"], sizes["regression_p"]
    X_r, y_r = make_regression(
        n, p, n_informative=p, effective_rank=10, noise=50.0, random_state=0
    )
    rows.append(
        run_case(
            f"make_regression n={n} p={p}",
            X_r,
            y_r,
            {},
            RidgeCV(alphas=RIDGE_ALPHAS),
            ridge_name,
            repeats,
            lambda alpha: linear_loo_error(alpha, X_r, y_r),
        )
    )

    n = sizes["kernel_n"]
    X_k, y_k = make_friedman1(n, noise=1.0, random_state=0)
    params = {"kernel": "rbf", "gamma": GAMMA}
    search = GridSearchCV(
        TangentRegressor(**params),
        {"alpha": np.logspace(-6, 6, kernel_alphas)},
        cv=LeaveOneOut(),
        scoring="neg_mean_squared_error",
        n_jobs=1,
    )
    rows.append(
        run_case(
            f"friedman1 rbf(gamma={GAMMA:g}) n={n} p={X_k.shape[1]}",
            X_k,
            y_k,
            params,
            search,
            f"GridSearchCV(LeaveOneOut, {kernel_alphas} alphas)",
            repeats,
            lambda alpha: brute_force_loo_error(alpha, X_k, y_k, params),
        )
    )
    return rows


def print_table(rows):
    """Markdown table; both ratios are sktangent's value over the baseline's."""
    print(
        "| case | baseline | sktangent (s) | baseline (s) | time ratio "
        "| LOO error, sktangent | LOO error, baseline | error ratio "
        "| alpha, sktangent | alpha, baseline | alphas evaluated |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['case']} | {row['baseline']} | {row['ours']:.3g} "
            f"| {row['base']:.3g} | {row['ours'] / row['base']:.3f} "
            f"| {row['ours_error']:.7g} | {row['base_error']:.7g} "
            f"| {row['ours_error'] / row['base_error']:.7f} "
            f"| {row['ours_alpha']:.4g} | {row['base_alpha']:.4g} "
            f"| {row['evaluated']} |"
        )


def run(args):
    """Print the environment, run the cases, print the table."""
    sizes = QUICK if args.quick else FULL
    repeats = args.repeats or (1 if args.quick else 3)
    kernel_alphas = args.kernel_alphas or (10 if args.quick else 20)

    print_environment()
    print(
        f"{'quick' if args.quick else 'full'} run, median of {repeats} repeats; "
        "TangentRegressorCV with its defaults (25-alpha grid, refine=True, "
        "xtol=1e-3):"
    )
    start = time.perf_counter()
    rows = bench(sizes, repeats, kernel_alphas)
    print(
        f"total benchmark time {time.perf_counter() - start:.1f} s, {load_average()}\n"
    )
    print_table(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, for a smoke run in CI"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed runs per search (default 3, or 1 with --quick)",
    )
    parser.add_argument(
        "--kernel-alphas",
        type=int,
        default=None,
        help="size of GridSearchCV's alpha grid (default 20, or 10 with --quick)",
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


if __name__ == "__main__":
    main()
