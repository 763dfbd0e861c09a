"""What the report states, as plain data: its numbers, its settings, its figures.

Nothing here computes or draws. The comparison (:mod:`._comparison`) sets each
number beside a run's; the figures (:mod:`._figures`) draw its values as
reference lines and write one file per report figure.
"""

import numpy as np

#: The study's accuracy at 1-16 Caltech-256 images per class (fc2, ImageNet).
#: Only the 16-per-class figure (about 65%) is stated in the study's summary.
STUDY_REFERENCE = {16: 0.65}

#: What :data:`STUDY_REFERENCE` was measured with: the report's section 1.4 (b)
#: and Figure 2, validation accuracy levelling out "around .65" with 16
#: Caltech-256 images per class, ImageNet weights, the softmax head on ``fc2``.
STUDY_REFERENCE_SETTING = {"dataset": "caltech256", "weights": "imagenet", "layer": "fc2"}

#: The temperatures of the sweep: ``2 ** (2k / 7)`` from 1/4 to 4, 15 values of
#: ratio about 1.22, rounded to two decimals. The report names 1.22, 1.49 and
#: 1.81 (section 3.6, Figures 20-21) but not its grid; this one holds those
#: three and 1.0 (``1.22 ** 3`` would round to 1.82, ``2 ** (6/7)`` is 1.811).
REPORT_TEMPERATURES = tuple(float(t) for t in np.round(np.logspace(-2, 2, 15, base=2), 2))

#: What the report states of each experiment's run: ``experiment -> {field:
#: (value, where it says so)}``. A run whose value differs is not comparable
#: (:func:`~sklvgg.experiments.compare_settings`). ``layers`` are the report's
#: cuts; a run may take any of them.
REPORT_STATED = {
    "caltech256": {
        "dataset": ("caltech256", "section 1"),
        "weights": ("imagenet", "introduction; section 1.2 (a)"),
        "layer": ("fc2", "section 1.2 (b): the original softmax layer taken off"),
        "protocol": ("study", "section 1.3: a Keras softmax layer on the frozen features"),
        "n_classes": (256, "section 1.1 (a): every class of Caltech-256"),
        "split": ("per-class", "section 1.1 (a)"),
        "n_train": (16, "section 1.1 (a), 1.4 (a)"),
        "n_test": (4, "section 1.1 (a)"),
        "input_size": (224, "Figure 4's caption: maps of 224 x 224"),
    },
    "urban-tribes": {
        "dataset": ("urban-tribes", "section 2"),
        "weights": ("imagenet", "section 2.2 (a)"),
        "layer": ("fc2", "section 2.2 (b): the softmax layer replaced"),
        "protocol": ("study", "section 2.2 (c)"),
        "n_classes": (11, "section 2.1 (b)"),
        "split": ("holdout", "section 2.1 (c): the whole set shuffled, a holdout set taken"),
        "cut_layer": ("block3_pool", "section 2.5 (a)"),
        "input_size": (224, "Figure 12's caption: maps of 224 x 224"),
    },
    "layers": {
        "dataset": ("caltech256", "section 1.5"),
        "weights": ("imagenet", "section 1.2 (a)"),
        "protocol": ("study", "section 1.3"),
        "layers": (
            ("block4_pool", "block5_pool"),
            "section 1.5: the model summary, then 'the 5th pooling layer'",
        ),
        "pooling": ("flatten", "section 1.5: the model summary's Flatten layer after block4_pool"),
        "n_classes": (32, "section 1.5 (b)"),
        "split": ("per-class", "section 1.1 (a)"),
        "n_train": (16, "section 1.5 (b)"),
        "n_test": (4, "section 1.1 (a)"),
        "input_size": (224, "section 1.5: the model summary (block4_pool 14 x 14 x 512)"),
    },
    "temperature": {
        "dataset": ("caltech256", "section 3.1"),
        "weights": ("imagenet", "section 3.2"),
        "layer": ("predictions", "section 3.3"),
        "protocol": ("study", "section 3.4: the model summary"),
        "temperature_on": (
            "fc2",
            "section 3.3: a Lambda layer scales fc2's outputs by 1/T before predictions",
        ),
        "n_classes": ((64, 256), "section 3.5, Figures 18-21"),
        "split": ("per-class", "section 3.5"),
        "n_train": (16, "section 3.5"),
        "n_test": (4, "section 3.5"),
        "epochs": (16, "section 3.6: 'after 16 epochs'"),
        "input_size": (224, "section 3.4: VGG16's 1000-way layer, built for 224 x 224"),
    },
}

#: Where the report is silent and sklvgg assumes: ``experiment -> {field: (sklvgg's
#: value, what the report says)}``. A run whose value differs stays comparable,
#: the caveat named.
_PREPROCESSING_ASSUMED = (
    "none",
    "the report says only that samplewise normalisation was dropped in its final runs (section 1.1 (b)), "
    "never whether Keras' preprocess_input ('caffe') was used; sklvgg reads 'none'",
)
_EPOCHS_ASSUMED = (
    16,
    "the report never says how many epochs; sklvgg uses its temperature runs' 16 (section 3.6)",
)
REPORT_ASSUMED = {
    "caltech256": {"preprocessing": _PREPROCESSING_ASSUMED, "epochs": _EPOCHS_ASSUMED},
    "urban-tribes": {
        "preprocessing": (
            "none",
            "the report never says how its Urban Tribes images were preprocessed (section 2.1 (a)); sklvgg "
            "reads 'none', as section 1.1 (b) for Caltech-256",
        ),
        "epochs": _EPOCHS_ASSUMED,
        "holdout": (0.2, "the report holds out 'a portion' (section 2.1 (c)); sklvgg 0.2"),
    },
    "layers": {"preprocessing": _PREPROCESSING_ASSUMED, "epochs": _EPOCHS_ASSUMED},
    "temperature": {"preprocessing": _PREPROCESSING_ASSUMED},
}

_RESIZE = (
    "images resized with antialiased bilinear interpolation; the report's ImageDataGenerator "
    "(section 1.1 (a)) defaults to nearest neighbour, and the report does not say"
)
_FIRST_K = "the first k classes by label; the report does not say which of Caltech-256's classes it took"
_SHUFFLE = (
    "section 1.1 (d) shuffles 'the training and validation output data together': sklvgg reads it as "
    "the order shuffled, the split kept (images 17-20 validate)"
)
_GRID = (
    "images per class 1, 2, 4, 8, 16 (and more where the split allows); the report names no values "
    "('different numbers of samples per class')"
)

#: Readings of the report that hold for every run of an experiment, named as caveats.
REPORT_READINGS = {
    "caltech256": (
        _RESIZE,
        _SHUFFLE,
        _GRID,
        "one iteration read as one mini-batch step (the report's Figures 1-2 plot 'iterations' without "
        "saying what one is)",
        "Figure 2's caption says training accuracy, Figure 3's test accuracy vs. iterations; section 1.4 "
        "(b)-(c) says both curves and accuracy vs. images per class: sklvgg draws what the text says",
    ),
    "urban-tribes": (
        "one iteration read as one mini-batch step (the report's Figures 6-9 and 14-17 plot 'iterations')",
        _RESIZE,
        _GRID,
    ),
    "layers": (_RESIZE, _FIRST_K, _SHUFFLE),
    "temperature": (
        _RESIZE,
        _FIRST_K,
        "Figures 18-19 are per epoch (the report's own axis), Figures 20-21 per T",
        "the report's displayed formula divides the logits, exp(a_i / T) (section 3), its implementation "
        "fc2's outputs before predictions (section 3.3): sklvgg follows the implementation (temperature_on "
        "'fc2')",
    ),
}

#: Kept for compatibility: the stated setting of each experiment, values only.
REPORT_SETTINGS = {
    experiment: {k: v for k, (v, _) in fields.items() if k in ("dataset", "weights", "layer", "protocol",
                                                                  "temperature_on")}
    for experiment, fields in REPORT_STATED.items()
}  # fmt: skip

#: The report's class counts of the temperature figures: Figures 18 and 20 are
#: for 64 classes, 19 and 21 for 256.
TEMPERATURE_CLASS_COUNTS = (64, 256)

#: Every figure of the report: ``number -> (experiment, file stem, what it shows,
#: its x axis)``. ``python -m sklvgg reproduce ... --figures report`` writes
#: ``<file stem>.png`` for each figure of the experiment it runs. The report
#: plots against "iterations" (Figures 1-2, 6-9, 14-17: one iteration is one
#: batch), "number of epochs" (18-19), the temperature (20-21) and the "sample
#: size", linear (3, 10-11); Figures 4-5 and 12-13 are the 64 maps of the first
#: conv layer (224 x 224 each) and the 512 of the last (14 x 14), "filters" in
#: its captions.
REPORT_FIGURES = {
    1: ("caltech256", "figure_01_loss", "training and validation loss", "iterations"),
    2: ("caltech256", "figure_02_accuracy", "training and validation accuracy", "iterations"),
    3: ("caltech256", "figure_03_accuracy_vs_samples", "accuracy vs. images per class", "samples"),
    4: ("caltech256", "figure_04_first_conv_maps", "the first conv layer's 64 maps", None),
    5: ("caltech256", "figure_05_last_conv_maps", "the last conv layer's 512 maps", None),
    6: ("urban-tribes", "figure_06_training_loss", "training loss", "iterations"),
    7: ("urban-tribes", "figure_07_validation_loss", "validation loss", "iterations"),
    8: ("urban-tribes", "figure_08_training_accuracy", "training accuracy", "iterations"),
    9: ("urban-tribes", "figure_09_validation_accuracy", "validation accuracy", "iterations"),
    10: (
        "urban-tribes",
        "figure_10_training_accuracy_vs_samples",
        "training accuracy vs. images per class",
        "samples",
    ),
    11: (
        "urban-tribes",
        "figure_11_validation_accuracy_vs_samples",
        "validation accuracy vs. images per class",
        "samples",
    ),
    12: ("urban-tribes", "figure_12_first_conv_maps", "the first conv layer's 64 maps", None),
    13: ("urban-tribes", "figure_13_last_conv_maps", "the last conv layer's 512 maps", None),
    14: (
        "urban-tribes",
        "figure_14_cut_training_accuracy",
        "flattened block3_pool: training accuracy",
        "iterations",
    ),
    15: (
        "urban-tribes",
        "figure_15_cut_validation_accuracy",
        "flattened block3_pool: validation accuracy",
        "iterations",
    ),
    16: ("urban-tribes", "figure_16_cut_training_loss", "flattened block3_pool: training loss", "iterations"),
    17: (
        "urban-tribes",
        "figure_17_cut_validation_loss",
        "flattened block3_pool: validation loss",
        "iterations",
    ),
    18: (
        "temperature",
        "figure_18_temperature_curves_64",
        "validation accuracy per epoch and T, 64 classes",
        "epochs",
    ),
    19: (
        "temperature",
        "figure_19_temperature_curves_256",
        "validation accuracy per epoch and T, 256 classes",
        "epochs",
    ),
    20: (
        "temperature",
        "figure_20_temperature_64",
        "max and final accuracy vs. T, 64 classes",
        "temperature",
    ),
    21: (
        "temperature",
        "figure_21_temperature_256",
        "max and final accuracy vs. T, 256 classes",
        "temperature",
    ),
}

#: The report's numbers, one row each: ``key -> (quantity, the report's value in
#: its words, where it says so, the report figure that shows it, the reference
#: drawn on that figure)``. The reference is ``{"y": value}`` (a horizontal
#: line), ``{"x": value}`` (a vertical one) or ``{"points": {x: y}}``, with its
#: label. ``{n_train}`` in a quantity is the run's images per class.
REPORT_VALUES = {
    "caltech256": {
        "final_training_loss": (
            "training loss, last epoch",
            '~0 ("decreased to almost 0")',
            "section 1.4 (a), Figure 1",
            1,
            {"y": 0.0, "label": "report: training loss ~0"},
        ),
        "final_validation_loss": (
            "validation loss, last epoch",
            "~3",
            "section 1.4 (a), Figure 1",
            1,
            {"y": 3.0, "label": "report: validation loss ~3"},
        ),
        "final_training_accuracy": (
            "training accuracy, last epoch",
            '~100% ("neared 1")',
            "section 1.4 (b), Figure 2",
            2,
            None,
        ),
        "test_accuracy": (
            "validation accuracy, last epoch ({n_train}/class)",
            "~65% (16/class)",
            "section 1.4 (b), Figure 2; section 1.4 (d)",
            2,
            {"y": 0.65, "label": "report: validation ~65%"},
        ),
        "log2_fit": (
            "accuracy vs. images per class",
            '"increased logarithmically", diminishing returns',
            "section 1.4 (d), Figure 3",
            3,
            None,
        ),
    },
    "urban-tribes": {
        "final_training_accuracy": (
            "training accuracy, last epoch",
            "~60%",
            "section 2.4 (d), Figure 8",
            8,
            {"y": 0.60, "label": "report: training ~60%"},
        ),
        "max_test_accuracy": (
            "validation accuracy, maximum over epochs",
            "at most ~30%",
            "section 2.4 (d), Figure 9",
            9,
            {"y": 0.30, "label": "report: validation at most ~30%"},
        ),
        "cut_block3_pool": (
            "flattened block3_pool: validation accuracy, last epoch",
            "9%",
            "section 2.5 (c), Figure 15",
            15,
            {"y": 0.09, "label": "report: validation 9%"},
        ),
    },
    "layers": {
        "no_learning": (
            "flattened {layer}, {n_classes} classes: validation accuracy, last epoch",
            "no learning (32 classes, 16/class)",
            "section 1.5 (b)",
            None,
            None,
        ),
    },
    "temperature": {
        "best_t_64": (
            "best T, 64 classes",
            "1.81",
            "section 3.6, Figure 20",
            20,
            {"x": 1.81, "label": "report: best T 1.81, 64 classes"},
        ),
        "best_max_t_256": (
            "T of the best maximum accuracy, 256 classes",
            "1.49",
            "section 3.6, Figure 21",
            21,
            {"x": 1.49, "label": "report: best maximum at T 1.49"},
        ),
        "best_max_256": (
            "best maximum accuracy, 256 classes",
            "almost 45% (T 1.49)",
            "section 3.6, Figure 21",
            21,
            {"points": {1.49: 0.45}, "label": "report: ~45% at T 1.49"},
        ),
        "best_final_t_256": (
            "T of the best final accuracy (after the last epoch), 256 classes",
            "1.22",
            "section 3.6, Figure 21",
            21,
            {"x": 1.22, "label": "report: best final at T 1.22"},
        ),
        "t2_helps_64": (
            "T near 2 helps, 64 classes (best maximum accuracy at the T nearest 2 vs. at T = 1)",
            "helps",
            "section 3.6",
            None,
            None,
        ),
        "above_1.5_hurts_256": (
            "T above 1.5 hurts, 256 classes (mean maximum accuracy above vs. at or below 1.5)",
            "hurts",
            "section 3.6",
            None,
            None,
        ),
        "vs_fc2": (
            "temperature vs. {layer}, {n_classes} classes (best maximum accuracy)",
            "temperature worse than fc2",
            "section 3.6, last paragraph",
            None,
            None,
        ),
    },
}
