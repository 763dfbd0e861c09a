"""Command line: ``python -m sklvgg demo`` and ``python -m sklvgg reproduce ...``."""

import argparse
import json
import os
import sys
import time
from pathlib import Path


def _weights(value):
    if value in (None, "none", "None"):
        return None
    if value == "hed-bsds500":
        from sklvgg._vgg16 import hed_weights_path

        try:
            hed_weights_path()
        except OSError as exc:
            print(f"{exc}\nFalling back to weights=None (random initialisation).")
            return None
    return value


def _load(data_dir, layout):
    from sklvgg.datasets import load_caltech256, load_image_folder, load_urban_tribes

    loaders = {
        "caltech256": load_caltech256,
        "urban-tribes": load_urban_tribes,
        "folder": load_image_folder,
    }
    if layout != "auto":
        return loaders[layout](data_dir)
    errors = []
    for name in ("caltech256", "urban-tribes", "folder"):
        try:
            return loaders[name](data_dir)
        except ValueError as exc:
            errors.append(str(exc))
    raise SystemExit("Could not read --data in any known layout:\n  " + "\n  ".join(errors))


def _embedded(out, layout, n_classes):
    from sklvgg.datasets import make_shapes_dataset

    root = make_shapes_dataset(out / "data", n_classes=n_classes, n_per_class=20, layout=layout)
    print(f"No --data given: using the embedded default, generated in {root}")
    return root


def _close(results):
    import matplotlib.pyplot as plt

    for fig in results.get("figures", {}).values():
        plt.close(fig)


def _demo(args):
    from sklvgg import experiments

    out = Path(args.out)
    start = time.perf_counter()
    data = _load(_embedded(out, "caltech256", args.n_classes), "caltech256")
    print(f"Embedded default: {data.DESCR}")
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


def _reproduce(args):
    from sklvgg import experiments

    out = Path(args.out)
    weights = _weights(args.weights)
    layout = {"urban-tribes": "urban-tribes"}.get(args.experiment, "caltech256")
    if args.data:
        data = _load(args.data, args.layout)
    else:
        n = 11 if layout == "urban-tribes" else 10
        data = _load(_embedded(out, layout, n), layout)
    print(data.DESCR)
    memory = args.memory or out / "cache"
    start = time.perf_counter()
    if args.experiment in ("caltech256", "urban-tribes"):
        pipe = experiments.make_pipeline(
            weights=weights, layer=args.layer, input_size=args.input_size, memory=memory, verbose=1
        )
        results = experiments.training_and_learning_curves(
            data, pipe, n_train=args.n_train, n_test=args.n_test,
            per_class=[k for k in (1, 2, 4, 8, 16, 32, 64) if k <= args.n_train],
            reference=experiments.STUDY_REFERENCE if args.experiment == "caltech256" else None,
        )  # fmt: skip
        print(f"test accuracy at {args.n_train} per class: {results['test_accuracy']:.3f}")
        for k, a in zip(results["per_class"], results["per_class_accuracy"]):
            print(f"  {k:3d} images per class: {a:.3f}")
    elif args.experiment == "layers":
        pipe = experiments.make_pipeline(
            weights=weights, input_size=args.input_size, memory=memory, verbose=1
        )
        results = experiments.layer_comparison(data, pipe, n_train=args.n_train, n_test=args.n_test)
        for row in results["rows"]:
            print(
                f"  {row['layer']:12s} {row['pooling']:8s} {row['n_features']:7d} features: "
                f"{row['accuracy']:.3f}"
            )
    else:  # temperature
        note = None
        if weights in (None, "hed-bsds500") or args.input_size != 224:
            note = "random 1000-way layer: these numbers mean nothing until --weights imagenet"
            print(f"WARNING: {note}")
        pipe = experiments.make_pipeline(
            weights=None if weights == "hed-bsds500" else weights,
            layer="predictions", pooling=None, input_size=224,
            memory=memory, verbose=1,
        )  # fmt: skip
        results = experiments.temperature_sweep(
            data, pipe, n_train=args.n_train, n_test=args.n_test, note=note
        )
        results["note"] = note
        for k, sweep in results["sweeps"].items():
            scores = zip(sweep["temperatures"], sweep["max"], sweep["final"])
            print(
                f"  {k} classes: best T = {sweep['best_temperature']:g}; max/final accuracy: "
                + ", ".join(f"T={t:g}: {m:.3f}/{f:.3f}" for t, m, f in scores)
            )
    results["seconds"] = round(time.perf_counter() - start, 1)
    written = experiments.save_results(results, out, args.experiment)
    _close(results)
    print("Wrote " + ", ".join(str(p) for p in written))
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
    demo.add_argument("--n-classes", type=int, default=10, help="classes to generate (<= 11)")
    demo.set_defaults(func=_demo)

    rep = sub.add_parser(
        "reproduce",
        help="reproduce one experiment of the study (figures as PNG, numbers as JSON/CSV)",
        description="Reproduce one experiment of the transfer-learning study. Without --data "
        "it runs on the embedded default (generated images), which shows the pipeline "
        "works; give --data and --weights imagenet for the study's real numbers.",
        epilog="Experiments: caltech256 = training curves at 16 per class and accuracy vs. "
        "images per class (1-16); urban-tribes = the same on Urban Tribes; layers = where "
        "to cut VGG16 (pool layers flattened vs. average-pooled, fc1, fc2); temperature = "
        "GridSearchCV over the softmax temperature on the 1000 ImageNet outputs. "
        "Example: python -m sklvgg reproduce caltech256 --data ~/data/256_ObjectCategories "
        "--weights imagenet --out results/",
    )
    rep.add_argument("experiment", choices=["caltech256", "urban-tribes", "temperature", "layers"])
    rep.add_argument("--data", help="dataset folder (Caltech-256, Urban Tribes, or one folder per class)")
    rep.add_argument(
        "--layout", default="auto", choices=["auto", "caltech256", "urban-tribes", "folder"],
        help="layout of --data (default: try each)",
    )  # fmt: skip
    rep.add_argument(
        "--weights", default="hed-bsds500",
        help="'imagenet' (Keras download), 'hed-bsds500' (offline, conv layers only; the "
        "default), 'none', or a VGG16 weights file",
    )  # fmt: skip
    rep.add_argument(
        "--layer", default=None, help="layer to cut at (default: fc2, or block4_pool for hed-bsds500)"
    )
    rep.add_argument(
        "--input-size", type=int, default=224, help="image side fed to VGG16 (default: %(default)s)"
    )
    rep.add_argument(
        "--n-train", type=int, default=16, help="training images per class (default: %(default)s)"
    )
    rep.add_argument("--n-test", type=int, default=4, help="test images per class (default: %(default)s)")
    rep.add_argument("--memory", default=None, help="feature cache folder (default: OUT/cache)")
    rep.add_argument("--out", default="sklvgg_output", help="output folder (default: %(default)s)")
    rep.set_defaults(func=_reproduce)
    return parser


def main(argv=None):
    """Entry point of ``python -m sklvgg``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("MPLBACKEND", "Agg")
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
