"""TangentRegressor: validates, delegates, and exposes the tangent."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.metrics.pairwise import PAIRWISE_KERNEL_FUNCTIONS
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    check_is_fitted,
    validate_data,
)

from . import _dask, _dask_fit
from ._families import get_family, has_positive_targets
from ._models import NystroemModel, check_n_components
from ._online import TrainingRows, update_state
from ._state import fit_state
from ._validation import (
    check_target,
    check_unchanged,
    check_weights,
    snapshot_params,
)

_KERNELS = set(PAIRWISE_KERNEL_FUNCTIONS) | {"precomputed"}
# Fitted attributes of one model shape that a refit in another must not keep.
_SHAPE_ATTRIBUTES = (
    "coef_",
    "coef_tangent_",
    "dual_coef_",
    "dual_coef_tangent_",
    "X_fit_",
    "components_",
    "component_indices_",
    "normalization_",
)


class TangentRegressor(RegressorMixin, BaseEstimator):
    r"""Penalised regression that also knows how the penalty shapes it.

    Fits a ridge-type linear or kernel model and computes, at the cost of one
    extra solve with the Hessian that fitting already factorised, the
    *regularity tangent*: the derivative of the fitted parameters with respect
    to ``s = log(alpha)``. From it follow the prediction tangent
    (:meth:`predict_tangent`), the influence of a point on model complexity
    and the curiosity score of an unlabelled point (:meth:`influence_score`),
    and the Laplace predictive standard deviation (``predict(X,
    return_std=True)``).

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
    alpha : float, default=1.0
        Regularisation strength, strictly positive. The objective is

        .. math::

            J(\theta; \alpha) = \sum_i w_i \, \ell(y_i, \eta_i(\theta))
            + \frac{\alpha}{2} \Omega(\theta)

        with :math:`\ell` the half deviance of the family
        (:math:`\tfrac12 (y - \eta)^2` for the normal family). ``alpha``
        therefore means exactly what it means in
        :class:`~sklearn.linear_model.Ridge` and
        :class:`~sklearn.kernel_ridge.KernelRidge`, and the data term is a
        *sum* over samples, not a mean.

    family : {"normal", "poisson", "gamma", "tweedie", "binomial"}, default="normal"
        Distribution of the target and its link: identity for "normal"; log
        for "poisson" (counts, ``y >= 0``), "gamma" (``y > 0``) and "tweedie";
        logit for "binomial" (proportions or 0/1 outcomes, ``0 <= y <= 1``).

        Because the data term is a *sum* of half deviances,
        ``TangentRegressor(family="poisson", alpha=a)`` has the coefficients
        of ``PoissonRegressor(alpha=a / sum(sample_weight))`` (likewise
        :class:`~sklearn.linear_model.GammaRegressor` and
        :class:`~sklearn.linear_model.TweedieRegressor` with ``link="log"``),
        whose data term is a weighted *mean*; and
        ``family="binomial"`` with 0/1 targets has the coefficients of
        ``LogisticRegression(C=1 / a)``.

    power : float, default=None
        Variance power ``p`` of the Tweedie family (``V(mu) = mu**p``),
        required by and only used with ``family="tweedie"``: ``p <= 0`` or
        ``p >= 1`` (``1 < p < 2`` for compound Poisson-gamma data). Given
        with another family it is ignored, with a warning.

    dispersion : {"auto", "fixed", "pearson"}, default="auto"
        How the dispersion :math:`\phi` behind ``return_std``,
        :meth:`influence_score` and the query strategies is obtained.
        ``"pearson"`` estimates it as the Pearson :math:`\chi^2` over the
        residual degrees of freedom (quasi-likelihood). ``"fixed"`` sets
        :math:`\phi = 1`, the value the Poisson and binomial likelihoods
        assume. ``"auto"`` is "fixed" for ``family="poisson"`` and
        ``"binomial"`` and "pearson" otherwise. That default keeps the
        likelihood's own assumption where it has one: for 0/1 outcomes a
        dispersion cannot be estimated at all, and for counts it matches
        :class:`~sklearn.linear_model.PoissonRegressor` and statsmodels'
        GLM. Over-dispersed counts (variance above the mean) need
        ``"pearson"``, or the predictive intervals are too narrow.

    kernel : str, callable or None, default=None
        ``None`` fits the linear model :math:`\eta = X\beta + b` with penalty
        :math:`\Omega = \|\beta\|^2`. Otherwise the kernel model
        :math:`\eta(x) = \sum_j c_j k(x, x_j) + b` with penalty
        :math:`\Omega = c^\top K c` (the RKHS norm), where ``kernel`` is any
        metric accepted by :func:`sklearn.metrics.pairwise.pairwise_kernels`,
        a callable, or ``"precomputed"`` (then ``X`` is the kernel matrix:
        ``(n_samples, n_samples)`` at fit, ``(n_queries, n_samples)`` after).

    gamma : float, default=None
        Kernel coefficient of the RBF, laplacian, polynomial, exponential
        chi2 and sigmoid kernels, as in
        :class:`~sklearn.kernel_ridge.KernelRidge`. Ignored by other kernels.

    degree : float, default=3
        Degree of the polynomial kernel.

    coef0 : float, default=1
        Zero coefficient of the polynomial and sigmoid kernels.

    kernel_params : dict, default=None
        Additional parameters of a callable kernel.

    n_components : int, default=None
        The rank of a Nyström kernel model (kernel models only). ``None``
        fits the exact kernel model, whose dual system is ``n_samples``
        wide. An integer ``m`` fits the linear model on the Nyström features
        :math:`\varphi(x) = k(x, Z) N^\top` of ``m`` landmarks :math:`Z`
        drawn from the training rows (by ``random_state``), with
        :math:`N = K_{ZZ}^{-1/2}` over the eigenvalues of :math:`K_{ZZ}`
        above ``1e-12`` times the largest: the features of
        :class:`sklearn.kernel_approximation.Nystroem`, so the coefficients
        are those of ``make_pipeline(Nystroem(...), Ridge(alpha))`` for the
        normal family. Fitting costs :math:`O(n m^2)` time and :math:`O(n m)`
        memory instead of :math:`O(n^3)` and :math:`O(n^2)`. The tangent,
        ``return_std``, :meth:`influence_score`, the influence functions and
        the query strategies are exact for this reduced model (they describe
        it, not the full kernel model it approximates); ``n_components =
        n_samples`` is the exact kernel model. At most ``n_samples``; ignored,
        with a warning, when ``kernel=None``.

    fit_intercept : bool, default=True
        Whether to fit an unpenalised intercept ``b``. For kernel models this
        adds the constraint :math:`\sum_j c_j = 0` (a bordered system).

    solver : {"auto", "cholesky", "newton-cholesky", "lbfgs", "sgd"}, default="auto"
        ``"cholesky"`` solves the normal family in closed form: on the primal
        system when ``n_samples >= n_features`` and on the dual (kernel)
        system otherwise and for kernel models. ``"newton-cholesky"`` is
        Newton's method with a Cholesky-factorised Hessian (on the dual
        coefficients for kernel models); the factor at the optimum also gives
        the tangent. ``"lbfgs"`` (linear models only) never forms the
        Hessian: the tangent is then found by conjugate gradients on
        Hessian-vector products to a relative residual of 1e-10, and the
        degrees of freedom behind ``dispersion_`` by a stochastic (Hutchinson)
        trace estimate. ``"sgd"`` (linear models only, any family) is
        minibatch stochastic gradient descent for many rows: the tangent is
        carried through the steps (SGDF: beside each step
        :math:`\theta \leftarrow \theta - \eta g` the tangent steps
        :math:`t \leftarrow t - \eta (H t + \rho)` with a minibatch
        Hessian-vector product), with an SVRG control variate and Polyak
        averaging of both; it runs in the coordinates of standardised
        features (a change of variables: same optimum, sparse input stays
        sparse) with the step size :math:`1/L` from a bound on the
        curvature of a minibatch, so no learning rate needs tuning. Other
        solves with the Hessian (influence functions, ``return_std``) then
        use conjugate gradients as after "lbfgs". See
        :ref:`theory-large`. ``"auto"`` picks "cholesky" for the normal
        family, "lbfgs" for linear models with more than 2000 coefficients
        and "newton-cholesky" otherwise; it never picks "sgd".

    max_iter : int, default=100
        Maximum number of iterations of the iterative solvers; for "sgd",
        of epochs (a pass of minibatch steps over the data, at least 256
        steps, and one full pass for the snapshot).

    tol : float, default=1e-6
        The iterative solvers stop when the largest absolute gradient entry
        of the objective divided by ``sum(sample_weight)`` is below ``tol``
        (the gradient criterion of scikit-learn's GLMs). "newton-cholesky"
        also requires half the Newton decrement :math:`g^\top H^{-1} g / 2`
        over ``sum(sample_weight)`` to be below ``tol``, and "lbfgs" tests
        the gradient with respect to the coefficients of features scaled to
        unit root mean square: both tests are independent of the features'
        units, so tiny features cannot stop a solver at its start point.
        "sgd" tests, after each epoch, the gradient with respect to the
        coefficients of standardised features, and also the residual
        :math:`(H t + \rho)/\sum w` of its tangent. The tangent assumes an
        exact optimum, so its accuracy follows ``tol``.

    random_state : int, RandomState instance or None, default=None
        Draws the Nyström landmarks (``n_components``; the same value gives
        the landmarks of ``Nystroem(random_state=...)`` on the same rows) and
        the order in which "sgd" draws its minibatches. Pass an int for
        reproducible fits; the exact kernel and linear models with the other
        solvers ignore it.

    batch_size : int or "auto", default="auto"
        Rows per minibatch of "sgd" (ignored by the other solvers).
        ``"auto"`` is ``min(256, max(1, n_samples // 32))``.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Coefficients :math:`\beta` of the linear model (``kernel=None``).

    intercept_ : float
        Intercept :math:`b` (0.0 when ``fit_intercept=False``).

    dual_coef_ : ndarray of shape (n_samples,)
        Dual coefficients :math:`c` of the kernel model; with
        ``n_components`` the weights of the landmarks, shape
        (n_components,): :math:`c = N^\top \beta`, so that
        ``predict`` is ``k(X, X_fit_) @ dual_coef_ + intercept_`` in both
        cases (normal family).

    X_fit_ : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Training data of the kernel model, needed for prediction (the kernel
        matrix itself when ``kernel="precomputed"``); with ``n_components``
        the landmarks, shape (n_components, n_features).

    components_ : {ndarray, sparse matrix} of shape (n_components, n_features)
        The Nyström landmarks (only with ``n_components``), as in
        :class:`~sklearn.kernel_approximation.Nystroem`; also the
        coefficients ``coef_`` (shape (n_components,)) and ``coef_tangent_``
        are then set, on the features :math:`\varphi(x)`.

    component_indices_ : ndarray of shape (n_components,)
        The training rows that are the landmarks (only with ``n_components``).

    normalization_ : ndarray of shape (n_components, n_components)
        :math:`N`, so that the features are ``k(X, components_) @
        normalization_.T`` (only with ``n_components``).

    coef_tangent_ : ndarray of shape (n_features,)
        :math:`d\beta / ds` with :math:`s = \log\alpha` (linear model).

    intercept_tangent_ : float
        :math:`db / ds`.

    dual_coef_tangent_ : ndarray of shape (n_samples,)
        :math:`dc / ds` (kernel model).

    dispersion_ : float
        Dispersion :math:`\phi` (the noise variance for the normal family),
        as chosen by ``dispersion``: 1, or the Pearson :math:`\chi^2` over the
        residual degrees of freedom :math:`n - \operatorname{tr}(\text{hat
        matrix})`, with ``n`` the number of samples of positive weight.
        Computed on first access: for kernel models the trace costs as much
        as the factorisation itself. Held as its square root, so that
        targets of size ``1e200`` still give a finite ``return_std``
        (``dispersion_`` itself is then ``inf``).

    fitted_state_ : FittedState
        Everything the fit leaves, as one frozen object: the family, the
        model shape (``model``: linear, linear solved in the dual, or
        kernel), the Hessian at the optimum as the solver left it
        (``factorisation`` says ``"primal"``, ``"dual"`` or None for
        conjugate gradients), the coefficients and their tangent, the
        ``alpha`` that was fitted, the dispersion, and the verbs built on
        them: ``eta(X)`` (the linear predictor and its tangent),
        ``predict``, ``predict_tangent``, ``influence_score``,
        ``variance_scale(X)`` and ``cross_variance_scale(Xa, Xb)``
        (:math:`S(x, x')`), and ``validate_query``. The influence functions and
        the query strategies read only this object, so they keep describing
        the fitted model whatever ``set_params`` does before the next
        ``fit``. Its verbs take validated rows; see :doc:`/architecture`.

    n_iter_ : int
        Number of solver iterations (1 for the closed form).

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column
        names.

    See Also
    --------
    sklearn.linear_model.Ridge : The same linear model without the tangent.
    sklearn.kernel_ridge.KernelRidge : The same kernel model (no intercept).

    Notes
    -----
    At the optimum :math:`\nabla_\theta J = 0` for every :math:`s`, so by the
    implicit function theorem the regularity tangent is

    .. math::

        t = \frac{d\theta^*}{ds} = -H^{-1}\rho, \qquad
        H = \nabla^2_\theta J(\theta^*), \qquad
        \rho = \frac{\partial}{\partial s}\nabla_\theta J
             = \frac{\alpha}{2}\nabla_\theta\Omega(\theta^*).

    For the linear model :math:`\rho = \alpha[\beta, 0]`. For the kernel
    model the tangent solves the bordered system

    .. math::

        \begin{pmatrix} W K + \alpha I & W 1 \\ 1^\top & 0 \end{pmatrix}
        \begin{pmatrix} \dot c \\ \dot b \end{pmatrix}
        = \begin{pmatrix} -c \\ 0 \end{pmatrix},
        \qquad \frac{dc}{ds} = \alpha \dot c,\quad
        \frac{db}{ds} = \alpha \dot b.

    Up-weighting a labelled point :math:`z = (x, y)` changes the complexity
    :math:`C = \tfrac{\alpha}{2}\Omega` at the rate
    :math:`c(z) = \ell'(y, \eta(x)) \, d\eta(x)/ds`; for an unlabelled point
    the expected square over labels drawn from the fitted model is
    :math:`u(x) = \phi \, \mu'(\eta)^2 / V(\mu) \, (d\eta(x)/ds)^2`, i.e.
    :math:`\phi (d\eta/ds)^2` for the normal family.

    Sample weights are precision weights: the dispersion estimate counts
    samples, not the sum of weights, so a weight of 2 is not the same as a
    duplicated row for ``dispersion_`` (it is for the coefficients).

    Examples
    --------
    >>> import numpy as np
    >>> from sktangent import TangentRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(50, 3))
    >>> y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=50)
    >>> reg = TangentRegressor(alpha=1.0).fit(X, y)
    >>> reg.coef_tangent_.shape
    (3,)
    >>> reg.influence_score(X[:2]).shape
    (2,)
    >>> mean, std = reg.predict(X[:2], return_std=True)
    >>> bool(np.all(std > 0))
    True
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "family": [StrOptions({"normal", "poisson", "gamma", "tweedie", "binomial"})],
        "power": [Interval(Real, None, None, closed="neither"), None],
        "dispersion": [StrOptions({"auto", "fixed", "pearson"})],
        "kernel": [None, StrOptions(_KERNELS), callable],
        "gamma": [Interval(Real, 0, None, closed="left"), None],
        "degree": [Interval(Real, 0, None, closed="left")],
        "coef0": [Interval(Real, None, None, closed="neither")],
        "kernel_params": [dict, None],
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "fit_intercept": ["boolean"],
        "solver": [StrOptions({"auto", "cholesky", "newton-cholesky", "lbfgs", "sgd"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
    }

    def __init__(
        self,
        alpha=1.0,
        *,
        family="normal",
        power=None,
        dispersion="auto",
        kernel=None,
        gamma=None,
        degree=3,
        coef0=1,
        kernel_params=None,
        n_components=None,
        fit_intercept=True,
        solver="auto",
        max_iter=100,
        tol=1e-6,
        random_state=None,
        batch_size="auto",
    ):
        self.alpha = alpha
        self.family = family
        self.power = power
        self.dispersion = dispersion
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.kernel_params = kernel_params
        self.n_components = n_components
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.batch_size = batch_size

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.pairwise = self.kernel == "precomputed"
        # Counts and positive responses: estimator checks then draw y > 0.
        tags.target_tags.positive_only = has_positive_targets(self.family, self.power)
        return tags

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model and its regularity tangent.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data (the kernel matrix if ``kernel="precomputed"``).
        y : array-like of shape (n_samples,)
            Target values.
        sample_weight : float or array-like of shape (n_samples,), default=None
            Non-negative weights :math:`w_i` of the data term.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        if _dask.is_dask(X):  # linear models: reductions over the chunks
            state, n_iter = _dask_fit.fit_dask(
                self, X, y, sample_weight, self._validate_query
            )
            self.n_features_in_ = X.shape[1]
            self.__dict__.pop("feature_names_in_", None)
            self._float32_fit = X.dtype == np.float32
            self._keep(state, n_iter)
            self._fitted_params = snapshot_params(self)
            return self
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=("csr", "csc"),
            dtype=(np.float64, np.float32),
            y_numeric=True,
        )
        # Fitted and factorised in float64 whatever the input; float32 input
        # only decides the dtype of the outputs (see _outputs).
        self._float32_fit = X.dtype == np.float32
        X = X.astype(np.float64) if self._float32_fit else X
        y = check_target(y)
        n_samples = X.shape[0]
        if n_samples < 2:
            raise ValueError(
                f"Found 1 sample; {type(self).__name__} needs at least 2 samples "
                "to fit a model and estimate its dispersion."
            )
        if self.kernel == "precomputed" and X.shape[0] != X.shape[1]:
            raise ValueError(
                "With kernel='precomputed', X must be the square kernel matrix of "
                f"the training samples; got shape {X.shape}."
            )
        check_n_components(self.n_components, self.kernel, n_samples)
        w = check_weights(sample_weight, X)
        family = get_family(self.family, self.power, warn=True)
        family.check_y(y)
        state, n_iter = fit_state(
            family,
            X,
            y,
            w,
            self,
            self.dispersion,
            check_query=self._validate_query,
            training=TrainingRows(X, y, w),
        )
        self._keep(state, n_iter)
        self._fitted_params = snapshot_params(self)
        return self

    def _keep(self, state, n_iter):
        """Expose a fitted state as the estimator's attributes."""
        for name in _SHAPE_ATTRIBUTES:  # none left from an earlier fit
            self.__dict__.pop(name, None)
        if isinstance(state.model, NystroemModel):
            model = state.model
            self.coef_, self.coef_tangent_ = state.coef, state.tangent
            self.X_fit_ = self.components_ = model.components
            self.component_indices_ = model.component_indices
            self.normalization_ = model.normalization
            self.dual_coef_ = model.landmark_weights(state.coef)
            self.dual_coef_tangent_ = model.landmark_weights(state.tangent)
        elif state.model.kernel is not None:
            self.X_fit_ = state.X_fit
            self.dual_coef_, self.dual_coef_tangent_ = state.coef, state.tangent
        else:
            self.coef_, self.coef_tangent_ = state.coef, state.tangent
        self.intercept_ = state.intercept
        self.intercept_tangent_ = state.intercept_tangent
        self.n_iter_ = n_iter
        self.fitted_state_ = state

    def _partial_fit_available(self):
        if self.kernel == "precomputed":
            raise AttributeError(
                "partial_fit is not available with kernel='precomputed': the "
                "kernel values of new rows against every row are not known to "
                "the estimator. Call fit with the full kernel matrix."
            )
        return True

    @available_if(_partial_fit_available)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Add rows to the fit, as if ``fit`` had seen them all.

        The first call fits (as :meth:`fit`); each later call adds the rows
        ``X`` to those fitted so far and updates the fit, the tangent, the
        Hessian and the dispersion without starting again: a rank-k update
        of the Cholesky factor for the normal family's linear model, the
        factor grown by a block for kernel models and linear models with
        more features than rows (both exact: equal to a refit on all rows up
        to rounding), and Newton's method started from the previous optimum
        for the other families (equal to a refit to the solver's ``tol``).
        See :ref:`online_updates`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New training rows.
        y : array-like of shape (n_samples,)
            Their targets.
        sample_weight : float or array-like of shape (n_samples,), default=None
            Their non-negative weights.

        Returns
        -------
        self : object
            The estimator, fitted on every row given to ``fit`` and
            ``partial_fit`` since the last ``fit``.

        Raises
        ------
        ValueError
            If a parameter that defines the model (``alpha``, ``family``, the
            kernel and its parameters, ``fit_intercept``) changed since the
            first call: call :meth:`fit` to refit.

        Notes
        -----
        The estimator keeps the rows it was fitted on (in
        ``fitted_state_.training``): the updates need them for the training
        predictions, the dispersion and the kernel rows. The rows given to
        ``fit`` are kept by reference, as a kernel model's ``X_fit_`` always
        is: changing that array in place afterwards changes later updates.
        ``fitted_state_`` is a new object after every call; states taken
        before are unchanged. Not available with ``kernel="precomputed"``.

        A Nyström model (``n_components``) keeps the landmarks of the first
        call: an update equals the fit of the same features on all the rows
        (the solver run from the previous optimum, in closed form for the
        normal family), not a fit that draws new landmarks from them.
        """
        if not hasattr(self, "fitted_state_"):
            return self.fit(X, y, sample_weight=sample_weight)
        check_unchanged(self)
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=("csr", "csc"),
            dtype=np.float64,
            y_numeric=True,
            reset=False,
        )
        y = check_target(y)
        w = check_weights(sample_weight, X)
        state = self.fitted_state_
        state.family.check_y(y)
        state, n_iter = update_state(state, X, y, w, self, self._validate_query)
        self._keep(state, n_iter)
        return self

    # --------------------------------------------------------- fitted state
    @property
    def dispersion_(self):
        check_is_fitted(self)
        check_unchanged(self)
        return self.fitted_state_.dispersion

    def _validate_query(self, X):
        check_is_fitted(self)
        check_unchanged(self)
        # float32 rows stay float32: the computations convert them block by
        # block, so a float32 pool is never copied to float64 as a whole.
        return validate_data(
            self,
            X,
            accept_sparse=("csr", "csc"),
            dtype=(np.float64, np.float32),
            reset=False,
        )

    def _outputs(self, X, out):
        """``out`` (an array or a tuple of arrays) in the dtype scikit-learn uses.

        float32 when a model linear in its features was fitted on float32
        rows and is queried with float32 rows, as
        :class:`~sklearn.linear_model.Ridge` (and ``Nystroem`` + ``Ridge``)
        do; float64 otherwise, and always for exact kernel models, as
        :class:`~sklearn.kernel_ridge.KernelRidge`. The values are computed
        in float64 either way.
        """
        state = self.fitted_state_
        linear = state.kernel is None or isinstance(state.model, NystroemModel)
        float32_fit = getattr(self, "_float32_fit", False)  # set by fit
        if not (linear and float32_fit and X.dtype == np.float32):
            return out
        if isinstance(out, tuple):
            return tuple(a.astype(np.float32) for a in out)
        return out.astype(np.float32)

    # ------------------------------------------------------- public verbs
    def predict(self, X, return_std=False):
        """Predict the mean, and optionally its Laplace predictive std.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Query points (``(n_samples, n_samples_fit)`` kernel values when
            ``kernel="precomputed"``).
        return_std : bool, default=False
            Also return the standard deviation of a new observation ``y`` at
            each point: :math:`\\sqrt{\\mu'(\\eta)^2 \\phi S(x, x) +
            \\phi V(\\mu)}` with :math:`S(x, x) = \\tilde x^\\top H^{-1}
            \\tilde x` (for the normal family,
            :math:`\\sqrt{\\phi (S(x, x) + 1)}`). Not available with
            ``kernel="precomputed"``, which lacks :math:`k(x, x)`.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted mean.
        y_std : ndarray of shape (n_samples,)
            Predictive standard deviation; only with ``return_std=True``.
        """
        if _dask.is_dask(X):
            return _dask.predict(self, X, return_std=return_std)
        X = self._validate_query(X)
        return self._outputs(X, self.fitted_state_.predict(X, return_std=return_std))

    def predict_tangent(self, X):
        """Derivative of the prediction with respect to ``s = log(alpha)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Query points.

        Returns
        -------
        tangent : ndarray of shape (n_samples,)
            :math:`d\\mu(x)/ds = \\mu'(\\eta(x))\\, d\\eta(x)/ds`, with
            :math:`d\\eta(x)/ds = \\tilde x^\\top t` (linear) or
            :math:`k(x, X) \\, dc/ds + db/ds` (kernel). Negative where a
            stronger penalty would pull the prediction down.
        """
        if _dask.is_dask(X):
            return _dask.predict_tangent(self, X)
        X = self._validate_query(X)
        return self._outputs(X, self.fitted_state_.predict_tangent(X))

    def influence_score(self, X, y=None):
        """Influence of points on model complexity.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Points to score.
        y : array-like of shape (n_samples,), default=None
            Their labels, if known.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            With ``y``: the signed rate :math:`c(z) = \\ell'(y, \\eta(x))\\,
            d\\eta(x)/ds` at which up-weighting ``(x, y)`` changes the
            complexity :math:`\\tfrac{\\alpha}{2}\\Omega(\\theta^*)`;
            positive when the point pulls the model towards more complexity.
            It is also :math:`d\\ell(y, \\eta(x))/ds`.

            Without ``y``: the expected squared influence over labels drawn
            from the fitted model, :math:`u(x) = \\phi\\, \\mu'(\\eta)^2 /
            V(\\mu)\\, (d\\eta(x)/ds)^2` (:math:`\\phi (d\\eta/ds)^2` for the
            normal family). Large where the penalty rather than the data
            decides the prediction: the curiosity score for active learning.
        """
        if _dask.is_dask(X):
            return _dask.influence_score(self, X, y)
        X = self._validate_query(X)
        return self._outputs(X, self.fitted_state_.influence_score(X, y))
