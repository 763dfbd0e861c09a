"""The features of one image source through the on-disk cache: one call per view, entries read back.

:class:`CachedFeatures` stands between :class:`~sklvgg.VGG16FeatureTransformer`
and the per-image cache of :mod:`sklvgg._cache`, as ``joblib.Memory`` stands
between a ``Pipeline`` and its steps: the transformer says what it wants (the
blocks of one view, each by the declaration of what changes it) and how to
compute rows that are missing; it resolves the ``memory`` folder, keys
the images and the blocks, reads the entries there are, asks ``compute`` for
the images that miss any block (once each, in one pass through the blocks some
of them miss), writes each batch as it comes, counts hits and misses, and
returns the assembled matrix.
"""

import numpy as np

from ._cache import FeatureCache, image_keys, model_key, resolve_location
from ._reporting import active_tally

__all__ = ["CachedFeatures"]


class CachedFeatures:
    """The features of one image source, through the cache in ``memory`` if any.

    Parameters
    ----------
    memory : None, str, os.PathLike or joblib.Memory
        As the transformer's ``memory``; None computes every row.
    source : object
        From :func:`sklvgg._images.as_image_source`.

    Attributes
    ----------
    rows : int
        Images asked for (rows of the source), each counted once whatever
        the number of views (calls of :meth:`features`).
    hits : int
        Rows whose every block of every view was read back.
    computed : int
        Distinct images that went through ``compute`` for some view (each
        once, whatever the number of views; every row without ``memory``).
    computed_blocks : tuple of str
        The blocks computed for some image, in the order first asked.
    folders : list of pathlib.Path
        The cache folders used, one per block and view.
    """

    def __init__(self, memory, source):
        self.location = resolve_location(memory)
        self.source = source
        self._keys = None
        self.rows = 0
        self._missed = set()  # keys of the images that missed some block of some view
        self._computed = set()  # keys (rows without memory) of the images computed
        self.computed_blocks = ()
        self.folders = []

    @property
    def hits(self):
        """Rows whose every block of every view was read back."""
        if self.location is None or not self.rows:
            return 0
        return sum(1 for key in self._image_keys() if key not in self._missed)

    @property
    def misses(self):
        """Rows not served whole from the cache."""
        return self.rows - self.hits

    @property
    def computed(self):
        """Distinct images computed, over every view."""
        return len(self._computed)

    def _image_keys(self):
        """The images' keys (a stat per file), computed once for every call."""
        if self._keys is None:
            self._keys = image_keys(self.source)
        return self._keys

    def features(self, blocks, compute):
        """The feature matrix of every image: stored entries read back, the others computed.

        Parameters
        ----------
        blocks : dict
            ``{name: (spec, width)}`` in output order: what changes the block
            (hashed by :func:`sklvgg._cache.model_key`) and its columns.
        compute : callable
            ``compute(rows, names, on_batch)``: the features of images
            ``rows`` for the blocks ``names`` (a tuple, in the order of
            ``blocks``), concatenated; it calls ``on_batch(done, values)``
            after each batch, ``done`` a slice of ``rows``.

        Returns
        -------
        features : ndarray of shape (n_images, total width), dtype float32
        """
        n = len(self.source)
        self.rows = n
        if self.location is None:
            self._computed.update(range(n))
            return compute(np.arange(n), tuple(blocks), None)
        keys = self._image_keys()
        caches = {
            name: FeatureCache(self.location, model_key(spec), width)
            for name, (spec, width) in blocks.items()
        }
        self.folders += [cache.folder for cache in caches.values()]
        found = {name: cache.lookup(keys) for name, cache in caches.items()}
        first_rows = {}  # the images that miss some block: key -> its first row
        for row, key in enumerate(keys):
            if key not in first_rows and any(key not in found[name] for name in blocks):
                first_rows[key] = row
        if first_rows:
            self._compute_missing(first_rows, caches, found, compute)
        self._missed.update(first_rows)
        return self._assemble(keys, found, blocks)

    def _compute_missing(self, first_rows, caches, found, compute):
        """Compute the images of ``first_rows`` at the blocks some of them miss; write what was missing."""
        missing = list(first_rows)
        todo = tuple(name for name in caches if any(key not in found[name] for key in missing))
        columns, start = {}, 0
        for name in todo:
            columns[name] = slice(start, start + caches[name].n_features)
            start = columns[name].stop

        def store(done, values):
            for key, vector in zip(missing[done], values):
                for name in todo:
                    if key not in found[name]:
                        block = vector[columns[name]]
                        caches[name].write(key, block)
                        found[name][key] = block

        compute(np.fromiter(first_rows.values(), np.intp), todo, store)
        self._computed.update(missing)
        self.computed_blocks += tuple(name for name in todo if name not in self.computed_blocks)

    def _assemble(self, keys, found, blocks):
        out = np.empty((len(keys), sum(width for _, width in blocks.values())), dtype=np.float32)
        start = 0
        for name, (_, width) in blocks.items():
            stored, columns = found[name], slice(start, start + width)
            for row, key in enumerate(keys):
                out[row, columns] = stored[key]
            start += width
        return out

    def report(self, verbose, name):
        """Count the calls in the active tally, or print the cache's counts when ``verbose``.

        Parameters
        ----------
        verbose : int
        name : str
            Who speaks, e.g. ``"VGG16FeatureTransformer"``.
        """
        tally = active_tally()
        if tally is not None:
            tally.add(rows=self.rows, rows_read_back=self.hits, images_computed=self.computed)
        elif verbose and self.folders:
            at = f" at {', '.join(self.computed_blocks)}" if self.computed and len(self.folders) > 1 else ""
            print(
                f"[{name}] cache {', '.join(map(str, self.folders))}: {self.hits} hits, "
                f"{self.misses} misses ({self.computed} images computed{at})"
            )
