"""The active-learning loop, its parallel run and the raw results in JSON.

One task is one (data set, model, seed): the split is drawn once and every
strategy starts from the same 10 random labels (drawn with the seed). Each
round adds one label and refits the common model; the test error is
recorded after every round, from the start (round 0) to the last. A batch
strategy is queried only when its previous batch is used up: the batch's
labels are added one per round, in the order picked, so every strategy has a
curve point after every label and spends the same number of labels.
"""

import json
import os
import time
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from . import strategies as registry
from .data import make_split

N_START = 10


def learning_curve(split, strategy, seed, rounds):
    """Test errors after 0, 1, ..., rounds new labels; query times in seconds."""
    X, y_pool = split.X_pool, split.y_pool
    y = np.full(len(y_pool), np.nan)
    start = np.random.RandomState(seed).choice(len(y_pool), N_START, replace=False)
    y[start] = y_pool[start]
    rng = np.random.RandomState([seed, 1])  # the strategy's own randomness
    curve, times, queue, n_warnings = [], [], [], 0
    for r in range(rounds + 1):
        labelled = ~np.isnan(y)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            if strategy.wrapped:
                wrapped = registry.SklearnRegressor(split.model).fit(X, y)
                fitted = wrapped.estimator_
            else:
                wrapped = None
                fitted = clone(split.model).fit(X[labelled], y[labelled])
        n_warnings += sum(issubclass(w.category, ConvergenceWarning) for w in caught)
        curve.append(split.error(split.y_test, fitted.predict(split.X_test)))
        if r == rounds:
            break
        if not queue:
            state = registry.Round(X, y, fitted, wrapped, split.model, rng, seed)
            t0 = time.perf_counter()
            picks = np.asarray(strategy.pick(state), dtype=int).ravel()
            times.append(time.perf_counter() - t0)
            if (
                len(picks) != strategy.batch
                or len(set(picks.tolist())) != len(picks)
                or not np.all(np.isnan(y[picks]))
            ):
                raise RuntimeError(
                    f"{strategy.name} returned {picks.tolist()}: expected "
                    f"{strategy.batch} distinct unlabelled pool rows"
                )
            queue = picks.tolist()
        i = queue.pop(0)
        y[i] = y_pool[i]
    return curve, times, n_warnings


def run_task(dataset, model, seed, names, rounds):
    """Every strategy of ``names`` on one split; a list of JSON records."""
    split = make_split(dataset, model, seed)
    records = []
    for name in names:
        strategy = registry.STRATEGIES[name]
        t0 = time.perf_counter()
        curve, times, n_warnings = learning_curve(split, strategy, seed, rounds)
        total = time.perf_counter() - t0
        records.append(
            {
                "dataset": dataset,
                "model": model,
                "seed": seed,
                "strategy": name,
                "batch": strategy.batch,
                "curve": curve,
                "query_seconds": times,
                "convergence_warnings": n_warnings,
                "total_seconds": total,  # refits and test errors included
            }
        )
    return records


def run(tasks, names, rounds, jobs=1, done=(), on_result=None):
    """Run the tasks (data set, model, seed) not in ``done``, in parallel."""
    todo = [t for t in tasks if t not in set(done)]
    if jobs == 1:
        results = (run_task(*t, names, rounds) for t in todo)
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=jobs, return_as="generator_unordered")(
            delayed(run_task)(*t, names, rounds) for t in todo
        )
    out = []
    for records in results:
        out.extend(records)
        if on_result is not None:
            on_result(records)
    return out


# --------------------------------------------------------------------- JSON
def save(path, header, records):
    """Write atomically, so that an interrupted run leaves a readable file."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump({**header, "records": records}, f)
    os.replace(tmp, path)


def load(path):
    with open(path) as f:
        data = json.load(f)
    records = data.pop("records")
    return data, records


def completed(records, names):
    """The tasks whose records hold every strategy of ``names``."""
    seen = {}
    for r in records:
        seen.setdefault((r["dataset"], r["model"], r["seed"]), set()).add(r["strategy"])
    return {task for task, have in seen.items() if set(names) <= have}
