"""The per-image feature cache behind ``VGG16FeatureTransformer(memory=...)``.

Layout: ``<location>/sklvgg-features/<model key>/<k[:2]>/<k>.f32``, one file per
image. The model key hashes everything that changes the activations (the
parameters :data:`sklvgg._feature_spec.FEATURE_PARAMS` declares, the view, and
the library versions); the image key hashes the image's identity (see :func:`image_keys`).

Each entry is a 32-byte header (magic, a 16-byte digest of the model and image
keys it belongs to, CRC-32, payload length) followed by the float32 values; the
CRC covers the key digest and the values, so an entry copied, renamed or
swapped to another key fails its check like a damaged one. Entries are written
to a temporary name in the same folder and renamed into place, so a reader
sees either nothing or a whole entry, and created with the permissions the
process umask allows (as any new file), so a group-writable folder is shared
by a group whose umask lets the group write (e.g. ``umask 002``).

File keys are built from ``stat``, not from the file's bytes: the path as given
(made absolute) and the identity of the file it leads to, symlinks followed
(device, inode, size, modification and status-change times in ns). ``utime``
can set the modification time back but not the status-change time, which the
kernel sets on every write, rename or ``chmod``; a file swapped by rename or a
re-pointed symlink leads to another inode. Hashing the bytes instead costs an
open and a read per image on every call (40-64 us per image on the 2,000 shared
Caltech-101 JPEGs, 14 KiB on average, against 10-13 us for the stat key),
which would bring cached read-back under 20,000 images/s. On file systems whose
timestamps are coarse (FAT/exFAT: 10 ms or 2 s; HFS+: 1 s), detected as a
status-change time that is a whole multiple of 10 ms, two versions written
within one tick could share a stat, so the file's bytes are hashed into the key
as well.

Every failure degrades to computing without the cache: an entry that is
absent, damaged, bound to another key or not a regular file is recomputed (and
rewritten where possible) with one :class:`CacheWarning` per call; a folder that
cannot be written (no space, read-only, no permission, a file where the folder
should be) turns writing off with one warning.
"""

import errno
import hashlib
import json
import os
import stat
import struct
import threading
import zlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from ._backends import keras_backend
from ._file_identity import coarse_clock, stat_identity
from ._images import ImageReadError, file_kind
from ._reporting import warn_at_caller

__all__ = ["CacheWarning", "FeatureCache", "image_keys", "model_key", "resolve_location"]

_MAGIC = b"SKVG"
# magic, blake2b-128 of (model key, image key), crc32 of (that digest + payload), payload bytes
_HEADER = struct.Struct("<4s16sIQ")
#: Bump when anything that changes the stored values or the entry layout changes.
FORMAT_VERSION = 2
#: How images become the network's input, besides the ``preprocessing`` parameter.
_INPUT_PIPELINE = "pil-bilinear-float32-resize;v1"
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)


#: (memory folder, errno, error type) of the write failures already warned about in this process.
_UNWRITABLE = set()
_UNWRITABLE_LOCK = threading.Lock()


class CacheWarning(UserWarning):
    """The feature cache could not be used as asked; results are unaffected."""


def _pkg_version(name):
    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"


def _backend_version():
    name = keras_backend()
    return f"{name} {_pkg_version(name)}"


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


def model_key(features):
    """Hash of everything that changes the cached activations of one layer.

    ``features`` is the transformer's declaration of its own parameters that
    change a feature vector (:func:`sklvgg._feature_spec.cache_spec`: weights
    identity, layer, pooling, input size, precision, preprocessing, resize and
    the view); to it are added
    what the environment changes: the entry format, the resize, and
    the versions of Keras, of the backend that runs the network (TensorFlow,
    JAX and PyTorch agree only within float rounding) and of Pillow.
    ``temperature``, ``temperature_on``, ``batch_size`` and ``verbose`` are
    not part of it: for ``layer="predictions"`` the cache holds logits and the
    temperature softmax is applied after the lookup.

    Parameters
    ----------
    features : dict
        Field name to a JSON-serialisable value.

    Returns
    -------
    key : str
        32 hex digits.
    """
    spec = {
        **features,
        "format": FORMAT_VERSION,
        "input_pipeline": _INPUT_PIPELINE,
        "keras": _pkg_version("keras"),
        "backend": _backend_version(),
        "pillow": _pkg_version("pillow"),
    }
    blob = json.dumps(spec, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def _stat(path):
    """``os.stat`` (symlinks followed); a seam for tests of coarse file systems."""
    return os.stat(path)


def _content_hash(path, expected):
    """BLAKE2b of a regular file's bytes, opened without blocking; None if it changed."""
    h = hashlib.blake2b(digest_size=16)
    fd = os.open(path, os.O_RDONLY | _NONBLOCK | _CLOEXEC | _BINARY)
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (expected.st_dev, expected.st_ino):
            return None
        while chunk := os.read(fd, 1 << 20):
            h.update(chunk)
    finally:
        os.close(fd)
    return h.hexdigest()


def _file_key(path, row):
    resolved = os.path.abspath(path)
    try:
        st = _stat(resolved)
    except FileNotFoundError:
        raise ImageReadError(path, row, "no such file") from None
    except OSError as exc:
        raise ImageReadError(path, row, exc.strerror or str(exc)) from None
    if not stat.S_ISREG(st.st_mode):
        raise ImageReadError(path, row, f"not a regular file: {file_kind(st.st_mode)}")
    identity = stat_identity(st)
    text = "\0".join(["file", resolved, *map(str, identity)])
    h = hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=16)
    if coarse_clock(identity):  # the stat cannot tell versions apart
        try:
            content = _content_hash(resolved, st)
        except OSError as exc:
            raise ImageReadError(path, row, exc.strerror or str(exc)) from None
        if content is None:
            raise ImageReadError(path, row, "the file was replaced while being read")
        h.update(b"\0bytes\0" + content.encode())
    return h.hexdigest()


def image_keys(source):
    """One key per image of an image source (see :func:`sklvgg._images.as_image_source`).

    - arrays: BLAKE2b of the image's bytes with its shape and dtype;
    - files: BLAKE2b of the absolute path and of the ``stat`` identity of the
      regular file it leads to, the bytes too on a coarse clock (why, and
      what it tells apart: this module's docstring, the one explanation of
      file keys). A copy elsewhere or another path to the same file is a new
      image for the cache (a miss, never a wrong hit).

    Parameters
    ----------
    source : object
        From :func:`sklvgg._images.as_image_source`.

    Returns
    -------
    keys : list of str
        32 hex digits each.

    Raises
    ------
    ImageReadError
        For a path that does not exist or is not a regular file (a directory,
        a FIFO, a device), naming it and its row. Nothing is opened for that:
        a FIFO never blocks.
    """
    if source.kind == "path":
        return [_file_key(source.item(row), row) for row in range(len(source))]
    keys = []
    for row in range(len(source)):
        img = np.ascontiguousarray(source.item(row))
        h = hashlib.blake2b(f"array\0{img.shape}\0{img.dtype.str}\0".encode(), digest_size=16)
        h.update(memoryview(img).cast("B"))
        keys.append(h.hexdigest())
    return keys


class _Damaged(Exception):
    """An entry exists but cannot be used; ``str()`` says why."""


def _read_regular(fd, limit):
    """Up to ``limit`` bytes of the open file ``fd``; raises :class:`_Damaged` if not a regular file."""
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        raise _Damaged(f"is not a regular file but {file_kind(mode)}")
    chunks, remaining = [], limit
    while remaining > 0:
        chunk = os.read(fd, remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


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
        False once the folder proved unwritable (no space, read-only, no
        permission, not a folder).
    """

    def __init__(self, location, key, n_features):
        self.folder = Path(location) / "sklvgg-features" / key
        self.key = key
        self._prefix = os.fspath(self.folder) + os.sep
        self.n_features = int(n_features)
        self.writable = True
        self._reported = set()  # keys whose damaged entry was already warned about

    def _path(self, key):
        return f"{self._prefix}{key[:2]}{os.sep}{key}.f32"

    def _binding(self, key):
        return hashlib.blake2b(f"{self.key}\0{key}".encode(), digest_size=16).digest()

    def _read(self, key):
        """Values for ``key``; None if absent; raises :class:`_Damaged` if unusable."""
        path = self._path(key)
        size = _HEADER.size + self.n_features * 4
        try:
            # O_NONBLOCK: a FIFO opens at once, not waiting for a writer; fstat rejects it
            fd = os.open(path, os.O_RDONLY | _NONBLOCK | _CLOEXEC | _BINARY)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise _Damaged(f"cannot be read: {exc.strerror or exc}") from None
        try:
            blob = _read_regular(fd, size + 1)  # one byte more reveals a too-long entry
        except OSError as exc:
            raise _Damaged(f"cannot be read: {exc.strerror or exc}") from None
        finally:
            os.close(fd)
        if len(blob) != size:
            raise _Damaged("is truncated or fails its checksum")
        magic, binding, crc, length = _HEADER.unpack_from(blob)
        checked = memoryview(blob)[4 : 4 + 16]
        payload = memoryview(blob)[_HEADER.size :]
        if (
            magic != _MAGIC
            or length != size - _HEADER.size
            or zlib.crc32(payload, zlib.crc32(checked)) != crc
        ):
            raise _Damaged("is truncated or fails its checksum")
        if binding != self._binding(key):
            raise _Damaged("holds the features of another image (an entry copied, renamed or swapped)")
        return np.frombuffer(payload, dtype="<f4")

    def _warn_damaged(self, problems):
        key, reason = problems[0]
        self._reported.update(k for k, _ in problems)
        if len(problems) == 1:
            text = f"Cache entry {self._path(key)} {reason}; it is ignored, recomputed and rewritten."
        else:
            text = (
                f"{len(problems)} cache entries under {self.folder} cannot be used (the first, "
                f"{self._path(key)}, {reason}); they are ignored, recomputed and rewritten."
            )
        warn_at_caller(text, CacheWarning)

    def lookup(self, keys):
        """Features for each distinct key found, with one warning for all unusable entries.

        Parameters
        ----------
        keys : sequence of str

        Returns
        -------
        found : dict
            ``{key: ndarray}`` for the keys with a usable entry.
        """
        found, problems = {}, []
        for key in dict.fromkeys(keys):
            try:
                values = self._read(key)
            except _Damaged as exc:
                problems.append((key, str(exc)))
                continue
            if values is not None:
                found[key] = values
        if problems:
            self._warn_damaged(problems)
        return found

    def _create_temporary(self, folder, key):
        """A new temporary file next to the entry; mode 0o666 less the umask."""
        for _ in range(100):
            tmp = os.path.join(folder, f".{key}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
            try:
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC | _BINARY
                return os.open(tmp, flags, 0o666), tmp
            except FileExistsError:
                continue
        raise FileExistsError(errno.EEXIST, "no free temporary name", folder)

    def write(self, key, values):
        """Store ``values`` for ``key`` atomically.

        Parameters
        ----------
        key : str
        values : array-like of shape (n_features,)

        Returns
        -------
        written : bool
            False if not written: the folder is not writable (one warning, and
            writing stops) or the entry path is taken by a directory (a
            warning unless that entry was already reported).
        """
        if not self.writable:
            return False
        payload = np.ascontiguousarray(values, dtype="<f4").tobytes()
        binding = self._binding(key)
        header = _HEADER.pack(_MAGIC, binding, zlib.crc32(payload, zlib.crc32(binding)), len(payload))
        path = self._path(key)
        folder = os.path.dirname(path)
        tmp = None
        try:
            os.makedirs(folder, exist_ok=True)
            fd, tmp = self._create_temporary(folder, key)
            with os.fdopen(fd, "wb") as f:
                f.write(header + payload)
            os.replace(tmp, path)
            return True
        except OSError as exc:
            self._write_failed(exc, key, tmp)
            return False

    def _write_failed(self, exc, key, tmp):
        """Clean up after a failed :meth:`write` and say so: one entry lost, or writing off."""
        path = self._path(key)
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if tmp is not None and os.path.isdir(path):
            # A directory where the entry goes: only this entry is lost.
            if key not in self._reported:
                self._reported.add(key)
                warn_at_caller(
                    f"Cache entry {path} is a directory and cannot be replaced ({exc}); "
                    f"that image is computed without caching.",
                    CacheWarning,
                )
            return
        self.writable = False
        # once per location and error in a process: every layer, view and transform
        # of a run would otherwise say the same
        reason = (os.fspath(self.folder.parent.parent), exc.errno, type(exc))
        with _UNWRITABLE_LOCK:
            if reason in _UNWRITABLE:
                return
            _UNWRITABLE.add(reason)
        warn_at_caller(
            f"The feature cache at {self.folder.parent.parent} cannot be written ({exc}); "
            f"computing without caching. Results are unchanged. (Said once per process.)",
            CacheWarning,
        )
