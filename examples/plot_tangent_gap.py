"""
The regularity tangent across a gap in the data
===============================================

A kernel model is fitted to noisy samples of a sine curve that leave a hole in
the middle of the interval. We look at three quantities on a fine grid:

* the prediction with a band of two predictive standard deviations,
  from ``predict(X, return_std=True)``;
* the regularity tangent ``predict_tangent(X)``, the rate at which the
  prediction moves when ``log(alpha)`` grows;
* the unlabelled influence score ``influence_score(X)``, the expected squared
  influence that labelling a point would have on model complexity.

Where many labelled points sit close together, the data decide the prediction
and a change of ``alpha`` barely moves it. In the gap, nothing but the penalty
decides how the two halves are joined, so the tangent, and with it the
influence score, is large there: that is where a new label teaches the model
the most.
"""

# %%
# Data with a gap
# ---------------
# Forty inputs drawn uniformly from :math:`[-3, -1] \cup [1, 3]`, labels from
# :math:`\sin(x)` plus Gaussian noise of standard deviation 0.2.

import matplotlib.pyplot as plt
import numpy as np

from sktangent import TangentRegressor

rng = np.random.default_rng(0)
x_train = np.concatenate([rng.uniform(-3, -1, 20), rng.uniform(1, 3, 20)])
y_train = np.sin(x_train) + 0.2 * rng.standard_normal(x_train.size)
X_train = x_train[:, np.newaxis]

x_grid = np.linspace(-3, 3, 601)
X_grid = x_grid[:, np.newaxis]

# %%
# Fit an RBF kernel model
# -----------------------
# ``alpha`` has the same meaning as in :class:`~sklearn.kernel_ridge.KernelRidge`;
# the intercept is fitted and left out of the penalty. ``dispersion_`` is the
# estimated noise variance, to compare with the true value :math:`0.2^2 = 0.04`.

model = TangentRegressor(alpha=0.1, kernel="rbf", gamma=1.0).fit(X_train, y_train)
print(f"estimated noise variance: {model.dispersion_:.3f}")

mean, std = model.predict(X_grid, return_std=True)
tangent = model.predict_tangent(X_grid)
curiosity = model.influence_score(X_grid)

# %%
# Plot the fit, the tangent and the unlabelled influence score
# ------------------------------------------------------------
# The grey band marks the gap. The predictive band includes the noise, so it
# never shrinks below about two noise standard deviations.

fig, axes = plt.subplots(3, 1, figsize=(7, 8), sharex=True, layout="constrained")

ax = axes[0]
ax.plot(x_grid, np.sin(x_grid), color="0.5", linestyle=":", label="true function")
ax.fill_between(
    x_grid, mean - 2 * std, mean + 2 * std, alpha=0.25, label=r"mean $\pm$ 2 std"
)
ax.plot(x_grid, mean, label="prediction")
ax.scatter(x_train, y_train, s=12, color="k", label="training data")
ax.set_ylabel("y")
ax.legend(loc="upper left", fontsize="small")

ax = axes[1]
ax.axhline(0, color="0.5", linewidth=0.8)
ax.plot(x_grid, tangent, color="C1")
ax.set_ylabel(r"$d\eta(x) / d\log\alpha$")

ax = axes[2]
ax.plot(x_grid, curiosity, color="C2")
ax.set_ylabel(r"$u(x)$")
ax.set_xlabel("x")

for ax in axes:
    ax.axvspan(-1, 1, color="0.9", zorder=0)

plt.show()

# %%
# Where would we ask for the next label?
# --------------------------------------
# An active learner that queries the point of largest ``influence_score``
# picks a point inside the gap: the region the training data left to the
# penalty. The predictive standard deviation is also largest there, but the
# influence score answers a different question: how strongly a new label
# would change the amount of structure the model carries.

x_next = x_grid[np.argmax(curiosity)]
print(f"largest influence score at x = {x_next:.2f}")
