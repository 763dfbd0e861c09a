import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "caltech101-20"


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def images(rng):
    """Six small uint8 RGB images."""
    return rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)


@pytest.fixture(scope="session")
def shared_photos():
    root = SHARED_DATA / "101_ObjectCategories"
    if not root.is_dir():
        pytest.skip("../shared/data not present")
    return root


@pytest.fixture(scope="session")
def notop_model():
    """A randomly initialised VGG16 without its top, for 32 x 32 input."""
    import keras

    keras.utils.set_random_seed(1)
    return keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))


@pytest.fixture(scope="session")
def notop_weights_files(notop_model, tmp_path_factory):
    """The same weights saved in Keras 3 and in legacy (published-file) format."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    folder = tmp_path_factory.mktemp("weights")
    keras3 = folder / "vgg16_notop.weights.h5"
    notop_model.save_weights(keras3)
    legacy = folder / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    with h5py.File(legacy, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, notop_model)
    return {"keras3": keras3, "legacy": legacy}


def quiet_tf():
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
