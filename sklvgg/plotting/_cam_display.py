"""ClassActivationDisplay: where a fitted pipeline finds each image's class, drawn over the image."""

import numpy as np

from .._images import as_image_source, iter_batches
from ..exceptions import InputError
from ..inspection import class_activation_maps
from ._base import _axes

__all__ = ["ClassActivationDisplay"]


class ClassActivationDisplay:
    """Class activation maps laid over their images.

    Build it with :meth:`from_estimator`; the constructor takes the arrays.
    Read more in the :ref:`User Guide <inspection>`.

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
        self.images = np.asarray(images)
        self.maps = np.asarray(maps, dtype=float)
        self.labels = np.asarray(labels)
        self.probabilities = None if probabilities is None else np.asarray(probabilities, dtype=float)
        self.true_labels = None if true_labels is None else np.asarray(true_labels)
        self.method = method
        n = len(self.maps)
        if self.images.shape[:3] != self.maps.shape or self.maps.ndim != 3:
            raise InputError(
                f"images (n, size, size, 3) and maps (n, size, size) must agree; got shapes "
                f"{self.images.shape} and {self.maps.shape}."
            )
        for name in ("labels", "probabilities", "true_labels"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise InputError(f"{name} must hold one entry per map ({n}); got {len(value)}.")

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
        n = len(self.maps)
        if ax is None:
            n_cols = int(n_cols or min(n, 5))
            n_rows = -(-n // n_cols)
            from ._base import _figure

            fig = _figure(layout="constrained", figsize=(2.6 * n_cols, 2.9 * n_rows))
            axes = np.atleast_1d(fig.subplots(n_rows, n_cols)).ravel()
            for extra in axes[n:]:
                extra.set_axis_off()
            axes = axes[:n]
        else:
            axes, fig = _axes(ax, n, "ClassActivationDisplay.plot")
        self.overlays_ = []
        for i, axis in enumerate(axes):
            axis.imshow(np.clip(self.images[i], 0, 255).astype(np.uint8))
            m = self.maps[i]
            if symmetric:
                bound = float(np.abs(m).max()) or 1.0
                vmin, vmax = -bound, bound
            else:
                vmin, vmax = float(m.min()), float(m.max())
            self.overlays_.append(
                axis.imshow(m, cmap=cmap, alpha=alpha, vmin=vmin, vmax=vmax, interpolation="bilinear")
            )
            axis.set_title(self._title(i), fontsize=9)
            axis.set_axis_off()
        self.axes_, self.figure_ = np.asarray(axes, dtype=object), fig
        return self

    def _title(self, i):
        title = str(self.labels[i])
        if self.probabilities is not None:
            title += f" ({self.probabilities[i]:.0%})"
        if self.true_labels is not None and self.true_labels[i] != self.labels[i]:
            title += f"\ntrue: {self.true_labels[i]}"
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
