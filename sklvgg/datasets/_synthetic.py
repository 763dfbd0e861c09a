"""The embedded default: generated photos-like images with real class structure."""

from pathlib import Path

import numpy as np

from ..exceptions import InputError

#: Class names of the generated set, one drawing rule each.
SHAPE_CLASSES = (
    "disc", "square", "triangle", "ring", "cross",
    "hstripes", "vstripes", "checker", "dots", "diagonal", "grid",
)  # fmt: skip


def _draw(kind, rng, size):
    from PIL import Image, ImageDraw, ImageFilter

    bg = tuple(int(v) for v in rng.integers(0, 256, 3))
    fg = tuple(int(v) for v in (np.array(bg) + rng.integers(90, 166, 3)) % 256)
    img = Image.new("RGB", (size, size), bg)
    draw = ImageDraw.Draw(img)
    r = int(size * rng.uniform(0.2, 0.35))
    cx, cy = (int(v) for v in rng.integers(r, size - r, 2))
    box = (cx - r, cy - r, cx + r, cy + r)
    period = int(rng.integers(max(4, size // 16), max(6, size // 6)))
    if kind == "disc":
        draw.ellipse(box, fill=fg)
    elif kind == "square":
        draw.rectangle(box, fill=fg)
    elif kind == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fg)
    elif kind == "ring":
        draw.ellipse(box, outline=fg, width=max(2, r // 4))
    elif kind == "cross":
        w = max(2, r // 3)
        draw.rectangle((cx - r, cy - w, cx + r, cy + w), fill=fg)
        draw.rectangle((cx - w, cy - r, cx + w, cy + r), fill=fg)
    elif kind == "hstripes":
        for y in range(int(rng.integers(0, period)), size, period):
            draw.rectangle((0, y, size, y + period // 2 - 1), fill=fg)
    elif kind == "vstripes":
        for x in range(int(rng.integers(0, period)), size, period):
            draw.rectangle((x, 0, x + period // 2 - 1, size), fill=fg)
    elif kind == "checker":
        for y in range(0, size, period):
            for x in range((y // period) % 2 * period, size, 2 * period):
                draw.rectangle((x, y, x + period - 1, y + period - 1), fill=fg)
    elif kind == "dots":
        for _ in range(int(rng.integers(8, 20))):
            x, y = (int(v) for v in rng.integers(0, size, 2))
            d = max(2, period // 3)
            draw.ellipse((x - d, y - d, x + d, y + d), fill=fg)
    elif kind == "grid":
        w = max(1, period // 4)
        for k in range(int(rng.integers(0, period)), size, period):
            draw.line((k, 0, k, size), fill=fg, width=w)
            draw.line((0, k, size, k), fill=fg, width=w)
    elif kind == "diagonal":
        w = max(2, period // 2)
        for k in range(-size, size, period):
            draw.line((k, 0, k + size, size), fill=fg, width=w)
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.2)))
    noise = rng.normal(0, rng.uniform(4, 16), (size, size, 3))
    return np.clip(np.asarray(img, dtype=np.float64) + noise, 0, 255).astype(np.uint8)


def make_shapes_dataset(
    root, *, n_classes=10, n_per_class=20, image_size=96, random_state=0, fmt="jpg",
    layout="caltech256",
):  # fmt: skip
    """Write a small labelled image set in a real dataset's layout, for offline work.

    Each class is a drawing rule (a disc, stripes, a checkerboard, ...) drawn
    at a random place and scale, in random colours, blurred and with noise, so
    that colour says nothing about the class and shape and texture say
    everything. With ``layout="caltech256"`` the images are written as
    ``root/256_ObjectCategories/NNN.name/NNN_MMMM.jpg`` and load with
    :func:`load_caltech256`; with ``layout="urban-tribes"`` as
    ``root/pictures_all/<tribe>_group_picNNNNN.jpg``, the 11 drawing rules
    standing for the 11 tribes, and load with :func:`load_urban_tribes`.
    Writing is skipped for files already present.

    Parameters
    ----------
    root : path-like
        Folder to write into (created if needed).
    n_classes : int, default=10
        At most ``len(SHAPE_CLASSES)`` (11).
    n_per_class : int, default=20
    image_size : int, default=96
    random_state : int, default=0
    fmt : {"jpg", "png"}, default="jpg"
    layout : {"caltech256", "urban-tribes"}, default="caltech256"

    Returns
    -------
    root : pathlib.Path
        The ``256_ObjectCategories`` or ``pictures_all`` folder.
    """
    from PIL import Image

    if not 1 <= n_classes <= len(SHAPE_CLASSES):
        raise InputError(f"n_classes must be between 1 and {len(SHAPE_CLASSES)}; got {n_classes}.")
    from ._loaders import URBAN_TRIBES_CLASSES

    if layout not in ("caltech256", "urban-tribes"):
        raise InputError(f"layout must be 'caltech256' or 'urban-tribes'; got {layout!r}.")
    top = Path(root) / ("256_ObjectCategories" if layout == "caltech256" else "pictures_all")
    for c, kind in enumerate(SHAPE_CLASSES[:n_classes], start=1):
        folder = top / f"{c:03d}.{kind}" if layout == "caltech256" else top
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng([random_state, c])
        for i in range(1, n_per_class + 1):
            image = _draw(kind, rng, image_size)
            if layout == "caltech256":
                path = folder / f"{c:03d}_{i:04d}.{fmt}"
            else:
                path = folder / f"{URBAN_TRIBES_CLASSES[c - 1]}_group_pic{i:05d}.{fmt}"
            if not path.exists():
                tmp = path.with_name(path.name + ".tmp")
                Image.fromarray(image).save(tmp, format="JPEG" if fmt == "jpg" else "PNG", quality=92)
                tmp.replace(path)
    return top
