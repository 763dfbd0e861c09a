"""Display objects of the study's figures, in scikit-learn's convention.

Each Display's constructor stores its data as given (plain arrays or
sequences, no conversion); ``plot(ax=None, ...)`` turns them into arrays,
draws them, stores ``axes_``, ``ax_``, ``figure_`` and the artists, and
returns the Display; classmethods (``from_estimator``, ``from_search``, ...)
compute the data from fitted objects and plot it. What the Displays draw
alike (their axes, title, grid, legend) is :class:`._base._BaseDisplay`'s.
matplotlib is imported only when drawing.
"""

import warnings

import numpy as np

from ..exceptions import InputError
from ._base import _BaseDisplay, _draw_note, _head_of, draw_reference

_QUANTITIES = {"loss": ("cross-entropy loss", "Loss"), "accuracy": ("accuracy", "Accuracy")}
_CURVE_LABELS = {
    "loss": "training loss",
    "accuracy": "training accuracy",
    "validation_loss": "validation loss",
    "validation_accuracy": "validation accuracy",
}


def _floats(values, n=None):
    """``values`` as floats (None stays None); with ``n``, as ``n`` rows (a 1-D array is one column)."""
    if values is None:
        return None
    values = np.asarray(values, dtype=float)
    return values if n is None else values.reshape(n, -1)


def _check_curves(curves):
    """``curves`` as a tuple of "training" / "validation"."""
    curves = (curves,) if isinstance(curves, str) else tuple(curves)
    for curve in curves:
        _check_option("curves", curve, {"training", "validation"})
    return curves


def _best_temperature(temperatures, scores, what):
    """The temperature of the highest score, NaN scores skipped; None, with a warning, when all are NaN."""
    scores = np.asarray(scores, dtype=float)
    if np.isnan(scores).all():
        warnings.warn(
            f"TemperatureSweepDisplay: every {what} is NaN; no best temperature is marked.",
            UserWarning,
            stacklevel=3,
        )
        return None
    return temperatures[int(np.nanargmax(scores))]


def _check_option(name, value, options):
    if value not in options:
        raise InputError(f"{name} must be one of {sorted(options)}; got {value!r}.")


class TrainingCurvesDisplay(_BaseDisplay):
    """Training (and validation) loss and accuracy against epochs or iterations.

    It is recommended to use :meth:`from_estimator` to create one from a
    fitted :class:`~sklvgg.SoftmaxHeadClassifier`. All parameters are stored
    as attributes, as given.

    Parameters
    ----------
    loss : array-like of shape (n_epochs,)
        Training loss per epoch (``loss_curve_``).
    accuracy : array-like of shape (n_epochs,)
        Training accuracy per epoch (``accuracy_curve_``).
    validation_loss : array-like of shape (n_epochs,), default=None
        Validation loss per epoch (``validation_loss_curve_``).
    validation_accuracy : array-like of shape (n_epochs,), default=None
        Validation accuracy per epoch (``validation_accuracy_curve_``).
    x_label : str, default="epoch"
        What one entry of the curves is, the x label when drawn against it.
    best_epoch : int, default=None
        1-based epoch whose weights were kept (``best_epoch_``), drawn as a
        dotted vertical line.
    batches_per_epoch : int or array-like of shape (n_epochs,), default=None
        Mini-batch steps per epoch, or of each epoch (``n_batches_curve_``,
        which differ after a ``warm_start`` fit on another number of
        samples); needed to draw against iterations.

    Attributes
    ----------
    axes_ : ndarray of matplotlib Axes of shape (n_quantities,)
        One axes per quantity drawn, in the order of ``quantities``.
    ax_ : matplotlib Axes or None
        The axes when one quantity was drawn; None for several.
    figure_ : matplotlib Figure
        Figure containing the axes.
    lines_ : dict of str to list of matplotlib Line2D
        Per quantity, the training curve, then the validation curve when
        there is one.
    best_epoch_lines_ : list of matplotlib Line2D
        The vertical lines at ``best_epoch``, one per axes (empty without).

    See Also
    --------
    sklvgg.plotting.plot_training_curves : Both quantities side by side, as a Figure.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklvgg import SoftmaxHeadClassifier
    >>> from sklvgg.plotting import TrainingCurvesDisplay
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(60, 4)), rng.randint(0, 2, 60)
    >>> head = SoftmaxHeadClassifier(max_iter=5, random_state=0)
    >>> head = head.fit(X[:40], y[:40], X_val=X[40:], y_val=y[40:])
    >>> display = TrainingCurvesDisplay.from_estimator(head)
    >>> [len(lines) for lines in display.lines_.values()]
    [2, 2]
    >>> display = display.plot(quantities="loss", x_unit="iteration")
    >>> display.ax_.get_xlabel()
    'iteration (mini-batch step)'
    """

    def __init__(
        self, loss, accuracy, validation_loss=None, validation_accuracy=None, *, x_label="epoch",
        best_epoch=None, batches_per_epoch=None,
    ):  # fmt: skip
        self.loss = loss
        self.accuracy = accuracy
        self.validation_loss = validation_loss
        self.validation_accuracy = validation_accuracy
        self.x_label = x_label
        self.best_epoch = best_epoch
        self.batches_per_epoch = batches_per_epoch

    def plot(
        self, ax=None, *, quantities=("loss", "accuracy"), x_unit="epoch", curves=("training", "validation"),
        title=None, line_kw=None,
    ):  # fmt: skip
        """Draw the curves, one axes per quantity.

        Parameters
        ----------
        ax : matplotlib Axes or array-like of Axes, default=None
            One axes per quantity. If None, a new figure with a row of axes
            is created.
        quantities : {"loss", "accuracy"} or sequence of them, default=("loss", "accuracy")
            What to draw, each in its own axes.
        x_unit : {"epoch", "iteration"}, default="epoch"
            Draw against epochs, or against mini-batch steps (the steps of
            ``batches_per_epoch`` summed up to the end of each epoch).
        curves : {"training", "validation"} or sequence of them, default=("training", "validation")
            Which curves to draw (the report has a figure for each).
        title : str, default=None
            Title of the axes when there is one, of the figure otherwise.
        line_kw : dict, default=None
            Keyword arguments passed to ``ax.plot`` for the curves.

        Returns
        -------
        display : TrainingCurvesDisplay
            Object that stores the drawn artists.
        """
        quantities = (quantities,) if isinstance(quantities, str) else tuple(quantities)
        for quantity in quantities:
            _check_option("quantities", quantity, _QUANTITIES)
        _check_option("x_unit", x_unit, {"epoch", "iteration"})
        curves = _check_curves(curves)
        data = {name: _floats(getattr(self, name)) for name in _CURVE_LABELS}
        n_epochs = len(data["loss"])
        if x_unit == "epoch":
            xs, x_label = np.arange(1, n_epochs + 1), self.x_label
        elif self.batches_per_epoch is None:
            raise InputError("x_unit='iteration' needs batches_per_epoch.")
        else:
            xs, x_label = self._iterations(n_epochs), "iteration (mini-batch step)"
        size = (10, 4.5) if len(quantities) == 2 else (5 * len(quantities) + 1, 4.5)
        axes, fig = self._make_axes(ax, len(quantities), figsize=size)
        line_kw = line_kw or {}
        self.lines_, self.best_epoch_lines_ = {}, []
        for ax_q, quantity in zip(axes, quantities):
            y_label, q_title = _QUANTITIES[quantity]
            validation = data[f"validation_{quantity}"]
            lines = []
            if "training" in curves:
                lines += ax_q.plot(xs, data[quantity], label="training", **line_kw)
            if validation is not None and "validation" in curves:
                lines += ax_q.plot(xs, validation, label="validation", **line_kw)
            self.lines_[quantity] = lines
            if self.best_epoch is not None:
                self.best_epoch_lines_.append(
                    ax_q.axvline(xs[self.best_epoch - 1], color="grey", ls=":", label="best epoch")
                )
            ax_q.set(xlabel=x_label, ylabel=y_label)
            if quantity == "accuracy":
                ax_q.set_ylim(0, 1.02)
            self._decorate(ax_q, title=q_title)
        return self._finish(axes, fig, title=title)

    def _iterations(self, n_epochs):
        """The mini-batch step at the end of each epoch."""
        steps = np.asarray(self.batches_per_epoch)
        if steps.ndim == 0:
            return steps * np.arange(1, n_epochs + 1)
        if steps.shape != (n_epochs,):
            raise InputError(
                f"batches_per_epoch has {steps.size} epochs' steps; the curves have {n_epochs} epochs."
            )
        return np.cumsum(steps)

    @classmethod
    def from_estimator(
        cls, estimator, *, ax=None, quantities=("loss", "accuracy"), x_unit="epoch", title=None,
        line_kw=None,
    ):  # fmt: skip
        """Draw the curves a fitted head recorded.

        Parameters
        ----------
        estimator : SoftmaxHeadClassifier or Pipeline
            Fitted; its ``loss_curve_``, ``accuracy_curve_`` and, when it has
            them, ``validation_*_curve_`` and ``best_epoch_`` are read (from
            the pipeline's last step), and ``n_batches_curve_`` for the
            iteration axis.
        ax, quantities, x_unit, title, line_kw
            As for :meth:`plot`.

        Returns
        -------
        display : TrainingCurvesDisplay
        """
        head = _head_of(estimator)
        display = cls(
            head.loss_curve_,
            head.accuracy_curve_,
            getattr(head, "validation_loss_curve_", None),
            getattr(head, "validation_accuracy_curve_", None),
            best_epoch=getattr(head, "best_epoch_", None),
            batches_per_epoch=getattr(head, "n_batches_curve_", None)
            or getattr(head, "n_batches_per_epoch_", None),
        )
        return display.plot(ax=ax, quantities=quantities, x_unit=x_unit, title=title, line_kw=line_kw)


def _reference_series(reference):
    """``{label: {x: y}}`` from a bare ``{x: y}`` (labelled "reference") or as given."""
    if not reference:
        return {}
    return reference if isinstance(next(iter(reference.values())), dict) else {"reference": reference}


class ImagesPerClassDisplay(_BaseDisplay):
    """Accuracy against training images per class (a learning curve per class).

    It is recommended to use :meth:`from_learning_curve` (the output of
    :func:`sklearn.model_selection.learning_curve`) or :meth:`from_results`
    to create one. All parameters are stored as attributes, as given.

    Parameters
    ----------
    images_per_class : array-like of shape (n_sizes,)
        Training images per class of each point.
    train_scores : array-like of shape (n_sizes, n_folds) or None
        Training accuracies; None draws none. 1-D: one fold.
    test_scores : array-like of shape (n_sizes, n_folds)
        Validation accuracies, drawn as their mean and standard deviation
        over folds. 1-D: one fold.
    reference : dict, default=None
        Published points to draw beside, ``{images_per_class: accuracy}``
        (labelled "reference") or ``{label: {images_per_class: accuracy}}``
        (see :func:`sklvgg.experiments.study_reference`).
    comparable : bool, default=True
        Whether ``reference`` was measured in this run's setting; if not, it
        is drawn in grey and marked "not comparable with this run".
    name : str, default="sklvgg"
        Legend name of this run's curves.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the curves.
    axes_ : ndarray of matplotlib Axes of shape (1,)
        The same axes, as an array (as every Display has).
    figure_ : matplotlib Figure
        Figure containing the axes.
    errorbar_ : matplotlib ErrorbarContainer or None
        The validation accuracies (mean and standard deviation), when drawn.
    lines_ : list of matplotlib Line2D
        The training accuracies (when given), then one line per reference
        series drawn as comparable.

    See Also
    --------
    sklvgg.plotting.plot_learning_curve_per_class : The same, as a Figure.
    sklearn.model_selection.LearningCurveDisplay : Against absolute sizes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklvgg.plotting import ImagesPerClassDisplay
    >>> display = ImagesPerClassDisplay(
    ...     [1, 2, 4], [[0.9], [0.95], [1.0]], [[0.3], [0.4], [0.5]], reference={1: 0.2, 4: 0.6}
    ... ).plot(xscale="linear")
    >>> [line.get_label() for line in display.lines_]
    ['sklvgg (training)', 'reference']
    """

    def __init__(self, images_per_class, train_scores, test_scores, *, reference=None, comparable=True,
                 name="sklvgg"):  # fmt: skip
        self.images_per_class = images_per_class
        self.train_scores = train_scores
        self.test_scores = test_scores
        self.reference = reference
        self.comparable = comparable
        self.name = name

    def plot(
        self, ax=None, *, xscale="log2", references=True, curves=("training", "validation"), title=None,
        errorbar_kw=None, line_kw=None,
    ):  # fmt: skip
        """Draw the accuracies against training images per class.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            If None, a new figure and axes is created.
        xscale : {"log2", "linear"}, default="log2"
            Scale of the images-per-class axis; ticks at the points either way.
        references : bool, default=True
            Whether to draw ``reference``.
        curves : {"training", "validation"} or sequence of them, default=("training", "validation")
            Which accuracies to draw (the report has a figure for each).
        title : str, default=None
            Default: "Accuracy vs. training images per class".
        errorbar_kw : dict, default=None
            Keyword arguments passed to ``ax.errorbar`` for the validation
            accuracies.
        line_kw : dict, default=None
            Keyword arguments passed to ``ax.plot`` for the training accuracies.

        Returns
        -------
        display : ImagesPerClassDisplay
            Object that stores the drawn artists.
        """
        _check_option("xscale", xscale, {"log2", "linear"})
        curves = _check_curves(curves)
        per_class = _floats(self.images_per_class)
        train_scores = _floats(self.train_scores, len(per_class))
        test_scores = _floats(self.test_scores, len(per_class))
        (ax,), fig = self._make_axes(ax, figsize=(6, 4))
        mean, std = test_scores.mean(axis=1), test_scores.std(axis=1)
        errorbar_kw = {
            "marker": "o",
            "capsize": 3,
            "label": f"{self.name} (validation)",
            **(errorbar_kw or {}),
        }
        self.errorbar_ = (
            ax.errorbar(per_class, mean, yerr=std, **errorbar_kw) if "validation" in curves else None
        )
        self.lines_ = []
        if train_scores is not None and "training" in curves:
            line_kw = {"alpha": 0.6, "label": f"{self.name} (training)", **(line_kw or {})}
            self.lines_ += ax.plot(per_class, train_scores.mean(axis=1), "o--", **line_kw)
        series = _reference_series(self.reference) if references else {}
        for label, points in series.items():
            xs = sorted(points)
            if self.comparable:
                self.lines_ += ax.plot(xs, [points[x] for x in xs], "s:", label=label)
        if xscale == "log2":
            ax.set_xscale("log", base=2)
        ax.set_xticks(per_class, [f"{v:g}" for v in per_class])
        ax.set(xlabel="training images per class", ylabel="accuracy", ylim=(0, 1.02))
        self._decorate(ax)
        if not self.comparable:  # drawn after the legend, which draw_reference redraws below the axes
            for label, points in series.items():
                draw_reference(ax, label=label, points=points, comparable=False)
        return self._finish([ax], fig, title=title or "Accuracy vs. training images per class")

    @classmethod
    def from_learning_curve(
        cls, train_sizes, train_scores, test_scores, *, n_classes, reference=None, comparable=True,
        name="sklvgg", ax=None, xscale="log2", references=True, title=None,
    ):  # fmt: skip
        """Draw the output of :func:`~sklearn.model_selection.learning_curve` per class.

        Parameters
        ----------
        train_sizes : array-like of shape (n_sizes,)
            Absolute training sizes, as returned by ``learning_curve``.
        train_scores : array-like of shape (n_sizes, n_folds) or None
        test_scores : array-like of shape (n_sizes, n_folds)
        n_classes : int
            To turn sizes into images per class.
        reference, comparable, name
            As for the constructor.
        ax, xscale, references, title
            As for :meth:`plot`.

        Returns
        -------
        display : ImagesPerClassDisplay
        """
        per_class = np.asarray(train_sizes, dtype=float) / n_classes
        display = cls(
            per_class, train_scores, test_scores, reference=reference, comparable=comparable, name=name
        )
        return display.plot(ax=ax, xscale=xscale, references=references, title=title)

    @classmethod
    def from_results(
        cls, results, *, name="sklvgg", ax=None, xscale="log2", references=True,
        curves=("training", "validation"), title=None,
    ):  # fmt: skip
        """Draw the results of :func:`sklvgg.experiments.training_and_learning_curves`.

        Parameters
        ----------
        results : dict
            With ``per_class``, ``per_class_accuracy``, and optionally
            ``per_class_train_accuracy`` and ``reference``
            (``{"series": ..., "comparable": ...}`` or None).
        name : str, default="sklvgg"
            As for the constructor.
        ax, xscale, references, curves, title
            As for :meth:`plot`.

        Returns
        -------
        display : ImagesPerClassDisplay
        """
        reference = results.get("reference") or {}
        display = cls(
            results["per_class"],
            results.get("per_class_train_accuracy"),
            results["per_class_accuracy"],
            reference=reference.get("series"),
            comparable=reference.get("comparable", True),
            name=name,
        )
        return display.plot(ax=ax, xscale=xscale, references=references, curves=curves, title=title)


class TemperatureSweepDisplay(_BaseDisplay):
    """Maximum and final validation accuracy against the softmax temperature.

    It is recommended to use :meth:`from_search` to create one from a fitted
    :class:`~sklearn.model_selection.GridSearchCV`. All parameters are stored
    as attributes, as given.

    Parameters
    ----------
    temperatures : array-like of shape (n_temperatures,)
    max_scores : array-like of shape (n_temperatures,) or None
        Maximum validation accuracy over the epochs, per temperature. NaN
        scores are drawn as gaps and never marked as the best; when every
        score of the quantity drawn is NaN, no best temperature is marked
        (with a ``UserWarning``).
    final_scores : array-like of shape (n_temperatures,) or None
        Validation accuracy after the last epoch, per temperature.
    cv_scores : array-like of shape (n_temperatures, n_splits), default=None
        The search's test scores per split (its final accuracies), drawn as
        their mean and standard deviation.
    best_temperature : float, default=None
        The search's best temperature, drawn as a dotted vertical line with
        both quantities or the cross-validated one.
    baseline : float or dict, default=None
        Another model's accuracy drawn as a horizontal line: a float, or
        ``{"max": ..., "final": ..., "label": ...}`` (``"layer"`` instead of
        ``"label"`` reads "this run: <layer>") whose values are drawn with
        the quantity of the same name.
    note : str, default=None
        Text drawn across the axes (e.g. that the weights are random).

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the sweep.
    axes_ : ndarray of matplotlib Axes of shape (1,)
        The same axes, as an array (as every Display has).
    figure_ : matplotlib Figure
        Figure containing the axes.
    lines_ : list of matplotlib Line2D
        The maximum and/or final accuracies drawn.
    errorbar_ : matplotlib ErrorbarContainer or None
        The cross-validated accuracies, when drawn.
    best_line_ : matplotlib Line2D or None
        The vertical line at the best temperature.
    baseline_lines_ : list of matplotlib Line2D
        The baseline's horizontal lines.
    note_ : matplotlib Text or None

    See Also
    --------
    sklvgg.plotting.plot_temperature_sweep : Both quantities in one axes, as a Figure.
    CurvesBySettingDisplay : The validation curve of each temperature.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from sklvgg.plotting import TemperatureSweepDisplay
    >>> display = TemperatureSweepDisplay([1.0, 2.0, 4.0], [0.5, 0.6, 0.55], [0.4, 0.5, 0.3],
    ...                                   baseline={"max": 0.45, "final": 0.4, "layer": "fc2"})
    >>> fig, (ax_max, ax_final) = plt.subplots(1, 2)
    >>> display = display.plot(ax=ax_max, quantity="max")
    >>> display.best_line_.get_label()
    'best T = 2 (maximum)'
    >>> display = display.plot(ax=ax_final, quantity="final")
    >>> [line.get_label() for line in display.baseline_lines_]
    ['this run: fc2 final']
    """

    def __init__(self, temperatures, max_scores=None, final_scores=None, *, cv_scores=None,
                 best_temperature=None, baseline=None, note=None):  # fmt: skip
        self.temperatures = temperatures
        self.max_scores = max_scores
        self.final_scores = final_scores
        self.cv_scores = cv_scores
        self.best_temperature = best_temperature
        self.baseline = baseline
        self.note = note

    def _baseline_lines(self, ax, keys):
        if self.baseline is None:
            return []
        if not isinstance(self.baseline, dict):
            return [ax.axhline(self.baseline, color="0.35", ls="-.", label="baseline")]
        label = self.baseline.get("label")
        if label is None and "layer" in self.baseline:
            label = f"this run: {self.baseline['layer']}"
        names = {"max": "maximum", "final": "final"}
        return [
            ax.axhline(self.baseline[key], color="0.35", ls="-." if key == "max" else ":",
                       label=f"{label or 'baseline'} {names[key]}")
            for key in keys
            if self.baseline.get(key) is not None
        ]  # fmt: skip

    def plot(self, ax=None, *, quantity="auto", title=None, line_kw=None):
        """Draw accuracy against the temperature (log2 axis, ticks at the temperatures).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            If None, a new figure and axes is created.
        quantity : {"auto", "both", "max", "final", "cv"}, default="auto"
            ``"both"``: maximum and final accuracy, with ``best_temperature``;
            ``"max"`` or ``"final"``: one of them, with the temperature where
            it peaks; ``"cv"``: the cross-validated accuracy with
            ``best_temperature``. ``"auto"``: ``"both"`` when ``max_scores``
            and ``final_scores`` are given, else ``"cv"``.
        title : str, default=None
            Default: "Accuracy vs. softmax temperature".
        line_kw : dict, default=None
            Keyword arguments passed to ``ax.plot`` (or ``ax.errorbar``).

        Returns
        -------
        display : TemperatureSweepDisplay
            Object that stores the drawn artists.
        """
        _check_option("quantity", quantity, {"auto", "both", "max", "final", "cv"})
        if quantity == "auto":
            quantity = "cv" if self.max_scores is None or self.final_scores is None else "both"
        needs = {"both": ("max_scores", "final_scores"), "max": ("max_scores",),
                 "final": ("final_scores",), "cv": ("cv_scores",)}[quantity]  # fmt: skip
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise InputError(f"quantity={quantity!r} needs {' and '.join(missing)}.")
        temperatures = _floats(self.temperatures)
        (ax,), fig = self._make_axes(ax, figsize=(7, 5))
        order = np.argsort(temperatures)
        temps = temperatures[order]
        line_kw = line_kw or {}
        self.lines_, self.errorbar_, best = [], None, self.best_temperature
        styles = {"max": ("o-", "maximum validation accuracy"), "final": ("s--", "final validation accuracy")}
        keys = {"both": ("max", "final"), "max": ("max",), "final": ("final",), "cv": ()}[quantity]
        for key in keys:
            scores = _floats(getattr(self, f"{key}_scores"))[order]
            fmt, label = styles[key]
            self.lines_ += ax.plot(temps, scores, fmt, label=label, **line_kw)
            if quantity == key:
                best = _best_temperature(temps, scores, styles[key][1])
        if quantity == "cv":
            scores = _floats(self.cv_scores, len(temps))[order]
            label = "final validation accuracy (CV mean)"
            self.errorbar_ = ax.errorbar(
                temps,
                scores.mean(axis=1),
                yerr=scores.std(axis=1),
                marker="o",
                capsize=3,
                label=label,
                **line_kw,
            )
        self.best_line_ = None
        if best is not None:
            label = f"best T = {float(best):g}" + {"max": " (maximum)", "final": " (final)"}.get(quantity, "")
            self.best_line_ = ax.axvline(float(best), color="grey", ls=":", label=label)
        self.baseline_lines_ = self._baseline_lines(ax, keys or ("final",))
        ax.set_xscale("log", base=2)
        ax.set_xticks(temps, [f"{t:g}" for t in temps], rotation=90, fontsize="small")
        ax.minorticks_off()
        ax.set(xlabel="temperature T", ylabel="accuracy", ylim=(0, 1.02))
        self._decorate(ax)
        self.note_ = _draw_note(ax, self.note)
        return self._finish([ax], fig, title=title or "Accuracy vs. softmax temperature")

    @classmethod
    def from_search(
        cls, search, *, param="vgg__temperature", final_scores=None, baseline=None, note=None, ax=None,
        quantity="auto", title=None,
    ):  # fmt: skip
        """Draw a fitted search over the temperature.

        Parameters
        ----------
        search : fitted GridSearchCV
            Over ``param``; its test scores per split are ``cv_scores`` and
            its best value ``best_temperature``.
        param : str, default="vgg__temperature"
        final_scores : dict, default=None
            ``{T: (max_val_accuracy, final_val_accuracy)}`` from the heads'
            validation curves, one entry per temperature of the search: the
            ``max_scores`` and ``final_scores``.
        baseline, note
            As for the constructor.
        ax, quantity, title
            As for :meth:`plot`.

        Returns
        -------
        display : TemperatureSweepDisplay
        """
        results = search.cv_results_
        temps = np.asarray(results[f"param_{param}"], dtype=float)
        n_splits = sum(1 for key in results if key.startswith("split") and key.endswith("_test_score"))
        cv_scores = np.column_stack([results[f"split{i}_test_score"] for i in range(n_splits)])
        max_scores = finals = None
        if final_scores:
            keyed = {float(t): scores for t, scores in final_scores.items()}
            if set(keyed) != set(temps):
                raise InputError(
                    f"final_scores has temperatures {sorted(keyed)}; the search has {sorted(temps)}."
                )
            max_scores, finals = (np.array([keyed[t][i] for t in temps]) for i in (0, 1))
        best = float(search.best_params_[param])
        if np.isnan(cv_scores).all():  # every fit failed (error_score=nan): the search's "best" is arbitrary
            best = _best_temperature(temps, cv_scores.mean(axis=1), "cross-validated score")
        display = cls(
            temps,
            max_scores,
            finals,
            cv_scores=cv_scores,
            best_temperature=best,
            baseline=baseline,
            note=note,
        )
        return display.plot(ax=ax, quantity=quantity, title=title)


class CurvesBySettingDisplay(_BaseDisplay):
    """One curve per setting against the epochs, e.g. validation accuracy per temperature.

    All parameters are stored as attributes, as given; :meth:`from_estimators`
    reads the curves of fitted heads.

    Parameters
    ----------
    curves : dict
        ``{setting: values}``, one value per epoch; drawn in the order of
        the keys.
    setting_name : str, default=None
        E.g. ``"T"``: the legend reads ``T = 1.49`` for float settings.
    x_label : str, default="epoch"
    y_label : str, default="validation accuracy"
    note : str, default=None
        Text drawn across the axes (e.g. that the weights are random).

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the curves.
    axes_ : ndarray of matplotlib Axes of shape (1,)
        The same axes, as an array (as every Display has).
    figure_ : matplotlib Figure
        Figure containing the axes.
    lines_ : list of matplotlib Line2D
        One per setting, in the order of ``curves``.
    note_ : matplotlib Text or None

    See Also
    --------
    sklvgg.plotting.plot_curves_by : The same, as a Figure.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklvgg.plotting import CurvesBySettingDisplay
    >>> display = CurvesBySettingDisplay({1.0: [0.1, 0.2], 1.49: [0.2, 0.3]}, setting_name="T").plot()
    >>> [line.get_label() for line in display.lines_]
    ['T = 1', 'T = 1.49']
    """

    def __init__(
        self, curves, *, setting_name=None, x_label="epoch", y_label="validation accuracy", note=None
    ):
        self.curves = curves
        self.setting_name = setting_name
        self.x_label = x_label
        self.y_label = y_label
        self.note = note

    def plot(self, ax=None, *, title=None, cmap="viridis", ylim=(0, 1.02), line_kw=None):
        """Draw one curve per setting.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            If None, a new figure and axes is created.
        title : str, default=None
            Default: "<y label> per <x label>".
        cmap : str, default="viridis"
            Colour map the settings' colours are taken from, in order.
        ylim : tuple of float or None, default=(0, 1.02)
            None leaves the limits to matplotlib (e.g. for losses).
        line_kw : dict, default=None
            Keyword arguments passed to ``ax.plot``.

        Returns
        -------
        display : CurvesBySettingDisplay
            Object that stores the drawn artists.
        """
        import matplotlib as mpl

        (ax,), fig = self._make_axes(ax, figsize=(7, 4))
        colours = mpl.colormaps[cmap](np.linspace(0, 0.95, max(len(self.curves), 1)))
        line_kw = {"marker": "o", "ms": 3, **(line_kw or {})}
        self.lines_ = []
        for colour, (key, values) in zip(colours, self.curves.items()):
            named = self.setting_name and isinstance(key, float)
            label = f"{self.setting_name} = {key:g}" if named else str(key)
            self.lines_ += ax.plot(
                np.arange(1, len(values) + 1), values, color=colour, label=label, **line_kw
            )
        ax.set(xlabel=self.x_label, ylabel=self.y_label)
        if ylim is not None:
            ax.set_ylim(*ylim)
        self._decorate(ax, legend_kw={"fontsize": "small", "ncol": 2 if len(self.curves) > 8 else 1})
        self.note_ = _draw_note(ax, self.note)
        return self._finish([ax], fig, title=title or f"{self.y_label.capitalize()} per {self.x_label}")

    @classmethod
    def from_estimators(
        cls, estimators, *, curve="validation_accuracy", setting_name=None, note=None, ax=None, title=None
    ):
        """Draw a curve of each fitted head, one per setting.

        Parameters
        ----------
        estimators : dict
            ``{setting: estimator}``, each a fitted SoftmaxHeadClassifier (or
            a pipeline ending in one).
        curve : {"validation_accuracy", "validation_loss", "accuracy", "loss"}, \
                default="validation_accuracy"
            Which ``<curve>_curve_`` to read; it names the y axis.
        setting_name, note
            As for the constructor.
        ax, title
            As for :meth:`plot`.

        Returns
        -------
        display : CurvesBySettingDisplay
        """
        _check_option("curve", curve, _CURVE_LABELS)
        curves = {key: list(getattr(_head_of(est), f"{curve}_curve_")) for key, est in estimators.items()}
        display = cls(curves, setting_name=setting_name, y_label=_CURVE_LABELS[curve], note=note)
        return display.plot(ax=ax, title=title, ylim=(0, 1.02) if curve.endswith("accuracy") else None)


class LayerCutsDisplay(_BaseDisplay):
    """The last epoch's training and validation accuracy of a head on each VGG16 cut.

    It is recommended to use :meth:`from_results` to create one from the
    results of :func:`sklvgg.experiments.layer_cuts`. All parameters are
    stored as attributes, as given.

    Parameters
    ----------
    layers : sequence of str of length n_cuts
        The layer of each cut, the first line of its tick label.
    train_scores : array-like of shape (n_cuts,)
        Training accuracy after the last epoch, per cut.
    test_scores : array-like of shape (n_cuts,)
        Validation accuracy after the last epoch, per cut.
    pooling : sequence of str of length n_cuts, default=None
        How each cut's feature maps were pooled, the second line of its tick
        label.
    n_classes : int, default=None
        Number of classes: the chance line (1 / n_classes) and the title
        name it; None draws no chance line.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the bars.
    axes_ : ndarray of matplotlib Axes of shape (1,)
        The same axes, as an array (as every Display has).
    figure_ : matplotlib Figure
        Figure containing the axes.
    bars_ : list of matplotlib BarContainer
        Training, then validation accuracies, one bar per cut each.
    chance_line_ : matplotlib Line2D or None
        The horizontal line at chance (1 / n_classes).

    See Also
    --------
    TrainingCurvesDisplay : The curves of one cut's head.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklvgg.plotting import LayerCutsDisplay
    >>> display = LayerCutsDisplay(["block4_pool", "block5_pool"], [1.0, 1.0], [0.05, 0.2],
    ...                            pooling=["flatten", "flatten"], n_classes=32).plot()
    >>> [len(bars) for bars in display.bars_]
    [2, 2]
    >>> display.chance_line_.get_label()
    'chance (1/32)'
    """

    def __init__(self, layers, train_scores, test_scores, *, pooling=None, n_classes=None):
        self.layers = layers
        self.train_scores = train_scores
        self.test_scores = test_scores
        self.pooling = pooling
        self.n_classes = n_classes

    def plot(self, ax=None, *, title=None, bar_kw=None):
        """Draw the bars, with their values, and the chance line.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            If None, a new figure and axes is created.
        title : str, default=None
            Default: "Softmax head on VGG16 cuts, <n_classes> classes".
        bar_kw : dict, default=None
            Keyword arguments passed to ``ax.bar``.

        Returns
        -------
        display : LayerCutsDisplay
            Object that stores the drawn artists.
        """
        layers = [str(layer) for layer in self.layers]
        scores = {"training": _floats(self.train_scores), "validation": _floats(self.test_scores)}
        for name, values in scores.items():
            if values.shape != (len(layers),):
                raise InputError(
                    f"{name} scores must hold one value per layer ({len(layers)}); got {values.shape}."
                )
        pooling = [None] * len(layers) if self.pooling is None else list(self.pooling)
        if len(pooling) != len(layers):
            raise InputError(f"pooling must hold one entry per layer ({len(layers)}); got {len(pooling)}.")
        (ax,), fig = self._make_axes(ax, figsize=(max(5, 1.6 * len(layers) + 2), 4))
        xs = np.arange(len(layers))
        self.bars_ = []
        for offset, (label, values) in zip((-0.2, 0.2), scores.items()):
            bars = ax.bar(xs + offset, values, width=0.4, label=f"{label}, last epoch", **(bar_kw or {}))
            ax.bar_label(bars, fmt="%.2f")
            self.bars_.append(bars)
        k = self.n_classes
        self.chance_line_ = (
            None if k is None else ax.axhline(1 / k, color="grey", ls=":", label=f"chance (1/{k})")
        )
        ax.set_xticks(xs, [layer if p is None else f"{layer}\n{p}" for layer, p in zip(layers, pooling)])
        ax.set(ylabel="accuracy", ylim=(0, 1.05))
        self._decorate(ax, grid=False, legend_kw={"fontsize": "small"})
        default = "Softmax head on VGG16 cuts" + ("" if k is None else f", {k} classes")
        return self._finish([ax], fig, title=title or default)

    @classmethod
    def from_results(cls, results, *, ax=None, title=None, bar_kw=None):
        """Draw the results of :func:`sklvgg.experiments.layer_cuts`.

        Parameters
        ----------
        results : dict
            With ``rows``, one per cut: ``"layer"``, ``"pooling"``,
            ``"final_training_accuracy"``, ``"final_validation_accuracy"``
            and ``"n_classes"`` (the first row's is ``n_classes``).
        ax, title, bar_kw
            As for :meth:`plot`.

        Returns
        -------
        display : LayerCutsDisplay
        """
        rows = results["rows"]
        display = cls(
            [row["layer"] for row in rows],
            [row["final_training_accuracy"] for row in rows],
            [row["final_validation_accuracy"] for row in rows],
            pooling=[row["pooling"] for row in rows],
            n_classes=rows[0]["n_classes"],
        )
        return display.plot(ax=ax, title=title, bar_kw=bar_kw)
