r"""The influence functions of a multinomial model (``K > 2`` classes).

What :mod:`sktangent.influence` computes for a
:class:`~sktangent._multinomial.MultinomialState`, on validated rows and
class indices. The parameters are laid out as the objective's :math:`\theta`,
class by class, ``[beta_1, b_1, beta_2, b_2, ...]`` in blocks of ``q =
n_features + fit_intercept`` (the model's features: the rows for a linear
model, :math:`\phi(x)` for a kernel model).

A point :math:`z = (x, y)` enters through :math:`J_x = I_K \otimes \tilde
x^\top` (:math:`\eta(x) = J_x\theta`) and its residual :math:`r = p - e_y`,
the gradient of :math:`\ell = \operatorname{logsumexp}(\eta) - \eta_y` in
:math:`\eta`: :math:`\nabla_\theta\ell(z) = J_x^\top r`. Every gradient is
orthogonal to the intercept-sum direction :math:`u` along which :math:`H` is
singular (:math:`\sum_k r_k = 0`), so the Hessian's solves give the
solution with :math:`\sum_k b_k = 0`, the one a refit reaches.

Removing point :math:`i` (weight :math:`w_i`) is one Newton step from the
optimum with :math:`H_{-i} = H - w_i J_i^\top D_i J_i`, :math:`D_i =
\operatorname{diag}(p_i) - p_i p_i^\top`. Woodbury gives

.. math::

    \theta_{-i} - \theta^* = w_i H^{-1} J_i^\top v_i, \qquad
    v_i = (I - w_i D_i C_i)^{-1} r_i, \qquad C_i = J_i H^{-1} J_i^\top,

the :math:`K`-dimensional form of the binomial ``w l' / (1 - h)``. Since
:math:`\mathbf 1^\top D_i = 0`, :math:`\mathbf 1^\top v_i = 0`: the part of
:math:`C_i` along :math:`\mathbf 1` that the regularised solve adds does not
reach the result.
"""

from functools import cached_property

import numpy as np
from scipy.special import logsumexp, softmax

from ._implicit import IllConditionedError
from ._models import row_blocks
from ._multinomial import curvatures
from ._multinomial import design_rows as design


def residuals(eta, codes):
    """``p - e_y``, shape (m, K)."""
    R = softmax(eta, axis=1)
    R[np.arange(R.shape[0]), codes] -= 1.0
    return R


def loss(eta, codes):
    """The log-loss ``logsumexp(eta) - eta_y`` of every row."""
    with np.errstate(over="ignore", invalid="ignore"):
        return logsumexp(eta, axis=-1) - np.take_along_axis(
            eta, codes[..., None], axis=-1
        ).squeeze(-1)


def lift(Ft, R):
    r""":math:`J_x^\top r` for every row, in the layout of :math:`\theta`:
    shape (m, K q)."""
    return (R[:, :, None] * Ft[:, None, :]).reshape(Ft.shape[0], -1)


def solve_rows(hessian, G):
    """``H^-1 g`` for every row ``g`` of ``G`` (each orthogonal to ``u``)."""
    if G.shape[0] == 0:
        return np.zeros_like(G)
    if hessian.factorisation == "multinomial":
        return hessian.solve(G.T).T
    # Conjugate gradients: one solve per row.
    return np.vstack([hessian.solve(g) for g in G])


def eta_covariance(hessian, Ft, n_classes):
    r""":math:`C_x = J_x H^{-1} J_x^\top` for every row, shape (m, K, K)."""
    m, K = Ft.shape[0], n_classes
    out = np.empty((m, K, K))
    if hessian.factorisation == "multinomial":
        for rows in row_blocks(m, K * K * Ft.shape[1]):
            out[rows] = hessian.eta_covariance(Ft[rows])
        return out
    eye = np.eye(K)
    for i in range(m):
        J = np.kron(eye, Ft[i])  # (K, K q)
        out[i] = J @ solve_rows(hessian, J).T
    return out


def optimality(state, Ft, R, w):
    r"""``grad J`` of the training data at the fitted :math:`\theta`, and the
    size of its largest terms (entry by entry)."""
    wR = w[:, None] * R
    pen = state.alpha * np.asarray(state.coef)
    if state.fit_intercept:  # the intercepts are not penalised
        pen = np.column_stack([pen, np.zeros(state.n_classes)])
    grad = (wR.T @ Ft + pen).ravel()
    size = (np.abs(wR).T @ np.abs(Ft) + np.abs(pen)).ravel()
    return grad, size


class Points:
    r"""Labelled points of a multinomial state, with :math:`-H^{-1}\nabla_\theta
    \ell` for each.

    ``directions`` holds the parameter influences :math:`I(z) = -H^{-1}
    J_x^\top r` (m, K q), the only solves with :math:`H`; they are computed
    on first use, after the training data have been checked.
    """

    def __init__(self, state, X, codes):
        self.state = state
        self.codes = codes
        self.Ft = design(state, X)
        # eta from the rows already built: a kernel model's k(X, X_fit) once.
        n_coef = state.coef.shape[1]
        self.eta = self.Ft[:, :n_coef] @ state.coef.T + state.intercept
        self.R = residuals(self.eta, codes)
        self.gradients = lift(self.Ft, self.R)

    @cached_property
    def directions(self):
        return -solve_rows(self.state.hessian, self.gradients)

    def relative_directions(self):
        r"""The directions divided by their norms (0 for a point fitted
        exactly): the RelatIF normalisation."""
        norms = np.linalg.norm(self.directions, axis=1)
        scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        return self.directions * scale[:, None]


def decision_influence(Ft_test, D, n_classes):
    r"""``out[t, j, k] = x~_t . D_j[k]``: how the parameter change ``D_j``
    moves :math:`\eta_k(x_t)`, shape (n_test, n_points, K)."""
    n_test, n = Ft_test.shape[0], D.shape[0]
    blocks = D.reshape(n, n_classes, -1)
    out = np.empty((n_test, n, n_classes))
    for rows in row_blocks(n_test, n * n_classes):
        out[rows] = np.einsum("tq,jkq->tjk", Ft_test[rows], blocks)
    return out


def self_influence(points):
    r""":math:`I(z, z) = -\nabla\ell^\top H^{-1}\nabla\ell`, row by row."""
    return np.einsum("ij,ij->i", points.gradients, points.directions)


def loo_steps(points, w):
    r"""The leave-one-out Newton steps of the training points.

    Returns ``(V, shift, leverage)``: ``V`` (n, K) with :math:`w_i v_i`, the
    change :math:`\eta_{-i}(x_i) - \eta(x_i) = w_i C_i v_i` (n, K) and the
    leverage :math:`\operatorname{tr}(w_i D_i C_i)`.
    """
    state = points.state
    K = state.n_classes
    C = eta_covariance(state.hessian, points.Ft, K)
    P = softmax(points.eta, axis=1)
    D = curvatures(P)
    A = w[:, None, None] * np.einsum("ikl,ilm->ikm", D, C)  # w_i D_i C_i
    # The eigenvalues of D C are those of D^1/2 C D^1/2: real, and below one
    # unless the model interpolates the point.
    top = np.max(np.real(np.linalg.eigvals(A)), axis=1) if len(A) else np.zeros(0)
    if np.any(top >= 1.0 - 1e-12):
        raise IllConditionedError(
            "A training point has leverage 1 to rounding precision: the model "
            "interpolates it and its leave-one-out fit is undefined. Increase "
            "alpha."
        )
    V = np.linalg.solve(np.eye(K) - A, points.R[:, :, None])[:, :, 0]
    V *= w[:, None]
    shift = np.einsum("ikl,il->ik", C, V)
    leverage = np.trace(A, axis1=1, axis2=2)
    return V, shift, leverage


def removal_directions(points, V):
    r""":math:`\theta_{-i} - \theta^* = w_i H^{-1} J_i^\top v_i`, shape (n, K q)."""
    return solve_rows(points.state.hessian, lift(points.Ft, V))


def harm(points, w, X_val, codes_val, eta_val, method):
    r"""Validation log-loss with each training point minus without it.

    ``"newton"``: the loss at :math:`\eta(x_v) + J_v (\theta_{-i} -
    \theta^*)`, in blocks of validation rows; ``"influence"``: the first
    order :math:`w_i \sum_v I(z_i, z_v) = w_i (\sum_v \nabla\ell_v)^\top
    I(z_i)`, one product.
    """
    state = points.state
    Ft_val = design(state, X_val)
    if method == "influence":
        grad_val = lift(Ft_val, residuals(eta_val, codes_val)).sum(axis=0)
        return w * (points.directions @ grad_val)
    n, K = len(w), state.n_classes
    V, _, _ = loo_steps(points, w)
    steps = removal_directions(points, V).reshape(n, K, -1)
    loss_val = loss(eta_val, codes_val)
    out = np.zeros(n)
    for rows in row_blocks(Ft_val.shape[0], n * K):
        moved = eta_val[rows, None, :] + np.einsum("vq,ikq->vik", Ft_val[rows], steps)
        codes = np.broadcast_to(codes_val[rows, None], moved.shape[:2])
        out += loss_val[rows].sum() - loss(moved, codes).sum(axis=0)
    return out
