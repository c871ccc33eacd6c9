"""Active-learning query strategies built on the regularity tangent.

The strategies follow the protocol of modAL's ``ActiveLearner`` (and work
without modAL installed): ``strategy(learner, X_pool, n_instances=1, ...)``
returns ``(indices, scores)``, the pool rows to label next and the criterion
of each. ``learner`` may be

* a fitted :class:`~sktangent.TangentRegressor` or
  :class:`~sktangent.TangentClassifier` (or
  :class:`~sktangent.MultiUserTangentRegressor`, with ``groups``);
* a fitted :class:`~sklearn.pipeline.Pipeline` whose last step is one (the
  pool is transformed by the earlier steps first);
* a fitted :class:`~sklearn.model_selection.GridSearchCV` or
  :class:`~sklearn.model_selection.RandomizedSearchCV` (its
  ``best_estimator_``), or a fitted :class:`~sktangent.TangentRegressorCV`
  (its ``estimator_``), or any of these inside a modAL learner (its
  ``estimator``).

Batches (``n_instances > 1``) are chosen greedily: after each pick the
tangent and the posterior covariance on the pool are updated by
Sherman-Morrison as if the pick had been labelled with its predicted value
(a classifier's pick with its predicted class distribution), so later picks
avoid what earlier ones already cover, without a refit.
"""

from ._strategy import select, strategy_options

__all__ = ["expected_influence_sampling", "influence_sampling", "variance_sampling"]


def influence_sampling(
    learner,
    X_pool,
    n_instances=1,
    *,
    random_tie_break=False,
    random_state=None,
    groups=None,
    regularity="total",
):
    """Query the pool points with the largest unlabelled influence score.

    The score is the expected squared influence of a point on model
    complexity, :math:`u(x) = \\phi\\, \\mu'(\\eta)^2 / V(\\mu)\\,
    (d\\eta(x)/ds)^2` (see :meth:`TangentRegressor.influence_score`): large
    where the penalty rather than the data decides the prediction.

    Parameters
    ----------
    learner : TangentRegressor, TangentClassifier, Pipeline, search CV or modAL learner
        A fitted model; see the module docstring for what is accepted.
    X_pool : {array-like, sparse matrix} of shape (n_pool, n_features)
        Candidate points, in the learner's input space.
    n_instances : int, default=1
        Number of points to return. Above 1 the batch is greedy, each pick
        conditioned on the earlier ones by Sherman-Morrison updates of the
        tangent (dispersion held fixed within the batch).
    random_tie_break : bool, default=False
        Break ties between equal scores at random instead of by position.
    random_state : int, RandomState instance or None, default=None
        Seed for ``random_tie_break``.
    groups : array-like of shape (n_pool,), default=None
        The user of every pool row; required for, and only accepted with, a
        :class:`~sktangent.MultiUserTangentRegressor` learner.
    regularity : {"total", "global", "user"}, default="total"
        For a multi-user learner, which complexity the score is about: the
        global model's ("which user's next label would change the global
        model most"), the users' deviations', or their sum.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X_pool`` to label, in the order picked.
    scores : ndarray of shape (n_instances,)
        The score of each pick when it was picked.

    Examples
    --------
    >>> import numpy as np
    >>> from sktangent import TangentRegressor
    >>> from sktangent.query import influence_sampling
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-3, 3, size=(20, 1))
    >>> reg = TangentRegressor(alpha=0.1, kernel="rbf").fit(X, np.sin(X[:, 0]))
    >>> pool = np.linspace(-5, 5, 101)[:, None]
    >>> idx, scores = influence_sampling(reg, pool, n_instances=3)
    >>> idx.shape, scores.shape
    ((3,), (3,))
    """
    options = strategy_options(random_tie_break, random_state, groups, regularity)
    return select(learner, X_pool, n_instances, "influence", options)


def variance_sampling(
    learner,
    X_pool,
    n_instances=1,
    *,
    random_tie_break=False,
    random_state=None,
    groups=None,
    regularity="total",
):
    """Query the pool points whose predicted mean is most uncertain.

    The classical uncertainty baseline, from the same factorisation: the
    Laplace variance of the predicted mean, :math:`\\phi\\, \\mu'(\\eta)^2
    S(x, x)` with :math:`S(x, x) = \\tilde x^\\top H^{-1} \\tilde x`. Batches
    are greedy with the same Sherman-Morrison conditioning as
    :func:`influence_sampling`. Parameters and returns are those of
    :func:`influence_sampling`.

    Parameters
    ----------
    learner : TangentRegressor, TangentClassifier, Pipeline, search CV or modAL learner
        A fitted model.
    X_pool : {array-like, sparse matrix} of shape (n_pool, n_features)
        Candidate points.
    n_instances : int, default=1
        Number of points to return.
    random_tie_break : bool, default=False
        Break ties at random.
    random_state : int, RandomState instance or None, default=None
        Seed for ``random_tie_break``.
    groups : array-like of shape (n_pool,), default=None
        The user of every pool row (multi-user learners only).
    regularity : {"total", "global", "user"}, default="total"
        Ignored by this criterion, which does not involve a tangent; accepted
        so that both strategies take the same arguments.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X_pool`` to label.
    scores : ndarray of shape (n_instances,)
        The variance of each pick when it was picked.
    """
    options = strategy_options(random_tie_break, random_state, groups, regularity)
    return select(learner, X_pool, n_instances, "variance", options)


def expected_influence_sampling(
    learner,
    X_pool,
    n_instances=1,
    *,
    goal="auto",
    X_goal=None,
    goal_size=64,
    noise=1.0,
    random_tie_break=False,
    random_state=None,
    groups=None,
    regularity="total",
):
    """Query the pool points whose label would move the goal's predictions most.

    The goal-oriented strategy: a pool point ``x`` is ranked by the expected
    squared influence of its label on the model's predictions over a goal
    set :math:`G` (the pool itself by default, or ``X_goal``),

    .. math::

        g(x) = \\phi \\sum_{j \\in G} \\omega_j
               \\frac{S(x_j, x)^2}{\\lambda / d(x) + S(x, x)},

    with :math:`S(x, x') = \\tilde x^\\top H^{-1} \\tilde x'` the posterior
    covariance scale of the fitted model (:math:`\\mathrm{Cov}(\\eta(x),
    \\eta(x')) \\approx \\phi S(x, x')`), :math:`d(x) = \\mu'(\\eta)^2 /
    V(\\mu)` the weight a new label at ``x`` gets in the Hessian,
    :math:`\\omega_j` the same Fisher weight at the goal point, and
    :math:`\\lambda` = ``noise``. For the normal family with
    :math:`\\lambda = 1` it is the reduction of the summed predictive
    variance over the goal set that labelling ``x`` brings (Cohn's
    integrated variance reduction), read as an influence (section 9 of
    :ref:`the theory page <theory-goal>`). Where
    :func:`influence_sampling` ranks a point by what the penalty decides *at
    that point*, this score ranks it by how much of the goal set its label
    would settle.

    With ``goal="complexity"`` the goal is the model's complexity instead,
    and the score is the pointwise :math:`u(x)` of :func:`influence_sampling`
    (the same construction with the complexity in place of the goal's
    predictions). ``goal="auto"`` chooses by a rule on the model: the
    predictions for classifiers, for the normal family, and whenever
    ``X_goal`` is given; the complexity for the regression families whose
    variance depends on the mean (poisson, gamma, tweedie, binomial), where
    the covariance :math:`S` and the weights :math:`d` and :math:`\\omega`
    rest on fitted means that a few labels determine poorly. The rule is what
    the public benchmarks support: on regression
    (``benchmarks/bench_active_learning.py``) the pointwise score was the
    best strategy on all of the count and proportion cases, the prediction
    goal the more reliable one on continuous targets; on classification
    (``benchmarks/bench_active_classification.py``) the prediction goal
    beat the pointwise score.

    For a multinomial :class:`~sktangent.TangentClassifier` the score is the
    same construction with :math:`K \\times K` blocks: :math:`g(x) =
    \\sum_j \\operatorname{tr}(D_j C_{jx} M_x C_{xj})` with :math:`C` the
    covariance of the class outputs, :math:`D = \\operatorname{diag}(p) -
    pp^\\top` and :math:`M_x = (\\lambda I + D_x C_{xx})^{-1} D_x`; each
    pick of a batch is added to the Hessian at its predicted class
    distribution.

    Parameters
    ----------
    learner : TangentRegressor, TangentClassifier, Pipeline, search CV or modAL learner
        A fitted model; see the module docstring for what is accepted.
    X_pool : {array-like, sparse matrix} of shape (n_pool, n_features)
        Candidate points, in the learner's input space.
    n_instances : int, default=1
        Number of points to return. Above 1 the batch is greedy: each pick
        conditions :math:`S` on the earlier ones by a Sherman-Morrison update
        (as if labelled at its prediction, with weight :math:`d / \\lambda`),
        with no refit.
    goal : {"auto", "predictions", "complexity"}, default="auto"
        What a label should move: the predictions over the goal set, or the
        model's complexity; ``"auto"`` follows the model (see above).
    X_goal : {array-like, sparse matrix} of shape (n_goal, n_features), \
            default=None
        The points whose predictions matter, in the learner's input space,
        e.g. a validation set or the region where the model will be used.
        ``None``: the pool. Not supported with a multi-user learner.
    goal_size : int or None, default=64
        Kernel models, linear models solved in the dual or by conjugate
        gradients, and multi-user models represent the goal set by at most
        this many of its points, drawn without replacement (with
        ``random_state``, or a fixed seed 0 when it is None, so that
        repeated queries agree); the scores are scaled to the whole goal
        set. ``None`` uses every goal point. A pick then costs one whitening
        of the pool against the factorised Hessian (as
        :func:`variance_sampling`: ``O(N n^2)`` for a pool of ``N`` rows and
        a kernel model fitted on ``n`` points) plus ``N * goal_size`` values
        of :math:`S` (``O(N goal_size n)``),
        computed block by block so that no pool x goal array is held. In
        the public benchmark, 32 to 256 goal points chose equally well
        within the seed-to-seed noise; 64 keeps a query under twice the cost
        of :func:`variance_sampling`. Linear models with a factorised
        primal Hessian ignore it: they sum over the whole goal set exactly,
        at ``O((N + n_goal) p^2)``.
    noise : float, default=1.0
        :math:`\\lambda`, the variance of a new label in units of the
        model's own noise (the fitted dispersion over the weight). 1 is the
        model's; smaller values assume quieter labels and favour points
        that settle more of the goal set.
    random_tie_break : bool, default=False
        Break ties between equal scores at random instead of by position.
    random_state : int, RandomState instance or None, default=None
        Seed for the goal subsample and for ``random_tie_break``.
    groups : array-like of shape (n_pool,), default=None
        The user of every pool row; required for, and only accepted with, a
        :class:`~sktangent.MultiUserTangentRegressor` learner.
    regularity : {"total", "global", "user"}, default="total"
        Ignored by this criterion, which does not involve a tangent; accepted
        so that every strategy takes the same arguments.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X_pool`` to label, in the order picked.
    scores : ndarray of shape (n_instances,)
        The score of each pick when it was picked (:math:`g`, or :math:`u`
        for the complexity goal).

    See Also
    --------
    influence_sampling : The pointwise influence on model complexity.
    variance_sampling : The Laplace variance of the predicted mean.

    Examples
    --------
    >>> import numpy as np
    >>> from sktangent import TangentRegressor
    >>> from sktangent.query import expected_influence_sampling
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-3, 3, size=(20, 1))
    >>> reg = TangentRegressor(alpha=0.1, kernel="rbf").fit(X, np.sin(X[:, 0]))
    >>> pool = np.linspace(-5, 5, 101)[:, None]
    >>> idx, scores = expected_influence_sampling(reg, pool, n_instances=3)
    >>> idx.shape, scores.shape
    ((3,), (3,))
    """
    options = strategy_options(random_tie_break, random_state, groups, regularity)
    goal = {
        "goal": goal,
        "X_goal": X_goal,
        "goal_size": goal_size,
        "noise": noise,
    }
    return select(learner, X_pool, n_instances, "expected", options, goal=goal)
