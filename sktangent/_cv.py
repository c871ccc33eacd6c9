"""TangentRegressorCV: alpha chosen by leave-one-out through the tangent."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import (
    check_is_fitted,
    validate_data,
)

from ._estimator import TangentRegressor
from ._families import check_power, get_family
from ._implicit import IllConditionedError
from ._loo import RidgePath, leave_one_out
from ._validation import (
    check_target,
    check_unchanged,
    check_weights,
    snapshot_params,
)

_DEFAULT_ALPHAS = np.logspace(-6, 6, 25)


class TangentRegressorCV(RegressorMixin, BaseEstimator):
    r"""TangentRegressor with alpha chosen by leave-one-out, in ``s = log(alpha)``.

    The leave-one-out error is a smooth function of :math:`s`, and the tangent
    gives its derivative (the *hypergradient*) at the cost of one fit. The
    search evaluates the error on the grid ``alphas``, then, unless
    ``refine=False``, follows the sign of the hypergradient between the
    neighbours of the best grid point (a safeguarded regula falsi on
    :math:`dE/ds`) until the bracket is narrower than ``xtol`` in :math:`s`.
    The chosen alpha may therefore lie between grid points, but never outside
    the grid's range.

    The error is the mean weighted deviance of the leave-one-out predictions,
    :math:`E = \frac{2}{n}\sum_i w_i\,\ell(y_i, \eta_{-i}(x_i))` (the weighted
    mean squared error for the normal family, where it is exact; the one-step
    Newton approximation of the refits for the GLM families).

    Read more in the :ref:`User Guide <tuning>`.

    Parameters
    ----------
    alphas : array-like of shape (n_alphas,), default=None
        Grid of positive alphas to start from (and to stay within). ``None``
        means 25 values from 1e-6 to 1e6, evenly spaced in :math:`\log\alpha`.
    refine : bool, default=True
        Refine between grid points with the hypergradient. ``False`` picks
        the best grid point, as :class:`~sklearn.linear_model.RidgeCV` does.
    xtol : float, default=1e-3
        Width in :math:`s = \log\alpha` at which the refinement stops.
    family, power, dispersion, kernel, gamma, degree, coef0, kernel_params
        As in :class:`TangentRegressor`; ``kernel="precomputed"`` is not
        supported (the leave-one-out derivative needs :math:`k(x, x)`).
        ``dispersion`` (default ``"auto"``) only affects the uncertainty of
        the chosen model, not the choice of alpha.
    n_components, random_state
        As in :class:`TangentRegressor`: a Nyström kernel model of rank
        ``n_components``, with the same landmarks at every alpha.
    fit_intercept, solver, max_iter, tol
        As in :class:`TangentRegressor`; ``solver="lbfgs"`` and ``"sgd"``
        are not supported (leave-one-out needs the factorised Hessian).

    Attributes
    ----------
    alpha_ : float
        The chosen alpha.
    best_score_ : float
        Minus the leave-one-out error at ``alpha_`` (higher is better, as in
        scikit-learn's scorers).
    loo_error_ : float
        The leave-one-out error at ``alpha_``.
    alphas_evaluated_ : ndarray
        Every alpha at which the error was computed, in order.
    loo_errors_ : ndarray
        The leave-one-out error at each of ``alphas_evaluated_``.
    loo_gradients_ : ndarray
        :math:`dE/ds` at each of ``alphas_evaluated_``.
    estimator_ : TangentRegressor
        The model fitted at ``alpha_``, with its tangent. ``predict``,
        ``predict_tangent`` and ``influence_score`` delegate to it.
    fitted_state_ : FittedState
        The fitted state of ``estimator_`` (see
        :class:`TangentRegressor`), which the influence functions and the
        query strategies read.
    n_iter_ : int
        Solver iterations of the final fit at ``alpha_``.
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    TangentRegressor : The model for a given alpha.
    sklearn.linear_model.RidgeCV : Leave-one-out over a grid of alphas.

    Notes
    -----
    With :math:`\eta_{-i} = \eta_i + w_i\ell'_i S_{ii}/(1 - h_i)`,
    :math:`h_i = w_i \ell''_i S_{ii}` and :math:`S_{ii} = \tilde x_i^\top
    H^{-1}\tilde x_i`, the hypergradient is

    .. math::

        \frac{dE}{ds} = \frac{2}{n}\sum_i w_i\, \ell'(y_i, \eta_{-i})\,
        \frac{d\eta_{-i}}{ds},

    where :math:`d\eta_{-i}/ds` follows from the prediction tangent
    :math:`t_i = d\eta_i/ds`, from :math:`dH/ds = \alpha P + \tilde X^\top
    \operatorname{diag}(w \ell''' t)\tilde X` and the chain rule.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sktangent import TangentRegressorCV
    >>> X, y = load_diabetes(return_X_y=True)
    >>> cv = TangentRegressorCV().fit(X, y)
    >>> bool(1e-6 <= cv.alpha_ <= 1e6)
    True
    >>> cv.influence_score(X[:3]).shape
    (3,)
    """

    _parameter_constraints: dict = {
        **TangentRegressor._parameter_constraints,
        "alphas": ["array-like", None],
        "refine": ["boolean"],
        "xtol": [Interval(Real, 0, None, closed="neither")],
    }
    _parameter_constraints.pop("alpha")
    # Only solver="sgd" reads it, and leave-one-out needs a factorisation.
    _parameter_constraints.pop("batch_size")

    def __init__(
        self,
        alphas=None,
        *,
        refine=True,
        xtol=1e-3,
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
    ):
        self.alphas = alphas
        self.refine = refine
        self.xtol = xtol
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        model_tags = self._model().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.positive_only = model_tags.target_tags.positive_only
        return tags

    def _model(self, alpha=1.0):
        params = {
            name: getattr(self, name)
            for name in TangentRegressor._parameter_constraints
            if name in self._parameter_constraints
        }
        return TangentRegressor(alpha=alpha, **params)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Choose alpha by leave-one-out and fit the model there.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        if self.kernel == "precomputed":
            raise ValueError(
                "TangentRegressorCV does not support kernel='precomputed': the "
                "leave-one-out derivative needs k(x, x) of the training points."
            )
        if self.solver in ("lbfgs", "sgd"):
            raise ValueError(
                f"solver={self.solver!r} is not supported by TangentRegressorCV: "
                "leave-one-out needs the factorised Hessian; use solver='auto' "
                "or 'newton-cholesky'."
            )
        X, y = validate_data(
            self, X, y, accept_sparse=("csr", "csc"), dtype=np.float64, y_numeric=True
        )
        y = check_target(y)
        check_power(self.family, self.power)
        w = check_weights(sample_weight, X)
        grid = self._grid()

        evaluated = {}
        # The linear normal model: every alpha's exact leave-one-out error
        # from one SVD, as RidgeCV does; the model is fitted once, at the end.
        path = None
        if (
            self.kernel is None
            and self.solver in ("auto", "cholesky")
            and get_family(self.family).constant_variance
            and not hasattr(X, "toarray")
            # p > n fits the dual, whose conditioning differs; fewer than two
            # rows: the model's fit says what is wrong.
            and X.shape[0] > X.shape[1]
        ):
            path = RidgePath(X, y, w, self.fit_intercept)

        # One draw of the Nyström landmarks for every alpha, even when
        # random_state is a RandomState instance (or None).
        seed = self.random_state
        if self.n_components is not None and not isinstance(seed, Integral):
            seed = check_random_state(seed).randint(np.iinfo(np.int32).max)

        def fitted(s):
            model = self._model(alpha=float(np.exp(s))).set_params(random_state=seed)
            with warnings.catch_warnings():
                # Warned once above, not once per alpha.
                warnings.filterwarnings("ignore", message="power=")
                return model.fit(X, y, sample_weight=w)

        def evaluate(s):
            if s not in evaluated and path is not None:
                error, gradient = path.error(s, with_gradient=True)
                evaluated[s] = (error, gradient, None)
            if s not in evaluated:
                try:
                    model = fitted(s)
                    state = model.fitted_state_
                    # X was validated above, as the model's queries are.
                    loo = leave_one_out(state, X, y, w, True)
                    evaluated[s] = (loo.error, loo.gradient, model)
                except IllConditionedError:
                    # An alpha so small that the model interpolates (leverage
                    # 1, or a singular system) has no leave-one-out error:
                    # it loses to every alpha that has one.
                    evaluated[s] = (np.inf, np.nan, None)
            return evaluated[s]

        errors = [evaluate(s)[0] for s in grid]
        if not np.any(np.isfinite(errors)):
            raise ValueError(
                "No alpha of the grid gives a finite leave-one-out error (the "
                "model interpolates the data at every one); use larger alphas."
            )
        k = int(np.argmin(errors))
        if self.refine and len(grid) > 1:
            self._refine(evaluate, grid, k)

        order = list(evaluated)
        best = min(order, key=lambda s: evaluated[s][0])
        error, _, model = evaluated[best]
        if model is None:
            model = fitted(best)
        self.alpha_ = float(np.exp(best))
        self.loo_error_ = error
        self.best_score_ = -error
        self.alphas_evaluated_ = np.exp(np.array(order))
        self.loo_errors_ = np.array([evaluated[s][0] for s in order])
        self.loo_gradients_ = np.array([evaluated[s][1] for s in order])
        if hasattr(self, "feature_names_in_"):
            # The model saw the same columns as arrays; giving it their names
            # makes every path to it (the delegated verbs, the influence
            # functions, the strategies) refuse reordered or renamed columns.
            model.feature_names_in_ = self.feature_names_in_
        self.estimator_ = model
        self.n_iter_ = model.n_iter_
        self._fitted_params = snapshot_params(self)
        return self

    def _grid(self):
        if self.alphas is None:
            alphas = _DEFAULT_ALPHAS
        else:
            alphas = np.asarray(self.alphas, dtype=float).ravel()
            if (
                alphas.size == 0
                or not np.all(np.isfinite(alphas))
                or np.any(alphas <= 0)
            ):
                raise ValueError(
                    "alphas must be a non-empty list of finite, strictly positive "
                    f"values; got {self.alphas!r}."
                )
        return np.unique(np.log(alphas))

    def _refine(self, evaluate, grid, k):
        """Safeguarded regula falsi on dE/ds around grid point ``k``."""
        error_k, g_k, _ = evaluate(grid[k])
        if g_k > 0 and k > 0:
            a, b = grid[k - 1], grid[k]
        elif g_k < 0 and k < len(grid) - 1:
            a, b = grid[k], grid[k + 1]
        else:
            return  # a stationary point, or the optimum is at the grid's edge
        ga, gb = evaluate(a)[1], evaluate(b)[1]
        if not (ga < 0 < gb):
            return  # no sign change to follow
        # A slope this small moves the error by less than rounding over xtol.
        flat = 1e-10 * max(error_k, 1e-300) / self.xtol
        side = 0
        for _ in range(60):
            if b - a <= self.xtol:
                break
            s = (a * gb - b * ga) / (gb - ga)
            # Keep the secant point inside the bracket by a margin, so that
            # the bracket shrinks by at least 5 % a step.
            margin = 0.05 * (b - a)
            s = min(max(s, a + margin), b - margin)
            g = evaluate(s)[1]
            if abs(g) <= flat:
                break
            if g > 0:
                b, gb = s, g
                if side == -1:
                    ga *= 0.5  # Illinois: keep the stale end from stalling
                side = -1
            else:
                a, ga = s, g
                if side == 1:
                    gb *= 0.5
                side = 1

    # -------------------------------------------------- delegated verbs
    @property
    def fitted_state_(self):
        check_is_fitted(self)
        return self.estimator_.fitted_state_

    def _check_fitted(self):
        check_is_fitted(self)
        check_unchanged(self)

    def predict(self, X, return_std=False):
        """Predict with the model at ``alpha_``.

        See :meth:`TangentRegressor.predict`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Query points.
        return_std : bool, default=False
            Also return the Laplace predictive standard deviation.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted mean.
        y_std : ndarray of shape (n_samples,)
            Only with ``return_std=True``.
        """
        self._check_fitted()
        return self.estimator_.predict(X, return_std=return_std)

    def predict_tangent(self, X):
        """Prediction tangent at ``alpha_``.

        See :meth:`TangentRegressor.predict_tangent`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Query points.

        Returns
        -------
        tangent : ndarray of shape (n_samples,)
            :math:`d\\mu(x)/ds`.
        """
        self._check_fitted()
        return self.estimator_.predict_tangent(X)

    def influence_score(self, X, y=None):
        """Influence on model complexity at ``alpha_``.

        See :meth:`TangentRegressor.influence_score`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Points to score.
        y : array-like of shape (n_samples,), default=None
            Their labels, if known.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Signed influence with ``y``, expected squared influence without.
        """
        self._check_fitted()
        return self.estimator_.influence_score(X, y)
