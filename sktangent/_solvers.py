"""Fitting ``theta`` and factorising the Hessian at the optimum.

Every solver returns a :class:`FitResult`: the coefficients, the factorised
Hessian (primal or dual) and the linear predictor at the training points. The
tangent is then one more solve with that factor.

The normal family is solved in closed form: the penalised normal equations
*are* the Hessian system, so fitting and the tangent share one Cholesky
factorisation (:class:`~sktangent._implicit.PrimalHessian` when ``n >= p``,
:class:`~sktangent._implicit.DualHessian` otherwise and for kernels).
"""

from dataclasses import dataclass

import numpy as np
from sklearn.utils.extmath import safe_sparse_dot

from ._implicit import DualHessian, PrimalHessian


@dataclass
class FitResult:
    coef: np.ndarray  # beta (primal) or c (dual)
    intercept: float
    hessian: object  # PrimalHessian or DualHessian
    eta: np.ndarray  # linear predictor at the training points
    n_iter: int = 0


def fit_normal_primal(X, y, w, alpha, fit_intercept):
    """Ridge in closed form.

    ``A beta = Xc' W (y - ybar)`` and ``b = ybar - xbar' beta``.
    """
    hess = PrimalHessian(X, w, alpha, fit_intercept)
    y_mean = float(w @ y) / hess.d_sum if fit_intercept else 0.0
    # Xc' W (y - ybar) = X' W (y - ybar) because sum W (y - ybar) = 0.
    Xy = np.asarray(safe_sparse_dot(X.T, w * (y - y_mean))).ravel()
    coef, _ = hess.solve(Xy)
    intercept = y_mean - float(hess.x_mean @ coef) if fit_intercept else 0.0
    eta = np.asarray(safe_sparse_dot(X, coef)).ravel() + intercept
    return FitResult(coef, intercept, hess, eta)


def fit_normal_dual(K, y, w, alpha, fit_intercept, overwrite_K=False):
    """Kernel ridge in closed form through the bordered system.

    With ``c = sqrt(W) z`` the stationarity conditions
    ``W (K c + b - y) + alpha c = 0`` and ``sum(c) = 0`` become the symmetric
    system ``A z + sqrt(w) b = sqrt(W) y``, ``sqrt(w)' z = 0``.
    """
    hess = DualHessian(K, w, alpha, fit_intercept, overwrite_K=overwrite_K)
    z, intercept = hess.bordered_solve(hess.sqrt_d * y)
    coef = hess.sqrt_d * z
    # K may be gone (overwritten by the factor): recover the training
    # predictions from stationarity, eta = y - alpha c / w. Rows with zero
    # weight carry no residual; they get eta = y, which no estimate reads.
    eta = y - np.divide(alpha * coef, w, out=np.zeros_like(coef), where=w > 0)
    return FitResult(coef, float(intercept), hess, eta)
