"""The per-image feature cache behind ``VGG16FeatureTransformer(memory=...)``.

Layout: ``<location>/sklvgg-features/<model key>/<k[:2]>/<k>.f32``, one file per
image. The model key hashes everything that changes the activations (weights
fingerprint, layer, pooling, input size, precision, preprocessing, library
versions); the image key hashes the image's identity. Each file is a 16-byte
header (magic, payload CRC-32, payload length) followed by the float32 values.
Files are written to a temporary name in the same folder and renamed into
place, so a reader sees either nothing or a whole entry; an entry that fails
its length or CRC check is reported, recomputed and rewritten.
"""

import errno
import hashlib
import json
import os
import struct
import tempfile
import warnings
import zlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from ._images import ImageReadError
from ._vgg16 import SPATIAL_LAYERS

__all__ = ["CacheWarning", "FeatureCache", "image_keys", "model_key", "resolve_location"]

_MAGIC = b"SKVG"
_HEADER = struct.Struct("<4sIQ")  # magic, crc32 of payload, payload bytes
#: Bump when anything that changes the stored values changes (resize, preprocessing).
FORMAT_VERSION = 1
_PREPROCESSING = "pil-bilinear-float32-resize;rgb2bgr-caffe-mean;v1"
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


class CacheWarning(UserWarning):
    """The feature cache could not be used as asked; results are unaffected."""


def _pkg_version(name):
    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"


def resolve_location(memory):
    """The cache folder for a ``memory`` parameter, or None for no caching.

    Parameters
    ----------
    memory : None, str, os.PathLike or joblib.Memory
        As scikit-learn's ``memory`` parameters: a ``joblib.Memory`` is used
        through its ``location``.

    Returns
    -------
    location : pathlib.Path or None
    """
    if memory is None:
        return None
    if isinstance(memory, (str, os.PathLike)):
        return Path(memory).expanduser()
    location = getattr(memory, "location", None)
    return None if location is None else Path(location).expanduser()


def model_key(weights_id, layer, pooling, input_size, precision):
    """Hash of everything that changes the cached activations.

    ``temperature``, ``batch_size`` and ``verbose`` are not part of it: for
    ``layer="predictions"`` the cache holds logits and the temperature softmax
    is applied after the lookup.
    """
    spec = {
        "format": FORMAT_VERSION,
        "weights": weights_id,
        "layer": layer,
        "pooling": pooling if layer in SPATIAL_LAYERS else None,
        "input_size": int(input_size),
        "precision": precision,
        "preprocessing": _PREPROCESSING,
        "keras": _pkg_version("keras"),
        "tensorflow": _pkg_version("tensorflow"),
        "pillow": _pkg_version("pillow"),
    }
    blob = json.dumps(spec, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def image_keys(source):
    """One key per image of an image source (see :func:`sklvgg._images.as_image_source`).

    - arrays: BLAKE2b of the image's bytes with its shape and dtype;
    - files: BLAKE2b of the absolute path, size and modification time (ns).
      A file rewritten in place gets a new mtime and so a new key; a file
      copied elsewhere, or reached through another path (a symlink), is a new
      image for the cache (a miss, never a wrong hit).

    Returns
    -------
    keys : list of str
        32 hex digits each.

    Raises
    ------
    ImageReadError
        For a path that does not exist (naming it and its row).
    """
    keys = []
    if source.kind == "path":
        for row, path in enumerate(source.paths):
            try:
                resolved = os.path.abspath(path)
                st = os.stat(resolved)
            except FileNotFoundError:
                raise ImageReadError(path, row, "no such file") from None
            except OSError as exc:
                raise ImageReadError(path, row, str(exc)) from None
            text = f"path\0{resolved}\0{st.st_size}\0{st.st_mtime_ns}".encode("utf-8", "surrogateescape")
            keys.append(hashlib.blake2b(text, digest_size=16).hexdigest())
        return keys
    for row in range(len(source)):
        img = np.ascontiguousarray(source.item(row))
        h = hashlib.blake2b(f"array\0{img.shape}\0{img.dtype.str}\0".encode(), digest_size=16)
        h.update(memoryview(img).cast("B"))
        keys.append(h.hexdigest())
    return keys


class FeatureCache:
    """Per-image feature files for one model key.

    Parameters
    ----------
    location : path-like
        The ``memory`` folder.
    key : str
        From :func:`model_key`.
    n_features : int
        Length of every entry.

    Attributes
    ----------
    folder : pathlib.Path
    writable : bool
        False once a write failed for lack of space or permission.
    """

    def __init__(self, location, key, n_features):
        self.folder = Path(location) / "sklvgg-features" / key
        self._prefix = os.fspath(self.folder) + os.sep
        self.n_features = int(n_features)
        self.writable = True

    def _path(self, key):
        return f"{self._prefix}{key[:2]}{os.sep}{key}.f32"

    def read(self, key):
        """The features stored for ``key``, or None (absent or corrupt)."""
        path = self._path(key)
        size = _HEADER.size + self.n_features * 4
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                chunks, remaining = [], size + 1  # one byte more reveals a too-long entry
                while remaining > 0:
                    chunk = os.read(fd, remaining)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    remaining -= len(chunk)
            finally:
                os.close(fd)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            warnings.warn(
                f"Cannot read cache entry {path} ({exc}); recomputing it.", CacheWarning, stacklevel=2
            )
            return None
        blob = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if len(blob) == size:
            magic, crc, length = _HEADER.unpack_from(blob)
            payload = memoryview(blob)[_HEADER.size :]
            if magic == _MAGIC and length == size - _HEADER.size and zlib.crc32(payload) == crc:
                return np.frombuffer(payload, dtype="<f4")
        warnings.warn(
            f"Cache entry {path} is truncated or fails its checksum; it is ignored, "
            f"recomputed and rewritten.",
            CacheWarning,
            stacklevel=2,
        )
        return None

    def write(self, key, values):
        """Store ``values`` for ``key`` atomically; returns False if not written."""
        if not self.writable:
            return False
        values = np.ascontiguousarray(values, dtype="<f4")
        payload = values.tobytes()
        header = _HEADER.pack(_MAGIC, zlib.crc32(payload), len(payload))
        path = self._path(key)
        folder = os.path.dirname(path)
        tmp = None
        try:
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=folder)
            with os.fdopen(fd, "wb") as f:
                f.write(header)
                f.write(payload)
            os.replace(tmp, path)
            return True
        except OSError as exc:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
            if exc.errno in _NO_SPACE or isinstance(exc, (PermissionError, FileNotFoundError)):
                self.writable = False
                warnings.warn(
                    f"The feature cache at {self.folder} cannot be written ({exc}); "
                    f"computing without caching. Results are unchanged.",
                    CacheWarning,
                    stacklevel=2,
                )
                return False
            raise

    def lookup(self, keys):
        """Features for each distinct key found; ``{key: ndarray}``."""
        found = {}
        for key in dict.fromkeys(keys):
            values = self.read(key)
            if values is not None:
                found[key] = values
        return found
