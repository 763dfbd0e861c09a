"""VGG16 featurisation on a GPU: throughput against the GPU's own matmul peak.

One run, side by side, on whichever Keras 3 backend is active (``KERAS_BACKEND``:
``jax`` or ``torch`` on the GPU machine, which has no TensorFlow):

1. the GPU's bfloat16 matmul throughput, an 8192^3 product (the peak to compare with);
2. ``transform`` on in-memory uint8 arrays at ``fc2`` and ``block5_pool``, for
   batch sizes 32-512, float32 and bfloat16: images/s, and the fraction of the
   matmul peak that is (VGG16 costs about 31 GFLOP per 224 px image up to
   ``fc2``; the script counts each layer's multiply-adds);
3. ``transform`` on JPEG paths (photo-sized JPEGs it writes, or ``--jpeg-folder``),
   decoded by one thread per core (``n_jobs=-1``);
4. the cached re-read of the same images (``memory=``).

Targets: in-memory bfloat16 >= 40% of the matmul peak; JPEG paths >= 2,000
images/s with 16 cores; the cache read-back faster than both.

Usage::

    KERAS_BACKEND=jax python benchmarks/bench_gpu.py            # the GPU machine, < 5 min
    python benchmarks/bench_gpu.py --dry-run                    # tiny sizes, any CPU

Writes ``benchmarks/results/gpu.md`` (``--out``). See ``benchmarks/README.md``
for how to run it on the GPU machine.
"""

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import machine_description, write_report  # noqa: E402


def vgg16_flop(layer, size):
    """Floating-point operations (2 per multiply-add) of one image up to ``layer``."""
    from sklvgg._architecture import LAYER_NAMES, kernel_shape, layer_kind

    flop, side = 0, size
    for name in LAYER_NAMES:
        kind = layer_kind(name)
        if kind == "conv":
            kh, kw, cin, cout = kernel_shape(name)
            flop += 2 * side * side * kh * kw * cin * cout
        elif kind == "pool":
            side //= 2
        elif kind == "dense":
            n_in, n_out = kernel_shape(name)
            flop += 2 * n_in * n_out
        if name == layer:
            return flop
    raise ValueError(layer)


def matmul_peak(n, repeat=10):
    """bfloat16 (n, n) @ (n, n) throughput of the active backend's device, in FLOP/s."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        a, product = jnp.ones((n, n), jnp.bfloat16), jax.jit(lambda x, y: x @ y)
        wait = lambda out: out.block_until_ready()  # noqa: E731
    elif backend == "torch":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        a, product = torch.ones((n, n), dtype=torch.bfloat16, device=device), torch.matmul
        wait = lambda out: out.sum().item()  # noqa: E731 - a sync with the device
    else:
        import tensorflow as tf

        a, product = tf.ones((n, n), tf.bfloat16), tf.function(lambda x, y: x @ y)
        wait = lambda out: out.numpy()  # noqa: E731
    wait(product(a, a))  # compile and warm up
    start = time.perf_counter()
    for _ in range(repeat):
        out = product(a, a)
    wait(out)
    return 2 * n**3 * repeat / (time.perf_counter() - start)


def write_jpegs(folder, n, shape, workers):
    from PIL import Image

    rng = np.random.default_rng(0)
    # smooth photo-like content (noise would make unrealistically large JPEGs)
    base = rng.integers(0, 256, (n, shape[0] // 8, shape[1] // 8, 3), dtype=np.uint8)

    def save(i):
        path = Path(folder) / f"img_{i:05d}.jpg"
        Image.fromarray(base[i]).resize(shape[::-1], Image.BILINEAR).save(path, quality=90)
        return str(path)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(save, range(n)))


def best_rate(fn, n, repeat):
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n / best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-sizes", default="32,64,128,256,512")
    parser.add_argument("--layers", default="fc2,block5_pool")
    parser.add_argument("--precisions", default="float32,bfloat16")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--n-images", type=int, default=2048, help="images per throughput run")
    parser.add_argument("--n-jpegs", type=int, default=4096)
    parser.add_argument("--jpeg-folder", help="JPEGs to use instead of generated 500 x 375 ones")
    parser.add_argument("--matmul-size", type=int, default=8192)
    parser.add_argument("--repeat", type=int, default=2, help="best of this many runs")
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes: check the script on a CPU")
    parser.add_argument("--out", default=str(HERE / "results" / "gpu.md"))
    args = parser.parse_args(argv)
    if args.dry_run:
        args.batch_sizes, args.layers, args.input_size = "4,8", "block5_pool", 64
        args.n_images, args.n_jpegs, args.matmul_size, args.repeat = 16, 16, 512, 1
        if args.out == parser.get_default("out"):
            args.out = str(HERE / "results" / "gpu_dry_run.md")

    import keras

    from sklvgg import VGG16FeatureTransformer

    started = time.perf_counter()
    peak = matmul_peak(args.matmul_size)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    layers, precisions = args.layers.split(","), args.precisions.split(",")
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (args.n_images, args.input_size, args.input_size, 3), dtype=np.uint8)
    lines = [
        "# VGG16 featurisation on a GPU",
        "",
        f"Machine: {machine_description()}  ",
        f"Command: `KERAS_BACKEND={keras.backend.backend()} python benchmarks/bench_gpu.py "
        + " ".join(argv if argv is not None else sys.argv[1:])
        + "`  ",
        f"bf16 matmul peak ({args.matmul_size}^3, measured in this run): {peak / 1e12:.1f} TFLOP/s. "
        f"Images {args.input_size} px, {args.n_images} per run, best of {args.repeat}.",
        "",
        "## In-memory uint8 arrays",
        "",
        "| layer | precision | batch | images/s | TFLOP/s | fraction of bf16 matmul peak |",
        "|---|---|---:|---:|---:|---:|",
    ]
    best = {}
    for layer in layers:
        flop = vgg16_flop(layer, args.input_size)
        for precision in precisions:
            for bs in batch_sizes:
                vgg = VGG16FeatureTransformer(weights=None, layer=layer, pooling="avg", random_state=0,
                                              input_size=args.input_size, batch_size=bs,
                                              precision=precision).fit(X[:1])  # fmt: skip
                vgg.transform(X[: 2 * bs])  # build, compile, warm up
                rate = best_rate(lambda v=vgg: v.transform(X), len(X), args.repeat)
                best[layer, precision] = max(best.get((layer, precision), 0), rate)
                lines.append(
                    f"| {layer} | {precision} | {bs} | {rate:,.0f} | {rate * flop / 1e12:.1f} | "
                    f"{rate * flop / peak:.2f} |"
                )
                print(lines[-1], flush=True)

    layer, precision, bs = layers[0], precisions[-1], batch_sizes[-1]
    with tempfile.TemporaryDirectory(prefix="sklvgg-gpu-") as tmp:
        if args.jpeg_folder:
            paths = sorted(str(p) for p in Path(args.jpeg_folder).rglob("*.jpg"))[: args.n_jpegs]
            what = f"{len(paths)} JPEGs from {args.jpeg_folder}"
        else:
            paths = write_jpegs(tmp, args.n_jpegs, (375, 500), os.cpu_count())
            what = f"{len(paths)} generated 500 x 375 JPEGs"
        common = dict(weights=None, layer=layer, pooling="avg", random_state=0, n_jobs=-1,
                      input_size=args.input_size, batch_size=bs, precision=precision)  # fmt: skip
        vgg = VGG16FeatureTransformer(**common).fit(paths[:1])
        vgg.transform(paths[: 2 * bs])
        jpeg_rate = best_rate(lambda: vgg.transform(paths), len(paths), args.repeat)
        cached = VGG16FeatureTransformer(**common, memory=Path(tmp) / "cache").fit(paths[:1])
        cached.transform(paths)  # fills the cache
        read_rate = best_rate(lambda: cached.transform(paths), len(paths), args.repeat)
        assert cached.cache_hits_ == len(paths)
    array_rate = best[layer, precision]
    flop = vgg16_flop(layer, args.input_size)
    lines += [
        "",
        f"## Files and cache ({layer}, {precision}, batch {bs}; {what}; {os.cpu_count()} CPU cores)",
        "",
        "| input | images/s | ratio to in-memory arrays |",
        "|---|---:|---:|",
        f"| in-memory uint8 arrays (best batch) | {array_rate:,.0f} | 1.00 |",
        f"| JPEG paths (decode + resize + network) | {jpeg_rate:,.0f} | {jpeg_rate / array_rate:.2f} |",
        f"| cached re-read of the same paths | {read_rate:,.0f} | {read_rate / array_rate:.2f} |",
        "",
        "## Targets",
        "",
        f"- in-memory bfloat16 at {layer}: {array_rate * flop / peak:.0%} of the matmul peak (target >= 40%)",
        f"- JPEG paths: {jpeg_rate:,.0f} images/s on {os.cpu_count()} cores (target >= 2,000 with 16 cores)",
        f"- cache read-back: {read_rate:,.0f} images/s, "
        f"{'faster' if read_rate > max(array_rate, jpeg_rate) else 'SLOWER'} than both (target: faster)",
        "",
        f"Whole run: {time.perf_counter() - started:.0f} s.",
    ]
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
