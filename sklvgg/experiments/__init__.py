"""The experiments of the transfer-learning study, each a few lines of scikit-learn.

Every experiment function takes a dataset :class:`~sklearn.utils.Bunch` from
:mod:`sklvgg.datasets` (file paths and labels), runs the experiment with plain
``Pipeline``, ``learning_curve`` and ``GridSearchCV`` on sklvgg estimators, and
returns a dict of numbers (:func:`training_and_learning_curves`,
:func:`layer_cuts`, :func:`temperature_sweep`, :func:`filters_and_activations`).
:func:`resolve_setting` resolves a run's options once into a frozen
:class:`RunSetting`; :func:`compare_settings` weighs it against what the report
states (:data:`REPORT_STATED`: a difference makes the run not comparable) and
what sklvgg assumes where the report is silent (:data:`REPORT_ASSUMED`: a
caveat); :func:`compare_with_report` sets the report's numbers
(:data:`REPORT_VALUES`) beside the run's with that verdict; :func:`experiment_figures` draws the results with
:mod:`sklvgg.plotting`'s Displays, combined or one file per report figure;
:func:`save_results` writes figures as PNG and numbers as JSON, CSV and
Markdown. :func:`run_experiment` does all of it for one experiment: what
``python -m sklvgg reproduce`` calls.

Two heads (``protocol``): ``"study"``, the report's Keras ``Dense`` softmax
layer on the raw features, fit for a fixed number of epochs
(:func:`~sklvgg.study_head`); ``"tuned"``, :class:`~sklvgg.SoftmaxHeadClassifier`'s
defaults (standardised features, L2, a class-mean start, stopping on
convergence).

All of them share the per-image feature cache (``memory``), so each image goes
through VGG16 once per layer, however many fits the experiment makes.
"""

from ._comparison import (
    compare_settings,
    compare_with_report,
    log2_fit,
    report_rows,
    report_setting,
    study_reference,
)
from ._figures import draw_report_references, experiment_figures, filter_figures, report_figure_files
from ._gallery import example_setup
from ._output import report_table_markdown, save_results
from ._protocol import (
    HOLDOUT_FRACTION,
    default_layer,
    default_preprocessing,
    first_classes,
    holdout_split,
    make_head,
    make_pipeline,
)
from ._report import (
    REPORT_ASSUMED,
    REPORT_FIGURES,
    REPORT_READINGS,
    REPORT_SETTINGS,
    REPORT_STATED,
    REPORT_TEMPERATURES,
    REPORT_VALUES,
    STUDY_REFERENCE,
    STUDY_REFERENCE_SETTING,
)
from ._reproduce import run_experiment
from ._runs import filters_and_activations, layer_cuts, temperature_sweep, training_and_learning_curves
from ._setting import RunSetting, cut_pooling, resolve_setting

__all__ = [
    "HOLDOUT_FRACTION",
    "REPORT_ASSUMED",
    "REPORT_FIGURES",
    "REPORT_READINGS",
    "REPORT_STATED",
    "RunSetting",
    "REPORT_SETTINGS",
    "REPORT_TEMPERATURES",
    "REPORT_VALUES",
    "STUDY_REFERENCE",
    "STUDY_REFERENCE_SETTING",
    "compare_settings",
    "compare_with_report",
    "cut_pooling",
    "default_layer",
    "default_preprocessing",
    "draw_report_references",
    "example_setup",
    "experiment_figures",
    "filter_figures",
    "filters_and_activations",
    "first_classes",
    "holdout_split",
    "layer_cuts",
    "log2_fit",
    "make_head",
    "make_pipeline",
    "report_figure_files",
    "report_rows",
    "report_setting",
    "report_table_markdown",
    "resolve_setting",
    "run_experiment",
    "save_results",
    "study_reference",
    "temperature_sweep",
    "training_and_learning_curves",
]
