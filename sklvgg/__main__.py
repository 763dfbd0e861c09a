"""Command line: ``python -m sklvgg demo`` and ``python -m sklvgg reproduce ...``."""

import argparse
import json
import os
import sys
import time
from pathlib import Path


def _demo(args):
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sklvgg import VGG16FeatureTransformer
    from sklvgg.datasets import load_caltech256, make_shapes_dataset
    from sklvgg.model_selection import PerClassSplit

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    root = make_shapes_dataset(out / "data", n_classes=args.n_classes, n_per_class=20)
    data = load_caltech256(root)
    print(f"Embedded default: {data.DESCR}")
    weights = args.weights
    if weights == "hed-bsds500":
        try:
            from sklvgg._vgg16 import hed_weights_path

            hed_weights_path()
        except OSError as exc:
            print(f"{exc}\nFalling back to weights=None (random initialisation).")
            weights = None
    weights = None if weights == "none" else weights
    train, test = next(PerClassSplit(16, 4).split(data.filenames, data.target))
    vgg = VGG16FeatureTransformer(
        weights=weights, layer=args.layer, pooling="avg", input_size=args.input_size,
        random_state=0, verbose=1,
    )  # fmt: skip
    model = make_pipeline(vgg, StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(data.filenames[train], data.target[train])
    accuracy = float(model.score(data.filenames[test], data.target[test]))
    summary = {
        "dataset": data.DESCR,
        "weights": str(weights),
        "layer": args.layer,
        "pooling": "avg",
        "input_size": args.input_size,
        "train_images_per_class": 16,
        "test_images_per_class": 4,
        "test_accuracy": accuracy,
        "chance": 1 / len(data.target_names),
        "seconds": round(time.perf_counter() - start, 1),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(
        f"\n{len(data.target_names)} classes, 16 train + 4 test images each, VGG16 "
        f"({weights}) cut at {args.layer} + average pooling + logistic regression:\n"
        f"test accuracy {accuracy:.3f} (chance {summary['chance']:.3f}); "
        f"summary in {out / 'summary.json'}"
    )
    return 0


def build_parser():
    """The ``sklvgg`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m sklvgg",
        description="Transfer learning with a frozen VGG16, as scikit-learn estimators.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="run the whole job on the embedded default data set (no download)",
        description="Generate a small labelled image set, cut VGG16, train a classifier "
        "on 16 images per class and test it on 4, and write a summary. Offline.",
    )
    demo.add_argument("--out", default="sklvgg_output", help="output folder (default: %(default)s)")
    demo.add_argument(
        "--weights", default="hed-bsds500",
        help="'hed-bsds500' (offline pretrained conv layers, the default), 'imagenet', "
        "'none' or a weights file path",
    )  # fmt: skip
    demo.add_argument("--layer", default="block4_pool", help="VGG16 layer to cut at")
    demo.add_argument("--input-size", type=int, default=96, help="image side fed to VGG16")
    demo.add_argument("--n-classes", type=int, default=10, help="classes to generate (<= 10)")
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None):
    """Entry point of ``python -m sklvgg``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
