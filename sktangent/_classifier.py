"""TangentClassifier: logistic models that also know how the penalty shapes them."""

import numpy as np
from scipy.special import expit, log_softmax
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from . import _dask
from ._estimator import TangentRegressor
from ._families import get_family
from ._implicit import check_finite_fit
from ._models import NystroemModel, check_n_components, kernel_params
from ._multinomial import (
    KernelFeatureModel,
    LinearFeatures,
    MultinomialState,
    fit_multinomial,
    one_hot,
)
from ._online import TrainingRows, multinomial_start, update_state
from ._solvers import MAX_DENSE_PARAMS
from ._state import fit_state
from ._validation import (
    check_finite_scores,
    check_unchanged,
    check_weights,
    class_codes,
    snapshot_params,
)

_SHARED = (
    "alpha",
    "kernel",
    "gamma",
    "degree",
    "coef0",
    "kernel_params",
    "n_components",
    "fit_intercept",
    "max_iter",
    "tol",
    "random_state",
    "batch_size",
)

_SHAPE_ATTRIBUTES = (
    "coef_",
    "coef_tangent_",
    "dual_coef_",
    "dual_coef_tangent_",
    "X_fit_",
)


class TangentClassifier(ClassifierMixin, BaseEstimator):
    r"""Penalised logistic regression with its regularity tangent.

    Binary and multinomial logistic models, linear or kernel, fitted by
    Newton's method (or L-BFGS for large models), which also compute the
    *regularity tangent*: the derivative of the fitted parameters with
    respect to ``s = log(alpha)``, by implicit differentiation at the cost of
    one more solve with the Hessian that fitting factorised.

    Read more in the :ref:`User Guide <classification>`.

    Parameters
    ----------
    alpha : float, default=1.0
        Regularisation strength. The objective is the *sum* of the weighted
        log-losses plus :math:`\tfrac{\alpha}{2}\Omega`, so ``alpha`` maps to
        :class:`~sklearn.linear_model.LogisticRegression`'s ``C = 1 /
        alpha``. With two classes the model is the binary one, with one
        coefficient vector; with more, the over-parametrised multinomial
        model with one vector per class (penalised, so that they sum to zero)
        and intercepts that sum to zero, as scikit-learn's.

    kernel : str, callable or None, default=None
        ``None`` for the linear model; otherwise a kernel accepted by
        :func:`sklearn.metrics.pairwise.pairwise_kernels` (with
        ``"precomputed"`` for two classes only), and the penalty is the RKHS
        norm. Multinomial kernel models are fitted on the features
        :math:`k(x, X) V\Lambda^{-1/2}` of the eigendecomposition of the
        training kernel matrix (directions with eigenvalues below ``1e-12``
        of the largest dropped), which is the same model.

    gamma, degree, coef0, kernel_params
        Kernel parameters, as in :class:`TangentRegressor`.

    n_components : int, default=None
        The rank of a Nyström kernel model, as in :class:`TangentRegressor`:
        the model on the features of ``n_components`` landmarks drawn from
        the training rows (by ``random_state``), exact for that reduced
        model in every verb. ``dual_coef_`` then holds the weights of the
        landmarks, which are ``X_fit_`` (and ``components_``). Ignored, with
        a warning, when ``kernel=None``.

    fit_intercept : bool, default=True
        Fit unpenalised intercepts.

    solver : {"auto", "newton-cholesky", "lbfgs", "sgd"}, default="auto"
        ``"newton-cholesky"`` factorises the Hessian (its factor at the
        optimum gives the tangent and the Laplace spread);
        ``"lbfgs"`` never forms it: the tangent is found by conjugate
        gradients. ``"sgd"`` (binary linear models only) is minibatch SGD
        with the tangent carried through the steps, as in
        :class:`TangentRegressor`. ``"auto"`` uses Newton's method up to
        2000 parameters (``n_classes * (n_features + 1)`` for multinomial
        models) and never picks "sgd".

    max_iter : int, default=100
        Maximum number of solver iterations (epochs for "sgd").

    tol : float, default=1e-6
        Gradient tolerance, relative to the total weight (as
        :class:`TangentRegressor`).

    random_state : int, RandomState instance or None, default=None
        Draws the Nyström landmarks (``n_components``) and the minibatch
        order of "sgd"; ignored otherwise.

    batch_size : int or "auto", default="auto"
        Rows per minibatch of "sgd"; ignored by the other solvers.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients of the linear model (as
        :class:`~sklearn.linear_model.LogisticRegression`).
    intercept_ : ndarray of shape (1,) or (n_classes,)
    dual_coef_ : ndarray of shape (1, n_samples) or (n_classes, n_samples)
        Dual coefficients of a kernel model.
    X_fit_ : {ndarray, sparse matrix}
        Training data of a kernel model.
    coef_tangent_, intercept_tangent_, dual_coef_tangent_ : ndarray
        :math:`d/ds` of the above, with their shapes.
    fitted_state_ : FittedState or MultinomialState
        What the fit leaves, as one frozen object (the binomial model's
        state for two classes); see :doc:`/architecture`.
    n_iter_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)

    See Also
    --------
    sklearn.linear_model.LogisticRegression : The linear model without the
        tangent.
    TangentRegressor : Regression, including ``family="binomial"`` for
        proportions.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sktangent import TangentClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = TangentClassifier(alpha=1.0).fit(X, y)
    >>> clf.coef_tangent_.shape
    (3, 4)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints: dict = {
        **{name: TangentRegressor._parameter_constraints[name] for name in _SHARED},
        "solver": [StrOptions({"auto", "newton-cholesky", "lbfgs", "sgd"})],
    }

    def __init__(
        self,
        alpha=1.0,
        *,
        kernel=None,
        gamma=None,
        degree=3,
        coef0=1,
        kernel_params=None,
        n_components=None,
        fit_intercept=True,
        solver="auto",
        max_iter=100,
        tol=1e-6,
        random_state=None,
        batch_size="auto",
    ):
        self.alpha = alpha
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.kernel_params = kernel_params
        self.n_components = n_components
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.batch_size = batch_size

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.pairwise = self.kernel == "precomputed"
        return tags

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model and its regularity tangent.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data (the kernel matrix if ``kernel="precomputed"``).
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the log-losses.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X, y = validate_data(
            self, X, y, accept_sparse=("csr", "csc"), dtype=(np.float64, np.float32)
        )
        # Fitted in float64; float32 input decides the outputs' dtype only.
        self._float32_fit = X.dtype == np.float32
        X = X.astype(np.float64) if self._float32_fit else X
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, "
                f"but the data contain only one class: {self.classes_[0]!r}."
            )
        if self.kernel == "precomputed" and X.shape[0] != X.shape[1]:
            raise ValueError(
                "With kernel='precomputed', X must be the square kernel matrix of "
                f"the training samples; got shape {X.shape}."
            )
        check_n_components(self.n_components, self.kernel, X.shape[0])
        w = check_weights(sample_weight, X)
        for name in (
            "coef_",
            "dual_coef_",
            "X_fit_",
            "coef_tangent_",
            "dual_coef_tangent_",
            "components_",
            "component_indices_",
        ):
            self.__dict__.pop(name, None)
        if n_classes > 2 and self.solver == "sgd":
            raise ValueError(
                "solver='sgd' fits binary classifiers only (the binomial "
                f"model); the data have {n_classes} classes: use "
                "solver='lbfgs' or 'newton-cholesky' (or 'auto')."
            )
        # The binary model's targets are the 0/1 codes as floats, the
        # multinomial model's the codes themselves.
        training = TrainingRows(X, codes.astype(float) if n_classes == 2 else codes, w)
        if n_classes == 2:
            self._fit_binary(X, codes.astype(float), w, training)
        else:
            self._fit_multinomial(X, codes, w, n_classes, training)
        self._fitted_params = snapshot_params(self)
        return self

    def _fit_binary(self, X, y01, w, training=None):
        state, n_iter = fit_state(
            get_family("binomial"),
            X,
            y01,
            w,
            self,
            "fixed",
            self._validate_query,
            training=training,
        )
        self._keep_binary(state, n_iter)

    def _keep_binary(self, state, n_iter):
        self.n_iter_ = n_iter
        if isinstance(state.model, NystroemModel):
            model = state.model
            self.X_fit_ = self.components_ = model.components
            self.component_indices_ = model.component_indices
            self.dual_coef_ = model.landmark_weights(state.coef)[None, :]
            self.dual_coef_tangent_ = model.landmark_weights(state.tangent)[None, :]
        elif state.model.kernel is not None:
            self.X_fit_ = state.X_fit
            self.dual_coef_ = state.coef[None, :]
            self.dual_coef_tangent_ = state.tangent[None, :]
        else:
            self.coef_ = state.coef[None, :]
            self.coef_tangent_ = state.tangent[None, :]
        self.intercept_ = np.array([state.intercept])
        self.intercept_tangent_ = np.array([state.intercept_tangent])
        self.fitted_state_ = state

    def _fit_multinomial(self, X, codes, w, n_classes, training=None, start=None):
        X_fit = X
        if self.kernel is not None and self.n_components is not None:
            # Nyström: the same model on the landmarks' kernel features; an
            # update (partial_fit) keeps the landmarks of the first fit.
            if start is None:
                rng = check_random_state(self.random_state)
                indices = rng.permutation(X.shape[0])[: self.n_components]
                self.component_indices_ = indices
                self.components_ = X[indices]
            X_fit = self.components_
        if self.kernel is None:
            model = LinearFeatures(X.shape[1])
        else:
            model = KernelFeatureModel(self.kernel, kernel_params(self), X_fit)
        F = model.features(X)
        n_params = n_classes * (F.shape[1] + self.fit_intercept)
        solver = self.solver
        if solver == "auto":
            solver = "lbfgs" if n_params > MAX_DENSE_PARAMS else "newton-cholesky"
        obj, theta, hess, self.n_iter_ = fit_multinomial(
            F,
            one_hot(codes, n_classes),
            w,
            float(self.alpha),
            self.fit_intercept,
            solver,
            self.max_iter,
            self.tol,
            start=None if start is None else start(model),
        )
        self.n_iter_ = max(int(self.n_iter_), 1)
        B, b = obj.blocks(theta)
        T, t_b = obj.blocks(hess.tangent(obj.rho(theta)))
        check_finite_fit(B, T)
        state = MultinomialState(
            model=model,
            hessian=hess,
            alpha=float(self.alpha),
            fit_intercept=bool(self.fit_intercept),
            coef=B.copy(),
            intercept=b.copy(),
            tangent=T.copy(),
            intercept_tangent=t_b.copy(),
            solver=solver,
            tol=float(self.tol),
            check_query=self._validate_query,
            training=training,
        )
        if isinstance(model, KernelFeatureModel):
            self.X_fit_ = X_fit
            self.dual_coef_ = model.dual_coef(state.coef)
            self.dual_coef_tangent_ = model.dual_coef(state.tangent)
        else:
            self.coef_ = state.coef.copy()
            self.coef_tangent_ = state.tangent.copy()
        self.intercept_ = state.intercept.copy()
        self.intercept_tangent_ = state.intercept_tangent.copy()
        self.fitted_state_ = state

    def _partial_fit_available(self):
        return TangentRegressor._partial_fit_available(self)

    @available_if(_partial_fit_available)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Add rows to the fit, as if ``fit`` had seen them all.

        The first call fits (as :meth:`fit`); later calls add rows to those
        fitted so far and refit by Newton's method from the previous optimum
        (equal to a refit on all rows to the solver's ``tol``). See
        :ref:`online_updates`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New training rows.
        y : array-like of shape (n_samples,)
            Their class labels.
        classes : array-like of shape (n_classes,), default=None
            Every class the classifier will see, as in
            :meth:`sklearn.linear_model.SGDClassifier.partial_fit`. Optional
            on the first call (the classes of ``y`` otherwise) and, if
            given later, equal to ``classes_``. The rows of the first call
            must contain every class: the unpenalised intercept of a class
            without samples has no finite optimum.
        sample_weight : array-like of shape (n_samples,), default=None
            Their non-negative weights.

        Returns
        -------
        self : object
            The classifier, fitted on every row given to ``fit`` and
            ``partial_fit`` since the last ``fit``.

        Raises
        ------
        ValueError
            For a label outside ``classes_``, or if a parameter that defines
            the model (``alpha``, the kernel and its parameters,
            ``fit_intercept``) changed since the first call: call :meth:`fit`
            to refit.
        """
        fitted = hasattr(self, "fitted_state_")
        if classes is not None:
            classes = np.unique(np.asarray(classes))
            known = self.classes_ if fitted else classes
            if not np.array_equal(classes, known):
                raise ValueError(
                    f"classes={classes.tolist()} is not the classes_ of the first "
                    f"call to partial_fit, {known.tolist()}. Call fit to start "
                    "again with other classes."
                )
        if not fitted:
            if classes is not None:
                y_checked = column_or_1d(np.asarray(y), warn=True)
                class_codes(classes, y_checked)
                missing = np.setdiff1d(classes, y_checked)
                if missing.size:
                    raise ValueError(
                        f"The first call to partial_fit has no samples of the "
                        f"classes {missing.tolist()}; it needs every class in "
                        "classes (the unpenalised intercept of a class without "
                        "samples has no finite optimum)."
                    )
            return self.fit(X, y, sample_weight=sample_weight)
        check_unchanged(self)
        X, y = validate_data(
            self, X, y, accept_sparse=("csr", "csc"), dtype=np.float64, reset=False
        )
        check_classification_targets(y)
        codes = class_codes(self.classes_, y)
        w = check_weights(sample_weight, X)
        state = self.fitted_state_
        if self._binary:
            state, n_iter = update_state(
                state, X, codes.astype(float), w, self, self._validate_query
            )
            self._keep_binary(state, n_iter)
            return self
        rows = state.training.appended(X, codes, w)
        self._fit_multinomial(
            rows.X,
            rows.y,
            rows.w,
            len(self.classes_),
            training=rows,
            start=lambda model: multinomial_start(state, model),
        )
        return self

    def _validate_query(self, X):
        check_is_fitted(self)
        check_unchanged(self)
        # float32 rows stay float32: the states compute in float64 (the
        # binary one converting them block by block).
        return validate_data(
            self,
            X,
            accept_sparse=("csr", "csc"),
            dtype=(np.float64, np.float32),
            reset=False,
        )

    def _outputs(self, X, out):
        """float32 outputs where :class:`~sklearn.linear_model.LogisticRegression`
        gives them: a model linear in its features (``kernel=None`` or
        Nyström) fitted and queried with float32 rows (computed in float64)."""
        linear = self.kernel is None or self.n_components is not None
        float32_fit = getattr(self, "_float32_fit", False)  # set by fit
        X_dtype = getattr(X, "dtype", None)
        if not (linear and float32_fit and X_dtype == np.float32):
            return out
        if isinstance(out, tuple):
            return tuple(a.astype(np.float32) for a in out)
        return out.astype(np.float32)

    @property
    def _binary(self):
        return len(self.classes_) == 2

    def _on_dask(self, verb, X, y=None, columns=False, labels=False):
        """``verb`` on a dask pool, lazily, block by block (see
        :func:`sktangent._dask.map_verb`); ``columns``: one column per class
        (one value per row for two classes unless ``columns == "always"``)."""
        check_is_fitted(self)
        width = None
        if columns == "always" or (columns and not self._binary):
            width = len(self.classes_)
        linear = self.kernel is None or self.n_components is not None
        float32 = linear and getattr(self, "_float32_fit", False)
        dtype = np.float32 if float32 and X.dtype == np.float32 else np.float64
        if labels:
            dtype = self.classes_.dtype
        return _dask.map_verb(self, verb, X, y, width=width, dtype=dtype)

    # ------------------------------------------------------- public verbs
    def decision_function(self, X):
        """The linear predictors: shape (n_samples,) for two classes (the
        log-odds of ``classes_[1]``), (n_samples, n_classes) otherwise.
        A dask array ``X`` gives a dask array, computed block by block."""
        if _dask.is_dask(X):
            return self._on_dask("decision_function", X, columns=True)
        X = self._validate_query(X)
        return self._outputs(X, self.fitted_state_.eta(X))

    def predict_tangent(self, X):
        """``d decision_function(X) / ds`` with ``s = log(alpha)``, in the
        shape of :meth:`decision_function`."""
        if _dask.is_dask(X):
            return self._on_dask("predict_tangent", X, columns=True)
        X = self._validate_query(X)
        state = self.fitted_state_
        if self._binary:
            return self._outputs(X, state.eta(X, tangent_only=True))
        return self._outputs(X, state.eta(X, with_tangent=True)[1])

    def predict(self, X):
        """The most probable class of every row."""
        if _dask.is_dask(X):
            return self._on_dask("predict", X, labels=True)
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_proba(self, X, return_std=False):
        """Class probabilities, and optionally their Laplace standard deviation.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Query points.
        return_std : bool, default=False
            Also return the standard deviation of each probability under the
            Laplace approximation of the posterior of the parameters (the
            delta method: :math:`\\sqrt{(D C D)_{kk}}` with :math:`C` the
            covariance :math:`J_x H^{-1} J_x^\\top` of the linear predictors
            and :math:`D = \\operatorname{diag}(p) - p p^\\top`).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        std : ndarray of shape (n_samples, n_classes)
            Only with ``return_std=True``.
        """
        if _dask.is_dask(X):
            if return_std:
                raise ValueError(
                    "predict_proba(return_std=True) does not take a dask array; "
                    "call it on the blocks (X.map_blocks) or compute X."
                )
            return self._on_dask("predict_proba", X, columns="always")
        X = self._validate_query(X)
        state = self.fitted_state_
        if not self._binary:
            return self._outputs(X, state.predict_proba(X, return_std=return_std))
        eta = state.eta(X)
        p1 = expit(eta)
        proba = np.column_stack([1.0 - p1, p1])
        if not return_std:
            return self._outputs(X, proba)
        S = np.maximum(state.variance_scale(X), 0.0)
        sd = p1 * (1.0 - p1) * np.sqrt(S)
        std = check_finite_scores(np.column_stack([sd, sd]), "std")
        return self._outputs(X, (proba, std))

    def predict_log_proba(self, X):
        """Logarithms of :meth:`predict_proba`, computed without underflow."""
        if _dask.is_dask(X):
            return self._on_dask("predict_log_proba", X, columns="always")
        scores = self.decision_function(X)
        if scores.ndim == 1:
            scores = np.column_stack([np.zeros_like(scores), scores])
        return log_softmax(scores, axis=1)

    def influence_score(self, X, y=None):
        """Influence of points on model complexity.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Points to score.
        y : array-like of shape (n_samples,), default=None
            Their labels, if known.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            With ``y``: the signed rate :math:`\\sum_k (p_k - y_k)\\, d\\eta_k/ds`
            at which up-weighting the labelled point changes the complexity
            (the derivative of its log-loss in ``s``). Without ``y``: its
            expected square over labels drawn from the predicted class
            distribution, :math:`\\sum_k p_k t_k^2 - (\\sum_k p_k t_k)^2` with
            :math:`t_k = d\\eta_k/ds` (:math:`p(1-p)\\,t^2` for two classes):
            the curiosity score for active learning.

            A dask array ``X`` (and ``y``) gives a dask array, computed block
            by block.
        """
        if _dask.is_dask(X):
            return self._on_dask("influence_score", X, y)
        X = self._validate_query(X)
        state = self.fitted_state_
        codes = None
        if y is not None:
            check_consistent_length(X, y)
            codes = class_codes(self.classes_, y)
        if self._binary:
            y01 = None if codes is None else codes.astype(float)
            return self._outputs(X, state.influence_score(X, y01))
        return self._outputs(X, check_finite_scores(state.influence_score(X, codes)))
