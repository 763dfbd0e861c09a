"""The same VGG16 on every Keras 3 backend: TensorFlow, JAX and PyTorch.

Keras picks its backend once per process (``KERAS_BACKEND``), so each backend
other than the suite's own runs in a subprocess that writes its features to a
file; the parent compares them with its own within float rounding.
"""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import assert_features_close, small_transformer

from sklvgg import VGG16FeatureTransformer

RUN = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    import keras
    from sklvgg import VGG16FeatureTransformer

    X = np.load(sys.argv[1])
    spec = json.loads(sys.argv[2])
    out = {"backend": np.array(keras.backend.backend())}
    for name, kw in spec["cases"].items():
        vgg = VGG16FeatureTransformer(**{**spec["common"], **kw}).fit(X)
        out[name] = vgg.transform(X)
        out[name + ":hits"] = np.array(vgg.cache_hits_)
    vgg = VGG16FeatureTransformer(layer="block1_pool", **spec["common"]).fit(X)
    out["maps"] = vgg.activation_maps(X[:2], layer="block1_conv2")
    out["filters"] = vgg.get_layer_weights("block1_conv1")[0]
    np.savez(sys.argv[3], **out)
    """
)

CASES = {
    "block2_pool": dict(layer="block2_pool"),
    "block4_pool_avg": dict(layer="block4_pool", pooling="avg"),
    "block5_conv3_max": dict(layer="block5_conv3", pooling="max"),
    "block5_pool_avg_bf16": dict(layer="block5_pool", pooling="avg", precision="bfloat16"),
    # the other preprocessings, in the backend's own ops
    "block3_pool_none": dict(layer="block3_pool", pooling="avg", preprocessing="none"),
    "block3_pool_samplewise": dict(layer="block3_pool", pooling="avg", preprocessing="samplewise"),
    # weights=None: the same seed draws the same network on every backend
    "random_block2_pool": dict(layer="block2_pool", weights=None, random_state=7),
}


def _run_backend(backend, X, common, tmp_path):
    np.save(tmp_path / "X.npy", X)
    script = tmp_path / "run.py"
    script.write_text(RUN)
    out = tmp_path / f"{backend}.npz"
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    spec = json.dumps({"cases": CASES, "common": common})
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "X.npy"), spec, str(out)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(np.load(out))


@pytest.mark.slow  # a second Keras backend in a subprocess
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_backend_matches_tensorflow(backend, tmp_path, rng, notop_weights_files):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    X = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    common = dict(weights=str(notop_weights_files["keras3"]), input_size=32, batch_size=3,
                  memory=str(tmp_path / "cache"))  # fmt: skip
    ours = {}
    for name, kw in CASES.items():
        vgg = VGG16FeatureTransformer(**{**common, **kw}).fit(X)
        ours[name] = vgg.transform(X)
    theirs = _run_backend(backend, X, common, tmp_path)
    assert str(theirs["backend"]) == backend
    for name, kw in CASES.items():
        assert_features_close(theirs[name], ours[name], kw.get("precision", "float32"))
        # the cache key holds the backend: TensorFlow's entries are not served to it
        assert int(theirs[name + ":hits"]) == 0, name
    vgg = VGG16FeatureTransformer(layer="block1_pool", **common).fit(X)
    assert_features_close(theirs["maps"], vgg.activation_maps(X[:2], layer="block1_conv2"))
    np.testing.assert_array_equal(theirs["filters"], vgg.get_layer_weights("block1_conv1")[0])


def test_unsupported_backend_is_named(monkeypatch):
    import keras

    from sklvgg._backends import keras_backend

    monkeypatch.setattr(keras.backend, "backend", lambda: "numpy")  # as KERAS_BACKEND=numpy would
    with pytest.raises(ValueError, match="the active one is 'numpy'.*KERAS_BACKEND"):
        keras_backend()


def test_jax_caffe_preprocessing_switches_rgb_to_bgr_and_removes_the_means(tmp_path, rng):
    """One 32 px image: JAX's "caffe" preprocessing (RGB to BGR, the means) gives TensorFlow's features."""
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    X = rng.integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    common = dict(layer="block1_pool", pooling="avg", weights=None, random_state=7, input_size=32)
    np.save(tmp_path / "X.npy", X)
    script = tmp_path / "jax_caffe.py"
    script.write_text(
        "import sys, keras, numpy as np\n"
        "from sklvgg import VGG16FeatureTransformer\n"
        "assert keras.backend.backend() == 'jax'\n"
        f"vgg = VGG16FeatureTransformer(preprocessing='caffe', **{common!r})\n"
        "np.save(sys.argv[2], vgg.fit_transform(np.load(sys.argv[1])))\n"
    )
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "X.npy"), str(tmp_path / "jax.npy")],
                          capture_output=True, text=True, env=env, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    jax_caffe = np.load(tmp_path / "jax.npy")

    tensorflow = VGG16FeatureTransformer(preprocessing="caffe", **common).fit(X)  # this process's backend
    np.testing.assert_allclose(jax_caffe, tensorflow.transform(X), rtol=1e-4, atol=1e-4)
    # the check sees the channel order: the image with its channels reversed gives other features
    assert not np.allclose(jax_caffe, tensorflow.transform(X[..., ::-1]), rtol=1e-3, atol=1e-3)


# ----------------------------------------------------------------------- native bfloat16 detection


@pytest.mark.parametrize(
    "gpus, flags, native, device",
    [
        ([], "fpu avx avx2 fma", False, "avx2"),
        ([], "fpu avx2 avx512f avx512_vnni", False, "avx512f"),
        ([], "fpu avx2 avx512f avx512_bf16", True, "avx512_bf16"),
        ([], "fpu avx2 avx512_bf16 amx_bf16 amx_tile", True, "amx_bf16"),
        ([("NVIDIA A100", (8, 0))], "fpu avx2", True, "GPU NVIDIA A100 (compute capability 8.0)"),
        ([("Tesla V100", (7, 0))], "fpu avx2 amx_bf16", False, "GPU Tesla V100 (compute capability 7.0)"),
    ],
)  # fmt: skip
def test_native_bfloat16_from_the_gpu_or_the_cpu_flags(monkeypatch, tmp_path, gpus, flags, native, device):
    import sklvgg._backends as backends_module

    monkeypatch.setattr(backends_module, "_gpu_capabilities", lambda: gpus)
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\n")
    assert backends_module.has_native_bfloat16(info) is native
    assert backends_module.bfloat16_device(info) == device


def test_auto_precision_resolution(monkeypatch):
    import sklvgg._backends as backends_module

    for native, resolved in ((True, "bfloat16"), (False, "float32"), (None, "float32")):
        monkeypatch.setattr(backends_module, "has_native_bfloat16", lambda native=native: native)
        assert backends_module.resolve_precision("auto") == resolved
        assert backends_module.resolve_precision("float32") == "float32"
        assert backends_module.resolve_precision("bfloat16") == "bfloat16"


# -------------------------------------------------------------------------- emulated bfloat16 and its warning


@pytest.mark.parametrize(
    "flags, expected",
    [
        ("fpu sse2 avx avx2 fma", False),
        ("fpu avx2 avx512f avx512_vnni", False),
        ("fpu avx2 avx512f avx512_bf16", True),
        ("fpu avx2 amx_bf16 amx_tile", True),
    ],
)
def test_native_bfloat16_read_from_cpu_flags(tmp_path, flags, expected):
    from sklvgg._backends import has_native_bfloat16

    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\n")
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU counts as native bfloat16 whatever the CPU")
    assert has_native_bfloat16(info) is expected
    assert has_native_bfloat16(tmp_path / "absent") is None


def test_emulated_bfloat16_warns_once(monkeypatch, images):
    import warnings

    import sklvgg._backends as backends_module

    monkeypatch.setattr(backends_module, "_BFLOAT16_WARNED", False)
    monkeypatch.setattr(backends_module, "has_native_bfloat16", lambda: False)
    kw = dict(weights=None, layer="block1_pool", pooling="avg", input_size=32, random_state=0)
    with pytest.warns(UserWarning, match="no faster than float32"):
        VGG16FeatureTransformer(precision="bfloat16", **kw).fit_transform(images)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        VGG16FeatureTransformer(precision="bfloat16", **kw).fit_transform(images)  # once only
        VGG16FeatureTransformer(precision="float32", **kw).fit_transform(images)
    monkeypatch.setattr(backends_module, "_BFLOAT16_WARNED", False)
    monkeypatch.setattr(backends_module, "has_native_bfloat16", lambda: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        VGG16FeatureTransformer(precision="bfloat16", **kw).fit_transform(images)


# ----------------------------------------------------------------------------- compiled cuts: traced once


def test_several_cuts_never_log_tf_function_retracing(rng):
    import logging

    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("a TensorFlow warning")
    import tensorflow as tf

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    tf.get_logger().addHandler(handler)
    try:
        X = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
        layers = ("block1_pool", "block2_pool", "block2_conv1", "block3_conv1", "block3_pool", "block4_pool")
        for layer in (*layers, "block4_conv2", "block5_conv1"):
            small_transformer(layer=layer, pooling="max", random_state=11).fit(X).transform(X)
    finally:
        tf.get_logger().removeHandler(handler)
    assert not [r for r in records if "retracing" in r.getMessage()]
