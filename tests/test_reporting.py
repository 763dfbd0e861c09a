"""Progress bars, the transform tally and warnings at the user's line (``sklvgg/_reporting.py``)."""

import threading
import warnings

import pytest

from sklvgg import TransformTally, collect_transforms
from sklvgg._reporting import active_tally, progress_bar, warn_at_caller


def test_tally_adds_and_summarises():
    tally = TransformTally(progress=False)
    tally.add(rows=10, rows_read_back=4, images_computed=6)
    tally.add(rows=5, rows_read_back=5, images_computed=0)
    assert (tally.transforms, tally.rows, tally.rows_read_back, tally.images_computed) == (2, 15, 9, 6)
    assert tally.summary() == "cache: 6 images computed, 9 feature rows read back (2 transforms)"


def test_tally_counts_from_threads_without_losing_any():
    tally = TransformTally()

    def add():
        for _ in range(500):
            tally.add(rows=1, rows_read_back=1, images_computed=1)

    threads = [threading.Thread(target=add) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert tally.transforms == tally.rows == tally.images_computed == 2000


def test_collect_transforms_nests_and_unwinds_on_error():
    assert active_tally() is None
    with collect_transforms() as outer:
        assert active_tally() is outer
        with pytest.raises(RuntimeError), collect_transforms(progress=False) as inner:
            assert active_tally() is inner
            raise RuntimeError
        assert active_tally() is outer
    assert active_tally() is None


@pytest.mark.parametrize(
    "tally_progress, verbose, total, shown",
    [(None, 0, 5, False), (None, 1, 5, True), (None, 1, 0, False), (True, 0, 5, True), (False, 1, 5, False)],
)
def test_progress_bar_is_drawn_when_asked(tally_progress, verbose, total, shown):
    if tally_progress is None:
        bar = progress_bar(total, verbose, "fc2")
    else:
        with collect_transforms(progress=tally_progress):
            bar = progress_bar(total, verbose, "fc2")
    assert bar.disable is not shown
    if shown:
        assert bar.desc.startswith("fc2") and bar.unit == "img" and bar.total == total
    bar.close()


def _library_call():
    warn_at_caller("from deep inside", UserWarning)


def test_warn_at_caller_names_the_first_line_outside_the_library(monkeypatch):
    import sklvgg._reporting as reporting

    here = __file__
    # this test file plays the library: the warning must skip it and name the caller's frame
    monkeypatch.setattr(reporting, "_library_folders", lambda: (here,))

    def user_line():
        return _library_call()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        user_line()
    assert len(caught) == 1 and str(caught[0].message) == "from deep inside"
    # every frame in this file counts as library: the warning lands on the outermost caller outside it
    assert caught[0].filename != here and not caught[0].filename.endswith("_reporting.py")


def test_warn_at_caller_from_user_code_names_that_line():
    import inspect

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = inspect.currentframe().f_lineno + 1
        warn_at_caller("here", UserWarning)
    assert (caught[0].filename, caught[0].lineno) == (__file__, line)
