"""Check the bmdal-reg adapter: the contract, three closed forms, timings.

Run from the repository root in the bmdal-reg environment (see
``benchmarks/README.md``)::

    python -m benchmarks.active_learning.check_bmdal [--no-timing]

On diabetes (standardised, 10 labelled rows, 432 pool rows) with
``TangentRegressor(alpha=1.0)`` and ``TangentRegressor(alpha=1.0,
kernel="rbf", gamma=0.1)`` it asserts, for every method and batches of 1
and 10, that ``pick`` returns distinct in-range integer indices and the
same ones on a second call with the same seed. It then recomputes single
picks with numpy, on the adapter's features, from the definitions:

* MAXDET-P: the largest posterior variance
  ``k(x, x) = sigma**2 c phi^T (c Phi_L^T Phi_L + sigma**2 I)^{-1} phi``
  (noise ``sigma = 0.1``; ``c = 1 / mean_L phi^T phi`` is bmdal-reg's
  automatic scale normalisation, part of its ``("train", [sigma, None])``
  transform), for the linear features computed here independently (inputs
  plus a column of ones) and for the adapter's Nystroem features; and its
  batch of 10, each pick conditioned on the earlier ones (noise
  ``sigma**2``);
* BAIT-P: the largest ``sum_j k(x, x_j)**2 / (k(x, x) + sigma**2)`` over
  pool and labelled rows ``x_j``, ``k`` that posterior kernel;
* LCMD (TP mode): the pool row farthest from the labelled rows within the
  cluster (rows sharing their nearest labelled row) of largest summed
  squared distance.

Finally it times one call per method, kernel and batch size on a pool of
4000 rows with 60 labelled rows (``make_friedman1``, 10 features).
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_diabetes, make_friedman1
from sklearn.preprocessing import StandardScaler

from sktangent import TangentRegressor

from . import bmdal

SIGMA = bmdal.SIGMA


def posterior_kernel(F_labelled, F_rows, F_cols):
    """bmdal-reg's ("train", [SIGMA, None]) kernel, from its definition.

    The linear kernel on the features, first scaled so that its mean
    diagonal over the labelled rows is 1, then conditioned on the labelled
    rows as a Gaussian process with noise variance SIGMA**2.
    """
    c = 1.0 / np.mean(np.sum(F_labelled**2, axis=1))
    A = c * F_labelled.T @ F_labelled + SIGMA**2 * np.eye(F_labelled.shape[1])
    return SIGMA**2 * c * F_rows @ np.linalg.solve(A, F_cols.T)


def maxdet_p_first(F_labelled, F_pool):
    var = np.diag(posterior_kernel(F_labelled, F_pool, F_pool))
    return var, int(np.argmax(var))


def maxdet_p_batch(F_labelled, F_pool, n):
    """Greedy MAXDET-P: each pick the largest posterior variance given the
    labelled rows and the earlier picks, all with noise SIGMA**2 (the kernel
    scale c stays that of the labelled rows)."""
    c = 1.0 / np.mean(np.sum(F_labelled**2, axis=1))
    A = c * F_labelled.T @ F_labelled + SIGMA**2 * np.eye(F_labelled.shape[1])
    picks = []
    for _ in range(n):
        var = SIGMA**2 * c * np.einsum("ij,ji->i", F_pool, np.linalg.solve(A, F_pool.T))
        var[picks] = -np.inf
        i = int(np.argmax(var))
        picks.append(i)
        A += c * np.outer(F_pool[i], F_pool[i])
    return picks


def bait_p_first(F_labelled, F_pool):
    F_all = np.vstack([F_pool, F_labelled])
    K = posterior_kernel(F_labelled, F_pool, F_all)
    var = K[:, : len(F_pool)].diagonal()
    score = (K**2).sum(axis=1) / (var + SIGMA**2 + 1e-8)
    return score, int(np.argmax(score))


def lcmd_first(F_labelled, F_pool):
    sq = ((F_pool[:, None, :] - F_labelled[None, :, :]) ** 2).sum(axis=-1)
    closest = sq.argmin(axis=1)
    min_sq = sq.min(axis=1)
    weight = np.bincount(closest, weights=min_sq, minlength=len(F_labelled))
    in_cluster = closest == weight.argmax()
    score = np.where(in_cluster, min_sq, -np.inf)
    return score, int(np.argmax(score))


def margin(score, i):
    """Relative gap between the best score and the runner-up."""
    rest = np.delete(score, i)
    return (score[i] - rest.max()) / abs(score[i])


def check_contract(models, X, y, L, P):
    for name, model in models.items():
        for method in bmdal.METHODS:
            for n in (1, 10):
                idx = bmdal.pick(method, model, X[L], y[L], X[P], n, 0)
                again = bmdal.pick(method, model, X[L], y[L], X[P], n, 0)
                assert isinstance(idx, np.ndarray), type(idx)
                assert np.issubdtype(idx.dtype, np.integer), idx.dtype
                assert idx.shape == (n,), idx.shape
                assert len(np.unique(idx)) == n, idx
                assert idx.min() >= 0 and idx.max() < len(P), idx
                assert np.array_equal(idx, again), (idx, again)
                print(f"  {name:6s} {method:8s} n={n:2d}: {idx.tolist()}")
    print("contract: OK (distinct, in range, int ndarray, deterministic)")


def check_closed_forms(models, X, y, L, P):
    # linear features built here, independently of the adapter
    ones = np.ones((len(X), 1))
    F = np.hstack([X, ones])
    F_lin = (F[L], F[P])
    F_ada = bmdal.features(models["linear"], X[L], X[P], 0)
    assert np.allclose(F_ada[0], F_lin[0]) and np.allclose(F_ada[1], F_lin[1])
    F_rbf = bmdal.features(models["rbf"], X[L], X[P], 0)
    cases = [
        ("maxdet-p", maxdet_p_first),
        ("bait-p", bait_p_first),
        ("lcmd", lcmd_first),
    ]
    for name, feats in (("linear", F_lin), ("rbf", F_rbf)):
        for method, reference in cases:
            score, best = reference(*feats)
            got = int(bmdal.pick(method, models[name], X[L], y[L], X[P], 1, 0)[0])
            print(
                f"  {name:6s} {method:8s}: bmdal-reg picks {got}, numpy {best} "
                f"(relative margin to the runner-up {margin(score, best):.2e})"
            )
            assert got == best, (name, method, got, best)
        got = bmdal.pick("maxdet-p", models[name], X[L], y[L], X[P], 10, 0).tolist()
        want = maxdet_p_batch(*feats, 10)
        print(f"  {name:6s} maxdet-p batch of 10: bmdal-reg {got}, numpy {want}")
        assert got == want, (name, got, want)
    print("closed forms: OK")


def timing(repeats=3):
    X, y = make_friedman1(n_samples=4060, n_features=10, random_state=0)
    X = StandardScaler().fit_transform(X)
    perm = np.random.RandomState(0).permutation(len(X))
    L, P = perm[:60], perm[60:]
    models = {
        "linear": TangentRegressor(alpha=1.0),
        "rbf": TangentRegressor(alpha=1.0, kernel="rbf", gamma=0.1),
    }
    print(f"timing: {len(L)} labelled, {len(P)} pool rows, median of {repeats}")
    bmdal.pick("lcmd", models["linear"], X[L], y[L], X[P], 1, 0)  # warm up
    for name, model in models.items():
        for method in bmdal.METHODS:
            for n in (1, 10):
                times = []
                for r in range(repeats):
                    t = time.perf_counter()
                    bmdal.pick(method, model, X[L], y[L], X[P], n, r)
                    times.append(time.perf_counter() - t)
                print(f"  {name:6s} {method:8s} n={n:2d}: {np.median(times):.3f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-timing", action="store_true")
    args = parser.parse_args()
    assert bmdal.available(), "torch or bmdal_reg does not import"
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    perm = np.random.RandomState(0).permutation(len(X))
    L, P = perm[:10], perm[10:]
    models = {
        "linear": TangentRegressor(alpha=1.0),
        "rbf": TangentRegressor(alpha=1.0, kernel="rbf", gamma=0.1),
    }
    check_contract(models, X, y, L, P)
    check_closed_forms(models, X, y, L, P)
    if not args.no_timing:
        timing()


if __name__ == "__main__":
    main()
