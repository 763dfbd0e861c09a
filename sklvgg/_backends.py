"""Running VGG16 on a Keras 3 backend: the backend check, bfloat16 support, compiled cuts.

A cut of the network becomes a :class:`FeatureFunction`: preprocessing, the
forward pass and the pooling compiled together by the active backend
(``tf.function``, ``jax.jit`` or eager PyTorch under ``inference_mode``).
The backends are imported inside the functions that need them.
"""

import os
import warnings

import numpy as np

from ._architecture import layer_pooling, preprocess_ops
from .exceptions import InputError

__all__ = [
    "BACKENDS",
    "PRECISIONS",
    "FeatureFunction",
    "bfloat16_device",
    "compile_cut",
    "has_native_bfloat16",
    "keras_backend",
    "pool_ops",
    "resolve_precision",
    "warn_if_bfloat16_is_emulated",
]

#: Keras 3 backends with a compiled forward pass here.
BACKENDS = ("tensorflow", "jax", "torch")


def keras_backend():
    """The active Keras 3 backend (``KERAS_BACKEND``), checked to be supported.

    Returns
    -------
    name : {"tensorflow", "jax", "torch"}

    Raises
    ------
    ValueError
        For another backend (``"numpy"``, ``"openvino"``), or one Keras
        cannot import (a misspelt ``KERAS_BACKEND``), naming the supported ones.
    """
    try:
        import keras
    except ValueError as exc:  # Keras' "Unable to import backend : tensorfow", raised by its own import
        if "backend" not in str(exc):
            raise
        requested = os.environ.get("KERAS_BACKEND")
        source = "the backend of ~/.keras/keras.json" if requested is None else f"KERAS_BACKEND={requested!r}"
        raise InputError(
            f"{source} is not a backend Keras can import; sklvgg runs VGG16 on the Keras backends "
            f"{list(BACKENDS)}. Set KERAS_BACKEND to one of them."
        ) from exc

    name = keras.backend.backend()
    if name not in BACKENDS:
        raise InputError(
            f"sklvgg runs VGG16 on the Keras backends {list(BACKENDS)}; the active one is {name!r}. "
            f"Set KERAS_BACKEND to one of them before Keras is imported."
        )
    return name


_BFLOAT16_WARNED = False


#: The precisions of :class:`~sklvgg.VGG16FeatureTransformer`: ``"auto"`` resolves to one of the others.
PRECISIONS = ("auto", "float32", "bfloat16")
#: The lowest NVIDIA compute capability with bfloat16 units (Ampere).
BFLOAT16_COMPUTE_CAPABILITY = (8, 0)


def _cpu_flags(cpuinfo="/proc/cpuinfo"):
    """The CPU's flags from ``cpuinfo`` (a set), or None where they cannot be read."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return None
    return set(flags) or None


def has_native_bfloat16(cpuinfo="/proc/cpuinfo"):
    """Whether this machine computes bfloat16 natively, or None if unknown.

    True when the active Keras backend sees a GPU with bfloat16 units (NVIDIA
    compute capability 8.0 or more) or the CPU has AVX512-BF16 or AMX-BF16;
    False for other x86 CPUs (AVX2, AVX-512 without BF16) and older GPUs,
    where bfloat16 is converted to float32 around every operation; None where
    ``/proc/cpuinfo`` cannot be read (not Linux) and no GPU is visible.
    """
    gpu = _gpu_bfloat16()
    if gpu is not None:
        return gpu
    flags = _cpu_flags(cpuinfo)
    if flags is None:
        return None
    return "avx512_bf16" in flags or "amx_bf16" in flags


def bfloat16_device(cpuinfo="/proc/cpuinfo"):
    """What runs the network, named by its bfloat16 ability.

    Returns
    -------
    name : str
        ``"GPU <name> (compute capability x.y)"`` where the backend sees a GPU;
        else the CPU's best instruction set for bfloat16: ``"amx_bf16"``,
        ``"avx512_bf16"``, ``"avx512f"`` (no BF16), ``"avx2"``, or
        ``"unknown"`` where ``/proc/cpuinfo`` cannot be read.
    """
    gpus = _gpu_capabilities()
    if gpus:
        name, capability = gpus[0]
        cc = "unknown" if capability is None else ".".join(map(str, capability))
        return f"GPU {name} (compute capability {cc})"
    flags = _cpu_flags(cpuinfo) or set()
    for flag in ("amx_bf16", "avx512_bf16", "avx512f", "avx2"):
        if flag in flags:
            return flag
    return "unknown"


def resolve_precision(precision):
    """The precision the network runs in: ``"auto"`` resolved on this machine.

    Parameters
    ----------
    precision : {"auto", "float32", "bfloat16"}

    Returns
    -------
    resolved : {"float32", "bfloat16"}
        ``precision`` itself, or for ``"auto"``: ``"bfloat16"`` where
        :func:`has_native_bfloat16` says this machine computes it natively,
        ``"float32"`` elsewhere (also where that is unknown).
    """
    if precision != "auto":
        return precision
    return "bfloat16" if has_native_bfloat16() else "float32"


def _gpu_capabilities():
    """``[(name, (major, minor) or None), ...]``: the GPUs the active Keras backend sees."""
    return _gpu_capabilities_of(keras_backend())


_GPU_CAPABILITIES = {}


def _gpu_capabilities_of(backend):
    """:func:`_gpu_capabilities`, asked once per process and backend (a device query is slow)."""
    if backend not in _GPU_CAPABILITIES:
        _GPU_CAPABILITIES[backend] = _query_gpus(backend)
    return _GPU_CAPABILITIES[backend]


def _query_gpus(backend):
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            out = []
            for device in tf.config.list_physical_devices("GPU"):
                details = tf.config.experimental.get_device_details(device)
                capability = details.get("compute_capability")
                out.append(
                    (details.get("device_name", device.name), tuple(capability) if capability else None)
                )
            return out
        if backend == "jax":
            import jax

            out = []
            for device in jax.devices():
                if device.platform != "gpu":
                    continue
                capability = getattr(device, "compute_capability", None)
                if capability is not None:
                    capability = tuple(int(part) for part in str(capability).split(".")[:2])
                out.append((device.device_kind, capability))
            return out
        import torch

        return [
            (torch.cuda.get_device_name(i), tuple(torch.cuda.get_device_capability(i)))
            for i in range(torch.cuda.device_count())
        ]
    except (ImportError, RuntimeError, ValueError):  # no usable GPU runtime
        return []


def _gpu_bfloat16():
    """Whether a visible GPU has bfloat16 units; None where no GPU is visible.

    A GPU whose compute capability is unknown (not NVIDIA) counts as having them.
    """
    gpus = _gpu_capabilities()
    if not gpus:
        return None
    capability = gpus[0][1]
    return capability is None or capability >= BFLOAT16_COMPUTE_CAPABILITY


def warn_if_bfloat16_is_emulated():
    """Warn once per process that bfloat16 is emulated (slower than float32) where it is."""
    global _BFLOAT16_WARNED
    if _BFLOAT16_WARNED:
        return
    _BFLOAT16_WARNED = True
    if has_native_bfloat16() is False:
        warnings.warn(
            "precision='bfloat16' on a CPU without AVX512-BF16 or AMX and no GPU: bfloat16 is "
            "emulated and no faster than float32 (measured 0.84-1.09x float32's images/s on an "
            "AVX2-only AMD EPYC, against 1.94x on one with AVX512-BF16), and its features are "
            "rounded to 8 significant bits. Use precision='float32' on this machine.",
            UserWarning,
            stacklevel=4,
        )


class FeatureFunction:
    """A compiled cut of VGG16: NumPy batches in, NumPy features out.

    Parameters
    ----------
    compiled : callable
        The backend's compiled function, from a float32 array of RGB values
        in [0, 255] to the backend's float32 tensor ``(n, d)`` (for a cut at
        several layers, their features concatenated).
    to_numpy : callable
        Converts that tensor to a NumPy array (off the device).
    keras_model : keras.Model
        The cut model (input: preprocessed BGR batches); one output per layer.
    backend : str
        The Keras backend it runs on.
    """

    def __init__(self, compiled, to_numpy, keras_model, backend):
        self._compiled, self._to_numpy = compiled, to_numpy
        self.keras_model, self.backend = keras_model, backend

    def __call__(self, batch):
        """Features of a float32 batch ``(n, size, size, 3)``, as float32 ``(n, d)``."""
        return self._to_numpy(self._compiled(np.ascontiguousarray(batch, dtype=np.float32)))


def compile_cut(model, layer, input_size, pooling, preprocessing="caffe"):
    """Cut ``model`` at ``layer`` (a str) or at each of several layers (a tuple).

    Several layers make one ``keras.Model`` with one output per layer: the
    trunk they share is computed once per batch, and each output is pooled
    (conv and pool layers) or flattened, then concatenated in the order given.
    """
    import keras

    if isinstance(layer, str):
        cut = keras.Model(model.inputs, model.get_layer(layer).output, name=f"vgg16_{layer}")
        pool = layer_pooling(layer, pooling)
    else:
        outputs = [model.get_layer(name).output for name in layer]
        cut = keras.Model(model.inputs, outputs, name="vgg16_" + "__".join(layer))
        pool = tuple(layer_pooling(name, pooling) for name in layer)
    backend = keras_backend()
    compile_for = {"tensorflow": _compile_tensorflow, "jax": _compile_jax, "torch": _compile_torch}
    compiled, to_numpy = compile_for[backend](cut, input_size, pool, preprocessing)
    return FeatureFunction(compiled, to_numpy, cut, backend)


def pool_ops(y, pool):
    """Cast to float32, pool over space (or flatten), with ``keras.ops``: one code for every backend.

    The compiled cuts end with it, and Grad-CAM rebuilds their features with it.
    ``pool`` is :func:`~sklvgg._architecture.layer_pooling`'s answer for the
    layer. With ``pool`` a tuple (one entry per output of a multi-output cut), ``y``
    is the list of outputs, each treated so, and the result their concatenation.
    """
    from keras import ops

    if isinstance(pool, tuple):
        return ops.concatenate([pool_ops(part, p) for part, p in zip(y, pool)], axis=1)
    y = ops.cast(y, "float32")
    if pool == "avg":
        y = ops.mean(y, axis=(1, 2))
    elif pool == "max":
        y = ops.max(y, axis=(1, 2))
    return ops.reshape(y, (-1, int(np.prod(y.shape[1:]))))


def _compile_tensorflow(cut, input_size, pool, preprocessing="caffe"):
    import tensorflow as tf

    @tf.function(
        input_signature=[tf.TensorSpec([None, input_size, input_size, 3], tf.float32)],
        jit_compile=False,
        autograph=False,  # no tensor-dependent Python control flow to convert
    )
    def features(batch):
        x = preprocess_ops(batch, preprocessing)
        return pool_ops(cut(x, training=False), pool)

    # Traced once, here: its signature never changes, so it never retraces. TensorFlow
    # counts each new cut's first trace against the same Python function, though, and
    # after five it warns "triggered tf.function retracing"; that warning is muted for
    # this one trace only.
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        concrete = features.get_concrete_function()
    finally:
        logger.setLevel(level)
    return concrete, lambda y: y.numpy()


def _compile_jax(cut, input_size, pool, preprocessing="caffe"):
    import jax

    trainable = [v.value for v in cut.trainable_variables]
    frozen = [v.value for v in cut.non_trainable_variables]

    @jax.jit
    def features(trainable, frozen, batch):
        x = preprocess_ops(batch, preprocessing)
        y, _ = cut.stateless_call(trainable, frozen, x, training=False)
        return pool_ops(y, pool)

    return (lambda batch: features(trainable, frozen, batch)), np.asarray


def _compile_torch(cut, input_size, pool, preprocessing="caffe"):
    import keras
    import torch

    def features(batch):
        with torch.inference_mode():
            rgb = keras.ops.convert_to_tensor(batch)
            x = preprocess_ops(rgb, preprocessing)
            return pool_ops(cut(x, training=False), pool)

    return features, lambda y: y.cpu().numpy()
