r"""
Influence on complexity for a Poisson rate
==========================================

Counts are observed along a line, with a stretch in the middle where nothing
was recorded. A kernel model with the Poisson family and its log link,
:math:`\mu(x) = \exp(\eta(x))`, estimates the rate. Three outputs of the
fitted model are shown:

* the predicted mean count with a band of two predictive standard deviations
  of a new count, from ``predict(X, return_std=True)``;
* the unlabelled influence score ``influence_score(X)``, which for the
  Poisson family is :math:`u(x) = \mu(x)\, (d\eta(x)/d\log\alpha)^2`;
* the labelled influence ``influence_score(X_train, y_train)`` of every
  training count, :math:`c(z) = (\mu(x) - y)\, d\eta(x)/d\log\alpha`,
  which tells which observations pull the model towards more complexity.
"""

# %%
# Counts with a gap
# -----------------
# The true rate is :math:`\exp(1 + \sin x)`, between about 1 and 7.4 events
# per unit. 90 sites are drawn uniformly from :math:`[0, 10]` minus the gap
# :math:`(4, 6.5)`, and one Poisson count is observed at each.

import matplotlib.pyplot as plt
import numpy as np

from sktangent import TangentRegressor

rng = np.random.default_rng(0)
x_train = rng.uniform(0, 7.5, 90)
x_train[x_train > 4] += 2.5
y_train = rng.poisson(np.exp(1 + np.sin(x_train))).astype(float)
X_train = x_train[:, np.newaxis]

x_grid = np.linspace(-1, 11, 601)
X_grid = x_grid[:, np.newaxis]

# %%
# Fit a kernel Poisson model
# --------------------------
# The objective sums the Poisson half deviance over the samples and adds
# :math:`\tfrac{\alpha}{2}\|f\|^2`, the squared norm of
# :math:`\eta = f + b` in the RBF kernel's function space. The dispersion of
# the Poisson family is fixed at 1: the variance of a count is its mean.

model = TangentRegressor(alpha=1.0, family="poisson", kernel="rbf", gamma=0.5)
model.fit(X_train, y_train)
print(f"Newton iterations: {model.n_iter_}, dispersion: {model.dispersion_:g}")

mean, std = model.predict(X_grid, return_std=True)
curiosity = model.influence_score(X_grid)
influence = model.influence_score(X_train, y_train)

# %%
# Plot the fit, the curiosity score and the training influence
# ------------------------------------------------------------
# The grey band marks the gap. In the bottom panel, red stems are counts with
# :math:`c(z) > 0`, blue stems counts with :math:`c(z) < 0`.

fig, axes = plt.subplots(3, 1, figsize=(7, 8.5), sharex=True, layout="constrained")

ax = axes[0]
ax.plot(x_grid, np.exp(1 + np.sin(x_grid)), "k:", label="true rate")
ax.fill_between(
    x_grid,
    np.maximum(mean - 2 * std, 0),
    mean + 2 * std,
    alpha=0.25,
    label=r"mean $\pm$ 2 std of a count",
)
ax.plot(x_grid, mean, label="predicted mean")
ax.scatter(x_train, y_train, s=12, color="k", label="observed counts")
ax.set_ylabel("count")
ax.legend(loc="upper center", fontsize="small")

ax = axes[1]
ax.plot(x_grid, curiosity, color="C2")
ax.set_ylabel(r"$u(x) = \mu\,(d\eta/d\log\alpha)^2$")

ax = axes[2]
positive = influence > 0
for mask, color in ((positive, "C3"), (~positive, "C0")):
    ax.vlines(x_train[mask], 0, influence[mask], color=color)
    ax.scatter(x_train[mask], influence[mask], s=10, color=color)
ax.axhline(0, color="0.5", linewidth=0.8)
ax.set_ylabel(r"$c(z) = (\mu - y)\, d\eta/d\log\alpha$")
ax.set_xlabel("x")

for ax in axes:
    ax.axvspan(4, 6.5, color="0.9", zorder=0)

plt.show()

# %%
# Reading the curiosity score
# ---------------------------
# Inside the gap the penalty alone decides how the two sides are joined, so
# the prediction moves with :math:`\log\alpha` and :math:`u(x)` is large
# there. For the Poisson family the squared tangent of the linear predictor
# is weighted by the predicted mean :math:`\mu(x)`, the Fisher information of
# :math:`\eta` carried by one count: where the rate is high, a count pins
# :math:`\eta` down more tightly, and labelling a point there would move the
# model more. The grid reaches one unit beyond the sampled interval
# :math:`[0, 10]`: out there the kernel model falls back towards its
# intercept, the penalty decides again, and the score grows.

x_next = x_grid[np.argmax(curiosity)]
print(f"largest unlabelled influence score at x = {x_next:.2f}")

# %%
# Reading the labelled influence
# ------------------------------
# :math:`c(z)` is also :math:`d\ell(y, \eta(x))/d\log\alpha`: it is positive
# for a count that the model fits worse as the penalty grows. A stronger
# penalty flattens the rate, pulling the prediction down on the crests of
# :math:`\exp(1 + \sin x)` and up in its troughs, so counts above a crest or
# below a trough hold up the structure the penalty would remove, while counts
# whose label lies in the direction the penalty moves the prediction argue for
# a simpler model. Weighted by the sample weights, the scores of the training
# set sum to a non-negative number: as a whole, the data always argue for
# less penalty.

print(f"sum of the training influences: {influence.sum():.3g}")
top = np.argsort(influence)[::-1][:3]
for i in top:
    print(
        f"x = {x_train[i]:.2f}, count = {y_train[i]:.0f}, "
        f"predicted mean = {model.predict(X_train[i : i + 1])[0]:.2f}, "
        f"c(z) = {influence[i]:.3g}"
    )
