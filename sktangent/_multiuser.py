"""Several regularity parameters: a hierarchical multi-user linear model.

Section 7 of the theory page (docs/theory.rst). User ``u`` predicts with
``eta = x~' (w + delta_u)``; the penalty is ``(alpha_global / 2)
|w_beta|^2 + (alpha_user / 2) sum_u |delta_u|^2`` (the global intercept
is free, the users' offsets are penalised). The Hessian is block-arrow,

    H = [[sum_u C_u + alpha_global P,  C_1, ...,  C_U],
         [C_u,                         C_u + alpha_user I (diagonal blocks)]]

with ``C_u = X~_u' D_u X~_u``. It is solved through the Schur complement of
the global block, ``S = alpha_global P + alpha_user sum_u C_u D_u^-1`` with
``D_u = C_u + alpha_user I``, never as a dense matrix: time and memory grow
linearly in the number of users.
"""

from numbers import Integral, Real

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from ._families import estimate_dispersion, get_family, has_positive_targets
from ._implicit import _factorise
from ._solvers import _damped_newton, _initial_intercept, _iteration_weights
from ._validation import (
    check_eta,
    check_finite_scores,
    check_power,
    check_target,
    check_unchanged,
    snapshot_params,
)


def check_groups(groups):
    """``groups`` as a 1-D array of sortable, finite user labels."""
    groups = np.asarray(groups) if not hasattr(groups, "shape") else groups
    if np.ndim(groups) == 2 and groups.shape[1] == 1:
        groups = np.asarray(groups)[:, 0]
    if np.ndim(groups) != 1:
        raise ValueError(
            "groups must be a 1-D array with the user of every row; got an "
            f"array of shape {np.shape(groups)}."
        )
    try:
        groups = check_array(groups, ensure_2d=False, dtype=None, input_name="groups")
    except ValueError as exc:
        raise ValueError(f"Invalid groups: {exc}") from exc
    if groups.dtype.kind == "O":
        kinds = {type(g).__name__ for g in groups}
        numeric = all(isinstance(g, (int, float, np.number)) for g in groups)
        if not numeric and not all(isinstance(g, str) for g in groups):
            raise ValueError(
                "groups must hold users of one kind (all strings or all "
                f"numbers), so that they can be sorted; got {sorted(kinds)}."
            )
        if numeric:
            groups = groups.astype(float)
    if groups.dtype.kind == "f" and not np.all(np.isfinite(groups)):
        raise ValueError("groups contains NaN or infinity; every row needs a user.")
    return groups


class BlockArrowHessian:
    """The multi-user Hessian, factorised block by block.

    Parameters
    ----------
    blocks : list of ndarray of shape (q, q)
        ``C_u = X~_u' D_u X~_u`` per user (``q = p + fit_intercept``).
    alpha_global, alpha_user : float
    fit_intercept : bool
    """

    def __init__(self, blocks, alpha_global, alpha_user, fit_intercept):
        self.blocks = blocks
        self.alpha_global = alpha_global
        self.alpha_user = alpha_user
        q = blocks[0].shape[0]
        self.P = np.eye(q)
        if fit_intercept:
            self.P[-1, -1] = 0.0
        self.user_factors = []
        S = alpha_global * self.P
        self.CD = []  # C_u D_u^-1
        for C in blocks:
            L = _factorise(C + alpha_user * np.eye(q), "user block C_u + alpha_user*I")
            self.user_factors.append(L)
            # C D^-1 = I - alpha_user D^-1, which keeps S symmetric and stable.
            CD = np.eye(q) - alpha_user * linalg.cho_solve((L, True), np.eye(q))
            self.CD.append(CD)
            S = S + alpha_user * CD
        S = 0.5 * (S + S.T)
        self.schur = _factorise(S, "Schur complement of the global block")

    def solve(self, g_global, g_users):
        """``H^-1 g`` for ``g = [g_global, g_1 ... g_U]`` (g_users: (U, q))."""
        rhs = g_global - sum(CD @ g for CD, g in zip(self.CD, g_users, strict=True))
        a = linalg.cho_solve((self.schur, True), rhs)
        b = np.array(
            [
                linalg.cho_solve((L, True), g - C @ a)
                for L, C, g in zip(self.user_factors, self.blocks, g_users, strict=True)
            ]
        )
        return a, b

    def dense(self):
        """The full matrix, for tests on small problems only."""
        U, q = len(self.blocks), self.blocks[0].shape[0]
        H = np.zeros(((U + 1) * q, (U + 1) * q))
        H[:q, :q] = sum(self.blocks) + self.alpha_global * self.P
        for u, C in enumerate(self.blocks):
            sl = slice((u + 1) * q, (u + 2) * q)
            H[:q, sl] = H[sl, :q] = C
            H[sl, sl] = C + self.alpha_user * np.eye(q)
        return H

    def trace_inverse_penalties(self):
        """``(tr(H^-1 P_global), tr(H^-1 P_user))`` from the block inverse."""
        S_inv = linalg.cho_solve((self.schur, True), np.eye(self.P.shape[0]))
        t_global = float(np.trace(self.P @ S_inv))
        t_user = 0.0
        for L, CD in zip(self.user_factors, self.CD, strict=True):
            D_inv = linalg.cho_solve((L, True), np.eye(self.P.shape[0]))
            # (H^-1)_uu = D^-1 + D^-1 C S^-1 C D^-1
            t_user += float(np.trace(D_inv) + np.sum((CD.T @ S_inv) * CD.T))
        return t_global, t_user


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
        "alpha_global": [Interval(Real, 0, None, closed="neither")],
        "alpha_user": [Interval(Real, 0, None, closed="neither")],
        "family": [StrOptions({"normal", "poisson", "gamma", "tweedie", "binomial"})],
        "power": [Interval(Real, None, None, closed="neither"), None],
        "dispersion": [StrOptions({"auto", "fixed", "pearson"})],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
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

    # ------------------------------------------------------------ helpers
    def _design(self, X):
        X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=float)
        if self.fit_intercept:
            X = np.column_stack([X, np.ones(X.shape[0])])
        return X

    def _check_groups(self, groups, n, fitting=False):
        if groups is None:
            # fit: one user for every row; afterwards: unknown users, i.e. the
            # global model (what scikit-learn's own tools see).
            if fitting:
                return np.zeros(n, dtype=int)
            return np.full(n, -1)
        groups = check_groups(groups)
        if groups.shape[0] != n:
            raise ValueError(
                f"groups has {groups.shape[0]} entries for {n} samples; give one "
                "user per row."
            )
        if fitting:
            return groups
        index = np.searchsorted(self.users_, groups)
        index = np.clip(index, 0, len(self.users_) - 1)
        known = self.users_[index] == groups
        # Unknown users predict with the global model; each gets its own
        # negative code, because two new users are independent a priori.
        codes = np.full(groups.shape[0], -1)
        codes[known] = index[known]
        if not np.all(known):
            _, new = np.unique(groups[~known], return_inverse=True)
            codes[~known] = -1 - new
        return codes

    def _split(self, theta, q):
        return theta[:q], theta[q:].reshape(-1, q)

    def _user_eta(self, Xt, codes, theta):
        q = Xt.shape[1]
        glob, users = self._split(theta, q)
        eta = Xt @ glob
        known = codes >= 0
        eta[known] += np.einsum("ij,ij->i", Xt[known], users[codes[known]])
        return eta

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
            Non-negative weights.

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
        groups = self._check_groups(groups, n, fitting=True)
        w = _check_sample_weight(sample_weight, X, dtype=np.float64)
        if np.any(w < 0):
            raise ValueError("sample_weight must be non-negative.")
        check_power(self.family, self.power)
        family = get_family(self.family, self.power)
        family.check_y(y)
        self.users_, codes = np.unique(groups, return_inverse=True)
        Xt = self._design(X)
        q, U = Xt.shape[1], len(self.users_)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(U + 1))
        rows = [order[bounds[u] : bounds[u + 1]] for u in range(U)]
        a0, a1 = float(self.alpha_global), float(self.alpha_user)
        P = np.eye(q)
        if self.fit_intercept:
            P[-1, -1] = 0.0

        def value_at(theta):
            glob, users = self._split(theta, q)
            eta = self._user_eta(Xt, codes, theta)
            return float(
                np.sum(w * family.loss(y, eta))
                + 0.5 * a0 * glob @ P @ glob
                + 0.5 * a1 * np.sum(users**2)
            )

        def gradient_parts(theta):
            glob, users = self._split(theta, q)
            r = w * family.gradient(y, self._user_eta(Xt, codes, theta))
            g_users = np.array([Xt[idx].T @ r[idx] for idx in rows]) + a1 * users
            g_glob = Xt.T @ r + a0 * P @ glob
            return g_glob, g_users

        def gradient_at(theta):
            g_glob, g_users = gradient_parts(theta)
            return np.concatenate([g_glob, g_users.ravel()])

        def hessian_at(theta):
            d, _ = _iteration_weights(family, y, w, self._user_eta(Xt, codes, theta))
            blocks = [Xt[idx].T @ (d[idx, None] * Xt[idx]) for idx in rows]
            return BlockArrowHessian(blocks, a0, a1, self.fit_intercept)

        def step_at(theta, grad):
            hess = hessian_at(theta)
            a, b = hess.solve(grad[:q], grad[q:].reshape(U, q))
            return -np.concatenate([a, b.ravel()])

        theta = np.zeros(q * (U + 1))
        if self.fit_intercept:
            theta[q - 1] = _initial_intercept(family, y, w, True)
        theta, n_iter = _damped_newton(
            theta,
            value_at,
            gradient_at,
            step_at,
            int(self.max_iter),
            float(self.tol),
            float(np.sum(w)),
        )
        eta = self._user_eta(Xt, codes, theta)
        d = w * family.hessian(y, eta)
        blocks = [Xt[idx].T @ (d[idx, None] * Xt[idx]) for idx in rows]
        hess = BlockArrowHessian(blocks, a0, a1, self.fit_intercept)
        glob, users = self._split(theta, q)
        rho = [
            (a0 * P @ glob, np.zeros_like(users)),
            (np.zeros_like(glob), a1 * users),
        ]
        tangents = [hess.solve(-rg, -ru) for rg, ru in rho]
        self._store(glob, users, tangents)
        self._theta = theta
        self._hessian = hess
        self._family = family
        self.n_iter_ = max(int(n_iter), 1)
        self._n_positive = int(np.sum(w > 0))
        self._pearson = family.pearson_statistic(y, eta, w)
        self._dispersion = None
        self._fitted_params = snapshot_params(self)
        return self

    def _store(self, glob, users, tangents):
        p = self.n_features_in_
        self.coef_, self.user_coef_ = glob[:p].copy(), users[:, :p].copy()
        self.intercept_ = float(glob[p]) if self.fit_intercept else 0.0
        self.user_intercept_ = (
            users[:, p].copy() if self.fit_intercept else np.zeros(len(users))
        )
        self.coef_tangent_ = np.array([a[:p] for a, _ in tangents])
        self.user_coef_tangent_ = np.array([b[:, :p] for _, b in tangents])
        if self.fit_intercept:
            self.intercept_tangent_ = np.array([a[p] for a, _ in tangents])
            self.user_intercept_tangent_ = np.array([b[:, p] for _, b in tangents])
        else:
            self.intercept_tangent_ = np.zeros(2)
            self.user_intercept_tangent_ = np.zeros((2, len(users)))
        self._tangent_thetas = [np.concatenate([a, b.ravel()]) for a, b in tangents]

    @property
    def dispersion_(self):
        check_is_fitted(self)
        check_unchanged(self)
        if self._dispersion is None:
            self._dispersion = estimate_dispersion(
                self._family,
                self._pearson,
                self._n_positive,
                self._effective_dof,
                self.dispersion,
            )
        return self._dispersion

    def _effective_dof(self):
        """``n_params - sum_k alpha_k tr(H^-1 P_k)``."""
        t_global, t_user = self._hessian.trace_inverse_penalties()
        return (
            self._theta.size - self.alpha_global * t_global - self.alpha_user * t_user
        )

    # -------------------------------------------------------- prediction
    def _prepare(self, X, groups):
        check_is_fitted(self)
        check_unchanged(self)
        X = validate_data(
            self, X, accept_sparse=("csr", "csc"), dtype=np.float64, reset=False
        )
        codes = self._check_groups(groups, X.shape[0])
        return self._design(X), codes

    def _etas(self, Xt, codes):
        """``eta`` and the two prediction tangents, shape (n,) and (n, 2)."""
        eta = self._user_eta(Xt, codes, self._theta)
        tangents = np.column_stack(
            [self._user_eta(Xt, codes, t) for t in self._tangent_thetas]
        )
        check_eta(self._family, eta, tangents)
        return eta, tangents

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
        Xt, codes = self._prepare(X, groups)
        eta = self._user_eta(Xt, codes, self._theta)
        check_eta(self._family, eta)
        return self._family.inverse_link(eta)

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
        Xt, codes = self._prepare(X, groups)
        eta, tangents = self._etas(Xt, codes)
        return self._family.mean_derivative(eta)[:, None] * tangents

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
        Xt, codes = self._prepare(X, groups)
        eta, tangents = self._etas(Xt, codes)
        if combine == "sum":
            tangents = tangents.sum(axis=1, keepdims=True)
        family = self._family
        with np.errstate(over="ignore", invalid="ignore"):
            if y is None:
                scores = (self.dispersion_ * family.score_variance(eta))[
                    :, None
                ] * tangents**2
            else:
                y = check_target(y)
                check_consistent_length(Xt, y)
                family.check_y(y)
                scores = family.gradient(y, eta)[:, None] * tangents
        check_finite_scores(scores)
        return scores[:, 0] if combine == "sum" else scores

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
        return GroupedView(
            family=self._family,
            dispersion=self.dispersion_,
            prepare=self._prepare,
            etas=self._etas,
            cross_scale=self._cross_variance_scale_rows,
            weights=REGULARITY_WEIGHTS[regularity],
        )

    # ------------------------------------------- covariance (for batches)
    def _cross_variance_scale_rows(self, Xa, ca, Xb, cb):
        """``S = d eta_a/d theta' H^-1 d eta_b/d theta`` for design rows.

        A user not seen in ``fit`` has a deviation still at its prior,
        ``N(0, I / alpha_user)`` in units of the dispersion, independent of
        everything else: two rows of the same new user add ``x_a' x_b /
        alpha_user``.
        """
        q, U = Xa.shape[1], len(self.users_)
        out = np.empty((Xa.shape[0], Xb.shape[0]))
        for j in range(Xb.shape[0]):
            g_users = np.zeros((U, q))
            if cb[j] >= 0:
                g_users[cb[j]] = Xb[j]
            a, b = self._hessian.solve(Xb[j], g_users)
            col = Xa @ a
            known = ca >= 0
            col[known] += np.einsum("ij,ij->i", Xa[known], b[ca[known]])
            if cb[j] < 0:
                same = ca == cb[j]
                col[same] += Xa[same] @ Xb[j] / self.alpha_user
            out[:, j] = col
        return out


REGULARITY_WEIGHTS = {"global": (1.0, 0.0), "user": (0.0, 1.0), "total": (1.0, 1.0)}


class GroupedView:
    """A fitted multi-user model seen through one tangent, for the strategies.

    The query strategies work on rows only; here each row carries its user's
    index in a last column, and the tangent is the one of the chosen
    regularity parameter ("global", "user") or of their sum ("total"), the
    latter scoring the influence on the total complexity.

    It has the interface of :class:`~sktangent._state.FittedState` that the
    batches use (``family``, ``dispersion``, ``factorisation``, ``kernel``,
    ``eta``, ``variance_scale``, ``cross_variance_scale``); its Hessian is
    block-arrow, not a Cholesky factor, so ``factorisation`` is None and the
    batches take their generic path. Built by
    :meth:`MultiUserTangentRegressor.grouped_state`.
    """

    factorisation = None  # S column by column, with block-arrow solves
    kernel = None

    def __init__(self, *, family, dispersion, prepare, etas, cross_scale, weights):
        self.family = family
        self.dispersion = dispersion
        self.weights = np.array(weights)
        self._prepare = prepare
        self._etas = etas
        self._cross_scale = cross_scale

    def rows(self, X, groups):
        """Validated design rows with the user index appended."""
        Xt, codes = self._prepare(X, groups)
        return np.column_stack([Xt, codes.astype(float)])

    @staticmethod
    def _split(X_aug):
        return X_aug[:, :-1], X_aug[:, -1].astype(int)

    def eta(self, X_aug, with_tangent=False):
        eta, tangents = self._etas(*self._split(X_aug))
        if with_tangent:
            return eta, tangents @ self.weights
        return eta

    def cross_variance_scale(self, Xa, Xb):
        return self._cross_scale(*self._split(Xa), *self._split(Xb))

    def variance_scale(self, X_aug):
        return np.array(
            [self.cross_variance_scale(r[None], r[None])[0, 0] for r in X_aug]
        )
