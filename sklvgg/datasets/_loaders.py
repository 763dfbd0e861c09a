"""Loaders for Caltech-256, Urban Tribes and any folder-per-class image set."""

import os
import re
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ..exceptions import InputError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")

URBAN_TRIBES_CLASSES = (
    "biker", "clubber", "country", "formal", "goth", "heavy",
    "hiphop", "hipster", "others", "ravers", "surfer",
)  # fmt: skip

_CALTECH256_DIR = re.compile(r"^(\d{3})\.(.+)$")
_URBAN_FILE = re.compile(r"^([a-z]+)_group_pic\d+$", re.IGNORECASE)


def _is_image(path):
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


class TooFewImagesError(InputError):
    """No class of a recognised dataset layout has ``min_images`` images."""


def _bunch(classes, root, layout, min_images, *, target_names=None):
    """The loaders' result from ``classes``, a list of ``(name, sorted files)``.

    Classes with no file are not classes (a stray folder, an absent tribe);
    those with fewer than ``min_images`` are left out and listed in
    ``dropped``. With ``target_names`` (Urban Tribes' fixed 11), labels index
    into it; otherwise into the names kept.
    """
    min_images = max(1, min_images)
    present = [(name, files) for name, files in classes if files]
    kept = [(name, files) for name, files in present if len(files) >= min_images]
    dropped = {name: len(files) for name, files in present if len(files) < min_images}
    if present and not kept:
        largest, files = max(present, key=lambda c: len(c[1]))
        raise TooFewImagesError(
            f"{layout}: no class under {str(root)!r} has min_images={min_images} images or more "
            f"(the largest, {largest!r}, has {len(files)}). Pass a smaller min_images."
        )
    names = list(target_names) if target_names is not None else [name for name, _ in kept]
    paths, labels = [], []
    for name, files in kept:
        paths += files
        labels += [names.index(name)] * len(files)
    descr = f"{layout} at {root}: {len(paths)} images, {len(kept)} classes"
    if dropped:
        descr += f" ({len(dropped)} with fewer than {min_images} images left out)"
    return Bunch(
        filenames=np.asarray([str(p) for p in paths], dtype=object),
        target=np.asarray(labels, dtype=np.intp),
        target_names=np.asarray(names, dtype=object),
        root=str(root),
        dropped=dropped,
        DESCR=descr + ".",
    )


def _resolve_root(root, subdir, layout):
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InputError(f"{layout}: root {str(root)!r} is not a directory. Expected {subdir}.")
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
        Classes with fewer images are left out (and listed in ``dropped``):
        ``PerClassSplit(16, 4)`` needs ``min_images=20``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``filenames`` (object array of paths, sorted by class then path
        within the class folder), ``target`` (int class indices),
        ``target_names`` (folder names, sorted), ``root``, ``dropped``
        (``{class name: number of images}`` of the classes left out for
        ``min_images``), ``skipped`` (``{class name: number of files that are
        not images}``, with ``"."`` for the files beside the class folders),
        ``empty`` (class folders without any image) and ``DESCR``.

    Notes
    -----
    As ``torchvision.datasets.ImageFolder``, the images of a class are all
    the image files below its folder, sub-folders included
    (``cat/indoor/x.jpg`` is a ``cat``); links are followed.

    Raises
    ------
    ValueError
        If ``root`` is not a directory or holds no class folder with images,
        or if no class has ``min_images`` images (the message names the
        largest class).
    """
    root = Path(root).expanduser()
    layout = "Image folder (root/<class>/<image>)"
    if not root.is_dir():
        raise InputError(f"{layout}: root {str(root)!r} is not a directory.")
    classes, skipped = [], {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files, others = _images_under(folder)
        classes.append((folder.name, files))
        if others:
            skipped[folder.name] = others
    loose = sum(1 for p in root.iterdir() if not p.is_dir() and not p.name.startswith("."))
    if loose:
        skipped["."] = loose  # files beside the class folders: no class
    if not any(files for _, files in classes):
        raise InputError(
            f"{layout}: no class folders with images under {str(root)!r}. Expected "
            f"root/<class>/<image>{{{','.join(IMAGE_EXTENSIONS)}}} (images in sub-folders of a "
            f"class folder count)."
        )
    data = _bunch(classes, root, layout, min_images)
    data.skipped = skipped
    data.empty = [name for name, files in classes if not files]
    return data


def _images_under(folder):
    """Image files anywhere below ``folder``, sorted by path; and how many other files.

    As ``torchvision.datasets.ImageFolder``: sub-folders are searched and
    links followed (each real folder once, so a link loop ends); hidden files
    and folders are skipped.
    """
    images, others, seen = [], 0, set()
    for here, folders, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(here)
        if real in seen:
            folders[:] = []
            continue
        seen.add(real)
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in names:
            path = Path(here) / name
            if _is_image(path):
                images.append(path)
            elif not name.startswith("."):
                others += 1
    return sorted(images, key=lambda p: p.relative_to(folder).parts), others


def load_caltech256(root, *, include_clutter=False, min_images=1):
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
    min_images : int, default=1
        Classes with fewer images are left out (and listed in ``dropped``).
        Every Caltech-256 class has 80 images or more.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``filenames``, ``target`` (0-based, in folder-number order of the
        classes kept), ``target_names`` (``"ak47"``, ...), ``root``,
        ``dropped`` (``{class name: number of images}`` of the classes left out
        for ``min_images``), ``DESCR``. Files are
        sorted by class, then by name, so ``NNN_0001.jpg`` comes first: the
        study's "first 16 images of each class" are the first 16 of each class
        here. Non-image files and stray sub-folders are skipped.

    Raises
    ------
    ValueError
        If ``root`` does not hold folders named ``NNN.name``, or if no class
        has ``min_images`` images.
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
    classes = [(name, sorted(p for p in folder.iterdir() if _is_image(p))) for _, name, folder in folders]
    if not any(files for _, files in classes):
        raise InputError(f"{layout}: no class folders named NNN.name with images under {str(root)!r}.")
    return _bunch(classes, root, layout, min_images)


def load_urban_tribes(root, *, min_images=1):
    """Load the Urban Tribes dataset (11 social groups, group photos).

    The layout is one flat folder ``pictures_all/<class>_group_picNNNNN.jpg``;
    the label is the file-name prefix, one of ``biker, clubber, country,
    formal, goth, heavy, hiphop, hipster, others, ravers, surfer``.

    Parameters
    ----------
    root : path-like
        ``pictures_all`` itself or the folder that contains it.
    min_images : int, default=1
        Classes with fewer images are left out (and listed in ``dropped``);
        they keep their index in ``target_names``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``filenames``, ``target`` (index into the 11 names), ``target_names``
        (always the 11), ``root``, ``dropped`` (``{class name: number of
        images}`` of the classes left out for ``min_images``), ``DESCR``;
        sorted by class then file name. Files whose prefix is not one of the
        11 classes are skipped.

    Raises
    ------
    ValueError
        If ``root`` holds no file named ``<class>_group_picNNNNN.<ext>``, or
        if no class has ``min_images`` images.
    """
    layout = "Urban Tribes (pictures_all/<class>_group_picNNNNN.jpg)"
    root = _resolve_root(root, "pictures_all/<class>_group_picNNNNN.jpg", layout)
    by_class = {name: [] for name in URBAN_TRIBES_CLASSES}
    for p in root.iterdir():
        match = _URBAN_FILE.match(p.stem)
        if match and _is_image(p) and match.group(1).lower() in by_class:
            by_class[match.group(1).lower()].append(p)
    classes = [(name, sorted(by_class[name])) for name in URBAN_TRIBES_CLASSES]
    if not any(files for _, files in classes):
        raise InputError(
            f"{layout}: no files named <class>_group_picNNNNN.jpg under {str(root)!r}, "
            f"with <class> one of {', '.join(URBAN_TRIBES_CLASSES)}."
        )
    return _bunch(classes, root, layout, min_images, target_names=URBAN_TRIBES_CLASSES)
