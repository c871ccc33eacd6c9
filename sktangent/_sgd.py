"""Minibatch SGD that carries the regularity tangent through training (SGDF).

``solver="sgd"`` of the linear models (docs/theory.rst, section 8). Beside
each stochastic gradient step ``theta <- theta - eta g`` the tangent takes
the step ``t <- t - eta (H t + rho)`` with a minibatch estimate of ``H t``
(a Hessian-vector product on the batch's rows). At a fixed ``theta`` this
recursion is LiSSA with scale ``1 / eta``; its fixed point is the tangent
``-H^-1 rho``. No ``p x p`` matrix is ever formed.

The loop, in three parts that each have a reason:

* **Coordinates.** SGD on unscaled features is fragile, so the loop runs in
  the coordinates of standardised features, ``phi = [beta * s, b + xbar'
  beta]`` (``xbar`` the weighted column means when an intercept is fitted,
  ``s`` the weighted column standard deviations, or root mean squares
  without an intercept, rounded to powers of two). It is a change of
  variables, not of the model: the optimum, the penalty on ``beta`` and the
  tangent are the same, mapped back at the end. A sparse ``X`` stays
  sparse: the centring enters the products as one scalar per row.
* **Control variate (SVRG).** Each epoch starts from a *snapshot* where one
  pass over the data computes the full gradient and the full ``H t`` and
  stores each row's ``w l'`` and ``w l'' x~'t``. The steps use the minibatch
  estimate minus the same estimate at the snapshot plus the full value, an
  unbiased estimate whose variance vanishes at the optimum, so the iterates
  converge to the optimum itself rather than to a noise ball: ``tol`` can
  be the gradient test of the other solvers. At a fixed ``theta`` the
  tangent's steps of an epoch are plain LiSSA on the residual system ``H e
  = -(H t_snap + rho)`` (for the first epoch, from ``t = 0``, on ``rho``).
* **Polyak averaging.** The next snapshot of both ``theta`` and ``t`` is the
  average of the epoch's iterates.

**Step size**, one rule for all data: ``1 / L(m)`` with the minibatch
smoothness bound ``L(m) = a L_mean + b L_max + L_pen`` of a batch of ``m``
rows drawn without replacement, ``a = n (m - 1) / (m (n - 1))``, ``b = (n -
m) / (m (n - 1))``, from the per-row bounds ``L_i = (n / W) |w_i l''_i|
|z~_i|^2`` (``z~_i`` the standardised row with its 1, ``W = sum(w)``) at
the snapshot's curvature, their mean (which bounds the largest eigenvalue of
the data Hessian over ``W``) and their maximum, and the penalty's ``alpha /
(W min s^2)``: the bound behind scikit-learn's SAG step with the minibatch
interpolation. It is recomputed at every snapshot (log-link curvatures
change with ``theta``); an epoch whose averaged objective went up, or
overflowed, is discarded and the step halved for the rest of the fit.

**Stopping.** At every snapshot: the largest entry of the gradient of
``J / W`` in the standardised coordinates and the largest entry of the
tangent's residual ``(H t + rho) / W`` (the gradient of the quadratic
whose minimiser is the tangent) both at most ``tol``. ``max_iter`` counts
epochs: a pass of minibatch steps over the data in random order (on small
data several passes, up to 256 steps, so that an epoch moves before it is
averaged), then the full pass at the new snapshot.
"""

from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.extmath import safe_sparse_dot

from ._models import constant_columns, row_blocks

#: Default minibatch size on large data; small data get smaller batches
#: (``_auto_batch``: ``n // 32``, at least 1).
BATCH_SIZE = 256

# An averaged epoch may raise J / W by rounding, not more.
_ACCEPT_RTOL = 1e-9
_MIN_STEP_FACTOR = 2.0**-40
# The top eigenvalue of the data Hessian: power iteration on this many rows,
# at most this many products, and this margin on the estimate.
_EIG_ROWS = 20_000
_EIG_ITER = 30
_EIG_MARGIN = 2.0
# Minibatch steps per epoch on small data (several passes of steps).
_MIN_STEPS = 256


def _auto_batch(n):
    return int(min(BATCH_SIZE, max(1, n // 32)))


class Standardised:
    """The change of variables ``phi = M theta`` to standardised features.

    ``phi = [s * beta, b + xbar' beta]``; ``theta = M^-1 phi`` gives ``beta =
    gamma / s`` and ``b = c - xbar' beta``. The map is linear, so tangents
    map the same way. ``z~_i = [(x_i - xbar) / s, 1]`` are the rows of the
    design in these coordinates; products with them never centre a sparse
    ``X`` (the centring is one scalar per row).
    """

    def __init__(self, X, w, fit_intercept):
        self.n_features = p = X.shape[1]
        self.fit_intercept = fit_intercept
        W = float(np.sum(w))
        if fit_intercept:
            self.xbar = np.asarray(safe_sparse_dot(X.T, w)).ravel() / W
        else:
            self.xbar = np.zeros(p)
        if hasattr(X, "toarray"):
            sq = np.asarray(safe_sparse_dot(X.multiply(X).T, w)).ravel() / W
            var = sq - self.xbar**2
        else:
            # Centred block by block: exact for large means, and no copy of X.
            var = np.zeros(p)
            for rows in row_blocks(X.shape[0], p):
                centred = X[rows] - self.xbar
                var += np.einsum("ij,ij,i->j", centred, centred, w[rows])
            var /= W
        sd = np.sqrt(np.maximum(var, 0.0))
        ok = (sd > 0) & np.isfinite(sd)
        # Powers of two: exact scaling, and weights or repeated rows that
        # differ by rounding give the same coordinates (and iterates).
        self.s = np.where(ok, np.exp2(np.round(np.log2(np.where(ok, sd, 1.0)))), 1.0)
        # With an intercept a constant column duplicates it: its centred
        # column is zero and its (penalised) coefficient is held at 0.
        self.free = np.ones(p + bool(fit_intercept))
        if fit_intercept:
            self.free[:p][constant_columns(X)] = 0.0

    def to_theta(self, phi):
        """``theta = M^-1 phi`` (columns of ``phi`` mapped alike)."""
        p = self.n_features
        theta = np.array(phi, dtype=float, copy=True)
        theta[:p] = (phi[:p].T / self.s).T
        if self.fit_intercept:
            theta[p] = phi[p] - self.xbar @ theta[:p]
        return theta

    def from_theta(self, theta):
        p = self.n_features
        phi = np.array(theta, dtype=float, copy=True)
        if self.fit_intercept:
            phi[p] = theta[p] + self.xbar @ theta[:p]
        phi[:p] = (theta[:p].T * self.s).T
        return phi

    def eta(self, X, cols):
        """``Z~ cols`` for rows ``X`` and columns ``cols`` (n_phi, k)."""
        theta = self.to_theta(cols)
        p = self.n_features
        out = _products(X, theta[:p])
        if self.fit_intercept:
            out += theta[p]
        return out

    def lift(self, X, U):
        """``Z~' U`` for rows ``X`` and per-row values ``U`` (m, k)."""
        p = self.n_features
        XtU = _products(X.T, U)
        if not self.fit_intercept:
            return (XtU.T / self.s).T * self.free[:, None]
        total = U.sum(axis=0)
        out = np.empty((p + 1,) + U.shape[1:])
        out[:p] = ((XtU - np.multiply.outer(self.xbar, total)).T / self.s).T
        out[p] = total
        return out * self.free[:, None]

    def row_norms(self, X):
        """``|z~_i|^2`` for every row, without centring a sparse ``X``."""
        inv2 = 1.0 / self.s**2
        if hasattr(X, "toarray"):
            sq = np.asarray(safe_sparse_dot(X.multiply(X), inv2)).ravel()
        else:
            sq = np.einsum("ij,ij,j->i", X, X, inv2)
        if not self.fit_intercept:
            return sq
        cross = np.asarray(safe_sparse_dot(X, self.xbar * inv2)).ravel()
        return np.maximum(sq - 2 * cross + self.xbar**2 @ inv2, 0.0) + 1.0


def _products(A, B):
    """``A @ B`` for a dense ``B`` with few columns, column by column.

    scipy's sparse product with a block of vectors is several times slower
    than the same number of products with single vectors.
    """
    if not hasattr(A, "toarray"):
        return A @ B
    out = np.empty((A.shape[0], B.shape[1]))
    for k in range(B.shape[1]):
        out[:, k] = A @ np.ascontiguousarray(B[:, k])
    return out


def take_rows(X, rows):
    """The rows ``rows`` (sorted) of ``X``; CSR rows gathered in
    ``O(nnz of the rows)`` (scipy's fancy indexing also costs ``O(n)``)."""
    if not hasattr(X, "toarray"):
        return X[rows]
    indptr = X.indptr
    starts = indptr[rows]
    lengths = indptr[rows + 1] - starts
    new_indptr = np.zeros(rows.size + 1, dtype=indptr.dtype)
    np.cumsum(lengths, out=new_indptr[1:])
    pos = np.arange(new_indptr[-1], dtype=indptr.dtype)
    pos += np.repeat(starts - new_indptr[:-1], lengths)
    return type(X)(
        (X.data[pos], X.indices[pos], new_indptr), shape=(rows.size, X.shape[1])
    )


@dataclass
class Snapshot:
    """One full pass at ``(phi, tau)``: what the next epoch's steps need."""

    phi: np.ndarray
    tau: np.ndarray  # None when the tangent is not carried
    value: float  # J / W
    grad: np.ndarray  # gradient of J / W in phi
    data_grad: np.ndarray  # its data part
    a: np.ndarray  # w_i l'_i per row
    d: np.ndarray  # w_i l''_i per row
    q: np.ndarray  # w_i l''_i z~_i' tau per row (None without the tangent)
    data_htau: np.ndarray  # (Z~' D Z~ tau) / W
    residual: np.ndarray  # (H tau + rho) / W in phi


class SGDFProblem:
    """``J / W`` of a linear model in standardised coordinates, with the
    minibatch and full-pass products the SGDF loop takes."""

    def __init__(self, obj):
        if obj.model.dual:
            raise ValueError("solver='sgd' fits linear models only.")
        X = obj.design
        if hasattr(X, "toarray"):
            X = X.tocsr()  # rows are drawn: CSR, never densified
        self.X, self.y, self.w = X, obj.y, obj.w
        self.family, self.alpha = obj.family, obj.alpha
        self.n = X.shape[0]
        self.W = float(np.sum(obj.w))
        self.coords = Standardised(X, obj.w, obj.fit_intercept)
        p = self.coords.n_features
        # The penalty (alpha / 2W) |gamma / s|^2 has gradient pen * gamma.
        self.pen = np.zeros(p + bool(obj.fit_intercept))
        self.pen[:p] = self.alpha / (self.W * self.coords.s**2)
        self._row_norms = None
        self._sub_rows = self._sub_X = self._v = None

    @property
    def row_norms(self):
        if self._row_norms is None:
            self._row_norms = self.coords.row_norms(self.X)
        return self._row_norms

    def snapshot(self, phi, tau):
        """A full pass: value, gradient, ``H tau`` and the per-row terms."""
        cols = phi[:, None] if tau is None else np.column_stack([phi, tau])
        E = self.coords.eta(self.X, cols)
        eta = E[:, 0]
        fam, w = self.family, self.w
        with np.errstate(over="ignore", invalid="ignore"):
            value = float(w @ fam.loss(self.y, eta)) / self.W
            value += 0.5 * float(phi @ (self.pen * phi))
            a = w * fam.gradient(self.y, eta)
            d = w * fam.hessian(self.y, eta)
            U = a[:, None] if tau is None else np.column_stack([a, d * E[:, 1]])
            G = self.coords.lift(self.X, U) / self.W
        data_grad = G[:, 0]
        grad = data_grad + self.pen * phi
        q = data_htau = residual = None
        if tau is not None:
            q = U[:, 1]
            data_htau = G[:, 1]
            residual = data_htau + self.pen * (tau + phi)
        return Snapshot(phi, tau, value, grad, data_grad, a, d, q, data_htau, residual)

    def top_eigenvalue(self, d, rng):
        """The largest eigenvalue of the data Hessian over ``W``, estimated.

        Power iteration on ``(n / k) Z~_S' D_S Z~_S / W`` over a fixed
        uniform subsample ``S`` of ``k`` rows, warm-started from the last
        call's vector (the curvature moves little between snapshots).
        """
        if self._sub_rows is None:
            k = min(self.n, _EIG_ROWS)
            rows = rng.choice(self.n, size=k, replace=False) if k < self.n else None
            self._sub_rows = np.sort(rows) if rows is not None else np.arange(self.n)
            self._sub_X = self.X[self._sub_rows] if rows is not None else self.X
            self._v = rng.standard_normal(self.pen.size)
        rows, XS = self._sub_rows, self._sub_X
        dS = np.abs(d[rows]) * (self.n / (rows.size * self.W))
        v = self._v / np.linalg.norm(self._v)
        lam = 0.0
        for _ in range(_EIG_ITER):
            Hv = self.coords.lift(
                XS, (dS * self.coords.eta(XS, v[:, None])[:, 0])[:, None]
            )
            Hv = Hv[:, 0]
            new = float(v @ Hv)
            norm = np.linalg.norm(Hv)
            if not norm > 0 or not np.isfinite(norm):
                break
            v = Hv / norm
            if abs(new - lam) <= 1e-2 * new:
                lam = new
                break
            lam = new
        self._v = v
        return lam

    def step_size(self, snap, m, rng):
        """``1 / L(m)``: the minibatch smoothness bound of the module notes."""
        n = self.n
        L = (n / self.W) * np.abs(snap.d) * self.row_norms
        L_mean, L_max = float(np.mean(L)), float(np.max(L))
        # L_mean (a trace) always bounds the top eigenvalue; the estimate,
        # with a margin for its sampling and power-iteration error, is
        # tighter by up to the number of features.
        top = min(L_mean, _EIG_MARGIN * self.top_eigenvalue(snap.d, rng))
        if n > 1:
            a = n * (m - 1) / (m * (n - 1))
            b = (n - m) / (m * (n - 1))
        else:
            a, b = 0.0, 1.0
        bound = a * top + b * L_max + float(np.max(self.pen))
        return 1.0 / bound if bound > 0 and np.isfinite(bound) else 0.0


@dataclass
class SGDFRun:
    theta: np.ndarray
    tangent: np.ndarray  # None when the tangent was not carried
    n_epochs: int
    converged: bool
    gnorm: float  # the larger of the two stopping quantities at the end
    n_discarded: int  # epochs discarded (and the step halved)


def sgdf(
    obj,
    *,
    max_iter,
    tol,
    random_state=None,
    batch_size="auto",
    carry_tangent=True,
    start,
    fixed_theta=False,
    callback=None,
):
    """Run the SGDF loop on the objective ``obj`` (a primal linear model).

    ``start`` is the initial ``theta`` (the tangent starts at 0). Returns
    an :class:`SGDFRun` with ``theta`` and the tangent in the objective's
    layout. ``carry_tangent=False`` runs the same loop without
    the tangent (the benchmark's baseline). ``fixed_theta=True`` keeps
    ``theta`` at ``start`` and runs the tangent's recursion alone (the LiSSA
    reading, for tests); ``callback(phi, tau, rows, step)`` sees every
    iterate in the standardised coordinates with the rows of its batch.
    """
    prob = SGDFProblem(obj)
    coords, n = prob.coords, prob.n
    rng = check_random_state(random_state)
    m = _auto_batch(n) if batch_size == "auto" else int(min(batch_size, n))
    phi = coords.from_theta(np.asarray(start, dtype=float)) * coords.free
    tau = np.zeros_like(phi) if carry_tangent else None
    snap = prob.snapshot(phi, tau)
    if not np.isfinite(snap.value):
        raise ValueError(
            "The objective is not finite at the start point of solver='sgd'; "
            "check the targets and the features."
        )
    factor = 1.0
    X, y, w, fam, pen = prob.X, prob.y, prob.w, prob.family, prob.pen

    def measure(s):
        g = float(np.max(np.abs(s.grad))) if not fixed_theta else 0.0
        if s.residual is not None:
            g = max(g, float(np.max(np.abs(s.residual))))
        return g

    gnorm = measure(snap)
    epochs = discarded = 0
    while gnorm > tol and epochs < max_iter:
        epochs += 1
        step = factor * prob.step_size(snap, m, rng)
        phi, tau = snap.phi.copy(), None if tau is None else snap.tau.copy()
        phi_sum = np.zeros_like(phi)
        tau_sum = None if tau is None else np.zeros_like(tau)
        # One pass over the data in random order; on small data passes are
        # chained (each a new permutation) up to _MIN_STEPS steps, so that an
        # epoch moves as far as the step size allows before it is averaged.
        n_steps_epoch = max(-(-n // m), _MIN_STEPS)
        order = [rng.permutation(n) for _ in range(-(-n_steps_epoch * m // n))]
        order = order[0] if len(order) == 1 else np.concatenate(order)
        n_steps = 0
        with np.errstate(over="ignore", invalid="ignore"):
            for start_row in range(0, n_steps_epoch * m, m):
                rows = np.sort(order[start_row : start_row + m])
                XB = take_rows(X, rows)
                scale = n / (rows.size * prob.W)
                cols = phi[:, None] if tau is None else np.column_stack([phi, tau])
                E = coords.eta(XB, cols)
                wB, yB = w[rows], y[rows]
                if tau is None:
                    U = (wB * fam.gradient(yB, E[:, 0]) - snap.a[rows])[:, None]
                else:
                    U = np.empty((rows.size, 2))
                    U[:, 0] = wB * fam.gradient(yB, E[:, 0]) - snap.a[rows]
                    dB = wB * fam.hessian(yB, E[:, 0])
                    U[:, 1] = dB * E[:, 1] - snap.q[rows]
                G = coords.lift(XB, U)
                G *= scale
                if not fixed_theta:
                    g = G[:, 0] + snap.data_grad + pen * phi
                if tau is not None:
                    r = G[:, 1] + snap.data_htau + pen * (tau + phi)
                    tau -= step * r
                    tau_sum += tau
                if not fixed_theta:
                    phi -= step * g
                phi_sum += phi
                n_steps += 1
                if callback is not None:
                    callback(phi, tau, rows, step)
        # theta held fixed stays bit for bit (an average of equal vectors
        # need not round back to them).
        new_phi = snap.phi if fixed_theta else phi_sum / n_steps
        new_tau = None if tau is None else tau_sum / n_steps
        finite = np.all(np.isfinite(new_phi)) and (
            new_tau is None or np.all(np.isfinite(new_tau))
        )
        new = prob.snapshot(new_phi, new_tau) if finite else None
        worse = new is None or not np.isfinite(new.value)
        if not worse and not fixed_theta:
            worse = new.value > snap.value + _ACCEPT_RTOL * abs(snap.value)
        if worse or not np.isfinite(measure(new)):
            # Too long a step for this curvature: discard the epoch.
            factor *= 0.5
            discarded += 1
            if factor < _MIN_STEP_FACTOR:
                break
            continue
        snap = new
        gnorm = measure(snap)
    theta = coords.to_theta(snap.phi)
    tangent = None if snap.tau is None else coords.to_theta(snap.tau)
    return SGDFRun(
        theta=theta,
        tangent=tangent,
        n_epochs=epochs,
        converged=bool(gnorm <= tol),
        gnorm=gnorm,
        n_discarded=discarded,
    )
