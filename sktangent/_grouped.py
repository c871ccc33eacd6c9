"""The multi-user model's building blocks: objective, Hessian, fitted state.

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

One layout of the parameters serves the objective, the Hessian and the
fitted state: ``theta = [w, delta_1, ..., delta_U]``, each block of length
``q = n_features + fit_intercept`` with the intercept last. Query rows are
the design rows ``x~`` with the user's index appended as a last column
(negative for a user not seen in ``fit``); they stay sparse when ``X`` is.
The estimator is :class:`~sktangent.MultiUserTangentRegressor`
(:mod:`sktangent._multiuser`).
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import linalg, sparse
from sklearn.utils.validation import check_array

from ._implicit import factorise
from ._objective import iteration_weights
from ._solvers import initial_intercept
from ._state import Dispersion, frozen
from ._validation import check_eta


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


def check_length(groups, n):
    if groups.shape[0] != n:
        raise ValueError(
            f"groups has {groups.shape[0]} entries for {n} samples; give one "
            "user per row."
        )


def user_codes(users, groups, n):
    """The index in ``users`` of each row's user; negative for unknown users.

    ``groups=None`` makes every row an unknown user (the global model).
    Each unknown user gets its own negative code, because two new users are
    independent a priori.
    """
    if groups is None:
        return np.full(n, -1)
    groups = check_groups(groups)
    check_length(groups, n)
    index = np.clip(np.searchsorted(users, groups), 0, len(users) - 1)
    known = users[index] == groups
    codes = np.full(groups.shape[0], -1)
    codes[known] = index[known]
    if not np.all(known):
        _, new = np.unique(groups[~known], return_inverse=True)
        codes[~known] = -1 - new
    return codes


# ------------------------------------------------------------- rows and eta
def design(X, fit_intercept):
    """``X~ = [X, 1]``: a sparse ``X`` stays sparse (CSR), a dense one dense."""
    if sparse.issparse(X):
        if fit_intercept:
            ones = sparse.csr_matrix(np.ones((X.shape[0], 1)))
            return sparse.hstack([X, ones], format="csr")
        return X.tocsr()
    X = np.asarray(X, dtype=float)
    if fit_intercept:
        X = np.column_stack([X, np.ones(X.shape[0])])
    return X


def join_rows(Xt, codes):
    """Design rows with the user codes appended as a last column."""
    if sparse.issparse(Xt):
        column = sparse.csr_matrix(codes.astype(float)[:, None])
        return sparse.hstack([Xt, column], format="csr")
    return np.column_stack([Xt, codes.astype(float)])


def split_rows(rows):
    """``(design rows, user codes)`` from rows built by :func:`join_rows`."""
    codes = rows[:, -1]
    if sparse.issparse(rows):
        codes = codes.toarray().ravel()
    return rows[:, :-1], np.asarray(codes).astype(int)


def linear_predictor(Xt, codes, glob, users):
    """``x~_i' (glob + users[codes_i])``; rows of unknown users get ``glob``.

    Sparse rows are read entry by entry (``O(nnz)``), never densified.
    """
    eta = np.asarray(Xt @ glob, dtype=float).ravel()
    known = codes >= 0
    if sparse.issparse(Xt):
        Xt = Xt.tocsr()
        row = np.repeat(np.arange(Xt.shape[0]), np.diff(Xt.indptr))
        keep = known[row]
        row, col, data = row[keep], Xt.indices[keep], Xt.data[keep]
        eta += np.bincount(
            row, weights=data * users[codes[row], col], minlength=Xt.shape[0]
        )
    else:
        eta[known] += np.einsum("ij,ij->i", Xt[known], users[codes[known]])
    return eta


def weighted_gram(Xt, d):
    """``X~' diag(d) X~`` as a dense ``q x q`` array (sparse products if sparse)."""
    if sparse.issparse(Xt):
        return np.asarray((Xt.T @ (sparse.diags(d) @ Xt)).toarray())
    return Xt.T @ (d[:, None] * Xt)


def penalty_mask(q, fit_intercept):
    """``P``: the identity without the (free) global intercept."""
    P = np.eye(q)
    if fit_intercept:
        P[-1, -1] = 0.0
    return P


# ---------------------------------------------------------------- objective
class GroupedObjective:
    """``J(theta; alpha_global, alpha_user)`` of the multi-user model.

    The methods of :class:`~sktangent._objective.Objective`: ``eta``,
    ``value``, ``gradient``, ``curvature_weights``, ``hessian`` (a
    :class:`BlockArrowHessian`) and ``rho``, here one row per regularity
    parameter.

    Parameters
    ----------
    family : Family
    design : ndarray or sparse matrix of shape (n, q)
        ``X~``, from :func:`design`.
    codes : ndarray of int of shape (n,)
        Every row's user, ``0 .. n_users - 1``.
    n_users : int
    y, sample_weight : ndarray of shape (n,)
    alpha_global, alpha_user : float
    fit_intercept : bool
    """

    def __init__(
        self,
        family,
        design,
        codes,
        n_users,
        y,
        sample_weight,
        alpha_global,
        alpha_user,
        fit_intercept,
    ):
        self.family = family
        self.design = design
        self.codes = codes
        self.y = y
        self.w = sample_weight
        self.alpha_global = float(alpha_global)
        self.alpha_user = float(alpha_user)
        self.fit_intercept = fit_intercept
        self.q = design.shape[1]
        self.n_params = self.q * (n_users + 1)
        self.P = penalty_mask(self.q, fit_intercept)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(n_users + 1))
        self.user_rows = [order[bounds[u] : bounds[u + 1]] for u in range(n_users)]
        self._last = (None, None)

    def split(self, theta):
        """``(w, delta)`` with ``delta`` of shape (n_users, q)."""
        return theta[: self.q], theta[self.q :].reshape(-1, self.q)

    def start(self):
        """Zero deviations, and the intercept of the intercept-only model."""
        theta = np.zeros(self.n_params)
        if self.fit_intercept:
            theta[self.q - 1] = initial_intercept(self.family, self.y, self.w, True)
        return theta

    def eta(self, theta):
        # value, gradient and curvature are asked for at the same point.
        last_theta, last_eta = self._last
        if last_theta is not None and np.array_equal(theta, last_theta):
            return last_eta
        eta = linear_predictor(self.design, self.codes, *self.split(theta))
        self._last = (np.array(theta, copy=True), eta)
        return eta

    def value(self, theta):
        glob, users = self.split(theta)
        eta = self.eta(theta)
        return float(
            np.sum(self.w * self.family.loss(self.y, eta))
            + 0.5 * self.alpha_global * glob @ self.P @ glob
            + 0.5 * self.alpha_user * np.sum(users**2)
        )

    def gradient(self, theta):
        glob, users = self.split(theta)
        r = self.w * self.family.gradient(self.y, self.eta(theta))
        Xt = self.design
        g_users = np.array([Xt[idx].T @ r[idx] for idx in self.user_rows])
        g_users = g_users + self.alpha_user * users
        g_glob = np.asarray(Xt.T @ r).ravel() + self.alpha_global * self.P @ glob
        return np.concatenate([g_glob, g_users.ravel()])

    def curvature_weights(self, theta):
        """``d_i = w_i l''(y_i, eta_i)`` at ``theta``."""
        return self.w * self.family.hessian(self.y, self.eta(theta))

    def newton_weights(self, theta):
        """The curvature of a Newton step (Fisher's where ``l''`` is negative)."""
        d, _ = iteration_weights(self.family, self.y, self.w, self.eta(theta))
        return d

    def hessian(self, theta, weights=None):
        """The block-arrow Hessian with curvature ``weights`` (default: ``l''``)."""
        d = self.curvature_weights(theta) if weights is None else weights
        blocks = [weighted_gram(self.design[idx], d[idx]) for idx in self.user_rows]
        return BlockArrowHessian(
            blocks, self.alpha_global, self.alpha_user, self.fit_intercept
        )

    def rho(self, theta):
        """``rho_k = d/ds_k grad J``, shape (2, n_params): global, then user."""
        glob, users = self.split(theta)
        rho = np.zeros((2, theta.size))
        rho[0, : self.q] = self.alpha_global * self.P @ glob
        rho[1, self.q :] = self.alpha_user * users.ravel()
        return rho


# ------------------------------------------------------------------ Hessian
class BlockArrowHessian:
    """The multi-user Hessian, factorised block by block.

    Vectors are flat in the objective's layout ``[w, delta_1, ...,
    delta_U]``; query rows are those of :func:`join_rows`.

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
        self.q = q
        self.n_params = q * (len(blocks) + 1)
        self.P = penalty_mask(q, fit_intercept)
        self.user_factors = []
        S = alpha_global * self.P
        self.CD = []  # C_u D_u^-1
        for C in blocks:
            L = factorise(C + alpha_user * np.eye(q), "user block C_u + alpha_user*I")
            self.user_factors.append(L)
            # C D^-1 = I - alpha_user D^-1, which keeps S symmetric and stable.
            CD = np.eye(q) - alpha_user * linalg.cho_solve((L, True), np.eye(q))
            self.CD.append(CD)
            S = S + alpha_user * CD
        S = 0.5 * (S + S.T)
        self.schur = factorise(S, "Schur complement of the global block")

    def solve(self, g):
        """``H^-1 g`` for ``g`` of shape (n_params,) or (n_params, k)."""
        g = np.asarray(g, dtype=float)
        q = self.q
        g_global = g[:q]
        g_users = g[q:].reshape(len(self.blocks), q, *g.shape[1:])
        rhs = g_global - sum(CD @ gu for CD, gu in zip(self.CD, g_users, strict=True))
        a = linalg.cho_solve((self.schur, True), rhs)
        b = [
            linalg.cho_solve((L, True), gu - C @ a)
            for L, C, gu in zip(self.user_factors, self.blocks, g_users, strict=True)
        ]
        return np.concatenate([a, np.reshape(b, (-1, *g.shape[1:]))])

    def tangent(self, rho):
        """``-H^-1 rho``, row by row when ``rho`` is (k, n_params)."""
        rho = np.asarray(rho, dtype=float)
        if rho.ndim == 2:
            return np.array([self.solve(-r) for r in rho])
        return self.solve(-rho)

    def dense(self):
        """The full matrix, for tests on small problems only."""
        U, q = len(self.blocks), self.q
        H = np.zeros(((U + 1) * q, (U + 1) * q))
        H[:q, :q] = sum(self.blocks) + self.alpha_global * self.P
        for u, C in enumerate(self.blocks):
            sl = slice((u + 1) * q, (u + 2) * q)
            H[:q, sl] = H[sl, :q] = C
            H[sl, sl] = C + self.alpha_user * np.eye(q)
        return H

    def trace_inverse_penalties(self):
        """``(tr(H^-1 P_global), tr(H^-1 P_user))`` from the block inverse."""
        S_inv = linalg.cho_solve((self.schur, True), np.eye(self.q))
        t_global = float(np.trace(self.P @ S_inv))
        t_user = 0.0
        for L, CD in zip(self.user_factors, self.CD, strict=True):
            D_inv = linalg.cho_solve((L, True), np.eye(self.q))
            # (H^-1)_uu = D^-1 + D^-1 C S^-1 C D^-1
            t_user += float(np.trace(D_inv) + np.sum((CD.T @ S_inv) * CD.T))
        return t_global, t_user

    def effective_dof(self):
        """``trace(hat matrix) = n_params - sum_k alpha_k tr(H^-1 P_k)``."""
        t_global, t_user = self.trace_inverse_penalties()
        return self.n_params - self.alpha_global * t_global - self.alpha_user * t_user

    def cross_variance_scale(self, rows_a, rows_b):
        """``S = d eta_a/d theta' H^-1 d eta_b/d theta``, shape (n_a, n_b).

        A user not seen in ``fit`` has a deviation still at its prior,
        ``N(0, I / alpha_user)`` in units of the dispersion, independent of
        everything else: two rows of the same new user add ``x_a' x_b /
        alpha_user``.
        """
        Xa, ca = split_rows(rows_a)
        Xb, cb = split_rows(rows_b)
        q = self.q
        out = np.empty((Xa.shape[0], Xb.shape[0]))
        for j in range(Xb.shape[0]):
            xb = Xb[j].toarray().ravel() if sparse.issparse(Xb) else Xb[j]
            g = np.zeros(self.n_params)
            g[:q] = xb
            if cb[j] >= 0:
                g[q * (cb[j] + 1) : q * (cb[j] + 2)] = xb
            solved = self.solve(g)
            col = linear_predictor(Xa, ca, solved[:q], solved[q:].reshape(-1, q))
            if cb[j] < 0:
                same = ca == cb[j]
                col[same] += Xa[same] @ xb / self.alpha_user
            out[:, j] = col
        return out

    def variance_scale(self, rows):
        """``S(x, x)`` at each row."""
        return np.array(
            [
                self.cross_variance_scale(rows[i : i + 1], rows[i : i + 1])[0, 0]
                for i in range(rows.shape[0])
            ]
        )


# ------------------------------------------------------------- fitted state
@dataclass(frozen=True, eq=False)
class MultiUserState(Dispersion):
    r"""The fitted model of a :class:`MultiUserTangentRegressor`.

    Built once by ``fit`` and kept as ``fitted_state_``; never changed
    afterwards (a refit builds a new one). Its verbs other than ``rows``
    take query rows from ``rows`` (design rows with the user's index).

    Attributes
    ----------
    family : Family
    hessian : BlockArrowHessian
        The Hessian at the optimum, factorised block by block.
    theta : ndarray of shape (n_params,)
        ``[w, delta_1, ..., delta_U]``; read-only.
    tangents : ndarray of shape (2, n_params)
        :math:`d\theta/ds_k` for ``k`` = global, user; read-only.
    alpha_global, alpha_user : float
        The penalties that were fitted.
    fit_intercept : bool
    users : ndarray
        The distinct users seen in ``fit``; read-only.
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
    hessian: BlockArrowHessian
    theta: np.ndarray
    tangents: np.ndarray
    alpha_global: float
    alpha_user: float
    fit_intercept: bool
    users: np.ndarray
    dispersion_rule: str
    pearson: Any
    n_positive: int
    check_query: Any = field(repr=False)

    def __post_init__(self):
        for name in ("theta", "tangents", "users"):
            object.__setattr__(self, name, frozen(getattr(self, name)))

    def split(self, theta):
        """``(w, delta)`` of a vector in the parameter layout."""
        q = self.hessian.q
        return theta[:q], theta[q:].reshape(-1, q)

    def rows(self, X, groups):
        """Validated query rows: ``[x~, user index]`` (sparse if ``X`` is)."""
        X = self.check_query(X)
        codes = user_codes(self.users, groups, X.shape[0])
        return join_rows(design(X, self.fit_intercept), codes)

    def eta(self, rows, with_tangent=False):
        """``eta``, and with ``with_tangent`` its two tangents, shape (n, 2)."""
        Xt, codes = split_rows(rows)
        eta = linear_predictor(Xt, codes, *self.split(self.theta))
        if not with_tangent:
            check_eta(self.family, eta)
            return eta
        tangents = np.column_stack(
            [linear_predictor(Xt, codes, *self.split(t)) for t in self.tangents]
        )
        check_eta(self.family, eta, tangents)
        return eta, tangents

    def variance_scale(self, rows):
        """``S(x, x)``, so that ``Var(eta(x)) = dispersion * S``."""
        return self.hessian.variance_scale(rows)

    def cross_variance_scale(self, rows_a, rows_b):
        """``S(x_a, x_b) = Cov(eta(x_a), eta(x_b)) / dispersion``."""
        return self.hessian.cross_variance_scale(rows_a, rows_b)


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
    :meth:`MultiUserTangentRegressor.grouped_state` from a
    :class:`MultiUserState`.
    """

    factorisation = None  # S column by column, with block-arrow solves
    kernel = None

    def __init__(self, state, weights):
        self.state = state
        self.weights = np.array(weights)

    @property
    def family(self):
        return self.state.family

    @property
    def dispersion(self):
        return self.state.dispersion

    def rows(self, X, groups):
        """Validated design rows with the user index appended."""
        return self.state.rows(X, groups)

    def eta(self, X_aug, with_tangent=False):
        if not with_tangent:
            return self.state.eta(X_aug)
        eta, tangents = self.state.eta(X_aug, with_tangent=True)
        return eta, tangents @ self.weights

    def cross_variance_scale(self, Xa, Xb):
        return self.state.cross_variance_scale(Xa, Xb)

    def variance_scale(self, X_aug):
        return self.state.variance_scale(X_aug)
