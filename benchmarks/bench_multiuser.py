"""Scaling of MultiUserTangentRegressor with the number of users.

The multi-user model has ``(U + 1) q`` parameters (``q = p + 1`` with the
intercept) for ``U`` users: a global coefficient vector and one deviation per
user. Its Hessian is block-arrow, and ``fit`` solves it through the Schur
complement of the global block, so time and memory should grow linearly in
``U`` when every user has the same number of rows. The script fits 10, 100
and 1000 users with 50 rows each and p = 20, for the normal and the Poisson
family, and reports

* the fit time (both tangents included), the median of ``--repeats`` runs
  after one warm-up run, and the time per user, which stays flat when the
  growth is linear;
* the Newton iterations (1 for the normal family) and the time per user and
  iteration, which separates the cost of a Newton step from the number of
  steps the data need;
* the peak of the memory allocated during one more fit, traced by
  ``tracemalloc`` (numpy reports its array buffers to it), not counting the
  data that already exist;
* the memory held by the factorised Hessian: the ``U`` blocks ``C_u``, their
  Cholesky factors, the ``U`` products ``C_u D_u^-1`` and the Schur
  complement, ``3 U q^2 + q^2`` numbers;
* the memory a dense ``(U + 1) q x (U + 1) q`` Hessian would take, and, where
  it is below 500 MB, the time of its Cholesky factorisation alone
  (``scipy.linalg.cho_factor``, median of ``--repeats`` runs after a warm-up
  run), for comparison.

Data: ``X`` standard gaussian divided by ``sqrt(p)``, global coefficients
standard gaussian, users' deviations gaussian with standard deviation 0.3,
``eta = x' (w + delta_u) + 0.5``; ``y = eta + 0.5 * noise`` (normal) or
``y ~ Poisson(exp(eta))``. The model uses ``alpha_global=1``,
``alpha_user=10``.

``--threads N`` limits the BLAS and OpenMP thread pools for the whole run
(threadpoolctl).

Run from the repository root::

    python benchmarks/bench_multiuser.py            # under a minute
    python benchmarks/bench_multiuser.py --quick    # small smoke run (CI)
    python benchmarks/bench_multiuser.py --threads 1
"""

import argparse
import gc
import statistics
import time
import tracemalloc

import numpy as np
from _common import load_average, print_environment
from scipy import linalg
from threadpoolctl import threadpool_limits

from sktangent import MultiUserTangentRegressor

FULL = {"users": (10, 100, 1000), "rows_per_user": 50, "p": 20}
QUICK = {"users": (10, 30, 100), "rows_per_user": 20, "p": 5}
FAMILIES = ("normal", "poisson")
ALPHA_GLOBAL = 1.0
ALPHA_USER = 10.0
DENSE_LIMIT = 500e6  # bytes: factorise the dense Hessian only below this
MB = 1e6


def make_data(family, n_users, rows_per_user, p, rng):
    """Gaussian inputs; a global linear predictor plus a deviation per user."""
    n = n_users * rows_per_user
    X = rng.standard_normal((n, p)) / np.sqrt(p)
    groups = np.repeat(np.arange(n_users), rows_per_user)
    coef = rng.standard_normal(p) + 0.3 * rng.standard_normal((n_users, p))[groups]
    eta = np.einsum("ij,ij->i", X, coef) + 0.5
    if family == "normal":
        y = eta + 0.5 * rng.standard_normal(n)
    else:
        y = rng.poisson(np.exp(eta)).astype(np.float64)
    return X, y, groups


def hessian_bytes(hessian):
    """Memory held by the factorised block-arrow Hessian."""
    arrays = [*hessian.blocks, *hessian.user_factors, *hessian.CD, hessian.schur]
    return sum(a.nbytes for a in arrays)


def fit_time(est, X, y, groups, repeats):
    """Median fit time over ``repeats`` runs after one warm-up run."""
    est.fit(X, y, groups=groups)
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        est.fit(X, y, groups=groups)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fit_peak_memory(est, X, y, groups):
    """Peak memory allocated during one fit, traced by tracemalloc."""
    gc.collect()
    tracemalloc.start()
    try:
        est.fit(X, y, groups=groups)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def dense_factorisation_time(est, repeats):
    """Median Cholesky time of the dense Hessian; None when it is too large."""
    q = est.coef_.size + int(est.fit_intercept)
    size = ((len(est.users_) + 1) * q) ** 2 * 8
    if size > DENSE_LIMIT:
        return None
    H = est.fitted_state_.hessian.dense()
    linalg.cho_factor(H, lower=True, check_finite=False)
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        linalg.cho_factor(H, lower=True, check_finite=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(sizes, repeats):
    """Fit every family and number of users; return the table rows."""
    rng = np.random.default_rng(0)
    p, m = sizes["p"], sizes["rows_per_user"]
    q = p + 1
    rows = []
    for family in FAMILIES:
        for n_users in sizes["users"]:
            X, y, groups = make_data(family, n_users, m, p, rng)
            est = MultiUserTangentRegressor(
                alpha_global=ALPHA_GLOBAL, alpha_user=ALPHA_USER, family=family
            )
            seconds = fit_time(est, X, y, groups, repeats)
            row = {
                "family": family,
                "users": n_users,
                "n": X.shape[0],
                "seconds": seconds,
                "iterations": est.n_iter_,
                "peak": fit_peak_memory(est, X, y, groups),
                "hessian": hessian_bytes(est.fitted_state_.hessian),
                "dense": ((n_users + 1) * q) ** 2 * 8,
                "dense_seconds": dense_factorisation_time(est, repeats),
                "data": X.nbytes,
            }
            rows.append(row)
            print(
                f"  {family}, {n_users} users, n={row['n']}: {seconds:.3g} s, "
                f"{seconds / n_users * 1e3:.3g} ms per user, "
                f"peak {row['peak'] / MB:.3g} MB",
                flush=True,
            )
    return rows


def print_table(rows):
    """Markdown table: time and memory per family and number of users."""
    print(
        "| family | users | rows | fit (s) | per user (ms) | Newton iterations "
        "| per user and iteration (ms) "
        "| peak memory in fit (MB) | Hessian blocks (MB) | dense Hessian (MB) "
        "| dense Cholesky alone (s) | X (MB) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        dense_seconds = row["dense_seconds"]
        dense_cell = "-" if dense_seconds is None else f"{dense_seconds:.3g}"
        per_user = row["seconds"] / row["users"] * 1e3
        print(
            f"| {row['family']} | {row['users']} | {row['n']} "
            f"| {row['seconds']:.3g} | {per_user:.3g} | {row['iterations']} "
            f"| {per_user / row['iterations']:.3g} | {row['peak'] / MB:.3g} "
            f"| {row['hessian'] / MB:.3g} | {row['dense'] / MB:.4g} "
            f"| {dense_cell} | {row['data'] / MB:.3g} |"
        )


def run(args):
    """Print the environment, run every size, print the table."""
    sizes = QUICK if args.quick else FULL
    repeats = args.repeats or 3
    print_environment()
    print(
        f"{'quick' if args.quick else 'full'} run, median of {repeats} repeats; "
        f"{sizes['rows_per_user']} rows per user, p={sizes['p']}, "
        f"alpha_global={ALPHA_GLOBAL:g}, alpha_user={ALPHA_USER:g}:"
    )
    start = time.perf_counter()
    rows = bench(sizes, repeats)
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
        "--repeats", type=int, default=None, help="timed fits per size (default 3)"
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
