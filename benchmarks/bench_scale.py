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

Then, with dask installed (``pip install ".[dask]"``), the same
verbs on a dask pool of 1e8 rows (p = 10), generated block by block on a
two-worker ``LocalCluster`` and never held anywhere: the scoring rate (rows
per second) of ``predict``, ``predict(return_std=True)``,
``predict_tangent``, ``influence_score`` and ``influence_sampling``, each
summed on the cluster, against generating the pool alone and against
``predict`` (target: ``influence_score`` within 1.5 times ``predict``;
those two are timed twice, in turns, and keep their faster run).
And fitting on dask (5e6 rows, normal and Poisson, the data persisted on
the workers) against the in-memory fit of the same rows (time, largest
coefficient difference) and against dask-ml's ``LinearRegression`` and
``PoissonRegression`` (dask-glm, L-BFGS) on the same cluster and data; when
dask-ml does not import, the benchmark says why and goes on.

Run from the repository root::

    python benchmarks/bench_scale.py             # tens of minutes
    python benchmarks/bench_scale.py --quick     # small pools, a smoke run (CI)
    python benchmarks/bench_scale.py --dask-only --pool-rows 20000000
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
    parser.add_argument(
        "--dask-only", action="store_true", help="only the dask measurements"
    )
    parser.add_argument(
        "--pool-rows", type=int, default=None, help="rows of the dask pool"
    )
    parser.add_argument(
        "--fit-rows", type=int, default=None, help="rows of the dask fits"
    )
    args = parser.parse_args(argv)
    print_environment()
    if not args.dask_only:
        memory(args.quick)
    dask_scale(args.quick, args.pool_rows, args.fit_rows)


def memory(quick):
    sizes = QUICK if quick else FULL
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


# ------------------------------------------------------------------ dask
DASK_P = 10


def timed(call):
    start = time.perf_counter()
    out = call()
    return time.perf_counter() - start, out


def dask_scale(quick, pool_rows=None, fit_rows=None):
    """Scoring rate on a lazily generated dask pool, and fits on dask."""
    try:
        import dask
        import dask.array as da
        from distributed import Client, LocalCluster
    except ImportError as exc:
        print(f'\ndask not installed ({exc}): pip install ".[dask]"')
        return
    n_pool = pool_rows or (1_000_000 if quick else 100_000_000)
    n_fit = fit_rows or (100_000 if quick else 5_000_000)
    chunk = min(n_pool, 500_000)
    print(
        f"\ndask {dask.__version__}: a pool of {n_pool} rows x {DASK_P} in chunks "
        f"of {chunk} rows, generated on a LocalCluster(n_workers=2, "
        "threads_per_worker=1); each result is summed on the cluster."
    )
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with cluster, Client(cluster):
        rng = np.random.default_rng(1)
        X = rng.normal(size=(2000, DASK_P))
        y = X[:, 0] - 0.5 * X[:, 1] + 0.3 * rng.normal(size=2000)
        model = TangentRegressor(alpha=1.0).fit(X, y)
        pool = da.random.RandomState(0).normal(
            size=(n_pool, DASK_P), chunks=(chunk, DASK_P)
        )
        calls = {
            "generate the pool only": lambda: pool.sum(axis=1).sum().compute(),
            "predict": lambda: model.predict(pool).sum().compute(),
            "predict(return_std=True)": lambda: (
                model.predict(pool, return_std=True)[1].sum().compute()
            ),
            "predict_tangent": lambda: model.predict_tangent(pool).sum().compute(),
            "influence_score": lambda: model.influence_score(pool).sum().compute(),
            "influence_sampling(n_instances=1)": lambda: influence_sampling(
                model, pool
            ),
        }
        model.influence_score(pool[:chunk]).sum().compute()  # warm the workers
        # The pair behind the target is timed in turns, twice, and each
        # keeps its faster run: on a shared machine one slow turn is noise.
        order = list(calls) + ["predict", "influence_score"]
        seconds = {}
        for label in order:
            t, _ = timed(calls[label])
            seconds[label] = min(t, seconds.get(label, np.inf))
            print(f"  {label}: {t:.3g} s, {n_pool / t:.3g} rows/s", flush=True)
        base = seconds["predict"]
        print(f"{load_average()}\n")
        print("| call on the dask pool | seconds | rows/s | / predict |")
        print("|---|---:|---:|---:|")
        for label, t in seconds.items():
            print(f"| {label} | {t:.3g} | {n_pool / t:.3g} | {t / base:.2f} |")
        ratio = seconds["influence_score"] / base
        print(f"\ninfluence_score / predict = {ratio:.2f} (target <= 1.5)")
        dask_fits(da, n_fit)


def _daskml():
    """dask-ml's GLMs, or the reason they are not available."""
    try:
        from dask_ml.linear_model import LinearRegression, PoissonRegression
    except Exception as exc:  # ImportError, or its dependencies' own errors
        return None, f"{type(exc).__name__}: {exc}"
    return (LinearRegression, PoissonRegression), None


def dask_fits(da, n_fit):
    """Fit on dask against the in-memory fit and against dask-ml."""
    from distributed import wait

    chunk = min(n_fit, 250_000)
    state = da.random.RandomState(2)
    X = state.normal(size=(n_fit, DASK_P), chunks=(chunk, DASK_P))
    beta = np.linspace(-0.3, 0.3, DASK_P)
    eta = X @ beta + 0.2
    targets = {
        "normal": eta + state.normal(size=n_fit, chunks=chunk),
        "poisson": state.poisson(da.exp(eta)).astype(float),
    }
    X = X.persist()
    wait(X)
    X_mem = X.compute()
    estimators, why = _daskml()
    print(
        f"\nFits on {n_fit} rows x {DASK_P} (alpha = 1, persisted on the "
        "workers; the in-memory fit on the same rows gathered):"
    )
    if why:
        print(f"dask-ml not importable: {why}")
    rows = []
    for k, (family, y) in enumerate(targets.items()):
        y = y.persist()
        wait(y)
        y_mem = y.compute()
        ref_t, ref = timed(
            lambda y_mem=y_mem, family=family: TangentRegressor(
                family=family, tol=1e-8
            ).fit(X_mem, y_mem)
        )
        rows.append((family, "sktangent, in memory", ref_t, ref.coef_, ref))
        t, est = timed(
            lambda y=y, family=family: TangentRegressor(family=family, tol=1e-8).fit(
                X, y
            )
        )
        rows.append((family, "sktangent, dask", t, est.coef_, ref))
        if estimators is not None:
            # dask-glm's objective: its loss plus (1 / C) times the L2 penalty;
            # a negligible penalty on this many rows, as alpha = 1 is here.
            try:
                other = estimators[k](C=1e8, solver="lbfgs", max_iter=200)
                t, fitted_ = timed(lambda other=other, y=y: other.fit(X, y))
                rows.append((family, "dask-ml (lbfgs)", t, fitted_.coef_, ref))
            except Exception as exc:
                print(f"dask-ml {family} failed: {type(exc).__name__}: {exc}")
        del y_mem
    print("| family | fit | seconds | max abs coef difference from in memory |")
    print("|---|---|---:|---:|")
    for family, label, t, coef, ref in rows:
        diff = np.max(np.abs(np.asarray(coef) - ref.coef_))
        print(f"| {family} | {label} | {t:.3g} | {diff:.2g} |")


if __name__ == "__main__":
    main()
