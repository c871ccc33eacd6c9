"""Pointwise losses in the space of the linear predictor.

Every family is the half deviance ``l(y, eta)`` of an exponential dispersion
model together with its link. The objective, the solvers and the tangent only
ever use the methods below, so adding a family is adding one class.
"""

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, xlogy


@dataclass(frozen=True)
class Support:
    """The interval of targets ``y`` a family accepts.

    ``note`` says in a word what such targets usually are (``"counts"``); it
    only enters the error message.
    """

    low: float = -np.inf
    high: float = np.inf
    low_closed: bool = False
    high_closed: bool = False
    note: str = ""

    def outside(self, y):
        """Mask of the values of ``y`` below or above the interval.

        NaN is neither: non-finite targets are refused earlier, by
        ``check_target``, with a message of their own.
        """
        y = np.asarray(y)
        below = y < self.low if self.low_closed else y <= self.low
        above = y > self.high if self.high_closed else y >= self.high
        return below | above

    def contains(self, y):
        """Mask of the values of ``y`` inside the interval (NaN is not)."""
        return ~self.outside(y) & ~np.isnan(y)

    @property
    def is_positive_half_line(self):
        """Whether the interval is ``[0, inf)`` or ``(0, inf)``.

        That is what scikit-learn's ``positive_only`` target tag promises:
        its checks then shift targets to ``y >= 1``, which a bounded support
        such as ``[0, 1]`` would not accept.
        """
        return self.low == 0 and self.high == np.inf

    def describe(self):
        """The targets in words: ``"non-negative targets"``, ``"targets in [0, 1]"``."""
        if self.is_positive_half_line:
            return (
                "non-negative targets"
                if self.low_closed
                else "strictly positive targets"
            )
        if self.low == -np.inf and self.high == np.inf:
            return "real targets"
        left = "[" if self.low_closed else "("
        right = "]" if self.high_closed else ")"
        return f"targets in {left}{self.low:g}, {self.high:g}{right}"

    def describe_outside(self):
        """A word for the values outside a half-line, or ``""``."""
        if self.is_positive_half_line:
            return "negative " if self.low_closed else "non-positive "
        return ""


class Family:
    """A distribution family with its link, as seen by the objective.

    Subclasses define the link (``inverse_link``, ``mean_derivative``), the
    variance function and the half deviance with its first two derivatives
    with respect to the linear predictor ``eta``.
    """

    name = None
    #: Dispersion fixed by the family (poisson, binomial), or None to estimate.
    fixed_dispersion = None
    #: Largest linear predictor whose mean is representable with room for its
    #: variance (log links), or None when every finite eta is (normal, logit).
    eta_max = None
    #: Whether ``score_variance`` is the same for every eta (normal, gamma),
    #: so that the unlabelled score needs the tangent only.
    constant_score_variance = False
    #: Whether the variance function is constant (normal): the mean does not
    #: change the weight of a label, and the objective is quadratic, so it
    #: has a closed-form minimiser.
    constant_variance = False
    #: The means the link maps back to finite eta, as a closed interval to
    #: clip an estimated mean into (e.g. a weighted mean of counts that is 0).
    mean_bounds = (-np.inf, np.inf)
    #: The targets the family accepts (every real number unless declared).
    y_support = Support()

    @property
    def label(self):
        """How error messages name the family: ``family='poisson'``."""
        return f"family={self.name!r}"

    def check_y(self, y):
        """Raise a ValueError naming the family if ``y`` is outside ``y_support``."""
        support = self.y_support
        if support.low == -np.inf and support.high == np.inf:
            return  # every finite y (non-finite ones are refused earlier)
        bad = support.outside(y)
        if np.any(bad):
            note = f" ({support.note})" if support.note else ""
            raise ValueError(
                f"{self.label} needs {support.describe()}{note}; found "
                f"{support.describe_outside()}{_describe_bad(y, bad)}."
            )

    def link(self, mu):
        """``eta = g(mu)``, the inverse of :meth:`inverse_link`."""
        raise NotImplementedError

    def inverse_link(self, eta):
        raise NotImplementedError

    def mean_derivative(self, eta):
        """d mu / d eta."""
        raise NotImplementedError

    def variance(self, mu):
        raise NotImplementedError

    def loss(self, y, eta):
        """Half deviance, pointwise."""
        raise NotImplementedError

    def gradient(self, y, eta):
        """d loss / d eta, pointwise."""
        raise NotImplementedError

    def hessian(self, y, eta):
        """d^2 loss / d eta^2, pointwise (the observed, not the expected, one)."""
        raise NotImplementedError

    def third_derivative(self, y, eta):
        """d^3 loss / d eta^3, pointwise: how the curvature moves with eta."""
        raise NotImplementedError

    def score_variance(self, eta):
        """E[gradient(y, eta)^2] / dispersion for y drawn from the model.

        Equals ``mu'(eta)^2 / V(mu)``: the Fisher information of ``eta`` per
        unit dispersion. The unlabelled influence score is this times the
        dispersion times the squared prediction tangent.
        """
        mu_prime = self.mean_derivative(eta)
        return mu_prime**2 / self.variance(self.inverse_link(eta))

    def variance_root(self, mu):
        """``sqrt(V(mu))``, without forming ``V`` where it would overflow."""
        return np.sqrt(self.variance(mu))

    def pearson_residuals(self, y, eta):
        """``(y - mu) / sqrt(V(mu))``; 0 where ``y == mu``, even if ``V = 0``.

        A mean that underflows to 0 at a zero count is a perfect fit, not 0/0.
        """
        mu = self.inverse_link(eta)
        diff = y - mu
        root = self.variance_root(mu)
        return np.divide(
            diff, root, out=np.zeros_like(diff, dtype=float), where=diff != 0
        )

    def pearson_residuals_squared(self, y, eta):
        return self.pearson_residuals(y, eta) ** 2

    def pearson_statistic(self, y, eta, sample_weight):
        """Pearson chi^2 as ``(m, q)`` with ``chi^2 = m^2 q``, never overflowing.

        ``m`` is the largest absolute Pearson residual, ``q = sum w (r / m)^2``
        over the samples of positive weight: targets of size 1e200 give
        ``chi^2 ~ 1e400``, which float64 cannot hold, while its square root
        (behind the predictive standard deviation) is fine. Rows of zero
        weight are skipped, not multiplied by zero: their ``eta`` need not be
        meaningful.
        """
        rows = sample_weight > 0
        r = self.pearson_residuals(y[rows], eta[rows])
        m = float(np.max(np.abs(r))) if r.size else 0.0
        if not m > 0 or not np.isfinite(m):
            return (m, float(np.sum(sample_weight[rows])) if m else 0.0)
        return m, float(np.sum(sample_weight[rows] * (r / m) ** 2))

    def pearson_chi2(self, y, eta, sample_weight):
        """``sum w (y - mu)^2 / V(mu)`` over the samples of positive weight."""
        m, q = self.pearson_statistic(y, eta, sample_weight)
        return m * m * q


class Normal(Family):
    """Normal distribution with the identity link: ``l = (y - eta)^2 / 2``."""

    name = "normal"
    constant_score_variance = True
    constant_variance = True

    def link(self, mu):
        return mu

    def inverse_link(self, eta):
        return eta

    def mean_derivative(self, eta):
        return np.ones_like(eta)

    def variance(self, mu):
        return np.ones_like(mu)

    def loss(self, y, eta):
        return 0.5 * (y - eta) ** 2

    def gradient(self, y, eta):
        return eta - y

    def hessian(self, y, eta):
        return np.ones_like(eta)

    def third_derivative(self, y, eta):
        return np.zeros_like(eta)


# Largest eta whose exp is finite with room for a few products (exp(700) ~ 1e304).
_ETA_MAX = 700.0


class _LogLink(Family):
    """Log link with variance ``V(mu) = mu^p``: the scores in eta space.

    ``mu'^2 / V = mu^(2 - p) = exp((2 - p) eta)``, evaluated as one
    exponential: the ratio of two underflowing terms would be 0/0 where the
    mean underflows (eta < -745), whose limit is 0 for ``p < 2``.
    """

    variance_power = None
    eta_max = _ETA_MAX
    mean_bounds = (1e-10, np.inf)

    def link(self, mu):
        return np.log(mu)

    def score_variance(self, eta):
        p = self.variance_power
        if p == 2:
            return np.ones_like(np.asarray(eta, dtype=float))
        return np.exp((2 - p) * np.minimum(eta, _ETA_MAX))

    def variance_root(self, mu):
        return mu ** (0.5 * self.variance_power)


def _exp(eta):
    """exp with eta clipped so that means and weights stay finite."""
    return np.exp(np.minimum(eta, _ETA_MAX))


def _describe_bad(y, bad):
    idx = np.flatnonzero(bad)
    return f"{idx.size} value(s), e.g. y[{idx[0]}] = {y[idx[0]]!r}"


class Poisson(_LogLink):
    """Poisson distribution, log link: ``l = y log(y / mu) - y + mu``."""

    name = "poisson"
    fixed_dispersion = 1.0
    variance_power = 1.0
    y_support = Support(0.0, np.inf, low_closed=True, note="counts")

    def inverse_link(self, eta):
        return _exp(eta)

    def mean_derivative(self, eta):
        return _exp(eta)

    def variance(self, mu):
        return mu

    def loss(self, y, eta):
        mu = _exp(eta)
        return xlogy(y, y) - y * np.minimum(eta, _ETA_MAX) - y + mu

    def gradient(self, y, eta):
        return _exp(eta) - y

    def hessian(self, y, eta):
        return _exp(eta)

    def third_derivative(self, y, eta):
        return _exp(eta)


class Gamma(_LogLink):
    """Gamma distribution, log link: ``l = log(mu / y) + y / mu - 1``."""

    name = "gamma"
    constant_score_variance = True
    variance_power = 2.0
    y_support = Support(0.0, np.inf)

    def inverse_link(self, eta):
        return _exp(eta)

    def mean_derivative(self, eta):
        return _exp(eta)

    def variance(self, mu):
        return mu**2

    def loss(self, y, eta):
        return eta - np.log(y) + y * _exp(-eta) - 1.0

    def gradient(self, y, eta):
        return 1.0 - y * _exp(-eta)

    def hessian(self, y, eta):
        return y * _exp(-eta)

    def third_derivative(self, y, eta):
        return -y * _exp(-eta)


class Tweedie(_LogLink):
    """Tweedie distribution with variance power ``p``, log link.

    ``l = y^(2-p) / ((1-p)(2-p)) - y mu^(1-p) / (1-p) + mu^(2-p) / (2-p)``,
    with the Poisson and gamma forms at ``p = 1`` and ``p = 2``.
    """

    name = "tweedie"

    def __init__(self, power):
        power = check_power(self.name, power, warn=False)
        self.power = power
        self.variance_power = power
        # A power <= 0 has real targets (p = 0 is the normal family on a log
        # link); a compound Poisson-gamma (1 <= p < 2) has a point mass at 0.
        if power <= 0:
            self.y_support = Support()
        else:
            self.y_support = Support(0.0, np.inf, low_closed=power < 2)

    @property
    def label(self):
        return f"family={self.name!r} with power={self.power}"

    def inverse_link(self, eta):
        return _exp(eta)

    def mean_derivative(self, eta):
        return _exp(eta)

    def variance(self, mu):
        return mu**self.power

    def loss(self, y, eta):
        p = self.power
        eta = np.minimum(eta, _ETA_MAX)
        if p == 1:
            return Poisson().loss(y, eta)
        if p == 2:
            return Gamma().loss(y, eta)
        # The constant that makes l(y, y) = 0; |y| keeps it real for p <= 0,
        # where y may be negative (p = 0 is the normal family on a log link).
        const = np.abs(y) ** (2 - p) / ((1 - p) * (2 - p))
        return (
            const
            - y * np.exp((1 - p) * eta) / (1 - p)
            + np.exp((2 - p) * eta) / (2 - p)
        )

    def gradient(self, y, eta):
        p = self.power
        eta = np.minimum(eta, _ETA_MAX)
        return (np.exp(eta) - y) * np.exp((1 - p) * eta)

    def hessian(self, y, eta):
        p = self.power
        eta = np.minimum(eta, _ETA_MAX)
        return (2 - p) * np.exp((2 - p) * eta) - (1 - p) * y * np.exp((1 - p) * eta)

    def third_derivative(self, y, eta):
        p = self.power
        eta = np.minimum(eta, _ETA_MAX)
        return (2 - p) ** 2 * np.exp((2 - p) * eta) - (1 - p) ** 2 * y * np.exp(
            (1 - p) * eta
        )


class Binomial(Family):
    """Binomial proportions, logit link.

    ``l = y log(y / mu) + (1 - y) log((1 - y) / (1 - mu))``, which is the
    logistic log-loss for ``y`` in {0, 1}.
    """

    name = "binomial"
    fixed_dispersion = 1.0
    mean_bounds = (1e-10, 1 - 1e-10)
    y_support = Support(
        0.0, 1.0, low_closed=True, high_closed=True, note="proportions or 0/1 outcomes"
    )

    def link(self, mu):
        return np.log(mu / (1 - mu))

    def inverse_link(self, eta):
        return expit(eta)

    def mean_derivative(self, eta):
        mu = expit(eta)
        return mu * (1 - mu)

    def variance(self, mu):
        return mu * (1 - mu)

    def variance_root(self, mu):
        return np.sqrt(mu * (1 - mu))

    def loss(self, y, eta):
        # y log y + (1-y) log(1-y) - y eta + log(1 + e^eta), stably.
        return xlogy(y, y) + xlogy(1 - y, 1 - y) - y * eta + np.logaddexp(0, eta)

    def gradient(self, y, eta):
        return expit(eta) - y

    def hessian(self, y, eta):
        mu = expit(eta)
        return mu * (1 - mu)

    def third_derivative(self, y, eta):
        mu = expit(eta)
        return mu * (1 - mu) * (1 - 2 * mu)

    def score_variance(self, eta):
        mu = expit(eta)
        return mu * (1 - mu)


_FAMILIES = {
    "normal": Normal,
    "poisson": Poisson,
    "gamma": Gamma,
    "tweedie": Tweedie,
    "binomial": Binomial,
}


def dispersion_root(family, pearson, n_positive, effective_dof, mode="auto"):
    """Square root of the dispersion: Pearson chi^2 over the residual dof.

    ``pearson`` is ``(m, q)`` from :meth:`Family.pearson_statistic`, so that
    ``sqrt(phi) = m sqrt(q / dof)`` stays finite when ``phi`` itself would
    overflow. ``mode`` is the estimators' ``dispersion`` parameter:
    ``"fixed"`` gives 1, ``"pearson"`` the estimate, ``"auto"`` the family's
    fixed value (poisson, binomial) or else the estimate. ``effective_dof``
    is a callable giving ``trace(hat matrix)``; it is only called when the
    estimate is needed, since it may cost as much as the fit. See the
    theory page of the documentation, section 3.
    """
    if mode == "fixed":
        return 1.0
    if mode == "auto" and family.fixed_dispersion is not None:
        return float(np.sqrt(family.fixed_dispersion))
    dof = n_positive - effective_dof()
    if dof < 1.0:
        warnings.warn(
            f"Only {dof:.3g} residual degrees of freedom: the model nearly "
            "interpolates the training data, so the dispersion estimate is "
            "unreliable (computed with 1 degree of freedom). Increase alpha.",
            UserWarning,
            stacklevel=3,
        )
        dof = 1.0
    m, q = pearson
    return float(m * np.sqrt(q / dof)) if m > 0 else 0.0


def check_power(name, power, *, warn=True):
    """The variance power to build family ``name`` with: a float, or None.

    Every check of the ``power`` parameter is here. Only the Tweedie family
    has a power: it needs one, and no distribution has ``0 < power < 1``.
    With any other family a given power is ignored, with a UserWarning (as
    scikit-learn warns of ignored parameters) unless ``warn`` is False.
    """
    if _FAMILIES.get(name) is not Tweedie:
        if power is not None and warn:
            warnings.warn(
                f"power={power!r} is only used with family={Tweedie.name!r}; it "
                f"is ignored with family={name!r}.",
                UserWarning,
                stacklevel=3,
            )
        return None
    if power is None:
        raise ValueError(
            f"family={name!r} needs its variance power: pass power=p "
            "(p <= 0 or p >= 1; 1 < p < 2 for compound Poisson-gamma data)."
        )
    power = float(power)
    if 0 < power < 1:
        raise ValueError(
            f"family={name!r} has no distribution for power={power}: "
            "choose power <= 0 or power >= 1."
        )
    return power


def has_positive_targets(name, power=None):
    """Whether the family needs targets on a positive half-line.

    What the estimators' ``positive_only`` target tag reports, read from the
    declared ``y_support``. Parameters that build no family (tags are asked
    for before ``fit`` validates them) give False.
    """
    try:
        family = get_family(name, power)
    except (ValueError, TypeError):
        return False
    return family.y_support.is_positive_half_line


def get_family(name, power=None, *, warn=False):
    """Return the family object for ``name`` (``power`` is Tweedie's).

    A power given to another family is ignored, with a UserWarning when
    ``warn`` is true (the estimators' ``fit``; :func:`check_power`).
    """
    if name not in _FAMILIES:
        raise ValueError(f"Unknown family {name!r}; choose one of {sorted(_FAMILIES)}.")
    power = check_power(name, power, warn=warn)
    family = _FAMILIES[name]
    return family() if power is None else family(power)
