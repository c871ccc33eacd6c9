"""Query strategies for scikit-activeml built on the regularity tangent.

:class:`ExpectedInfluenceSampling`, :class:`InfluenceSampling` and
:class:`VarianceSampling` are pool-based, single-annotator query strategies
with scikit-activeml's ``query`` signature. They rank the candidates as
:func:`sktangent.query.expected_influence_sampling`,
:func:`sktangent.query.influence_sampling` and
:func:`sktangent.query.variance_sampling` do, and ``batch_size > 1``
is the same greedy batch: each pick conditions the later ones by
Sherman-Morrison updates, without a refit.

This module needs scikit-activeml (from a checkout:
``python -m pip install ".[skactiveml]"``).
"""

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import check_consistent_length, check_is_fitted

try:
    from skactiveml.base import (
        SingleAnnotatorPoolQueryStrategy,
        SkactivemlClassifier,
        SkactivemlRegressor,
    )
    from skactiveml.utils import (
        MISSING_LABEL,
        check_equal_missing_label,
        check_type,
        is_labeled,
    )
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "sktangent.skactiveml needs scikit-activeml, which is not installed. "
        "Install it with: python -m pip install scikit-activeml (or, from a "
        'checkout of sktangent, python -m pip install ".[skactiveml]")'
    ) from exc

from ._classifier import TangentClassifier
from ._estimator import TangentRegressor
from ._strategy import select, strategy_options, unwrap

__all__ = ["ExpectedInfluenceSampling", "InfluenceSampling", "VarianceSampling"]


class _TangentPoolStrategy(SingleAnnotatorPoolQueryStrategy):
    """Shared ``query`` of the two strategies; ``_criterion`` tells them apart."""

    _criterion = None

    def __init__(self, missing_label=MISSING_LABEL, random_state=None):
        super().__init__(missing_label=missing_label, random_state=random_state)

    def query(
        self,
        X,
        y,
        reg,
        fit_reg=True,
        sample_weight=None,
        candidates=None,
        batch_size=1,
        return_utilities=False,
    ):
        """Determine for which candidate samples labels are to be queried.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data set, usually complete: the labelled and the
            unlabelled samples.
        y : array-like of shape (n_samples,)
            Labels of ``X``; unlabelled samples hold ``missing_label``
            (``np.nan`` by default).
        reg : TangentRegressor, TangentClassifier, Pipeline, or a wrapper
            The model: a :class:`~sktangent.TangentRegressor` or
            :class:`~sktangent.TangentClassifier` (or a
            :class:`~sklearn.pipeline.Pipeline` ending in one), or
            scikit-activeml's ``SklearnRegressor`` /
            ``SklearnNormalRegressor`` / ``SklearnClassifier`` wrapping one.
        fit_reg : bool, default=True
            Fit a clone of ``reg`` on the labelled samples of ``(X, y)``
            first. If False, ``reg`` must already be fitted on them.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples of ``X``; only the labelled ones are used.
        candidates : None or array-like, default=None
            ``None``: the unlabelled samples of ``(X, y)``. An integer array
            of shape (n_candidates,): indices of samples of ``X``. An array of
            shape (n_candidates, n_features): the candidate samples
            themselves, not necessarily in ``X``.
        batch_size : int, default=1
            Number of samples to select. Above 1 the batch is greedy, each
            pick conditioned on the earlier ones.
        return_utilities : bool, default=False
            Also return the utilities.

        Returns
        -------
        query_indices : ndarray of shape (batch_size,)
            The selected samples, in the order picked: indices into ``X``
            when ``candidates`` is None or an index array, into
            ``candidates`` when it holds samples.
        utilities : ndarray of shape (batch_size, n_samples) or \
                (batch_size, n_candidates)
            Only with ``return_utilities=True``. Row ``k`` holds the
            criterion of every candidate when pick ``k`` was made, i.e.
            conditioned on picks ``0 .. k-1``; earlier picks and samples
            that are not candidates are ``np.nan``. Indexed like
            ``query_indices``. The rows come from the greedy
            Sherman-Morrison updates themselves, with no refit: they equal
            the criterion of a model refitted with the earlier picks added
            at their predicted labels (dispersion held fixed).
        """
        X, y, candidates, batch_size, return_utilities = self._validate_data(
            X, y, candidates, batch_size, return_utilities, reset=True
        )
        check_type(fit_reg, "fit_reg", bool)
        labeled = is_labeled(y, missing_label=self.missing_label_)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            check_consistent_length(X, sample_weight)
        X_cand, mapping = self._transform_candidates(candidates, X, y)
        model = self._fitted_model(reg, fit_reg, X, y, labeled, sample_weight)

        n_cols = X.shape[0] if mapping is not None else X_cand.shape[0]
        if batch_size == 0:  # no candidates left; the base class warned
            empty = np.empty(0, dtype=int)
            if return_utilities:
                return empty, np.empty((0, n_cols))
            return empty

        options = strategy_options(True, self.random_state_, None, "total")
        picks, _, cand_utilities = select(
            model,
            X_cand,
            batch_size,
            self._criterion,
            options,
            return_score_rows=True,
            goal=self._goal(),
        )
        query_indices = picks if mapping is None else mapping[picks]
        if not return_utilities:
            return query_indices
        utilities = np.full((batch_size, n_cols), np.nan)
        if mapping is None:
            utilities[:] = cand_utilities
        else:
            utilities[:, mapping] = cand_utilities
        return query_indices, utilities

    def _goal(self):
        """Keyword arguments of the goal-oriented criterion (None for others)."""
        return None

    def _fitted_model(self, reg, fit_reg, X, y, labeled, sample_weight):
        """The fitted model that :mod:`sktangent.query` accepts."""
        if fit_reg and np.sum(labeled) < 2:
            raise ValueError(
                f"{type(self).__name__} needs a model fitted on at least two "
                f"labelled samples; y has {int(np.sum(labeled))}. Label a few "
                "samples first, e.g. with skactiveml.pool.RandomSampling."
            )
        if isinstance(reg, (SkactivemlRegressor, SkactivemlClassifier)):
            check_equal_missing_label(reg.missing_label, self.missing_label_)
            if fit_reg:
                reg = clone(reg).fit(X, y, sample_weight=sample_weight)
            else:
                check_is_fitted(reg)
            if getattr(reg, "is_fitted_", True) is False:
                raise ValueError(
                    "The wrapped regressor could not be fitted (scikit-activeml "
                    "warned why and fell back to the label mean), so there is "
                    "no fitted model to score the candidates with."
                )
            if "estimator_" not in vars(reg):
                raise TypeError(
                    f"{type(reg).__name__} is not a wrapper of a scikit-learn "
                    "estimator; pass a TangentRegressor or TangentClassifier, or "
                    "wrap one in skactiveml's SklearnRegressor or SklearnClassifier."
                )
            model = reg.estimator_
        else:
            model = reg
            if fit_reg:
                fit_params = {}
                if sample_weight is not None:
                    fit_params["sample_weight"] = sample_weight[labeled]
                model = clone(reg).fit(X[labeled], y[labeled], **fit_params)
        est, _ = unwrap(model)  # fitted, or an error naming what is accepted
        if not isinstance(est, (TangentRegressor, TangentClassifier)):
            raise TypeError(
                f"{type(self).__name__} scores candidates with a TangentRegressor "
                f"or TangentClassifier; got a {type(est).__name__}."
            )
        return model


class InfluenceSampling(_TangentPoolStrategy):
    """Query the candidates with the largest unlabelled influence score.

    A scikit-activeml query strategy for regression: the criterion is the
    expected squared influence of a label at ``x`` on model complexity,

    .. math::

        u(x) = \\phi\\, \\frac{\\mu'(\\eta)^2}{V(\\mu)}
               \\left(\\frac{d\\eta(x)}{ds}\\right)^2, \\qquad s = \\log\\alpha,

    which is large where the penalty rather than the data decides the
    prediction (see :meth:`sktangent.TangentRegressor.influence_score`).
    Batches are chosen greedily as by
    :func:`sktangent.query.influence_sampling`: after each pick the tangent
    on the candidates is updated by Sherman-Morrison as if the pick had
    been labelled with its predicted value, with no refit. Ties are broken
    at random with ``random_state``.

    Parameters
    ----------
    missing_label : scalar or np.nan, default=np.nan
        Value marking an unlabelled sample in ``y``.
    random_state : int, RandomState instance or None, default=None
        Seed for breaking ties between equal utilities.

    See Also
    --------
    VarianceSampling : The same protocol with the Laplace variance of the
        predicted mean as criterion.
    sktangent.query.influence_sampling : The strategy in modAL's protocol.

    Examples
    --------
    >>> import numpy as np
    >>> from sktangent import TangentRegressor
    >>> from sktangent.skactiveml import InfluenceSampling
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-3, 3, size=(40, 1))
    >>> y = np.full(40, np.nan)
    >>> y[:8] = np.sin(X[:8, 0])
    >>> qs = InfluenceSampling(random_state=0)
    >>> reg = TangentRegressor(alpha=0.1, kernel="rbf")
    >>> qs.query(X, y, reg, batch_size=3).shape
    (3,)
    """

    _criterion = "influence"


class VarianceSampling(_TangentPoolStrategy):
    """Query the candidates whose predicted mean is most uncertain.

    The uncertainty baseline from the same factorisation: the criterion is
    the Laplace variance of the predicted mean,
    :math:`\\phi\\, \\mu'(\\eta)^2 S(x, x)` with
    :math:`S(x, x) = \\tilde x^\\top H^{-1} \\tilde x`, and batches are
    greedy with the Sherman-Morrison conditioning of
    :func:`sktangent.query.variance_sampling`. Parameters and ``query`` are
    those of :class:`InfluenceSampling`.

    Parameters
    ----------
    missing_label : scalar or np.nan, default=np.nan
        Value marking an unlabelled sample in ``y``.
    random_state : int, RandomState instance or None, default=None
        Seed for breaking ties between equal utilities.

    See Also
    --------
    InfluenceSampling : The unlabelled influence score as criterion.
    """

    _criterion = "variance"


class ExpectedInfluenceSampling(_TangentPoolStrategy):
    """Query the candidates whose label would move the pool's predictions most.

    The goal-oriented criterion of
    :func:`sktangent.query.expected_influence_sampling`, with the candidates
    as the goal set: the expected squared influence of a label at ``x`` on
    the predictions over the candidates,

    .. math::

        g(x) = \\phi \\sum_j \\omega_j
               \\frac{S(x_j, x)^2}{\\lambda / d(x) + S(x, x)},

    the integrated reduction of predictive variance. Batches are greedy,
    each pick conditioning :math:`S` by Sherman-Morrison, with no refit.
    ``query`` is that of :class:`InfluenceSampling`.

    Parameters
    ----------
    goal : {"auto", "predictions", "complexity"}, default="auto"
        What a label should move: the predictions on the candidates, or the
        model's complexity (the pointwise criterion of
        :class:`InfluenceSampling`). ``"auto"`` follows the family, as
        :func:`sktangent.query.expected_influence_sampling` explains.
    goal_size : int or None, default=64
        At most this many candidates represent the goal set (a subsample
        drawn with ``random_state``; ``None``: all of them).
    noise : float, default=1.0
        The variance of a new label in units of the model's own noise.
    missing_label : scalar or np.nan, default=np.nan
        Value marking an unlabelled sample in ``y``.
    random_state : int, RandomState instance or None, default=None
        Seed for the goal subsample and for breaking ties.

    See Also
    --------
    sktangent.query.expected_influence_sampling : The strategy in modAL's
        protocol, which also takes a goal set of its own.

    Examples
    --------
    >>> import numpy as np
    >>> from sktangent import TangentRegressor
    >>> from sktangent.skactiveml import ExpectedInfluenceSampling
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-3, 3, size=(40, 1))
    >>> y = np.full(40, np.nan)
    >>> y[:8] = np.sin(X[:8, 0])
    >>> qs = ExpectedInfluenceSampling(random_state=0)
    >>> reg = TangentRegressor(alpha=0.1, kernel="rbf")
    >>> qs.query(X, y, reg, batch_size=3).shape
    (3,)
    """

    _criterion = "expected"

    def __init__(
        self,
        goal="auto",
        goal_size=64,
        noise=1.0,
        missing_label=MISSING_LABEL,
        random_state=None,
    ):
        super().__init__(missing_label=missing_label, random_state=random_state)
        self.goal = goal
        self.goal_size = goal_size
        self.noise = noise

    def _goal(self):
        return {
            "goal": self.goal,
            "X_goal": None,
            "goal_size": self.goal_size,
            "noise": self.noise,
        }
