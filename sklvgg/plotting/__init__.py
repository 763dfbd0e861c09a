"""Figures of the transfer-learning study; each function returns a matplotlib Figure."""

from ._plots import (
    draw_reference,
    plot_activation_maps,
    plot_conv_filters,
    plot_curves_by,
    plot_learning_curve_per_class,
    plot_temperature_sweep,
    plot_training_curves,
)

__all__ = [
    "draw_reference",
    "plot_activation_maps",
    "plot_conv_filters",
    "plot_curves_by",
    "plot_learning_curve_per_class",
    "plot_temperature_sweep",
    "plot_training_curves",
]
