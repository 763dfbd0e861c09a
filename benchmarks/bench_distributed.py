"""Throughput of ``sklvgg.parallel.transform_paths`` on 1 and 2 local Dask workers.

Each worker is a process with one Dask thread; TensorFlow's intra-op threads are
split between the workers (``TF_NUM_INTRAOP_THREADS = cores // workers``) so the
two runs use the same cores. Models are built on every worker before timing.
From the measured per-image cost, the note projects the time of Caltech-256
(30,607 images) and of 1 million images on N such workers; GPU workers are not
measured here (no GPU in this run) and are projected only from a throughput
given on the command line, labelled as an assumption.

Usage::

    python benchmarks/bench_distributed.py [--n-images 64] [--gpu-images-per-s 0]

Writes ``benchmarks/results/distributed.md``.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import machine_description, photo_paths, write_report  # noqa: E402


def _warm(transformer, path):
    transformer.fit([path]).transform([path])
    return True


def run(n_workers, paths, cores):
    from distributed import Client, LocalCluster

    from sklvgg import VGG16FeatureTransformer
    from sklvgg.parallel import transform_paths

    threads = str(max(1, cores // n_workers))
    env = {"TF_NUM_INTRAOP_THREADS": threads, "OMP_NUM_THREADS": threads, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory() as cache, LocalCluster(
        n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None, env=env
    ) as cluster, Client(cluster) as client:  # fmt: skip
        vgg = VGG16FeatureTransformer(weights=None, layer="fc2", random_state=0, memory=cache)
        client.run(_warm, VGG16FeatureTransformer(weights=None, layer="fc2", random_state=0), paths[0])
        start = time.perf_counter()
        features = transform_paths(vgg, paths, client=client, partition_size=8)
        seconds = time.perf_counter() - start
    assert features.shape == (len(paths), 4096)
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-images", type=int, default=64)
    parser.add_argument("--gpu-images-per-s", type=float, default=0.0,
                        help="assumed per-GPU throughput for the projection (not measured)")  # fmt: skip
    parser.add_argument("--out", default=str(HERE / "results" / "distributed.md"))
    args = parser.parse_args(argv)
    cores = os.cpu_count()
    paths, kind = photo_paths(args.n_images)
    times = {n: run(n, paths, cores) for n in (1, 2)}
    rate = {n: len(paths) / t for n, t in times.items()}
    per_image_core_s = times[1] / len(paths) * cores  # CPU-seconds per image
    lines = [
        "# Dask featurisation: measured and projected",
        "",
        f"Machine: {machine_description()}  ",
        f"Command: `python benchmarks/bench_distributed.py --n-images {args.n_images}`  ",
        f"Measured: `transform_paths` on {len(paths)} {kind}, 224 x 224, cut at `fc2`, "
        f"partitions of 8, cold cache, models built on every worker before timing.",
        "",
        "| workers (cores each) | seconds | images/s | speed-up |",
        "|---|---:|---:|---:|",
    ]
    for n in (1, 2):
        lines.append(
            f"| {n} ({max(1, cores // n)}) | {times[n]:.1f} | {rate[n]:.2f} | {rate[n] / rate[1]:.2f} |"
        )
    lines += [
        "",
        f"Measured cost per image: {per_image_core_s:.3f} CPU-core-seconds "
        f"(= {times[1] / len(paths):.3f} s on this {cores}-core machine).",
        "",
        "## Projection (not measured)",
        "",
        "Linear scaling in workers is assumed: partitions are independent, each image is "
        "read once from a shared file system and written once to the shared cache. "
        "Scheduler overhead, storage bandwidth and stragglers are ignored.",
        "",
        "| collection | images | CPU machines like this one (N) | hours |",
        "|---|---:|---:|---:|",
    ]
    for name, count in (("Caltech-256", 30607), ("1 million images", 1_000_000)):
        for n in (1, 8, 64):
            hours = count * (times[1] / len(paths)) / n / 3600
            lines.append(f"| {name} | {count:,} | {n} | {hours:.2f} |")
    if args.gpu_images_per_s > 0:
        lines += [
            "",
            f"GPU workers, assuming {args.gpu_images_per_s:g} images/s each (an assumption "
            "given on the command line, not a measurement):",
            "",
            "| collection | N GPU workers | hours |",
            "|---|---:|---:|",
        ]
        for name, count in (("Caltech-256", 30607), ("1 million images", 1_000_000)):
            for n in (1, 8):
                lines.append(f"| {name} | {n} | {count / args.gpu_images_per_s / n / 3600:.2f} |")
    else:
        lines += ["", "GPU workers: no GPU was available to this run, so no GPU figure is given."]
    write_report(lines, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
