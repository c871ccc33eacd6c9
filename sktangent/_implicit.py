"""The one factorised Hessian behind fitting, the tangent and the influences.

Two shapes of the same object (docs/theory.rst, section 2):

* :class:`PrimalHessian` -- ``H = X~' D X~ + alpha P`` for linear models with
  ``n >= p``. In the coordinates ``(beta, b + xbar' beta)``, with ``xbar`` the
  ``D``-weighted mean of the rows, ``H`` is block diagonal: the centred block
  ``A = Xc' D Xc + alpha I`` and the scalar ``sum(D)``. Only ``A`` is
  factorised.
* :class:`DualHessian` -- the bordered system
  ``[[sqrt(D) K sqrt(D) + alpha I, sqrt(d)], [sqrt(d)', 0]]`` of kernel models
  (and of linear models with ``p > n`` through the linear kernel). The border
  keeps ``sum(c) = 0``, which the unpenalised intercept requires.

``D`` is ``w * l''`` at the optimum (the sample weights for the normal
family). Both classes solve with ``H``, give the effective degrees of freedom
``trace(H^-1 X~' D X~)`` and the posterior covariance scale
``S(x, x') = x~' H^-1 x~'`` behind the predictive variance (docs/theory.rst, section 4).
"""

import numpy as np
from scipy import linalg
from scipy.linalg import lapack
from scipy.sparse.linalg import LinearOperator, cg
from sklearn.utils.extmath import safe_sparse_dot

from ._models import constant_columns, row_blocks

# Below this reciprocal condition number a solve with H has lost all but a
# few digits; we refuse rather than return a tangent that is mostly noise.
RCOND_MIN = 1e-13


def _factorise(A, what):
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
    L, info = lapack.dpotrf(A.T, lower=1, clean=1, overwrite_a=1)
    if info != 0:
        raise ValueError(
            f"The {what} is not positive definite (Cholesky failed at pivot "
            f"{info}). The problem is singular at this alpha: increase alpha."
        )
    rcond, info = lapack.dpocon(L, anorm, uplo="L")
    if info != 0 or not rcond >= RCOND_MIN:
        raise ValueError(
            f"The {what} is numerically singular (reciprocal condition number "
            f"{rcond:.1e} < {RCOND_MIN:.0e}); the fit and its tangent would be "
            "dominated by rounding errors. Increase alpha."
        )
    return L


def _inverse_trace(L):
    """``trace(A^-1)`` from the lower Cholesky factor ``L`` of ``A``."""
    Linv, info = lapack.dtrtri(L, lower=1)
    if info != 0:  # pragma: no cover - L has a positive diagonal
        raise ValueError("Could not invert the Cholesky factor; increase alpha.")
    return float(np.sum(Linv**2)), Linv


class PrimalHessian:
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
    """

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
        self.L = _factorise(A, "penalised Hessian X'DX + alpha*I")
        self._Linv = None
        self._trace = None

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
    def solve(self, g_coef, g_intercept=0.0):
        """``H^-1 g`` for ``g = [g_coef, g_intercept]``; returns both parts."""
        rhs = g_coef - self.x_mean * g_intercept
        z = linalg.cho_solve((self.L, True), rhs, check_finite=False)
        if not self.fit_intercept:
            return z, 0.0
        z_b = g_intercept / self.d_sum
        return z, z_b - self.x_mean @ z

    def tangent(self, coef):
        """``t = -H^-1 rho`` with ``rho = alpha [coef, 0]``."""
        return self.solve(-self.alpha * coef, 0.0)

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

    def variance_scale(self, X):
        """``S(x, x) = x~' H^-1 x~`` for every row of ``X``."""
        out = np.empty(X.shape[0])
        for rows in row_blocks(X.shape[0], self.n_features):
            out[rows] = np.sum(self.whiten(X[rows]) ** 2, axis=1)
        if self.fit_intercept:
            out += 1.0 / self.d_sum
        return out

    def variance_scale_alpha_derivative(self, X):
        """``alpha dS(x, x)/dalpha`` at fixed curvature.

        In the centred coordinates only ``A`` depends on alpha (``dA/dalpha =
        I``), so this is ``-alpha |A^-1 (x - xbar)|^2``.
        """
        out = np.empty(X.shape[0])
        for rows in row_blocks(X.shape[0], self.n_features):
            Y = self.Linv.T @ self.whiten(X[rows]).T
            out[rows] = -self.alpha * np.sum(Y**2, axis=0)
        return out

    def cross_variance_scale(self, Xa, Xb):
        """``S(x_a, x_b)`` for all pairs of rows, shape (n_a, n_b)."""
        S = self.whiten(Xa) @ self.whiten(Xb).T
        if self.fit_intercept:
            S += 1.0 / self.d_sum
        return S

    def effective_dof(self):
        """``trace(H^-1 X~' D X~) = p - alpha trace(A^-1) (+ 1)``."""
        if self._trace is None:
            self._trace, self._Linv = _inverse_trace(self.L)
        return self.n_features - self.alpha * self._trace + self.fit_intercept


class DualHessian:
    """The bordered kernel system ``[[sqrt(D) K sqrt(D) + alpha I, v], [v', 0]]``.

    ``v = sqrt(d)`` when an intercept is fitted; without one the border is
    dropped. ``K`` is overwritten when ``overwrite_K`` is true.
    """

    def __init__(self, K, d, alpha, fit_intercept, overwrite_K=False):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.n = K.shape[0]
        self.sqrt_d = np.sqrt(d)
        A = K if overwrite_K else K.copy()
        if not np.all(d == 1.0):
            A *= self.sqrt_d[:, None]
            A *= self.sqrt_d[None, :]
        A.flat[:: self.n + 1] += alpha
        self.L = _factorise(A, "kernel system sqrt(D) K sqrt(D) + alpha*I")
        if fit_intercept:
            self.u = self._solve_A(self.sqrt_d)
            self.s = float(self.sqrt_d @ self.u)
            if not self.s > 0:
                raise ValueError(
                    "All curvature weights are zero: the intercept is not "
                    "identified. Check sample_weight."
                )
        self._trace = None

    def _solve_A(self, r):
        return linalg.cho_solve((self.L, True), r, check_finite=False)

    def bordered_solve(self, r):
        """Solve ``A z + v b = r, v' z = 0``; returns ``(z, b)``."""
        z = self._solve_A(r)
        if not self.fit_intercept:
            return z, 0.0
        b = (self.sqrt_d @ z) / self.s
        return z - b * self.u, b

    def tangent(self, dual_coef):
        """``(dc/ds, db/ds)`` from the bordered system (docs/theory.rst, section 2).

        ``(D K + alpha I) dc/dalpha + D 1 db/dalpha = -c`` with ``1' dc = 0``;
        in the symmetric variables ``c = sqrt(D) z`` the right-hand side is
        ``-c / sqrt(d)`` (zero where ``d`` is, since ``c`` is zero there too).
        """
        c_scaled = np.divide(
            dual_coef,
            self.sqrt_d,
            out=np.zeros_like(dual_coef),
            where=self.sqrt_d > 0,
        )
        z, b = self.bordered_solve(-c_scaled)
        return self.alpha * self.sqrt_d * z, self.alpha * b

    # -- covariance -----------------------------------------------------------
    def whiten(self, K_query):
        """``(Z, b)`` with ``S(x, x') = (k(x, x') - z.z' + b b' / s) / alpha``.

        ``K_query`` is ``k(X_query, X_train)``, shape (m, n); ``Z`` has shape
        (n, m) (columns ``L^-1 sqrt(d) k_x``) and ``b`` the border terms
        ``v' A^-1 sqrt(d) k_x - 1`` (zero without an intercept).
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

    def variance_scale(self, K_query, k_diag):
        """``S(x, x) = (k(x, x) - q' M^-1 q) / alpha`` with ``q = [sqrt(d) k_x, 1]``."""
        Z, b = self.whiten(K_query)
        quad = np.sum(Z**2, axis=0) - b**2 / (self.s if self.fit_intercept else 1.0)
        return np.maximum(k_diag - quad, 0.0) / self.alpha

    def variance_scale_alpha_derivative(self, K_query, k_diag):
        """``alpha dS(x, x)/dalpha`` at fixed curvature.

        ``S = (k - q' M^-1 q) / alpha`` and ``dM/dalpha`` is the identity on
        the top-left block, so ``alpha dS/dalpha = -S + |(M^-1 q)_top|^2``.
        """
        Z, b = self.whiten(K_query)
        top = linalg.solve_triangular(
            self.L, Z, lower=True, trans="T", check_finite=False
        )
        if self.fit_intercept:
            top -= np.outer(self.u, b / self.s)
        return -self.variance_scale(K_query, k_diag) + np.sum(top**2, axis=0)

    def cross_variance_scale(self, Ka, Kb, K_ab):
        """``S(x_a, x_b)`` for all pairs, from the kernel blocks.

        ``Ka = k(X_a, X_train)``, ``Kb = k(X_b, X_train)``, ``K_ab = k(X_a, X_b)``.
        """
        Za, ba = self.whiten(Ka)
        Zb, bb = self.whiten(Kb)
        quad = Za.T @ Zb
        if self.fit_intercept:
            quad -= np.outer(ba, bb) / self.s
        return (K_ab - quad) / self.alpha

    def effective_dof(self):
        """``n - alpha trace(P)``, ``P`` the top-left block of the bordered inverse."""
        if self._trace is None:
            # O(n^3) like the factorisation, hence only when asked for.
            self._trace = _inverse_trace(self.L)[0]
        trace_P = self._trace
        if self.fit_intercept:
            trace_P -= float(self.u @ self.u) / self.s
        return self.n - self.alpha * trace_P


class CGHessian:
    """``H`` of a linear model used only through Hessian-vector products.

    For models with too many coefficients to factorise ``H``: every solve is
    a conjugate-gradient run to relative residual ``rtol`` (docs/theory.rst, section 8).
    The effective degrees of freedom are estimated by Hutchinson's trace
    estimator with ``n_probes`` Rademacher vectors.
    """

    def __init__(self, X, d, alpha, fit_intercept, rtol=1e-10, n_probes=30):
        self.X = X
        self.d = d
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.n_features = X.shape[1]
        self.rtol = rtol
        self.n_probes = n_probes
        self.n_params = self.n_features + fit_intercept
        self._edf = None
        self.operator = LinearOperator(
            (self.n_params, self.n_params), matvec=self._matvec, dtype=float
        )

    def _split(self, v):
        if self.fit_intercept:
            return v[:-1], v[-1]
        return v, 0.0

    def _matvec(self, v):
        v = np.ravel(v)
        coef, b = self._split(v)
        u = self.d * (np.asarray(safe_sparse_dot(self.X, coef)).ravel() + b)
        out = np.asarray(safe_sparse_dot(self.X.T, u)).ravel() + self.alpha * coef
        if self.fit_intercept:
            out = np.append(out, np.sum(u))
        return out

    def _cg(self, rhs):
        rhs_norm = np.linalg.norm(rhs)
        if rhs_norm == 0:
            return np.zeros_like(rhs)
        x, info = cg(
            self.operator, rhs, rtol=self.rtol, atol=0.0, maxiter=10 * rhs.size
        )
        if info != 0:
            raise ValueError(
                "Conjugate gradients did not reach the requested accuracy "
                f"(rtol={self.rtol:g}) on the Hessian system; the problem is "
                "badly conditioned at this alpha: increase alpha."
            )
        return x

    def solve(self, g_coef, g_intercept=0.0):
        rhs = np.append(g_coef, g_intercept) if self.fit_intercept else g_coef
        return self._split(self._cg(np.asarray(rhs, dtype=float)))

    def tangent(self, coef):
        return self.solve(-self.alpha * coef, 0.0)

    def variance_scale(self, X):
        return np.array([q @ self._cg(q) for q in self._design_rows(X)])

    def _design_rows(self, X):
        """Rows ``x~`` (with the intercept's 1) as a dense (m, n_params) array."""
        rows = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=float)
        if self.fit_intercept:
            rows = np.column_stack([rows, np.ones(rows.shape[0])])
        return rows

    def cross_variance_scale(self, Xa, Xb):
        """``S(x_a, x_b)``: one conjugate-gradient solve per row of ``Xb``."""
        B = self._design_rows(Xb)
        solved = np.column_stack([self._cg(b) for b in B]) if len(B) else B.T
        return self._design_rows(Xa) @ solved

    def effective_dof(self):
        """``p (+1) - alpha tr(H^-1 P)``, the trace estimated by Hutchinson."""
        if self._edf is None:
            rng = np.random.RandomState(0)
            total = 0.0
            for _ in range(self.n_probes):
                z = rng.choice([-1.0, 1.0], size=self.n_params)
                if self.fit_intercept:
                    z[-1] = 0.0  # P has a zero for the intercept
                total += z @ self._cg(z)
            self._edf = self.n_params - self.alpha * total / self.n_probes
        return self._edf
