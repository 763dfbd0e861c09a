"""ClassActivationDisplay: where a fitted pipeline finds each image's class, drawn over the image."""

import numpy as np

from .._images import as_image_source, iter_batches
from ..exceptions import InputError
from ..inspection import class_activation_maps
from ._base import _BaseDisplay

__all__ = ["ClassActivationDisplay"]


class ClassActivationDisplay(_BaseDisplay):
    """Class activation maps laid over their images.

    Build it with :meth:`from_estimator`; the constructor takes the arrays
    and stores them as given (they are checked when drawn). Read more in the
    :ref:`User Guide <inspection>`.

    Parameters
    ----------
    images : ndarray of shape (n_images, size, size, 3)
        The images as the network sees them (resized, or centre-cropped),
        RGB in [0, 255].
    maps : ndarray of shape (n_images, size, size)
        One map per image, on the same square (see
        :func:`sklvgg.inspection.class_activation_maps`).
    labels : array-like of shape (n_images,)
        The class of each map.
    probabilities : array-like of shape (n_images,) or None, default=None
        The classifier's probability of that class for each image (None
        where it has no ``predict_proba``).
    true_labels : array-like of shape (n_images,) or None, default=None
        The images' true classes, if known: the title says whether the
        prediction was right.
    method : str, default="cam"
        How the maps were made (``"cam"`` or ``"grad-cam"``), for the title.

    Attributes
    ----------
    axes_ : ndarray of matplotlib Axes
        One per image.
    ax_ : matplotlib Axes or None
        The axes when there is one image; None for several.
    figure_ : matplotlib Figure
    overlays_ : list of matplotlib AxesImage
        The maps drawn over the images.

    See Also
    --------
    sklvgg.inspection.class_activation_maps : The maps as arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from sklvgg.plotting import ClassActivationDisplay
    >>> images = np.zeros((2, 32, 32, 3))
    >>> maps = np.random.default_rng(0).random((2, 32, 32))
    >>> display = ClassActivationDisplay(images, maps, ["cat", "dog"], [0.9, 0.6])
    >>> display.plot().axes_.shape
    (2,)
    """

    def __init__(self, images, maps, labels, probabilities=None, *, true_labels=None, method="cam"):
        self.images = images
        self.maps = maps
        self.labels = labels
        self.probabilities = probabilities
        self.true_labels = true_labels
        self.method = method

    def _arrays(self):
        """The stored data as arrays, checked: one image, map and label (...) each."""
        images, maps = np.asarray(self.images), np.asarray(self.maps, dtype=float)
        if images.shape[:3] != maps.shape or maps.ndim != 3:
            raise InputError(
                f"images (n, size, size, 3) and maps (n, size, size) must agree; got shapes "
                f"{images.shape} and {maps.shape}."
            )
        data = {"images": images, "maps": maps}
        for name, dtype in (("labels", None), ("probabilities", float), ("true_labels", None)):
            value = getattr(self, name)
            data[name] = None if value is None else np.asarray(value, dtype=dtype)
            if value is not None and len(data[name]) != len(maps):
                raise InputError(f"{name} must hold one entry per map ({len(maps)}); got {len(data[name])}.")
        return data

    def plot(self, ax=None, *, n_cols=None, alpha=0.5, cmap="jet", symmetric=False):
        """Draw each map over its image, the class and its probability in the title.

        Parameters
        ----------
        ax : array-like of matplotlib Axes or None, default=None
            One Axes per image; None: a new figure, ``n_cols`` per row.
        n_cols : int, default=None
            Images per row of a new figure (default: up to 5).
        alpha : float, default=0.5
            Opacity of the maps.
        cmap : str, default="jet"
            Colour map of the maps (with signed CAM maps, a diverging one
            such as ``"RdBu_r"`` and ``symmetric=True`` show evidence against
            the class too).
        symmetric : bool, default=False
            Centre each map's colour scale on 0 (for signed CAM maps);
            otherwise it spans each map's minimum to maximum.

        Returns
        -------
        display : ClassActivationDisplay
        """
        data = self._arrays()
        n = len(data["maps"])
        n_cols = int(n_cols or min(n, 5) or 1)
        figsize = (2.6 * n_cols, 2.9 * -(-n // n_cols))
        axes, fig = self._make_axes(ax, n, figsize=figsize, n_cols=n_cols)
        self.overlays_ = []
        for i, axis in enumerate(axes):
            axis.imshow(np.clip(data["images"][i], 0, 255).astype(np.uint8))
            m = data["maps"][i]
            if symmetric:
                bound = float(np.abs(m).max()) or 1.0
                vmin, vmax = -bound, bound
            else:
                vmin, vmax = float(m.min()), float(m.max())
            self.overlays_.append(
                axis.imshow(m, cmap=cmap, alpha=alpha, vmin=vmin, vmax=vmax, interpolation="bilinear")
            )
            axis.set_title(self._title(data, i), fontsize=9)
            axis.set_axis_off()
        return self._finish(axes, fig)

    @staticmethod
    def _title(data, i):
        labels, probabilities, true_labels = data["labels"], data["probabilities"], data["true_labels"]
        title = str(labels[i])
        if probabilities is not None:
            title += f" ({probabilities[i]:.0%})"
        if true_labels is not None and true_labels[i] != labels[i]:
            title += f"\ntrue: {true_labels[i]}"
        return title

    @classmethod
    def from_estimator(
        cls, estimator, images, target=None, *, y=None, method="auto", layer="block5_conv3", size=None,
        ax=None, n_cols=None, alpha=0.5, cmap="jet",
    ):  # fmt: skip
        """Maps of a fitted pipeline for some images, drawn.

        Parameters
        ----------
        estimator : Pipeline
            Fitted, a :class:`~sklvgg.VGG16FeatureTransformer` first and a
            classifier last.
        images : array-like or sequence of path-like
            The images, as the transformer takes them (a few: one axes each).
        target : None, label or array-like of labels, default=None
            The class of each map: None for the predicted class, one label
            for all, or one per image.
        y : array-like or None, default=None
            The true classes, if known (shown when the prediction is wrong).
        method, layer, size
            As :func:`sklvgg.inspection.class_activation_maps` takes them.
        ax, n_cols, alpha, cmap
            As :meth:`plot` takes them.

        Returns
        -------
        display : ClassActivationDisplay
        """
        maps, details = class_activation_maps(
            estimator, images, target, method=method, layer=layer, size=size, return_details=True
        )  # checks the pipeline: a fitted VGG16FeatureTransformer first, a classifier last
        vgg, classes = estimator[0], np.asarray(estimator.classes_)
        targets = details["targets"]
        rest = estimator[1:]
        probabilities = None
        if hasattr(rest, "predict_proba"):
            proba = rest.predict_proba(details["features"])
            probabilities = proba[np.arange(len(targets)), targets]
        source = as_image_source(images, vgg.max_image_pixels)
        side = maps.shape[1]
        ((_, pixels),) = iter_batches(source, np.arange(len(source)), len(source), side,
                                      crop=vgg.resize == "crop")  # fmt: skip
        display = cls(pixels, maps, classes[targets], probabilities, true_labels=y, method=details["method"])
        return display.plot(ax=ax, n_cols=n_cols, alpha=alpha, cmap=cmap)
