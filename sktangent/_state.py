"""What fitting leaves: one frozen object that every consumer reads.

The influence functions, the leave-one-out, the greedy batches and the query
strategies take a :class:`FittedState` and read nothing private of the
estimator that built it. It holds the alpha that was *fitted*, so nothing
downstream depends on the estimator's current parameters.
"""

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from sklearn.utils.extmath import safe_sparse_dot

from ._families import dispersion_root
from ._implicit import DualHessian, PrimalHessian
from ._models import kernel_diagonal, kernel_dot, kernel_matrix, row_blocks
from ._validation import check_eta


def _frozen(a):
    """A read-only view: the state cannot be changed through its arrays."""
    view = np.asarray(a).view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True, eq=False)
class FittedState:
    r"""The fitted model of a :class:`~sktangent.TangentRegressor`.

    Built once by ``fit`` and kept as ``fitted_state_``; never changed
    afterwards (a refit builds a new one). Besides the fields below it
    declares the properties ``factorisation`` (``"primal"``, ``"dual"`` or
    None), ``dual``, ``n_fit``, ``dispersion`` and ``dispersion_root``, and
    the verbs ``validate_query``, ``eta``, ``train_kernel``,
    ``train_kernel_diagonal``, ``variance_scale``, ``cross_variance_scale``
    and ``variance_scale_alpha_derivative``. The verbs other than
    ``validate_query`` take validated rows. The batches also accept the
    multi-user ``GroupedView``, which has the part of this interface they use.

    Attributes
    ----------
    family : Family
        The distribution and its link (``ℓ``, ``ℓ'``, ``ℓ''``, the inverse
        link, the variance).
    hessian : PrimalHessian, DualHessian or CGHessian
        The Hessian at the optimum, factorised where the solver factorised it.
    alpha : float
        The regularisation strength that was fitted (not the estimator's
        current ``alpha``).
    fit_intercept : bool
    kernel : str, callable or None
        The model shape: ``None`` for the linear model, else its kernel.
    kernel_params : dict
        The keyword arguments of the kernel (``gamma``, ``degree``, ...).
    X_fit : ndarray, sparse matrix or None
        The training rows of a kernel model (the kernel matrix when
        ``kernel="precomputed"``).
    linear_dual : CentredLinearKernel or None
        The kernel of a linear model solved in the dual (``p > n``): the
        linear kernel of the training rows centred as fitted.
    coef, tangent : ndarray
        :math:`\beta` and :math:`d\beta/ds` (linear), or :math:`c` and
        :math:`dc/ds` (kernel); read-only.
    intercept, intercept_tangent : float
    solver : str
        The solver that fitted the model (``"auto"`` resolved).
    tol : float
        Its tolerance.
    dispersion_rule : {"auto", "fixed", "pearson"}
    pearson : tuple
        The Pearson statistic at the optimum, behind :attr:`dispersion`.
    n_positive : int
        The number of samples of positive weight.
    check_query : callable
        The owner's validation of query rows (fitted, parameters unchanged
        since ``fit``, number and names of features).
    """

    family: Any
    hessian: Any
    alpha: float
    fit_intercept: bool
    kernel: Any
    kernel_params: dict
    X_fit: Any
    linear_dual: Any
    coef: np.ndarray
    tangent: np.ndarray
    intercept: float
    intercept_tangent: float
    solver: str
    tol: float
    dispersion_rule: str
    pearson: Any
    n_positive: int
    check_query: Any = field(repr=False)

    def __post_init__(self):
        object.__setattr__(self, "coef", _frozen(self.coef))
        object.__setattr__(self, "tangent", _frozen(self.tangent))

    # ----------------------------------------------------------- shape
    @property
    def factorisation(self):
        """``"primal"`` or ``"dual"`` for a Cholesky-factorised Hessian, else None.

        None is the generic path (conjugate gradients, the multi-user view):
        ``S`` is then computed column by column with solves.
        """
        if isinstance(self.hessian, PrimalHessian):
            return "primal"
        if isinstance(self.hessian, DualHessian):
            return "dual"
        return None

    @property
    def dual(self):
        """Whether the model is solved in function space (kernel, or p > n)."""
        return self.kernel is not None or self.linear_dual is not None

    @property
    def n_fit(self):
        """Number of training rows of a dual model."""
        if self.kernel is not None:
            return self.X_fit.shape[0]
        return self.linear_dual.n_fit

    # ------------------------------------------------------ dispersion
    @cached_property
    def dispersion_root(self):
        """``sqrt(dispersion)``, computed once without overflow."""
        return dispersion_root(
            self.family,
            self.pearson,
            self.n_positive,
            self.hessian.effective_dof,
            self.dispersion_rule,
        )

    @property
    def dispersion(self):
        with np.errstate(over="ignore"):
            return float(np.square(self.dispersion_root))

    # ------------------------------------------------------------ verbs
    def validate_query(self, X):
        """Query rows validated against the fit, as an array or sparse matrix."""
        return self.check_query(X)

    def eta(self, X, with_tangent=False, tangent_only=False):
        """Linear predictor at the rows of ``X``, and its tangent if asked.

        Both columns come from one pass over ``X`` (or one kernel block);
        ``tangent_only`` skips the predictor where a score does not need it.
        """
        kernel_model = self.kernel is not None
        coef, tangent = self.coef, self.tangent
        if tangent_only:
            coefs, offset = tangent, self.intercept_tangent
        elif with_tangent:
            coefs = np.column_stack([coef, tangent])
            offset = np.array([self.intercept, self.intercept_tangent])
        else:
            coefs, offset = coef, self.intercept
        if kernel_model:
            params = self.kernel_params
            out = kernel_dot(X, self.X_fit, coefs, self.kernel, params) + offset
        elif hasattr(X, "toarray") or coefs.ndim == 1:
            out = np.asarray(safe_sparse_dot(X, coefs, dense_output=True)) + offset
        else:
            # (C' X')' streams X once with a wide, short product; X @ C with a
            # two-column C is markedly slower in the BLAS here.
            out = (coefs.T @ X.T).T + offset
        if tangent_only:
            check_eta(None, out)
            return out
        if with_tangent:
            check_eta(self.family, out[:, 0], out[:, 1])
            return out[:, 0], out[:, 1]
        check_eta(self.family, out)
        return out

    def train_kernel(self, Xa, Xb=None):
        """``k(Xa, Xb)`` of a dual model; ``Xb=None`` is the training set.

        For ``p > n`` the linear kernel of the centred rows
        (:class:`~sktangent._models.CentredLinearKernel`), the one fitted.
        """
        if self.kernel is None:
            return self.linear_dual(Xa, Xb)
        if Xb is None:
            Xb = self.X_fit
        if self.kernel == "precomputed" and Xb is not self.X_fit:
            kernel_diagonal(Xa, "precomputed", {})  # raises the explanation
        return kernel_matrix(Xa, Xb, self.kernel, self.kernel_params)

    def train_kernel_diagonal(self, X):
        """``k(x, x)`` at the rows of ``X``."""
        if self.kernel is None:
            return self.linear_dual.diagonal(X)
        return kernel_diagonal(X, self.kernel, self.kernel_params)

    def variance_scale(self, X):
        """``S(x, x) = x~' H^-1 x~``, so that ``Var(eta(x)) = dispersion * S``."""
        hess = self.hessian
        if not self.dual:
            return hess.variance_scale(X)
        out = np.empty(X.shape[0])
        for rows in row_blocks(X.shape[0], self.n_fit):
            Kq = self.train_kernel(X[rows])
            out[rows] = hess.variance_scale(Kq, self.train_kernel_diagonal(X[rows]))
        return out

    def cross_variance_scale(self, Xa, Xb):
        """``S(x_a, x_b) = Cov(eta(x_a), eta(x_b)) / dispersion``, (n_a, n_b).

        The posterior covariance scale of section 4 of the theory page
        (docs/theory.rst), in function space for kernel models; every
        influence function is built from it.
        """
        hess = self.hessian
        if not self.dual:
            return hess.cross_variance_scale(Xa, Xb)
        return hess.cross_variance_scale(
            self.train_kernel(Xa),
            self.train_kernel(Xb),
            self.train_kernel(Xa, Xb),
        )

    def variance_scale_alpha_derivative(self, X):
        """``alpha dS(x, x)/dalpha`` at fixed curvature, for factorised Hessians."""
        hess = self.hessian
        if isinstance(hess, PrimalHessian):
            return hess.variance_scale_alpha_derivative(X)
        out = np.empty(X.shape[0])
        for rows in row_blocks(X.shape[0], self.n_fit):
            out[rows] = hess.variance_scale_alpha_derivative(
                self.train_kernel(X[rows]),
                self.train_kernel_diagonal(X[rows]),
            )
        return out
