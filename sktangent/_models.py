"""Parametrisations of the linear predictor.

* linear: ``eta = X beta + b``, penalty ``||beta||^2``;
* kernel: ``eta(x) = sum_j c_j k(x, x_j) + b``, penalty ``c' K c``.

This module evaluates kernels and applies fitted coefficients to new rows in
chunks, so that no ``n_query x n_train`` kernel block larger than a few tens
of megabytes is ever held in memory.
"""

import copy
import warnings

import numpy as np
from scipy import linalg
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.utils import check_random_state
from sklearn.utils.extmath import safe_sparse_dot

from ._blas import blas_threads

# Elements of one kernel block (float64): 2**22 is 32 MiB.
_BLOCK_ELEMENTS = 2**22
# Rows per block when only the diagonal k(x, x) is wanted.
_DIAG_BLOCK = 32
# Kernels with k(x, x) = 1 for every x: exp(-gamma * d(x, x)) with d(x, x) = 0.
_UNIT_DIAGONAL = ("rbf", "laplacian", "chi2")


def kernel_params(estimator):
    """The keyword arguments ``pairwise_kernels`` needs for ``estimator.kernel``.

    Mirrors :class:`sklearn.kernel_ridge.KernelRidge`, so the same parameters
    give the same kernel.
    """
    if callable(estimator.kernel):
        return dict(estimator.kernel_params or {})
    return {
        "gamma": estimator.gamma,
        "degree": estimator.degree,
        "coef0": estimator.coef0,
    }


def kernel_matrix(X, Y, kernel, params):
    """``k(X, Y)`` as a dense array (``X`` itself for a precomputed kernel)."""
    if kernel == "precomputed":
        return np.asarray(X.toarray() if hasattr(X, "toarray") else X)
    return pairwise_kernels(X, Y, metric=kernel, filter_params=True, **params)


def kernel_diagonal(X, kernel, params):
    """``k(x, x)`` for every row of ``X``."""
    if kernel == "precomputed":
        raise ValueError(
            "With kernel='precomputed' the values k(x, x) of the query points "
            "are unknown, so the predictive variance cannot be computed. Use a "
            "named or callable kernel for return_std=True."
        )
    n = X.shape[0]
    if isinstance(kernel, str) and kernel in _UNIT_DIAGONAL:
        return np.ones(n)
    if isinstance(kernel, str) and kernel == "linear":
        return np.asarray(
            X.multiply(X).sum(axis=1, dtype=np.float64)
            if hasattr(X, "multiply")
            else np.einsum("ij,ij->i", X, X, dtype=np.float64)
        ).ravel()
    # Any other kernel: its diagonal block by block, through pairwise_kernels.
    out = np.empty(n)
    for start in range(0, n, _DIAG_BLOCK):
        block = X[start : start + _DIAG_BLOCK]
        out[start : start + _DIAG_BLOCK] = np.diag(
            kernel_matrix(block, block, kernel, params)
        )
    return out


def constant_columns(X):
    """Mask of the columns of ``X`` that hold one value in every row."""
    if X.shape[0] == 0:
        return np.zeros(X.shape[1], dtype=bool)
    if hasattr(X, "toarray"):
        spread = X.max(axis=0) - X.min(axis=0)
        spread = spread.toarray() if hasattr(spread, "toarray") else spread
        return np.ravel(np.asarray(spread)) == 0
    # Only columns constant over the first rows can be constant: a full
    # comparison for those alone, not a pass over all of X.
    suspects = np.flatnonzero(np.all(X[:32] == X[0], axis=0))
    out = np.zeros(X.shape[1], dtype=bool)
    if suspects.size:
        out[suspects] = np.all(X[:, suspects] == X[0, suspects], axis=0)
    return out


def row_blocks(n_rows, n_cols):
    """Slices of at most ``_BLOCK_ELEMENTS / n_cols`` rows covering ``n_rows``."""
    step = max(1, _BLOCK_ELEMENTS // max(n_cols, 1))
    return [slice(i, min(i + step, n_rows)) for i in range(0, n_rows, step)]


def kernel_dot(X, X_fit, coefs, kernel, params):
    """``k(X, X_fit) @ coefs`` computed block by block of rows of ``X``."""
    coefs = np.asarray(coefs)
    if kernel == "precomputed":
        return safe_sparse_dot(X, coefs, dense_output=True)
    out = np.empty((X.shape[0],) + coefs.shape[1:])
    for rows in row_blocks(X.shape[0], X_fit.shape[0]):
        out[rows] = kernel_matrix(X[rows], X_fit, kernel, params) @ coefs
    return out


class CentredLinearKernel:
    r"""``k(x, x') = (x - m)' (x' - m)``: a linear model with ``p > n`` in the dual.

    With an intercept the dual coefficients sum to zero, so every offset
    ``m`` gives the same ``c`` and ``beta = Xc' c``; only the intercept of
    the bordered system moves, to ``b + m' beta``. ``m`` is the weighted mean
    of the training rows, as in the primal, with constant columns set to
    their exact value: their centred column is then exactly zero, so the
    kernel, the coefficient and the tangent ignore them, as
    :class:`~sklearn.linear_model.Ridge` does. Without an intercept ``m = 0``.

    A dense training set is centred once, explicitly (no cancellation for
    columns with large means), and query rows in blocks of a few tens of
    megabytes. A sparse one stays sparse: ``(x - m)'(x' - m) = x'x' - x'm -
    m'x' + m'm`` over the other columns, the constant columns (dense anyway)
    apart and exactly, as the primal Gram matrix of a sparse ``X`` does.
    Every later ``k(x, X_fit)`` (predictive variance, leave-one-out,
    influences, batches) goes through this object, so all use one centring.
    """

    def __init__(self, X, w, fit_intercept):
        self.fit_intercept = fit_intercept
        self.n_fit, self.n_features = X.shape
        self.offset = np.zeros(self.n_features)
        self.constant = np.zeros(self.n_features, dtype=bool)
        if fit_intercept:
            self.offset = np.asarray(safe_sparse_dot(X.T, w)).ravel() / np.sum(w)
            self.constant = constant_columns(X)
            first = X[:1].toarray() if hasattr(X, "toarray") else X[:1]
            self.offset[self.constant] = np.ravel(first)[self.constant]
        self.sparse = hasattr(X, "toarray")
        if self.sparse:
            # The other columns' offset; the constant ones are handled apart.
            self._offset_free = np.where(self.constant, 0.0, self.offset)
            self._offset_sq = float(self._offset_free @ self._offset_free)
            self._fit = self._split(X)
        else:
            self._fit = X - self.offset if fit_intercept else X

    def grown(self, X):
        """The same kernel (the same offset ``m`` and constant columns) on the
        training rows ``X``, the old ones first then new ones.

        The online updates of a linear model solved in the dual keep ``m``:
        the dual coefficients do not depend on it (they sum to zero), and
        only so do the old rows' kernel values, behind the factor that is
        grown, stay the same.
        """
        out = copy.copy(self)
        out.n_fit = X.shape[0]
        if self.sparse:
            out._fit = self._split(X)
        else:
            out._fit = X - self.offset if self.fit_intercept else X
        return out

    # -- the two representations ------------------------------------------
    def _split(self, X):
        """``(X_free, X_free m, X_C - m_C)``: constant columns zeroed, and apart."""
        if np.any(self.constant):
            keep = (~self.constant).astype(float)
            free = X.multiply(keep).tocsr() if hasattr(X, "toarray") else X * keep
            fixed = X[:, self.constant]
            fixed = fixed.toarray() if hasattr(fixed, "toarray") else np.asarray(fixed)
            fixed = fixed - self.offset[self.constant]
        else:
            free, fixed = X, np.zeros((X.shape[0], 0))
        shift = np.asarray(safe_sparse_dot(free, self._offset_free)).ravel()
        return free, shift, fixed

    def _centred_blocks(self, X):
        """Rows ``x - m`` of a query, densified block by block."""
        for rows in row_blocks(X.shape[0], self.n_features):
            block = X[rows]
            block = block.toarray() if hasattr(block, "toarray") else block
            yield rows, block - self.offset

    # -- kernel values ------------------------------------------------------
    def __call__(self, Xa, Xb=None):
        """``k(Xa, Xb)``, dense (m_a, m_b); ``Xb=None`` is the training set."""
        if self.sparse:
            return self._product(
                self._split(Xa), self._fit if Xb is None else self._split(Xb)
            )
        out = np.empty((Xa.shape[0], self.n_fit if Xb is None else Xb.shape[0]))
        for rows, block in self._centred_blocks(Xa):
            if Xb is None:
                out[rows] = block @ self._fit.T
            else:
                # (a - m)'(b - m) = (a - m)'b - (a - m)'m: Xb is not copied;
                # a constant column at its value is exactly zero in (a - m).
                out[rows] = safe_sparse_dot(block, Xb.T, dense_output=True)
                out[rows] -= (block @ self.offset)[:, None]
        return out

    def _product(self, a, b):
        """``k`` between two split representations (see :meth:`_split`)."""
        K = np.asarray(safe_sparse_dot(a[0], b[0].T, dense_output=True))
        K = K - a[1][:, None]
        K -= b[1][None, :]
        K += self._offset_sq
        K += a[2] @ b[2].T
        return K

    def gram(self):
        """``k(X_fit, X_fit)``, the kernel matrix of the training rows."""
        if self.sparse:
            return self._product(self._fit, self._fit)
        return self._fit @ self._fit.T

    def diagonal(self, X):
        """``k(x, x)`` for every row of ``X``."""
        if self.sparse:
            free, shift, fixed = self._split(X)
            sq = (
                free.multiply(free).sum(axis=1) if hasattr(free, "toarray") else free**2
            )
            sq = np.asarray(sq).reshape(X.shape[0], -1).sum(axis=1)
            return sq - 2.0 * shift + self._offset_sq + np.sum(fixed**2, axis=1)
        out = np.empty(X.shape[0])
        for rows, block in self._centred_blocks(X):
            out[rows] = np.einsum("ij,ij->i", block, block)
        return out

    def offset_dot(self, X=None):
        """``(x - m)' m`` for every row of ``X`` (``None``: the training rows)."""
        if X is None:
            if self.sparse:
                return self._fit[1] - self._offset_sq  # constant columns: zero
            return self._fit @ self.offset
        if self.sparse:
            free, shift, fixed = self._split(X)
            return shift - self._offset_sq + fixed @ self.offset[self.constant]
        out = np.empty(X.shape[0])
        for rows, block in self._centred_blocks(X):
            out[rows] = block @ self.offset
        return out

    def centred(self, X):
        """The dense rows ``x - m``."""
        return np.vstack([block for _, block in self._centred_blocks(X)])

    def coef(self, C):
        """``Xc' C`` over the training rows: the primal coefficients of ``c``.

        A constant column's entries are exactly zero, its centred column
        being exactly zero.
        """
        if not self.sparse:
            return self._fit.T @ C
        total = np.sum(C, axis=0)  # zero in exact arithmetic, not in floats
        out = np.asarray(safe_sparse_dot(self._fit[0].T, C, dense_output=True))
        return out - np.multiply.outer(self._offset_free, total)


# ------------------------------------------------------------ model shapes
# A model shape knows how the coefficients make the linear predictor, what
# the penalty is, and what a query row is for the Hessian: the rows ``x`` of
# a linear model, the kernel rows ``k(x, X_fit)`` of a model solved in
# function space, with the prior term ``k(x, x')`` the Hessian of a dual
# system needs beside them. Nothing else in the package asks which shape it
# has; the solvers ask only whether it is ``dual``.


def dense(X):
    """``X`` as a dense array."""
    return np.asarray(X.toarray() if hasattr(X, "toarray") else X)


def _linear_eta(X, coefs):
    """``X @ coefs`` for one or two columns of coefficients, in float64.

    Dense float32 rows are converted block by block (numpy would convert the
    whole of ``X`` to multiply it with float64 coefficients).
    """
    if not hasattr(X, "toarray") and X.dtype != np.float64:
        out = np.empty((X.shape[0],) + coefs.shape[1:])
        for rows in row_blocks(X.shape[0], X.shape[1]):
            out[rows] = _linear_eta(X[rows].astype(np.float64), coefs)
        return out
    if hasattr(X, "toarray") or coefs.ndim == 1:
        return np.asarray(safe_sparse_dot(X, coefs, dense_output=True))
    # (C' X')' streams X once with a wide, short product; X @ C with a
    # two-column C is markedly slower in the BLAS here.
    return (coefs.T @ X.T).T


class LinearModel:
    r"""``eta = X beta + b`` with penalty ``||beta||^2``, solved in the primal.

    The Hessian's rows are the rows of ``X`` themselves; there is no prior
    term (``S(x, x')`` is a quadratic form in the rows).
    """

    dual = False
    kernel = None
    precomputed = False
    X_fit = None

    def __init__(self, n_features):
        self.n_features = n_features

    @property
    def width(self):
        """Columns of a Hessian row: what a block of query rows costs."""
        return self.n_features

    def design(self, X):
        """The matrix the objective multiplies coefficients with: ``X``."""
        return X

    def eta(self, X, coefs):
        """``X @ coefs`` (coefficients as stored in the fitted state)."""
        return _linear_eta(X, coefs)

    def penalise(self, design, coef):
        """``P coef`` with ``Omega = coef' P coef`` (here ``P = I``)."""
        return coef

    def penalty_matrix(self, design):
        return np.eye(design.shape[1])

    def rows(self, X):
        """The Hessian's rows of the query points ``X``."""
        return X

    def prior(self, Xa, Xb):
        """The prior term of ``S(x_a, x_b)``: none for a primal model."""
        return None

    def prior_diagonal(self, X):
        return None

    def coefficients(self, coef, intercept):
        """The coefficients the estimator exposes, from the solver's."""
        return coef, intercept

    def directions(self, hess, W, X, alpha):
        """``H^-1 x~`` of the whitened rows ``W`` of ``X``, in the estimator's
        coefficients."""
        return hess.directions(W)

    def optimality(self, X, g, coef, alpha):
        """``(grad, size)``: the coefficient part of ``grad J`` at the fit
        for the per-row loss gradients ``g = w l'``, and the size of its
        terms (to judge how close to zero it is)."""
        grad = np.asarray(safe_sparse_dot(X.T, g)).ravel() + alpha * coef
        absX = abs(X) if hasattr(X, "toarray") else np.abs(X)
        size = np.asarray(safe_sparse_dot(absX.T, np.abs(g))).ravel()
        return grad, size + alpha * np.abs(coef)


class KernelModel:
    r"""``eta(x) = sum_j c_j k(x, x_j) + b`` with the RKHS penalty ``c' K c``.

    The Hessian's rows of a query are ``k(x, X_fit)`` and the prior term of
    ``S(x, x')`` is ``k(x, x')``. With ``kernel="precomputed"`` the rows are
    given (``X`` *is* ``k(X, X_fit)``) and ``k(x, x')`` is known only against
    the training points.
    """

    dual = True

    def __init__(self, kernel, params, X_fit):
        self.kernel = kernel
        self.params = params
        self.X_fit = X_fit

    @property
    def precomputed(self):
        return isinstance(self.kernel, str) and self.kernel == "precomputed"

    @property
    def n_fit(self):
        return self.X_fit.shape[0]

    width = n_fit

    def gram(self):
        """``k(X_fit, X_fit)``; a fresh array the solver may overwrite unless
        the kernel is precomputed (then it is the training matrix itself)."""
        return kernel_matrix(self.X_fit, None, self.kernel, self.params)

    @property
    def gram_is_copy(self):
        return not self.precomputed

    def design(self, X):
        """The matrix the objective multiplies coefficients with: ``K``."""
        return self.gram()

    def eta(self, X, coefs):
        return kernel_dot(X, self.X_fit, coefs, self.kernel, self.params)

    def penalise(self, design, coef):
        return design @ coef

    def penalty_matrix(self, design):
        return dense(design)

    def rows(self, X):
        if self.precomputed:
            return dense(X)
        return kernel_matrix(X, self.X_fit, self.kernel, self.params)

    def prior(self, Xa, Xb, training=False):
        """``k(Xa, Xb)``. ``training=True`` says ``Xb`` is the training set
        (the only one a precomputed kernel knows ``k`` against)."""
        if self.precomputed:
            if not training:
                kernel_diagonal(Xa, "precomputed", {})  # raises the explanation
            return dense(Xa)
        return kernel_matrix(Xa, Xb, self.kernel, self.params)

    def prior_diagonal(self, X):
        return kernel_diagonal(X, self.kernel, self.params)

    def coefficients(self, coef, intercept):
        return coef, intercept

    def directions(self, hess, W, X, alpha):
        raise ValueError(
            "A kernel model has no finite parameter vector: its directions "
            "H^-1 x~ live in function space."
        )

    def direction_intercepts(self, hess, W, X, values, alpha):
        """The intercept of ``u = H^-1 grad eta(x)`` for whitened rows ``W``
        (``values`` is :meth:`~sktangent._implicit.DualHessian.training_values`)."""
        return hess.direction_intercepts(W)

    def optimality(self, X, g, coef, alpha):
        # The dual optimum satisfies w l' + alpha c = 0 row by row.
        return g + alpha * coef, np.abs(g) + alpha * np.abs(coef)


class LinearDualModel(CentredLinearKernel):
    r"""A linear model with ``p > n``, solved in the dual through the linear
    kernel of the centred rows (:class:`CentredLinearKernel`).

    The solver works with dual coefficients; the estimator and the fitted
    state keep the primal ``beta = Xc' c`` (:meth:`coefficients`), so
    predictions are the linear model's, and only ``S`` goes through the
    kernel.
    """

    dual = True
    kernel = None
    precomputed = False
    X_fit = None
    gram_is_copy = True

    @property
    def width(self):
        return self.n_fit

    def design(self, X):
        """The kernel matrix of the centred training rows."""
        return self.gram()

    def eta(self, X, coefs):
        return _linear_eta(X, coefs)

    def penalise(self, design, coef):
        return design @ coef

    def penalty_matrix(self, design):
        return dense(design)

    def rows(self, X):
        return self(X)

    def prior(self, Xa, Xb, training=False):
        return self(Xa, Xb)

    def prior_diagonal(self, X):
        return self.diagonal(X)

    def coefficients(self, coef, intercept):
        """``beta = Xc' c``; the intercept of the centred rows, ``b + m' beta``,
        back to the rows themselves."""
        beta = self.coef(coef)
        return beta, intercept - float(self.offset @ beta)

    optimality = LinearModel.optimality

    def direction_intercepts(self, hess, W, X, values, alpha):
        """The intercept of ``u = H^-1 x~`` for the rows themselves.

        The kernel centres the rows at ``m``, so the Hessian's intercept is
        that of the centred rows; the rows' own takes ``- m' beta_u`` more,
        with ``m' beta_u = ((x - m)'m - (Xc m)' D e) / alpha``, ``Xc`` the
        centred training rows: ``beta_u`` is never formed (it is p wide).
        """
        b_u = hess.direction_intercepts(W)
        if not self.fit_intercept:
            return b_u
        De = hess.sqrt_d[:, None] * values
        return b_u - (self.offset_dot(X) - self.offset_dot() @ De) / alpha

    def directions(self, hess, W, X, alpha):
        """``H u = x~`` gives ``beta_u = (x - m - Xc' D e) / alpha``, with
        ``Xc`` the training rows centred at ``m`` (``1' D e = 1``)."""
        values = hess.training_values(W)
        De = hess.sqrt_d[:, None] * values
        coef = (self.centred(X) - self.coef(De).T) / alpha
        if not self.fit_intercept:
            return coef
        intercepts = self.direction_intercepts(hess, W, X, values, alpha)
        return np.column_stack([coef, intercepts])


#: Eigenvalues of the landmarks' kernel matrix below this fraction of the
#: largest are dropped from the Nyström features (their directions are
#: rounding noise; scikit-learn's ``Nystroem`` clips them at 1e-12 instead).
NYSTROEM_RCOND = 1e-12


def check_n_components(n_components, kernel, n_samples):
    """Raise unless ``n_components`` is a usable Nyström rank for this fit.

    With ``kernel=None`` it is ignored, with a UserWarning, as ``power`` is
    with a family other than Tweedie (and as scikit-learn's estimator checks,
    which set ``n_components=1`` on any estimator that has it, require).
    """
    if n_components is None:
        return
    if kernel is None:
        warnings.warn(
            f"n_components={n_components!r} is the rank of a Nyström kernel "
            "model; with kernel=None the model is linear in X and it is ignored. "
            "Pass a kernel (e.g. kernel='rbf') to use it.",
            UserWarning,
            stacklevel=4,  # the caller of fit (through its validation wrapper)
        )
        return
    if n_components > n_samples:
        raise ValueError(
            f"n_components={n_components} exceeds the number of training samples "
            f"({n_samples}): the Nyström landmarks are training rows. Pass at most "
            f"{n_samples} (n_components=n_samples reproduces the exact kernel "
            "model), or n_components=None."
        )


class NystroemModel(LinearModel):
    r"""A kernel model of reduced rank: the linear model on Nyström features.

    ``m = n_components`` landmarks ``Z`` are training rows drawn without
    replacement (the first ``m`` of a random permutation, as
    :class:`sklearn.kernel_approximation.Nystroem` draws them, so the same
    ``random_state`` gives the same landmarks). With ``K_ZZ = V Lambda V'``
    the features are

    .. math:: \varphi(x) = k(x, Z)\, N^\top, \qquad
              N = V_r \Lambda_r^{-1/2} V_r^\top,

    ``r`` the eigenvalues above ``NYSTROEM_RCOND`` times the largest: the
    features of ``Nystroem`` (``normalization_`` is ``N``). With
    ``kernel="precomputed"`` the rows are kernel values against the training
    points, and ``k(x, Z)`` are their landmark columns. The model is
    ``eta = phi(x)' beta + b`` with penalty ``||beta||^2``, everything the
    primal linear model does applied to ``phi``: it is exact for this reduced
    model, and with ``m = n`` it is the kernel model itself (``phi(x)' beta
    = k(x, X) c`` with ``c = N' beta``, ``c' K c = ||beta||^2``).
    """

    # No prior term: the reduced model's S is a quadratic form in phi(x),
    # which a precomputed kernel gives for any query rows.
    precomputed = False

    def __init__(self, kernel, params, X, n_components, random_state=None):
        check_n_components(n_components, kernel, X.shape[0])
        self.kernel = kernel
        self.params = params
        rng = check_random_state(random_state)
        self.component_indices = rng.permutation(X.shape[0])[:n_components]
        self.components = X[self.component_indices]
        K = self.landmark_kernel(self.components)
        with blas_threads(K.shape[0]):
            lam, V = linalg.eigh(K)
        keep = lam > NYSTROEM_RCOND * max(lam[-1], 0.0)
        if not np.any(keep):
            raise ValueError(
                "The kernel matrix of the Nyström landmarks is zero: the kernel "
                "cannot tell the points apart. Check the kernel parameters."
            )
        V = V[:, keep]
        self.normalization = (V / np.sqrt(lam[keep])) @ V.T
        self.rank = int(np.sum(keep))
        super().__init__(n_components)

    def landmark_kernel(self, X):
        """``k(X, Z)``, dense (n_rows, n_components)."""
        if isinstance(self.kernel, str) and self.kernel == "precomputed":
            return dense(X[:, self.component_indices])
        return kernel_matrix(X, self.components, self.kernel, self.params)

    def features(self, X):
        """``phi(X) = k(X, Z) N'``, shape (n_rows, n_components), in blocks."""
        out = np.empty((X.shape[0], self.n_features))
        for rows in row_blocks(X.shape[0], self.n_features):
            out[rows] = self.landmark_kernel(X[rows]) @ self.normalization.T
        return out

    def landmark_weights(self, coefs):
        """``N' beta``: coefficients on ``k(x, Z)`` (``eta = k(x, Z) c + b``)."""
        return self.normalization.T @ coefs

    def design(self, X):
        """The Nyström features of the training rows."""
        return self.features(X)

    def eta(self, X, coefs):
        # k(x, Z) (N' beta): the n_components-wide features are never formed.
        weights = self.landmark_weights(coefs)
        out = np.empty((X.shape[0],) + weights.shape[1:])
        for rows in row_blocks(X.shape[0], self.n_features):
            out[rows] = self.landmark_kernel(X[rows]) @ weights
        return out

    def rows(self, X):
        return self.features(X)

    def optimality(self, X, g, coef, alpha):
        return LinearModel.optimality(self, self.features(X), g, coef, alpha)


def make_model(
    shape,
    X,
    w,
    fit_intercept,
    kernel=None,
    params=None,
    n_components=None,
    random_state=None,
):
    """The model of ``shape`` (``"primal"``, ``"linear-dual"``, ``"kernel"`` or
    ``"nystroem"``) for the training rows ``X`` and weights ``w``."""
    if shape == "nystroem":
        return NystroemModel(kernel, params or {}, X, n_components, random_state)
    if shape == "kernel":
        return KernelModel(kernel, params or {}, X)
    if shape == "linear-dual":
        return LinearDualModel(X, w, fit_intercept)
    return LinearModel(X.shape[1])
