"""Nyström kernel models: accuracy against the exact kernel model, and fit time.

``TangentRegressor(kernel="rbf", n_components=m)`` fits the linear model on
the Nyström features of ``m`` landmarks; its tangent, scores and variances
are exact for that reduced model. This script measures how far they are from
the exact kernel model's, and what the reduced model costs to fit:

* accuracy, at n = 3 000 training rows (Friedman #1, 10 features scaled to
  unit variance, RBF kernel), on 2 000 held-out query rows, for ranks
  m = 100, 200, 500, 1 000: the relative error of ``predict``,
  ``predict(return_std=True)`` (the std) and the unlabelled
  ``influence_score`` against ``TangentRegressor(kernel="rbf")`` fitted
  without Nyström. Each error is reported two ways: norm-wise,
  ``||a - b||_2 / ||b||_2`` over the query rows, and the median of the
  pointwise ``|a_i - b_i| / |b_i|``; the influence score also gets the
  Spearman rank correlation (what a query strategy ranks by). Landmarks are
  drawn with ``random_state=0``.
* fit time, at n = 100 000 (same data), ranks m = 200 and 1 000:
  ``TangentRegressor(kernel="rbf", n_components=m).fit`` (tangent included)
  against ``make_pipeline(Nystroem(n_components=m), Ridge()).fit`` with the
  same kernel, alpha and landmarks (the same coefficients), and the ratio.

Every timing is the median of ``--repeats`` runs after one warm-up, sktangent
and the baseline timed alternately. Timings on a shared machine are noisy:
the load average is printed at the start and the end.

Run from the repository root::

    python benchmarks/bench_nystroem.py            # full sizes, a few minutes
    python benchmarks/bench_nystroem.py --quick    # small smoke run (CI)
"""

import argparse
import gc
import statistics
import time
from functools import partial

import numpy as np
from _common import load_average, print_environment
from scipy.stats import spearmanr
from sklearn.datasets import make_friedman1
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline

from sktangent import TangentRegressor

FULL = {
    "accuracy_n": 3_000,
    "query_n": 2_000,
    "ranks": (100, 200, 500, 1_000),
    "fit_n": 100_000,
    "fit_ranks": (200, 1_000),
}
QUICK = {
    "accuracy_n": 400,
    "query_n": 200,
    "ranks": (50, 100),
    "fit_n": 5_000,
    "fit_ranks": (100,),
}
ALPHA = 1.0
GAMMA = 0.05
N_FEATURES = 10


def make_data(n, seed):
    """Friedman #1 with features scaled to unit variance (uniform on [0, 1])."""
    X, y = make_friedman1(
        n_samples=n, n_features=N_FEATURES, noise=1.0, random_state=seed
    )
    return (X - 0.5) * np.sqrt(12.0), y


def errors(approx, exact):
    """``(norm-wise relative error, median pointwise relative error)``."""
    norm = np.linalg.norm(approx - exact) / np.linalg.norm(exact)
    pointwise = np.abs(approx - exact) / np.abs(exact)
    return float(norm), float(np.median(pointwise))


def accuracy(sizes):
    """Errors of the Nyström models against the exact kernel model."""
    X, y = make_data(sizes["accuracy_n"], 0)
    Xq, _ = make_data(sizes["query_n"], 1)
    params = {"alpha": ALPHA, "kernel": "rbf", "gamma": GAMMA}
    start = time.perf_counter()
    exact = TangentRegressor(**params).fit(X, y)
    mean, std = exact.predict(Xq, return_std=True)
    score = exact.influence_score(Xq)
    exact_time = time.perf_counter() - start
    print(f"  exact kernel model n={X.shape[0]}: fit + scores {exact_time:.3g} s")
    rows = []
    for m in sizes["ranks"]:
        start = time.perf_counter()
        model = TangentRegressor(n_components=m, random_state=0, **params).fit(X, y)
        m_mean, m_std = model.predict(Xq, return_std=True)
        m_score = model.influence_score(Xq)
        elapsed = time.perf_counter() - start
        rows.append(
            (
                m,
                errors(m_mean, mean),
                errors(m_std, std),
                errors(m_score, score),
                float(spearmanr(m_score, score).statistic),
                elapsed,
            )
        )
        print(f"  rank {m}: fit + scores {elapsed:.3g} s", flush=True)
    return rows, exact_time


def compare(ours, baseline, repeats):
    """Median wall times of ``ours()`` and ``baseline()``, timed alternately."""
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


def fit_times(sizes, repeats):
    """Fit time of the Nyström TangentRegressor against Nystroem + Ridge."""
    X, y = make_data(sizes["fit_n"], 2)
    rows = []
    for m in sizes["fit_ranks"]:
        ours = TangentRegressor(
            alpha=ALPHA, kernel="rbf", gamma=GAMMA, n_components=m, random_state=0
        )
        pipe = make_pipeline(
            Nystroem(kernel="rbf", gamma=GAMMA, n_components=m, random_state=0),
            Ridge(alpha=ALPHA),
        )
        t_ours, t_pipe = compare(
            partial(ours.fit, X, y), partial(pipe.fit, X, y), repeats
        )
        gap = np.max(np.abs(ours.coef_ - pipe[-1].coef_)) / np.max(
            np.abs(pipe[-1].coef_)
        )
        rows.append((m, t_ours, t_pipe, gap))
        print(
            f"  n={X.shape[0]} rank {m}: {t_ours:.3g} s vs {t_pipe:.3g} s", flush=True
        )
    return rows


def print_tables(sizes, accuracy_rows, fit_rows):
    n, nq = sizes["accuracy_n"], sizes["query_n"]
    print(
        f"\nAccuracy against the exact kernel model (n = {n}, {nq} query rows; "
        "relative errors, norm-wise / median pointwise):\n"
    )
    print(
        "| rank m | predict | predict std | influence_score | "
        "influence_score Spearman | fit + scores (s) |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for m, mean, std, score, rho, elapsed in accuracy_rows:
        print(
            f"| {m} | {mean[0]:.2e} / {mean[1]:.2e} | {std[0]:.2e} / {std[1]:.2e} "
            f"| {score[0]:.2e} / {score[1]:.2e} | {rho:.4f} | {elapsed:.3g} |"
        )
    print(f"\nFit time at n = {sizes['fit_n']} (tangent included in sktangent's):\n")
    print(
        "| rank m | TangentRegressor (s) | Nystroem + Ridge (s) | ratio | "
        "coef_ relative gap |"
    )
    print("|---:|---:|---:|---:|---:|")
    for m, t_ours, t_pipe, gap in fit_rows:
        print(
            f"| {m} | {t_ours:.3g} | {t_pipe:.3g} | {t_ours / t_pipe:.2f} | {gap:.1e} |"
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
        help="timed fits per rank (default 3, or 1 with --quick)",
    )
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    repeats = args.repeats or (1 if args.quick else 3)

    print_environment()
    print(f"{'quick' if args.quick else 'full'} run:")
    start = time.perf_counter()
    accuracy_rows, _ = accuracy(sizes)
    fit_rows = fit_times(sizes, repeats)
    print_tables(sizes, accuracy_rows, fit_rows)
    print(f"\ntotal {time.perf_counter() - start:.1f} s, {load_average()} at the end")


if __name__ == "__main__":
    main()
