"""Figures of the transfer-learning study; each function returns a matplotlib Figure."""

from ._plots import (
    plot_activation_maps,
    plot_conv_filters,
    plot_learning_curve_per_class,
    plot_temperature_sweep,
    plot_training_curves,
)

__all__ = [
    "plot_activation_maps",
    "plot_conv_filters",
    "plot_learning_curve_per_class",
    "plot_temperature_sweep",
    "plot_training_curves",
]
