"""What real data and real machines do: bad images, bad parameters, cache faults.

Counts reported in the closing note of issue 8 come from this file: run it with
``pytest tests/test_robustness.py -q``.
"""

import os
import signal
import subprocess
import sys
import textwrap
import uuid

import numpy as np
import pytest
from conftest import assert_features_close
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from sklvgg import CacheWarning, ImageReadError, SoftmaxHeadClassifier, VGG16FeatureTransformer
from sklvgg._cache import image_keys
from sklvgg._images import as_image_source
from sklvgg.model_selection import PerClassSplit


def small(**kw):
    params = dict(weights=None, layer="block3_pool", pooling="avg", input_size=32, random_state=0)
    params.update(kw)
    return VGG16FeatureTransformer(**params)


def rgb(rng, h=24, w=32):
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


# ----------------------------------------------------------------------------- images


def test_images_that_work_give_the_right_features(tmp_path, rng):
    base = rgb(rng)
    vgg = small().fit(base[None])
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
    vgg = small().fit([p])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning either
        got = vgg.transform([p])
    np.testing.assert_allclose(got, vgg.transform(np.full((1, 8, 8, 3), (12, 200, 99), np.uint8)), rtol=1e-5)


def test_bad_files_raise_naming_file_and_row(tmp_path, rng):
    good = tmp_path / "good.png"
    Image.fromarray(rgb(rng)).save(good)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("this is text")
    cut = tmp_path / "cut.jpg"
    Image.fromarray(rgb(rng, 200, 200)).save(cut)
    cut.write_bytes(cut.read_bytes()[:300])
    folder = tmp_path / "folder.jpg"
    folder.mkdir()
    bad = [empty, text, cut, folder, tmp_path / "missing.jpg"]
    vgg = small().fit([good])
    for b in bad:
        with pytest.raises(ImageReadError) as info:
            vgg.transform([good, good, b])
        assert info.value.row == 2 and str(b) in str(info.value)


def test_one_bad_file_in_5000_keeps_the_others_in_the_cache(tmp_path, rng):
    images = tmp_path / "images"
    images.mkdir()
    paths = []
    for i in range(5000):
        p = images / f"{i:05d}.png"
        Image.new("RGB", (8, 8), tuple(int(v) for v in rng.integers(0, 256, 3))).save(p)
        paths.append(p)
    paths[4321].write_text("broken")
    vgg = small(memory=tmp_path / "cache", batch_size=64, layer="block1_pool").fit(paths)
    with pytest.raises(ImageReadError, match="row 4321"):
        vgg.transform(paths)
    cached = len(list((tmp_path / "cache").rglob("*.f32")))
    assert cached >= 4321 - 4321 % 64  # every batch before the bad one
    Image.new("RGB", (8, 8)).save(paths[4321], format="PNG")
    vgg.transform(paths)
    assert vgg.cache_hits_ == cached and vgg.cache_misses_ == 5000 - cached


# ----------------------------------------------------------------------------- arrays


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
        small().fit(X)


def test_lists_of_arrays_of_different_sizes(rng):
    items = [rgb(rng, 20, 30), rgb(rng, 50, 10)[..., 0], rgb(rng, 32, 32)]
    vgg = small().fit(items)
    out = vgg.transform(items)
    assert_features_close(out[2:3], vgg.transform(items[2][None]))  # batch of 3 vs alone
    assert out.shape == (3, 256)


# ----------------------------------------------------------------------------- parameters

TRANSFORMER_BAD = {
    "weights": [3, "imagenett", ["x"]],
    "layer": ["block6_pool", None, 3],
    "pooling": ["mean", 1],
    "temperature": [0, -1.0, "hot"],
    "temperature_on": ["fc1", "bias", None],
    "input_size": [31, 0, 32.5, "224"],
    "batch_size": [0, -5, 2.5],
    "precision": ["float16", None],
    "random_state": ["seed", 1.5],
    "verbose": ["loud", -1.5],
    "memory": [3, ["dir"]],
}
HEAD_BAD = {
    "alpha": [-1, "x"],
    "solver": ["newton-cg", None],
    "learning_rate": ["invscaling"],
    "learning_rate_init": [0, -0.1],
    "batch_size": [0, "big"],
    "max_iter": [0, 1.5],
    "tol": [-1e-3],
    "n_iter_no_change": [0],
    "early_stopping": ["yes", 1],
    "validation_fraction": [0, 1, 1.5],
    "shuffle": ["no"],
    "class_weight": ["auto", 3],
    "warm_start": ["no"],
    "random_state": ["seed"],
    "verbose": ["loud"],
}
N_PARAMETER_CASES = sum(map(len, TRANSFORMER_BAD.values())) + sum(map(len, HEAD_BAD.values()))


@pytest.mark.parametrize("name, value", [(k, v) for k, vs in TRANSFORMER_BAD.items() for v in vs], ids=str)
def test_every_bad_transformer_parameter(name, value, rng):
    with pytest.raises(
        (ValueError, TypeError), match=f"'{name}' parameter of VGG16FeatureTransformer must be"
    ):
        small(**{name: value}).fit(rgb(rng)[None])


@pytest.mark.parametrize("name, value", [(k, v) for k, vs in HEAD_BAD.items() for v in vs], ids=str)
def test_every_bad_head_parameter(name, value, rng):
    X = rng.normal(size=(20, 3))
    with pytest.raises((ValueError, TypeError), match=f"'{name}' parameter of SoftmaxHeadClassifier must be"):
        SoftmaxHeadClassifier(**{name: value}).fit(X, np.arange(20) % 2)


@pytest.mark.parametrize(
    "kw", [dict(n_train_per_class=0), dict(n_test_per_class=-1), dict(order="x"), dict(n_splits=0)]
)
def test_bad_split_parameters(kw):
    with pytest.raises((ValueError, TypeError), match="parameter of PerClassSplit must be"):
        next(PerClassSplit(**kw).split(np.zeros(40), np.arange(40) % 2))


# ----------------------------------------------------------------------------- cache faults

KILLED_WRITER = textwrap.dedent(
    """
    import os, sys, time
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import numpy as np
    import sklvgg._cache as cache
    from sklvgg import VGG16FeatureTransformer
    real_write = cache.FeatureCache.write
    def slow_write(self, key, values):
        ok = real_write(self, key, values)
        print("wrote", flush=True)
        time.sleep(0.05)
        return ok
    cache.FeatureCache.write = slow_write
    X = np.load(sys.argv[1])
    vgg = VGG16FeatureTransformer(weights=None, layer="block3_pool", pooling="avg",
                                  input_size=32, random_state=0, batch_size=4, memory=sys.argv[2])
    vgg.fit(X).transform(X)
    print("finished", flush=True)
    """
)


@pytest.mark.slow  # a writer process with TensorFlow
def test_sigkill_while_writing_then_rerun(tmp_path, rng):
    X = rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    np.save(tmp_path / "X.npy", X)
    script = tmp_path / "writer.py"
    script.write_text(KILLED_WRITER)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "X.npy"), str(tmp_path / "cache")],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    written = 0
    for line in proc.stdout:
        written += line.startswith("wrote")
        if written == 10:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    plain = small().fit(X).transform(X)
    vgg = small(memory=tmp_path / "cache").fit(X)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)  # no entry may be damaged
        resumed = vgg.transform(X)
    assert_features_close(resumed, plain)  # the killed writer ran other batches
    assert 10 <= vgg.cache_hits_ < 40
    np.testing.assert_array_equal(vgg.transform(X), resumed)
    assert vgg.cache_hits_ == 40


@pytest.mark.slow  # two writer processes with TensorFlow
def test_two_processes_transforming_the_same_images(tmp_path, rng):
    X = rng.integers(0, 256, (24, 32, 32, 3), dtype=np.uint8)
    np.save(tmp_path / "X.npy", X)
    script = tmp_path / "writer.py"
    script.write_text(KILLED_WRITER.replace("time.sleep(0.05)", "pass"))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    procs = [
        subprocess.Popen([sys.executable, str(script), str(tmp_path / "X.npy"), str(tmp_path / "cache")],
                         stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]  # fmt: skip
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all("finished" in o for o in outs)
    vgg = small(memory=tmp_path / "cache").fit(X)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        assert_features_close(vgg.transform(X), small().fit(X).transform(X))
    assert vgg.cache_hits_ == 24


@pytest.fixture
def tiny_mount(tmp_path):
    """A 64 KiB tmpfs (needs root and mount rights; skipped otherwise)."""
    point = tmp_path / f"mnt-{uuid.uuid4().hex[:6]}"
    point.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(point)],
                          capture_output=True, text=True)  # fmt: skip
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    yield point
    subprocess.run(["umount", "-l", str(point)], check=False)


def test_full_disk(tiny_mount, rng):
    X = rng.integers(0, 256, (30, 32, 32, 3), dtype=np.uint8)
    plain = small(layer="block2_pool").fit(X).transform(X)  # 128 floats: ~512 B per entry
    vgg = small(layer="block2_pool", memory=tiny_mount).fit(X)
    (tiny_mount / "filler").write_bytes(b"\0" * (64 * 1024 - 12 * 4096))  # leave ~12 pages
    with pytest.warns(CacheWarning, match="cannot be written"):
        np.testing.assert_array_equal(vgg.transform(X), plain)
    assert not list(tiny_mount.rglob("*.tmp"))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheWarning)
        np.testing.assert_array_equal(vgg.transform(X), plain)


def test_read_only_mount(tiny_mount, rng):
    X = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    plain = small().fit(X).transform(X)
    small(memory=tiny_mount).fit(X).transform(X[:3])  # some entries exist
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_mount)], check=True)
    vgg = small(memory=tiny_mount).fit(X)
    with pytest.warns(CacheWarning, match="cannot be written"):
        np.testing.assert_array_equal(vgg.transform(X), plain)
    assert vgg.cache_hits_ == 3


# ----------------------------------------------------------------------------- properties

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


_VGG = small(layer="block1_pool")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(img=hnp.arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40), st.just(3))))
def test_features_array_vs_png(tmp_path, img):
    path = tmp_path / f"{uuid.uuid4().hex}.png"
    Image.fromarray(img).save(path)
    vgg = _VGG.fit(img[None])
    np.testing.assert_allclose(vgg.transform([img]), vgg.transform([path]), rtol=1e-5, atol=1e-4)


_PIXEL_DTYPES = st.sampled_from([np.uint8, np.float32, np.float64])
_SMALL_SHAPES = hnp.array_shapes(min_dims=2, max_dims=3, max_side=6)


@settings(max_examples=200, deadline=None)
@given(
    a=hnp.arrays(_PIXEL_DTYPES, _SMALL_SHAPES, elements=st.integers(0, 255)),
    b=hnp.arrays(_PIXEL_DTYPES, _SMALL_SHAPES, elements=st.integers(0, 255)),
)  # fmt: skip
def test_distinct_images_never_share_a_key(a, b):
    a = a[..., :3] if a.ndim == 3 and a.shape[2] not in (1, 3) else a
    b = b[..., :3] if b.ndim == 3 and b.shape[2] not in (1, 3) else b
    if a.ndim == 3 and a.shape[2] == 2 or b.ndim == 3 and b.shape[2] == 2:
        return
    source = as_image_source([a, b])
    ka, kb = image_keys(source)
    a3, b3 = source.item(0), source.item(1)  # grayscale is keyed as the RGB it becomes
    same = a3.shape == b3.shape and a3.dtype == b3.dtype and np.array_equal(a3, b3)
    assert (ka == kb) == same


# ----------------------------------------------------------------------------- never blocking (issue 15)


def _without_blocking(work, fifos, timeout=60):
    """Run ``work()`` in a thread; if it is still running after ``timeout``, it is
    blocked on one of ``fifos``: open each for writing (which releases a reader
    waiting in ``open``) and fail, instead of hanging the suite."""
    import threading

    outcome = {}

    def run():
        try:
            outcome["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        for fifo in fifos:
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        thread.join(10)
        pytest.fail(f"blocked for more than {timeout} s on a FIFO")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
@pytest.mark.parametrize("memory", [False, True])
def test_a_fifo_or_device_as_image_path_is_refused_without_blocking(tmp_path, rng, memory):
    good = tmp_path / "good.png"
    Image.fromarray(rgb(rng)).save(good)
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    vgg = small(memory=tmp_path / "cache" if memory else None, batch_size=2).fit([good])
    for bad, kind in ((fifo, "FIFO"), ("/dev/null", "character device"), (tmp_path, "directory")):
        with pytest.raises(ImageReadError, match=kind) as info:
            _without_blocking(lambda b=bad: vgg.transform([good, good, b, good]), [fifo])
        assert info.value.row == 2 and str(bad) in str(info.value)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_at_a_cache_entry_path_is_a_damaged_entry(tmp_path, rng):
    import warnings

    X = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    vgg = small(memory=tmp_path).fit(X)
    expected = vgg.transform(X)
    victim = sorted(tmp_path.rglob("*.f32"))[1]
    victim.unlink()
    os.mkfifo(victim)
    with pytest.warns(CacheWarning, match="not a regular file but a FIFO") as record:
        got = _without_blocking(lambda: vgg.transform(X), [victim])
    assert len(record) == 1 and vgg.cache_misses_ == 1
    assert_features_close(got, expected)
    assert victim.is_file()  # replaced by a whole entry
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        np.testing.assert_array_equal(vgg.transform(X), got)


# ----------------------------------------------------------------------------- issue 23: odd input


def test_relative_weights_path_is_the_file_chosen_at_fit(tmp_path, notop_weights_files, rng, monkeypatch):
    import shutil

    from sklvgg import WeightsUnavailableError

    X = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir(), elsewhere.mkdir()
    shutil.copy(notop_weights_files["keras3"], here / "w.weights.h5")
    monkeypatch.chdir(here)
    vgg = small(weights="w.weights.h5").fit(X)
    before = vgg.transform(X)
    # another network under the same relative name in the new working folder
    import keras

    keras.utils.set_random_seed(9)
    keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3)).save_weights(
        elsewhere / "w.weights.h5"
    )
    monkeypatch.chdir(elsewhere)
    np.testing.assert_array_equal(vgg.transform(X), before)  # still the file chosen at fit
    monkeypatch.chdir(tmp_path)  # a folder without any such file
    np.testing.assert_array_equal(vgg.transform(X), before)
    (here / "w.weights.h5").unlink()
    with pytest.raises(WeightsUnavailableError, match="chosen at fit is missing since fit"):
        vgg.transform(X)


def test_temperatures_that_cannot_be_represented_are_refused(rng, fake_network):
    from sklearn.utils._param_validation import InvalidParameterError

    from sklvgg._transformer import _softmax

    X = rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    for t in (1e-320, 0.0, -1.0, np.inf, np.nan):
        with pytest.raises(InvalidParameterError, match="'temperature' parameter"):
            VGG16FeatureTransformer(weights=None, layer="predictions", temperature=t).fit(X)
    vgg = VGG16FeatureTransformer(weights=None, layer="predictions", random_state=0).fit(X)
    with pytest.raises(InvalidParameterError, match="'temperature' parameter"):  # set after fit
        vgg.set_params(temperature=1e-320).transform(X)
    # the smallest temperature accepted: no overflow, no NaN, a one-hot argmax
    tiny = np.finfo(np.float64).tiny
    p = vgg.set_params(temperature=tiny).transform(X)
    assert np.isfinite(p).all() and np.allclose(p.max(axis=1), 1)
    z = rng.normal(0, 50, (4, 1000))
    for bias in (None, rng.normal(0, 2, 1000)):
        for t in (tiny, 1e-300, 1e300, np.finfo(np.float64).max):
            out = _softmax(z, t, bias)
            assert np.isfinite(out).all() and np.allclose(out.sum(axis=1), 1, rtol=1e-5), (t, bias is None)


def test_command_line_refuses_unrepresentable_temperatures(tmp_path, capsys):
    from sklvgg._cli import main

    with pytest.raises(SystemExit) as info:
        main(["reproduce", "temperature", "--out", str(tmp_path), "--temperatures", "1", "1e-320"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--temperatures" in err and "1e-320" in err


def test_float_tiff_with_nan_is_refused_naming_the_file(tmp_path):
    pixels = np.full((8, 8), 100.0, np.float32)
    pixels[3, 5] = np.nan
    path = tmp_path / "nan.tif"
    Image.fromarray(pixels, mode="F").save(path)
    with pytest.raises(ImageReadError, match=r"row 0: .*nan\.tif.*finite.*\(3, 5\)"):
        small().fit([path]).transform([path])


def test_n_jobs_zero_is_refused_at_fit(images):
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="'n_jobs' parameter"):
        small(n_jobs=0).fit(images)
    small(n_jobs=-2).fit(images)  # all cores but one: valid


@pytest.mark.parametrize("memory", [False, True])
def test_nul_byte_in_a_path_names_the_path_and_row(tmp_path, rng, memory):
    good = tmp_path / "good.png"
    Image.fromarray(rgb(rng)).save(good)
    vgg = small(memory=tmp_path / "cache" if memory else None).fit([good])
    with pytest.raises(ImageReadError, match=r"row 1: .*bad.*NUL byte"):
        vgg.transform([str(good), str(tmp_path / "bad\0.png")])


@pytest.mark.parametrize("missing", [None, float("nan")])
def test_missing_value_in_paths_is_the_row_blamed(tmp_path, missing):
    with pytest.raises(ValueError, match=r"Row 1 is (None|nan) \((NoneType|float)\), not an image file path, "
                                         r"while row 0 is a path"):  # fmt: skip
        as_image_source(["a.png", missing, "b.png"])
    with pytest.raises(ValueError, match="Row 1 is"):
        as_image_source(["a.png", missing])


@pytest.mark.parametrize("size", [0, -5, 2.5])
def test_partition_size_is_checked(tmp_path, size):
    from sklearn.utils._param_validation import InvalidParameterError

    from sklvgg.parallel import transform_paths

    with pytest.raises(InvalidParameterError, match="'partition_size' parameter of transform_paths"):
        transform_paths(small(memory=tmp_path), ["a.png"], partition_size=size)


def test_images_over_the_pixel_limit_are_refused_before_decoding(tmp_path, monkeypatch):
    import sklvgg._images as images_module

    path = tmp_path / "big.png"
    Image.new("1", (300, 200)).save(path)  # 60,000 pixels
    decoded = []
    real = images_module._to_rgb_array
    monkeypatch.setattr(images_module, "_to_rgb_array", lambda img: decoded.append(1) or real(img))
    with pytest.raises(ImageReadError, match=r"300 x 200 = 60,000 pixels, more than max_image_pixels=59,999"):
        small(max_image_pixels=59_999).fit([path]).transform([path])
    assert decoded == []  # refused from the header
    assert small(max_image_pixels=60_000).fit([path]).transform([path]).shape == (1, 256)
    assert small(max_image_pixels=None).fit([path]).transform([path]).shape == (1, 256)
    assert VGG16FeatureTransformer().max_image_pixels == 100_000_000


def test_large_images_decode_one_at_a_time(tmp_path, monkeypatch, rng):
    import threading
    import time

    import sklvgg._images as images_module

    monkeypatch.setattr(images_module, "LARGE_IMAGE_PIXELS", 100)  # every image here is "large"
    paths = []
    for i in range(6):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(rgb(rng)).save(paths[-1])
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
    small(n_jobs=3).fit(paths).transform(paths)
    assert most[0] == 1


def test_several_cuts_never_log_tf_function_retracing(rng):
    import logging

    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("a TensorFlow warning")
    import tensorflow as tf

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    tf.get_logger().addHandler(handler)
    try:
        X = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
        layers = ("block1_pool", "block2_pool", "block2_conv1", "block3_conv1", "block3_pool", "block4_pool")
        for layer in (*layers, "block4_conv2", "block5_conv1"):
            small(layer=layer, pooling="max", random_state=11).fit(X).transform(X)
    finally:
        tf.get_logger().removeHandler(handler)
    assert not [r for r in records if "retracing" in r.getMessage()]


def test_image_folder_searches_class_subfolders_and_reports_what_it_skips(tmp_path, rng, capsys):
    from sklvgg._cli._commands import _report_skipped
    from sklvgg.datasets import load_image_folder

    root = tmp_path / "data"
    for rel in ("cat/indoor/a.jpg", "cat/indoor/b.jpg", "cat/outdoor/deep/c.png", "dog/1.jpg", "dog/2.jpg"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rgb(rng)).save(root / rel)
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


@pytest.mark.parametrize("solver", ["adam", "rmsprop", "sgd", "lbfgs"])
def test_warm_start_on_new_targets_converges_as_a_fresh_fit(solver):
    import warnings

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 40)).astype(np.float32)
    y_first = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    y_new = (X[:, 2] + X[:, 3] > 0).astype(int) + (X[:, 4] > 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fresh = SoftmaxHeadClassifier(solver=solver, random_state=0, max_iter=500).fit(X, y_new)
        warm = SoftmaxHeadClassifier(solver=solver, random_state=0, max_iter=500, warm_start=True).fit(
            X, y_first
        )
        first_epochs, first_loss = warm.n_iter_, warm.loss_curve_[-1]
        warm.fit(X, y_new)
    epochs = warm.n_iter_ - first_epochs
    assert epochs <= 1.2 * fresh.n_iter_ + 2, (epochs, fresh.n_iter_)
    assert warm.loss_curve_[-1] <= fresh.loss_curve_[-1] + 1e-3
    assert warm.score(X, y_new) >= fresh.score(X, y_new) - 0.01
    # the start it chose: the class-mean start for the new targets; for the same targets
    # again, the previous weights (the better start), which are kept
    y_idx, sw = np.searchsorted(warm.classes_, y_new), None
    refit = SoftmaxHeadClassifier(solver=solver, random_state=0, max_iter=500, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refit.fit(X, y_first)
    Z = refit._standardize(X)
    assert refit._class_means_beat_warm(Z, y_idx, sw)
    assert not refit._class_means_beat_warm(Z, np.searchsorted(refit.classes_, y_first), sw)
    assert first_loss > 0


@pytest.mark.parametrize(
    "class_weight, match",
    [
        ({0: -1.0}, r"class_weight\[0\] = -1.0: class weights must be finite, non-negative"),
        ({1: float("nan")}, r"class_weight\[1\] = nan"),
        ({2: float("inf")}, r"class_weight\[2\] = inf"),
        ({0: "heavy"}, r"class_weight\[0\] = 'heavy'"),
        ({0: 0, 1: 0.0, 2: 0}, "all zero: there is nothing to train on"),
    ],
)
def test_class_weight_values_are_checked(class_weight, match):
    X = np.random.default_rng(0).normal(size=(30, 4))
    y = np.repeat([0, 1, 2], 10)
    with pytest.raises(ValueError, match=match):
        SoftmaxHeadClassifier(class_weight=class_weight).fit(X, y)
    with pytest.raises(ValueError, match="Sample weights must contain at least one non-zero"):
        SoftmaxHeadClassifier().fit(X, y, sample_weight=np.zeros(30))  # scikit-learn's own check


def test_lbfgs_with_tol_none_runs_at_most_max_iter():
    X = np.random.default_rng(0).normal(size=(60, 5))
    y = (X[:, 0] > 0).astype(int)
    head = SoftmaxHeadClassifier(solver="lbfgs", tol=None, max_iter=3).fit(X, y)
    assert head.n_iter_ == 3 == len(head.loss_curve_)


def test_command_line_min_images_and_holdout_fraction_name_their_option(tmp_path, capsys):
    from sklvgg._cli import main

    def error(args):
        with pytest.raises(SystemExit) as info:
            main(args)
        assert info.value.code == 2
        return capsys.readouterr().err.strip().splitlines()[-1]

    folder = tmp_path / "data"
    for c in range(3):
        for i in range(4):
            (folder / f"c{c}").mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (8, 8), (c * 80, i * 50, 0)).save(folder / f"c{c}" / f"{i}.png")
    message = error(["reproduce", "layers", "--data", str(folder), "--layout", "folder", "--n-train", "2",
                     "--n-test", "1", "--min-images", "9", "--out", str(tmp_path / "o")])  # fmt: skip
    assert "lower --min-images 9" in message and "--n-train" not in message
    message = error(["reproduce", "urban-tribes", "--data", str(folder), "--layout", "folder",
                     "--holdout-fraction", "0.9", "--out", str(tmp_path / "o")])  # fmt: skip
    assert "--holdout-fraction" in message and "fewer than the 3 classes" in message


def test_review_fixes_numpy_sizes_old_pickles_symlinks_generators(tmp_path, rng, notop_weights_files):
    import pickle
    import shutil

    from sklvgg.parallel import transform_paths

    X = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    # a size from a NumPy grid goes into the cache key
    vgg = small(input_size=np.int64(32), memory=tmp_path / "c").fit(X)
    np.testing.assert_array_equal(vgg.transform(X), small(memory=tmp_path / "c").fit(X).transform(X))
    # a transformer pickled before the later parameters existed
    old = small().fit(X)
    for name in VGG16FeatureTransformer._LATER_PARAMS:
        del old.__dict__[name]
    revived = pickle.loads(pickle.dumps(old))
    np.testing.assert_array_equal(revived.transform(X), small().fit(X).transform(X))
    # a symlinked weights file, re-pointed: followed, as a file rewritten in place
    a, b = tmp_path / "a.weights.h5", tmp_path / "b.weights.h5"
    shutil.copy(notop_weights_files["keras3"], a)
    import keras

    keras.utils.set_random_seed(4)
    keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3)).save_weights(b)
    link = tmp_path / "best.weights.h5"
    link.symlink_to(a)
    linked = small(weights=str(link)).fit(X)
    first = linked.transform(X)
    link.unlink()
    link.symlink_to(b)
    np.testing.assert_array_equal(linked.transform(X), small(weights=str(b)).fit(X).transform(X))
    assert not np.allclose(linked.transform(X), first)
    # transform_paths takes a generator of paths
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(rgb(rng)).save(paths[-1])
    got = transform_paths(small(memory=tmp_path / "p"), (p for p in paths), client=None, partition_size=2)
    assert got.shape == (3, 256)


def test_holdout_fraction_bounds_are_ones_that_work():
    from sklvgg.experiments import holdout_split

    y = np.repeat(np.arange(11), [4] * 4 + [3] * 7)  # 37 images, 11 classes
    with pytest.raises(ValueError, match=r"Use a fraction from ([\d.]+) to ([\d.]+)\.") as info:
        holdout_split(y, test_size=0.9)
    import re

    low, high = map(float, re.search(r"from ([\d.]+) to ([\d.]+)\.", str(info.value)).groups())
    for fraction in (low, high):
        train, test = holdout_split(y, test_size=fraction)
        assert len(np.unique(y[train])) == len(np.unique(y[test])) == 11
    with pytest.raises(ValueError, match="too few images per class"):
        holdout_split(np.arange(11).repeat(1), test_size=0.5)
