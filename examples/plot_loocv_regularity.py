"""
Choosing the regularity by leave-one-out, and where the choice matters
=======================================================================

:class:`~sktangent.TangentRegressorCV` picks ``alpha`` by minimising the
leave-one-out (LOO) error :math:`E(s)` in :math:`s = \\log\\alpha`. The
regularity tangent gives the derivative :math:`dE/ds`, the *hypergradient*,
at the cost of one fit, so the search can follow its sign between grid
points instead of refining the grid.

The problem is a polynomial ridge regression with a gap in the data:
25 noisy samples of a smooth function on :math:`[-1, 0.4]`, nothing on
:math:`(0.4, 1]`, and Legendre polynomials up to degree 8 as features. We
look at

* the LOO curve :math:`E(s)` with the points the search evaluated and the
  hypergradient at each of them;
* the fit on :math:`[-1, 1]` at the chosen ``alpha``, with a band of two
  predictive standard deviations;
* the curiosity score :math:`u(x)` (``influence_score`` without labels) of
  the chosen model, which is largest in the empty region: there the penalty,
  not the data, decides the prediction, and ``alpha`` was chosen by points
  that all lie elsewhere.
"""

# %%
# Data with a gap and Legendre features
# -------------------------------------
# ``legvander`` returns the Legendre polynomials :math:`P_0, \dots, P_8` at
# each input. :math:`P_0 = 1` is the constant column: the model fits its own
# unpenalised intercept (``fit_intercept=True``, the default), so we drop it.

import matplotlib.pyplot as plt
import numpy as np
from numpy.polynomial import legendre

from sktangent import TangentRegressor, TangentRegressorCV
from sktangent.influence import leave_one_out

DEGREE = 8


def features(x):
    """Legendre polynomials of degree 1 to DEGREE (the intercept is fitted)."""
    return legendre.legvander(x, DEGREE)[:, 1:]


def truth(x):
    return np.sin(3 * x) + 0.5 * x


rng = np.random.default_rng(0)
x_train = np.sort(rng.uniform(-1, 0.4, 25))
y_train = truth(x_train) + 0.15 * rng.standard_normal(x_train.size)
X_train = features(x_train)

x_grid = np.linspace(-1, 1, 401)
X_grid = features(x_grid)

# %%
# Tune alpha by leave-one-out
# ---------------------------
# The default search evaluates 25 alphas from :math:`10^{-6}` to
# :math:`10^{6}`, then runs a safeguarded regula falsi on :math:`dE/ds`
# between the neighbours of the best grid point, until the bracket is
# narrower than ``xtol=1e-3`` in :math:`s`. For the normal family the LOO
# error is exact: no model is refitted without its left-out point.

cv = TangentRegressorCV().fit(X_train, y_train)
n_grid = 25
print(f"chosen alpha = {cv.alpha_:.4g} (s = {np.log(cv.alpha_):.3f})")
print(f"LOO mean squared error at alpha_: {cv.loo_error_:.5f}")
print(
    f"{cv.alphas_evaluated_.size} evaluations: {n_grid} on the grid, "
    f"{cv.alphas_evaluated_.size - n_grid} to refine between grid points"
)

# %%
# The evaluations after the grid, in the order of the search:

for alpha, error, gradient in zip(
    cv.alphas_evaluated_[n_grid:],
    cv.loo_errors_[n_grid:],
    cv.loo_gradients_[n_grid:],
    strict=True,
):
    print(f"s = {np.log(alpha):8.4f}   E = {error:.7f}   dE/ds = {gradient:+.2e}")

# %%
# The LOO curve and its hypergradient
# -----------------------------------
# For the curve we evaluate the same LOO error on 200 values of :math:`s`
# with :func:`sktangent.influence.leave_one_out`, whose residuals are exact
# for the normal family: the error is their mean square.

s_fine = np.linspace(np.log(1e-6), np.log(1e6), 200)
loo_curve = np.array(
    [
        np.mean(
            leave_one_out(
                TangentRegressor(alpha=np.exp(s)).fit(X_train, y_train),
                X_train,
                y_train,
            ).residuals
            ** 2
        )
        for s in s_fine
    ]
)

# %%
# Left: at every grid point, a short segment shows the slope :math:`dE/ds`
# the search computed there; each segment is tangent to the curve. The
# y-axis is logarithmic, so a segment is drawn with the slope of
# :math:`\log E`, that is :math:`(dE/ds)/E`.
#
# Right: the refinement. The best grid point and its neighbour on the side
# where :math:`dE/ds` says the minimum lies bracket the optimum. Each step
# evaluates the point where the straight line through the bracket's
# hypergradients crosses zero (moved inwards if that point is too close to an
# end), and the sign of :math:`dE/ds` there decides which end it replaces.
# An upward triangle marks :math:`dE/ds > 0` (the minimum lies to the left),
# a downward one :math:`dE/ds < 0`.

s_eval = np.log(cv.alphas_evaluated_)
on_grid = slice(0, n_grid)
refined = slice(n_grid, None)

fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")

ax = axes[0]
ax.plot(s_fine, loo_curve, color="0.6", linewidth=4, label="LOO error $E(s)$")
half = 0.7  # half-length of a tangent segment, in s
for s, error, slope in zip(
    s_eval[on_grid], cv.loo_errors_[on_grid], cv.loo_gradients_[on_grid], strict=True
):
    ds = np.array([-half, half])
    ax.plot(s + ds, error * np.exp(slope / error * ds), color="C1", linewidth=1.5)
ax.scatter(
    s_eval[on_grid], cv.loo_errors_[on_grid], s=12, color="C1", label="grid points"
)
ax.axvline(np.log(cv.alpha_), color="C3", linestyle="--", label=r"chosen $s$")
ax.set_yscale("log")
ax.set_xlabel(r"$s = \log\alpha$")
ax.set_ylabel("LOO mean squared error")
ax.set_title("(a) LOO error, with the hypergradient at grid points")
ax.legend(fontsize="small")

ax = axes[1]
steps = np.arange(1, s_eval[refined].size + 1)
positive = cv.loo_gradients_[refined] > 0
for mask, marker, label in [
    (positive, "^", r"$dE/ds > 0$"),
    (~positive, "v", r"$dE/ds < 0$"),
]:
    ax.scatter(steps[mask], s_eval[refined][mask], marker=marker, label=label)
ax.axhline(np.log(cv.alpha_), color="C3", linestyle="--", label=r"chosen $s$")
ax.set_xlabel("refinement step")
ax.set_ylabel(r"$s = \log\alpha$ evaluated")
ax.set_title("(b) safeguarded regula falsi between grid points")
ax.legend(fontsize="small")

plt.show()

# %%
# The fit at the chosen alpha, and the curiosity score
# ----------------------------------------------------
# ``cv.estimator_`` is the :class:`~sktangent.TangentRegressor` fitted at
# ``alpha_``, tangent included; ``predict``, ``predict_tangent`` and
# ``influence_score`` of ``cv`` delegate to it. The band is two predictive
# standard deviations (noise included). The grey region holds no data.

mean, std = cv.estimator_.predict(X_grid, return_std=True)
curiosity = cv.influence_score(X_grid)

fig, axes = plt.subplots(2, 1, figsize=(7, 6.5), sharex=True, layout="constrained")

ax = axes[0]
ax.plot(x_grid, truth(x_grid), color="0.5", linestyle=":", label="true function")
ax.fill_between(
    x_grid, mean - 2 * std, mean + 2 * std, alpha=0.25, label=r"mean $\pm$ 2 std"
)
ax.plot(x_grid, mean, label=f"fit, alpha = {cv.alpha_:.3g}")
ax.scatter(x_train, y_train, s=12, color="k", label="training data")
ax.set_ylim(-3, 3)
ax.set_ylabel("y")
ax.set_title("(c) fit at the LOO-optimal alpha")
ax.legend(loc="upper left", fontsize="small")

ax = axes[1]
ax.plot(x_grid, curiosity, color="C2")
ax.set_yscale("log")
ax.set_ylabel(r"$u(x)$")
ax.set_xlabel("x")
ax.set_title("(d) curiosity score (unlabelled influence on complexity)")

for ax in axes:
    ax.axvspan(0.4, 1, color="0.9", zorder=0)

plt.show()

# %%
# Reading the two scores
# ----------------------
# Leave-one-out judges ``alpha`` by how well each training point is predicted
# from the others, so it only sees :math:`[-1, 0.4]`. In the gap, the
# prediction is an extrapolation shaped by the penalty on the higher
# Legendre coefficients, and it moves with ``alpha`` much faster than
# anywhere near the data: the curiosity score there is orders of magnitude
# above its values among the training points. A label in the gap is the one
# that would most change the model's complexity, and with it the LOO choice
# of ``alpha`` itself. Among the data the score dips to zero wherever the
# tangent changes sign: there a change of ``alpha`` happens to leave the
# prediction in place.

in_gap = x_grid > 0.4
print(f"largest curiosity at x = {x_grid[np.argmax(curiosity)]:.2f}")
print(
    f"median curiosity in the gap / on the data: "
    f"{np.median(curiosity[in_gap]) / np.median(curiosity[~in_gap]):.3g}"
)
