"""sklvgg: transfer learning with a frozen VGG16 as scikit-learn estimators."""

from ._architecture import LAYER_NAMES
from ._cache import CacheWarning
from ._head import SoftmaxHeadClassifier, study_head
from ._images import ImageReadError
from ._reporting import TransformTally, collect_transforms
from ._transformer import VGG16FeatureTransformer
from .exceptions import InputError, SklvggUserError, WeightsUnavailableError

__version__ = "0.1.0"

__all__ = [
    "CacheWarning",
    "ImageReadError",
    "InputError",
    "LAYER_NAMES",
    "SklvggUserError",
    "SoftmaxHeadClassifier",
    "TransformTally",
    "VGG16FeatureTransformer",
    "WeightsUnavailableError",
    "__version__",
    "collect_transforms",
    "study_head",
]
