"""The classification loop and its parallel run.

One task is one (data set, model, seed): the split and the starting labels
(one per class, then random up to 10) are drawn once, and every strategy
starts from them. Each round adds the one label the strategy picks and
refits the common model on the labelled rows; the test accuracy and the
test log-loss are recorded after every round, from the start (round 0) to
the last, with the seconds of every query call. The JSON file of the raw
results is the regression benchmark's format (``save``, ``load`` and
``completed`` come from ``active_learning.protocol``), with ``accuracy``
and ``log_loss`` curves in place of its ``curve``.

A strategy of ours that cannot run (see ``strategies``) leaves a record
with ``unavailable`` (the reason) and no curves.
"""

import time
import warnings

import numpy as np
from active_learning.protocol import completed, load, save
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from . import strategies as registry
from .data import make_split

__all__ = ["completed", "learning_curves", "load", "run", "run_task", "save"]


def _fit(split, strategy, X, y):
    """The common model on the labelled rows (and its skactiveml view)."""
    if strategy.wrapped:
        wrapped = registry.wrap(split.model, split.n_classes).fit(X, y)
        return wrapped.estimator_, wrapped
    labelled = ~np.isnan(y)
    return clone(split.model).fit(X[labelled], y[labelled].astype(int)), None


def learning_curves(split, strategy, seed, rounds):
    """Accuracy and log-loss after 0, ..., rounds labels; seconds per query."""
    X, y_pool = split.X_pool, split.y_pool
    y = np.full(len(y_pool), np.nan)
    y[split.start] = y_pool[split.start]
    rng = np.random.RandomState([seed, 1])  # the strategy's own randomness
    labels = np.arange(split.n_classes)
    accuracy, loss, times, n_warnings = [], [], [], 0
    for r in range(rounds + 1):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            fitted, wrapped = _fit(split, strategy, X, y)
        n_warnings += sum(issubclass(w.category, ConvergenceWarning) for w in caught)
        proba = fitted.predict_proba(split.X_test)
        predicted = labels[np.argmax(proba, axis=1)]
        accuracy.append(float(np.mean(predicted == split.y_test)))
        loss.append(float(split.error(split.y_test, proba)))
        if r == rounds:
            break
        state = registry.Round(X, y, fitted, wrapped, split.kind, split.n_classes, rng)
        t0 = time.perf_counter()
        picks = np.asarray(strategy.pick(state), dtype=int).ravel()
        times.append(time.perf_counter() - t0)
        if len(picks) != 1 or not np.isnan(y[picks[0]]):
            raise RuntimeError(
                f"{strategy.name} returned {picks.tolist()}: expected one "
                "unlabelled pool row"
            )
        y[picks[0]] = y_pool[picks[0]]
    return accuracy, loss, times, n_warnings


def run_task(dataset, model, seed, names, rounds):
    """Every strategy of ``names`` on one split; a list of JSON records."""
    split = make_split(dataset, model, seed)
    records = []
    for name in names:
        strategy = registry.STRATEGIES[name]
        record = {"dataset": dataset, "model": model, "seed": seed, "strategy": name}
        t0 = time.perf_counter()
        try:
            accuracy, loss, times, n_warnings = learning_curves(
                split, strategy, seed, rounds
            )
        except registry.Unavailable as exc:
            records.append({**record, "unavailable": str(exc)})
            continue
        record.update(
            batch=1,
            accuracy=accuracy,
            log_loss=loss,
            query_seconds=times,
            convergence_warnings=n_warnings,
            total_seconds=time.perf_counter() - t0,  # refits and metrics included
        )
        records.append(record)
    return records


def run(tasks, names, rounds, jobs=1, done=(), on_result=None):
    """Run the tasks (data set, model, seed) not in ``done``; joblib for jobs > 1."""
    todo = [task for task in tasks if task not in set(done)]
    if jobs > 1:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=jobs, return_as="generator_unordered")(
            delayed(run_task)(*task, names, rounds) for task in todo
        )
    else:
        results = (run_task(*task, names, rounds) for task in todo)
    for records in results:
        if on_result is not None:
            on_result(records)
