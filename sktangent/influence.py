r"""Influence functions of a fitted :class:`~sktangent.TangentRegressor` or
:class:`~sktangent.TangentClassifier`.

Every function takes the fitted estimator and labelled points ``X, y`` --
usually the training data, which the estimator does not keep -- and is
built from one quantity, the posterior covariance scale

.. math::

    S(x, x') = \nabla_\theta \eta(x)^\top H^{-1} \nabla_\theta \eta(x'),

with :math:`H` the Hessian of the objective at the optimum (in function
space for kernel models). Since :math:`\nabla_\theta \ell(z) = \ell'(y,
\eta(x))\, \nabla_\theta \eta(x)`, the influence functions of
:ref:`section 5 of the theory page <theory-influence>`
are products of :math:`S` and the loss derivatives :math:`\ell'`.

The estimator may be a fitted :class:`~sktangent.TangentRegressor`, a
fitted :class:`~sktangent.TangentRegressorCV` (its model at the chosen
alpha), a fitted :class:`~sktangent.TangentClassifier`, or a fitted
:class:`~sklearn.pipeline.Pipeline` (or search) ending in one: points are
then given in the pipeline's input space and transformed by its earlier
steps.

**Classifiers.** The labels are class labels, encoded with the classifier's
``classes_`` (a label it was not fitted on raises a ValueError). With two
classes the model is the binomial one on the targets ``y = [label ==
classes_[1]]`` and every result is that of the binomial
:class:`~sktangent.TangentRegressor`; the margin is the decision function,
the log-odds of ``classes_[1]``. With :math:`K > 2` classes the loss is the
log-loss :math:`\operatorname{logsumexp}(\eta) - \eta_y` of the
:math:`K` linear predictors: the prediction influences gain a last axis,
one column per class of the decision function; the parameter influences are
laid out as the model's :math:`\theta`, class by class (``[coef_k,
intercept_k]`` for ``k = 0, ..., K - 1``); the leave-one-out predictions are
class probabilities, one column per class.

**Sign convention.** An influence is the derivative with respect to the
weight of a point :math:`z` in the objective, :math:`J + \varepsilon
\ell(z)` at :math:`\varepsilon = 0` (*up-weighting*). It is positive when
more weight on the point increases the quantity. For a loss, positive means
that the point is *harmful* to that loss: removing it would lower the loss
(to first order); negative means *helpful*. Removing a training point of
weight :math:`w_i` is the step :math:`\varepsilon = -w_i`.

Influence matrices have one row per test point and one column per training
point, and are computed in blocks of test rows: besides the output, no array
of that size is held. Kernel models also hold one array of the size of the
training kernel matrix.
"""

from numbers import Integral

import numpy as np
from scipy.special import softmax
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch, _safe_indexing
from sklearn.utils.validation import check_consistent_length

from . import _multinomial_influence as _mi
from ._classifier import TangentClassifier
from ._covariance import covariance_scale, dense
from ._estimator import TangentRegressor
from ._loo import leave_one_out as _leave_one_out
from ._loo import loo_shift
from ._models import NystroemModel, row_blocks
from ._multinomial import MultinomialState, one_hot
from ._strategy import unwrap
from ._validation import (
    check_finite_scores,
    check_target,
    check_weights,
    class_codes,
)

__all__ = [
    "drop_harmful",
    "harm_score",
    "leave_one_out",
    "loss_influence",
    "memorisation_score",
    "parameter_influence",
    "prediction_influence",
    "self_influence",
]

# The optimality check of the training data: relative violation allowed,
# and the multiple of ``tol * sum(w)`` allowed to the iterative solvers.
_OPTIMALITY_RTOL = 1e-4
_OPTIMALITY_TOL_FACTOR = 10.0


# ----------------------------------------------------------------- validation
def _check_estimator(estimator):
    """The fitted state, the map to its rows and the encoder of its labels.

    Accepts what the query strategies accept (a Pipeline ending in the
    model, TangentRegressorCV, a search CV): the points are passed through
    the pipeline's earlier steps first. A classifier's labels are encoded
    with its ``classes_``: 0/1 floats for the binomial state of two classes,
    class indices for the multinomial state.
    """
    try:
        est, transform = unwrap(estimator)
    except TypeError:
        est = None
    if not isinstance(est, (TangentRegressor, TangentClassifier)):
        raise TypeError(
            "The influence functions need a fitted TangentRegressor, "
            "TangentClassifier, TangentRegressorCV, or a Pipeline (or search CV) "
            f"ending in one; got {type(estimator).__name__}."
        )

    def prep(X):
        return X if transform is None else transform.transform(X)

    if isinstance(est, TangentClassifier):
        classes = est.classes_
        binary = len(classes) == 2

        def encode(y, name):
            codes = class_codes(classes, y, name)
            return codes.astype(np.float64) if binary else codes

    else:

        def encode(y, name):
            return check_target(y, name)

    return est.fitted_state_, prep, encode


def _multinomial(state):
    return isinstance(state, MultinomialState)


def _labelled(state, encode, X, y, name="X"):
    """Validated ``X``, ``y`` (encoded; in the family's support) and ``eta(X)``."""
    X = state.validate_query(X)
    y_name = "y" if name == "X" else name.replace("X", "y")
    y = encode(y, y_name)
    check_consistent_length(X, y)
    if not _multinomial(state):
        state.family.check_y(y)
    return X, y, state.eta(X)


def _check_points(state, X):
    """With a precomputed kernel, ``X`` must be the training kernel matrix.

    Influences need ``k`` between the test points and the points whose
    influence is wanted; a precomputed kernel only provides it against the
    training points.
    """
    if not state.model.precomputed:
        return
    X_fit = state.X_fit
    same = X.shape == X_fit.shape and np.array_equal(dense(X), dense(X_fit))
    if not same:
        raise ValueError(
            "With kernel='precomputed' only the training points have known "
            "kernel values against other points: pass the training kernel "
            "matrix (the X given to fit) as X."
        )


def _training_set(state, encode, X, y, sample_weight):
    """Validate the training data, and check that the fit is their optimum.

    The estimator keeps neither ``y`` nor the weights; a wrong ``y`` or
    forgotten weights would silently give wrong leave-one-out values, so the
    stationarity condition ``grad J = 0`` is checked, loosely. A multinomial
    state gets its points (``_multinomial_influence.Points``)
    in place of ``eta``.
    """
    X, y, eta = _labelled(state, encode, X, y)
    _check_points(state, X)
    w = check_weights(sample_weight, X)
    if _multinomial(state):
        points = _mi.Points(state, X, y)
        grad, size = _mi.optimality(state, points.Ft, points.R, w)
        _check_optimum(state, grad, size, w)
        return X, y, w, points
    g = w * state.family.gradient(y, eta)
    # The alpha that was fitted, whatever the estimator's alpha is now.
    alpha, coef = state.alpha, state.coef
    grad, size = state.model.optimality(X, g, coef, alpha)
    if state.fit_intercept:
        grad = np.append(grad, np.sum(g))
        size = np.append(size, np.sum(np.abs(g)))
    _check_optimum(state, grad, size, w)
    return X, y, w, eta


def _check_optimum(state, grad, size, w):
    """Raise unless ``grad J`` is small against its terms ``size``."""
    slack = 0.0
    if state.solver != "cholesky":  # the closed form of the normal family
        slack = _OPTIMALITY_TOL_FACTOR * state.tol * float(np.sum(w))
    # Norm-wise, not entry by entry: ill-conditioned kernel systems leave
    # rounding errors of the size of the largest terms in every entry.
    violation, scale = np.max(np.abs(grad)), np.max(size)
    if violation > _OPTIMALITY_RTOL * scale + slack:
        raise ValueError(
            "X, y and sample_weight are not the data the estimator was fitted "
            "on: the fitted parameters do not minimise their objective (largest "
            f"gradient entry {violation:.3g}, against terms of size up to "
            f"{scale:.3g}). Pass the X, y and sample_weight given to fit, in the "
            "same order."
        )


def _scale(state, X):
    """The covariance scale against the points ``X`` (validated)."""
    _check_points(state, X)
    return covariance_scale(state, X)


def _influence_matrix(scale, X_test, test_factor, point_factor, n_points):
    """``test_factor[t] * S(x_t, x_j) * point_factor[j]``, block by block."""
    out = np.empty((X_test.shape[0], n_points))
    for rows in row_blocks(X_test.shape[0], n_points):
        block = scale.cross(X_test[rows])
        block *= point_factor
        block *= np.asarray(test_factor)[rows, None]
        out[rows] = block
    return check_finite_scores(out, "influences")


def _point_factor(state, scale, y, eta, relative):
    """``-l'(z_j)``, or ``-sign(l'(z_j)) / |H^-1 grad eta(x_j)|`` for RelatIF."""
    lp = state.family.gradient(y, eta)
    if not relative:
        return -lp
    norms = scale.norms()
    return -np.divide(np.sign(lp), norms, out=np.zeros_like(lp), where=norms > 0)


def _influence_products(test_gradients, directions):
    """``grad l(z_t) . D_j`` for every test and training point, in blocks."""
    n_test, n = test_gradients.shape[0], directions.shape[0]
    out = np.empty((n_test, n))
    for rows in row_blocks(n_test, n):
        out[rows] = test_gradients[rows] @ directions.T
    return check_finite_scores(out, "influences")


# --------------------------------------------------------- public functions
def parameter_influence(estimator, X, y):
    r"""Influence of points on the coefficients of a linear model.

    Read more in the :ref:`User Guide <influence>`.

    Parameters
    ----------
    estimator : TangentRegressor, TangentRegressorCV, TangentClassifier or Pipeline
        A fitted linear model (``kernel=None``), or a Nyström kernel model
        (``n_components``), whose parameters are its coefficients on the
        Nyström features (``coef_``).
    X : {array-like, sparse matrix} of shape (n_points, n_features)
        The points :math:`z = (x, y)` whose influence is wanted, usually
        training points.
    y : array-like of shape (n_points,)
        Their labels (class labels for a classifier).

    Returns
    -------
    influence : ndarray of shape (n_points, n_features + fit_intercept)
        :math:`I(z) = d\theta^*/d\varepsilon = -H^{-1}\nabla_\theta \ell(z)`
        for each point: the rate at which up-weighting it moves ``coef_``
        and, in the last column when an intercept is fitted, ``intercept_``.
        A classifier of :math:`K > 2` classes gives shape (n_points,
        n_classes * (n_features + fit_intercept)), laid out class by class:
        ``influence.reshape(n_points, n_classes, -1)[:, k]`` moves
        ``coef_[k]`` and, in its last column, ``intercept_[k]``.

    See Also
    --------
    prediction_influence : The same influence seen through the predictions;
        the form available for kernel models.

    Notes
    -----
    With :math:`\nabla_\theta \ell(z) = \ell'(y, \eta(x))\, \tilde x`,

    .. math::

        I(z) = -\ell'(y, \eta(x))\, H^{-1} \tilde x.

    Examples
    --------
    >>> import numpy as np
    >>> from sktangent import TangentRegressor
    >>> from sktangent.influence import parameter_influence
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(40, 3))
    >>> y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=40)
    >>> model = TangentRegressor(alpha=1.0).fit(X, y)
    >>> parameter_influence(model, X, y).shape
    (40, 4)
    """
    state, prep, encode = _check_estimator(estimator)
    # A Nyström model's parameters are its coefficients on the features.
    if state.model.kernel is not None and not isinstance(state.model, NystroemModel):
        raise ValueError(
            "A kernel model has no finite parameter vector to differentiate: "
            "use prediction_influence(estimator, X, y, X_test) for the "
            "influence on the fitted function at the points X_test."
        )
    X, y, eta = _labelled(state, encode, prep(X), y)
    if _multinomial(state):
        out = _mi.Points(state, X, y).directions
        return check_finite_scores(out, "parameter influences")
    with np.errstate(over="ignore", invalid="ignore"):
        out = -state.family.gradient(y, eta)[:, None] * _scale(state, X).directions()
    return check_finite_scores(out, "parameter influences")


def prediction_influence(estimator, X, y, X_test, *, relative=False):
    r"""Influence of points on the predictions at test points (margin form).

    Read more in the :ref:`User Guide <influence>`.

    Parameters
    ----------
    estimator : TangentRegressor, TangentRegressorCV, TangentClassifier or Pipeline
        A fitted model, linear or kernel, of any family or number of classes.
    X : {array-like, sparse matrix} of shape (n_points, n_features)
        The points whose influence is wanted, usually the training data.
    y : array-like of shape (n_points,)
        Their labels (class labels for a classifier).
    X_test : {array-like, sparse matrix} of shape (n_test, n_features)
        Where the predictions are taken.
    relative : bool, default=False
        Divide each column by :math:`\|H^{-1}\nabla_\theta \ell(z)\|`, as
        for the relative influence of :func:`loss_influence`.

    Returns
    -------
    influence : ndarray of shape (n_test, n_points)
        :math:`d\eta(x_t)/d\varepsilon_j = -\ell'(z_j)\, S(x_t, x_j)`, the
        rate at which up-weighting point :math:`j` moves the linear predictor
        (the raw prediction, the margin of the binomial family) at
        :math:`x_t`. Multiply row :math:`t` by :math:`\mu'(\eta(x_t))` for
        the mean. For a classifier the linear predictor is
        ``decision_function``; with :math:`K > 2` classes the shape is
        (n_test, n_points, n_classes), the last axis its columns:
        :math:`d\eta_k(x_t)/d\varepsilon_j = -\big(C(x_t, x_j)
        (p_j - e_{y_j})\big)_k` with :math:`C(x, x') = J_x H^{-1}
        J_{x'}^\top` the :math:`K \times K` cross-covariance of the linear
        predictors.

    Notes
    -----
    .. math::

        \frac{d\eta(x')}{d\varepsilon}
        = -\nabla_\theta\eta(x')^\top H^{-1}\nabla_\theta\ell(z)
        = -\ell'(y, \eta(x))\, S(x', x).

    Examples
    --------
    >>> import numpy as np
    >>> from sktangent import TangentRegressor
    >>> from sktangent.influence import prediction_influence
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-3, 3, size=(40, 1))
    >>> y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=40)
    >>> model = TangentRegressor(alpha=0.1, kernel="rbf").fit(X, y)
    >>> prediction_influence(model, X, y, [[0.0], [1.0]]).shape
    (2, 40)

    A classifier of three classes has one column per class of its
    ``decision_function``:

    >>> from sklearn.datasets import load_iris
    >>> from sktangent import TangentClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = TangentClassifier(alpha=1.0).fit(X, y)
    >>> prediction_influence(clf, X, y, X[:2]).shape
    (2, 150, 3)
    """
    state, prep, encode = _check_estimator(estimator)
    X, y, eta = _labelled(state, encode, prep(X), y)
    X_test = state.validate_query(prep(X_test))
    if _multinomial(state):
        points = _mi.Points(state, X, y)
        D = points.relative_directions() if relative else points.directions
        out = _mi.decision_influence(_mi.design(state, X_test), D, state.n_classes)
        return check_finite_scores(out, "influences")
    scale = _scale(state, X)
    factor = _point_factor(state, scale, y, eta, relative)
    return _influence_matrix(
        scale, X_test, np.ones(X_test.shape[0]), factor, X.shape[0]
    )


def loss_influence(estimator, X, y, X_test, y_test, *, relative=False):
    r"""Influence of points on the losses at test points (up-weighting form).

    Read more in the :ref:`User Guide <influence>`.

    Parameters
    ----------
    estimator : TangentRegressor, TangentRegressorCV, TangentClassifier or Pipeline
        A fitted model, linear or kernel, of any family or number of classes.
    X : {array-like, sparse matrix} of shape (n_points, n_features)
        The points whose influence is wanted, usually the training data.
    y : array-like of shape (n_points,)
        Their labels (class labels for a classifier).
    X_test : {array-like, sparse matrix} of shape (n_test, n_features)
        Test points.
    y_test : array-like of shape (n_test,)
        Their labels.
    relative : bool, default=False
        Return the relative influence (RelatIF): each column divided by the
        size :math:`\|H^{-1}\nabla_\theta \ell(z_j)\|` of the parameter
        change the point causes, so that points that move the model a lot in
        every direction do not dominate the ranking.

    Returns
    -------
    influence : ndarray of shape (n_test, n_points)
        :math:`I(z_j, z_t) = d\ell(z_t)/d\varepsilon_j`, positive when
        up-weighting training point :math:`j` increases the loss at test
        point :math:`t` (the point is harmful to it).

    See Also
    --------
    self_influence : The diagonal :math:`I(z, z)`.
    harm_score : The effect of removing each training point on a whole
        validation set.

    Notes
    -----
    .. math::

        I(z, z') = -\nabla_\theta\ell(z')^\top H^{-1}\nabla_\theta\ell(z)
                 = -\ell'(z')\, \ell'(z)\, S(x', x).

    The norm of the relative influence is the Euclidean norm of
    :math:`H^{-1}\nabla_\theta \ell(z)` over the coefficients and the
    intercept for linear models. For kernel models it is the norm in the
    kernel's function space plus the intercept,
    :math:`(\|u_f\|_{\mathcal H}^2 + u_b^2)^{1/2}`, which coincides with the
    linear model's norm for the linear kernel.

    For a classifier of :math:`K > 2` classes the loss is the log-loss, with
    :math:`\nabla_\theta \ell(z) = J_x^\top (p - e_y)`, so that
    :math:`I(z, z') = -(p' - e_{y'})^\top C(x', x)\, (p - e_y)`
    (:math:`C` as in :func:`prediction_influence`); the norm of the relative
    influence runs over the coefficients and intercepts of every class.

    Examples
    --------
    >>> import numpy as np
    >>> from sktangent import TangentRegressor
    >>> from sktangent.influence import loss_influence
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(40, 3))
    >>> y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=40)
    >>> model = TangentRegressor(alpha=1.0).fit(X[:30], y[:30])
    >>> loss_influence(model, X[:30], y[:30], X[30:], y[30:]).shape
    (10, 30)
    """
    state, prep, encode = _check_estimator(estimator)
    X, y, eta = _labelled(state, encode, prep(X), y)
    X_test, y_test, eta_test = _labelled(
        state, encode, prep(X_test), y_test, name="X_test"
    )
    if _multinomial(state):
        points = _mi.Points(state, X, y)
        D = points.relative_directions() if relative else points.directions
        test = _mi.Points(state, X_test, y_test)
        return _influence_products(test.gradients, D)
    scale = _scale(state, X)
    factor = _point_factor(state, scale, y, eta, relative)
    test_factor = state.family.gradient(y_test, eta_test)
    return _influence_matrix(scale, X_test, test_factor, factor, X.shape[0])


def self_influence(estimator, X, y):
    r"""Influence of each point on its own loss.

    Read more in the :ref:`User Guide <influence>`.

    Parameters
    ----------
    estimator : TangentRegressor, TangentRegressorCV, TangentClassifier or Pipeline
        A fitted model, linear or kernel, of any family or number of classes.
    X : {array-like, sparse matrix} of shape (n_points, n_features)
        The points, usually the training data.
    y : array-like of shape (n_points,)
        Their labels (class labels for a classifier).

    Returns
    -------
    influence : ndarray of shape (n_points,)
        :math:`I(z, z) = -\ell'(z)^2\, S(x, x)`, never positive: more weight
        on a point always fits it better. Large negative values mark points
        the model bends towards, such as outliers. For a classifier of
        :math:`K > 2` classes, :math:`-(p - e_y)^\top C(x, x)\, (p - e_y)`
        with :math:`C(x, x) = J_x H^{-1} J_x^\top`.

    Examples
    --------
    >>> import numpy as np
    >>> from sktangent import TangentRegressor
    >>> from sktangent.influence import self_influence
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(40, 3))
    >>> y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=40)
    >>> model = TangentRegressor(alpha=1.0).fit(X, y)
    >>> bool(np.all(self_influence(model, X, y) <= 0))
    True
    """
    state, prep, encode = _check_estimator(estimator)
    X, y, eta = _labelled(state, encode, prep(X), y)
    if _multinomial(state):
        out = _mi.self_influence(_mi.Points(state, X, y))
        return check_finite_scores(out, "self-influences")
    with np.errstate(over="ignore", invalid="ignore"):
        out = -(state.family.gradient(y, eta) ** 2) * _scale(state, X).diag()
    return check_finite_scores(out, "self-influences")


def leave_one_out(estimator, X, y, *, sample_weight=None):
    r"""Leave-one-out predictions and residuals of the training points.

    Read more in the :ref:`User Guide <influence>`.

    Parameters
    ----------
    estimator : TangentRegressor, TangentRegressorCV, TangentClassifier or Pipeline
        A fitted model, linear or kernel, of any family or number of classes.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The training data given to ``fit``, in the same order.
    y : array-like of shape (n_samples,)
        The training targets (class labels for a classifier).
    sample_weight : array-like of shape (n_samples,), default=None
        The sample weights given to ``fit``.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        With the arrays of shape (n_samples,)

        predictions
            :math:`\mu_{-i}(x_i)`, the mean predicted at :math:`x_i` by the
            model fitted without point :math:`i`.
        residuals
            :math:`y_i - \mu_{-i}(x_i)`.
        linear_predictor
            :math:`\eta_{-i}(x_i)`.
        leverage
            :math:`h_i = w_i \ell''_i S(x_i, x_i)`, the diagonal of the hat
            matrix of the (last IRLS step of the) fit.

        For a classifier of two classes the predictions are the probabilities
        of ``classes_[1]`` and the residuals those of the targets
        ``[y == classes_[1]]``. With :math:`K > 2` classes ``predictions``
        are the class probabilities :math:`p_{-i}(x_i)`, ``residuals`` the
        one-hot labels minus them and ``linear_predictor`` the decision
        function :math:`\eta_{-i}(x_i)`, all of shape (n_samples, n_classes);
        ``leverage`` is :math:`\operatorname{tr}(w_i D_i C_i)`, shape
        (n_samples,).

    Raises
    ------
    ValueError
        If ``X``, ``y`` and ``sample_weight`` are not the training data: the
        fitted parameters must minimise their objective.

    Notes
    -----
    Removing point :math:`i` is one Newton step from the optimum,

    .. math::

        \theta_{-i} \approx \theta^* + \frac{w_i H^{-1}\nabla_\theta
        \ell_i}{1 - h_i}, \qquad
        \eta_{-i}(x) = \eta(x) + \frac{w_i \ell'_i\, S(x, x_i)}{1 - h_i},

    the Sherman--Morrison form of :math:`H_{-i}^{-1}`. For the normal family
    the objective is quadratic and the step exact: the residual is
    :math:`r_i / (1 - h_i)`, for kernel models the classical
    :math:`c_i / (G^{-1})_{ii}` with :math:`G = K + \alpha W^{-1}` (bordered
    with the intercept). For the other families it is the one-step
    approximation of a refit, closer to it than the plain influence
    approximation :math:`\theta^* + w_i H^{-1}\nabla_\theta\ell_i`.
    A point of zero weight keeps its fitted value.

    With :math:`K > 2` classes the point's curvature is the :math:`K \times
    K` matrix :math:`w_i D_i`, :math:`D_i = \operatorname{diag}(p_i) - p_i
    p_i^\top`, and Woodbury's identity takes the place of Sherman--Morrison:

    .. math::

        \eta_{-i}(x) = \eta(x) + w_i\, C(x, x_i)\, (I - w_i D_i C_i)^{-1}
        (p_i - e_{y_i}), \qquad C_i = C(x_i, x_i),

    with :math:`C(x, x') = J_x H^{-1} J_{x'}^\top` the cross-covariance of
    the linear predictors.

    Examples
    --------
    >>> import numpy as np
    >>> from sktangent import TangentRegressor
    >>> from sktangent.influence import leave_one_out
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(40, 3))
    >>> y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=40)
    >>> model = TangentRegressor(alpha=1.0).fit(X, y)
    >>> loo = leave_one_out(model, X, y)
    >>> bool(np.all(np.abs(loo.residuals) >= np.abs(y - model.predict(X))))
    True
    """
    state, prep, encode = _check_estimator(estimator)
    X, y, w, points = _training_set(state, encode, prep(X), y, sample_weight)
    if _multinomial(state):
        _, shift, leverage = _mi.loo_steps(points, w)
        eta = points.eta + shift
        proba = softmax(eta, axis=1)
        check_finite_scores(np.column_stack([proba, eta]), "leave-one-out predictions")
        return Bunch(
            predictions=proba,
            residuals=one_hot(y, state.n_classes) - proba,
            linear_predictor=eta,
            leverage=leverage,
        )
    loo = _leave_one_out(state, X, y, w, S=_scale(state, X).diag())
    mu = state.family.inverse_link(loo.eta)
    check_finite_scores(np.column_stack([mu, loo.eta]), "leave-one-out predictions")
    return Bunch(
        predictions=mu,
        residuals=y - mu,
        linear_predictor=loo.eta,
        leverage=loo.leverage,
    )


def memorisation_score(estimator, X, y, *, sample_weight=None):
    r"""How much better each training point is fitted because it was seen.

    Read more in the :ref:`User Guide <influence>`.

    Parameters
    ----------
    estimator : TangentRegressor, TangentRegressorCV, TangentClassifier or Pipeline
        A fitted model, linear or kernel, of any family or number of classes.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The training data given to ``fit``, in the same order.
    y : array-like of shape (n_samples,)
        The training targets (class labels for a classifier).
    sample_weight : array-like of shape (n_samples,), default=None
        The sample weights given to ``fit``.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        :math:`m_i = \ell(y_i, \eta_{-i}(x_i)) - \ell(y_i, \eta(x_i))`: the
        loss of the point under the model fitted without it, minus its loss
        under the full model (half deviances, not weighted; for a
        classifier the log-loss :math:`-\log p_{y}`). Large for points the
        model can only fit by memorising them -- atypical or mislabelled
        points.

    See Also
    --------
    leave_one_out : The leave-one-out fit behind the score (exact for the
        normal family, one Newton step otherwise).

    Notes
    -----
    For the normal family
    :math:`m_i = \tfrac12 r_i^2 \big((1 - h_i)^{-2} - 1\big) \ge 0`. To first
    order in the weight, :math:`m_i \approx -w_i I(z_i, z_i)`, minus the
    weight times the self-influence.

    Examples
    --------
    >>> import numpy as np
    >>> from sktangent import TangentRegressor
    >>> from sktangent.influence import memorisation_score
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(40, 3))
    >>> y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=40)
    >>> y[0] += 5.0  # a mislabelled point
    >>> model = TangentRegressor(alpha=1.0).fit(X, y)
    >>> int(np.argmax(memorisation_score(model, X, y)))
    0
    """
    state, prep, encode = _check_estimator(estimator)
    X, y, w, eta = _training_set(state, encode, prep(X), y, sample_weight)
    if _multinomial(state):
        points = eta  # the multinomial training set comes as its points
        _, shift, _ = _mi.loo_steps(points, w)
        out = _mi.loss(points.eta + shift, y) - _mi.loss(points.eta, y)
        return check_finite_scores(out, "memorisation scores")
    scale = _scale(state, X)
    S = scale.diag()
    shift, _ = loo_shift(state.family, y, w, eta, S)
    family = state.family
    with np.errstate(over="ignore", invalid="ignore"):
        out = family.loss(y, eta + shift * S) - family.loss(y, eta)
    return check_finite_scores(out, "memorisation scores")


def harm_score(estimator, X, y, X_val, y_val, *, sample_weight=None, method="newton"):
    r"""Predicted effect of each training point on a validation loss.

    Read more in the :ref:`User Guide <influence>`.

    Parameters
    ----------
    estimator : TangentRegressor, TangentRegressorCV, TangentClassifier or Pipeline
        A fitted model, linear or kernel, of any family or number of classes.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The training data given to ``fit``, in the same order.
    y : array-like of shape (n_samples,)
        The training targets (class labels for a classifier).
    X_val : {array-like, sparse matrix} of shape (n_val, n_features)
        Validation points.
    y_val : array-like of shape (n_val,)
        Their labels.
    sample_weight : array-like of shape (n_samples,), default=None
        The sample weights given to ``fit``.
    method : {"newton", "influence"}, default="newton"
        ``"newton"`` removes each point by one Newton step (exact for the
        normal family, see :func:`leave_one_out`) and evaluates the
        validation loss at the new predictions. ``"influence"`` is the first
        order approximation, :math:`h_i = w_i \sum_v I(z_i, z_v)`.

    Returns
    -------
    harm : ndarray of shape (n_samples,)
        Validation loss with training point :math:`i` minus without it,
        :math:`\sum_v \ell(y_v, \eta(x_v)) - \ell(y_v, \eta_{-i}(x_v))`
        (total half deviance over the validation set; total log-loss for a
        classifier). Positive: the point is harmful, removing it lowers the
        validation loss; negative: helpful.

    See Also
    --------
    drop_harmful : Remove the most harmful points and refit.
    loss_influence : The per-pair influences behind ``method="influence"``.

    Notes
    -----
    With the Newton step :math:`\eta_{-i}(x) = \eta(x) + w_i \ell'_i S(x,
    x_i) / (1 - h_i)` the cost is one evaluation of :math:`S` and of the loss
    per validation--training pair, in blocks of validation rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sktangent import TangentRegressor
    >>> from sktangent.influence import harm_score
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 3))
    >>> y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=60)
    >>> y[0] += 5.0  # a mislabelled point
    >>> model = TangentRegressor(alpha=1.0).fit(X[:40], y[:40])
    >>> int(np.argmax(harm_score(model, X[:40], y[:40], X[40:], y[40:])))
    0
    """
    if method not in ("newton", "influence"):
        raise ValueError(f"method must be 'newton' or 'influence'; got {method!r}.")
    state, prep, encode = _check_estimator(estimator)
    X, y, w, eta = _training_set(state, encode, prep(X), y, sample_weight)
    X_val, y_val, eta_val = _labelled(state, encode, prep(X_val), y_val, name="X_val")
    if _multinomial(state):
        harm = _mi.harm(eta, w, X_val, y_val, eta_val, method)
        return check_finite_scores(harm, "harm scores")
    family = state.family
    scale = _scale(state, X)
    if method == "newton":
        shift, _ = loo_shift(state.family, y, w, eta, scale.diag())
        loss_val = family.loss(y_val, eta_val)
    else:
        step = w * family.gradient(y, eta)
        grad_val = family.gradient(y_val, eta_val)
    harm = np.zeros(X.shape[0])
    for rows in row_blocks(X_val.shape[0], X.shape[0]):
        S = scale.cross(X_val[rows])
        if method == "newton":
            lost = family.loss(y_val[rows, None], eta_val[rows, None] + S * shift)
            harm += loss_val[rows].sum() - lost.sum(axis=0)
        else:
            # w_i sum_v I(z_i, z_v) with I = -l'_v l'_i S_vi.
            harm -= (grad_val[rows] @ S) * step
    return check_finite_scores(harm, "harm scores")


def drop_harmful(
    estimator, X, y, X_val, y_val, n_drop, *, sample_weight=None, method="newton"
):
    r"""Remove the training points most harmful to a validation loss, and refit.

    Read more in the :ref:`User Guide <influence>`.

    Parameters
    ----------
    estimator : TangentRegressor, TangentRegressorCV, TangentClassifier or Pipeline
        A fitted model, linear or kernel, of any family or number of classes.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The training data given to ``fit``, in the same order.
    y : array-like of shape (n_samples,)
        The training targets (class labels for a classifier).
    X_val : {array-like, sparse matrix} of shape (n_val, n_features)
        Validation points.
    y_val : array-like of shape (n_val,)
        Their labels.
    n_drop : int
        Number of points to remove: those with the largest
        :func:`harm_score`, whatever its sign (check ``harm`` to drop only
        harmful ones). At least two points must remain.
    sample_weight : array-like of shape (n_samples,), default=None
        The sample weights given to ``fit``; the kept points keep theirs.
    method : {"newton", "influence"}, default="newton"
        Passed to :func:`harm_score`.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        estimator
            A clone of ``estimator`` fitted on the kept points.
        dropped : ndarray of shape (n_drop,)
            Indices of the removed points, most harmful first.
        kept : ndarray of shape (n_samples - n_drop,)
            Indices of the kept points, in their original order.
        harm : ndarray of shape (n_samples,)
            The :func:`harm_score` of every training point.

    Notes
    -----
    The ranking is computed once, from the model fitted on all points; the
    scores of the other points change after a removal, so dropping many
    points at once is a heuristic. With ``kernel="precomputed"`` the kept
    rows and columns of the kernel matrix are used for the refit.

    Examples
    --------
    >>> import numpy as np
    >>> from sktangent import TangentRegressor
    >>> from sktangent.influence import drop_harmful
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 3))
    >>> y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=60)
    >>> y[:2] += 5.0  # two mislabelled points
    >>> model = TangentRegressor(alpha=1.0).fit(X[:40], y[:40])
    >>> result = drop_harmful(model, X[:40], y[:40], X[40:], y[40:], n_drop=2)
    >>> sorted(result.dropped.tolist())
    [0, 1]
    """
    harm = harm_score(
        estimator, X, y, X_val, y_val, sample_weight=sample_weight, method=method
    )
    n = harm.shape[0]
    if (
        not isinstance(n_drop, Integral)
        or isinstance(n_drop, bool)
        or not 0 <= n_drop <= n - 2
    ):
        raise ValueError(
            f"n_drop must be an integer from 0 to n_samples - 2 = {n - 2}; "
            f"got {n_drop!r}."
        )
    order = np.argsort(-harm, kind="stable")
    dropped = order[:n_drop]
    kept = np.sort(order[n_drop:])
    X_kept = _safe_indexing(X, kept)
    if _check_estimator(estimator)[0].model.precomputed:
        X_kept = _safe_indexing(X_kept, kept, axis=1)
    if sample_weight is not None and np.ndim(sample_weight) > 0:
        sample_weight = _safe_indexing(sample_weight, kept)
    fit_params = {}
    if sample_weight is not None:
        # A Pipeline takes the weights of its last step by name.
        name = "sample_weight"
        if isinstance(estimator, Pipeline):
            name = f"{estimator.steps[-1][0]}__sample_weight"
        fit_params[name] = sample_weight
    refit = clone(estimator).fit(X_kept, _safe_indexing(y, kept), **fit_params)
    return Bunch(estimator=refit, dropped=dropped, kept=kept, harm=harm)
