"""What the command line prints besides results: its progress lines, and TensorFlow kept quiet."""

import os
import re
import sys

#: -q (-1), default (0), -v (1), -vv (2): set by main() from the options.
VERBOSITY = 0


def info(text):
    """Print progress information, unless ``-q``."""
    if VERBOSITY >= 0:
        print(text)


#: TensorFlow's INFO lines before its logger reads any level (absl's preamble, ``I0000 ...``).
_TF_NOISE = re.compile(rb"^(I\d{4} |WARNING: All log messages before absl::InitializeLog)")


def quiet_tensorflow_logs(verbosity):
    """Hide TensorFlow's C++ log lines, unless the user asked for them.

    ``TF_CPP_MIN_LOG_LEVEL=3`` is set only where the user set no level (and
    did not pass ``-v``). Its C++ logger still prints a few INFO lines before
    it reads any level (``cudart_stub.cc ... Could not find cuda drivers``,
    the oneDNN notice), so, unless the level asks for INFO lines (0) or ``-v``
    was given, the backend is imported here with the standard error file
    descriptor pointed at a pipe for the import only: every line of it but
    those INFO lines (a warning, an error, a fatal message) goes on to the
    real standard error as it comes.
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
    import threading

    sys.stderr.flush()
    saved = os.dup(2)
    read_end, write_end = os.pipe()

    def forward():  # every line but the INFO noise goes on to the real stderr, at once
        with os.fdopen(read_end, "rb") as lines:
            for line in lines:
                if not _TF_NOISE.match(line):
                    os.write(saved, line)

    reader = threading.Thread(target=forward, daemon=True)
    reader.start()
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        import tensorflow  # noqa: F401 - an import error is raised whole, stderr restored
    finally:
        os.dup2(saved, 2)  # the pipe's last writer closed: the reader sees its end
        reader.join(timeout=5)
        os.close(saved)
