"""Where a fitted pipeline finds its class: class activation maps.

:func:`class_activation_maps` returns, for each image, a map of the image's
positions that says how much each contributed to a class's score:

- **exact class activation maps** (CAM, Zhou et al. 2016) when the
  transformer's features are globally average-pooled conv or pool maps and
  every later step is affine (``StandardScaler``, ``MaxAbsScaler``,
  ``MinMaxScaler``, ``PCA``) before a linear classifier (anything with
  ``coef_`` and ``intercept_``: ``SoftmaxHeadClassifier``, whose internal
  standardisation is already folded into them, ``LogisticRegression``...).
  The mean of the map over positions plus the intercept *is* the decision
  function;
- **Grad-CAM** (Selvaraju et al. 2017) for every other pipeline (flattened
  cuts, ``fc1``/``fc2``, ``SignedPower``, ``Normalizer``), on the active
  Keras backend's automatic differentiation.
"""

from ._cam import cam_supported, exact_cams
from ._gradcam import grad_cams

__all__ = ["class_activation_maps"]

_METHODS = ("auto", "cam", "grad-cam")


def class_activation_maps(
    estimator, X, target=None, *, method="auto", layer="block5_conv3", intercept=False, size=None,
    batch_size=None, return_details=False,
):  # fmt: skip
    """Class activation maps of images under a fitted VGG16 pipeline.

    Parameters
    ----------
    estimator : Pipeline
        Fitted, its first step a :class:`~sklvgg.VGG16FeatureTransformer`,
        its last a linear classifier (with ``coef_`` and ``intercept_``, as
        ``SoftmaxHeadClassifier`` and ``LogisticRegression`` have; both
        methods need them).
    X : array-like or sequence of path-like
        Images, in any form the transformer accepts.
    target : None, label or array-like of labels, default=None
        The class of each map: None for the predicted class, one label of
        ``classes_`` for all images, or one label per image.
    method : {"auto", "cam", "grad-cam"}, default="auto"
        ``"cam"``: the exact decomposition (an error naming the step or
        parameter that rules it out otherwise); ``"grad-cam"``: Grad-CAM at
        ``layer``; ``"auto"``: CAM where it applies, Grad-CAM elsewhere.
    layer : str, default="block5_conv3"
        Grad-CAM only: the conv (or pool) layer whose activations are
        weighted by the gradient; at or before the transformer's deepest
        layer.
    intercept : bool, default=False
        CAM only: spread the classifier's intercept of the target class over
        the positions, so that the mean of each map equals the decision
        function (without it, the mean plus the intercept does).
    size : int, default=None
        Side of the square maps; None: the transformer's ``input_size``.
        Each layer's map is resized by area (piecewise constant, each cell
        of the layer weighted by the share of the image it covers), which
        keeps its mean.
    batch_size : int, default=None
        Images per pass; None: the transformer's ``batch_size``.
    return_details : bool, default=False
        Also return a dict with ``"targets"`` (column of ``classes_`` of each
        map), ``"features"`` (the transformer's output, computed by the same
        pass), ``"scores"`` (the decision function, one column per class;
        for two classes ``-d`` and ``d``) and ``"method"``.

    Returns
    -------
    maps : ndarray of shape (n_images, size, size)
        On the square the network sees (the image resized, or centre-cropped
        with ``resize="crop"``), its rows top to bottom. CAM maps are signed
        (positive: evidence for the class); Grad-CAM maps are >= 0.
    details : dict
        Only with ``return_details=True``.

    Notes
    -----
    CAM costs one forward pass of the network (one per view with ``flip``
    or ``scales``), unpooled, at every layer of the transformer; the score of
    class ``c`` is ``sum_l mean_xy sum_k w_ck A_lk(x, y) + b_c`` with ``w``,
    ``b`` the pipeline's steps folded into one affine map, and with ``flip``
    the mirrored view's map is mirrored back, with ``scales`` each size's map
    resized, and averaged as the transformer averages the views' features.
    Grad-CAM costs a forward pass and a backward pass from ``layer`` on.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklvgg import SoftmaxHeadClassifier, VGG16FeatureTransformer
    >>> from sklvgg.inspection import class_activation_maps
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    >>> pipe = make_pipeline(
    ...     VGG16FeatureTransformer(weights=None, layer="block5_conv3", pooling="avg", input_size=32,
    ...                             random_state=0),
    ...     SoftmaxHeadClassifier(max_iter=5, random_state=0),
    ... ).fit(X, [0, 1, 0, 1])
    >>> class_activation_maps(pipe, X).shape
    (4, 32, 32)
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {list(_METHODS)}; got {method!r}.")
    if method == "auto":
        method = "cam" if cam_supported(estimator) is None else "grad-cam"
    if method == "cam":
        maps, targets, features, scores = exact_cams(
            estimator, X, target, size=size, intercept=intercept, batch_size=batch_size
        )
    else:
        maps, targets, features, scores = grad_cams(
            estimator, X, target, layer=layer, size=size, batch_size=batch_size
        )
    if not return_details:
        return maps
    details = {"targets": targets, "features": features, "scores": scores, "method": method}
    return maps, details
