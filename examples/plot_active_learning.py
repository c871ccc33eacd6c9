"""
Active learning across a gap in the data
========================================

A pool of unlabelled inputs covers the interval :math:`[-3, 3]`, but the
few labels we start with all lie outside :math:`(-1, 1)`. Which pool points
should be labelled next?

:func:`sktangent.query.influence_sampling` ranks the pool by the unlabelled
influence score :math:`u(x) = \\phi\\, (d\\eta(x)/d\\log\\alpha)^2`, the
expected squared change of model complexity that a label at :math:`x`
would cause. It is large where the penalty, not the data, decides the
prediction. A batch of several points is chosen greedily: after each pick
the tangent on the pool is updated, by a Sherman-Morrison step and without a
refit, as if the pick had been labelled with its predicted value, so the
next pick goes where the first one has not already settled the fit.

We plot the fit, the score and a batch of five picks, then compare learning
curves of influence sampling, variance sampling and random sampling.
"""

# %%
# A pool with a gap in the labels
# -------------------------------
# 300 pool inputs drawn uniformly from :math:`[-3, 3]`, labels
# :math:`\sin(x)` plus Gaussian noise of standard deviation 0.2. Twenty
# starting labels are drawn from the pool points outside :math:`(-1, 1)`.

import matplotlib.pyplot as plt
import numpy as np

from sktangent import TangentRegressor
from sktangent.query import influence_sampling, variance_sampling

N_POOL, N_START = 300, 20
x_grid = np.linspace(-3, 3, 301)
X_grid = x_grid[:, np.newaxis]


def make_pool(seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, N_POOL)
    y = np.sin(x) + 0.2 * rng.standard_normal(N_POOL)
    start = rng.choice(np.flatnonzero(np.abs(x) > 1), N_START, replace=False)
    return x[:, np.newaxis], y, start


def fit(X, y):
    return TangentRegressor(alpha=0.1, kernel="rbf", gamma=1.0).fit(X, y)


X_pool, y_pool, labelled = make_pool(seed=0)
model = fit(X_pool[labelled], y_pool[labelled])

# %%
# Score the pool and pick a batch of five
# ---------------------------------------
# ``influence_sampling`` takes the fitted model and the unlabelled pool rows
# and returns the indices of the picks, in the order picked, with the score
# each had when it was picked, that is, conditioned on the earlier picks.

unlabelled = np.setdiff1d(np.arange(N_POOL), labelled)
picks, scores = influence_sampling(model, X_pool[unlabelled], n_instances=5)
picked = unlabelled[picks]
for rank, (i, score) in enumerate(zip(picked, scores, strict=True), start=1):
    print(f"pick {rank}: x = {X_pool[i, 0]:+.2f}, score {score:.2e}")

# %%
# The fit, the score and the picks
# --------------------------------
# Top: the prediction with two predictive standard deviations, the starting
# labels (black) and the five picks (red, numbered in the order picked, drawn
# at their predicted values: their labels are not known yet). Bottom: the
# influence score :math:`u(x)` of the fitted model on a fine grid, with the
# picks on it. The first pick is the largest score, inside the gap where the
# penalty alone decides how the two halves of the fit are joined. The
# second is in the gap too, but away from the first although the score is
# higher next to it: once the first pick counts as labelled, the tangent
# around it is much smaller. The third returns beside the first, where the
# score started highest. The fourth goes to the left edge of the interval
# and the fifth to the trough near :math:`-\pi/2`, where the penalty
# flattens the fitted curve even though labels exist there.

mean, std = model.predict(X_grid, return_std=True)
u = model.influence_score(X_grid)

fig, axes = plt.subplots(2, 1, figsize=(7, 6), sharex=True, layout="constrained")
ax = axes[0]
ax.plot(x_grid, np.sin(x_grid), ":", color="0.5", label="true function")
ax.fill_between(x_grid, mean - 2 * std, mean + 2 * std, alpha=0.25)
ax.plot(x_grid, mean, label="prediction")
ax.scatter(X_pool[labelled, 0], y_pool[labelled], s=15, color="k", label="labelled")
y_picked = model.predict(X_pool[picked])
ax.scatter(X_pool[picked, 0], y_picked, s=40, color="C3", marker="D", label="picks")
for rank, (x, y) in enumerate(zip(X_pool[picked, 0], y_picked, strict=True), 1):
    ax.annotate(str(rank), (x, y), xytext=(4, 6), textcoords="offset points")
ax.set_ylabel("y")
ax.legend(loc="upper left", fontsize="small")

ax = axes[1]
ax.plot(x_grid, u, color="C2")
u_picked = model.influence_score(X_pool[picked])
ax.scatter(X_pool[picked, 0], u_picked, color="C3")
for rank, (x, y) in enumerate(zip(X_pool[picked, 0], u_picked, strict=True), 1):
    ax.annotate(str(rank), (x, y), xytext=(4, 6), textcoords="offset points")
ax.set_ylabel(r"$u(x)$")
ax.set_xlabel("x")
for ax in axes:
    ax.axvspan(-1, 1, color="0.92", zorder=0)
plt.show()

# %%
# Learning curves
# ---------------
# Starting from twenty labels outside the gap, each strategy labels twenty
# pool points, one at a time, refitting after each; the curve is the RMSE
# of the prediction against :math:`\sin(x)` on the grid, averaged over five
# pools. Random sampling draws uniformly from the unlabelled pool.


def learning_curve(strategy, seed, n_queries=20):
    X, y, start = make_pool(seed)
    labelled = list(start)
    rng = np.random.default_rng(100 + seed)
    curve = []
    for _ in range(n_queries + 1):
        model = fit(X[labelled], y[labelled])
        curve.append(np.sqrt(np.mean((model.predict(X_grid) - np.sin(x_grid)) ** 2)))
        unlabelled = np.setdiff1d(np.arange(N_POOL), labelled)
        if strategy == "random":
            labelled.append(rng.choice(unlabelled))
        else:
            idx, _ = strategy(model, X[unlabelled])
            labelled.append(unlabelled[idx[0]])
    return curve


strategies = {
    "influence_sampling": influence_sampling,
    "variance_sampling": variance_sampling,
    "random": "random",
}
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
n_labels = N_START + np.arange(21)
for name, strategy in strategies.items():
    curves = np.array([learning_curve(strategy, seed) for seed in range(5)])
    ax.plot(n_labels, curves.mean(axis=0), marker="o", markersize=3, label=name)
    print(f"{name:>18}: RMSE after 20 queries {curves[:, -1].mean():.3f}")
ax.set_xlabel("labelled points")
ax.set_ylabel("RMSE against sin(x)")
ax.legend()
plt.show()

# %%
# Both model-based strategies label the gap early and end well below random
# sampling. Variance sampling gains faster over the first queries here; the
# two look for different things. The variance of the prediction is largest
# wherever labels are scarce. The influence score is largest where the
# penalty moves the prediction: in the gap, but also at the edges and where
# the fitted curve bends, since there the penalty flattens the fit even
# where labels exist. On larger problems no strategy wins everywhere; the
# benchmark ``benchmarks/bench_active_learning.py`` and the
# :doc:`active learning guide </active_learning>` compare them.
