"""Cost of the regularity tangent: sktangent against its scikit-learn baselines.

The tangent is one extra solve with the matrix that ``fit`` already
factorises, and scoring a candidate costs one gradient, so:

* ``TangentRegressor.fit`` (tangent included) should cost at most 15 % more
  than ``Ridge.fit`` (linear model) and ``KernelRidge.fit`` (kernel model);
* ``influence_score(X_pool)`` should cost at most twice ``predict(X_pool)``.

Every timing is the median of ``--repeats`` runs after one warm-up run, all
measured with ``time.perf_counter`` in the same process; sktangent and its
baseline are timed alternately, so a slow spell of the machine hits both.
The labelled score ``influence_score(X_pool, y_pool)`` and sktangent's
``predict`` against the scikit-learn ``predict`` are reported without a
target. The warm-up run of ``influence_score`` also computes ``dispersion_``
once per fit; that one-off cost is not in the scoring times.

Run from the repository root::

    python benchmarks/bench_fit.py             # full sizes, about a minute
    python benchmarks/bench_fit.py --quick     # small smoke run (CI)
    python benchmarks/bench_fit.py --repeats 9
"""

import argparse
import gc
import statistics
import time

import numpy as np
from _common import load_average, print_environment
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge

from sktangent import TangentRegressor

FULL = {
    "linear_n": 200_000,
    "linear_p": 100,
    "kernel_n": 3_000,
    "kernel_p": 10,
    "linear_pool": 1_000_000,
    "kernel_score_n": 2_000,
    "kernel_pool": 100_000,
}
QUICK = {
    "linear_n": 2_000,
    "linear_p": 20,
    "kernel_n": 300,
    "kernel_p": 10,
    "linear_pool": 10_000,
    "kernel_score_n": 200,
    "kernel_pool": 1_000,
}
ALPHA = 1.0
GAMMA = 0.1
FIT_TARGET = 1.15
SCORE_TARGET = 2.0


def make_data(n, p, rng, coef=None):
    """Dense gaussian inputs and a noisy linear response."""
    X = rng.standard_normal((n, p))
    if coef is None:
        coef = rng.standard_normal(p)
    y = X @ coef + 0.5 * rng.standard_normal(n)
    return X, y, coef


def compare(ours, baseline, repeats):
    """Median wall times of ``ours()`` and ``baseline()`` over ``repeats`` runs.

    One warm-up call each, then the two are timed alternately, so that a slow
    spell of the machine (other load, memory pressure) hits both alike and the
    ratio stays meaningful.
    """
    ours()
    baseline()
    times = ([], [])
    for _ in range(repeats):
        for func, record in zip((ours, baseline), times, strict=True):
            gc.collect()
            start = time.perf_counter()
            func()
            record.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def bench_linear(sizes, repeats, add, rng):
    """Linear model: fit against Ridge, then score a large pool."""
    n, p, m = sizes["linear_n"], sizes["linear_p"], sizes["linear_pool"]
    X, y, coef = make_data(n, p, rng)
    model = TangentRegressor(alpha=ALPHA)
    ridge = Ridge(alpha=ALPHA)
    add(
        f"linear fit n={n} p={p} / Ridge.fit",
        *compare(lambda: model.fit(X, y), lambda: ridge.fit(X, y), repeats),
        FIT_TARGET,
    )

    X_pool, y_pool, _ = make_data(m, p, rng, coef)
    score_rows(f"linear, pool m={m}", model, ridge, X_pool, y_pool, repeats, add)


def bench_kernel(sizes, repeats, add, rng):
    """Kernel model: fit against KernelRidge, then score a pool."""
    n, p = sizes["kernel_n"], sizes["kernel_p"]
    X, y, _ = make_data(n, p, rng)
    model = TangentRegressor(alpha=ALPHA, kernel="rbf", gamma=GAMMA)
    kernel_ridge = KernelRidge(alpha=ALPHA, kernel="rbf", gamma=GAMMA)
    add(
        f"kernel fit rbf n={n} p={p} / KernelRidge.fit",
        *compare(lambda: model.fit(X, y), lambda: kernel_ridge.fit(X, y), repeats),
        FIT_TARGET,
    )

    # Scoring uses a model fitted on fewer points: the pool's kernel matrix
    # against the training set is what predict and the scores both pay for.
    n, m = sizes["kernel_score_n"], sizes["kernel_pool"]
    X_fit, y_fit, coef = make_data(n, p, rng)
    X_pool, y_pool, _ = make_data(m, p, rng, coef)
    model.fit(X_fit, y_fit)
    kernel_ridge.fit(X_fit, y_fit)
    score_rows(
        f"kernel n={n}, pool m={m}", model, kernel_ridge, X_pool, y_pool, repeats, add
    )


def score_rows(label, model, reference, X_pool, y_pool, repeats, add):
    """Scores against ``predict`` of the same model; ``predict`` against sklearn."""

    def predict():
        return model.predict(X_pool)

    add(
        f"{label}: influence_score(X) / predict",
        *compare(lambda: model.influence_score(X_pool), predict, repeats),
        SCORE_TARGET,
    )
    add(
        f"{label}: influence_score(X, y) / predict",
        *compare(lambda: model.influence_score(X_pool, y_pool), predict, repeats),
    )
    add(
        f"{label}: predict / {type(reference).__name__}.predict",
        *compare(predict, lambda: reference.predict(X_pool), repeats),
    )


def bench(sizes, repeats):
    """Run every case; return rows (case, sktangent, baseline, target)."""
    rng = np.random.default_rng(0)
    rows = []

    def add(case, ours, baseline, target=None):
        rows.append((case, ours, baseline, target))
        print(f"  {case}: {ours:.3g} s vs {baseline:.3g} s", flush=True)

    bench_linear(sizes, repeats, add, rng)
    bench_kernel(sizes, repeats, add, rng)
    return rows


def print_table(rows):
    """Markdown table of the timings; a ratio is sktangent over baseline."""
    print("| case | sktangent (s) | baseline (s) | ratio | target | met |")
    print("|---|---:|---:|---:|---:|:---:|")
    for case, ours, baseline, target in rows:
        ratio = ours / baseline
        if target is None:
            target_cell, met = "-", "-"
        else:
            target_cell, met = f"≤ {target:g}", "yes" if ratio <= target else "no"
        print(
            f"| {case} | {ours:.3g} | {baseline:.3g} | {ratio:.2f} "
            f"| {target_cell} | {met} |"
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
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    repeats = args.repeats or (3 if args.quick else 5)

    print_environment()
    print(f"{'quick' if args.quick else 'full'} run, median of {repeats} repeats:")

    start = time.perf_counter()
    rows = bench(sizes, repeats)
    print(
        f"total benchmark time {time.perf_counter() - start:.1f} s, {load_average()}\n"
    )
    print_table(rows)


if __name__ == "__main__":
    main()
