"""SGDF: what carrying the regularity tangent through SGD costs, and how exact it is.

``TangentRegressor(solver="sgd")`` updates the tangent beside every
stochastic gradient step (docs/theory.rst, section 8). This script times the
SGD loop of ``sktangent._sgd.sgdf`` twice on the same data and the same
minibatch order: with the tangent carried (what ``fit`` runs) and with the
tangent update switched off (``carry_tangent=False``: the same loop, the
same step size and stopping rule on the gradient alone). Target: the ratio
of the two times at most 2.0 -- the "constant slow-down" of the method.
Because the loop with the tangent also waits for the tangent's residual to
pass ``tol``, it may run more epochs; the table gives the epochs of both and
the ratio per epoch as well.

It then compares the SGDF tangent with the tangent conjugate gradients find
at the same coefficients (``CGHessian``, relative residual 1e-10, what
``solver="lbfgs"`` stores): ``max |t_sgdf - t_cg| / max |t_cg|``, and the
same for the coefficients against ``solver="lbfgs"``.

Data: ``X`` a ``scipy.sparse.random`` CSR matrix with about 15 uniform
(0, 1) nonzeros per row (never densified), coefficients standard gaussian,
``y = X beta + 1 + noise`` (normal family), ``alpha = 1``.

Every time is the median of ``--repeats`` runs after one warm-up run, the two
loops timed in turn within each repeat (``time.perf_counter``).

Run from the repository root::

    python benchmarks/bench_sgdf.py            # n = 10**6, p = 1000
    python benchmarks/bench_sgdf.py --quick    # small smoke run (CI)
"""

import argparse
import gc
import statistics
import time
import warnings

import numpy as np
import scipy.sparse as sp
from _common import load_average, print_environment

from sktangent import TangentRegressor
from sktangent._families import get_family
from sktangent._implicit import CGHessian
from sktangent._models import make_model
from sktangent._objective import Objective
from sktangent._sgd import sgdf
from sktangent._solvers import _start

FULL = {"n": 1_000_000, "p": 1000, "nnz_per_row": 15, "repeats": 3}
QUICK = {"n": 20_000, "p": 100, "nnz_per_row": 10, "repeats": 1}
ALPHA = 1.0
TOL = 1e-6
MAX_ITER = 100
TARGET = 2.0


def make_data(n, p, nnz_per_row, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(
        n, p, density=nnz_per_row / p, format="csr", random_state=rng, dtype=float
    )
    beta = rng.standard_normal(p)
    y = X @ beta + 1.0 + rng.standard_normal(n)
    return X, y


def objective(X, y):
    w = np.ones(X.shape[0])
    family = get_family("normal")
    model = make_model("primal", X, w, True, None, None)
    return Objective(family, model, model.design(X), y, w, ALPHA, True)


def run_loop(obj, carry_tangent):
    gc.collect()
    start = time.perf_counter()
    run = sgdf(
        obj,
        max_iter=MAX_ITER,
        tol=TOL,
        random_state=0,
        carry_tangent=carry_tangent,
        start=_start(obj),
    )
    return time.perf_counter() - start, run


def relative(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def run_sgdf(quick):
    """Measure and print the SGDF figures; returns the table's rows."""
    sizes = QUICK if quick else FULL
    n, p = sizes["n"], sizes["p"]
    X, y = make_data(n, p, sizes["nnz_per_row"])
    print(
        f"SGDF: n={n}, p={p}, {X.nnz / n:.1f} nonzeros per row (CSR), "
        f"alpha={ALPHA}, tol={TOL}",
        flush=True,
    )
    obj = objective(X, y)
    times = {True: [], False: []}
    runs = {}
    for repeat in range(sizes["repeats"] + 1):
        for carry in (True, False):
            elapsed, runs[carry] = run_loop(obj, carry)
            if repeat:  # the first round is the warm-up
                times[carry].append(elapsed)
            print(
                f"  tangent {'on ' if carry else 'off'}: {elapsed:.2f} s, "
                f"{runs[carry].n_epochs} epochs, converged={runs[carry].converged}",
                flush=True,
            )
    with_t, without_t = (statistics.median(times[c]) for c in (True, False))
    ep_with, ep_without = runs[True].n_epochs, runs[False].n_epochs

    run = runs[True]
    hess = CGHessian(obj, obj.curvature_weights(run.theta))
    start = time.perf_counter()
    t_cg = hess.tangent(obj.rho(run.theta))
    cg_time = time.perf_counter() - start
    tangent_err = relative(run.tangent, t_cg)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        lbfgs = TangentRegressor(alpha=ALPHA, solver="lbfgs", tol=1e-8).fit(X, y)
        lbfgs_time = time.perf_counter() - start
    coef_err = relative(run.theta, np.append(lbfgs.coef_, lbfgs.intercept_))
    lbfgs_warned = any("Convergence" in type(w.message).__name__ for w in caught)

    ratio = with_t / without_t
    per_epoch = (with_t / max(ep_with, 1)) / (without_t / max(ep_without, 1))
    print()
    print(
        "| case | with tangent (s) | without (s) | ratio | per-epoch ratio "
        "| target | met | epochs (with / without) |"
    )
    print("|---|---:|---:|---:|---:|---:|:---:|---:|")
    print(
        f"| SGD fit n={n} p={p} sparse | {with_t:.3g} | {without_t:.3g} "
        f"| {ratio:.2f} | {per_epoch:.2f} | ≤ {TARGET:g} "
        f"| {'yes' if ratio <= TARGET else 'no'} | {ep_with} / {ep_without} |"
    )
    print()
    print(
        f"SGDF tangent vs CG at the same coefficients: max rel. diff "
        f"{tangent_err:.1e} (CG solve {cg_time:.2f} s)"
    )
    print(
        f"SGD coefficients vs solver='lbfgs' (tol=1e-8, {lbfgs_time:.2f} s"
        f"{', ConvergenceWarning' if lbfgs_warned else ''}): max rel. diff "
        f"{coef_err:.1e}"
    )
    print(f"end: {load_average()}")
    return [
        {
            "with": with_t,
            "without": without_t,
            "ratio": ratio,
            "per_epoch": per_epoch,
            "tangent_err": tangent_err,
            "coef_err": coef_err,
        }
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, for a smoke run in CI"
    )
    args = parser.parse_args()
    print_environment()
    run_sgdf(args.quick)


if __name__ == "__main__":
    main()
