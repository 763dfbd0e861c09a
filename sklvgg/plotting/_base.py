"""What the Displays and the ``plot_*`` functions share: a new figure, the fitted head, a reference line."""

import textwrap

import numpy as np
from sklearn.utils._optional_dependencies import check_matplotlib_support

from ..exceptions import InputError


def _figure(**kwargs):
    """A new pyplot figure (so notebooks and sphinx-gallery show it); never shown here."""
    check_matplotlib_support("sklvgg.plotting")
    import matplotlib.pyplot as plt

    return plt.figure(**kwargs)


def _axes(ax, n, caller, **figure_kwargs):
    """``n`` axes: ``ax`` (one Axes, or one per quantity) or a new figure's row of ``n``."""
    check_matplotlib_support(caller)
    if ax is None:
        fig = _figure(layout="constrained", **figure_kwargs)
        return np.atleast_1d(fig.subplots(1, n)).ravel(), fig
    axes = np.empty(1, dtype=object)
    if isinstance(ax, (list, tuple, np.ndarray)):
        axes = np.asarray(ax, dtype=object).ravel()
    else:
        axes[0] = ax
    if len(axes) != n:
        raise InputError(f"{caller} draws {n} axes; ax holds {len(axes)}.")
    return axes, axes[0].figure


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
