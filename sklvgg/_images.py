"""Reading images from arrays or files into fixed-size RGB batches.

Both kinds of input go through the same resize (:func:`resize_rgb`), so an image
gives the same features whether it is passed as an array or as a lossless file.
"""

import contextlib
import os
import queue
import stat
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._reporting import warn_at_caller
from .exceptions import InputError

__all__ = ["ImageReadError", "as_image_source", "file_kind", "iter_batches", "read_image", "resize_rgb"]

_OPEN_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
)
#: Mode "I" (32-bit integer) pixels are read on the 16-bit scale: 0-65535 maps to 0-255.
INT_IMAGE_MAX = 65535.0


#: The default most pixels (width x height, read from the file's header before
#: any decoding) that an image file may have; larger files are refused with an
#: :class:`ImageReadError` naming them (``VGG16FeatureTransformer``'s
#: ``max_image_pixels`` raises it). 100 megapixels: a 12,000 x 8,000 photo fits.
#: Pillow's own limit (``PIL.Image.MAX_IMAGE_PIXELS``, twice which it refuses:
#: about 179 megapixels) still applies above that; raise it too for larger scans.
MAX_IMAGE_PIXELS = 100_000_000

#: Images above this many pixels are decoded one at a time (a lock shared by
#: every decoding thread), so that several threads never hold several huge
#: images at once: memory stays that of one large image plus the batch.
LARGE_IMAGE_PIXELS = 16_000_000
_LARGE_DECODE = threading.Lock()


class ImageReadError(InputError):
    """An image file could not be read; the message names the file and its row."""

    def __init__(self, path, row, reason):
        self.path = path
        self.row = row
        self.reason = reason
        super().__init__(f"Cannot read the image at row {row}: {str(path)!r} ({reason}).")


def file_kind(mode):
    """What an ``st_mode`` says a path is, in words ("a directory", "a FIFO"...).

    Parameters
    ----------
    mode : int
        ``os.stat_result.st_mode``.

    Returns
    -------
    kind : str
    """
    for test, name in (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _open_regular(path):
    """A binary file object for a regular file; never blocks on a FIFO.

    The path is opened with ``O_NONBLOCK`` (a FIFO opens at once instead of
    waiting for a writer) and checked with ``fstat`` on the open descriptor, so
    a path swapped for a FIFO or a device between two checks is caught too.
    """
    fd = os.open(path, _OPEN_FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _NotRegular(file_kind(mode))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class _NotRegular(Exception):
    """The path leads to something other than a regular file; ``str()`` says what."""


class _NotFinite(Exception):
    """A floating-point image file holds NaN or infinite pixels; ``str()`` says where."""


class _TooLarge(Exception):
    """The image's header gives more pixels than :data:`MAX_IMAGE_PIXELS`."""


def _is_path(x):
    return isinstance(x, (str, os.PathLike))


def resize_rgb(image, size, crop=False):
    """Resize one ``(H, W, 3)`` image to ``(size, size, 3)`` float32.

    Bilinear interpolation, antialiased when shrinking (Pillow's ``BILINEAR``
    filter on each channel in float32, so uint8 and float inputs of the same
    values give the same result). The aspect ratio is not kept, as in
    ``keras.utils.load_img(target_size=...)``: the whole image is squeezed or
    stretched to the square. With ``crop``, the centred square of side the
    shorter side is cut out first: the aspect ratio is kept.
    """
    from PIL import Image

    image = np.asarray(image)
    if crop and image.shape[0] != image.shape[1]:
        side = min(image.shape[:2])
        top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
        image = image[top : top + side, left : left + side]
    if image.shape[:2] == (size, size):
        return image.astype(np.float32, copy=False)
    out = np.empty((size, size, 3), dtype=np.float32)
    for c in range(3):
        channel = Image.fromarray(np.ascontiguousarray(image[..., c], dtype=np.float32), "F")
        out[..., c] = np.asarray(channel.resize((size, size), Image.Resampling.BILINEAR))
    return out


def read_image(path, row=None, size=None, max_pixels=MAX_IMAGE_PIXELS):
    """Decode an image file to an RGB uint8 array.

    EXIF orientation is applied, then the image is converted to RGB:

    - grayscale (``L``, ``1``) is repeated on the three channels;
    - with transparency (``RGBA``, ``LA``, ``PA``, palette with a transparent
      colour) the alpha channel is dropped: every pixel keeps the colour stored
      under it, whatever its opacity, as ``keras.utils.load_img`` does. Nothing
      is composited; flatten the image on a background beforehand if the
      hidden colours matter;
    - palette and CMYK images go through Pillow's ``convert("RGB")``;
    - 16-bit (``I;16``) and 32-bit integer (``I``) grayscale are read on the
      16-bit scale, by one fixed rule for every image: 0-65535 maps to 0-255
      (values divided by 257 and rounded; above 65535 clipped). An ``I`` image
      holding 8-bit values comes out dark: convert it to ``L`` first;
    - floating-point grayscale (``F``) is taken on the 0-255 scale, rounded and
      clipped.

    Only regular files are read: a directory, a FIFO or a device is refused
    without blocking (the file is opened with ``O_NONBLOCK`` and checked with
    ``fstat`` before anything is read).

    Parameters
    ----------
    path : str or os.PathLike
    row : int, optional
        Position of the file in the input, for error messages.
    size : int, optional
        Target side. JPEGs larger than twice this side are decoded by
        libjpeg's DCT scaling at 1/2, 1/4 or 1/8 scale, no smaller than twice
        the side (``PIL.Image.draft``). This is much faster but not identical
        to decoding at full size and then resizing: after the resize to
        ``size`` the pixels differ by up to about 2 of 255 (1.65/255 measured
        on the Caltech-101 photos at 224). The decoded array is smaller than
        the file's nominal size; without ``size`` the image is decoded fully.
    max_pixels : int or None, default=MAX_IMAGE_PIXELS
        Files whose header gives more pixels are refused before decoding;
        None: no limit but Pillow's own (about 179 megapixels, its
        ``DecompressionBombError``).

    Returns
    -------
    image : ndarray of shape (H, W, 3), dtype uint8

    Raises
    ------
    ImageReadError
        If the file is missing, not a regular file (a directory, FIFO or
        device), unreadable, not an image or truncated, has more than
        ``max_pixels`` pixels, or (floating-point images) NaN or infinite pixels.
    """
    return _read_image(path, row, size, max_pixels, resized=False)


def _read_image(path, row, size, max_pixels, resized, crop=False):
    """:func:`read_image`; with ``resized``, already resized to ``size`` (float32)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with _open_regular(path) as f:
            with warnings.catch_warnings():
                # Large photos (up to Pillow's hard limit of ~179 megapixels) are
                # legitimate input here; beyond it Pillow raises and we report it.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                img = Image.open(f)
            with img:
                width, height = img.size
                if max_pixels is not None and width * height > max_pixels:
                    raise _TooLarge(
                        f"{width} x {height} = {width * height:,} pixels, more than "
                        f"max_image_pixels={max_pixels:,}; raise max_image_pixels (or set it to "
                        f"None) to read such images"
                    )
                if size is not None and img.format == "JPEG":
                    img.draft("RGB", (2 * size, 2 * size))
                # one image above LARGE_IMAGE_PIXELS decodes at a time, whatever the threads
                large = img.size[0] * img.size[1] > LARGE_IMAGE_PIXELS
                with _LARGE_DECODE if large else contextlib.nullcontext():
                    img = ImageOps.exif_transpose(img)
                    img.load()
                    array = _to_rgb_array(img)
                    del img
                    # resized under the lock too: the full-size array is freed before the next
                    return resize_rgb(array, size, crop) if resized else array
    except FileNotFoundError:
        raise ImageReadError(path, row, "no such file") from None
    except _NotFinite as exc:
        raise ImageReadError(path, row, str(exc)) from None
    except _TooLarge as exc:
        raise ImageReadError(path, row, str(exc)) from None
    except _NotRegular as exc:
        kind = str(exc)
        if kind == "a directory":
            raise ImageReadError(path, row, "it is a directory, not a file") from None
        raise ImageReadError(path, row, f"not a regular file: {kind}") from None
    except IsADirectoryError:
        raise ImageReadError(path, row, "it is a directory, not a file") from None
    except PermissionError:
        raise ImageReadError(path, row, "permission denied") from None
    except UnidentifiedImageError:
        raise ImageReadError(path, row, "not an image file Pillow can identify") from None
    except Image.DecompressionBombError as exc:
        raise ImageReadError(path, row, f"too large: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(path, row, f"corrupt or truncated image: {exc}") from None


def _to_rgb_array(img):
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        gray = np.clip(np.rint(arr * (255.0 / INT_IMAGE_MAX)), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if img.mode == "F":
        values = np.asarray(img)
        finite = np.isfinite(values)
        if not finite.all():
            bad = tuple(int(i) for i in np.argwhere(~finite)[0])
            raise _NotFinite(f"images must be finite; pixel {bad} is {values[bad]}")
        gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def _map(pool, function, items):
    """``[function(x) for x in items]``, on ``pool``'s threads when given.

    Pillow releases the GIL while it decodes and resizes, so threads scale
    with cores. The first failing item's exception is raised, in row order.
    """
    if pool is None or len(items) < 2:
        return [function(x) for x in items]
    return list(pool.map(function, items))


class _ArraySource:
    """Images held in one 4-D array ``(n, H, W, 3)``."""

    kind = "array"

    def __init__(self, X):
        self.X = X

    def __len__(self):
        return len(self.X)

    def batch(self, rows, size, pool=None, crop=False):
        block = self.X[rows]
        if block.shape[1:3] == (size, size):
            return block.astype(np.float32, copy=False)
        return np.stack(_map(pool, lambda img: resize_rgb(img, size, crop), block))

    def item(self, row):
        return self.X[row]


class _ListSource(_ArraySource):
    """Images held in a list of arrays of possibly different sizes."""

    kind = "list"

    def batch(self, rows, size, pool=None, crop=False):
        return np.stack(_map(pool, lambda r: resize_rgb(self.X[r], size, crop), rows))


class _PathSource:
    """Images named by file paths, decoded on demand."""

    kind = "path"

    def __init__(self, paths, max_pixels=MAX_IMAGE_PIXELS):
        self.paths = paths
        self.max_pixels = max_pixels

    def __len__(self):
        return len(self.paths)

    def batch(self, rows, size, pool=None, crop=False):
        def read(r):
            return _read_image(self.paths[r], r, size, self.max_pixels, resized=True, crop=crop)

        return np.stack(_map(pool, read, rows))

    def item(self, row):
        return self.paths[row]


def _check_image_array(img, where):
    """Validate one image (or a stack) and bring it to ``(..., H, W, 3)``."""
    if img.dtype == object or not (np.issubdtype(img.dtype, np.number) or img.dtype == bool):
        raise InputError(
            f"Images must be numeric arrays (uint8 0-255 or float 0-255); {where} has dtype {img.dtype}."
        )
    if np.issubdtype(img.dtype, np.complexfloating) or img.dtype == bool:
        raise InputError(f"Images must be real-valued; {where} has dtype {img.dtype}.")
    if np.issubdtype(img.dtype, np.floating):
        finite = np.isfinite(img)
        if not finite.all():
            bad = np.argwhere(~finite)[0]
            raise InputError(
                f"Images must be finite; {where} has {img[tuple(bad)]} at index {tuple(int(i) for i in bad)}."
            )
    if img.size and (img.min() < 0 or img.max() > 255):
        raise InputError(
            f"Pixel values must lie in [0, 255] (uint8 or float on the 0-255 scale, as "
            f"keras.applications.vgg16.preprocess_input expects); {where} has values in "
            f"[{img.min()}, {img.max()}]."
        )
    return img


def _looks_like_unit_scale(img):
    """A float image whose every value is within [0, 1] (and not all zero)."""
    return np.issubdtype(img.dtype, np.floating) and img.size > 0 and 0 < img.max() <= 1


def _warn_unit_scale(what):
    warn_at_caller(
        f"Every pixel value of {what} lies within [0, 1]: probably an image on the 0-1 scale, "
        f"but VGG16 expects the 0-255 scale (keras.applications.vgg16.preprocess_input does "
        f"not rescale). Multiply by 255 if so; the values are used as given.",
        UserWarning,
    )


def _grayscale_to_rgb(img, spatial_ndim, where):
    """``(.., H, W)``, ``(.., H, W, 1)`` or ``(.., H, W, 3)`` to ``(.., H, W, 3)``."""
    if img.ndim == spatial_ndim:
        return np.repeat(img[..., None], 3, axis=-1)
    if img.ndim == spatial_ndim + 1:
        channels = img.shape[-1]
        if channels == 3:
            return img
        if channels == 1:
            return np.repeat(img, 3, axis=-1)
        raise InputError(
            f"Images must have 1 (grayscale) or 3 (RGB) channels; {where} has "
            f"{channels} channels (shape {img.shape}). Drop the alpha channel of RGBA "
            f"images, or pass file paths, which are converted to RGB."
        )
    raise InputError(
        f"Expected {where} of shape {'(n, ' if spatial_ndim == 3 else '('}H, W), "
        f"{'(n, ' if spatial_ndim == 3 else '('}H, W, 1) or "
        f"{'(n, ' if spatial_ndim == 3 else '('}H, W, 3); got shape {img.shape}."
    )


def as_image_source(X, max_pixels=MAX_IMAGE_PIXELS, warn_scale=True):
    """Validate image input and wrap it for batched reading.

    Parameters
    ----------
    X : array-like or sequence
        A 4-D array ``(n, H, W, 3)``, a 3-D ``(n, H, W)`` or 4-D ``(n, H, W, 1)``
        grayscale array, a sequence of such per-image arrays of any sizes, or a
        1-D sequence of image file paths (str or os.PathLike; a pandas Series
        or a 1-D string array works). Pixel values are on the 0-255 scale; a
        float image whose every value is within [0, 1] (not all zero) is used
        as given, with a ``UserWarning`` that it is probably on the 0-1 scale.
    max_pixels : int or None, default=MAX_IMAGE_PIXELS
        For paths: the most pixels a file may have (see :func:`read_image`).
    warn_scale : bool, default=True
        Whether to warn about float images within [0, 1]; False where the
        scale does not matter (``preprocessing="samplewise"``) or where the
        caller warns elsewhere (``fit``, whose ``transform`` warns).

    Returns
    -------
    source : object
        With ``len()``, ``batch(rows, size)`` returning float32
        ``(len(rows), size, size, 3)``, ``item(row)`` (the image as given: its
        array, or its path as a str for ``kind="path"``) and ``kind`` in
        ``{"array", "list", "path"}``. Nothing else of it is read outside
        this module.
    """
    if hasattr(X, "to_numpy") and getattr(X, "ndim", 0) <= 2:  # pandas
        X = X.to_numpy()
        if X.ndim == 2 and X.shape[1] == 1:
            X = X[:, 0]
    if isinstance(X, (str, os.PathLike)):
        raise InputError(
            f"Expected a sequence of image paths or an array of images, got a single "
            f"path {str(X)!r}; wrap it in a list."
        )
    if isinstance(X, np.ndarray) and X.dtype != object and X.dtype.kind not in "US":
        if X.ndim not in (3, 4):
            raise InputError(
                f"Expected images as a 4-D array (n, H, W, 3), a grayscale array "
                f"(n, H, W) or (n, H, W, 1), or a 1-D sequence of file paths; got an "
                f"array of shape {X.shape}."
            )
        if len(X) == 0:
            raise InputError(f"Expected at least one image; got an array of shape {X.shape}.")
        X = _grayscale_to_rgb(_check_image_array(X, "the image array"), 3, "the image array")
        if warn_scale and _looks_like_unit_scale(X):
            _warn_unit_scale("the image array")
        if min(X.shape[1:3]) < 1:
            raise InputError(f"Images must be at least 1 x 1 pixels; got shape {X.shape}.")
        return _ArraySource(X)
    items = list(X) if not isinstance(X, np.ndarray) else list(X.ravel()) if X.ndim == 1 else None
    if items is None:
        raise InputError(f"A string or object array of image paths must be 1-D; got shape {X.shape}.")
    if not items:
        raise InputError("Expected at least one image; got an empty sequence.")
    is_path = [_is_path(x) for x in items]
    if all(is_path):
        paths = [os.fspath(x) for x in items]
        for row, path in enumerate(paths):
            if "\0" in (path if isinstance(path, str) else path.decode("latin-1")):
                raise ImageReadError(path, row, "the path holds a NUL byte, which no file name can")
        return _PathSource(paths, max_pixels)
    n_paths = sum(is_path)
    if n_paths * 2 > len(items) or (n_paths * 2 == len(items) and is_path[0]):
        # mostly paths (or as many, from row 0 on): the first other row is the culprit
        row = is_path.index(False)
        first = is_path.index(True)
        raise InputError(
            f"Row {row} is {items[row]!r} ({type(items[row]).__name__}), not an image file path, "
            f"while row {first} is a path ({str(items[first])!r}); pass a path in every row "
            f"(or an image array in every row)."
        )
    images, unit_rows = [], []
    for row, item in enumerate(items):
        if _is_path(item):
            raise InputError(
                f"Mixed input: row {row} is a path ({str(item)!r}) but other rows are "
                f"arrays; pass either paths or arrays."
            )
        try:
            img = np.asarray(item)
        except ValueError as exc:
            raise InputError(f"Row {row} is not an image array: {exc}") from None
        where = f"the image at row {row}"
        if img.dtype == object or img.ndim not in (2, 3):
            raise InputError(
                f"Expected each item to be an image file path or an image array (H, W) "
                f"or (H, W, C); {where} is {type(item).__name__} with shape "
                f"{getattr(img, 'shape', None)} and dtype {img.dtype}."
            )
        img = _grayscale_to_rgb(_check_image_array(img, where), 2, where)
        if min(img.shape[:2]) < 1:
            raise InputError(f"Images must be at least 1 x 1 pixels; {where} has shape {img.shape}.")
        if warn_scale and _looks_like_unit_scale(img):
            unit_rows.append(row)
        images.append(img)
    if unit_rows:
        shown = ", ".join(map(str, unit_rows[:5])) + (", ..." if len(unit_rows) > 5 else "")
        plural = "s" if len(unit_rows) > 1 else ""
        _warn_unit_scale(f"the float image{plural} at row{plural} {shown}")
    return _ListSource(images)


def iter_batches(source, rows, batch_size, size, prefetch=2, n_threads=1, crop=False):
    """Yield ``(rows_in_batch, float32 batch)`` with decoding done ahead.

    A background thread reads and resizes the next ``prefetch`` batches while
    the caller runs the network on the current one (Pillow and the Keras
    backends release the GIL); with ``n_threads > 1`` the images of a batch
    are decoded and resized by that many threads at once. Memory stays
    bounded by ``(prefetch + 1) * batch_size`` images whatever ``len(rows)`` is.

    Parameters
    ----------
    source : object
        From :func:`as_image_source`.
    rows : sequence of int
        Which images, in the order to yield them.
    batch_size : int
    size : int
    prefetch : int, default=2
    n_threads : int, default=1
        Threads decoding and resizing the images of one batch.
    crop : bool, default=False
        Keep the aspect ratio: the centred square cut out before the resize.

    Yields
    ------
    rows_in_batch : ndarray of int
    batch : ndarray of shape (len(rows_in_batch), size, size, 3), float32
    """
    rows = np.asarray(rows, dtype=np.intp)
    chunks = [rows[i : i + batch_size] for i in range(0, len(rows), batch_size)]
    n_threads = min(int(n_threads), batch_size, len(rows))
    pool = ThreadPoolExecutor(n_threads, thread_name_prefix="sklvgg-decode") if n_threads > 1 else None
    try:
        yield from _prefetched(source, chunks, size, prefetch, pool, crop)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _prefetched(source, chunks, size, prefetch, pool, crop=False):
    if len(chunks) <= 1:
        for chunk in chunks:
            yield chunk, source.batch(chunk, size, pool, crop)
        return
    slots = queue.Queue(maxsize=prefetch)
    stop = threading.Event()

    def put(item):
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for chunk in chunks:
                if not put((chunk, source.batch(chunk, size, pool, crop), None)):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put((None, None, exc))

    worker = threading.Thread(target=produce, name="sklvgg-image-reader", daemon=True)
    worker.start()
    try:
        for _ in chunks:
            chunk, batch, exc = slots.get()
            if exc is not None:
                raise exc
            yield chunk, batch
    finally:
        stop.set()
        worker.join()
