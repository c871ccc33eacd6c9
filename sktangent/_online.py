"""Online updates: ``partial_fit`` adds rows to a fitted state (docs/theory.rst,
section 11).

Every update builds a new :class:`~sktangent._state.FittedState`; the old one
and its arrays are never changed, since consumers may hold it. What an update
needs from the previous one is declared in one place, the state's
``training`` (:class:`TrainingRows`): the rows fitted so far and, for the
primal normal model, their centred cross products.

* Normal family, primal linear model (:func:`update_primal`): the new rows add
  ``X~_new' W X~_new`` to ``H``. In the centred coordinates of
  :class:`~sktangent._implicit.PrimalHessian` the mean moves with the new
  rows, and the centred block grows by the scatter of the new rows about
  their own mean plus one rank-one term for the shift of the mean
  (Chan-Golub-LeVeque): ``A' = A + S_new + (D D_new / D') dm dm'`` -- a
  positive update of rank ``k`` (no downdate), applied to the Cholesky factor
  by rank-one updates in closed form (:func:`rank_one_update`), ``O(k p^2)``,
  ``trace(A^-1)`` following by Sherman-Morrison; when ``k`` is comparable to
  ``p`` the block is formed and factorised again (``O(p^3)``, still never
  ``O(n p^2)``).
* Normal family, dual models (kernel, or a linear model with ``p > n``,
  :func:`update_dual`): the factor of ``A = sqrt(W) K sqrt(W) + alpha I`` is
  grown by a block, ``L21 = G21 L^-T``, ``L22 L22' = G22 - L21 L21'``,
  ``O(n^2 k)``; ``trace(A^-1)`` (the degrees of freedom behind the
  dispersion) is carried along when it was known.
* Every other case (the GLM families, conjugate-gradient Hessians, a linear
  model whose shape a refit would change): the solver runs on all rows from
  the previous optimum (:func:`warm_start`), and the Hessian is factorised at
  the new optimum by the solver, as in ``fit``.
"""

import numpy as np
import scipy.sparse as sp
from scipy import linalg
from scipy.linalg import lapack
from scipy.sparse.linalg import LinearOperator, onenormest
from sklearn.utils.extmath import safe_sparse_dot

from ._implicit import (
    RCOND_MIN,
    DualHessian,
    IllConditionedError,
    PrimalHessian,
    check_finite_fit,
    factorise,
)
from ._models import (
    KernelModel,
    LinearDualModel,
    NystroemModel,
    dense,
    kernel_matrix,
)
from ._multinomial import KernelFeatureModel
from ._objective import Objective
from ._solvers import FitResult, choose_solver, finish, guided_steps
from ._state import FittedState, fit_state


# --------------------------------------------------------------- the rows
class _Buffer:
    """Dense rows with spare capacity, shared by successive TrainingRows.

    Rows are only ever written past ``filled``, so the rows a previous state
    sees (a view of the first ``n`` rows) never change.
    """

    def __init__(self, X, y, w, capacity):
        n = X.shape[0]
        self.X = np.empty((capacity,) + X.shape[1:])
        self.y = np.empty((capacity,) + y.shape[1:], dtype=y.dtype)
        self.w = np.empty(capacity)
        self.X[:n], self.y[:n], self.w[:n] = X, y, w
        self.filled = n


def _read_only(a):
    view = a.view()
    view.flags.writeable = False
    return view


class TrainingRows:
    """The rows a fitted state was fitted on, and what an update carries.

    Attributes
    ----------
    X : ndarray or sparse matrix of shape (n, n_features)
        The rows, in the order they were added (read-only for dense rows).
    y : ndarray of shape (n,)
        Their targets (class codes for a classifier).
    w : ndarray of shape (n,)
        Their sample weights.
    moments : PrimalMoments or None
        The weighted sums of the primal normal model (computed on first use).
    """

    def __init__(self, X, y, w, moments=None, buffer=None):
        self._buffer = buffer
        self.X = _read_only(X) if not sp.issparse(X) else X
        self.y = _read_only(np.asarray(y))
        self.w = _read_only(np.asarray(w, dtype=float))
        self.moments = moments

    @property
    def n(self):
        return self.X.shape[0]

    def appended(self, X, y, w):
        """New ``TrainingRows`` with the rows ``X`` (targets ``y``, weights
        ``w``) after these; these are not changed."""
        n, k = self.n, X.shape[0]
        if sp.issparse(self.X) or sp.issparse(X):
            if not sp.issparse(self.X):
                X = dense(X)  # the fit's rows are dense: keep them dense
            else:
                X = sp.vstack([self.X, sp.csr_matrix(X)]).tocsr()
                return TrainingRows(
                    X, np.concatenate([self.y, y]), np.concatenate([self.w, w])
                )
        buf = self._buffer
        if buf is None or buf.filled != n or buf.X.shape[0] < n + k:
            # Grow geometrically: appending one row at a time costs O(1)
            # amortised copies of the rows, not O(n) each.
            buf = _Buffer(self.X, self.y, self.w, max(2 * (n + k), 16))
        buf.X[n : n + k], buf.y[n : n + k], buf.w[n : n + k] = X, y, w
        buf.filled = n + k
        return TrainingRows(buf.X[: n + k], buf.y[: n + k], buf.w[: n + k], buffer=buf)


class PrimalMoments:
    """Weighted sums of the normal primal model over the rows fitted so far.

    ``d_sum = sum(w)``, ``x_sum = X' w``, ``y_sum = w' y`` and the centred
    cross product ``xy = Xc' W (y - ybar)`` (``X' W y`` without an
    intercept), zero at the constant columns, which ``A^-1 xy`` turns into
    the coefficients.
    """

    def __init__(self, d_sum, x_sum, y_sum, xy):
        self.d_sum, self.x_sum, self.y_sum, self.xy = d_sum, x_sum, y_sum, xy

    @classmethod
    def of(cls, rows, hess):
        X, y, w = rows.X, rows.y, rows.w
        d_sum = float(np.sum(w))
        x_sum = np.asarray(safe_sparse_dot(X.T, w)).ravel()
        y_sum = float(w @ y)
        y_mean = y_sum / d_sum if hess.fit_intercept else 0.0
        xy = np.asarray(safe_sparse_dot(X.T, w * (y - y_mean))).ravel()
        xy[hess.constant] = 0.0
        return cls(d_sum, x_sum, y_sum, xy)


# ------------------------------------------------------------ the updates
def update_state(state, X, y, w, params, check_query):
    """The state fitted on the rows of ``state`` and the rows ``X``.

    ``X``, ``y`` and ``w`` are validated like ``fit``'s (``y`` in the family's
    support; class codes for a classifier). Returns ``(state, n_iter)``.
    """
    old = state.training
    if old is None:
        raise ValueError(
            "This fitted state keeps no training rows, so it cannot be updated; "
            "call fit on all the rows."
        )
    rows = old.appended(X, y, w)
    family = state.family
    # A Nyström model keeps the landmarks its first fit drew: its features
    # are fitted again on all the rows (the updates below are of raw rows).
    nystroem = isinstance(state.model, NystroemModel)
    if family.constant_variance and state.factorisation is not None and not nystroem:
        # The closed form's shape for the grown data: a linear model solved
        # in the dual moves to the primal once it has more rows than features.
        _, shape = choose_solver(
            "cholesky",
            family,
            state.kernel,
            rows.n,
            rows.X.shape[1],
            state.fit_intercept,
            {"max_iter": 1, "tol": 1.0},
        )
        if state.factorisation == "primal":
            return update_primal(state, rows, X, y, w), 1
        if shape != "primal":
            return update_dual(state, rows, X, y, w), 1
    return fit_state(
        family,
        rows.X,
        rows.y,
        rows.w,
        params,
        state.dispersion_rule,
        check_query,
        start=warm_start(state),
        training=rows,
        model=state.model if nystroem else None,
    )


def warm_start(state):
    """The solver's start point from the previous optimum: the same
    coefficients (the new rows' dual coefficients zero, so that the function
    is the previous one).

    For a primal linear model with a factorised Hessian, the start then moves
    by Newton steps with the previous fit's Hessian (:func:`guided_steps`):
    with k new rows among n it is off by about k / n, so a step costs a
    gradient and two triangular solves and cuts the gradient by about that
    factor. The solver usually starts within ``tol`` of the new optimum and
    forms and factorises the Hessian once, at the end, for the tangent.
    """

    def start(objective):
        model = objective.model
        if isinstance(model, LinearDualModel):
            return None  # the closed form needs no start
        head = np.asarray(state.coef, dtype=float)
        if model.dual:
            head = np.concatenate([head, np.zeros(objective.n_coef - head.size)])
        if head.size != objective.n_coef:
            return None
        theta = objective.join(head, state.intercept)
        previous = state.hessian
        if (
            not model.dual
            and isinstance(previous, PrimalHessian)
            and previous.n_params == objective.n_params
        ):
            theta, _ = guided_steps(objective, theta, lambda _: previous, state.tol)
        return theta

    return start


def _build(state, model, hess, rows, coef, intercept, eta, tangent_rows):
    """The new state from the solved coefficients (the tail of ``fit_state``)."""
    tangent, intercept_tangent = tangent_rows
    check_finite_fit(coef, tangent)
    return FittedState(
        family=state.family,
        model=model,
        hessian=hess,
        alpha=state.alpha,
        fit_intercept=state.fit_intercept,
        coef=coef,
        tangent=tangent,
        intercept=float(intercept),
        intercept_tangent=float(intercept_tangent),
        solver=state.solver,
        tol=state.tol,
        dispersion_rule=state.dispersion_rule,
        pearson=state.family.pearson_statistic(rows.y, eta, rows.w),
        n_positive=int(np.sum(rows.w > 0)),
        check_query=state.check_query,
        training=rows,
    )


def _triangular(L, B, trans=0):
    """``L^-1 B`` (``trans=1``: ``L^-T B``) for the lower triangular ``L``."""
    x, info = lapack.dtrtrs(L, B, lower=1, trans=trans)
    if info != 0:  # pragma: no cover - L has a positive diagonal
        raise IllConditionedError("Singular Cholesky factor; increase alpha.")
    return x


def _check_conditioning(L, alpha, what, trace_A=None):
    """Refuse a grown factor as ``factorise`` refuses a new one.

    ``A = L L'`` is ``alpha I`` plus a positive semi-definite matrix, so its
    smallest eigenvalue is at least ``alpha`` and its largest at most
    ``trace(A) = |L|_F^2`` (``trace_A``, when the caller knows it): when
    ``alpha / trace(A)`` already clears the threshold, the trace certifies
    the condition number and the norm estimate of ``factorise`` (several
    products with ``A``) is skipped.
    """
    n = L.shape[0]
    if trace_A is None:
        trace_A = float(np.einsum("ij,ij->", L, L))
    if n == 0 or alpha / trace_A >= RCOND_MIN:
        return

    def product(v):
        return L @ (L.T @ v)

    # A = L L' is symmetric: its transpose's products are its own.
    op = LinearOperator(
        (n, n), matvec=product, rmatvec=product, matmat=product, dtype=float
    )
    anorm = onenormest(op) if n > 4 else np.abs(L @ L.T).sum(axis=0).max()
    rcond, info = lapack.dpocon(L, anorm, uplo="L")
    if info != 0 or not rcond >= RCOND_MIN:
        raise IllConditionedError(
            f"The {what} is numerically singular after the update (reciprocal "
            f"condition number {rcond:.1e} < {RCOND_MIN:.0e}). Increase alpha "
            "and call fit."
        )


def rank_update(L, V, trace=None):
    """``(L', trace')``: the lower Cholesky factor of ``L L' + V' V`` (``V``
    of shape (k, p)) and ``trace((L' L'')^-1)`` if ``trace`` is that of
    ``L L'`` (else None).

    One rank-one update per row of ``V`` (:func:`rank_one_update`,
    ``O(p^2)`` each, the trace by Sherman-Morrison), or, for ``k``
    comparable to ``p``, the block formed and factorised again
    (``O(p^3)``).
    """
    p, k = L.shape[0], V.shape[0]
    if k == 0 or p == 0:
        return L, trace
    if 2 * k >= p:
        A = L @ L.T
        A += V.T @ V
        return factorise(A, "penalised Hessian X'DX + alpha*I"), None
    for v in V:
        z = linalg.solve_triangular(L, v, lower=True, check_finite=False)
        if trace is not None:
            u = linalg.solve_triangular(L, z, lower=True, trans="T", check_finite=False)
            trace -= float(u @ u) / (1.0 + float(z @ z))
        L = rank_one_update(L, z)
    return L, trace


def rank_one_update(L, z):
    r"""The lower Cholesky factor of ``L (I + z z') L'``, in ``O(p^2)``.

    With ``z = L^-1 v`` this is the factor of ``L L' + v v'``. The factor of
    ``I + z z'`` has the closed form ``M_jj = d_j``, ``M_ij = z_i b_j``
    (``i > j``): its trailing blocks stay ``I + a_j z z'`` with ``1 / a_j =
    1 + sum_{i<j} z_i^2``, so ``d_j = sqrt(q_{j+1} / q_j)`` and ``b_j = z_j /
    (q_j d_j)`` with ``q_j = 1 / a_j`` -- positive quantities, no
    cancellation (the update adds, never removes). ``L M`` then needs only
    the suffix sums ``sum_{i>j} z_i L[:, i]``: a few passes over ``L``, no
    loop over its columns.
    """
    q = 1.0 + np.concatenate([[0.0], np.cumsum(z * z)])
    d = np.sqrt(q[1:] / q[:-1])
    b = z / (q[:-1] * d)
    C = L * z
    # suffix[:, j] = sum over i > j of z_i L[:, i]; the columns right of a
    # row's diagonal are exact zeros, so the result stays lower triangular.
    suffix = np.cumsum(C[:, ::-1], axis=1)[:, ::-1] - C
    out = L * d
    out += suffix * b
    return np.asfortranarray(out)


def update_primal(state, rows, X, y, w):
    """The normal linear model on ``rows`` by a rank-k update of the factor."""
    hess = state.hessian
    old = state.training
    moments = old.moments or PrimalMoments.of(old, hess)
    Xk = dense(X)
    fit_intercept = state.fit_intercept
    d_sum = moments.d_sum + float(np.sum(w))
    x_sum = moments.x_sum + Xk.T @ w
    y_sum = moments.y_sum + float(w @ y)
    constant = hess.constant
    if fit_intercept:
        # A constant column stays constant only if the new rows hold its value.
        constant = constant & np.all(Xk == hess.x_mean, axis=0)
        dk = float(np.sum(w))
        parts, xy = [], moments.xy.copy()
        if dk > 0:
            if Xk.shape[0] == 1:  # a row is its own mean, exactly
                mk, yk = Xk[0].copy(), float(y[0])
            else:
                mk, yk = (w @ Xk) / dk, float(w @ y) / dk
            shift = mk - hess.x_mean
            scale = moments.d_sum * dk / d_sum
            centred = Xk - mk
            parts = [np.sqrt(w)[:, None] * centred, np.sqrt(scale) * shift[None, :]]
            xy += centred.T @ (w * (y - yk))
            xy += scale * (yk - moments.y_sum / moments.d_sum) * shift
        V = np.vstack(parts) if parts else np.zeros((0, Xk.shape[1]))
        V[:, constant] = 0.0
        # One new row is its own mean: its centred row is exactly zero, and
        # the update is the shift of the mean alone (rank one).
        V = V[np.any(V != 0.0, axis=1)]
        xy[constant] = 0.0
        x_mean = x_sum / d_sum
        x_mean[constant] = hess.x_mean[constant]
    else:
        V = np.sqrt(w)[:, None] * Xk
        xy = moments.xy + Xk.T @ (w * y)
        x_mean = np.zeros(Xk.shape[1])
    L, trace = rank_update(hess.L, V, hess._trace)
    if L is not hess.L:
        _check_conditioning(L, hess.alpha, "penalised Hessian X'DX + alpha*I")
    new = PrimalHessian.from_factor(
        L, hess.alpha, fit_intercept, x_mean, d_sum, constant, trace
    )
    rows.moments = PrimalMoments(d_sum, x_sum, y_sum, xy)
    coef = new.solve_centred(xy)
    intercept = y_sum / d_sum - float(x_mean @ coef) if fit_intercept else 0.0
    eta = np.asarray(safe_sparse_dot(rows.X, coef)).ravel() + intercept
    objective = Objective(
        state.family, state.model, rows.X, rows.y, rows.w, hess.alpha, fit_intercept
    )
    result = FitResult(coef, intercept, new, eta, 1)
    coef, intercept, tangent, intercept_tangent = finish(objective, result)
    return _build(
        state,
        state.model,
        new,
        rows,
        coef,
        intercept,
        eta,
        (tangent, intercept_tangent),
    )


def update_dual(state, rows, X, y, w):
    """The normal dual model on ``rows``, its factor grown by a block."""
    hess, model = state.hessian, state.model
    alpha = hess.alpha
    if isinstance(model, LinearDualModel):
        new_model = model.grown(rows.X)
        K21, K22 = model(X), model(X, X)
    else:
        new_model = KernelModel(model.kernel, model.params, rows.X)
        K21 = model.rows(X)
        K22 = kernel_matrix(X, X, model.kernel, model.params)
    n, k = hess.n, X.shape[0]
    sk = np.sqrt(w)
    G21 = K21 * sk[:, None]
    G21 *= hess.sqrt_d[None, :]
    G22 = K22 * sk[:, None]
    G22 *= sk[None, :]
    G22.flat[:: k + 1] += alpha
    L21t = _triangular(hess.L, G21.T)
    S = G22 - L21t.T @ L21t
    L22, info = lapack.dpotrf(S, lower=1, clean=1)
    if info != 0:
        raise IllConditionedError(
            "The kernel system is not positive definite after the update "
            f"(Cholesky failed at pivot {info} of the new block). Increase alpha "
            "and call fit."
        )
    L = np.empty((n + k, n + k), order="F")
    L[:n, :n] = hess.L
    L[:n, n:] = 0.0
    L[n:, :n] = L21t.T
    L[n:, n:] = L22
    sqrt_d = np.concatenate([hess.sqrt_d, sk])
    # trace(A') = sum d k(x, x) + n alpha, from the diagonal of the kernel.
    diagonal = new_model.prior_diagonal(rows.X)
    _check_conditioning(
        L,
        alpha,
        "kernel system sqrt(D) K sqrt(D) + alpha*I",
        float(sqrt_d**2 @ diagonal) + (n + k) * alpha,
    )
    trace = None
    if hess._trace is not None:
        # trace(A'^-1) = |L'^-1|_F^2; the new rows of L'^-1 are
        # [-L22^-1 L21 L^-1, L22^-1].
        M = _triangular(hess.L, L21t, trans=1)
        B = linalg.solve_triangular(L22, M.T, lower=True, check_finite=False)
        L22inv = linalg.solve_triangular(L22, np.eye(k), lower=True)
        trace = hess._trace + float(np.sum(B**2)) + float(np.sum(L22inv**2))
    yy, ww = rows.y, rows.w
    # u = A^-1 sqrt(d) (the border) and A^-1 sqrt(d) y in one solve.
    rhs = np.column_stack([sqrt_d * yy, sqrt_d]) if state.fit_intercept else None
    solved = None
    if rhs is not None:
        solved = linalg.cho_solve((L, True), rhs, check_finite=False)
    new = DualHessian.from_factor(
        L,
        sqrt_d,
        alpha,
        state.fit_intercept,
        trace,
        u=None if solved is None else solved[:, 1],
    )
    if solved is None:
        z, b = new.bordered_solve(sqrt_d * yy)
    else:
        b = float(sqrt_d @ solved[:, 0]) / new.s
        z = solved[:, 0] - b * new.u
    c = sqrt_d * z
    # As the closed form: the training predictions from stationarity.
    eta = yy - np.divide(alpha * c, ww, out=np.zeros_like(c), where=ww > 0)
    t = new.tangent(np.append(alpha * c, 0.0) if state.fit_intercept else alpha * c)
    t_c, t_b = (t[:-1], t[-1]) if state.fit_intercept else (t, 0.0)
    coef, intercept = new_model.coefficients(c, float(b))
    tangent, intercept_tangent = new_model.coefficients(t_c, float(t_b))
    return _build(
        state, new_model, new, rows, coef, intercept, eta, (tangent, intercept_tangent)
    )


def multinomial_start(state, model):
    """The previous multinomial optimum in the features of ``model`` (the
    model of the grown rows), laid out as ``theta``.

    A kernel model's features change with its training rows: the previous
    function, with dual coefficients ``c`` (zero at the new rows), has the
    coefficients ``beta = Lambda^(1/2) V' c`` in the new features
    ``phi = k(x, X) V Lambda^(-1/2)``.
    """
    B = np.asarray(state.coef, dtype=float)
    if isinstance(state.model, KernelFeatureModel):
        C = state.model.dual_coef(B)
        C = np.hstack([C, np.zeros((C.shape[0], model.width - C.shape[1]))])
        proj = model.projection
        B = C @ (proj / np.sum(proj**2, axis=0))
    if not state.fit_intercept:
        return B.ravel()
    return np.column_stack([B, state.intercept]).ravel()
