"""Several regularity parameters: the hierarchical multi-user linear model.

The estimator validates, fits with Newton's method through the objective of
:mod:`sktangent._grouped`, keeps a :class:`~sktangent._grouped.MultiUserState`
and delegates its verbs to it. Section 7 of the theory page
(docs/theory.rst).
"""

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from ._estimator import TangentRegressor
from ._families import get_family, has_positive_targets
from ._grouped import (
    REGULARITY_WEIGHTS,
    GroupedObjective,
    GroupedView,
    MultiUserState,
    check_groups,
    check_length,
    design,
)
from ._solvers import damped_newton
from ._validation import (
    check_finite_scores,
    check_target,
    check_unchanged,
    check_weights,
    snapshot_params,
)

# ---------------------------------------------------------------- estimator
_SHARED_PARAMETERS = (
    "family",
    "power",
    "dispersion",
    "fit_intercept",
    "max_iter",
    "tol",
)


def _influence(state, rows, y, combine):
    """The scores of :meth:`MultiUserTangentRegressor.influence_score`."""
    eta, tangents = state.eta(rows, with_tangent=True)
    if combine == "sum":
        tangents = tangents.sum(axis=1, keepdims=True)
    family = state.family
    with np.errstate(over="ignore", invalid="ignore"):
        if y is None:
            scale = state.dispersion * family.score_variance(eta)
            scores = scale[:, None] * tangents**2
        else:
            scores = family.gradient(y, eta)[:, None] * tangents
    check_finite_scores(scores)
    return scores[:, 0] if combine == "sum" else scores


class MultiUserTangentRegressor(RegressorMixin, BaseEstimator):
    r"""Global coefficients plus per-user deviations, with two tangents.

    User :math:`u` predicts with :math:`\eta = \tilde x^\top (w + \delta_u)`;
    the objective is

    .. math::

        J = \sum_i w_i\,\ell(y_i, \eta_i) + \frac{\alpha_0}{2}\|w_\beta\|^2
            + \frac{\alpha_1}{2}\sum_u \|\delta_u\|^2,

    with :math:`\alpha_0` = ``alpha_global`` (the global intercept is not
    penalised) and :math:`\alpha_1` = ``alpha_user`` (the users' offsets
    are). There is one regularity tangent per parameter,
    :math:`t_k = -H^{-1}\rho_k` with :math:`s_k = \log\alpha_k`. The
    block-arrow Hessian is solved through the Schur complement of the global
    block, so fitting costs time and memory linear in the number of users.
    A sparse ``X`` stays sparse: only the users' ``q x q`` blocks are dense.

    Users are passed as ``groups`` to ``fit``, ``predict`` and the scores;
    a user not seen in ``fit`` gets the global model. Without ``groups``,
    ``fit`` treats all rows as one user and the other methods use the global
    model. scikit-learn's tools (``GridSearchCV``, ``cross_validate``) pass
    ``groups`` only to the splitter unless metadata routing is enabled:
    ``sklearn.set_config(enable_metadata_routing=True)`` and
    ``MultiUserTangentRegressor().set_fit_request(groups=True)`` (and
    ``.set_score_request(groups=True)``) route it to ``fit`` (and
    :meth:`score`) as well; without them every candidate is fitted as a
    single user.

    Read more in the :ref:`User Guide <multiuser>`.

    Parameters
    ----------
    alpha_global : float, default=1.0
        Penalty on the global coefficients.
    alpha_user : float, default=1.0
        Penalty on every user's deviation. Large values shrink all users to
        the global model; with a large ``alpha_global`` and a small
        ``alpha_user`` the users are fitted separately.
    family : {"normal", "poisson", "gamma", "tweedie", "binomial"}, default="normal"
        As in :class:`TangentRegressor`.
    power : float, default=None
        Tweedie power, as in :class:`TangentRegressor`.
    dispersion : {"auto", "fixed", "pearson"}, default="auto"
        How the dispersion is obtained, as in :class:`TangentRegressor`:
        ``"auto"`` fixes it to 1 for the Poisson and binomial families (their
        likelihood's assumption) and estimates it by Pearson's
        :math:`\chi^2` otherwise.
    fit_intercept : bool, default=True
        Fit a global intercept (free) and per-user offsets (penalised).
    max_iter : int, default=100
        Newton iterations for the GLM families.
    tol : float, default=1e-6
        Gradient tolerance, relative to the total weight.

    Attributes
    ----------
    users_ : ndarray
        The distinct users seen in ``fit``.
    coef_ : ndarray of shape (n_features,)
        Global coefficients :math:`w_\beta`.
    intercept_ : float
        Global intercept.
    user_coef_ : ndarray of shape (n_users, n_features)
        Deviations :math:`\delta_u` (without their offsets).
    user_intercept_ : ndarray of shape (n_users,)
        The users' offsets.
    coef_tangent_ : ndarray of shape (2, n_features)
        :math:`dw_\beta/ds_k` for ``k`` = global, user.
    intercept_tangent_ : ndarray of shape (2,)
    user_coef_tangent_ : ndarray of shape (2, n_users, n_features)
    user_intercept_tangent_ : ndarray of shape (2, n_users)
    dispersion_ : float
        The dispersion chosen by ``dispersion``: 1, or Pearson's
        :math:`\chi^2` over the residual degrees of freedom.
    fitted_state_ : MultiUserState
        What ``fit`` left, frozen: the family, the factorised block-arrow
        Hessian (``fitted_state_.hessian``), the parameters and both
        tangents in one flat layout, the penalties that were fitted and the
        dispersion. Every method reads it; a refit replaces it.
    n_iter_ : int
    n_features_in_ : int

    See Also
    --------
    TangentRegressor : One regularity parameter.

    Examples
    --------
    >>> import numpy as np
    >>> from sktangent import MultiUserTangentRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 2))
    >>> users = rng.randint(3, size=60)
    >>> y = X @ [1.0, -1.0] + 0.5 * users + 0.1 * rng.normal(size=60)
    >>> reg = MultiUserTangentRegressor(alpha_user=0.5).fit(X, y, groups=users)
    >>> reg.influence_score(X[:2], groups=users[:2]).shape
    (2, 2)
    """

    _parameter_constraints: dict = {
        "alpha_global": TangentRegressor._parameter_constraints["alpha"],
        "alpha_user": TangentRegressor._parameter_constraints["alpha"],
        **{
            name: TangentRegressor._parameter_constraints[name]
            for name in _SHARED_PARAMETERS
        },
    }

    def __init__(
        self,
        alpha_global=1.0,
        alpha_user=1.0,
        *,
        family="normal",
        power=None,
        dispersion="auto",
        fit_intercept=True,
        max_iter=100,
        tol=1e-6,
    ):
        self.alpha_global = alpha_global
        self.alpha_user = alpha_user
        self.family = family
        self.power = power
        self.dispersion = dispersion
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.positive_only = has_positive_targets(self.family, self.power)
        return tags

    # ---------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, groups=None, sample_weight=None):
        """Fit the global and per-user coefficients and both tangents.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Targets.
        groups : array-like of shape (n_samples,), default=None
            The user of every row (``None``: a single user).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, not all zero.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X, y = validate_data(
            self, X, y, accept_sparse=("csr", "csc"), dtype=np.float64, y_numeric=True
        )
        y = check_target(y)
        n = X.shape[0]
        if n < 2:
            raise ValueError("Found 1 sample; at least 2 samples are needed to fit.")
        if groups is None:
            groups = np.zeros(n, dtype=int)  # one user for every row
        else:
            groups = check_groups(groups)
            check_length(groups, n)
        w = check_weights(sample_weight, X)
        family = get_family(self.family, self.power, warn=True)
        family.check_y(y)
        users, codes = np.unique(groups, return_inverse=True)
        obj = GroupedObjective(
            family,
            design(X, self.fit_intercept),
            codes,
            len(users),
            y,
            w,
            self.alpha_global,
            self.alpha_user,
            self.fit_intercept,
        )

        def step_at(theta, grad):
            return -obj.hessian(theta, obj.newton_weights(theta)).solve(grad)

        theta, n_iter = damped_newton(
            obj.start(),
            obj.value,
            obj.gradient,
            step_at,
            int(self.max_iter),
            float(self.tol),
            float(np.sum(w)),
        )
        hessian = obj.hessian(theta)
        self.fitted_state_ = MultiUserState(
            family=family,
            hessian=hessian,
            theta=theta,
            tangents=hessian.tangent(obj.rho(theta)),
            alpha_global=obj.alpha_global,
            alpha_user=obj.alpha_user,
            fit_intercept=self.fit_intercept,
            users=users,
            dispersion_rule=self.dispersion,
            pearson=family.pearson_statistic(y, obj.eta(theta), w),
            n_positive=int(np.sum(w > 0)),
            check_query=self._validate_query,
        )
        self.users_ = users
        self._store(self.fitted_state_)
        self.n_iter_ = max(int(n_iter), 1)
        self._fitted_params = snapshot_params(self)
        return self

    def _store(self, state):
        """The public attributes, copies of the state's arrays."""
        p = self.n_features_in_
        glob, users = state.split(state.theta)
        tangents = [state.split(t) for t in state.tangents]
        self.coef_, self.user_coef_ = glob[:p].copy(), users[:, :p].copy()
        self.coef_tangent_ = np.array([a[:p] for a, _ in tangents])
        self.user_coef_tangent_ = np.array([b[:, :p] for _, b in tangents])
        if self.fit_intercept:
            self.intercept_ = float(glob[p])
            self.user_intercept_ = users[:, p].copy()
            self.intercept_tangent_ = np.array([a[p] for a, _ in tangents])
            self.user_intercept_tangent_ = np.array([b[:, p] for _, b in tangents])
        else:
            self.intercept_ = 0.0
            self.user_intercept_ = np.zeros(len(users))
            self.intercept_tangent_ = np.zeros(2)
            self.user_intercept_tangent_ = np.zeros((2, len(users)))

    # ------------------------------------------------------ fitted state
    def _validate_query(self, X):
        check_is_fitted(self)
        check_unchanged(self)
        return validate_data(
            self, X, accept_sparse=("csr", "csc"), dtype=np.float64, reset=False
        )

    def _state(self):
        check_is_fitted(self)
        check_unchanged(self)
        return self.fitted_state_

    @property
    def dispersion_(self):
        return self._state().dispersion

    # -------------------------------------------------------- prediction
    def predict(self, X, groups=None):
        """Predict the mean for each row's user (the global model if unknown).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Query points.
        groups : array-like of shape (n_samples,), default=None
            The user of every row (``None``: the global model).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted mean.
        """
        state = self._state()
        return state.family.inverse_link(state.eta(state.rows(X, groups)))

    def score(self, X, y, groups=None, sample_weight=None):
        """:math:`R^2` of the predictions for each row's user.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test points.
        y : array-like of shape (n_samples,)
            Their targets.
        groups : array-like of shape (n_samples,), default=None
            The user of every row (``None``: the global model). With
            scikit-learn's metadata routing enabled, request it with
            ``set_score_request(groups=True)`` so that search tools pass it.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            :func:`~sklearn.metrics.r2_score` of ``predict(X, groups)``.
        """
        return r2_score(y, self.predict(X, groups=groups), sample_weight=sample_weight)

    def predict_tangent(self, X, groups=None):
        """``d mu / d s_k`` for each regularity parameter.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Query points.
        groups : array-like of shape (n_samples,), default=None
            The user of every row (``None``: the global model).

        Returns
        -------
        tangent : ndarray of shape (n_samples, 2)
            Columns: ``s_global = log(alpha_global)``, ``s_user =
            log(alpha_user)``.
        """
        state = self._state()
        eta, tangents = state.eta(state.rows(X, groups), with_tangent=True)
        return state.family.mean_derivative(eta)[:, None] * tangents

    def influence_score(self, X, y=None, groups=None, combine=None):
        """Influence of points on each part of the model complexity.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Points to score.
        y : array-like of shape (n_samples,), default=None
            Their labels, if known.
        groups : array-like of shape (n_samples,), default=None
            The user of every row.
        combine : {None, "sum"}, default=None
            ``None`` returns one column per regularity parameter: the
            influence on the global complexity :math:`\\tfrac{\\alpha_0}{2}
            \\|w_\\beta\\|^2` and on the users' complexity
            :math:`\\tfrac{\\alpha_1}{2}\\sum_u\\|\\delta_u\\|^2`. ``"sum"``
            returns the influence on the total complexity: the sum of the
            columns with ``y``, and without ``y`` the expected square of that
            sum, :math:`\\phi\\,\\mu'^2/V\\,(d\\eta/ds_0 + d\\eta/ds_1)^2` (not
            the sum of the squares).

        Returns
        -------
        scores : ndarray of shape (n_samples, 2) or (n_samples,)
            Signed influence with ``y``, expected squared influence without.
        """
        if combine not in (None, "sum"):
            raise ValueError(f"combine must be None or 'sum'; got {combine!r}.")
        state = self._state()
        rows = state.rows(X, groups)
        if y is not None:
            y = check_target(y)
            check_consistent_length(rows, y)
            state.family.check_y(y)
        return _influence(state, rows, y, combine)

    def grouped_state(self, regularity="total"):
        """The fitted model seen through one regularity tangent.

        What the query strategies use: rows carry their user's index, and
        the tangent is that of one regularity parameter or of their sum.

        Parameters
        ----------
        regularity : {"global", "user", "total"}, default="total"
            The tangent of ``alpha_global``, of ``alpha_user``, or of both
            together (the influence on the total complexity).

        Returns
        -------
        state : GroupedView
            With the interface of the fitted state of a
            :class:`~sktangent.TangentRegressor` that the batch strategies
            use, and ``rows(X, groups)`` for the design rows.
        """
        if regularity not in REGULARITY_WEIGHTS:
            raise ValueError(
                f"regularity must be one of {sorted(REGULARITY_WEIGHTS)}; got "
                f"{regularity!r}."
            )
        return GroupedView(self._state(), REGULARITY_WEIGHTS[regularity])
