"""Online updates in active-learning loops: partial_fit against refitting.

An active-learning loop adds one label per round. Refitting every round costs
a full factorisation (``O(n p^2)`` for a linear model, ``O(n^3)`` for a kernel
model); ``partial_fit`` updates the factor (``O(p^2)`` by a rank-one update,
``O(n^2)`` by growing the kernel factor by a row) and gives the same model to
rounding (docs/online.rst). Each section runs the same loop twice, once
refitting and once with ``partial_fit``, picks with a query strategy of
:mod:`sktangent.query`, and asserts that the two loops pick the same points.

Sections (one function each; ``main`` runs them):

* ``linear``: the normal linear model with p = 200 features, growing from
  n = 5000 labelled rows by 200 rounds of one label picked by
  ``influence_sampling`` (target: updates >= 5x faster than refits);
* ``rbf``: the rbf kernel model growing from n = 1000 labelled rows by 200
  rounds (target: updates >= 10x faster than refits);
* ``sgdf``: the other online path, ``solver="sgd"`` with the tangent carried
  through training: fit time with the tangent over the same loop without it
  on n = 10^6, p = 1000 sparse rows (target <= 2.0), and the tangent against
  conjugate gradients (``bench_sgdf.run_sgdf``; ``bench_sgdf.py`` runs it
  alone).

The time of an update is ``fit`` or ``partial_fit`` plus the dispersion the
strategy reads (for a kernel model its trace costs as much as the
factorisation; ``partial_fit`` carries it). The whole round adds the query
over the pool, the same in both loops. Ratios are measured in the same run;
times on a shared machine are noisy (the load average is printed).

Run from the repository root::

    python benchmarks/bench_online.py           # the full run, a minute or so
    python benchmarks/bench_online.py --quick   # a smoke run for CI (seconds)
    python benchmarks/bench_online.py --sections rbf
"""

import argparse
import time

import numpy as np
from _common import load_average, print_environment
from bench_sgdf import run_sgdf

from sktangent import TangentRegressor
from sktangent.query import influence_sampling

FULL = {
    "rounds": 200,
    "linear": {"n": 5000, "p": 200, "pool": 5000},
    "rbf": {"n": 1000, "p": 10, "pool": 1000},
}
QUICK = {
    "rounds": 20,
    "linear": {"n": 500, "p": 40, "pool": 500},
    "rbf": {"n": 200, "p": 5, "pool": 200},
}
TARGETS = {"linear": 5.0, "rbf": 10.0}


def make_data(n, p, rng):
    """Rows and a smooth nonlinear target with noise."""
    X = rng.normal(size=(n, p))
    coef = rng.normal(size=p) / np.sqrt(p)
    y = X @ coef + np.sin(X[:, 0]) + 0.3 * rng.normal(size=n)
    return X, y


def run_loop(make_estimator, X, y, X_pool, y_pool, rounds, online, strategy):
    """One active-learning loop: ``(picks, update_seconds, round_seconds, est)``.

    ``online`` says whether a label is added by ``partial_fit`` or by
    refitting on every label so far.
    """
    est = make_estimator().fit(X, y)
    est.dispersion_  # noqa: B018 -- the first fit's dispersion, outside the loop
    X_lab, y_lab = [X], [y]
    remaining = np.arange(X_pool.shape[0])
    picks, update_time, round_time = [], 0.0, 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        index, _ = strategy(est, X_pool[remaining], n_instances=1)
        pick = int(remaining[index[0]])
        remaining = np.delete(remaining, index[0])
        picks.append(pick)
        x_new, y_new = X_pool[pick : pick + 1], y_pool[pick : pick + 1]
        tick = time.perf_counter()
        if online:
            est.partial_fit(x_new, y_new)
        else:
            X_lab.append(x_new)
            y_lab.append(y_new)
            est = make_estimator().fit(np.vstack(X_lab), np.concatenate(y_lab))
        est.dispersion_  # noqa: B018 -- what the strategy reads next round
        stop = time.perf_counter()
        update_time += stop - tick
        round_time += stop - start
    return picks, update_time, round_time, est


def compare(name, make_estimator, sizes, rounds, rng, strategy=influence_sampling):
    """Both loops of one section; asserts identical picks, returns a table row."""
    n, p, m = sizes["n"], sizes["p"], sizes["pool"]
    X_all, y_all = make_data(n + m, p, rng)
    X, y, X_pool, y_pool = X_all[:n], y_all[:n], X_all[n:], y_all[n:]
    args = (make_estimator, X, y, X_pool, y_pool, rounds)
    picks_refit, refit_update, refit_round, refit = run_loop(*args, False, strategy)
    picks_online, online_update, online_round, online = run_loop(*args, True, strategy)
    assert picks_refit == picks_online, f"{name}: the two loops picked differently"
    coef_gap = np.max(
        np.abs(refit.fitted_state_.coef - online.fitted_state_.coef)
    ) / np.max(np.abs(refit.fitted_state_.coef))
    print(
        f"{name}: n = {n} -> {n + rounds}, p = {p}, pool {m}, {rounds} rounds of "
        f"one label by {strategy.__name__}: picks identical "
        f"({len(picks_online)} of {len(picks_refit)}), final coefficients "
        f"agree to {coef_gap:.1e} (relative)"
    )
    return {
        "case": name,
        "refit_update": refit_update,
        "online_update": online_update,
        "refit_round": refit_round,
        "online_round": online_round,
        "target": TARGETS[name],
    }


def bench_linear(config, rng):
    """The normal linear model, p = 200, from n = 5000 labels."""
    return compare(
        "linear",
        lambda: TangentRegressor(alpha=1.0),
        config["linear"],
        config["rounds"],
        rng,
    )


def bench_rbf(config, rng):
    """The rbf kernel model from n = 1000 labels."""
    p = config["rbf"]["p"]
    return compare(
        "rbf",
        lambda: TangentRegressor(alpha=1.0, kernel="rbf", gamma=1.0 / p),
        config["rbf"],
        config["rounds"],
        rng,
    )


SECTIONS = {"linear": bench_linear, "rbf": bench_rbf}
# Sections with a table of their own, printed after the loops' table.
OWN_TABLE = {"sgdf": run_sgdf}


def print_table(rows):
    print(
        "| case | refit updates (s) | partial_fit updates (s) | update ratio "
        "| target | met | refit rounds (s) | partial_fit rounds (s) | round ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        ratio = row["refit_update"] / row["online_update"]
        round_ratio = row["refit_round"] / row["online_round"]
        met = "yes" if ratio >= row["target"] else "NO"
        print(
            f"| {row['case']} | {row['refit_update']:.3f} | "
            f"{row['online_update']:.3f} | {ratio:.1f}x | >= {row['target']:.0f}x "
            f"| {met} | {row['refit_round']:.3f} | {row['online_round']:.3f} | "
            f"{round_ratio:.1f}x |"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, a smoke run for CI"
    )
    parser.add_argument(
        "--sections",
        default=",".join([*SECTIONS, *OWN_TABLE]),
        help=f"comma-separated, from {', '.join([*SECTIONS, *OWN_TABLE])}",
    )
    args = parser.parse_args(argv)
    config = QUICK if args.quick else FULL
    print_environment()
    print(f"{'quick' if args.quick else 'full'} run\n")
    start = time.perf_counter()
    rows = []
    names = [s.strip() for s in args.sections.split(",") if s.strip()]
    known = list(SECTIONS) + list(OWN_TABLE)
    for name in names:
        if name not in known:
            parser.error(f"unknown section {name!r}; choose from {known}")
    for name in names:
        if name in SECTIONS:
            rows.append(SECTIONS[name](config, np.random.RandomState(0)))
    print(
        f"\ntotal benchmark time {time.perf_counter() - start:.1f} s, "
        f"{load_average()}\n"
    )
    if rows:
        print_table(rows)
    for name in names:
        if name in OWN_TABLE:
            print()
            OWN_TABLE[name](args.quick)


if __name__ == "__main__":
    main()
