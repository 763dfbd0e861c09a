"""Figures of the transfer-learning study.

The Display objects follow scikit-learn's convention: the constructor stores
the data as given (plain arrays, no conversion); ``plot(ax=None, ...)`` draws
them and stores ``axes_``, ``ax_``, ``figure_`` and the artists; classmethods
(``from_estimator``, ``from_search``, ...) compute the data from fitted
objects and plot it. The
``plot_*`` functions draw the study's standard figures through them and
return a matplotlib Figure.
"""

from ._base import draw_reference
from ._cam_display import ClassActivationDisplay
from ._displays import (
    CurvesBySettingDisplay,
    ImagesPerClassDisplay,
    LayerCutsDisplay,
    TemperatureSweepDisplay,
    TrainingCurvesDisplay,
)
from ._plots import (
    plot_activation_maps,
    plot_conv_filters,
    plot_curves_by,
    plot_learning_curve_per_class,
    plot_temperature_sweep,
    plot_training_curves,
)

__all__ = [
    "ClassActivationDisplay",
    "CurvesBySettingDisplay",
    "ImagesPerClassDisplay",
    "LayerCutsDisplay",
    "TemperatureSweepDisplay",
    "TrainingCurvesDisplay",
    "draw_reference",
    "plot_activation_maps",
    "plot_conv_filters",
    "plot_curves_by",
    "plot_learning_curve_per_class",
    "plot_temperature_sweep",
    "plot_training_curves",
]
