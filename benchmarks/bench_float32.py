"""Memory of scoring a float32 pool: no float64 copy of the pool.

A model fitted on float32 rows is queried with a float32 pool; the script
prints, for each verb and query strategy, the peak of the memory allocated
during the call (``tracemalloc``, which sees numpy's buffers) next to the
size of the pool and of a float64 copy of it. The verbs convert the pool to
float64 one block of rows (a few tens of megabytes) at a time, so their peak
stays far below the float64 copy; the goal-oriented strategy keeps its
whitened pool (``n_features + 1`` float64 columns, by design) and is
reported for the linear model only. It also prints the output dtypes.

Run from the repository root::

    python benchmarks/bench_float32.py            # pool of 10^6 x 100 (400 MB)
    python benchmarks/bench_float32.py --quick    # pool of 2 x 10^4 x 20 (CI)
"""

import argparse
import time
import tracemalloc

import numpy as np
from _common import load_average, print_environment

from sktangent import TangentRegressor
from sktangent.query import (
    expected_influence_sampling,
    influence_sampling,
    variance_sampling,
)

FULL = {"n_fit": 5_000, "pool": 1_000_000, "p": 100}
QUICK = {"n_fit": 500, "pool": 20_000, "p": 20}


def peak(func):
    """``(result, peak MB, seconds)`` of one call."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        out = func()
        return (
            out,
            tracemalloc.get_traced_memory()[1] / 1e6,
            time.perf_counter() - start,
        )
    finally:
        tracemalloc.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, for a smoke run in CI"
    )
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    print_environment()
    rng = np.random.default_rng(0)
    n, m, p = sizes["n_fit"], sizes["pool"], sizes["p"]
    coef = rng.standard_normal(p).astype(np.float32)
    X = rng.standard_normal((n, p), dtype=np.float32)
    y = X @ coef + rng.standard_normal(n, dtype=np.float32)
    pool = rng.standard_normal((m, p), dtype=np.float32)
    print(
        f"pool {m} x {p} float32: {pool.nbytes / 1e6:.0f} MB "
        f"(a float64 copy: {2 * pool.nbytes / 1e6:.0f} MB)\n"
    )
    cases = {
        "linear": TangentRegressor(alpha=1.0),
        "Nystroem rbf, n_components=100": TangentRegressor(
            alpha=1.0,
            kernel="rbf",
            gamma=1.0 / p,
            n_components=100,
            random_state=0,
        ),
    }
    print("| model | call | peak (MB) | peak / float64 copy | output dtype | s |")
    print("|---|---|---:|---:|---|---:|")
    for name, model in cases.items():
        model.fit(X, y)
        model.influence_score(pool[:10])  # the dispersion, once
        calls = {
            "predict": lambda model=model: model.predict(pool),
            "predict(return_std=True)": lambda model=model: model.predict(
                pool, return_std=True
            )[1],
            "predict_tangent": lambda model=model: model.predict_tangent(pool),
            "influence_score": lambda model=model: model.influence_score(pool),
            "influence_sampling(5)": lambda model=model: influence_sampling(
                model, pool, 5
            )[1],
            "variance_sampling(5)": lambda model=model: variance_sampling(
                model, pool, 5
            )[1],
            "expected_influence_sampling(5)": lambda model=model: (
                expected_influence_sampling(model, pool, 5)[1]
            ),
        }
        if model.kernel is not None:
            del calls["expected_influence_sampling(5)"]
        for call, func in calls.items():
            out, mb, seconds = peak(func)
            print(
                f"| {name} | {call} | {mb:.0f} | {mb / (2 * pool.nbytes / 1e6):.2f} "
                f"| {out.dtype} | {seconds:.2f} |",
                flush=True,
            )
    print(f"\n{load_average()} at the end")


if __name__ == "__main__":
    main()
