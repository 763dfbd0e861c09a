"""What the per-image cache saves in grid searches and learning curves.

All times are in units of one plain ``transform`` pass over the same images,
measured in the same run:

1. one plain ``transform`` pass (the unit);
2. ``GridSearchCV(Pipeline([vgg, head]), {"vgg__temperature": 8 values}, cv=5)``
   with the per-image cache, from a cold cache (target <= 1.3 units);
3. the same search the scikit-learn way, ``Pipeline(memory=...)`` and no
   per-image cache, run on fewer images and expressed in units of a plain pass
   over those same images (expected far above 10);
4. ``learning_curve`` over 5 sizes x 5 folds with the cache, cold (target <= 1.3);
5. reading back all cached features (target >= 20,000 images/s), and the
   cost per image of the file keys against hashing every file's bytes (the
   alternative key, not chosen).

``layer="predictions"`` with random weights (the ImageNet file is not available
offline; the cost of the pass does not depend on the weights' values).

Usage::

    python benchmarks/bench_cache.py [--n-images 400] [--n-small 25]

Writes ``benchmarks/results/cache.md``.
"""

import argparse
import hashlib
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import photo_paths, write_report  # noqa: E402

TEMPERATURES = [0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0]


def labelled_photos(n):
    """``n`` photos from 40 classes (10 each) when the shared set is there."""
    paths, kind = photo_paths(n)
    root = HERE.parent.parent / "shared" / "data" / "caltech101-20" / "101_ObjectCategories"
    if root.is_dir():
        classes = sorted(p for p in root.iterdir() if p.is_dir())
        per = max(5, n // 40)
        paths = [str(f) for c in classes for f in sorted(c.glob("*.jpg"))[:per]][:n]
    y = np.array([Path(p).parent.name for p in paths])
    if len(np.unique(y)) == 1:  # generated images: give them 8 classes
        y = np.arange(len(paths)) % 8
    return np.array(paths, dtype=object), y, kind


def key_costs(paths, repeat=3):
    """Seconds to key all ``paths``: sklvgg's stat key, and a BLAKE2b of each file's bytes."""
    from sklvgg._cache import image_keys
    from sklvgg._images import as_image_source

    source = as_image_source(list(paths))

    def content():
        for path in paths:
            with open(path, "rb", buffering=0) as f:
                hashlib.blake2b(f.read(), digest_size=16).hexdigest()

    best = []
    for run in (lambda: image_keys(source), content):
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        best.append(min(times))
    return tuple(best)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-images", type=int, default=400)
    parser.add_argument("--n-small", type=int, default=25, help="images for the sklearn-way search")
    parser.add_argument("--out", default=str(HERE / "results" / "cache.md"))
    args = parser.parse_args(argv)

    from sklearn.model_selection import GridSearchCV, StratifiedKFold, learning_curve
    from sklearn.pipeline import Pipeline

    from sklvgg import SoftmaxHeadClassifier, VGG16FeatureTransformer

    warnings.simplefilter("ignore")
    X, y, kind = labelled_photos(args.n_images)
    n = len(X)

    def vgg(memory=None):
        return VGG16FeatureTransformer(
            weights=None, layer="predictions", random_state=0, batch_size=32, memory=memory
        )

    def pipe(memory=None, pipeline_memory=None):
        return Pipeline(
            [("vgg", vgg(memory)), ("head", SoftmaxHeadClassifier(random_state=0))],
            memory=pipeline_memory,
        )

    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    grid = {"vgg__temperature": TEMPERATURES}
    vgg().fit(X[:2]).transform(X[:2])  # build the model once: not part of any timing
    rows = []

    start = time.perf_counter()
    vgg().fit(X).transform(X)
    unit = time.perf_counter() - start
    rows.append(("1. one plain transform pass (the unit)", unit, n, "1"))

    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        GridSearchCV(pipe(memory=cache), grid, cv=cv).fit(X, y)
        t = time.perf_counter() - start
        rows.append(
            (
                f"2. GridSearchCV, {len(TEMPERATURES)} temperatures x 5 folds, per-image cache (cold)",
                t,
                n,
                "<= 1.3",
            )
        )

        start = time.perf_counter()
        out = vgg(memory=cache).fit(X).transform(X)
        t_read = time.perf_counter() - start
        assert out.shape == (n, 1000)
    t_stat, t_bytes = key_costs(X)

    small = np.linspace(0, n - 1, args.n_small).astype(int)
    Xs, ys = X[small], y[small]
    if np.unique(ys, return_counts=True)[1].min() < 5:  # 5 folds need >= 5 per class
        ys = np.arange(len(ys)) % max(2, len(ys) // 5)
    start = time.perf_counter()
    vgg().fit(Xs).transform(Xs)
    unit_small = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as pipeline_cache:
        start = time.perf_counter()
        GridSearchCV(pipe(pipeline_memory=pipeline_cache), grid, cv=cv).fit(Xs, ys)
        t_sk = time.perf_counter() - start
    rows.append((
        f"3. same search, Pipeline(memory=...) without per-image cache, on {len(Xs)} images",
        t_sk / unit_small * unit, n, "far above 10",
    ))  # fmt: skip

    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        learning_curve(
            pipe(memory=cache).set_params(vgg__layer="fc2"), X, y,
            train_sizes=np.linspace(0.2, 1.0, 5), cv=cv,
        )  # fmt: skip
        t_lc = time.perf_counter() - start
        rows.append(("4. learning_curve, 5 sizes x 5 folds, per-image cache (cold), fc2", t_lc, n, "<= 1.3"))

    lines = [
        "# Per-image feature cache",
        "",
        f"Command: `python benchmarks/bench_cache.py --n-images {args.n_images} --n-small "
        f"{args.n_small}` on {os.cpu_count()} CPUs, no GPU.  ",
        f"Images: {n} {kind} as file paths, 224 x 224, VGG16 with random weights; head: "
        f"`SoftmaxHeadClassifier()` at its defaults. The unit is one plain `transform` "
        f"pass over the {n} images: {unit:.1f} s ({n / unit:.1f} images/s).",
        "",
        "| run | seconds | units | target |",
        "|---|---:|---:|---|",
    ]
    for label, seconds, _, target in rows:
        lines.append(f"| {label} | {seconds:.1f} | {seconds / unit:.2f} | {target} |")
    lines += [
        "",
        f"Row 3 ran on {len(Xs)} images ({t_sk:.1f} s, against {unit_small:.1f} s for one "
        f"plain pass over those {len(Xs)}); its seconds are scaled to {n} images by that "
        f"ratio.",
        "",
        f"5. Reading back all {n} cached features (keys from file stat, checksummed reads): "
        f"{t_read:.3f} s, {n / t_read:,.0f} images/s (target >= 20,000).",
        "",
        f"File keys (best of 3 over the {n} files, page cache warm): the stat key "
        f"{t_stat / n * 1e6:.1f} us per image; hashing every file's bytes instead (BLAKE2b, "
        f"the key not chosen) {t_bytes / n * 1e6:.1f} us per image.",
        "",
    ]
    write_report(lines, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
