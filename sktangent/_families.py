"""Pointwise losses in the space of the linear predictor.

Every family is the half deviance ``l(y, eta)`` of an exponential dispersion
model together with its link. The objective, the solvers and the tangent only
ever use the methods below, so adding a family is adding one class.
"""

import warnings

import numpy as np
from scipy.special import expit, xlogy


class Family:
    """A distribution family with its link, as seen by the objective.

    Subclasses define the link (``inverse_link``, ``mean_derivative``), the
    variance function and the half deviance with its first two derivatives
    with respect to the linear predictor ``eta``.
    """

    name = None
    #: Dispersion fixed by the family (poisson, binomial), or None to estimate.
    fixed_dispersion = None
    #: Whether ``score_variance`` is the same for every eta (normal, gamma),
    #: so that the unlabelled score needs the tangent only.
    constant_score_variance = False

    def check_y(self, y):
        """Raise a ValueError naming the family if ``y`` is outside its support."""

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

    def pearson_residuals_squared(self, y, eta):
        mu = self.inverse_link(eta)
        return (y - mu) ** 2 / self.variance(mu)

    def pearson_chi2(self, y, eta, sample_weight):
        """``sum w (y - mu)^2 / V(mu)`` over the samples of positive weight.

        Rows of zero weight are skipped, not multiplied by zero: their
        ``eta`` need not be meaningful.
        """
        rows = sample_weight > 0
        return float(
            np.sum(
                sample_weight[rows] * self.pearson_residuals_squared(y[rows], eta[rows])
            )
        )


class Normal(Family):
    """Normal distribution with the identity link: ``l = (y - eta)^2 / 2``."""

    name = "normal"
    constant_score_variance = True

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


def _exp(eta):
    """exp with eta clipped so that means and weights stay finite."""
    return np.exp(np.minimum(eta, _ETA_MAX))


def _describe_bad(y, bad):
    idx = np.flatnonzero(bad)
    return f"{idx.size} value(s), e.g. y[{idx[0]}] = {y[idx[0]]!r}"


class Poisson(Family):
    """Poisson distribution, log link: ``l = y log(y / mu) - y + mu``."""

    name = "poisson"
    fixed_dispersion = 1.0

    def check_y(self, y):
        bad = y < 0
        if np.any(bad):
            raise ValueError(
                "family='poisson' needs non-negative targets (counts); found "
                f"negative {_describe_bad(y, bad)}."
            )

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


class Gamma(Family):
    """Gamma distribution, log link: ``l = log(mu / y) + y / mu - 1``."""

    name = "gamma"
    constant_score_variance = True

    def check_y(self, y):
        bad = y <= 0
        if np.any(bad):
            raise ValueError(
                "family='gamma' needs strictly positive targets; found "
                f"non-positive {_describe_bad(y, bad)}."
            )

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


class Tweedie(Family):
    """Tweedie distribution with variance power ``p``, log link.

    ``l = y^(2-p) / ((1-p)(2-p)) - y mu^(1-p) / (1-p) + mu^(2-p) / (2-p)``,
    with the Poisson and gamma forms at ``p = 1`` and ``p = 2``.
    """

    name = "tweedie"

    def __init__(self, power):
        power = float(power)
        if 0 < power < 1:
            raise ValueError(
                f"family='tweedie' has no distribution for power={power}: "
                "choose power <= 0 or power >= 1."
            )
        self.power = power

    def check_y(self, y):
        p = self.power
        if p <= 0:
            return
        bad = (y < 0) if p < 2 else (y <= 0)
        if np.any(bad):
            what = "non-negative" if p < 2 else "strictly positive"
            raise ValueError(
                f"family='tweedie' with power={p} needs {what} targets; found "
                f"{_describe_bad(y, bad)}."
            )

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

    def check_y(self, y):
        bad = (y < 0) | (y > 1)
        if np.any(bad):
            raise ValueError(
                "family='binomial' needs targets in [0, 1] (proportions or 0/1 "
                f"outcomes); found {_describe_bad(y, bad)}."
            )

    def inverse_link(self, eta):
        return expit(eta)

    def mean_derivative(self, eta):
        mu = expit(eta)
        return mu * (1 - mu)

    def variance(self, mu):
        return mu * (1 - mu)

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


def estimate_dispersion(family, pearson_chi2, n_positive, effective_dof):
    """Pearson chi^2 over the residual degrees of freedom (THEORY section 3).

    ``effective_dof`` is a callable giving ``trace(hat matrix)``; it is only
    called when the family does not fix the dispersion, since it may cost as
    much as the fit.
    """
    if family.fixed_dispersion is not None:
        return float(family.fixed_dispersion)
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
    return pearson_chi2 / dof


def has_positive_targets(name, power=None):
    """Whether the family needs y >= 0 (what estimator tags call positive_only)."""
    return name in ("poisson", "gamma") or (
        name == "tweedie" and power is not None and power > 0
    )


def get_family(name, power=None):
    """Return the family object for ``name`` (``power`` is Tweedie's)."""
    if name not in _FAMILIES:
        raise ValueError(f"Unknown family {name!r}; choose one of {sorted(_FAMILIES)}.")
    if name == "tweedie":
        if power is None:
            raise ValueError(
                "family='tweedie' needs its variance power: pass power=p "
                "(p <= 0 or p >= 1; 1 < p < 2 for compound Poisson-gamma data)."
            )
        return Tweedie(power)
    return _FAMILIES[name]()
