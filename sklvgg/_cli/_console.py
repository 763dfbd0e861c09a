"""What the command line prints besides results: its progress lines, and TensorFlow kept quiet."""

import os
import re
import subprocess
import sys

#: -q (-1), default (0), -v (1), -vv (2): set by main() from the options.
VERBOSITY = 0


def info(text):
    """Print progress information, unless ``-q``."""
    if VERBOSITY >= 0:
        print(text)


#: TensorFlow's INFO lines before its logger reads any level (absl's preamble, ``I0000 ...``).
_TF_NOISE = re.compile(rb"^(I\d{4} |WARNING: All log messages before absl::InitializeLog)")


#: The forwarder: a separate process, so that what TensorFlow writes just before it
#: aborts the import (a fatal check) still reaches the user after this process died.
_FORWARDER = """
import re, sys
noise = re.compile(%r)
for line in sys.stdin.buffer:
    if not noise.match(line):
        sys.stdout.buffer.write(line)
        sys.stdout.buffer.flush()
"""


def _stderr_is_fd_2():
    """Whether Python's ``sys.stderr`` writes to file descriptor 2 (not closed, not a capture)."""
    try:
        return sys.stderr is not None and sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return False


def quiet_tensorflow_logs(verbosity):
    """Hide TensorFlow's C++ log lines, unless the user asked for them.

    ``TF_CPP_MIN_LOG_LEVEL=3`` is set only where the user set no level (and
    did not pass ``-v``). Its C++ logger still prints a few INFO lines before
    it reads any level (``cudart_stub.cc ... Could not find cuda drivers``,
    the oneDNN notice), so, unless the level asks for INFO lines (0) or ``-v``
    was given, the backend is imported here with the standard error file
    descriptor pointed at a pipe for the import only: a small forwarding
    process passes every line of it but those INFO lines (a warning, an
    error, a fatal message) on to the real standard error as it comes, even
    when the import aborts the process. Where ``sys.stderr`` is not file
    descriptor 2 (closed with ``2>&-``, captured by pytest, a notebook's),
    TensorFlow is imported plainly.
    """
    if verbosity >= 1:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if os.environ["TF_CPP_MIN_LOG_LEVEL"].strip() in ("", "0"):
        return  # the user asked for TensorFlow's INFO lines
    if "tensorflow" in sys.modules or os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None:
        return  # the import error comes, whole, where TensorFlow is first needed
    started = _start_forwarder() if _stderr_is_fd_2() and sys.executable else None
    if started is None:
        return _import_tensorflow()
    forwarder, saved = started
    try:
        _import_tensorflow()
    finally:
        os.dup2(saved, 2)  # the pipe's last writer closed: the forwarder sees its end
        os.close(saved)
        try:
            forwarder.wait(timeout=5)
        except subprocess.TimeoutExpired:  # a child of TensorFlow holds the pipe: it goes on
            pass


def _start_forwarder():
    """Point file descriptor 2 at the forwarder's pipe; return it and the saved descriptor, or None."""
    sys.stderr.flush()
    saved = read_end = write_end = None
    try:
        saved = os.dup(2)
        read_end, write_end = os.pipe()
        forwarder = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _FORWARDER % _TF_NOISE.pattern],
            stdin=read_end, stdout=saved, stderr=saved,
        )  # fmt: skip
    except OSError:  # no descriptor or process to spare: a plain import
        for fd in (saved, read_end, write_end):
            if fd is not None:
                os.close(fd)
        return None
    os.close(read_end)
    os.dup2(write_end, 2)
    os.close(write_end)
    return forwarder, saved


def _import_tensorflow():
    import tensorflow  # noqa: F401 - an import error is raised whole, stderr restored
