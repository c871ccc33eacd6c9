"""
Quickstart: active learning with the regularity tangent
=======================================================

A ridge model is trained on a few labelled points of the diabetes data set and
asked, round after round, which unlabelled point it wants labelled next.
Three strategies compete:

* ``expected``: :func:`sktangent.query.expected_influence_sampling`, the
  strategy the documentation recommends. It picks the point whose label
  would move the model's predictions over the whole pool the most, in
  expectation: ``g(x) = phi * sum_j S(x_j, x)^2 / (1 + S(x, x))`` with
  ``S`` the posterior covariance scale of the fit.
* ``influence``: :func:`sktangent.query.influence_sampling`, the point with
  the largest unlabelled influence score
  ``TangentRegressor.influence_score(X_pool)``, the expected squared change
  of model complexity if that point were labelled,
  ``u(x) = phi * (d eta(x)/ds)^2`` with ``s = log(alpha)``: large where the
  penalty, not the data, decides the prediction.
* ``random``: a random pool point, the baseline.

The script prints the mean and standard deviation of the test RMSE over
several seeds against the number of labels, the area under each learning
curve (the RMSE averaged over the rounds; lower is better) and saves the
learning curves as a PNG (when matplotlib is installed), by default
``quickstart_learning_curves.png`` in the current directory.

Run it from the repository root::

    python examples/quickstart.py
    python examples/quickstart.py --seeds 20 --rounds 60 --out curves.png
"""

import argparse

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.metrics import root_mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sktangent import TangentRegressor
from sktangent.query import expected_influence_sampling, influence_sampling

ALPHA = 1.0
N_INITIAL = 10
STRATEGIES = ("expected", "influence", "random")


def load_data(test_size=0.3, random_state=0):
    """Split the diabetes data into a fixed test set and an unlabelled pool.

    The features are standardised once, with statistics of the pool only: its
    inputs are known before any label is bought, the test set stays unseen.
    """
    X, y = load_diabetes(return_X_y=True)
    X_pool, X_test, y_pool, y_test = train_test_split(
        X, y, test_size=test_size, random_state=random_state
    )
    scaler = StandardScaler().fit(X_pool)
    return scaler.transform(X_pool), y_pool, scaler.transform(X_test), y_test


def pick_expected(model, X_candidates, rng):
    """Index of the candidate whose label would move the pool's predictions most.

    Like every strategy of :mod:`sktangent.query`, it follows modAL's
    query-strategy protocol, so the same function serves as
    ``ActiveLearner(query_strategy=...)``; here it is called in a plain loop
    that needs no active-learning library.
    """
    indices, _ = expected_influence_sampling(model, X_candidates, n_instances=1)
    return int(indices[0])


def pick_influence(model, X_candidates, rng):
    """Index of the candidate with the largest unlabelled influence score."""
    indices, _ = influence_sampling(model, X_candidates, n_instances=1)
    return int(indices[0])


def pick_random(model, X_candidates, rng):
    """Index of a candidate drawn uniformly at random."""
    return int(rng.integers(len(X_candidates)))


PICKERS = {
    "expected": pick_expected,
    "influence": pick_influence,
    "random": pick_random,
}


def learning_curve(strategy, data, seed, n_rounds, alpha=ALPHA):
    """Test RMSE after each round of one active-learning run.

    Returns an array of ``n_rounds + 1`` values: the RMSE with
    ``N_INITIAL, N_INITIAL + 1, ..., N_INITIAL + n_rounds`` labels.
    """
    X_pool, y_pool, X_test, y_test = data
    pick = PICKERS[strategy]
    # Every strategy starts from the same labelled points for a given seed.
    rng = np.random.default_rng(seed)
    labelled = list(rng.choice(len(X_pool), size=N_INITIAL, replace=False))
    unlabelled = np.setdiff1d(np.arange(len(X_pool)), labelled)

    rmse = []
    for round_ in range(n_rounds + 1):
        model = TangentRegressor(alpha=alpha).fit(X_pool[labelled], y_pool[labelled])
        rmse.append(root_mean_squared_error(y_test, model.predict(X_test)))
        if round_ == n_rounds:
            break
        best = pick(model, X_pool[unlabelled], rng)
        labelled.append(unlabelled[best])
        unlabelled = np.delete(unlabelled, best)
    return np.asarray(rmse)


def run(n_seeds, n_rounds):
    """Learning curves of every strategy, shape ``(n_seeds, n_rounds + 1)``."""
    data = load_data()
    return {
        strategy: np.array(
            [learning_curve(strategy, data, seed, n_rounds) for seed in range(n_seeds)]
        )
        for strategy in STRATEGIES
    }


def print_table(curves, every=5):
    """Print mean ± std test RMSE against the number of labels, and the AULC."""
    n_points = next(iter(curves.values())).shape[1]
    n_labels = N_INITIAL + np.arange(n_points)
    rows = sorted(set(range(0, n_points, every)) | {n_points - 1})

    header = "| labels | " + " | ".join(f"{s} RMSE" for s in STRATEGIES) + " |"
    print(header)
    print("|" + "---:|" * (len(STRATEGIES) + 1))
    for i in rows:
        cells = [
            f"{curves[s][:, i].mean():.2f} ± {curves[s][:, i].std():.2f}"
            for s in STRATEGIES
        ]
        print(f"| {n_labels[i]} | " + " | ".join(cells) + " |")

    print()
    print("Area under the learning curve (mean RMSE over rounds, lower is better):")
    for s in STRATEGIES:
        aulc = curves[s].mean(axis=1)
        print(f"  {s:<10} {aulc.mean():.2f} ± {aulc.std():.2f}")


def plot_curves(curves, out):
    """Save the mean learning curves with ±1 std bands (needs matplotlib)."""
    try:
        import matplotlib
    except ImportError:
        print("\nmatplotlib is not installed: no plot (pip install matplotlib).")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for s in STRATEGIES:
        mean, std = curves[s].mean(axis=0), curves[s].std(axis=0)
        n_labels = N_INITIAL + np.arange(len(mean))
        ax.plot(n_labels, mean, label=s)
        ax.fill_between(n_labels, mean - std, mean + std, alpha=0.2)
    ax.set_xlabel("number of labelled points")
    ax.set_ylabel("test RMSE")
    ax.set_title(f"Diabetes, TangentRegressor(alpha={ALPHA:g})")
    ax.legend(title="query strategy")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    print(f"\nLearning curves saved to {out}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="number of runs")
    parser.add_argument(
        "--rounds", type=int, default=40, help="labels bought after the first 10"
    )
    parser.add_argument(
        "--out",
        default="quickstart_learning_curves.png",
        help="where to save the learning-curve plot",
    )
    args = parser.parse_args()

    curves = run(args.seeds, args.rounds)
    print(
        f"Diabetes, {args.seeds} seeds, {N_INITIAL} initial labels, "
        f"{args.rounds} rounds; test RMSE (mean ± std over seeds)\n"
    )
    print_table(curves)
    plot_curves(curves, args.out)


if __name__ == "__main__":
    main()
