"""Command line: ``python -m sklvgg demo`` and ``python -m sklvgg reproduce EXPERIMENT``.

Every user error ends in one line, ``sklvgg: error: <message>``, and a non-zero
exit status: 2 for wrong usage or data (as ``argparse``), 1 when the environment
fails (a folder cannot be written, weights cannot be fetched). ``--debug`` or
``SKLVGG_DEBUG=1`` shows the traceback instead.
"""

import argparse
import math
import os
import re
import sys
import textwrap
import time
from pathlib import Path

from sklearn.utils._param_validation import InvalidParameterError

from sklvgg._architecture import LAYER_NAMES, TOP_LAYERS
from sklvgg._weights import WeightsUnavailableError

#: Errors that are the user's (a value, a file, the network) rather than a bug:
#: shown as one line, without a traceback, unless ``--debug``. Order matters:
#: the first match gives the exit status.
USER_ERRORS = (
    (InvalidParameterError, 2),  # an estimator parameter from an option
    (ValueError, 2),  # unreadable --data, short classes, incompatible options
    (WeightsUnavailableError, 1),  # --weights imagenet offline
    (OSError, 1),  # --out or the cache cannot be written
)

WEIGHTS = ("hed-bsds500", "imagenet", "none")

_EPILOG = """\
Exit status: 0 on success, 2 for wrong usage or data, 1 when the environment
fails (a folder cannot be written, weights cannot be downloaded). Errors are one
line, "sklvgg: error: ..."; --debug (or SKLVGG_DEBUG=1) shows the traceback."""

_CALTECH256 = "~/data/256_ObjectCategories"
_CALTECH256_SOURCE = "256_ObjectCategories.tar from https://data.caltech.edu/records/nyy15-4j048"

# Per experiment: (summary, description, [(comment, example on real data), ...]).
_EXPERIMENTS = {
    "caltech256": (
        "training curves, accuracy vs. images per class, filters and maps on Caltech-256",
        "The report's section 1: loss and accuracy per epoch of the softmax head at "
        "--n-train images per class (Figures 1-2), training and validation accuracy "
        "against 1, 2, 4, ... --n-train images per class (Figure 3), and the filters and "
        "activation maps of block1_conv1 (64) and block5_conv3 (all 512; Figures 4-5). "
        "--protocol study (the default) trains the report's head, a Keras Dense softmax "
        "on the raw features for 16 epochs; --protocol tuned sklvgg's default head. "
        "A table sets the report's numbers (~65% at 16 per class, training loss ~0, "
        "validation loss ~3) beside this run's; they are drawn on the figures, greyed "
        'and marked "not comparable" outside the report\'s setting (Caltech-256, '
        "ImageNet weights, fc2, --protocol study).",
        [
            (f"the study's setting, on Caltech-256 ({_CALTECH256_SOURCE}):",
             f"--data {_CALTECH256} --weights imagenet --out results/"),
            ("Caltech-101 or any folder per class (classes under --n-train + --n-test "
             "images are left out):",
             "--data ~/data/101_ObjectCategories --layout folder --weights imagenet --out results-101/"),
        ],
    ),
    "urban-tribes": (
        "the same on Urban Tribes (11 social groups), and the flattened block3_pool cut",
        "The report's section 2 on Urban Tribes: --data is the dataset's flat "
        "pictures_all folder of <tribe>_group_picNNNNN.jpg files. As in the report the "
        "whole set is shuffled and a stratified --holdout-fraction held out (--split "
        "holdout, the default); training curves (Figures 6-9), accuracy vs. images per "
        "class (Figures 10-11), filters and maps (Figures 12-13), then a head on the "
        "flattened --cut-layer (block3_pool; Figures 14-17). The table compares with the "
        "report's ~60% training and at most ~30% validation accuracy, and 9% on "
        "flattened block3_pool.",
        [("on Urban Tribes:", "--data ~/data/pictures_all --weights imagenet --out results/")],
    ),
    "layers": (
        "a head on flattened conv cuts, with its epoch curves (32 classes)",
        "The report's section 1.5: the softmax head on flattened block4_pool and "
        "block5_pool (--layers, --pooling none) of the first 32 classes (--n-classes), "
        "16 images per class, with loss and accuracy per epoch for each cut; the report "
        "saw no learning. --pooling avg or max pools over space instead.",
        [(f"on Caltech-256 ({_CALTECH256_SOURCE}):",
          f"--data {_CALTECH256} --weights imagenet --out results/")],
    ),
    "temperature": (
        "the softmax temperature on the 1000 ImageNet outputs (64 and 256 classes)",
        "The report's section 3: the 1000-way ImageNet layer with a temperature, "
        "softmax(W h / T + b) with h the fc2 activations (--temperature-on fc2, the "
        "report's form, the default with --protocol study), as input to the head, for "
        "the first 64 and 256 classes (--n-classes) and each of --temperatures: "
        "validation accuracy per epoch (Figures 18-19), maximum and final accuracy vs. T "
        "(Figures 20-21), and the head on fc2 beside. Meaningful only with --weights "
        "imagenet.",
        [(f"on Caltech-256 ({_CALTECH256_SOURCE}):",
          f"--data {_CALTECH256} --weights imagenet --out results/")],
    ),
}  # fmt: skip


def _examples(name, real):
    lines = ["Examples:"]
    for comment, options in real:
        lines += textwrap.wrap(comment, 78, initial_indent="  # ", subsequent_indent="  # ")
        lines.append(f"  python -m sklvgg reproduce {name} {options}")
    lines += [
        "  # offline, on the embedded default (generated images: this checks the",
        "  # pipeline, it does not give the study's numbers):",
        f"  python -m sklvgg reproduce {name} --out results/",
    ]
    return "\n".join(lines) + "\n\n" + _EPILOG


# --------------------------------------------------------------------------- option types


def _int_at_least(low):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer; got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be {low} or more; got {value}")
        return value

    parse.__name__ = "int"  # argparse names the type in its messages
    return parse


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number; got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0; got {text}")
    return value


def _temperature(text):
    value = _positive_float(text)
    tiny, huge = sys.float_info.min, sys.float_info.max
    if not tiny <= value <= huge:
        raise argparse.ArgumentTypeError(
            f"must be a normal, finite number, between {tiny:g} and {huge:g} (1 / T and the logits "
            f"/ T must be representable); got {text}"
        )
    return value


def _fraction(text):
    value = _positive_float(text)
    if not value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1; got {text}")
    return value


def _weights_option(text):
    if text in WEIGHTS or text == "None" or Path(text).expanduser().is_file():
        return text
    raise argparse.ArgumentTypeError(
        f"expected one of {', '.join(WEIGHTS)} or a VGG16 weights file; got {text!r}, which is neither"
    )


def _add_weights_argument(parser):
    """``--weights``, the same for every command."""
    parser.add_argument(
        "--weights", default="hed-bsds500", type=_weights_option,
        help="'imagenet' (Keras download), 'hed-bsds500' (offline, conv layers only; the "
        "default), 'none', or a VGG16 weights file",
    )  # fmt: skip


def _layer_help(default):
    return f"VGG16 layer to cut at (default: {default}); one of, in network order: {', '.join(LAYER_NAMES)}"


# --------------------------------------------------------------------------- commands


def _weights(value):
    """The ``weights`` of ``--weights``; TensorFlow imported (quietly) here, where it is first needed."""
    _quiet_tensorflow_logs(_VERBOSITY)
    if value in (None, "none", "None"):
        return None
    if value == "hed-bsds500":
        from sklvgg._weights import hed_weights_path

        try:
            hed_weights_path()
        except OSError as exc:
            print(f"{exc}\nFalling back to weights=None (random initialisation).", file=sys.stderr)
            return None
    return value


def _output_folder(path, option="--out"):
    """Create ``path`` now, so that an unwritable place fails before any work."""
    path = Path(path).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"{option} {str(path)!r}: cannot create the folder ({exc.strerror or exc}).") from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise PermissionError(f"{option} {str(path)!r}: the folder is not writable.")
    return path


def _load(data_dir, layout, min_images=1, advice="On the command line: lower --min-images"):
    """Load ``data_dir`` in ``layout`` (``"auto"``: the first that reads); return it and the layout.

    ``advice`` ends the message when no class has ``min_images`` images: the
    option to change, which depends on where ``min_images`` came from.
    """
    from sklvgg.datasets import load_caltech256, load_image_folder, load_urban_tribes
    from sklvgg.datasets._loaders import TooFewImagesError

    loaders = {
        "caltech256": load_caltech256,
        "urban-tribes": load_urban_tribes,
        "folder": load_image_folder,
    }
    errors = []
    for name in ("caltech256", "urban-tribes", "folder") if layout == "auto" else (layout,):
        try:
            return loaders[name](data_dir, min_images=min_images), name
        except TooFewImagesError as exc:  # the layout is recognised: its classes are too small
            message = str(exc).removesuffix(" Pass a smaller min_images.")
            raise TooFewImagesError(f"{message} {advice}.") from None
        except ValueError as exc:
            if layout != "auto":
                raise
            errors.append(str(exc))
    raise ValueError(
        f"Could not read --data {str(data_dir)!r} in any known layout (see --layout): " + " | ".join(errors)
    )


def _report_skipped(data):
    """Say what a folder-per-class load left aside: files that are not images, empty classes."""
    skipped, empty = getattr(data, "skipped", {}), getattr(data, "empty", [])
    if skipped:
        where = ", ".join(
            f"{n} in {'the top folder' if name == '.' else name}" for name, n in skipped.items()
        )
        _info(f"Skipped {sum(skipped.values())} files that are not images: {where}")
    if empty:
        _info(f"Skipped {len(empty)} class folders without any image: {', '.join(empty)}")


def _report_dropped(data, min_images):
    if not data.dropped:
        return
    n_classes = len(data.dropped) + len(set(data.target.tolist()))
    names = ", ".join(f"{name} ({n})" for name, n in data.dropped.items())
    print(
        f"Left out {len(data.dropped)} of {n_classes} classes with fewer than {min_images} "
        f"images (--min-images {min_images}): {names}"
    )


def _embedded(out, layout, n_classes, n_per_class=20):
    from sklvgg.datasets import make_shapes_dataset

    root = make_shapes_dataset(out / "data", n_classes=n_classes, n_per_class=n_per_class, layout=layout)
    _info(f"No --data given: using the embedded default, generated in {root}")
    return root


def _close(results):
    import matplotlib.pyplot as plt

    for fig in results.get("figures", {}).values():
        plt.close(fig)


def _demo(args):
    import json

    from sklvgg import experiments

    out = _output_folder(args.out)
    start = time.perf_counter()
    data, _ = _load(_embedded(out, "caltech256", args.n_classes), "caltech256")
    _info(f"Embedded default: {data.DESCR}")
    weights = _weights(args.weights)
    pipe = experiments.make_pipeline(
        weights=weights, layer=args.layer, input_size=args.input_size,
        memory=out / "cache", verbose=1,
    )  # fmt: skip
    results = experiments.training_and_learning_curves(data, pipe)
    written = experiments.save_results(results, out, "demo")
    _close(results)
    summary = {
        "dataset": data.DESCR,
        "weights": str(weights),
        "layer": pipe[0].layer,
        "pooling": "avg",
        "input_size": args.input_size,
        "train_images_per_class": 16,
        "test_images_per_class": 4,
        "epochs": results["epochs"],
        "test_accuracy": results["test_accuracy"],
        "accuracy_by_images_per_class": dict(zip(results["per_class"], results["per_class_accuracy"])),
        "chance": 1 / results["n_classes"],
        "seconds": round(time.perf_counter() - start, 1),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    lines = [
        "",
        f"{results['n_classes']} classes, VGG16 ({weights}) cut at {pipe[0].layer} + average "
        f"pooling + SoftmaxHeadClassifier, first 16 images of each class train, next 4 test:",
        "",
        "| images per class | test accuracy |",
        "|---:|---:|",
    ]
    lines += [f"| {k} | {a:.3f} |" for k, a in zip(results["per_class"], results["per_class_accuracy"])]
    lines += [
        "",
        f"Chance: {summary['chance']:.3f}. Time: {summary['seconds']} s. Files: "
        + ", ".join(str(p) for p in written + [out / "summary.json"]),
    ]
    print("\n".join(lines))
    return 0


def _split_sizes(args):
    """``(n_train, n_test, images every class needs)`` from the split options."""
    if getattr(args, "split", "per-class") == "holdout":
        given = [opt for opt, value in (("--n-train", args.n_train), ("--n-test", args.n_test)) if value]
        if given:
            raise ValueError(
                f"{' and '.join(given)} apply to --split per-class; --split holdout holds out "
                f"--holdout-fraction {args.holdout_fraction:g} of every class instead. Leave "
                f"{' and '.join(given)} out, or pass --split per-class."
            )
        return None, None, max(2, math.ceil(1 / args.holdout_fraction))
    n_train, n_test = args.n_train or 16, args.n_test or 4
    return n_train, n_test, n_train + n_test


def _pooling(value):
    return None if value == "none" else value


def _print_curves(results, what):
    print(
        f"{what}: {results['epochs']} epochs; last epoch: training loss "
        f"{results['final_training_loss']:.3f}, "
        f"accuracy {results['final_training_accuracy']:.3f}; validation loss "
        f"{results['final_validation_loss']:.3f}, accuracy {results['test_accuracy']:.3f} "
        f"(maximum {results['max_test_accuracy']:.3f})"
    )
    for k, a, t in zip(
        results["per_class"], results["per_class_accuracy"], results["per_class_train_accuracy"]
    ):
        print(f"  {k:3d} images per class: validation {a:.3f}, training {t:.3f}")


def _print_cuts(rows, flattened_only=False):
    for row in rows:
        if flattened_only:
            print(
                f"flattened {row['layer']} ({row['n_features']} features): last epoch training "
                f"{row['final_training_accuracy']:.3f}, validation {row['final_validation_accuracy']:.3f}"
            )
            continue
        print(
            f"  {row['layer']:12s} {row['pooling']:8s} {row['n_features']:7d} features, "
            f"{row['n_classes']} classes, {row['epochs']} epochs: last epoch "
            f"training {row['final_training_accuracy']:.3f}, "
            f"validation {row['final_validation_accuracy']:.3f} (chance {row['chance']:.3f})"
        )


def _print_sweeps(sweeps):
    for k, sweep in sweeps.items():
        scores = zip(sweep["temperatures"], sweep["max"], sweep["final"])
        print(
            f"  {k} classes: best T = {sweep['best_temperature']:g}; max/final accuracy: "
            + ", ".join(f"T={t:g}: {m:.3f}/{f:.3f}" for t, m, f in scores)
            + f"; fc2: {sweep['baseline']['max']:.3f}/{sweep['baseline']['final']:.3f}"
        )


def _print_results(experiment, results):
    setting = results["setting"]
    if experiment in ("caltech256", "urban-tribes"):
        _print_curves(results, f"{setting['layer']} ({setting['protocol']} head)")
        if "cut" in results:
            _print_cuts(results["tables"]["cut"], flattened_only=True)
    elif experiment == "layers":
        _print_cuts(results["rows"])
    else:
        _print_sweeps(results["sweeps"])
    print("\n" + results["report_vs_run"]["text"] + "\n")
    for title, s in results["model_summary"].items():
        _info(f"{title}: {s['total']:,} parameters, {s['trainable']:,} trainable, {s['frozen']:,} frozen")


def _reproduce_data(args, need):
    """``(data, dataset, out)``: ``--data`` (or the embedded default), checked against the split."""
    n_train, min_images = args.n_train, need if args.min_images is None else args.min_images
    if min_images < need:
        raise ValueError(
            f"--min-images {min_images} keeps classes too small for the split: every class needs "
            f"{need} images ("
            + (
                f"--n-train {n_train or 16} + --n-test {args.n_test or 4}). Leave --min-images out (it "
                f"defaults to {need}) or lower --n-train or --n-test."
                if getattr(args, "split", "per-class") == "per-class"
                else f"one held out at --holdout-fraction {args.holdout_fraction:g}). Leave "
                f"--min-images out (it defaults to {need})."
            )
        )
    layout = {"urban-tribes": "urban-tribes"}.get(args.experiment, "caltech256")
    if args.min_images is None:
        advice = "On the command line: lower --n-train and --n-test (--min-images defaults to their sum)"
    else:
        advice = f"On the command line: lower --min-images {min_images}"
    out = _output_folder(args.out)
    if args.data:
        data, dataset = _load(args.data, args.layout, min_images, advice)
    else:  # generated: as many images per class as the options ask for
        n = 11 if layout == "urban-tribes" else 10
        data, _ = _load(_embedded(out, layout, n, max(20, need, min_images)), layout, min_images, advice)
        dataset = "embedded default"
    _info(data.DESCR)
    _report_dropped(data, min_images)
    _report_skipped(data)
    return data, dataset, out


def _refuse_inapplicable(args):
    """Options that cannot apply to this run: a one-line error each, never silently dropped."""
    if args.experiment == "temperature" and args.input_size not in (None, 224):
        raise ValueError(
            f"--input-size {args.input_size} cannot apply to the temperature experiment: the 1000-way "
            f"ImageNet layer (fc1's 7 x 7 x 512 input) takes 224 x 224 images only. Leave --input-size out."
        )
    layer = getattr(args, "layer", None) or ("fc2" if args.weights != "hed-bsds500" else "block4_pool")
    if getattr(args, "pooling", None) is not None and args.experiment != "layers" and layer in TOP_LAYERS:
        raise ValueError(
            f"--pooling {args.pooling} cannot apply to --layer {layer}: a fully connected layer has no "
            f"spatial maps to pool. Leave --pooling out, or cut at a conv or pool layer."
        )
    if args.experiment != "layers" and getattr(args, "pooling", "") is None:
        args.pooling = "avg"
    if args.input_size is None:
        args.input_size = 224


def _reproduce(args):
    from sklvgg import experiments

    _refuse_inapplicable(args)
    n_train, n_test, need = _split_sizes(args)
    data, dataset, out = _reproduce_data(args, need)
    options = {
        "protocol": args.protocol, "epochs": args.epochs, "preprocessing": args.preprocessing,
        "memory": args.memory or out / "cache", "n_train": n_train or 16, "n_test": n_test or 4,
        "n_classes": args.n_classes, "input_size": args.input_size, "figures": args.figures,
    }  # fmt: skip
    for name in ("layer", "layers", "split", "temperatures", "temperature_on"):
        if hasattr(args, name):
            options[name] = getattr(args, name)
    if hasattr(args, "pooling"):
        options["pooling"] = _pooling(args.pooling)
    if hasattr(args, "holdout_fraction"):
        options["holdout"] = args.holdout_fraction
    if hasattr(args, "cut_layer"):
        options["cut_layer"] = None if args.cut_layer == "none" else args.cut_layer
    start = time.perf_counter()
    results = experiments.run_experiment(
        args.experiment, data, dataset=dataset, weights=_weights(args.weights), **options
    )
    if results.get("note"):
        print(f"WARNING: {results['note']}")
    _print_results(args.experiment, results)
    results["seconds"] = round(time.perf_counter() - start, 1)
    written = experiments.save_results(
        results, out, args.experiment, report_figures=results["report_figures"]
    )
    _close(results)
    print("Wrote " + ", ".join(str(p) for p in written))
    return 0


# --------------------------------------------------------------------------- parser


class _Parser(argparse.ArgumentParser):
    """``ArgumentParser`` whose errors read ``sklvgg: error: ...``, like the others."""

    def error(self, message):
        """Print the usage and ``sklvgg: error: message``; exit with status 2.

        Parameters
        ----------
        message : str
        """
        self.print_usage(sys.stderr)
        self.exit(2, f"sklvgg: error: {message}\n")


def _common_options():
    common = _Parser(add_help=False)
    common.add_argument(
        "--debug", action="store_true",
        help="show the traceback of an error (also: environment variable SKLVGG_DEBUG=1)",
    )  # fmt: skip
    loud = common.add_mutually_exclusive_group()
    loud.add_argument(
        "-v", "--verbose", action="count", default=0,
        help="say more: TensorFlow's own log lines and the cache counts of every fit",
    )  # fmt: skip
    loud.add_argument(
        "-q", "--quiet", action="store_true",
        help="say less: no progress bars, no cache line, only the results and errors",
    )  # fmt: skip
    return common


def _add_reproduce(sub, common):
    from sklvgg.experiments import HOLDOUT_FRACTION, REPORT_TEMPERATURES

    rep = sub.add_parser(
        "reproduce",
        help="reproduce one experiment of the study (figures as PNG, numbers as JSON/CSV)",
        description="Reproduce one experiment of the transfer-learning study the way the report "
        "did it (--protocol study), with a table of the report's numbers beside this run's. "
        "Without --data it runs on the embedded default (generated images), which shows the "
        "pipeline works; give --data and --weights imagenet for the study's real numbers.",
        epilog="Experiments: "
        + "; ".join(f"{name} = {summary}" for name, (summary, *_) in _EXPERIMENTS.items())
        + ". Run 'python -m sklvgg reproduce EXPERIMENT --help' for its options and examples.",
    )
    experiments = rep.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    for name, (summary, description, real) in _EXPERIMENTS.items():
        exp = experiments.add_parser(
            name, help=summary, description=textwrap.fill(description, 78), parents=[common],
            epilog=_examples(name, real), formatter_class=argparse.RawDescriptionHelpFormatter,
        )  # fmt: skip
        exp.add_argument(
            "--data", help="dataset folder (Caltech-256, Urban Tribes, or one folder per class; "
            "default: the embedded generated set)",
        )  # fmt: skip
        exp.add_argument(
            "--layout", default="auto", choices=["auto", "caltech256", "urban-tribes", "folder"],
            help="layout of --data (default: try each)",
        )  # fmt: skip
        _add_weights_argument(exp)
        exp.add_argument(
            "--protocol", default="study", choices=["study", "tuned"],
            help="the head: 'study' (the default), the report's Keras Dense softmax on the raw "
            "features, Adam at 1e-3, batch 32, a fixed number of epochs (--epochs, 16); 'tuned', "
            "SoftmaxHeadClassifier's defaults (standardised features, L2, stops on convergence)",
        )  # fmt: skip
        exp.add_argument(
            "--preprocessing", default=None, choices=["caffe", "none", "samplewise"],
            help="what is done to the RGB images before VGG16: 'caffe', Keras' preprocess_input "
            "(BGR, ImageNet means subtracted: what the weights expect); 'none', the RGB 0-255 values "
            "as the report's ImageDataGenerator handed them over; 'samplewise', that generator's "
            "samplewise centring and std normalisation (the report's first try) (default: none "
            "with --protocol study, caffe with --protocol tuned)",
        )  # fmt: skip
        exp.add_argument(
            "--epochs", type=_int_at_least(1), default=None, metavar="N",
            help="epochs of the study head (default: 16, as the report), or the most epochs of the "
            "tuned head (default: 200)",
        )  # fmt: skip
        if name in ("caltech256", "urban-tribes"):
            exp.add_argument(
                "--layer", default=None, choices=LAYER_NAMES, metavar="LAYER",
                help=_layer_help("fc2, or block4_pool for hed-bsds500"),
            )  # fmt: skip
        if name != "temperature":
            flatten = name == "layers"
            exp.add_argument(
                "--pooling", default="none" if flatten else None, choices=["none", "avg", "max"],
                help="for conv and pool cuts: 'none' flattens the maps (as the report's layer "
                "cuts), 'avg' or 'max' pools over space (default: "
                + ("none)" if flatten else "avg; refused with a fully connected --layer)"),
            )  # fmt: skip
            exp.add_argument(
                "--split", default="holdout" if name == "urban-tribes" else "per-class",
                choices=["per-class", "holdout"],
                help="'per-class': the first --n-train images of each class train, the next "
                "--n-test validate (the report's Caltech-256 protocol); 'holdout': the whole set "
                "shuffled and a stratified --holdout-fraction held out (the report's Urban Tribes "
                "protocol) (default: %(default)s)",
            )  # fmt: skip
            exp.add_argument(
                "--holdout-fraction", type=_fraction, default=HOLDOUT_FRACTION, metavar="F",
                help="fraction held out with --split holdout (default: %(default)s; the report "
                "says only 'a portion')",
            )  # fmt: skip
        if name == "layers":
            exp.add_argument(
                "--layers", nargs="+", default=["block4_pool", "block5_pool"], choices=LAYER_NAMES,
                metavar="LAYER", help="the cuts (default: block4_pool block5_pool, as the report)",
            )  # fmt: skip
        if name == "urban-tribes":
            exp.add_argument(
                "--cut-layer", default="block3_pool", choices=[*LAYER_NAMES, "none"], metavar="LAYER",
                help="the flattened cut trained after the curves (default: %(default)s, as the "
                "report; 'none' skips it)",
            )  # fmt: skip
        if name == "temperature":
            exp.add_argument(
                "--temperatures", nargs="+", type=_temperature, default=list(REPORT_TEMPERATURES),
                metavar="T", help="temperatures of the sweep (default: 2 ** (2k / 7), k = -7 ... 7: "
                + " ".join(f"{t:g}" for t in REPORT_TEMPERATURES) + ")",
            )  # fmt: skip
            exp.add_argument(
                "--n-classes", nargs="+", type=_int_at_least(2), default=[64, 256], metavar="K",
                help="the first K classes, one sweep each (default: 64 256, as the report)",
            )  # fmt: skip
            exp.add_argument(
                "--temperature-on", default=None, choices=["fc2", "logits"],
                help="'fc2': softmax(W h / T + b), the report's form; 'logits': softmax((W h + b) / "
                "T) (default: fc2 with --protocol study, logits with --protocol tuned)",
            )  # fmt: skip
        else:
            exp.add_argument(
                "--n-classes", type=_int_at_least(2), default=32 if name == "layers" else None, metavar="K",
                help="use the first K classes (default: "
                + ("32, as the report)" if name == "layers" else "all of them)"),
            )  # fmt: skip
        exp.add_argument(
            "--input-size", type=int, default=None if name == "temperature" else 224,
            help="image side fed to VGG16 (default: 224"
            + ("; the 1000-way layer takes nothing else)" if name == "temperature" else ")"),
        )  # fmt: skip
        exp.add_argument(
            "--figures", default="combined", choices=["combined", "report"],
            help="'combined': a few figures, several quantities side by side; 'report': one PNG per "
            "figure of the report, named after it (figure_01_loss.png, ...), with its axes "
            "(iterations, linear images per class) (default: %(default)s)",
        )  # fmt: skip
        exp.add_argument(
            "--n-train", type=_int_at_least(1), default=None, metavar="N",
            help="training images per class with --split per-class (default: 16)",
        )  # fmt: skip
        exp.add_argument(
            "--n-test", type=_int_at_least(1), default=None, metavar="N",
            help="validation images per class with --split per-class (default: 4)",
        )  # fmt: skip
        exp.add_argument(
            "--min-images", type=_int_at_least(1), default=None, metavar="N",
            help="leave out the classes of --data with fewer than N images, and say which "
            "(default: --n-train + --n-test, the fewest the split needs)",
        )  # fmt: skip
        exp.add_argument("--memory", default=None, help="feature cache folder (default: OUT/cache)")
        exp.add_argument("--out", default="sklvgg_output", help="output folder (default: %(default)s)")
        exp.set_defaults(func=_reproduce)


def build_parser():
    """The ``python -m sklvgg`` argument parser.

    Returns
    -------
    parser : argparse.ArgumentParser
        With the sub-commands ``demo`` and ``reproduce EXPERIMENT``; the parsed
        namespace's ``func`` runs the command.
    """
    common = _common_options()
    parser = _Parser(
        prog="python -m sklvgg",
        description="Transfer learning with a frozen VGG16, as scikit-learn estimators.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="run the whole job on the embedded default data set (no download)",
        description="Generate a small labelled image set, cut VGG16, train a classifier "
        "on 16 images per class and test it on 4, and write a summary. Offline.",
        parents=[common],
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--out", default="sklvgg_output", help="output folder (default: %(default)s)")
    _add_weights_argument(demo)
    demo.add_argument(
        "--layer", default="block4_pool", choices=LAYER_NAMES, metavar="LAYER",
        help=_layer_help("block4_pool"),
    )  # fmt: skip
    demo.add_argument(
        "--input-size", type=int, default=96, help="image side fed to VGG16 (default: %(default)s)"
    )
    demo.add_argument(
        "--n-classes", type=int, default=10, choices=range(2, 12), metavar="{2..11}",
        help="classes to generate (default: %(default)s)",
    )  # fmt: skip
    demo.set_defaults(func=_demo)
    _add_reproduce(sub, common)
    return parser


#: -q (-1), default (0), -v (1), -vv (2): set by main() from the options.
_VERBOSITY = 0


def _info(text):
    """Print progress information, unless ``-q``."""
    if _VERBOSITY >= 0:
        print(text)


#: TensorFlow's INFO lines before its logger reads any level (absl's preamble, ``I0000 ...``).
_TF_NOISE = re.compile(rb"^(I\d{4} |WARNING: All log messages before absl::InitializeLog)")


def _quiet_tensorflow_logs(verbosity):
    """Hide TensorFlow's C++ log lines, unless the user asked for them.

    ``TF_CPP_MIN_LOG_LEVEL=3`` is set only where the user set no level (and
    did not pass ``-v``). Its C++ logger still prints a few INFO lines before
    it reads any level (``cudart_stub.cc ... Could not find cuda drivers``,
    the oneDNN notice), so, unless the level asks for INFO lines (0) or ``-v``
    was given, the backend is imported here with the standard error file
    descriptor pointed at a pipe for the import only: every line of it but
    those INFO lines (a warning, an error, a fatal message) goes on to the
    real standard error as it comes.
    """
    if verbosity >= 1:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if os.environ["TF_CPP_MIN_LOG_LEVEL"].strip() in ("", "0"):
        return  # the user asked for TensorFlow's INFO lines
    if "tensorflow" in sys.modules or os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None:
        return  # the import error comes, whole, where TensorFlow is first needed
    import threading

    sys.stderr.flush()
    saved = os.dup(2)
    read_end, write_end = os.pipe()

    def forward():  # every line but the INFO noise goes on to the real stderr, at once
        with os.fdopen(read_end, "rb") as lines:
            for line in lines:
                if not _TF_NOISE.match(line):
                    os.write(saved, line)

    reader = threading.Thread(target=forward, daemon=True)
    reader.start()
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        import tensorflow  # noqa: F401 - an import error is raised whole, stderr restored
    finally:
        os.dup2(saved, 2)  # the pipe's last writer closed: the reader sees its end
        reader.join(timeout=5)
        os.close(saved)


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv=None):
    """Entry point of ``python -m sklvgg``.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    status : int
        0 on success. Errors exit through :class:`SystemExit`: 2 for wrong
        usage or data, 1 when the environment fails (see :data:`USER_ERRORS`).
    """
    global _VERBOSITY
    from sklvgg import collect_transforms

    os.environ.setdefault("MPLBACKEND", "Agg")
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get("SKLVGG_DEBUG", "0") not in ("", "0")
    _VERBOSITY = -1 if args.quiet else args.verbose
    try:
        if _VERBOSITY >= 1:  # every transformer prints its own cache line
            return args.func(args)
        with collect_transforms(progress=_VERBOSITY >= 0) as tally:
            status = args.func(args)
        if tally.transforms:
            _info(tally.summary())
        return status
    except tuple(error for error, _ in USER_ERRORS) as exc:
        if debug:
            raise
        status = next(status for error, status in USER_ERRORS if isinstance(exc, error))
        parser.exit(status, f"sklvgg: error: {_one_line(exc)}\n")
    except KeyboardInterrupt:
        if debug:
            raise
        parser.exit(130, "sklvgg: interrupted\n")


if __name__ == "__main__":
    sys.exit(main())
