"""The objective's derivatives, and the tangent as -H^-1 rho from them."""

import numpy as np
import pytest
from sklearn.metrics.pairwise import pairwise_kernels

from sktangent._families import get_family
from sktangent._models import KernelModel, LinearModel
from sktangent._objective import Objective


def make_objective(kernel, fit_intercept, rng):
    n, p = 15, 3
    X = rng.normal(size=(n, p))
    y = X @ rng.normal(size=p) + rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, size=n)
    if kernel:
        model = KernelModel("rbf", {"gamma": 0.3}, X)
        design = model.gram()
        np.testing.assert_allclose(design, pairwise_kernels(X, metric="rbf", gamma=0.3))
    else:
        model, design = LinearModel(p), X
    obj = Objective(get_family("normal"), model, design, y, w, 0.8, fit_intercept)
    theta = rng.normal(size=design.shape[1] + fit_intercept)
    return obj, theta, X, y, w


def in_theta(obj, v):
    """A vector of the Hessian's coordinates in those of ``theta``.

    A dual model factors its penalty matrix ``K`` out of ``rho`` (and of its
    Hessian); multiplying it back gives ``d/ds grad J`` itself.
    """
    out = np.array(v, dtype=float)
    out[: obj.n_coef] = obj.model.penalise(obj.design, out[: obj.n_coef])
    return out


@pytest.mark.parametrize("kernel", [False, True])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_gradient_and_hessian_match_finite_differences(kernel, fit_intercept, rng):
    obj, theta, *_ = make_objective(kernel, fit_intercept, rng)
    h = 1e-6
    eye = np.eye(theta.size)
    fd_grad = np.array(
        [(obj.value(theta + h * e) - obj.value(theta - h * e)) / (2 * h) for e in eye]
    )
    np.testing.assert_allclose(obj.gradient(theta), fd_grad, rtol=1e-6, atol=1e-7)
    fd_hess = np.column_stack(
        [
            (obj.gradient(theta + h * e) - obj.gradient(theta - h * e)) / (2 * h)
            for e in eye
        ]
    )
    np.testing.assert_allclose(obj.hessian(theta), fd_hess, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kernel", [False, True])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_rho_is_the_log_alpha_derivative_of_the_gradient(kernel, fit_intercept, rng):
    obj, theta, *_ = make_objective(kernel, fit_intercept, rng)
    h = 1e-6
    alpha = obj.alpha
    obj.alpha = alpha * np.exp(h)
    g_plus = obj.gradient(theta)
    obj.alpha = alpha * np.exp(-h)
    g_minus = obj.gradient(theta)
    obj.alpha = alpha
    np.testing.assert_allclose(
        in_theta(obj, obj.rho(theta)), (g_plus - g_minus) / (2 * h), rtol=1e-7
    )


@pytest.mark.parametrize("kernel", [False, True])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_estimator_tangent_is_minus_inverse_hessian_rho(kernel, fit_intercept, rng):
    """The primal and bordered solves agree with the dense Hessian of J."""
    from sktangent import TangentRegressor

    obj, _, X, y, w = make_objective(kernel, fit_intercept, rng)
    est = TangentRegressor(
        alpha=obj.alpha,
        kernel="rbf" if kernel else None,
        gamma=0.3,
        fit_intercept=fit_intercept,
    ).fit(X, y, sample_weight=w)
    coef = est.dual_coef_ if kernel else est.coef_
    theta = np.append(coef, est.intercept_) if fit_intercept else coef
    np.testing.assert_allclose(obj.gradient(theta), 0.0, atol=1e-9)
    t = -np.linalg.solve(obj.hessian(theta), in_theta(obj, obj.rho(theta)))
    # Parameters of a kernel model are identified only through K c; compare
    # the tangent of the predictions, which is what the theory promises.
    tangent = est.dual_coef_tangent_ if kernel else est.coef_tangent_
    design = obj.design
    np.testing.assert_allclose(
        design @ tangent + est.intercept_tangent_,
        design @ t[: design.shape[1]] + (t[-1] if fit_intercept else 0.0),
        rtol=1e-8,
        atol=1e-10,
    )
