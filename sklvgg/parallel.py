"""Featurising large image collections on a Dask cluster.

Grid searches and learning curves need nothing from this module: scikit-learn's
own parallelism runs on Dask through joblib::

    from dask.distributed import Client
    import joblib

    client = Client("scheduler-address:8786")
    with joblib.parallel_config(backend="dask"):
        GridSearchCV(pipe, grid, cv=5, n_jobs=-1).fit(paths, y)

Each worker builds its own VGG16 (the estimators pickle without it) and, with
``memory`` on a file system the workers share, reads and fills the same
per-image cache, so each image goes through the convnet once in total.

:func:`transform_paths` is for the step before: pushing a collection too large
for one machine (Caltech-256's 30,607 images, or millions) through VGG16 in
parallel partitions, filling the cache as it goes.
"""

from numbers import Integral

import numpy as np
from sklearn.base import clone
from sklearn.utils._param_validation import HasMethods, Interval, validate_params

from .exceptions import InputError

__all__ = ["transform_paths"]


def _transform_partition(transformer, paths):
    """Worker side: features of one partition (the cache takes what is done)."""
    return transformer.transform(list(paths))


@validate_params(
    {
        "transformer": [HasMethods(["fit", "transform"])],
        "paths": [HasMethods(["__iter__"])],  # a list, an array, a generator of paths
        "client": [None, HasMethods(["submit"])],
        "partition_size": [Interval(Integral, 1, None, closed="left")],
        "return_dask_array": ["boolean"],
        "retries": [Interval(Integral, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def transform_paths(
    transformer, paths, *, client=None, partition_size=256, return_dask_array=False, retries=3
):
    """VGG16 features of many image paths, computed in parallel partitions on Dask.

    The paths are cut into partitions of ``partition_size``; each partition is
    one task that runs ``transformer.transform`` on a worker, whose VGG16 is
    built there once and reused for every partition it gets. With the
    per-image cache (``transformer.memory``, a folder every worker can reach),
    features are written batch by batch as they are computed: a worker that
    dies mid-partition loses only its current batch, the task is retried
    elsewhere (``retries``), and a rerun of the same call computes only what
    is missing.

    Parameters
    ----------
    transformer : VGG16FeatureTransformer
        Fitted or not (it is fitted here on the first path: nothing is learnt).
        Its ``memory`` must be set: the cache is what makes partitions
        restartable. Any ``layer`` works, one or a list (each layer cached
        apart, so that later runs with other combinations reuse it).
    paths : sequence of path-like
        Image files, readable from every worker.
    client : distributed.Client, optional
        Default: the current client (``distributed.get_client()``); without
        one, the partitions run here, one after another.
    partition_size : int, default=256
        Images per task.
    return_dask_array : bool, default=False
        Return a lazy ``dask.array`` (chunks of ``partition_size`` rows) for
        collections whose features do not fit in memory; compute it, or slices
        of it, when needed. Otherwise a NumPy array.
    retries : int, default=3
        Times a partition is retried after a worker failure.

    Returns
    -------
    features : ndarray or dask.array.Array of shape (n_paths, n_features)
        In the order of ``paths``.

    Examples
    --------
    >>> from dask.distributed import Client, LocalCluster  # doctest: +SKIP
    >>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # doctest: +SKIP
    >>> vgg = VGG16FeatureTransformer(layer="fc2", memory="/shared/cache")  # doctest: +SKIP
    >>> X = transform_paths(vgg, data.filenames, client=client)  # doctest: +SKIP
    """
    if transformer.memory is None:
        raise InputError(
            "transform_paths needs transformer.memory set to a cache folder every "
            "worker can reach (a shared file system on a real cluster): the cache is "
            "what lets a failed partition restart without losing work."
        )
    paths = [str(p) for p in paths]
    if not paths:
        raise InputError("Expected at least one path; got an empty sequence.")
    if not hasattr(transformer, "n_features_out_"):
        transformer = clone(transformer).fit(paths[:1])
    partitions = [paths[i : i + partition_size] for i in range(0, len(paths), partition_size)]
    if client is None:
        try:
            from distributed import get_client

            client = get_client()
        except (ImportError, ValueError):
            client = None
    if client is None:
        chunks = [_transform_partition(transformer, part) for part in partitions]
        features = np.concatenate(chunks)
        if return_dask_array:
            import dask.array as da

            return da.from_array(features, chunks=(partition_size, -1))
        return features
    # The transformer travels inside each task (its pickle is a few kB, never the
    # model): nothing scattered can be lost with a worker that dies.
    futures = [
        client.submit(_transform_partition, transformer, part, retries=retries, pure=False)
        for part in partitions
    ]
    if return_dask_array:
        import dask.array as da

        blocks = [
            da.from_delayed(f, shape=(len(part), transformer.n_features_out_), dtype=np.float32)
            for f, part in zip(futures, partitions)
        ]
        return da.concatenate(blocks, axis=0)
    return np.concatenate(client.gather(futures))
