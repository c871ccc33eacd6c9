"""sktangent: scikit-learn regressors and classifiers with a regularity tangent.

The regularity tangent is the derivative of the fitted parameters with respect
to the log of the regularisation strength. From it follow the influence of a
point on model complexity and a curiosity score for unlabelled points.
"""

from ._classifier import TangentClassifier
from ._cv import TangentRegressorCV
from ._estimator import TangentRegressor
from ._multiuser import MultiUserTangentRegressor

__version__ = "0.1.0.dev0"

__all__ = [
    "MultiUserTangentRegressor",
    "TangentClassifier",
    "TangentRegressor",
    "TangentRegressorCV",
    "__version__",
]
