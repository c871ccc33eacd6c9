"""Finding flipped labels with the influence functions of a classifier.

On breast cancer (two classes) and digits (ten classes) the script splits
the data (60% training, 20% validation, 20% test, stratified), flips 10% of
the training labels to another class drawn uniformly (seeded), fits
``TangentClassifier(alpha=1.0)`` (linear, on standardised features) and
ranks the training points by

* ``memorisation_score``: the log-loss each point would gain if it were
  left out (one Newton step), which needs only the training data;
* ``harm_score``: the validation log-loss the point adds (one Newton step
  per point), which needs the clean validation set.

It reports how many flipped labels each ranking puts in its top 10%, against
the 10% a random ranking finds on average, and the test accuracy of the
model refitted without that top 10% (``drop_harmful`` for the harm score)
against the model fitted on everything and against dropping 10% at random.
Each number is the mean over the seeds (min to max in brackets); the
script ends with a markdown table.

Run from the repository root::

    python benchmarks/bench_classifier_influence.py          # 5 seeds
    python benchmarks/bench_classifier_influence.py --quick  # smoke run (CI)
"""

import argparse
import time

import numpy as np
from _common import print_environment
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sktangent import TangentClassifier
from sktangent.influence import drop_harmful, memorisation_score

FLIP = 0.10
DATASETS = {"breast cancer": load_breast_cancer, "digits": load_digits}


def split(name, seed, subsample=None):
    """Standardised training, validation and test sets, and the flipped
    training labels with the indices of the flips."""
    X, y = DATASETS[name](return_X_y=True)
    rng = np.random.RandomState(seed)
    if subsample is not None and subsample < len(y):
        keep = rng.choice(len(y), subsample, replace=False)
        X, y = X[keep], y[keep]
    X_tr, X_rest, y_tr, y_rest = train_test_split(
        X, y, train_size=0.6, stratify=y, random_state=seed
    )
    X_val, X_te, y_val, y_te = train_test_split(
        X_rest, y_rest, train_size=0.5, stratify=y_rest, random_state=seed
    )
    scaler = StandardScaler().fit(X_tr)
    X_tr, X_val, X_te = (scaler.transform(Z) for Z in (X_tr, X_val, X_te))
    classes = np.unique(y)
    n_flip = int(round(FLIP * len(y_tr)))
    flipped = rng.choice(len(y_tr), n_flip, replace=False)
    y_noisy = y_tr.copy()
    for i in flipped:  # another class, uniformly
        others = classes[classes != y_tr[i]]
        y_noisy[i] = rng.choice(others)
    return X_tr, y_noisy, X_val, y_val, X_te, y_te, flipped


def run_one(name, seed, subsample=None):
    X, y, X_val, y_val, X_te, y_te, flipped = split(name, seed, subsample)
    model = TangentClassifier(alpha=1.0).fit(X, y)
    n_top = int(np.ceil(FLIP * len(y)))
    memo = memorisation_score(model, X, y)
    top_memo = np.argsort(-memo, kind="stable")[:n_top]
    cleaned = drop_harmful(model, X, y, X_val, y_val, n_top)
    top_harm = cleaned.dropped
    keep_memo = np.setdiff1d(np.arange(len(y)), top_memo)
    by_memo = clone(model).fit(X[keep_memo], y[keep_memo])
    rng = np.random.RandomState(1000 + seed)
    keep_random = np.sort(rng.choice(len(y), len(y) - n_top, replace=False))
    by_random = clone(model).fit(X[keep_random], y[keep_random])
    return {
        "n_train": len(y),
        "n_flipped": len(flipped),
        "n_top": n_top,
        "memo_found": int(np.isin(top_memo, flipped).sum()),
        "harm_found": int(np.isin(top_harm, flipped).sum()),
        "acc_all": model.score(X_te, y_te),
        "acc_memo": by_memo.score(X_te, y_te),
        "acc_harm": cleaned.estimator.score(X_te, y_te),
        "acc_random": by_random.score(X_te, y_te),
    }


def summary(values, fmt):
    values = np.asarray(values, dtype=float)
    return f"{fmt(values.mean())} ({fmt(values.min())}-{fmt(values.max())})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="two seeds, digits subsampled (CI)"
    )
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds")
    args = parser.parse_args()
    n_seeds = args.seeds or (2 if args.quick else 5)
    subsample = {"breast cancer": None, "digits": 600 if args.quick else None}

    print_environment()
    print(
        f"{'quick' if args.quick else 'full'} run, {n_seeds} seeds; "
        f"{FLIP:.0%} of the training labels flipped; TangentClassifier(alpha=1.0)"
    )
    rows = []
    start = time.perf_counter()
    for name in DATASETS:
        runs = []
        for seed in range(n_seeds):
            t0 = time.perf_counter()
            runs.append(run_one(name, seed, subsample[name]))
            r = runs[-1]
            print(
                f"  {name}, seed {seed}: memorisation {r['memo_found']}/{r['n_top']}, "
                f"harm {r['harm_found']}/{r['n_top']} flipped in the top 10% "
                f"({time.perf_counter() - t0:.1f} s)",
                flush=True,
            )
        rows.append((name, runs))
    print(f"total time {time.perf_counter() - start:.1f} s\n")

    def pct(v):
        return f"{v:.0%}"

    def acc(v):
        return f"{v:.3f}"

    print(
        "| data set | n train | top 10% | flipped found: memorisation | "
        "flipped found: harm | random | test acc: all | drop memorisation | "
        "drop harm | drop random |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, runs in rows:
        n_top = runs[0]["n_top"]
        memo = [r["memo_found"] / r["n_top"] for r in runs]
        harm = [r["harm_found"] / r["n_top"] for r in runs]
        print(
            f"| {name} | {runs[0]['n_train']} | {n_top} | {summary(memo, pct)} | "
            f"{summary(harm, pct)} | {FLIP:.0%} | "
            f"{summary([r['acc_all'] for r in runs], acc)} | "
            f"{summary([r['acc_memo'] for r in runs], acc)} | "
            f"{summary([r['acc_harm'] for r in runs], acc)} | "
            f"{summary([r['acc_random'] for r in runs], acc)} |"
        )


if __name__ == "__main__":
    main()
