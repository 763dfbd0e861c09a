"""Dask: a threaded LocalCluster, and worker processes where a test kills one."""

import os
import threading
import time

import numpy as np
import pytest
from conftest import assert_features_close, rgb_image, small_transformer
from PIL import Image

from sklvgg import VGG16FeatureTransformer
from sklvgg.parallel import transform_paths

distributed = pytest.importorskip("distributed")


def _start_cluster(processes, attempts=3):
    """A 2-worker LocalCluster and its Client, patient with a loaded machine.

    On a busy 2-core machine a worker process can take longer than dask's
    default 30 s connect timeout to start ("Nanny failed to start"): the
    timeouts are raised to 3 minutes and a failed start is retried.
    """
    import dask
    from distributed import Client, LocalCluster

    env = {"TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": "1"}
    kwargs = dict(env=env) if processes else {}
    for attempt in range(attempts):
        try:
            with dask.config.set({"distributed.comm.timeouts.connect": "180s",
                                  "distributed.comm.timeouts.tcp": "180s"}):  # fmt: skip
                cluster = LocalCluster(
                    n_workers=2, threads_per_worker=1, processes=processes, dashboard_address=":0",
                    **kwargs,
                )  # fmt: skip
                client = Client(cluster, timeout="180s")
                client.wait_for_workers(2, timeout=180)
                return cluster, client
        except (RuntimeError, TimeoutError, OSError):
            if attempt == attempts - 1:
                raise
            time.sleep(5)


@pytest.fixture(scope="module")
def client():
    """Threads: the tests that use it are about results and the cache, not isolation."""
    cluster, c = _start_cluster(processes=False)
    with cluster, c:
        yield c


@pytest.fixture
def process_client():
    """Worker processes, for the test that kills one."""
    cluster, c = _start_cluster(processes=True)
    with cluster, c:
        yield c


@pytest.fixture
def photos(tmp_path, rng):
    folder = tmp_path / "photos"
    folder.mkdir()
    paths = []
    for i in range(48):
        p = folder / f"{i:03d}.png"
        Image.fromarray(rng.integers(0, 256, (40, 36, 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
    return paths


def small(memory):
    return VGG16FeatureTransformer(weights=None, layer="block4_pool", pooling="avg",
                                   input_size=32, random_state=0, batch_size=4, memory=memory)  # fmt: skip


def entry_stamps(folder):
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*.f32")}


def test_transform_paths_matches_single_process(client, photos, tmp_path):
    cache = tmp_path / "cache"
    expected = small(None).fit(photos).transform(photos)
    got = transform_paths(small(cache), photos, client=client, partition_size=10)
    assert_features_close(got, expected)  # other batches: equal within float32 rounding
    stamps = entry_stamps(cache)
    assert len(stamps) == 48
    lazy = transform_paths(small(cache), photos, client=client, partition_size=10, return_dask_array=True)
    np.testing.assert_array_equal(client.compute(lazy, sync=True), got)  # read back: the stored bytes
    assert entry_stamps(cache) == stamps  # the second run wrote nothing: no convnet work
    with pytest.raises(ValueError, match="memory"):
        transform_paths(small(None), photos, client=client)


def test_grid_search_on_dask_backend(client, photos, tmp_path):
    import joblib
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline

    y = np.arange(48) % 2
    cache = tmp_path / "cache"
    grid = {"clf__C": [0.01, 1.0]}

    def search(memory, backend):
        pipe = Pipeline([("vgg", small(memory)), ("clf", LogisticRegression(max_iter=500))])
        with joblib.parallel_config(backend=backend):
            return GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(photos, y)

    local = search(None, "loky")
    first = search(cache, "dask")
    np.testing.assert_allclose(first.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"])
    stamps = entry_stamps(cache)
    assert len(stamps) == 48
    second = search(cache, "dask")
    assert entry_stamps(cache) == stamps  # every fit of the second search read the cache
    np.testing.assert_allclose(second.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"])


@pytest.mark.slow  # a cluster of worker processes, each importing TensorFlow
def test_worker_killed_during_featurisation(process_client, photos, tmp_path):
    client = process_client
    cache = tmp_path / "cache"
    expected = small(None).fit(photos).transform(photos)
    killed = {}

    def kill_when_busy():
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            if len(list(cache.rglob("*.f32"))) >= 8:
                worker = sorted(client.scheduler_info()["workers"])[0]
                try:
                    client.run(os._exit, 1, workers=[worker], wait=False)
                except Exception:  # noqa: BLE001
                    pass
                killed["at"] = len(list(cache.rglob("*.f32")))
            time.sleep(0.01)

    killer = threading.Thread(target=kill_when_busy)
    killer.start()
    try:
        got = transform_paths(small(cache), photos, client=client, partition_size=6)
    except Exception:  # noqa: BLE001 - a KilledWorker is allowed: the rerun must finish
        got = None
    killer.join()
    assert killed, "the worker was never killed"
    if got is None:
        got = transform_paths(small(cache), photos, client=client, partition_size=6)
    assert_features_close(got, expected)
    client.wait_for_workers(2, timeout=180)
    stamps = entry_stamps(cache)
    assert len(stamps) == 48
    np.testing.assert_array_equal(transform_paths(small(cache), photos, client=client), got)
    assert entry_stamps(cache) == stamps


def test_default_client_and_small_partitions(photos, tmp_path):
    got = transform_paths(small(tmp_path / "c"), photos[:5], client=None, partition_size=2)
    assert_features_close(got, small(None).fit(photos).transform(photos[:5]))


def test_transform_paths_with_several_layers(client, photos, tmp_path):
    cache, photos = tmp_path / "cache", photos[:12]

    def several(memory, layer=("block5_pool", "block4_pool")):
        return small(memory).set_params(layer=list(layer))

    expected = several(None).fit(photos).transform(photos)
    lazy = transform_paths(several(cache), photos, client=client, partition_size=5, return_dask_array=True)
    assert lazy.shape == (12, 1024)
    got = client.compute(lazy, sync=True)
    assert_features_close(got, expected)
    stamps = entry_stamps(cache)
    assert len(stamps) == 24  # one entry per image and layer
    # each layer alone, from the same cache: the stored bytes, nothing computed
    single = transform_paths(small(cache), photos, client=client, partition_size=5)
    np.testing.assert_array_equal(single, got[:, 512:])
    assert entry_stamps(cache) == stamps


# ----------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("size", [0, -5, 2.5])
def test_partition_size_is_checked(tmp_path, size):
    from sklearn.utils._param_validation import InvalidParameterError

    from sklvgg.parallel import transform_paths

    with pytest.raises(InvalidParameterError, match="'partition_size' parameter of transform_paths"):
        transform_paths(small_transformer(memory=tmp_path), ["a.png"], partition_size=size)


def test_transform_paths_takes_a_generator_of_paths(tmp_path, rng):
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(rgb_image(rng)).save(paths[-1])
    got = transform_paths(small_transformer(memory=tmp_path / "p"), (p for p in paths), client=None,
                          partition_size=2)  # fmt: skip
    assert got.shape == (3, 256)
