import os
import time
import uuid

import numpy as np
import pytest
from conftest import assert_features_close, rgb_image, small_transformer, without_blocking
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from sklvgg import ImageReadError, VGG16FeatureTransformer
from sklvgg._images import as_image_source, iter_batches, read_image, resize_rgb


def _save(tmp_path, name, img, **kw):
    path = tmp_path / name
    img.save(path, **kw)
    return path


def test_array_and_png_paths_give_identical_batches(tmp_path, rng):
    arrays = rng.integers(0, 256, (3, 40, 50, 3), dtype=np.uint8)
    paths = [_save(tmp_path, f"{i}.png", Image.fromarray(a)) for i, a in enumerate(arrays)]
    rows = np.arange(3)
    np.testing.assert_array_equal(
        as_image_source(arrays).batch(rows, 32), as_image_source(paths).batch(rows, 32)
    )
    # strings, PathLike and a 1-D string array are all paths
    assert as_image_source([str(p) for p in paths]).kind == "path"
    assert as_image_source(np.array([str(p) for p in paths])).kind == "path"


def test_uint8_and_float_arrays_agree(rng):
    arrays = rng.integers(0, 256, (2, 40, 50, 3), dtype=np.uint8)
    a = as_image_source(arrays).batch([0, 1], 32)
    b = as_image_source(arrays.astype(np.float64)).batch([0, 1], 32)
    np.testing.assert_allclose(a, b, atol=1e-4)


@pytest.mark.parametrize("shape", [(2, 20, 20), (2, 20, 20, 1)])
def test_grayscale_arrays_become_rgb(rng, shape):
    gray = rng.integers(0, 256, shape, dtype=np.uint8)
    batch = as_image_source(gray).batch([0, 1], 20)
    assert batch.shape == (2, 20, 20, 3)
    np.testing.assert_array_equal(batch[..., 0], gray.reshape(2, 20, 20))
    np.testing.assert_array_equal(batch[..., 0], batch[..., 2])


def test_list_of_arrays_of_different_sizes(rng):
    items = [rng.integers(0, 256, s, dtype=np.uint8) for s in [(10, 20, 3), (30, 15), (8, 8, 1)]]
    source = as_image_source(items)
    assert source.kind == "list"
    batch = source.batch([0, 1, 2], 16)
    assert batch.shape == (3, 16, 16, 3)
    np.testing.assert_allclose(batch[0], resize_rgb(items[0], 16))


def test_resize_stretches_to_the_square(rng):
    img = np.zeros((20, 40, 3), np.uint8)
    img[:, 20:] = 255  # right half white
    out = resize_rgb(img, 10)
    assert out.shape == (10, 10, 3)
    assert out[:, :4].max() < 1 and out[:, 6:].min() > 254  # aspect not kept: halves stay halves


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "I;16", "LA", "1"])
def test_modes_are_converted_to_rgb(tmp_path, rng, mode):
    rgb = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
    if mode == "I;16":
        img = Image.fromarray((rng.integers(0, 65536, (12, 16))).astype(np.uint16))
        ext = "png"
    else:
        img = rgb.convert(mode)
        ext = "jpg" if mode == "CMYK" else "png"
    path = _save(tmp_path, f"img.{ext}", img)
    out = read_image(path)
    assert out.shape == (12, 16, 3) and out.dtype == np.uint8
    if mode == "L":
        np.testing.assert_array_equal(out[..., 0], np.asarray(img))
    if mode == "I;16":
        np.testing.assert_array_equal(out[..., 0], np.round(np.asarray(img) / 257).astype(np.uint8))
    if mode == "RGBA":
        np.testing.assert_array_equal(out, np.asarray(rgb))


def test_exif_rotation_is_applied(tmp_path):
    img = Image.new("RGB", (30, 10), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    path = _save(tmp_path, "rot.jpg", img, exif=exif.tobytes())
    assert read_image(path).shape == (30, 10, 3)


def test_bad_files_name_the_path_and_row(tmp_path, rng):
    good = _save(tmp_path, "good.png", Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)))
    text = tmp_path / "text.jpg"
    text.write_text("hello")
    truncated = tmp_path / "cut.jpg"
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    cases = {
        tmp_path / "missing.jpg": "no such file",
        tmp_path: "directory",
        text: "not an image",
        truncated: "truncated",
        empty: "not an image",
    }
    for bad, reason in cases.items():
        source = as_image_source([good, good, bad])
        with pytest.raises(ImageReadError, match=reason) as info:
            source.batch([0, 1, 2], 16)
        assert info.value.row == 2 and str(bad) in str(info.value)
        assert isinstance(info.value, ValueError)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without permission")
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.png"
    Image.new("RGB", (4, 4)).save(path)
    path.chmod(0)
    with pytest.raises(ImageReadError, match="permission"):
        read_image(path, 0)


@pytest.mark.parametrize(
    "X, match",
    [
        (np.zeros((0, 8, 8, 3), np.uint8), "at least one image"),
        ([], "at least one image"),
        (np.zeros((8, 8), np.uint8), "4-D array"),
        (np.zeros((1, 2, 8, 8, 3), np.uint8), "4-D array"),
        (np.zeros((2, 8, 8, 2), np.uint8), "1 \\(grayscale\\) or 3 \\(RGB\\) channels"),
        (np.zeros((2, 8, 8, 4), np.uint8), "4 channels"),
        (np.full((2, 8, 8, 3), np.nan), "finite"),
        (np.full((2, 8, 8, 3), np.inf), "finite"),
        (np.full((2, 8, 8, 3), 300.0), "\\[0, 255\\]"),
        (np.full((2, 8, 8, 3), -1.0), "\\[0, 255\\]"),
        ("a.jpg", "single path"),
        ([np.zeros((4, 4, 3)), "a.jpg"], "Mixed input"),
        ([np.zeros((4, 4, 3)), np.zeros(4)], "row 1"),
    ],
)
def test_bad_arrays_raise_value_error(X, match):
    with pytest.raises(ValueError, match=match):
        as_image_source(X)


def test_iter_batches_keeps_order_and_propagates_errors(rng):
    images = rng.integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)
    source = as_image_source(images)
    order = [3, 1, 4, 1, 5, 9, 2, 6]
    got = list(iter_batches(source, order, 3, 8))
    assert [list(rows) for rows, _ in got] == [[3, 1, 4], [1, 5, 9], [2, 6]]
    np.testing.assert_array_equal(np.concatenate([b for _, b in got]), images[order])

    class Failing:
        def batch(self, rows, size, pool=None, crop=False):
            if rows[0] >= 4:
                raise ImageReadError("x.jpg", int(rows[0]), "boom")
            return np.zeros((len(rows), size, size, 3), np.float32)

    with pytest.raises(ImageReadError, match="row 4"):
        list(iter_batches(Failing(), range(8), 2, 4))
    # an abandoned iterator stops its reader thread
    it = iter_batches(source, range(10), 1, 8)
    next(it)
    it.close()


@pytest.mark.parametrize("kind", ["path", "list", "array"])
def test_threaded_decoding_gives_the_same_batches(tmp_path, rng, monkeypatch, kind):
    import threading

    import sklvgg._images as images_module

    sizes = [(20 + 3 * i, 30 - i) for i in range(9)]
    arrays = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in sizes]
    if kind == "path":
        X = []
        for i, a in enumerate(arrays):
            X.append(str(tmp_path / f"{i}.png"))
            Image.fromarray(a).save(X[-1])
    else:
        X = arrays if kind == "list" else np.stack([a[:20, :20] for a in arrays])
    source = as_image_source(X)
    serial = list(iter_batches(source, range(9), 4, 16))
    seen = set()
    real_resize = images_module.resize_rgb

    def recording(img, size, crop=False):
        seen.add(threading.current_thread().name)
        time.sleep(0.02)  # long enough that another thread takes the next image, however loaded the CPU
        return real_resize(img, size, crop)

    monkeypatch.setattr(images_module, "resize_rgb", recording)
    threaded = list(iter_batches(source, range(9), 4, 16, n_threads=3))
    assert [list(r) for r, _ in threaded] == [list(r) for r, _ in serial]
    for (_, a), (_, b) in zip(threaded, serial):
        np.testing.assert_array_equal(a, b)  # decoding is exact, whichever thread does it
    assert len({name for name in seen if name.startswith("sklvgg-decode")}) > 1


def test_threaded_decoding_reports_the_first_bad_file(tmp_path, rng):
    paths = []
    for i in range(6):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(rng.integers(0, 256, (10, 10, 3), dtype=np.uint8)).save(paths[-1])
    for bad in (3, 4):
        (tmp_path / f"{bad}.png").write_bytes(b"not an image")
    with pytest.raises(ImageReadError, match=r"3\.png.*row 3|row 3.*3\.png"):
        list(iter_batches(as_image_source(paths), range(6), 6, 8, n_threads=4))


# ----------------------------------------------------------------------------- read as documented


def test_alpha_is_dropped_as_documented(tmp_path):
    """Transparent pixels keep their stored colour (as keras.utils.load_img); nothing is composited."""
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200  # red everywhere ...
    rgba[:2, ..., 3] = 0  # ... fully transparent on the top half
    rgba[2:, ..., 3] = 128  # ... half transparent below
    path = _save(tmp_path, "rgba.png", Image.fromarray(rgba, "RGBA"))
    np.testing.assert_array_equal(read_image(path), np.broadcast_to([200, 0, 0], (4, 4, 3)))
    doc = " ".join(read_image.__doc__.split())
    assert "alpha channel is dropped" in doc and "composited on black" not in doc


def test_jpeg_draft_decoding_is_documented_as_approximate(tmp_path, rng):
    smooth = np.linspace(0, 255, 640 * 480 * 3).reshape(480, 640, 3)
    noisy = np.clip(smooth + rng.normal(0, 20, smooth.shape), 0, 255).astype(np.uint8)
    path = _save(tmp_path, "big.jpg", Image.fromarray(noisy), quality=90)
    drafted = resize_rgb(read_image(path, size=64), 64)
    full = resize_rgb(read_image(path), 64)
    shift = np.abs(drafted - full).max()
    assert 0 < shift <= 4  # not identical: a few levels of 255 after the resize
    doc = " ".join(read_image.__doc__.split())
    assert "only speeds things up" not in doc and "not identical" in doc


def test_32_bit_integer_images_are_scaled_by_one_fixed_rule(tmp_path):
    """Mode "I": 0-65535 maps to 0-255 whatever the image's own maximum."""
    dim = np.full((4, 4), 200, np.int32)  # an image whose maximum is 200 ...
    bright = dim.copy()
    bright[0, 0] = 60000  # ... and one with a brighter pixel
    paths = [_save(tmp_path, f"{i}.tif", Image.fromarray(a)) for i, a in enumerate((dim, bright))]
    assert Image.open(paths[0]).mode == "I"
    a, b = read_image(paths[0]), read_image(paths[1])
    assert a[1, 1, 0] == b[1, 1, 0] == round(200 / 257)  # the same value, the same pixel
    assert b[0, 0, 0] == round(60000 / 257)


@pytest.mark.parametrize("as_list", [False, True])
def test_float_images_on_the_0_1_scale_warn(rng, as_list):
    unit = rng.random((2, 8, 8, 3))
    X = list(unit) if as_list else unit
    with pytest.warns(UserWarning, match=r"within \[0, 1\].*0-255 scale"):
        source = as_image_source(X)
    np.testing.assert_array_equal(source.batch([0], 8)[0], unit[0].astype(np.float32))  # used as given
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        as_image_source(unit * 255)  # 0-255 floats
        as_image_source(np.zeros((2, 8, 8, 3)))  # black is black on either scale
        as_image_source((unit > 0.5).astype(np.uint8))  # integers are never rescaled


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_non_regular_files_are_refused_without_blocking(tmp_path):
    import signal

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)

    def timeout(signum, frame):
        raise TimeoutError("read_image blocked on a FIFO")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(20)  # a regression fails here instead of hanging the suite
    try:
        for path, kind in ((fifo, "FIFO"), ("/dev/null", "character device"), (tmp_path, "directory")):
            with pytest.raises(ImageReadError, match=kind) as info:
                read_image(path, 7)
            assert info.value.row == 7 and str(path) in str(info.value)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_float_and_32_bit_grayscale_files_are_read_on_their_scales(tmp_path):
    """Mode "F" on the 0-255 scale (rounded, clipped); mode "I" on the 16-bit scale; pixel order kept."""
    values = np.array([[0.4, 10.6, 300.0], [-5.0, 127.5, 254.2]], dtype=np.float32)
    Image.fromarray(values, mode="F").save(tmp_path / "f.tif")
    got = read_image(tmp_path / "f.tif")
    expected = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(got, np.repeat(expected[..., None], 3, axis=2))
    ints = np.array([[0, 257, 65535], [70000, 32768, 514]], dtype=np.int32)
    Image.fromarray(ints, mode="I").save(tmp_path / "i.tif")
    got = read_image(tmp_path / "i.tif")[..., 0]
    np.testing.assert_array_equal(got, [[0, 1, 255], [255, 128, 2]])


# -------------------------------------- through the transformer: every readable kind gives the right features


def test_images_that_work_give_the_right_features(tmp_path, rng):
    base = rgb_image(rng)
    vgg = small_transformer().fit(base[None])
    expected = vgg.transform(base[None])[0]
    cases = {}
    p = tmp_path / "really_png.jpg"  # a PNG with a .jpg name
    Image.fromarray(base).save(p, format="PNG")
    cases[p] = base
    p = tmp_path / "rgba.png"  # fully opaque RGBA: same pixels
    Image.fromarray(np.dstack([base, np.full(base.shape[:2], 255, np.uint8)])).save(p)
    cases[p] = base
    p = tmp_path / "palette.png"
    pal = Image.fromarray(base).convert("P", palette=Image.Palette.ADAPTIVE, colors=256)
    pal.save(p)
    cases[p] = np.asarray(pal.convert("RGB"))
    p = tmp_path / "gray16.png"
    gray16 = rng.integers(0, 256, base.shape[:2]).astype(np.uint16) * 257
    Image.fromarray(gray16).save(p)
    cases[p] = np.repeat((gray16 // 257).astype(np.uint8)[..., None], 3, axis=2)
    p = tmp_path / "gray.png"
    Image.fromarray(base[..., 0]).save(p)
    cases[p] = np.repeat(base[..., :1], 3, axis=2)
    p = tmp_path / "ñandú_日本.png"  # non-ASCII name
    Image.fromarray(base).save(p)
    cases[p] = base
    p = tmp_path / "rotated.png"  # EXIF orientation 3: stored upside down
    exif = Image.Exif()
    exif[0x0112] = 3
    Image.fromarray(base[::-1, ::-1]).save(p, exif=exif.tobytes())
    cases[p] = base
    p = tmp_path / "one.png"
    Image.new("RGB", (1, 1), (200, 10, 30)).save(p)
    cases[p] = np.full((1, 1, 3), (200, 10, 30), np.uint8)
    paths = list(cases)
    got = vgg.transform(paths)
    want = vgg.transform([cases[p] for p in paths])
    assert_features_close(got, want)
    assert_features_close(got[:1], np.asarray(expected, dtype=np.float32).reshape(1, -1))
    # CMYK JPEG: lossy, so compare with the decoded pixels
    p = tmp_path / "cmyk.jpg"
    Image.fromarray(base).convert("CMYK").save(p, quality=95)
    assert np.abs(vgg.transform([p])[0] - expected).max() < 0.2 * np.abs(expected).max()


@pytest.mark.slow
def test_huge_image(tmp_path):
    p = tmp_path / "huge.png"
    Image.new("RGB", (10_000, 10_000), (12, 200, 99)).save(p)
    vgg = small_transformer().fit([p])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning either
        got = vgg.transform([p])
    np.testing.assert_allclose(got, vgg.transform(np.full((1, 8, 8, 3), (12, 200, 99), np.uint8)), rtol=1e-5)


def test_lists_of_arrays_of_different_sizes(rng):
    items = [rgb_image(rng, 20, 30), rgb_image(rng, 50, 10)[..., 0], rgb_image(rng, 32, 32)]
    vgg = small_transformer().fit(items)
    out = vgg.transform(items)
    assert_features_close(out[2:3], vgg.transform(items[2][None]))  # batch of 3 vs alone
    assert out.shape == (3, 256)


image_arrays = st.one_of(
    hnp.arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40), st.just(3))),
    hnp.arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40))),
    hnp.arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40), st.just(1))),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(img=image_arrays, as_float=st.booleans())
def test_array_path_equals_png_path(tmp_path, img, as_float):
    path = tmp_path / f"{uuid.uuid4().hex}.png"
    Image.fromarray(img[..., 0] if img.ndim == 3 and img.shape[2] == 1 else img).save(path)
    array = img.astype(np.float64) if as_float else img
    a = as_image_source([array]).batch([0], 32)
    b = as_image_source([path]).batch([0], 32)
    np.testing.assert_allclose(a, b, atol=1e-4)


_VGG = small_transformer(layer="block1_pool")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(img=hnp.arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40), st.just(3))))
def test_features_array_vs_png(tmp_path, img):
    path = tmp_path / f"{uuid.uuid4().hex}.png"
    Image.fromarray(img).save(path)
    vgg = _VGG.fit(img[None])
    np.testing.assert_allclose(vgg.transform([img]), vgg.transform([path]), rtol=1e-5, atol=1e-4)


# ---------------------------------------- through the transformer: what cannot be read names its path and row


def test_bad_files_raise_naming_file_and_row(tmp_path, rng):
    good = tmp_path / "good.png"
    Image.fromarray(rgb_image(rng)).save(good)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("this is text")
    cut = tmp_path / "cut.jpg"
    Image.fromarray(rgb_image(rng, 200, 200)).save(cut)
    cut.write_bytes(cut.read_bytes()[:300])
    folder = tmp_path / "folder.jpg"
    folder.mkdir()
    bad = [empty, text, cut, folder, tmp_path / "missing.jpg"]
    vgg = small_transformer().fit([good])
    for b in bad:
        with pytest.raises(ImageReadError) as info:
            vgg.transform([good, good, b])
        assert info.value.row == 2 and str(b) in str(info.value)


@pytest.mark.parametrize(
    "X, match",
    [
        (np.zeros((3, 8, 8, 3, 1), np.uint8), "4-D array"),
        (np.zeros(5, np.uint8), "4-D array"),
        (np.zeros((3, 8, 8, 2), np.uint8), "2 channels"),
        (np.zeros((3, 8, 8, 4), np.uint8), "4 channels"),
        (np.full((3, 8, 8, 3), np.nan, np.float32), "finite"),
        (np.full((3, 8, 8, 3), -np.inf), "finite"),
        (np.full((3, 8, 8, 3), -3.0), r"\[0, 255\]"),
        (np.full((3, 8, 8, 3), 256.0), r"\[0, 255\]"),
        (np.zeros((0, 8, 8, 3), np.uint8), "at least one image"),
        (np.array([object(), object()], dtype=object), "row 0"),
        (np.zeros((2, 8, 8, 3), complex), "real-valued"),
        ([np.zeros((8, 8, 3)), np.zeros((4, 4, 4))], "row 1.*4 channels"),
        ([np.zeros((8, 8, 3)), np.zeros((0, 4, 3))], "at least 1 x 1.*row 1"),
    ],
)
def test_bad_arrays(X, match):
    with pytest.raises(ValueError, match=match):
        small_transformer().fit(X)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
@pytest.mark.parametrize("memory", [False, True])
def test_a_fifo_or_device_as_image_path_is_refused_without_blocking(tmp_path, rng, memory):
    good = tmp_path / "good.png"
    Image.fromarray(rgb_image(rng)).save(good)
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    vgg = small_transformer(memory=tmp_path / "cache" if memory else None, batch_size=2).fit([good])
    for bad, kind in ((fifo, "FIFO"), ("/dev/null", "character device"), (tmp_path, "directory")):
        with pytest.raises(ImageReadError, match=kind) as info:
            without_blocking(lambda b=bad: vgg.transform([good, good, b, good]), [fifo])
        assert info.value.row == 2 and str(bad) in str(info.value)


def test_float_tiff_with_nan_is_refused_naming_the_file(tmp_path):
    pixels = np.full((8, 8), 100.0, np.float32)
    pixels[3, 5] = np.nan
    path = tmp_path / "nan.tif"
    Image.fromarray(pixels, mode="F").save(path)
    with pytest.raises(ImageReadError, match=r"row 0: .*nan\.tif.*finite.*\(3, 5\)"):
        small_transformer().fit([path]).transform([path])


@pytest.mark.parametrize("memory", [False, True])
def test_nul_byte_in_a_path_names_the_path_and_row(tmp_path, rng, memory):
    good = tmp_path / "good.png"
    Image.fromarray(rgb_image(rng)).save(good)
    vgg = small_transformer(memory=tmp_path / "cache" if memory else None).fit([good])
    with pytest.raises(ImageReadError, match=r"row 1: .*bad.*NUL byte"):
        vgg.transform([str(good), str(tmp_path / "bad\0.png")])


@pytest.mark.parametrize("missing", [None, float("nan")])
def test_missing_value_in_paths_is_the_row_blamed(tmp_path, missing):
    with pytest.raises(ValueError, match=r"Row 1 is (None|nan) \((NoneType|float)\), not an image file path, "
                                         r"while row 0 is a path"):  # fmt: skip
        as_image_source(["a.png", missing, "b.png"])
    with pytest.raises(ValueError, match="Row 1 is"):
        as_image_source(["a.png", missing])


# ----------------------------------------------------------------------------- large images


def test_images_over_the_pixel_limit_are_refused_before_decoding(tmp_path, monkeypatch):
    import sklvgg._images as images_module

    path = tmp_path / "big.png"
    Image.new("1", (300, 200)).save(path)  # 60,000 pixels
    decoded = []
    real = images_module._to_rgb_array
    monkeypatch.setattr(images_module, "_to_rgb_array", lambda img: decoded.append(1) or real(img))
    with pytest.raises(ImageReadError, match=r"300 x 200 = 60,000 pixels, more than max_image_pixels=59,999"):
        small_transformer(max_image_pixels=59_999).fit([path]).transform([path])
    assert decoded == []  # refused from the header
    assert small_transformer(max_image_pixels=60_000).fit([path]).transform([path]).shape == (1, 256)
    assert small_transformer(max_image_pixels=None).fit([path]).transform([path]).shape == (1, 256)
    assert VGG16FeatureTransformer().max_image_pixels == 100_000_000


def test_large_images_decode_one_at_a_time(tmp_path, monkeypatch, rng):
    import threading
    import time

    import sklvgg._images as images_module

    monkeypatch.setattr(images_module, "LARGE_IMAGE_PIXELS", 100)  # every image here is "large"
    paths = []
    for i in range(6):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(rgb_image(rng)).save(paths[-1])
    active, most = [0], [0]
    lock = threading.Lock()
    real = images_module._to_rgb_array

    def counting(img):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.02)
        try:
            return real(img)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(images_module, "_to_rgb_array", counting)
    small_transformer(n_jobs=3).fit(paths).transform(paths)
    assert most[0] == 1
