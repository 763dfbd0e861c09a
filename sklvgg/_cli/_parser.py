"""The command line's parser: ``demo`` and ``reproduce EXPERIMENT``, their options and help."""

import argparse
import sys
import textwrap
from pathlib import Path

from .._architecture import LAYER_NAMES, TOP_INPUT_SIZE
from ._commands import _demo, _reproduce

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


class _DistinctLayers(argparse.Action):
    """``--layers``: each cut once, refused at parse time naming the option."""

    def __call__(self, parser, namespace, values, option_string=None):
        twice = sorted({v for v in values if values.count(v) > 1}, key=values.index)
        if twice:
            raise argparse.ArgumentError(self, f"each cut once; {', '.join(twice)} is given twice")
        setattr(namespace, self.dest, values)


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
                "--pooling", default=None, choices=["none", "avg", "max"],
                help="for conv and pool cuts: 'none' flattens the maps (as the report's layer "
                "cuts), 'avg' or 'max' pools over space (default: "
                + ("none" if flatten else "avg") + "; refused with a fully connected layer)",
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
                "--holdout-fraction", type=_fraction, default=None, metavar="F",
                help=f"fraction held out with --split holdout (default: {HOLDOUT_FRACTION}; the report "
                "says only 'a portion'; refused with --split per-class)",
            )  # fmt: skip
        if name == "layers":
            exp.add_argument(
                "--layers", nargs="+", default=["block4_pool", "block5_pool"], choices=LAYER_NAMES,
                metavar="LAYER", action=_DistinctLayers,
                help="the cuts, each once (default: block4_pool block5_pool, as the report)",
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
            "--input-size", type=int, default=TOP_INPUT_SIZE,
            help="image side fed to VGG16 (default: %(default)s"
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
