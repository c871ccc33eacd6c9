"""Peak memory of the query strategies as the pool grows.

``influence_sampling(n_instances=10)`` (a greedy batch) and
``variance_sampling`` (one pick) on a linear model (n = 2000 labelled rows,
p = 50) over pools of 1e4 to 1e6 rows, and on an rbf model (n = 3000,
p = 10) over pools of 1e4 to 1e5 rows. The pool is generated before the
measurement; the script reports the peak of the memory traced by
``tracemalloc`` during the call (numpy reports its arrays to it), the pool's
own size, and their ratio, with ``predict(X, return_std=True)`` on the same
pool as the reference: what the same numbers (a variance per row) need.
Targets: flat in the pool size beyond the pool itself (the ratio to the
pool's size does not grow).

Run from the repository root::

    python benchmarks/bench_scale.py           # a few minutes
    python benchmarks/bench_scale.py --quick   # small pools, a smoke run (CI)
"""

import argparse
import time
import tracemalloc
from functools import partial

import numpy as np
from _common import load_average, print_environment

from sktangent import TangentRegressor
from sktangent.query import influence_sampling, variance_sampling

FULL = {"linear": [10_000, 100_000, 1_000_000], "rbf": [10_000, 30_000, 100_000]}
QUICK = {"linear": [2_000, 20_000], "rbf": [1_000, 4_000]}


def fitted(kernel, rng):
    n, p = (3000, 10) if kernel else (2000, 50)
    X = rng.normal(size=(n, p))
    y = np.sin(X[:, 0]) + X[:, 1] + 0.1 * rng.normal(size=n)
    model = TangentRegressor(alpha=1.0, kernel=kernel, gamma=1.0 / p)
    return model.fit(X, y), p


def peak(call):
    """``(seconds, peak MiB)`` of ``call()`` above what was allocated before."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    call()
    seconds = time.perf_counter() - start
    top = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, (top - base) / 2**20


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small pools (CI)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    print_environment()
    rng = np.random.default_rng(0)
    rows = []
    for name, kernel in (("linear", None), ("rbf", "rbf")):
        model, p = fitted(kernel, rng)
        for m in sizes[name]:
            pool = rng.normal(size=(m, p))
            pool_mib = pool.nbytes / 2**20
            calls = {
                "predict(return_std=True)": partial(
                    model.predict, pool, return_std=True
                ),
                "influence_sampling(n_instances=10)": partial(
                    influence_sampling, model, pool, n_instances=10
                ),
                "variance_sampling": partial(variance_sampling, model, pool),
            }
            for label, call in calls.items():
                seconds, mib = peak(call)
                rows.append((name, m, label, seconds, mib, pool_mib))
                print(
                    f"  {name} pool {m}: {label}: {seconds:.3g} s, peak "
                    f"+{mib:.1f} MiB (pool {pool_mib:.1f} MiB)",
                    flush=True,
                )
            del pool, calls
    print(f"{load_average()}\n")
    print("| model | pool rows | call | seconds | peak above start (MiB) |", end="")
    print(" pool (MiB) | peak / pool |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for name, m, label, seconds, mib, pool_mib in rows:
        print(
            f"| {name} | {m} | {label} | {seconds:.3g} | {mib:.1f} | "
            f"{pool_mib:.1f} | {mib / pool_mib:.2f} |"
        )


if __name__ == "__main__":
    main()
