"""The Hessian at the optimum, behind fitting, the tangent and the influences.

Every Hessian declares one interface (:class:`Hessian`): ``solve``, the
tangent ``solve(-rho)``, ``whiten`` for rows of the model, ``S(x, x')`` from
whitened rows (``cross``, ``among``, ``diag``) and the effective degrees of
freedom. Three implementations (docs/theory.rst, section 2):

* :class:`PrimalHessian` -- ``H = X~' D X~ + alpha P`` for linear models with
  ``n >= p``. In the coordinates ``(beta, b + xbar' beta)``, with ``xbar`` the
  ``D``-weighted mean of the rows, ``H`` is block diagonal: the centred block
  ``A = Xc' D Xc + alpha I`` and the scalar ``sum(D)``. Only ``A`` is
  factorised.
* :class:`DualHessian` -- the bordered system
  ``[[sqrt(D) K sqrt(D) + alpha I, sqrt(d)], [sqrt(d)', 0]]`` of kernel models
  (and of linear models with ``p > n`` through the linear kernel). The border
  keeps ``sum(c) = 0``, which the unpenalised intercept requires.

* :class:`CGHessian` -- ``H`` of a linear model too large to factorise, used
  through the objective's Hessian-vector products and conjugate gradients.

The multi-user model's block-arrow Hessian (:mod:`sktangent._grouped`)
declares the same interface.

``D`` is ``w * l''`` at the optimum (the sample weights for the normal
family). All classes solve with ``H``, give the effective degrees of freedom
``trace(H^-1 X~' D X~)`` and the posterior covariance scale
``S(x, x') = x~' H^-1 x~'`` behind the predictive variance (docs/theory.rst, section 4).
"""

import numpy as np
import scipy.sparse as sp
from scipy import linalg
from scipy.linalg import lapack
from scipy.sparse.linalg import LinearOperator, cg
from sklearn.utils.extmath import safe_sparse_dot

from ._blas import blas_threads
from ._models import constant_columns


class IllConditionedError(ValueError):
    """The problem is singular, or too ill-conditioned, at this alpha.

    A ValueError whose message says to increase alpha; leave-one-out tuning
    treats an alpha that raises it as one without a finite error.
    """


def check_finite_fit(coef, tangent):
    """Refuse a fit whose coefficients or tangent overflowed."""
    for name, value in (("coefficients", coef), ("tangent", tangent)):
        if not np.all(np.isfinite(value)):
            raise IllConditionedError(
                f"The fit produced non-finite {name} (overflow for extreme "
                "linear predictors). Scale the features or increase alpha."
            )


# Below this reciprocal condition number a solve with H has lost all but a
# few digits; we refuse rather than return a tangent that is mostly noise.
RCOND_MIN = 1e-13


def factorise(A, what):
    """Cholesky factor (lower) of the symmetric matrix ``A``, in place.

    Raises a ValueError that says to increase alpha when ``A`` is singular or
    too ill-conditioned for the tangent to be meaningful.
    """
    if not np.all(np.isfinite(A)):
        raise ValueError(
            f"The {what} contains NaN or inf values; check the input data and "
            "the kernel parameters."
        )
    anorm = np.abs(A).sum(axis=0).max() if A.size else 0.0
    # A is symmetric, so its transpose is the same matrix in Fortran order,
    # which LAPACK factorises in place instead of copying.
    with blas_threads(A.shape[0]):
        L, info = lapack.dpotrf(A.T, lower=1, clean=1, overwrite_a=1)
    if info != 0:
        raise IllConditionedError(
            f"The {what} is not positive definite (Cholesky failed at pivot "
            f"{info}). The problem is singular at this alpha: increase alpha."
        )
    rcond, info = lapack.dpocon(L, anorm, uplo="L")
    if info != 0 or not rcond >= RCOND_MIN:
        raise IllConditionedError(
            f"The {what} is numerically singular (reciprocal condition number "
            f"{rcond:.1e} < {RCOND_MIN:.0e}); the fit and its tangent would be "
            "dominated by rounding errors. Increase alpha."
        )
    return L


def _inverse_trace(L):
    """``trace(A^-1)`` from the lower Cholesky factor ``L`` of ``A``."""
    Linv, info = lapack.dtrtri(L, lower=1)
    if info != 0:  # pragma: no cover - L has a positive diagonal
        raise IllConditionedError(
            "Could not invert the Cholesky factor; increase alpha."
        )
    return float(np.sum(Linv**2)), Linv


def _apply_solved(X, U, n_features, fit_intercept):
    """``x~' u`` for rows ``X`` and solved columns ``U`` (m_U, n_params)."""
    out = np.asarray(safe_sparse_dot(X, U[:, :n_features].T, dense_output=True))
    if fit_intercept:
        out = out + U[:, n_features]
    return out


class Hessian:
    r"""The interface every Hessian at the optimum declares.

    ``theta`` is laid out as the objective lays it out (the coefficients,
    then the intercept when one is fitted). *Rows* are what the model shape
    gives for query points (:meth:`~sktangent._models.LinearModel.rows`): the
    rows of ``X`` for a primal model, ``k(X, X_fit)`` for a dual one, which
    also gives the *prior* term ``k(x, x')`` of ``S`` (None for a primal
    model).

    Attributes
    ----------
    n_params : int
        Length of ``theta``.
    factorisation : {"primal", "dual"} or None
        The kind of Cholesky factor held; None for a Hessian used through
        solves only (conjugate gradients, the multi-user block-arrow one).
    constant : ndarray of bool or None
        The constant columns of a primal design, if the Hessian found them.

    Methods
    -------
    solve(g)
        ``H^-1 g``.
    tangent(rho)
        ``t = -H^-1 rho``, the regularity tangent.
    whiten(rows)
        A representation ``W`` of the rows from which ``S`` is a product.
    stack(parts)
        One ``W`` from the ``W`` of consecutive blocks of rows.
    cross(rows, W, prior)
        ``S`` between new rows and whitened ones, shape (m, n_W).
    among(W, a, b, prior)
        ``S`` between the whitened rows ``a`` and ``b`` (index arrays).
    diag(W, prior_diagonal)
        ``S(x, x)`` of whitened rows.
    variance_scale(rows, prior_diagonal), cross_variance_scale(rows_a, rows_b, prior)
        The same from rows.
    effective_dof()
        ``trace(H^-1 X~' D X~)``, for the dispersion.
    solved(rows), cross_solved(rows, U, prior)
        ``U = H^-1 x~_q`` for a few rows (the picks of a batch) and ``S``
        between any rows and those, without whitening the other rows:
        ``O(rows x width)`` per pick and no memory beyond the result.
    variance_scale_alpha_derivative(rows, prior_diagonal)
        ``alpha dS(x, x)/dalpha`` at fixed curvature (factorised Hessians
        only: the derivative of the leave-one-out error).

    A Hessian may also have ``features(W)`` (``S`` as a plain inner
    product, primal) and ``directions(W)`` (``H^-1 x~`` in ``theta``); the
    covariance scale asks for them only where they exist.
    """

    factorisation = None
    constant = None

    def variance_scale_alpha_derivative(self, rows, prior_diagonal=None):
        raise ValueError(
            "The derivative of S in alpha needs a factorised Hessian; fit with "
            "solver='newton-cholesky' (or 'auto' with fewer coefficients)."
        )

    def tangent(self, rho):
        """``t = d theta / ds = -H^-1 rho``."""
        return self.solve(-np.asarray(rho, dtype=float))

    def variance_scale(self, rows, prior_diagonal=None):
        """``S(x, x) = x~' H^-1 x~`` for every row."""
        return self.diag(self.whiten(rows), prior_diagonal)

    def cross_variance_scale(self, rows_a, rows_b, prior=None):
        """``S(x_a, x_b)`` for all pairs of rows, shape (n_a, n_b)."""
        return self.cross(rows_a, self.whiten(rows_b), prior)


class PrimalHessian(Hessian):
    """``H = X~' D X~ + alpha P`` of a linear model, factorised once.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    d : ndarray of shape (n_samples,)
        Curvature weights ``w * l''`` (the sample weights for the normal
        family).
    alpha : float
    fit_intercept : bool
    work : ndarray like X, optional
        Scratch space for the weighted rows, reused across Newton iterations.
    exact_centering : bool, default=True
        Centre the rows before forming the Gram matrix (robust to columns
        with large means) rather than subtracting ``sum(d) xbar xbar'``.
        With an intercept it also makes constant columns exactly inert, as
        in :class:`~sklearn.linear_model.Ridge`: their mean is their value,
        their centred column exactly zero (``constant`` marks them).
    constant : ndarray of bool, optional
        The constant columns, when the caller already knows them (the
        Newton iterations, which skip exact centring but would otherwise
        lose a constant column with a large value to cancellation).

    ``whiten`` gives the rows ``Z = L^-1 (x - xbar)``, so that
    ``S(x, x') = z . z' + 1/sum(d)``.
    """

    factorisation = "primal"

    def __init__(
        self,
        X,
        d,
        alpha,
        fit_intercept,
        work=None,
        exact_centering=True,
        constant=None,
    ):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.n_features = X.shape[1]
        self.n_params = self.n_features + bool(fit_intercept)
        self.d_sum = float(np.sum(d))
        if fit_intercept and not self.d_sum > 0:
            raise ValueError(
                "The total curvature sum(w * l'') is not positive, so the "
                "intercept is not identified at this solution. Check "
                "sample_weight, or fit without an intercept."
            )
        if fit_intercept:
            self.x_mean = np.asarray(safe_sparse_dot(X.T, d)).ravel() / self.d_sum
        else:
            self.x_mean = np.zeros(X.shape[1])
        A = self._gram(X, d, work, exact_centering)
        self.constant = np.zeros(X.shape[1], dtype=bool)
        if fit_intercept and (exact_centering or constant is not None):
            # A weighted mean of equal values need not round back to the
            # value; the centred column must be exactly 0 for the column to
            # be ignored (coefficient and tangent exactly 0). Only columns
            # whose centred sum of squares is rounding-small can be constant,
            # so only those are compared entry by entry.
            if constant is None:
                scale = np.sum(np.abs(d)) * (1e-6 * (np.abs(self.x_mean) + 1.0)) ** 2
                suspects = np.flatnonzero(np.abs(np.diag(A)) <= scale)
                constant = np.zeros(X.shape[1], dtype=bool)
                if suspects.size:
                    constant[suspects] = constant_columns(X[:, suspects])
            self.constant = constant
            if np.any(self.constant):
                first = X[:1].toarray() if hasattr(X, "toarray") else X[:1]
                self.x_mean[self.constant] = np.ravel(first)[self.constant]
        A[self.constant, :] = 0.0
        A[:, self.constant] = 0.0
        A.flat[:: self.n_features + 1] += alpha
        self.L = factorise(A, "penalised Hessian X'DX + alpha*I")
        self._Linv = None
        self._trace = None
        self.offset = 1.0 / self.d_sum if fit_intercept else 0.0

    @classmethod
    def from_gram(cls, A, x_mean, d_sum, alpha, fit_intercept, constant):
        """The Hessian from its centred block ``A = Xc' D Xc``, summed elsewhere.

        For rows that are never in memory at once (the chunks of a dask
        array): ``A``, the ``D``-weighted mean ``x_mean`` (a constant
        column's entry at its value) and ``sum(D)`` are reductions over the
        chunks. ``A`` is overwritten by the factor.
        """
        if fit_intercept and not float(d_sum) > 0:
            raise ValueError(
                "The total curvature sum(w * l'') is not positive, so the "
                "intercept is not identified at this solution. Check "
                "sample_weight, or fit without an intercept."
            )
        constant = np.asarray(constant, dtype=bool)
        A[constant, :] = 0.0
        A[:, constant] = 0.0
        A.flat[:: A.shape[0] + 1] += alpha
        L = factorise(A, "penalised Hessian X'DX + alpha*I")
        x_mean = np.asarray(x_mean, dtype=float)
        return cls.from_factor(L, alpha, fit_intercept, x_mean, d_sum, constant)

    @classmethod
    def from_factor(cls, L, alpha, fit_intercept, x_mean, d_sum, constant, trace=None):
        """The Hessian of an already factorised centred block ``A = L L'``.

        For the online updates (:mod:`sktangent._online`), which update ``L``
        by rank-k updates instead of forming ``X~' D X~`` again; ``trace``
        is ``trace(A^-1)`` when the update carried it.
        """
        self = cls.__new__(cls)
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.n_features = L.shape[0]
        self.n_params = self.n_features + bool(fit_intercept)
        self.d_sum = float(d_sum)
        self.x_mean = x_mean
        self.constant = constant
        self.L = L
        self._Linv = None
        self._trace = trace
        self.offset = 1.0 / self.d_sum if fit_intercept else 0.0
        return self

    def _gram(self, X, d, work, exact_centering):
        """``Xc' D Xc`` without densifying a sparse ``X``."""
        if hasattr(X, "toarray"):
            G = safe_sparse_dot(X.T, X.multiply(d[:, None]).tocsr(), dense_output=True)
            G = np.asarray(G)
            if self.fit_intercept:
                G -= self.d_sum * np.outer(self.x_mean, self.x_mean)
            return G
        if work is None:
            work = np.empty_like(X)
        center = self.fit_intercept and exact_centering
        if np.any(d < 0):
            # Observed curvature can be negative (Tweedie power > 2): no
            # square root, and no symmetric rank-k shortcut.
            Xs = np.subtract(X, self.x_mean, out=work) if center else X
            G = Xs.T @ (d[:, None] * Xs)
        else:
            # Centring a copy explicitly avoids the cancellation of
            # X'DX - sum(d) xbar xbar' when the columns have large means; the
            # Newton iterations of the GLMs, which only need a descent
            # direction, skip it for speed.
            if center:
                Xs = np.subtract(X, self.x_mean, out=work)
                if not np.all(d == 1.0):
                    np.multiply(Xs, np.sqrt(d)[:, None], out=Xs)
            elif not np.all(d == 1.0):
                Xs = np.multiply(X, np.sqrt(d)[:, None], out=work)
            else:
                Xs = X
            # numpy's product (its own BLAS, already warm from the data
            # passes) rather than scipy's syrk: switching BLAS libraries
            # mid-fit costs more than syrk's halved flops save.
            G = Xs.T @ Xs
        if self.fit_intercept and not center:
            G -= self.d_sum * np.outer(self.x_mean, self.x_mean)
        return G

    # -- solves -------------------------------------------------------------
    def solve_centred(self, rhs):
        """``A^-1 rhs`` for the centred block ``A = Xc' D Xc + alpha I``."""
        return linalg.cho_solve((self.L, True), rhs, check_finite=False)

    def solve(self, g):
        """``H^-1 g`` for ``g = [g_coef, g_intercept]``."""
        g = np.asarray(g, dtype=float)
        p = self.n_features
        g_b = g[p] if self.fit_intercept else 0.0
        if not self.fit_intercept:
            return self.solve_centred(g[:p])
        out = np.empty(self.n_params)
        out[:p] = z = self.solve_centred(g[:p] - self.x_mean * g_b)
        out[p] = g_b / self.d_sum - self.x_mean @ z
        return out

    # -- covariance -----------------------------------------------------------
    @property
    def Linv(self):
        if self._Linv is None:
            self._trace, self._Linv = _inverse_trace(self.L)
        return self._Linv

    def whiten(self, X):
        """Rows ``L^-1 (x - xbar)``, so that ``S(x, x') = z . z' + 1/sum(d)``."""
        Z = np.asarray(safe_sparse_dot(X, self.Linv.T, dense_output=True))
        if self.fit_intercept:
            Z = Z - self.Linv @ self.x_mean
        return Z

    @staticmethod
    def stack(parts):
        return np.vstack(parts)

    def cross(self, X, W, prior=None):
        return self.whiten(X) @ W.T + self.offset

    def among(self, W, a, b, prior=None):
        return W[a] @ W[b].T + self.offset

    def diag(self, W, prior_diagonal=None):
        return np.sum(W**2, axis=1) + self.offset

    def features(self, W):
        """``F`` with ``S(x_a, x_b) = F_a . F_b``: ``[z, sqrt(1/sum(d))]``."""
        W, constant = self.feature_parts(W)
        if not constant:
            return W
        return np.column_stack([W, np.full(W.shape[0], constant)])

    def feature_parts(self, W):
        """``(W, c)``: the features are ``W`` with a last column of ``c``
        (0: none), without the copy of ``W`` that joining them takes."""
        return W, float(np.sqrt(self.offset))

    def directions(self, W):
        """``H^-1 x~`` of whitened rows, in the coordinates of ``theta``."""
        coef = W @ self.Linv
        if not self.fit_intercept:
            return coef
        return np.column_stack([coef, self.offset - coef @ self.x_mean])

    def solved(self, X):
        return self.directions(self.whiten(X))

    def cross_solved(self, X, U, prior=None):
        return _apply_solved(X, U, self.n_features, self.fit_intercept)

    def variance_scale_alpha_derivative(self, X, prior_diagonal=None):
        """``alpha dS(x, x)/dalpha`` at fixed curvature.

        In the centred coordinates only ``A`` depends on alpha (``dA/dalpha =
        I``), so this is ``-alpha |A^-1 (x - xbar)|^2``.
        """
        Y = self.Linv.T @ self.whiten(X).T
        return -self.alpha * np.sum(Y**2, axis=0)

    def effective_dof(self):
        """``trace(H^-1 X~' D X~) = p - alpha trace(A^-1) (+ 1)``."""
        if self._trace is None:
            self._trace, self._Linv = _inverse_trace(self.L)
        return self.n_features - self.alpha * self._trace + self.fit_intercept


class DualHessian(Hessian):
    """The bordered kernel system ``[[sqrt(D) K sqrt(D) + alpha I, v], [v', 0]]``.

    ``v = sqrt(d)`` when an intercept is fitted; without one the border is
    dropped. ``K`` is overwritten when ``overwrite_K`` is true.

    In the coordinates of ``theta = [c, b]`` the Hessian of a kernel model
    is ``K~ M`` with ``K~ = diag(K, 1)`` and ``M = [[D K + alpha I, D 1],
    [1', 0]]`` on ``1' c = 0``. This class solves with ``M``: the kernel is
    factored out of the right-hand sides (``rho = alpha [c, 0]``) as it is
    out of the rows (``k(x, X_fit)``). ``whiten`` gives ``(Z, b)`` with
    ``S(x, x') = (k(x, x') - z.z' + b b' / s) / alpha``.
    """

    factorisation = "dual"

    def __init__(self, K, d, alpha, fit_intercept, overwrite_K=False):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.n = K.shape[0]
        self.n_params = self.n + bool(fit_intercept)
        self.sqrt_d = np.sqrt(d)
        A = K if overwrite_K else K.copy()
        if not np.all(d == 1.0):
            A *= self.sqrt_d[:, None]
            A *= self.sqrt_d[None, :]
        A.flat[:: self.n + 1] += alpha
        self.L = factorise(A, "kernel system sqrt(D) K sqrt(D) + alpha*I")
        self.s = 1.0
        if fit_intercept:
            self.u = self._solve_A(self.sqrt_d)
            self.s = float(self.sqrt_d @ self.u)
            if not self.s > 0:
                raise ValueError(
                    "All curvature weights are zero: the intercept is not "
                    "identified. Check sample_weight."
                )
        self._trace = None

    @classmethod
    def from_factor(cls, L, sqrt_d, alpha, fit_intercept, trace=None, u=None):
        """The bordered system of an already factorised ``A = L L'``.

        For the online updates (:mod:`sktangent._online`), which grow ``L`` by
        a block instead of factorising the kernel system again; ``trace`` is
        ``trace(A^-1)`` when the update carried it, ``u`` is ``A^-1
        sqrt(d)`` when the update solved for it with other right-hand sides.
        """
        self = cls.__new__(cls)
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.n = L.shape[0]
        self.n_params = self.n + bool(fit_intercept)
        self.sqrt_d = sqrt_d
        self.L = L
        self.s = 1.0
        if fit_intercept:
            self.u = self._solve_A(sqrt_d) if u is None else u
            self.s = float(sqrt_d @ self.u)
            if not self.s > 0:
                raise ValueError(
                    "All curvature weights are zero: the intercept is not "
                    "identified. Check sample_weight."
                )
        self._trace = trace
        return self

    def _solve_A(self, r):
        return linalg.cho_solve((self.L, True), r, check_finite=False)

    def bordered_solve(self, r, r_border=0.0):
        """Solve ``A z + v b = r, v' z = r_border``; returns ``(z, b)``."""
        z = self._solve_A(r)
        if not self.fit_intercept:
            return z, 0.0
        b = (self.sqrt_d @ z - r_border) / self.s
        return z - b * self.u, b

    def solve(self, g):
        """``M^-1 g``: ``(D K + alpha I) x + D 1 x_b = g_c``, ``1' x = g_b``.

        In the symmetric variables ``x = sqrt(D) z`` the first block is ``A z
        + sqrt(d) x_b = g_c / sqrt(d)``; ``g_c`` must vanish where ``d`` does
        (as ``rho`` does: ``c`` is zero there too).
        """
        g = np.asarray(g, dtype=float)
        g_c = g[: self.n]
        if np.any(g_c[self.sqrt_d == 0] != 0):
            raise ValueError(
                "DualHessian.solve needs a right-hand side that vanishes at "
                "the rows of zero curvature (as rho does)."
            )
        r = np.divide(g_c, self.sqrt_d, out=np.zeros_like(g_c), where=self.sqrt_d > 0)
        z, b = self.bordered_solve(r, g[self.n] if self.fit_intercept else 0.0)
        x = self.sqrt_d * z
        return np.append(x, b) if self.fit_intercept else x

    # -- covariance -----------------------------------------------------------
    def whiten(self, K_query):
        """``(Z, b)``: ``K_query`` is ``k(X_query, X_train)``, shape (m, n).

        ``Z`` has shape (n, m) (columns ``L^-1 sqrt(d) k_x``) and ``b`` holds
        the border terms ``v' A^-1 sqrt(d) k_x - 1`` (zero without an
        intercept).
        """
        Z = linalg.solve_triangular(
            self.L, (K_query * self.sqrt_d).T, lower=True, check_finite=False
        )
        if not self.fit_intercept:
            return Z, np.zeros(Z.shape[1])
        zv = linalg.solve_triangular(
            self.L, self.sqrt_d, lower=True, check_finite=False
        )
        return Z, zv @ Z - 1.0

    @staticmethod
    def stack(parts):
        return np.hstack([z for z, _ in parts]), np.concatenate([b for _, b in parts])

    def cross(self, K_query, W, prior):
        Zq, bq = self.whiten(K_query)
        Z, b = W
        quad = Zq.T @ Z
        if self.fit_intercept:
            quad -= np.outer(bq, b) / self.s
        return (prior - quad) / self.alpha

    def among(self, W, a, b, prior):
        Z, border = W
        # In place: the result is as large as a block of the pool x goal.
        out = np.array(prior, dtype=float)
        out -= Z[:, a].T @ Z[:, b]
        if self.fit_intercept:
            out += np.outer(border[a] / self.s, border[b])
        out /= self.alpha
        return out

    def diag(self, W, prior_diagonal):
        Z, b = W
        quad = np.sum(Z**2, axis=0) - b**2 / self.s
        return np.maximum(prior_diagonal - quad, 0.0) / self.alpha

    def training_values(self, W):
        """``sqrt(D) e`` with ``e = S(X_fit, x)``, shape (n, m).

        ``u = M^-1 grad eta(x)`` takes the values ``e`` at the training
        points: ``sqrt(D) e = L^-T z - b M^-1 sqrt(d) / s`` (one back
        substitution).
        """
        Z, b = W
        top = linalg.solve_triangular(
            self.L, Z, lower=True, trans="T", check_finite=False
        )
        if self.fit_intercept:
            top -= np.outer(self.u, b / self.s)
        return top

    def solved(self, K_query):
        """``(a, b)``: ``a = sqrt(d) A^-1 sqrt(d) k_q`` (n, m) and the border
        terms ``b`` of :meth:`whiten`, so that ``z_x . z_q = k_x' a``."""
        Z, b = self.whiten(K_query)
        a = linalg.solve_triangular(
            self.L, Z, lower=True, trans="T", check_finite=False
        )
        return self.sqrt_d[:, None] * a, b

    def cross_solved(self, K_query, solved, prior):
        """``S(x, x_q)`` from the kernel rows ``k(x, X_fit)`` and the prior
        ``k(x, x_q)``: ``(k(x, x_q) - k_x' a_q + b_x b_q / s) / alpha`` with
        ``b_x = k_x' sqrt(d) A^-1 sqrt(d) - 1``."""
        a, b = solved
        out = np.array(prior, dtype=float)
        out -= K_query @ a
        if self.fit_intercept:
            b_x = K_query @ (self.sqrt_d * self.u) - 1.0
            out += np.outer(b_x, b / self.s)
        out /= self.alpha
        return out

    def direction_intercepts(self, W):
        """The intercept of ``u = M^-1 grad eta(x)``: ``S`` against a point
        with a zero kernel row, ``-b / (s alpha)``."""
        _, b = W
        if not self.fit_intercept:
            return np.zeros(b.shape[0])
        return -b / (self.s * self.alpha)

    def variance_scale_alpha_derivative(self, K_query, prior_diagonal):
        """``alpha dS(x, x)/dalpha`` at fixed curvature.

        ``S = (k - q' M^-1 q) / alpha`` and ``dM/dalpha`` is the identity on
        the top-left block, so ``alpha dS/dalpha = -S + |(M^-1 q)_top|^2``.
        """
        W = self.whiten(K_query)
        top = self.training_values(W)
        return -self.diag(W, prior_diagonal) + np.sum(top**2, axis=0)

    def effective_dof(self):
        """``n - alpha trace(P)``, ``P`` the top-left block of the bordered inverse."""
        if self._trace is None:
            # O(n^3) like the factorisation, hence only when asked for.
            self._trace = _inverse_trace(self.L)[0]
        trace_P = self._trace
        if self.fit_intercept:
            trace_P -= float(self.u @ self.u) / self.s
        return self.n - self.alpha * trace_P


class CGHessian(Hessian):
    """``H`` of a linear model used only through Hessian-vector products.

    For models with too many coefficients to factorise ``H``: the products
    are the objective's (:meth:`~sktangent._objective.Objective.hessian_product`
    at the curvature ``d``), and every solve is a conjugate-gradient run to
    relative residual ``rtol`` (docs/theory.rst, section 8). The effective
    degrees of freedom are estimated by Hutchinson's trace estimator with
    ``n_probes`` Rademacher vectors. ``whiten`` gives ``(X, U)``, the rows
    and their solves ``U = (H^-1 x~)'``, so that ``S(x, x_j) = x~' u_j``.
    """

    def __init__(self, objective, d, rtol=1e-10, n_probes=30):
        self.objective = objective
        self.d = d
        self.alpha = objective.alpha
        self.fit_intercept = objective.fit_intercept
        self.n_features = objective.n_coef
        self.n_params = objective.n_params
        self.rtol = rtol
        self.n_probes = n_probes
        self._edf = None
        self.operator = LinearOperator(
            (self.n_params, self.n_params), matvec=self._matvec, dtype=float
        )

    def _matvec(self, v):
        return self.objective.hessian_product(self.d, v)

    def solve(self, g):
        rhs = np.asarray(g, dtype=float)
        if np.linalg.norm(rhs) == 0:
            return np.zeros_like(rhs)
        x, info = cg(
            self.operator, rhs, rtol=self.rtol, atol=0.0, maxiter=10 * rhs.size
        )
        if info != 0:
            raise IllConditionedError(
                "Conjugate gradients did not reach the requested accuracy "
                f"(rtol={self.rtol:g}) on the Hessian system; the problem is "
                "badly conditioned at this alpha: increase alpha."
            )
        return x

    def _design_rows(self, X):
        """Rows ``x~`` (with the intercept's 1) as a dense (m, n_params) array."""
        rows = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=float)
        if self.fit_intercept:
            rows = np.column_stack([rows, np.ones(rows.shape[0])])
        return rows

    def whiten(self, X):
        U = np.array([self.solve(row) for row in self._design_rows(X)])
        return X, U.reshape(X.shape[0], self.n_params)

    @staticmethod
    def stack(parts):
        Xs = [X for X, _ in parts]
        X = sp.vstack(Xs).tocsr() if hasattr(Xs[0], "toarray") else np.vstack(Xs)
        return X, np.vstack([U for _, U in parts])

    def _apply(self, X, U):
        """``x~' u`` for rows ``X`` and solved columns ``U``, shape (m, n_U)."""
        return _apply_solved(X, U, self.n_features, self.fit_intercept)

    def cross(self, X, W, prior=None):
        return self._apply(X, W[1])

    def solved(self, X):
        return self.whiten(X)[1]

    def cross_solved(self, X, U, prior=None):
        return self._apply(X, U)

    def among(self, W, a, b, prior=None):
        X, U = W
        return self._apply(X[a], U[b])

    def diag(self, W, prior_diagonal=None):
        X, U = W
        p = self.n_features
        prod = (
            X.multiply(U[:, :p]).sum(axis=1) if hasattr(X, "toarray") else X * U[:, :p]
        )
        out = np.asarray(prod).reshape(X.shape[0], -1).sum(axis=1)
        return out + U[:, p] if self.fit_intercept else out

    @staticmethod
    def directions(W):
        return W[1]

    def effective_dof(self):
        """``p (+1) - alpha tr(H^-1 P)``, the trace estimated by Hutchinson."""
        if self._edf is None:
            rng = np.random.RandomState(0)
            total = 0.0
            for _ in range(self.n_probes):
                z = rng.choice([-1.0, 1.0], size=self.n_params)
                if self.fit_intercept:
                    z[-1] = 0.0  # P has a zero for the intercept
                total += z @ self.solve(z)
            self._edf = self.n_params - self.alpha * total / self.n_probes
        return self._edf
