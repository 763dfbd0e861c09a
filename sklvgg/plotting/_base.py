"""What the Displays and the ``plot_*`` functions share: the Displays' base, a new figure, the fitted head,
a reference line."""

import textwrap

import numpy as np
from sklearn.utils._optional_dependencies import check_matplotlib_support

from ..exceptions import InputError


def _figure(**kwargs):
    """A new pyplot figure (so notebooks and sphinx-gallery show it); never shown here."""
    check_matplotlib_support("sklvgg.plotting")
    import matplotlib.pyplot as plt

    return plt.figure(**kwargs)


class _BaseDisplay:
    """What every Display's ``plot`` shares: its axes, title, grid, legend, ``axes_``/``ax_``/``figure_``.

    A Display's constructor stores its arguments as given; ``plot`` turns them
    into arrays, asks :meth:`_make_axes` for its axes, draws, styles each axes
    with :meth:`_decorate` and ends with :meth:`_finish`, which stores the
    axes and the figure and sets the title. As scikit-learn's
    ``_BaseCurveDisplay``, it holds no data and draws nothing of its own.
    """

    def _make_axes(self, ax, n=1, *, figsize=None, n_cols=None):
        """``n`` axes to draw in, and their figure.

        Parameters
        ----------
        ax : matplotlib Axes, array-like of Axes or None
            The axes to draw in (one, or ``n`` of them); None: a new figure
            with a constrained layout and ``n`` axes.
        n : int, default=1
            How many axes the Display draws.
        figsize : tuple of float, default=None
            Size of a new figure.
        n_cols : int, default=None
            Axes per row of a new figure (the axes after the ``n``-th are
            turned off); None: one row of ``n``.

        Returns
        -------
        axes : ndarray of matplotlib Axes of shape (n,)
        figure : matplotlib Figure
        """
        caller = f"{type(self).__name__}.plot"
        check_matplotlib_support(caller)
        if ax is None:
            n_cols = n if n_cols is None else n_cols
            fig = _figure(layout="constrained", figsize=figsize)
            axes = np.atleast_1d(fig.subplots(-(-n // n_cols), n_cols)).ravel()
            for extra in axes[n:]:
                extra.set_axis_off()
            return axes[:n], fig
        axes = np.empty(1, dtype=object)
        if isinstance(ax, (list, tuple, np.ndarray)):
            axes = np.asarray(ax, dtype=object).ravel()
        else:
            axes[0] = ax
        if len(axes) != n:
            raise InputError(f"{caller} draws {n} axes; ax holds {len(axes)}.")
        return axes, axes[0].figure

    @staticmethod
    def _decorate(ax, *, title=None, grid=True, legend=True, legend_kw=None):
        """Style one axes: ``title`` (when given), a light grid, a legend of what is drawn so far."""
        if title is not None:
            ax.set_title(title)
        if legend:
            ax.legend(**(legend_kw or {}))
        if grid:
            ax.grid(alpha=0.3)

    def _finish(self, axes, figure, *, title=None):
        """Store ``axes_``, ``ax_`` (the one axes, or None), ``figure_``; ``title`` over the axes or figure.

        Returns
        -------
        self
        """
        axes = np.asarray(axes, dtype=object).ravel()
        if title and len(axes) == 1:
            axes[0].set_title(title)
        elif title:
            figure.suptitle(title)
        self.axes_, self.ax_, self.figure_ = axes, axes[0] if len(axes) == 1 else None, figure
        return self


def _head_of(estimator):
    """The fitted SoftmaxHeadClassifier of an estimator or of a pipeline's last step."""
    head = estimator[-1] if hasattr(estimator, "steps") else estimator
    if not hasattr(head, "loss_curve_"):
        raise InputError(
            f"Expected a fitted SoftmaxHeadClassifier (or a pipeline ending in one); got "
            f"{type(head).__name__} without loss_curve_."
        )
    return head


def _draw_note(ax, note):
    """``note`` across the middle of ``ax`` in red (e.g. that the weights are random); the Text or None."""
    if not note:
        return None
    # wrapped to the axes' width here (matplotlib's wrap=True wraps to the figure's edge, where it clips)
    width = max(20, int(ax.get_window_extent().width / 7.5))  # about 7.5 px per character at 11 pt, 100 dpi
    text = "\n".join(textwrap.wrap(note, width))
    return ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center",
                   color="red", alpha=0.6, fontsize=11)  # fmt: skip


def draw_reference(ax, *, label, y=None, x=None, points=None, comparable=True):
    """Draw a published value on ``ax``: a horizontal line, a vertical line or points.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    label : str
        What the value is and where it comes from (e.g. ``"report: ~65% (Fig. 2)"``).
    y : float, optional
        A horizontal line at ``y``.
    x : float, optional
        A vertical line at ``x``.
    points : dict, optional
        ``{x: y}`` drawn as squares.
    comparable : bool, default=True
        Whether the value was measured in the run's setting. If not, it is drawn
        in grey and the label says "not comparable with this run".

    Returns
    -------
    ax : matplotlib.axes.Axes
    """
    colour = "C3" if comparable else "0.6"
    if not comparable:
        label = f"{label}\nnot comparable with this run"
    if y is not None:
        ax.axhline(y, color=colour, ls="--", lw=1.2, alpha=0.9, label=label)
    elif x is not None:
        ax.axvline(x, color=colour, ls="--", lw=1.2, alpha=0.9, label=label)
    else:
        xs = sorted(points)
        ax.plot(xs, [points[k] for k in xs], "s", color=colour, alpha=0.9, label=label)
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    return ax
