"""Families: the pointwise loss and its derivatives, the link, the support of y,
the power check and the dispersion helpers."""

import warnings

import numpy as np
import pytest
from conftest import FAMILIES, draw, family_id

from sktangent import TangentRegressor
from sktangent._families import (
    Support,
    Tweedie,
    check_power,
    dispersion_root,
    get_family,
    has_positive_targets,
)

#: Every family, with Tweedie powers on each side of a change of support.
ALL_FAMILIES = FAMILIES + [("normal", None), ("tweedie", 0.0)]

#: The support of y each family must have, written out independently of the
#: declarations: (low, high, low_closed, high_closed).
EXPECTED_SUPPORT = {
    ("normal", None): (-np.inf, np.inf, False, False),
    ("poisson", None): (0.0, np.inf, True, False),
    ("gamma", None): (0.0, np.inf, False, False),
    ("tweedie", 0.0): (-np.inf, np.inf, False, False),
    ("tweedie", 1.5): (0.0, np.inf, True, False),
    ("tweedie", 3.0): (0.0, np.inf, False, False),
    ("binomial", None): (0.0, 1.0, True, True),
}

LOG_LINKS = [
    ("poisson", None),
    ("tweedie", 1.5),
    ("tweedie", 1.0),
    ("gamma", None),
]


# ---------------------------------------------------------- derivatives
@pytest.mark.parametrize("spec", ALL_FAMILIES, ids=family_id)
def test_family_derivatives_match_finite_differences(spec, rng):
    name, power = spec
    family = get_family(name, power)
    eta = rng.normal(size=50)
    y = (
        draw(name, power, family.inverse_link(eta), 0.5, rng)
        if name != "normal" and power != 0.0
        else rng.normal(size=50)
    )
    h = 1e-6
    fd_grad = (family.loss(y, eta + h) - family.loss(y, eta - h)) / (2 * h)
    fd_hess = (family.gradient(y, eta + h) - family.gradient(y, eta - h)) / (2 * h)
    fd_third = (family.hessian(y, eta + h) - family.hessian(y, eta - h)) / (2 * h)
    np.testing.assert_allclose(family.gradient(y, eta), fd_grad, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(family.hessian(y, eta), fd_hess, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(
        family.third_derivative(y, eta), fd_third, rtol=1e-6, atol=1e-8
    )
    mu = family.inverse_link(eta)
    fd_mu = (family.inverse_link(eta + h) - family.inverse_link(eta - h)) / (2 * h)
    np.testing.assert_allclose(family.mean_derivative(eta), fd_mu, rtol=1e-6)
    # l' = (mu - y) mu' / V(mu), and the half deviance vanishes at y = mu
    np.testing.assert_allclose(
        family.gradient(y, eta),
        (mu - y) * family.mean_derivative(eta) / family.variance(mu),
        rtol=1e-10,
        atol=1e-12,
    )
    assert np.all(family.loss(y, eta) >= -1e-12)
    np.testing.assert_allclose(family.loss(mu, eta), 0.0, atol=1e-10)


@pytest.mark.parametrize("spec", ALL_FAMILIES, ids=family_id)
def test_score_variance_and_variance_root(spec):
    family = get_family(*spec)
    eta = np.linspace(-3, 3, 13)
    mu = family.inverse_link(eta)
    np.testing.assert_allclose(
        family.score_variance(eta),
        family.mean_derivative(eta) ** 2 / family.variance(mu),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        family.variance_root(mu), np.sqrt(family.variance(mu)), rtol=1e-12
    )


@pytest.mark.parametrize("family, power", LOG_LINKS)
def test_score_variance_has_its_limit_where_the_mean_underflows(family, power):
    fam = get_family(family, power)
    eta = np.array([-2000.0, -800.0, -1.0, 0.0, 3.0])
    fisher = fam.score_variance(eta)
    p = {"poisson": 1.0, "gamma": 2.0}.get(family, power)
    with np.errstate(under="ignore"):
        expected = np.exp((2 - p) * eta)
    assert np.all(np.isfinite(fisher))
    np.testing.assert_allclose(fisher, expected, rtol=1e-12, atol=0)
    # Where nothing underflows it is mu'^2 / V(mu), as THEORY section 3 says.
    mid = eta[2:]
    mu = fam.inverse_link(mid)
    np.testing.assert_allclose(
        fisher[2:], fam.mean_derivative(mid) ** 2 / fam.variance(mu), rtol=1e-12
    )


# ------------------------------------------------ link and declarations
@pytest.mark.parametrize("spec", ALL_FAMILIES, ids=family_id)
def test_link_inverts_the_inverse_link_and_bounds_hold(spec):
    family = get_family(*spec)
    eta = np.linspace(-5, 5, 11)
    np.testing.assert_allclose(family.link(family.inverse_link(eta)), eta, atol=1e-12)
    # The finite mean bounds map to finite eta and back; they lie in the
    # closure of the support of y, and the link needs no more than that.
    low, high = family.mean_bounds
    assert low < high
    for bound in (low, high):
        if np.isfinite(bound):
            eta_bound = family.link(np.array([bound]))
            assert np.isfinite(eta_bound).all()
            np.testing.assert_allclose(family.inverse_link(eta_bound), bound)
    support = family.y_support
    assert support.low <= low and high <= support.high


@pytest.mark.parametrize("spec", ALL_FAMILIES, ids=family_id)
def test_declared_constants_hold(spec):
    """``constant_variance`` and ``constant_score_variance`` are what they say."""
    family = get_family(*spec)
    eta = np.linspace(-2, 2, 9)
    low, high, *_ = EXPECTED_SUPPORT[spec]
    y = np.clip(np.array([0.0, 0.3, 1.0, 2.5]), max(low, 1e-3), min(high, 1.0 - 1e-3))
    hessians = np.array([family.hessian(np.full_like(eta, v), eta) for v in y])
    # A constant variance (on its link) makes the objective quadratic: the
    # curvature depends on neither y nor eta, which the closed form needs.
    assert family.constant_variance == bool(np.ptp(hessians) < 1e-12)
    if family.constant_score_variance:
        assert np.ptp(family.score_variance(eta)) < 1e-12


# ------------------------------------------------------- support of y
def _boundary_values(low, high):
    """Each finite bound, its neighbours on both sides, and values far off."""
    values = [-1e6, 1e6, 0.5 * (max(low, -1.0) + min(high, 1.0))]
    for bound in (low, high):
        if np.isfinite(bound):
            values += [bound, np.nextafter(bound, -np.inf), np.nextafter(bound, np.inf)]
    return np.array(values)


@pytest.mark.parametrize("spec", ALL_FAMILIES, ids=family_id)
def test_declared_support_agrees_with_check_y_at_the_boundaries(spec):
    family = get_family(*spec)
    support = family.y_support
    low, high, low_closed, high_closed = EXPECTED_SUPPORT[spec]
    assert (support.low, support.high) == (low, high)
    assert (support.low_closed, support.high_closed) == (low_closed, high_closed)
    for value in _boundary_values(low, high):
        inside = (value > low or (low_closed and value == low)) and (
            value < high or (high_closed and value == high)
        )
        assert bool(support.contains(np.array([value]))[0]) == inside, value
        y = np.array([value])
        if inside:
            family.check_y(y)
        else:
            with pytest.raises(ValueError, match=f"family='{spec[0]}'.*y\\[0\\]"):
                family.check_y(y)
    # The message names the first bad value and how many there are.
    if np.isfinite(low):
        y = np.array([0.5, low - 1.0, 0.7, low - 2.0])
        with pytest.raises(ValueError, match=r"2 value\(s\), e\.g\. y\[1\]"):
            family.check_y(y)


@pytest.mark.parametrize("spec", ALL_FAMILIES, ids=family_id)
def test_has_positive_targets_matches_the_support(spec):
    """positive_only promises that y >= 1 is accepted and y < 0 is not."""
    name, power = spec
    family = get_family(name, power)
    accepts_large = not np.any(family.y_support.outside(np.array([1.0, 10.0, 1e6])))
    refuses_negative = bool(family.y_support.outside(np.array([-1e-3]))[0])
    expected = accepts_large and refuses_negative
    assert has_positive_targets(name, power) == expected
    tags = TangentRegressor(family=name, power=power).__sklearn_tags__()
    assert tags.target_tags.positive_only == expected


def test_has_positive_targets_of_parameters_that_build_no_family():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert has_positive_targets("tweedie", None) is False
        assert has_positive_targets("tweedie", 0.5) is False
        assert has_positive_targets("lognormal") is False
        # A power given to another family is ignored, silently here.
        assert has_positive_targets("poisson", 1.5) is True


@pytest.mark.parametrize(
    "name, power, y_bad, match",
    [
        ("poisson", None, -1.0, "poisson.*negative"),
        ("gamma", None, 0.0, "gamma.*positive"),
        ("tweedie", 2.5, 0.0, "tweedie.*positive"),
        ("tweedie", 1.5, -0.5, "tweedie.*non-negative"),
        ("binomial", None, 1.5, r"binomial.*\[0, 1\]"),
    ],
)
def test_targets_outside_the_support(name, power, y_bad, match, rng):
    X = rng.normal(size=(20, 2))
    y = np.full(20, 0.5)
    y[4] = y_bad
    with pytest.raises(ValueError, match=match):
        TangentRegressor(family=name, power=power).fit(X, y)
    est = TangentRegressor(family=name, power=power).fit(X, np.full(20, 0.5))
    with pytest.raises(ValueError, match=match):
        est.influence_score(X, y)


@pytest.mark.parametrize(
    "support, words",
    [
        (Support(0.0, np.inf, low_closed=True), "non-negative targets"),
        (Support(0.0, np.inf), "strictly positive targets"),
        (Support(0.0, 1.0, low_closed=True, high_closed=True), "targets in [0, 1]"),
        (Support(-1.0, 2.0, high_closed=True), "targets in (-1, 2]"),
        (Support(), "real targets"),
    ],
)
def test_support_in_words(support, words):
    assert support.describe() == words


def test_nan_is_left_to_the_finiteness_check():
    support = get_family("poisson").y_support
    assert not support.outside(np.array([np.nan]))[0]
    assert not support.contains(np.array([np.nan]))[0]


# ---------------------------------------------------------------- power
def test_power_is_checked_in_one_place():
    assert check_power("tweedie", 1) == 1.0
    assert isinstance(check_power("tweedie", 1), float)
    assert check_power("tweedie", 0) == 0.0
    with pytest.raises(ValueError, match="needs its variance power"):
        check_power("tweedie", None)
    for bad in (0.5, 1e-9, 0.999):
        with pytest.raises(ValueError, match=f"no distribution for power={bad}"):
            check_power("tweedie", bad)
        with pytest.raises(ValueError, match="no distribution"):
            get_family("tweedie", bad)
        with pytest.raises(ValueError, match="no distribution"):
            Tweedie(bad)
    with pytest.warns(
        UserWarning, match="power=1.5 is only used with family='tweedie'"
    ):
        assert check_power("poisson", 1.5) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_power("poisson", None) is None
        assert check_power("poisson", 1.5, warn=False) is None
        assert get_family("poisson", 1.5).name == "poisson"


def test_power_sets_the_tweedie_variance():
    family = get_family("tweedie", 2.5)
    assert family.power == family.variance_power == 2.5
    mu = np.array([0.5, 1.0, 3.0])
    np.testing.assert_allclose(family.variance(mu), mu**2.5)
    assert "power=2.5" in family.label


def test_unknown_family():
    with pytest.raises(ValueError, match="Unknown family 'lognormal'"):
        get_family("lognormal")


# ----------------------------------------------------------- dispersion
def test_pearson_statistic_skips_zero_weights_and_never_overflows():
    family = get_family("normal")
    y = np.array([1e200, -1e200, 0.0, 5.0])
    eta = np.array([0.0, 0.0, 0.0, np.nan])  # the NaN row has zero weight
    w = np.array([1.0, 2.0, 1.0, 0.0])
    m, q = family.pearson_statistic(y, eta, w)
    assert m == 1e200 and q == pytest.approx(3.0)
    with np.errstate(over="ignore"):
        assert family.pearson_chi2(y, eta, w) == np.inf
    root = dispersion_root(family, (m, q), 4, lambda: 1.0)
    assert root == pytest.approx(1e200 * np.sqrt(3.0 / 3.0))
    with np.errstate(over="ignore"):
        assert np.square(root) == np.inf  # the dispersion itself overflows


def test_pearson_residuals_are_zero_where_the_fit_is_perfect():
    family = get_family("poisson")
    # exp(-800) underflows to 0: a zero count there is fitted exactly.
    with np.errstate(under="ignore"):
        r = family.pearson_residuals(np.array([0.0, 2.0]), np.array([-800.0, 0.0]))
    np.testing.assert_allclose(r, [0.0, (2.0 - 1.0) / 1.0])


@pytest.mark.parametrize("spec", ALL_FAMILIES, ids=family_id)
def test_dispersion_modes(spec, rng):
    family = get_family(*spec)
    eta = rng.normal(size=30) * 0.3
    y = np.abs(rng.normal(size=30)) * 0.5 + 0.1
    w = rng.uniform(0.5, 2.0, size=30)
    pearson = family.pearson_statistic(y, eta, w)
    chi2 = family.pearson_chi2(y, eta, w)
    calls = []

    def dof():
        calls.append(1)
        return 4.0

    assert dispersion_root(family, pearson, 30, dof, mode="fixed") == 1.0
    np.testing.assert_allclose(
        dispersion_root(family, pearson, 30, dof, mode="pearson") ** 2, chi2 / 26.0
    )
    auto = dispersion_root(family, pearson, 30, dof, mode="auto") ** 2
    if family.fixed_dispersion is None:
        np.testing.assert_allclose(auto, chi2 / 26.0)
    else:
        calls.clear()
        assert auto == family.fixed_dispersion
        assert not calls  # the degrees of freedom were not needed


def test_dispersion_with_too_few_degrees_of_freedom_warns():
    family = get_family("gamma")
    pearson = (1.0, 2.0)
    with pytest.warns(UserWarning, match="residual degrees of freedom"):
        root = dispersion_root(family, pearson, 5, lambda: 4.5)
    assert root == pytest.approx(np.sqrt(2.0))
