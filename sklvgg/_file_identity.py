"""What tells two versions of a file apart without reading it: one rule for image keys and weights files.

A file's identity is its ``stat``, symlinks followed: device, inode, size,
modification and status-change times (ns). Why these suffice is explained once,
in :mod:`sklvgg._cache`'s docstring. Where the status-change time is a whole
multiple of :data:`COARSE_NS` the clock is coarse (FAT/exFAT, HFS+) and two
versions may share a ``stat``: the callers hash the bytes too.
"""

__all__ = ["COARSE_NS", "coarse_clock", "stat_identity"]

#: Status-change times that are whole multiples of this many ns come from a coarse clock.
COARSE_NS = 10_000_000


def stat_identity(st):
    """The identity of a file from its ``os.stat`` result.

    Parameters
    ----------
    st : os.stat_result

    Returns
    -------
    identity : tuple of int
        ``(st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns)``.
    """
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def coarse_clock(identity):
    """Whether ``identity`` (from :func:`stat_identity`) comes from a coarse clock: hash the bytes too.

    Parameters
    ----------
    identity : tuple of int

    Returns
    -------
    coarse : bool
    """
    return identity[-1] % COARSE_NS == 0
