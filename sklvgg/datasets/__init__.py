"""Dataset loaders (file paths and labels, not pixels) and the embedded default."""

from ._loaders import TooFewImagesError, load_caltech256, load_image_folder, load_urban_tribes
from ._synthetic import make_shapes_dataset

__all__ = [
    "TooFewImagesError",
    "load_caltech256",
    "load_image_folder",
    "load_urban_tribes",
    "make_shapes_dataset",
]
