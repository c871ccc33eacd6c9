"""Pointwise losses in the space of the linear predictor.

Every family is the half deviance ``l(y, eta)`` of an exponential dispersion
model together with its link. The objective, the solvers and the tangent only
ever use the methods below, so adding a family is adding one class.
"""

import numpy as np


class Family:
    """A distribution family with its link, as seen by the objective.

    Subclasses define the link (``inverse_link``, ``mean_derivative``), the
    variance function and the half deviance with its first two derivatives
    with respect to the linear predictor ``eta``.
    """

    name = None
    #: Dispersion fixed by the family (poisson, binomial), or None to estimate.
    fixed_dispersion = None

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


class Normal(Family):
    """Normal distribution with the identity link: ``l = (y - eta)^2 / 2``."""

    name = "normal"

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


_FAMILIES = {"normal": Normal}


def get_family(name):
    """Return the family object for ``name``."""
    try:
        return _FAMILIES[name]()
    except KeyError:
        raise ValueError(
            f"Unknown family {name!r}; choose one of {sorted(_FAMILIES)}."
        ) from None
