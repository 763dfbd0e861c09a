"""Command line: ``python -m sklvgg demo`` and ``python -m sklvgg reproduce EXPERIMENT``.

Every user error ends in one line, ``sklvgg: error: <message>``, and a non-zero
exit status: 2 for wrong usage or data (as ``argparse``), 1 when the environment
fails (a folder cannot be written, weights cannot be fetched). ``--debug`` or
``SKLVGG_DEBUG=1`` shows the traceback instead.
"""

import os

from sklearn.utils._param_validation import InvalidParameterError

from ..exceptions import SklvggUserError
from . import _console
from ._parser import build_parser

__all__ = ["build_parser", "main"]


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv=None):
    """Entry point of ``python -m sklvgg``.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    status : int
        0 on success. The errors sklvgg raises on purpose
        (:class:`~sklvgg.exceptions.SklvggUserError`, and scikit-learn's
        ``InvalidParameterError`` from a parameter constraint) exit through
        :class:`SystemExit` with one line: 2 for wrong usage or data, 1 when
        the environment fails. Any other exception is a bug: its traceback is
        shown.
    """
    from sklvgg import collect_transforms

    os.environ.setdefault("MPLBACKEND", "Agg")
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get("SKLVGG_DEBUG", "0") not in ("", "0")
    _console.VERBOSITY = verbosity = -1 if args.quiet else args.verbose
    try:
        if verbosity >= 1:  # every transformer prints its own cache line
            return args.func(args)
        with collect_transforms(progress=verbosity >= 0) as tally:
            status = args.func(args)
        if tally.transforms:
            _console.info(tally.summary())
        return status
    except (SklvggUserError, InvalidParameterError) as exc:  # raised on purpose; anything else is a bug
        if debug:
            raise
        parser.exit(getattr(exc, "exit_status", 2), f"sklvgg: error: {_one_line(exc)}\n")
    except KeyboardInterrupt:
        if debug:
            raise
        parser.exit(130, "sklvgg: interrupted\n")
