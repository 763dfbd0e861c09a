"""Loaders for Caltech-256, Urban Tribes and any folder-per-class image set."""

import re
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")

URBAN_TRIBES_CLASSES = (
    "biker", "clubber", "country", "formal", "goth", "heavy",
    "hiphop", "hipster", "others", "ravers", "surfer",
)  # fmt: skip

_CALTECH256_DIR = re.compile(r"^(\d{3})\.(.+)$")
_URBAN_FILE = re.compile(r"^([a-z]+)_group_pic\d+$", re.IGNORECASE)


def _is_image(path):
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _bunch(paths, labels, target_names, root, layout):
    return Bunch(
        filenames=np.asarray([str(p) for p in paths], dtype=object),
        target=np.asarray(labels, dtype=np.intp),
        target_names=np.asarray(target_names, dtype=object),
        root=str(root),
        DESCR=f"{layout} at {root}: {len(paths)} images, {len(set(labels))} classes.",
    )


def _resolve_root(root, subdir, layout):
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ValueError(f"{layout}: root {str(root)!r} is not a directory. Expected {subdir}.")
    if root.name != subdir.split("/")[0] and (root / subdir.split("/")[0]).is_dir():
        root = root / subdir.split("/")[0]
    return root


def load_image_folder(root, *, min_images=1):
    """Load any folder-per-class image set: ``root/<class>/<image>``.

    Caltech-101 (``101_ObjectCategories``) has this layout, as do the
    folders that ``torchvision.datasets.ImageFolder`` reads.

    Parameters
    ----------
    root : path-like
        The folder whose sub-folders are the classes.
    min_images : int, default=1
        Classes with fewer images are left out.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``filenames`` (object array of paths, sorted by class then file name),
        ``target`` (int class indices), ``target_names`` (folder names, sorted),
        ``root`` and ``DESCR``.

    Raises
    ------
    ValueError
        If ``root`` is not a directory or holds no class folder with images.
    """
    root = Path(root).expanduser()
    layout = "Image folder (root/<class>/<image>)"
    if not root.is_dir():
        raise ValueError(f"{layout}: root {str(root)!r} is not a directory.")
    paths, labels, names = [], [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in folder.iterdir() if _is_image(p))
        if len(files) < max(1, min_images):
            continue
        names.append(folder.name)
        paths += files
        labels += [len(names) - 1] * len(files)
    if not paths:
        raise ValueError(
            f"{layout}: no class folders with images under {str(root)!r}. Expected "
            f"root/<class>/<image>{{{','.join(IMAGE_EXTENSIONS)}}}."
        )
    return _bunch(paths, labels, names, root, layout)


def load_caltech256(root, *, include_clutter=False):
    """Load Caltech-256 from its distributed layout.

    The layout is ``256_ObjectCategories/NNN.name/NNN_MMMM.jpg``: 257 folders
    (``001.ak47`` ... ``256.toad``, then ``257.clutter``), 30,607 images.
    Download ``256_ObjectCategories.tar`` from the Caltech data repository
    (https://data.caltech.edu/records/nyy15-4j048) and extract it.

    Parameters
    ----------
    root : path-like
        ``256_ObjectCategories`` itself or the folder that contains it.
    include_clutter : bool, default=False
        Whether to keep ``257.clutter``, which is not an object class.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``filenames``, ``target`` (0-based, in folder-number order),
        ``target_names`` (``"ak47"``, ...), ``root``, ``DESCR``. Files are
        sorted by class, then by name, so ``NNN_0001.jpg`` comes first: the
        study's "first 16 images of each class" are the first 16 of each class
        here. Non-image files and stray sub-folders are skipped.

    Raises
    ------
    ValueError
        If ``root`` does not hold folders named ``NNN.name``.
    """
    layout = "Caltech-256 (256_ObjectCategories/NNN.name/NNN_MMMM.jpg)"
    root = _resolve_root(root, "256_ObjectCategories/NNN.name/NNN_MMMM.jpg", layout)
    folders = []
    for p in root.iterdir():
        match = _CALTECH256_DIR.match(p.name)
        if p.is_dir() and match:
            folders.append((int(match.group(1)), match.group(2), p))
    folders.sort()
    if not include_clutter:
        folders = [f for f in folders if f[1] != "clutter"]
    paths, labels, names = [], [], []
    for _number, name, folder in folders:
        files = sorted(p for p in folder.iterdir() if _is_image(p))
        if not files:
            continue
        names.append(name)
        paths += files
        labels += [len(names) - 1] * len(files)
    if not paths:
        raise ValueError(f"{layout}: no class folders named NNN.name with images under {str(root)!r}.")
    return _bunch(paths, labels, names, root, layout)


def load_urban_tribes(root):
    """Load the Urban Tribes dataset (11 social groups, group photos).

    The layout is one flat folder ``pictures_all/<class>_group_picNNNNN.jpg``;
    the label is the file-name prefix, one of ``biker, clubber, country,
    formal, goth, heavy, hiphop, hipster, others, ravers, surfer``.

    Parameters
    ----------
    root : path-like
        ``pictures_all`` itself or the folder that contains it.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``filenames``, ``target`` (index into the 11 names), ``target_names``,
        ``root``, ``DESCR``; sorted by class then file name. Files whose
        prefix is not one of the 11 classes are skipped.

    Raises
    ------
    ValueError
        If ``root`` holds no file named ``<class>_group_picNNNNN.<ext>``.
    """
    layout = "Urban Tribes (pictures_all/<class>_group_picNNNNN.jpg)"
    root = _resolve_root(root, "pictures_all/<class>_group_picNNNNN.jpg", layout)
    by_class = {name: [] for name in URBAN_TRIBES_CLASSES}
    for p in root.iterdir():
        match = _URBAN_FILE.match(p.stem)
        if match and _is_image(p) and match.group(1).lower() in by_class:
            by_class[match.group(1).lower()].append(p)
    paths, labels = [], []
    for label, name in enumerate(URBAN_TRIBES_CLASSES):
        files = sorted(by_class[name])
        paths += files
        labels += [label] * len(files)
    if not paths:
        raise ValueError(
            f"{layout}: no files named <class>_group_picNNNNN.jpg under {str(root)!r}, "
            f"with <class> one of {', '.join(URBAN_TRIBES_CLASSES)}."
        )
    return _bunch(paths, labels, URBAN_TRIBES_CLASSES, root, layout)
