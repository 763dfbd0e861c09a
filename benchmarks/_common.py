"""Helpers shared by the benchmark scripts."""

import os
import platform
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data" / "caltech101-20" / "101_ObjectCategories"
IMAGENET_CONV = (
    HERE.parent.parent / "shared" / "data" / "vgg16-imagenet-conv" / "vgg16_imagenet_notop.weights.h5"
)


def real_photo_options(doc, results_name, **extra):
    """Parse ``--memory``, ``--out`` (and ``extra``: name -> add_argument kwargs) of a real-photo benchmark.

    Returns the parsed arguments, or None (after saying so) where ``../shared`` lacks the photos or the
    ImageNet conv weights.
    """
    import argparse

    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    for name, kwargs in extra.items():
        parser.add_argument(name, **kwargs)
    parser.add_argument("--memory", default=str(HERE / ".cache"))
    parser.add_argument("--out", default=str(HERE / "results" / results_name))
    args = parser.parse_args()
    if not SHARED.is_dir() or not IMAGENET_CONV.is_file():
        print("Skipped: ../shared/data (the photos and the ImageNet conv weights) not present.")
        return None
    return args


def machine_description():
    cpu = platform.processor() or platform.machine()
    flags = ""
    try:
        info = Path("/proc/cpuinfo").read_text()
        cpu = next(
            line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")
        )
        flags = "avx512_bf16" if "avx512_bf16" in info else "no avx512_bf16"
    except (OSError, StopIteration):
        pass
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            gpus = [d.device_kind for d in jax.devices() if d.platform == "gpu"]
        elif backend == "torch":
            import torch

            gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        else:
            import tensorflow as tf

            gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    except Exception:  # noqa: BLE001
        gpus = []
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs ({flags}), GPUs: {gpus or 'none'}; "
        f"Keras {keras.__version__} on {backend}"
    )


def photo_paths(n):
    if SHARED.is_dir():
        paths = sorted(SHARED.glob("*/*.jpg"))
        step = max(1, len(paths) // n)
        return [str(p) for p in paths[::step][:n]], "shared Caltech-101 photos"
    import tempfile

    from PIL import Image

    folder = Path(tempfile.mkdtemp(prefix="sklvgg-bench-"))
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        img = rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)
        p = folder / f"img_{i:04d}.jpg"
        Image.fromarray(img).save(p, quality=90)
        out.append(str(p))
    return out, "generated JPEGs (../shared absent)"


def write_report(lines, out):
    """Print the report and write it to ``out`` (a Markdown file)."""
    text = "\n".join(lines)
    print(text)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(text)
