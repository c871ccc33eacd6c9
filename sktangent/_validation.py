"""Input and output checks shared by the estimators, the scores and the strategies.

Each check turns a silent NaN, an overflow or a numpy error deep inside a
computation into a ValueError that names the argument and says what to do.
"""

import numpy as np
from sklearn.utils.validation import _check_sample_weight, check_array, column_or_1d

#: Parameters that define the fitted model: changing one with ``set_params``
#: after ``fit`` leaves fitted attributes that no longer belong to it.
MODEL_PARAMS = (
    "alpha",
    "alpha_global",
    "alpha_user",
    "family",
    "power",
    "kernel",
    "gamma",
    "degree",
    "coef0",
    "kernel_params",
    "n_components",
    "fit_intercept",
    "dispersion",
)


def check_target(y, input_name="y"):
    """``y`` as a 1-D float64 array; numeric strings are converted, as by Ridge.

    Non-numeric labels raise a ValueError naming ``input_name`` rather than a
    numpy ufunc error later on.
    """
    try:
        y = check_array(y, ensure_2d=False, dtype=np.float64, input_name=input_name)
    except (ValueError, TypeError) as exc:
        if "NaN" in str(exc) or "infinity" in str(exc):
            raise
        raise ValueError(
            f"{input_name} must be numeric (regression targets); it could not be "
            f"converted to float: {exc}"
        ) from exc
    return column_or_1d(y, warn=True)


def check_weights(sample_weight, X):
    """Sample weights as float64: non-negative, and positive somewhere.

    ``None`` gives unit weights. A negative weight would turn a loss into a
    gain, and all-zero weights leave nothing to fit; both raise a ValueError.
    """
    w = _check_sample_weight(sample_weight, X, dtype=np.float64)
    if np.any(w < 0):
        raise ValueError(
            "sample_weight must be non-negative; found negative weights at "
            f"indices {np.flatnonzero(w < 0)[:10].tolist()}."
        )
    if not np.any(w > 0):
        raise ValueError("sample_weight is zero everywhere; nothing to fit.")
    return w


def snapshot_params(estimator):
    """The model-defining parameters at fit time (see :func:`check_unchanged`)."""
    # Parameters are plain attributes (scikit-learn's convention); reading
    # them directly spares get_params' signature inspection on every fit.
    return {
        name: getattr(estimator, name)
        for name in MODEL_PARAMS
        if hasattr(estimator, name)
    }


def _same(a, b):
    if a is b:
        return True
    try:
        return bool(type(a) is type(b) and a == b)
    except (ValueError, TypeError):  # arrays inside kernel_params
        return False


def check_unchanged(estimator):
    """Raise if ``set_params`` changed the model after ``fit``.

    The fitted attributes (dual coefficients or coefficients, the factorised
    Hessian, the tangent) belong to the parameters they were fitted with;
    using them with another kernel, family or alpha would be silently wrong.
    """
    fitted = getattr(estimator, "_fitted_params", None)
    if fitted is None:
        return
    changed = [
        name
        for name, value in fitted.items()
        if not _same(getattr(estimator, name), value)
    ]
    if changed:
        details = ", ".join(
            f"{name}={fitted[name]!r} -> {getattr(estimator, name)!r}"
            for name in changed
        )
        raise ValueError(
            f"The parameters of this {type(estimator).__name__} were changed "
            f"after fit ({details}); its fitted attributes belong to the old "
            "values. Call fit again (or set the parameters back)."
        )


def check_eta(family, eta, tangent=None):
    """Raise if a linear predictor (or its tangent) is non-finite or overflows.

    ``family=None`` checks finiteness only. Log-link families also refuse
    ``eta > family.eta_max``, where the mean ``exp(eta)`` would be capped.
    """
    for values in (eta, tangent):
        if values is None:
            continue
        bad = ~np.isfinite(values)
        if np.any(bad):
            raise ValueError(
                "The linear predictor or its tangent is not finite at query row "
                f"{int(np.flatnonzero(bad)[0])} (overflow of X times the "
                "coefficients): the query features are far larger than the "
                "training data's. Check their scale."
            )
    if family is None or family.eta_max is None or not np.size(eta):
        return
    top = int(np.argmax(eta))
    if eta[top] > family.eta_max:
        raise ValueError(
            f"The linear predictor reaches {float(eta[top]):.4g} at query row "
            f"{top}: with family={family.name!r} (log link) the predicted mean "
            f"exp(eta) exceeds exp({family.eta_max:g}) ~ 1e304, beyond what "
            "float64 holds together with its variance. The query point is far "
            "outside the training data, or on another scale."
        )


def check_finite_scores(scores, what="influence scores"):
    """Raise rather than return (or rank by) a NaN or infinite score."""
    scores = np.asarray(scores)
    bad = ~np.isfinite(scores)
    if np.any(bad):
        rows = np.flatnonzero(bad.reshape(scores.shape[0], -1).any(axis=1))
        raise ValueError(
            f"The {what} are not finite at {rows.size} row(s), e.g. row "
            f"{int(rows[0])} ({scores.reshape(scores.shape[0], -1)[rows[0]]}): "
            "they overflow float64 (targets or features on an extreme scale, or "
            "a mean at the edge of the family's range). Rescale X or y."
        )
    return scores


def class_codes(classes, y, name="y"):
    """Indices in ``classes`` of the labels ``y``; an unknown label raises."""
    y = column_or_1d(np.asarray(y), warn=True)
    index = {label: k for k, label in enumerate(classes.tolist())}
    codes = np.fromiter(
        (index.get(label, -1) for label in y.tolist()), dtype=np.intp, count=y.size
    )
    if np.any(codes < 0):
        unknown = list(dict.fromkeys(y[codes < 0].tolist()))[:5]
        raise ValueError(
            f"{name} contains labels the classifier was not fitted on: "
            f"{unknown}; its classes are {classes.tolist()} (labels not seen in "
            "fit have no probability)."
        )
    return codes
