"""Helpers shared by the benchmark scripts."""

import os
import platform
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data" / "caltech101-20" / "101_ObjectCategories"


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
