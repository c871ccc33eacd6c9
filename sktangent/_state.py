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
from sklearn.utils.validation import check_consistent_length

from ._families import dispersion_root
from ._implicit import check_finite_fit
from ._models import LinearDualModel, kernel_params, make_model, row_blocks
from ._objective import Objective
from ._solvers import choose_solver, finish
from ._validation import check_eta, check_finite_scores, check_target


class Dispersion:
    """The dispersion of a fitted state, from the fields ``family``,
    ``pearson``, ``n_positive``, ``hessian`` and ``dispersion_rule``.

    Computed on first use: for kernel models the trace behind the degrees
    of freedom costs as much as the factorisation.
    """

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


def fit_state(
    family,
    X,
    y,
    w,
    params,
    dispersion_rule,
    check_query,
    start=None,
    training=None,
    model=None,
):
    """Fit one model and build its state; returns ``(state, n_iter)``.

    ``params`` is the estimator whose parameters say what to fit (``alpha``,
    the kernel and its parameters, ``fit_intercept``, ``solver``,
    ``max_iter``, ``tol``); ``X``, ``y`` and ``w`` are validated, ``y`` in
    ``family``'s support. The one fitting path of every single-alpha
    estimator: choose the solver and the model shape, build the objective,
    solve, and take the tangent with the Hessian the solver left.

    ``start(objective)``, if given, is the solver's start point (the online
    updates start from the previous optimum); ``training`` is kept as the
    state's ``training`` (:class:`~sktangent._online.TrainingRows`);
    ``model``, if given, is the model shape to fit instead of a new one (the
    online updates of a Nyström model keep its landmarks).
    """
    kernel = params.kernel
    # A Nyström kernel model is a linear model on n_components features: its
    # solver is chosen as for one.
    n_components = getattr(params, "n_components", None)
    nystroem = kernel is not None and n_components is not None
    solver, shape = choose_solver(
        params.solver,
        family,
        None if nystroem else kernel,
        X.shape[0],
        n_components if nystroem else X.shape[1],
        params.fit_intercept,
        {
            "max_iter": params.max_iter,
            "tol": params.tol,
            "random_state": getattr(params, "random_state", None),
            "batch_size": getattr(params, "batch_size", "auto"),
        },
    )
    model = (
        model
        if model is not None
        else make_model(
            "nystroem" if nystroem else shape,
            X,
            w,
            params.fit_intercept,
            kernel,
            kernel_params(params) if kernel is not None else None,
            n_components=n_components,
            random_state=getattr(params, "random_state", None),
        )
    )
    alpha = float(params.alpha)
    objective = Objective(
        family, model, model.design(X), y, w, alpha, params.fit_intercept
    )
    result = solver.solve(objective, None if start is None else start(objective))
    coef, intercept, tangent, intercept_tangent = finish(objective, result)
    check_finite_fit(coef, tangent)
    state = FittedState(
        family=family,
        model=model,
        hessian=result.hessian,
        alpha=alpha,
        fit_intercept=bool(params.fit_intercept),
        coef=coef,
        tangent=tangent,
        intercept=intercept,
        intercept_tangent=intercept_tangent,
        solver=solver.name,
        tol=float(params.tol),
        dispersion_rule=dispersion_rule,
        pearson=family.pearson_statistic(y, result.eta, w),
        n_positive=int(np.sum(w > 0)),
        check_query=check_query,
        training=training,
    )
    return state, max(int(result.n_iter), 1)


def frozen(a):
    """A read-only view: the state cannot be changed through its arrays."""
    view = np.asarray(a).view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True, eq=False)
class FittedState(Dispersion):
    r"""The fitted model of a :class:`~sktangent.TangentRegressor`.

    Built once by ``fit`` and kept as ``fitted_state_``; never changed
    afterwards (a refit builds a new one). Besides the fields below it
    declares the properties ``factorisation`` (``"primal"``, ``"dual"`` or
    None), ``dual``, ``kernel``, ``X_fit``, ``linear_dual``, ``n_fit``,
    ``dispersion`` and ``dispersion_root``, and
    the verbs ``validate_query``, ``eta``, ``predict``, ``predict_tangent``,
    ``influence_score``, ``variance_scale``, ``cross_variance_scale`` and
    ``variance_scale_alpha_derivative``. The verbs other than
    ``validate_query`` take validated rows. The batches also accept the
    multi-user ``GroupedView``, which has the part of this interface they use.

    Attributes
    ----------
    family : Family
        The distribution and its link (``ℓ``, ``ℓ'``, ``ℓ''``, the inverse
        link, the variance).
    model : LinearModel, LinearDualModel, KernelModel or NystroemModel
        The model shape (:mod:`sktangent._models`): how coefficients make
        the linear predictor, and the rows and prior term of ``S``.
    hessian : Hessian
        The Hessian at the optimum, factorised where the solver factorised
        it; it declares the interface of :class:`~sktangent._implicit.Hessian`.
    alpha : float
        The regularisation strength that was fitted (not the estimator's
        current ``alpha``).
    fit_intercept : bool
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
    training : TrainingRows or None
        The rows the model was fitted on and what ``partial_fit`` carries
        from one update to the next (:mod:`sktangent._online`); None for a
        state that cannot be updated.
    """

    family: Any
    model: Any
    hessian: Any
    alpha: float
    fit_intercept: bool
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
    training: Any = field(default=None, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "coef", frozen(self.coef))
        object.__setattr__(self, "tangent", frozen(self.tangent))

    # ----------------------------------------------------------- shape
    @property
    def factorisation(self):
        """``"primal"`` or ``"dual"`` for a Cholesky-factorised Hessian, else None.

        None is the generic path (conjugate gradients, the multi-user view):
        ``S`` is then computed column by column with solves.
        """
        return self.hessian.factorisation

    @property
    def dual(self):
        """Whether the model is solved in function space (kernel, or p > n)."""
        return self.model.dual

    @property
    def kernel(self):
        """The kernel of a kernel model; None for linear models."""
        return self.model.kernel

    @property
    def X_fit(self):
        """The training rows of a kernel model (the kernel matrix when
        ``kernel="precomputed"``); None for linear models."""
        return self.model.X_fit

    @property
    def linear_dual(self):
        """The centred linear kernel of a linear model solved in the dual."""
        return self.model if isinstance(self.model, LinearDualModel) else None

    @property
    def n_fit(self):
        """Number of training rows of a dual model."""
        return self.model.n_fit

    # ------------------------------------------------------------ verbs
    def validate_query(self, X):
        """Query rows validated against the fit, as an array or sparse matrix."""
        return self.check_query(X)

    def eta(self, X, with_tangent=False, tangent_only=False):
        """Linear predictor at the rows of ``X``, and its tangent if asked.

        Both columns come from one pass over ``X`` (or one kernel block);
        ``tangent_only`` skips the predictor where a score does not need it.
        """
        coef, tangent = self.coef, self.tangent
        if tangent_only:
            coefs, offset = tangent, self.intercept_tangent
        elif with_tangent:
            coefs = np.column_stack([coef, tangent])
            offset = np.array([self.intercept, self.intercept_tangent])
        else:
            coefs, offset = coef, self.intercept
        out = self.model.eta(X, coefs) + offset
        if tangent_only:
            check_eta(None, out)
            return out
        if with_tangent:
            check_eta(self.family, out[:, 0], out[:, 1])
            return out[:, 0], out[:, 1]
        check_eta(self.family, out)
        return out

    def predict(self, X, return_std=False):
        """The mean ``mu(x)``, and with ``return_std`` the Laplace predictive
        standard deviation ``sqrt(phi (mu'^2 S(x, x) + V(mu)))``."""
        eta = self.eta(X)
        family = self.family
        mu = family.inverse_link(eta)
        if not return_std:
            return mu
        # sqrt(phi) * hypot(...) rather than sqrt(phi * (...)): no overflow for
        # targets near the top of float64's range.
        # S >= 0 in exact arithmetic; rounding may leave -1e-17 on a kernel.
        S = np.maximum(self.variance_scale(X), 0.0)
        sd_mean = np.abs(family.mean_derivative(eta)) * np.sqrt(S)
        std = self.dispersion_root * np.hypot(sd_mean, family.variance_root(mu))
        return mu, check_finite_scores(std, "predictive standard deviations")

    def predict_tangent(self, X):
        """``d mu(x) / ds = mu'(eta) d eta(x) / ds``."""
        eta, deta = self.eta(X, with_tangent=True)
        return self.family.mean_derivative(eta) * deta

    def influence_score(self, X, y=None):
        """``l'(y, eta) d eta / ds`` with labels; without, its expected square
        ``phi mu'^2 / V (d eta / ds)^2`` (docs/theory.rst, section 3)."""
        family = self.family
        if y is None:
            if family.constant_score_variance:
                deta = self.eta(X, tangent_only=True)
                fisher = family.score_variance(np.zeros(1))
            else:
                eta, deta = self.eta(X, with_tangent=True)
                fisher = family.score_variance(eta)
            with np.errstate(over="ignore", invalid="ignore"):
                scores = (self.dispersion_root * deta) ** 2 * fisher
            return check_finite_scores(scores)
        eta, deta = self.eta(X, with_tangent=True)
        y = check_target(y)
        check_consistent_length(X, y)
        family.check_y(y)
        with np.errstate(over="ignore", invalid="ignore"):
            scores = family.gradient(y, eta) * deta
        return check_finite_scores(scores)

    def _blocks(self, X, verb):
        """``verb(rows, prior_diagonal)`` over blocks of rows of ``X``."""
        out = np.empty(X.shape[0])
        model = self.model
        for rows in row_blocks(X.shape[0], model.width):
            block = X[rows]
            out[rows] = verb(model.rows(block), model.prior_diagonal(block))
        return out

    def variance_scale(self, X):
        """``S(x, x) = x~' H^-1 x~``, so that ``Var(eta(x)) = dispersion * S``."""
        return self._blocks(X, self.hessian.variance_scale)

    def cross_variance_scale(self, Xa, Xb):
        """``S(x_a, x_b) = Cov(eta(x_a), eta(x_b)) / dispersion``, (n_a, n_b).

        The posterior covariance scale of section 4 of the theory page
        (docs/theory.rst), in function space for kernel models; every
        influence function is built from it.
        """
        model = self.model
        return self.hessian.cross_variance_scale(
            model.rows(Xa), model.rows(Xb), model.prior(Xa, Xb)
        )

    def variance_scale_alpha_derivative(self, X):
        """``alpha dS(x, x)/dalpha`` at fixed curvature, for factorised Hessians."""
        return self._blocks(X, self.hessian.variance_scale_alpha_derivative)
