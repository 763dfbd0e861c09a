"""The command line's commands: each parses nothing, calls the library, prints and saves."""

import math
import os
import sys
import time
from pathlib import Path

from ..exceptions import InputError, OutputUnwritableError
from . import _console
from ._console import info, quiet_tensorflow_logs


def _weights(value):
    """The ``weights`` of ``--weights``; TensorFlow imported (quietly) here, where it is first needed."""
    quiet_tensorflow_logs(_console.VERBOSITY)
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
        raise OutputUnwritableError(
            f"{option} {str(path)!r}: cannot create the folder ({exc.strerror or exc})."
        ) from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputUnwritableError(f"{option} {str(path)!r}: the folder is not writable.")
    return path


def _save(results, out, name, **kwargs):
    """``save_results``, a failed write (disk full, a read-only file) as a one-line user error."""
    from sklvgg.experiments import save_results

    try:
        return save_results(results, out, name, **kwargs)
    except OSError as exc:
        where = exc.filename or out
        raise OutputUnwritableError(
            f"--out {str(out)!r}: cannot write {where} ({exc.strerror or exc})."
        ) from exc


def _load(data_dir, layout, min_images=1, advice="On the command line: lower --min-images"):
    """Load ``data_dir`` in ``layout`` (``"auto"``: the first that reads); return it and the layout.

    ``advice`` ends the message when no class has ``min_images`` images: the
    option to change, which depends on where ``min_images`` came from.
    """
    from sklvgg.datasets import TooFewImagesError, load_caltech256, load_image_folder, load_urban_tribes

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
    raise InputError(
        f"Could not read --data {str(data_dir)!r} in any known layout (see --layout): " + " | ".join(errors)
    )


def _report_skipped(data):
    """Say what a folder-per-class load left aside: files that are not images, empty classes."""
    skipped, empty = getattr(data, "skipped", {}), getattr(data, "empty", [])
    if skipped:
        where = ", ".join(
            f"{n} in {'the top folder' if name == '.' else name}" for name, n in skipped.items()
        )
        info(f"Skipped {sum(skipped.values())} files that are not images: {where}")
    if empty:
        info(f"Skipped {len(empty)} class folders without any image: {', '.join(empty)}")


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
    info(f"No --data given: using the embedded default, generated in {root}")
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
    info(f"Embedded default: {data.DESCR}")
    weights = _weights(args.weights)
    pipe = experiments.make_pipeline(
        weights=weights, layer=args.layer, input_size=args.input_size,
        memory=out / "cache", verbose=1,
    )  # fmt: skip
    results = experiments.training_and_learning_curves(data, pipe)
    results["figures"] = experiments.experiment_figures("caltech256", results)
    written = _save(results, out, "demo")
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
            raise InputError(
                f"{' and '.join(given)} apply to --split per-class; --split holdout holds out "
                f"--holdout-fraction {args.holdout_fraction:g} of every class instead. Leave "
                f"{' and '.join(given)} out, or pass --split per-class."
            )
        return None, None, max(2, math.ceil(1 / args.holdout_fraction))
    n_train, n_test = args.n_train or 16, args.n_test or 4
    return n_train, n_test, n_train + n_test


def _pooling(value):
    """``--pooling``: left out, the library's ``"auto"``; ``none`` flattens (``pooling=None``)."""
    return {None: "auto", "none": None}.get(value, value)


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
        best = (
            "none (every fit failed)"
            if sweep["best_temperature"] is None
            else f"{sweep['best_temperature']:g}"
        )
        print(
            f"  {k} classes: best T = {best}; max/final accuracy: "
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
        info(f"{title}: {s['total']:,} parameters, {s['trainable']:,} trainable, {s['frozen']:,} frozen")


def _reproduce_data(args, need):
    """``(data, dataset, out)``: ``--data`` (or the embedded default), checked against the split."""
    n_train, min_images = args.n_train, need if args.min_images is None else args.min_images
    if min_images < need:
        raise InputError(
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
    info(data.DESCR)
    _report_dropped(data, min_images)
    _report_skipped(data)
    return data, dataset, out


def _refuse_inapplicable(args):
    """Options whose meaning is the command line's own and cannot apply: one line each, never dropped.

    Then the defaults of the options left out are filled in. The rules of the
    cuts themselves (pooling on a dense layer, 224 x 224 for the top) are the
    library's (:func:`~sklvgg.experiments.resolve_setting`, which asks
    ``sklvgg._architecture``): its error is relayed as the one line.
    """
    from sklvgg.experiments import HOLDOUT_FRACTION

    if args.experiment == "layers" and args.figures == "report":
        raise InputError(
            "--figures report cannot apply to the layers experiment: the report has no figure of its "
            "block4_pool and block5_pool cuts (section 1.5 states the result in words). Leave --figures out."
        )
    if getattr(args, "holdout_fraction", None) is not None and args.split == "per-class":
        raise InputError(
            f"--holdout-fraction {args.holdout_fraction:g} cannot apply to --split per-class (the first "
            f"--n-train images of each class train, the next --n-test validate). Pass --split holdout, "
            f"or leave --holdout-fraction out."
        )
    if hasattr(args, "holdout_fraction") and args.holdout_fraction is None:
        args.holdout_fraction = HOLDOUT_FRACTION


def _reproduce(args):
    from sklvgg import experiments

    weights = _weights(args.weights)
    _refuse_inapplicable(args)
    n_train, n_test, need = _split_sizes(args)
    options = {
        "protocol": args.protocol, "epochs": args.epochs, "preprocessing": args.preprocessing,
        "n_train": n_train or 16, "n_test": n_test or 4, "n_classes": args.n_classes,
        "input_size": args.input_size,
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
    # the library's rules on these options, before any work (the run resolves them again with the data)
    experiments.resolve_setting(args.experiment, None, dataset="?", weights=weights, **options)
    data, dataset, out = _reproduce_data(args, need)
    options.update(memory=args.memory or out / "cache", figures=args.figures)
    start = time.perf_counter()
    results = experiments.run_experiment(args.experiment, data, dataset=dataset, weights=weights, **options)
    if results.get("note"):
        print(f"WARNING: {results['note']}")
    _print_results(args.experiment, results)
    results["seconds"] = round(time.perf_counter() - start, 1)
    written = _save(results, out, args.experiment, report_figures=results["report_figures"])
    _close(results)
    print("Wrote " + ", ".join(str(p) for p in written))
    return 0
