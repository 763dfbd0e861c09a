import os

import numpy as np
import pytest
from conftest import rgb_image
from PIL import Image

from sklvgg.datasets import (
    load_caltech256,
    load_image_folder,
    load_urban_tribes,
    make_shapes_dataset,
)
from sklvgg.datasets._loaders import URBAN_TRIBES_CLASSES


def _img(path, size=(8, 6)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (10, 20, 30)).save(path)


@pytest.fixture
def caltech256(tmp_path):
    top = tmp_path / "256_ObjectCategories"
    for num, name, count in [
        (1, "ak47", 3),
        (2, "american-flag", 2),
        (10, "beer-mug", 2),
        (257, "clutter", 2),
    ]:
        for i in range(count, 0, -1):  # written out of order
            _img(top / f"{num:03d}.{name}" / f"{num:03d}_{i:04d}.jpg")
    (top / "001.ak47" / "Thumbs.db").write_bytes(b"x")  # non-image file
    (top / "001.ak47" / "stray").mkdir()  # stray sub-folder
    _img(top / "001.ak47" / "stray" / "001_0099.jpg")
    (top / "README").write_text("not a class")
    (top / "misc").mkdir()  # not NNN.name
    _img(top / "misc" / "x.jpg")
    return tmp_path


def test_caltech256_layout(caltech256):
    data = load_caltech256(caltech256)
    assert list(data.target_names) == ["ak47", "american-flag", "beer-mug"]
    assert [p.split("/")[-1] for p in data.filenames[:3]] == ["001_0001.jpg", "001_0002.jpg", "001_0003.jpg"]
    assert list(data.target) == [0, 0, 0, 1, 1, 2, 2]
    with_clutter = load_caltech256(caltech256 / "256_ObjectCategories", include_clutter=True)
    assert with_clutter.target_names[-1] == "clutter" and len(with_clutter.filenames) == 9


def test_urban_tribes_layout(tmp_path):
    top = tmp_path / "pictures_all"
    for name in ("goth", "biker", "surfer"):
        for i in (3, 1):
            _img(top / f"{name}_group_pic{i:05d}.jpg")
    _img(top / "unknown_group_pic00001.jpg")
    (top / "notes.txt").write_text("x")
    data = load_urban_tribes(tmp_path)
    assert tuple(data.target_names) == URBAN_TRIBES_CLASSES and len(URBAN_TRIBES_CLASSES) == 11
    assert len(data.filenames) == 6
    assert [URBAN_TRIBES_CLASSES[t] for t in data.target] == ["biker"] * 2 + ["goth"] * 2 + ["surfer"] * 2
    assert data.filenames[0].endswith("biker_group_pic00001.jpg")


def test_image_folder_caltech101_layout(tmp_path):
    top = tmp_path / "101_ObjectCategories"
    for name in ("Faces", "accordion"):
        for i in (2, 1):
            _img(top / name / f"image_{i:04d}.jpg")
    (top / "empty").mkdir()
    data = load_image_folder(top)
    assert list(data.target_names) == ["Faces", "accordion"] and list(data.target) == [0, 0, 1, 1]


@pytest.mark.parametrize(
    "loader, expected",
    [(load_caltech256, "NNN.name"), (load_urban_tribes, "group_pic"), (load_image_folder, "<class>")],
)
def test_wrong_or_empty_roots(tmp_path, loader, expected):
    with pytest.raises(ValueError, match="not a directory"):
        loader(tmp_path / "absent")
    with pytest.raises(ValueError, match=expected):
        loader(tmp_path)


def test_shapes_dataset_loads_and_has_structure(tmp_path):
    root = make_shapes_dataset(tmp_path, n_classes=4, n_per_class=5, image_size=48)
    data = load_caltech256(root)
    assert list(data.target_names) == ["disc", "square", "triangle", "ring"]
    assert np.bincount(data.target).tolist() == [5] * 4
    # reproducible, and rerunning does not rewrite
    stamp = [p.stat().st_mtime_ns for p in map(__import__("pathlib").Path, data.filenames)]
    make_shapes_dataset(tmp_path, n_classes=4, n_per_class=5, image_size=48)
    assert stamp == [p.stat().st_mtime_ns for p in map(__import__("pathlib").Path, data.filenames)]
    with pytest.raises(ValueError, match="n_classes"):
        make_shapes_dataset(tmp_path, n_classes=12)


def test_shapes_dataset_in_urban_tribes_layout(tmp_path):
    root = make_shapes_dataset(tmp_path, n_classes=11, n_per_class=2, image_size=32, layout="urban-tribes")
    data = load_urban_tribes(root)
    assert len(data.filenames) == 22 and np.bincount(data.target).tolist() == [2] * 11


def test_min_images_leaves_short_classes_out(caltech256, tmp_path):
    data = load_caltech256(caltech256, min_images=3)
    assert list(data.target_names) == ["ak47"] and list(data.target) == [0, 0, 0]
    assert data.dropped == {"american-flag": 2, "beer-mug": 2}
    assert "1 classes" in data.DESCR and "(2 with fewer than 3 images left out)" in data.DESCR
    assert load_caltech256(caltech256).dropped == {}

    top = tmp_path / "folder"
    for name, count in [("a", 1), ("b", 3), ("c", 2)]:
        for i in range(count):
            _img(top / name / f"image_{i:04d}.jpg")
    (top / "empty").mkdir()  # not a class: not listed as dropped
    data = load_image_folder(top, min_images=2)
    assert list(data.target_names) == ["b", "c"] and list(data.target) == [0, 0, 0, 1, 1]
    assert data.dropped == {"a": 1}

    tribes = tmp_path / "pictures_all"
    for name, count in [("biker", 1), ("goth", 2)]:
        for i in range(count):
            _img(tribes / f"{name}_group_pic{i:05d}.jpg")
    data = load_urban_tribes(tribes, min_images=2)
    assert tuple(data.target_names) == URBAN_TRIBES_CLASSES  # indices stay those of the 11
    assert [URBAN_TRIBES_CLASSES[t] for t in data.target] == ["goth", "goth"]
    assert data.dropped == {"biker": 1}


@pytest.mark.parametrize("loader", [load_caltech256, load_image_folder])
def test_min_images_too_high_says_what_to_do(caltech256, loader):
    root = caltech256 / "256_ObjectCategories"
    # an image folder counts the image in ak47's sub-folder (as ImageFolder); Caltech-256 does not
    largest = 4 if loader is load_image_folder else 3
    with pytest.raises(
        ValueError, match=rf"min_images={largest + 1} images or more \(the largest, '.*ak47', has {largest}\)"
    ) as info:
        loader(root, min_images=largest + 1)
    assert "Pass a smaller min_images" in str(info.value)  # the command line adds its options


def test_image_folder_searches_class_subfolders_and_reports_what_it_skips(tmp_path, rng, capsys):
    from sklvgg._cli._commands import _report_skipped
    from sklvgg.datasets import load_image_folder

    root = tmp_path / "data"
    for rel in ("cat/indoor/a.jpg", "cat/indoor/b.jpg", "cat/outdoor/deep/c.png", "dog/1.jpg", "dog/2.jpg"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rgb_image(rng)).save(root / rel)
    (root / "dog" / "notes.txt").write_text("x")
    (root / "empty").mkdir()
    (root / "README").write_text("x")
    (root / "cat" / "loop").symlink_to(root / "cat")  # a link loop ends
    data = load_image_folder(root)
    assert list(data.target_names) == ["cat", "dog"]
    assert [os.path.relpath(f, root) for f in data.filenames] == [
        "cat/indoor/a.jpg", "cat/indoor/b.jpg", "cat/outdoor/deep/c.png", "dog/1.jpg", "dog/2.jpg"
    ]  # fmt: skip
    assert data.skipped == {"dog": 1, ".": 1} and data.empty == ["empty"]
    _report_skipped(data)
    out = capsys.readouterr().out
    assert "Skipped 2 files that are not images: 1 in dog, 1 in the top folder" in out
    assert "Skipped 1 class folders without any image: empty" in out
