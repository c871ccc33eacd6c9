"""Influence functions and leave-one-out against brute-force refitting.

For a model fitted on ``n`` training points (2 000 by default) the script
times

* the full influence matrix ``loss_influence(model, X, y, X_test, y_test)``,
  ``n_test x n`` (1 000 test points by default), against its brute-force
  definition: for every training point, two refits with its weight moved by
  ``+-eps`` and the test losses of each (a central difference);
* all leave-one-out residuals ``leave_one_out(model, X, y)`` against ``n``
  refits, each without one training point, predicting at that point.

Refitting ``n`` times takes long (minutes to hours for kernel models), so
the brute force is timed on ``--refits`` training points and extrapolated
linearly to all ``n``; the table says so. The same refits give the accuracy
column: the largest difference between sktangent's values and the brute
force on those points, relative to the largest brute-force value. For the
normal family leave-one-out is exact (the difference is rounding); for the
Poisson family it is the one-step Newton approximation, and the difference
is the approximation error. The influence matrix is compared with a central
difference, so its column shows the finite-difference error (``eps = 1e-4``
relative weight change).

sktangent's times exclude the one fit of the model, which the brute force
needs too; they are the median of ``--repeats`` runs after a warm-up run.
The brute force starts after one untimed warm-up refit. The
GLM models are fitted with ``tol=1e-10`` so that the finite differences of
the brute force are meaningful.

Run from the repository root::

    python benchmarks/bench_influence.py            # n = 2 000, a few minutes
    python benchmarks/bench_influence.py --quick    # small smoke run (CI)
    python benchmarks/bench_influence.py --refits 20 --repeats 5
"""

import argparse
import statistics
import time

import numpy as np
from _common import print_environment
from sklearn.base import clone

from sktangent import TangentRegressor
from sktangent.influence import leave_one_out, loss_influence

FULL = {"n": 2_000, "n_test": 1_000, "p": 10, "refits": 8, "repeats": 3}
QUICK = {"n": 200, "n_test": 50, "p": 5, "refits": 3, "repeats": 1}
EPS = 1e-4
CASES = [
    ("linear", "normal"),
    ("linear", "poisson"),
    ("rbf", "normal"),
    ("rbf", "poisson"),
]


def make_data(family, n, p, rng):
    """Gaussian inputs, a smooth mean, normal noise or Poisson counts."""
    X = rng.standard_normal((n, p))
    eta = np.sin(X[:, 0]) + 0.5 * X[:, 1] - 0.3 * X[:, 2] ** 2 / 2 + 0.5
    if family == "poisson":
        return X, rng.poisson(np.exp(eta)).astype(np.float64)
    return X, eta + 0.3 * rng.standard_normal(n)


def make_model(model, family, p):
    kernel = "rbf" if model == "rbf" else None
    return TangentRegressor(
        alpha=1.0, family=family, kernel=kernel, gamma=1.0 / p, tol=1e-10
    )


def median_time(func, repeats):
    func()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def brute_influence(est, X, y, X_test, y_test, points):
    """Central differences of the test losses in the weight of each point."""
    loss = est.fitted_state_.family.loss
    columns = []
    for i in points:
        values = []
        for sign in (1, -1):
            w = np.ones(len(y))
            w[i] += sign * EPS
            refit = clone(est).fit(X, y, sample_weight=w)
            values.append(loss(y_test, refit.fitted_state_.eta(X_test)))
        columns.append((values[0] - values[1]) / (2 * EPS))
    return np.column_stack(columns)


def brute_loo(est, X, y, points):
    """Residuals of refits without each point, at that point."""
    out = []
    for i in points:
        keep = np.arange(len(y)) != i
        refit = clone(est).fit(X[keep], y[keep])
        out.append(y[i] - refit.predict(X[i : i + 1])[0])
    return np.array(out)


def relative_difference(ours, brute):
    return float(np.max(np.abs(ours - brute)) / np.max(np.abs(brute)))


def bench_case(model, family, sizes, rng):
    n, n_test, p, n_refits = sizes["n"], sizes["n_test"], sizes["p"], sizes["refits"]
    X_all, y_all = make_data(family, n + n_test, p, rng)
    X, y, X_test, y_test = X_all[:n], y_all[:n], X_all[n:], y_all[n:]
    est = make_model(model, family, p).fit(X, y)
    points = rng.choice(n, n_refits, replace=False)
    name = f"{model} {family}, n={n}, p={p}"
    rows = []

    clone(est).fit(X, y)  # warm-up refit: one-off costs stay out of the timing
    ours = median_time(
        lambda: loss_influence(est, X, y, X_test, y_test), sizes["repeats"]
    )
    matrix = loss_influence(est, X, y, X_test, y_test)
    start = time.perf_counter()
    brute = brute_influence(est, X, y, X_test, y_test, points)
    brute_time = (time.perf_counter() - start) * n / n_refits
    rows.append(
        (
            name,
            f"influence matrix {n_test} x {n}",
            ours,
            brute_time,
            relative_difference(matrix[:, points], brute),
        )
    )

    ours = median_time(lambda: leave_one_out(est, X, y), sizes["repeats"])
    residuals = leave_one_out(est, X, y).residuals
    start = time.perf_counter()
    brute = brute_loo(est, X, y, points)
    brute_time = (time.perf_counter() - start) * n / n_refits
    rows.append(
        (
            name,
            f"all {n} leave-one-out residuals",
            ours,
            brute_time,
            relative_difference(residuals[points], brute),
        )
    )
    for row in rows:
        print(f"  {row[0]}, {row[1]}: {row[2]:.3g} s vs {row[3]:.3g} s", flush=True)
    return rows


def print_table(rows, n_refits):
    print(
        "| case | quantity | sktangent (s) "
        f"| brute force (s, from {n_refits} points) | ratio | speed-up "
        "| max rel. difference |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for case, quantity, ours, brute, diff in rows:
        print(
            f"| {case} | {quantity} | {ours:.3g} | {brute:.3g} | {ours / brute:.2g} "
            f"| {brute / ours:.3g}x | {diff:.1e} |"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, for a smoke run in CI"
    )
    parser.add_argument(
        "--refits", type=int, default=None, help="points refitted by brute force"
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed runs of sktangent"
    )
    args = parser.parse_args()
    sizes = dict(QUICK if args.quick else FULL)
    sizes["refits"] = args.refits or sizes["refits"]
    sizes["repeats"] = args.repeats or sizes["repeats"]

    print_environment()
    print(
        f"{'quick' if args.quick else 'full'} run; sktangent: median of "
        f"{sizes['repeats']} runs; brute force: {sizes['refits']} points refitted, "
        "time extrapolated to all training points. Ratio = sktangent / brute force."
    )
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    rows = []
    for model, family in CASES:
        rows += bench_case(model, family, sizes, rng)
    print(f"total benchmark time {time.perf_counter() - start:.1f} s\n")
    print_table(rows, sizes["refits"])


if __name__ == "__main__":
    main()
