import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "caltech101-20"

# The numerical contract of VGG16FeatureTransformer (see its Notes): the same
# image recomputed in another batch, by another kernel or on another CPU agrees
# with the first result to within this fraction of the largest absolute value
# of that image's feature vector. Measured worst cases on 2-core AMD EPYC
# (AVX2 only), weights=None, 32 px, batch sizes 1-16, with oneDNN off (the
# default there), on, and capped to SSE4.1 / AVX2, and JAX against TensorFlow:
# 1.8e-6 (float32) and 7.5e-3 (bfloat16, whose own rounding step is 2**-8).
FEATURE_RTOL = {"float32": 1e-5, "bfloat16": 2e-2}


def assert_features_close(actual, desired, precision="float32"):
    """Assert two feature matrices agree within the transformer's contract.

    Each row may differ from ``desired`` by at most ``FEATURE_RTOL[precision]``
    times that row's largest absolute value: float rounding differs with the
    batch composition and with the kernels the CPU runs, so bit equality holds
    only for bytes read back from the cache or for the same batch run twice.
    """
    actual, desired = np.asarray(actual), np.asarray(desired)
    assert actual.shape == desired.shape, (actual.shape, desired.shape)
    assert actual.dtype == desired.dtype, (actual.dtype, desired.dtype)
    actual2, desired2 = actual.reshape(len(actual), -1), desired.reshape(len(desired), -1)
    scale = np.abs(desired2).max(axis=1, keepdims=True) if desired2.size else desired2
    bound = FEATURE_RTOL[precision] * np.maximum(scale, np.finfo(np.float32).tiny)
    excess = np.abs(actual2 - desired2) - bound
    if not (excess <= 0).all():
        row = int(np.argmax(excess.max(axis=1)))
        raise AssertionError(
            f"features differ beyond rtol {FEATURE_RTOL[precision]:g} of the row maximum: row {row}, "
            f"max |diff| {np.abs(actual2[row] - desired2[row]).max():.3g}, row max {scale[row, 0]:.3g}"
        )


def stored_keys(vgg, X):
    """The model keys under which ``vgg``'s ``transform`` files its entries, as a transform writes them.

    A clone of ``vgg`` transforms ``X`` into a fresh ``memory``: the names of the
    folders it creates under ``sklvgg-features`` (one per layer and view).
    """
    import tempfile

    from sklearn.base import clone

    with tempfile.TemporaryDirectory() as tmp:
        clone(vgg).set_params(memory=tmp).fit(X).transform(X)
        return sorted(os.listdir(os.path.join(tmp, "sklvgg-features")))


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


IMAGENET_CONV = SHARED_DATA.parent / "vgg16-imagenet-conv" / "vgg16_imagenet_notop.weights.h5"


@pytest.fixture(scope="session")
def imagenet_conv_weights():
    """The study's network: ImageNet-trained VGG16 conv layers (Keras 3 file in ../shared)."""
    if not IMAGENET_CONV.is_file():
        pytest.skip("../shared/data/vgg16-imagenet-conv not present")
    return IMAGENET_CONV


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


@pytest.fixture
def fake_network(monkeypatch):
    """Replace the compiled VGG16 by a cheap, deterministic stand-in of the same widths.

    For tests of what happens around the network (cache, temperature,
    searches) at sizes where the real one costs seconds (the 224 px top):
    each image's features are fixed functions of its pixels' mean and spread,
    different per column and per layer. Returns the list of batch sizes seen.
    """
    import sklvgg._transformer as transformer_module
    from sklvgg._architecture import SPATIAL_LAYERS, layer_output_shape

    seen = []

    def get_feature_function(source, layer, input_size, precision, pooling, preprocessing="caffe"):
        layers = (layer,) if isinstance(layer, str) else tuple(layer)
        widths = []
        for name in layers:
            shape = layer_output_shape(name, input_size)
            widths.append(
                shape[-1] if pooling is not None and name in SPATIAL_LAYERS else int(np.prod(shape))
            )

        def features(batch):
            seen.append(len(batch))
            batch = np.asarray(batch, dtype=np.float64)
            stats = np.stack([batch.mean(axis=(1, 2, 3)), batch.std(axis=(1, 2, 3))], axis=1) / 255
            blocks = []
            for k, width in enumerate(widths):
                columns = np.arange(width)
                blocks.append(8 * np.sin(stats[:, :1] * (columns + 1) + stats[:, 1:] * (k + 2) + columns))
            return np.concatenate(blocks, axis=1).astype(np.float32)

        return features

    monkeypatch.setattr(transformer_module, "get_feature_function", get_feature_function)
    return seen


def small_transformer(**kw):
    """A cheap transformer: random weights, ``block3_pool`` averaged (256 features), 32 px, no cache."""
    from sklvgg import VGG16FeatureTransformer

    params = dict(weights=None, layer="block3_pool", pooling="avg", input_size=32, random_state=0)
    params.update(kw)
    return VGG16FeatureTransformer(**params)


def rgb_image(rng, h=24, w=32):
    """A random ``h`` x ``w`` uint8 RGB image."""
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def cached_transformer(memory, **kw):
    """A cheap transformer caching in ``memory``: ``block4_pool`` averaged (512 features), 32 px, batch 5."""
    from sklvgg import VGG16FeatureTransformer

    params = dict(weights=None, layer="block4_pool", pooling="avg", input_size=32,
                  random_state=0, batch_size=5, memory=memory)  # fmt: skip
    params.update(kw)
    return VGG16FeatureTransformer(**params)


def cache_entries(folder):
    """The cache entries (``*.f32`` files) under ``folder``, sorted."""
    return sorted(p for p in folder.rglob("*.f32"))


@pytest.fixture
def counted(monkeypatch):
    """Counts the images that really go through the compiled network."""
    import sklvgg._transformer as transformer_module

    seen = {"images": 0, "calls": 0}
    real = transformer_module.get_feature_function

    def counting(*args, **kwargs):
        function = real(*args, **kwargs)

        def wrapper(batch):
            seen["images"] += int(batch.shape[0])
            seen["calls"] += 1
            return function(batch)

        return wrapper

    monkeypatch.setattr(transformer_module, "get_feature_function", counting)
    return seen


@pytest.fixture
def labelled(rng):
    """24 images of 3 classes (8 each), each class with a white band of its own."""
    X = rng.integers(0, 256, (24, 32, 32, 3), dtype=np.uint8)
    y = np.repeat([0, 1, 2], 8)
    for c in range(3):
        X[y == c, c * 10 : c * 10 + 10] = 255
    return X, y


def without_blocking(work, fifos, timeout=60):
    """Run ``work()`` in a thread; if it is still running after ``timeout``, it is
    blocked on one of ``fifos``: open each for writing (which releases a reader
    waiting in ``open``) and fail, instead of hanging the suite."""
    import threading

    outcome = {}

    def run():
        try:
            outcome["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        for fifo in fifos:
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        thread.join(10)
        pytest.fail(f"blocked for more than {timeout} s on a FIFO")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
