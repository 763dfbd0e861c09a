"""Decode + resize throughput of the input pipeline, per core and over all cores.

Reads the shared Caltech-101 JPEGs (or generated photo-sized ones) through
``iter_batches`` (Pillow decode with JPEG draft scaling, EXIF transpose, RGB,
antialiased bilinear resize to 224) with 1, 2, 4, ... threads up to the number
of cores, no network. Prints images/s and images/s per thread, and the scaling
relative to one thread, measured side by side in one run (best of ``--repeat``).

Usage::

    python benchmarks/bench_decode.py [--n-images 2000] [--size 224]

Writes ``benchmarks/results/decode.md``.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import machine_description, photo_paths, write_report  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "results" / "decode.md"))
    args = parser.parse_args(argv)

    from sklvgg._images import as_image_source, iter_batches

    paths, what = photo_paths(args.n_images)
    source = as_image_source(paths)
    cores = os.cpu_count()
    threads = sorted({t for t in (1, 2, 4, 8, 16, 32) if t <= cores} | {cores})

    def run(n_threads):
        for _ in iter_batches(source, range(len(paths)), args.batch_size, args.size, n_threads=n_threads):
            pass

    run(1)  # page cache warm
    best = {t: np.inf for t in threads}
    for _ in range(args.repeat):  # interleaved, so drift hits every row alike
        for t in threads:
            start = time.perf_counter()
            run(t)
            best[t] = min(best[t], time.perf_counter() - start)
    lines = [
        "# Decode + resize throughput",
        "",
        f"Machine: {machine_description()}  ",
        f"Command: `python benchmarks/bench_decode.py --n-images {args.n_images} --size {args.size}`  ",
        f"Images: {len(paths)} {what}, resized to {args.size} x {args.size}, batches of {args.batch_size}, "
        f"best of {args.repeat} (interleaved).",
        "",
        "| threads | images/s | images/s per thread | speed-up over 1 thread |",
        "|---:|---:|---:|---:|",
    ]
    for t in threads:
        rate = len(paths) / best[t]
        lines.append(f"| {t} | {rate:,.0f} | {rate / t:,.0f} | {best[1] / best[t]:.2f} |")
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
