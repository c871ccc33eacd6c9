r"""
Influence of training points, leave-one-out and data cleaning
=============================================================

The functions of :mod:`sktangent.influence` answer questions about single
training points without refitting the model:

* which training points drive the prediction at a given input
  (:func:`~sktangent.influence.prediction_influence`);
* how each point would be predicted had it been left out
  (:func:`~sktangent.influence.leave_one_out`), and how much better it is
  fitted because it was seen (:func:`~sktangent.influence.memorisation_score`);
* which points harm the loss on a validation set, and what dropping them
  does (:func:`~sktangent.influence.harm_score`,
  :func:`~sktangent.influence.drop_harmful`).

Every influence is the derivative with respect to the weight of a training
point: positive when more weight on the point increases the quantity.
"""

# %%
# A curve with two outliers
# -------------------------
# Sixty noisy samples of a sine, two of them shifted by 2.5 (a recording
# error), fitted by a kernel ridge model.

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split

from sktangent import TangentRegressor
from sktangent.influence import (
    drop_harmful,
    harm_score,
    leave_one_out,
    memorisation_score,
    prediction_influence,
)

rng = np.random.default_rng(0)
x = np.sort(rng.uniform(0, 10, 60))
y = np.sin(x) + 0.2 * rng.normal(size=x.size)
outliers = np.array([15, 42])
y[outliers] += 2.5
X = x[:, np.newaxis]

model = TangentRegressor(alpha=0.3, kernel="rbf", gamma=0.5).fit(X, y)
x_grid = np.linspace(0, 10, 400)

# %%
# Which training points drive a prediction
# ----------------------------------------
# ``prediction_influence(model, X, y, X_test)`` is the matrix of
# :math:`d\eta(x_t)/d\varepsilon_j = -\ell'(z_j)\, S(x_t, x_j)`: how fast the
# prediction at :math:`x_t` moves when training point :math:`j` gets more
# weight. At the input next to the second outlier, the outlier pulls the
# prediction up; its neighbours, which lie below the fitted curve there,
# pull it down. Points far away do not matter.

x_star = x[outliers[1]] + 0.15
influence = prediction_influence(model, X, y, [[x_star]])[0]

fig, axes = plt.subplots(2, 1, figsize=(7, 5.5), sharex=True, layout="constrained")
axes[0].scatter(x, y, s=12, color="k", label="training points")
axes[0].scatter(
    x[outliers], y[outliers], s=40, facecolor="none", edgecolor="C3", label="outliers"
)
axes[0].plot(x_grid, model.predict(x_grid[:, np.newaxis]), label="fit")
axes[0].axvline(x_star, color="0.6", linestyle="--", label=r"query $x_t$")
axes[0].legend(loc="upper center", fontsize="small")
axes[0].set_ylabel("y")
colors = np.where(influence > 0, "C3", "C0")
axes[1].vlines(x, 0, influence, color=colors)
axes[1].scatter(x, influence, s=10, color=colors)
axes[1].axhline(0, color="0.5", linewidth=0.8)
axes[1].set_ylabel(r"$d\eta(x_t)/d\varepsilon_j$")
axes[1].set_xlabel("x")
plt.show()

# %%
# Leave-one-out residuals
# -----------------------
# For the normal family ``leave_one_out`` is exact: the residual of point
# :math:`i` under the model fitted without it is :math:`r_i / (1 - h_i)`,
# with :math:`h_i` the leverage. An outlier that the fit bends towards has a
# modest residual but a much larger leave-one-out residual.

loo = leave_one_out(model, X, y)
residuals = y - model.predict(X)

fig, ax = plt.subplots(figsize=(7, 3), layout="constrained")
ax.scatter(x, residuals, s=12, label="residual")
ax.scatter(x, loo.residuals, s=12, marker="x", label="leave-one-out residual")
ax.axhline(0, color="0.5", linewidth=0.8)
ax.set_xlabel("x")
ax.legend(loc="center right", fontsize="small")
plt.show()

print(f"mean leverage {loo.leverage.mean():.3f}")
for i in outliers:
    print(
        f"outlier at x = {x[i]:.2f}: residual {residuals[i]:.2f}, "
        f"leave-one-out residual {loo.residuals[i]:.2f}"
    )

# %%
# Memorisation
# ------------
# ``memorisation_score`` is the loss of each point under the model fitted
# without it minus its loss under the full model: how much of the fit of the
# point is owed to the point itself. The two outliers stand out.

memo = memorisation_score(model, X, y)

fig, ax = plt.subplots(figsize=(7, 3), layout="constrained")
ax.vlines(x, 0, memo, color="C2")
ax.scatter(x, memo, s=10, color="C2")
ax.set_xlabel("x")
ax.set_ylabel("memorisation score")
plt.show()

print("largest memorisation scores at x =", np.round(x[np.argsort(memo)[-2:]], 2))

# %%
# Cleaning corrupted targets
# --------------------------
# The diabetes data are split into training, validation and held-out test
# sets, and 10% of the training targets are corrupted by a gross error (three
# standard deviations added). ``harm_score`` predicts, for each training
# point, the validation loss with the point minus the loss without it:
# positive scores mark harmful points. For the normal family this is the
# exact effect of removing the point, computed without refitting.
#
# Dropping the :math:`k` most harmful points and refitting is compared with
# dropping :math:`k` points at random, on the held-out test set.

X_all, y_all = load_diabetes(return_X_y=True)
X_tr, X_te, y_tr, y_te = train_test_split(X_all, y_all, test_size=0.3, random_state=0)
X_tr, X_val, y_tr, y_val = train_test_split(X_tr, y_tr, test_size=0.3, random_state=0)
corrupted = rng.choice(len(y_tr), len(y_tr) // 10, replace=False)
y_tr = y_tr.copy()
y_tr[corrupted] += 3 * y_all.std()

linear = TangentRegressor(alpha=0.1).fit(X_tr, y_tr)
harm = harm_score(linear, X_tr, y_tr, X_val, y_val)
ranking = np.argsort(-harm)


def held_out_rmse(keep):
    refit = TangentRegressor(alpha=0.1).fit(X_tr[keep], y_tr[keep])
    return np.sqrt(np.mean((refit.predict(X_te) - y_te) ** 2))


n = len(y_tr)
ks = np.arange(0, 2 * len(corrupted) + 1, 3)
flagged = [held_out_rmse(np.sort(ranking[k:])) for k in ks]
random = [
    np.mean([held_out_rmse(np.sort(rng.permutation(n)[k:])) for _ in range(20)])
    for k in ks
]
clean = held_out_rmse(np.setdiff1d(np.arange(n), corrupted))

fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
ax.plot(ks, flagged, marker="o", label="drop the most harmful")
ax.plot(ks, random, marker="s", label="drop at random (mean of 20)")
ax.axhline(clean, color="k", linestyle=":", label="drop exactly the corrupted")
ax.axvline(len(corrupted), color="0.7", linewidth=0.8)
ax.set_xlabel("number of training points dropped")
ax.set_ylabel("held-out RMSE")
ax.legend(loc="center right", fontsize="small")
plt.show()

# %%
# ``drop_harmful`` does the same in one call for one :math:`k`, here the
# number of corrupted targets, and returns the refitted model.

result = drop_harmful(linear, X_tr, y_tr, X_val, y_val, n_drop=len(corrupted))
found = np.isin(result.dropped, corrupted).mean()
print(f"corrupted among the dropped points: {found:.0%}")
print(
    f"held-out RMSE before {held_out_rmse(np.arange(n)):.1f}, after "
    f"{np.sqrt(np.mean((result.estimator.predict(X_te) - y_te) ** 2)):.1f}"
)
