"""What tells two versions of a file apart (``sklvgg/_file_identity.py``)."""

import hashlib
import os
from types import SimpleNamespace

from sklvgg._cache import _file_key
from sklvgg._file_identity import COARSE_NS, coarse_clock, stat_identity


def test_identity_is_device_inode_size_and_both_times(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 10)
    st = os.stat(path)
    assert stat_identity(st) == (st.st_dev, st.st_ino, 10, st.st_mtime_ns, st.st_ctime_ns)


def test_a_status_change_time_on_a_10_ms_boundary_is_a_coarse_clock():
    def identity(ctime_ns):
        st = SimpleNamespace(st_dev=1, st_ino=2, st_size=3, st_mtime_ns=4, st_ctime_ns=ctime_ns)
        return stat_identity(st)

    assert coarse_clock(identity(5 * COARSE_NS)) and coarse_clock(identity(0))
    assert not coarse_clock(identity(5 * COARSE_NS + 1))


def test_image_file_keys_keep_their_on_disk_spelling(tmp_path):
    """A cache written by an earlier version is read back: the key's text is unchanged."""
    path = tmp_path / "img.png"
    path.write_bytes(b"not decoded here")
    st = os.stat(path)
    if coarse_clock(stat_identity(st)):  # the bytes join the key there; this checks the stat part only
        return
    resolved = os.path.abspath(path)
    text = f"file\0{resolved}\0{st.st_dev}\0{st.st_ino}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}"
    expected = hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()
    assert _file_key(str(path), 0) == expected
