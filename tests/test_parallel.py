"""Dask: LocalCluster with 2 worker processes, 1 thread each."""

import os
import threading
import time

import numpy as np
import pytest
from PIL import Image

from sklvgg import VGG16FeatureTransformer
from sklvgg.parallel import transform_paths

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    env = {"TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": "1"}
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        env=env,
    ) as cluster, Client(cluster) as c:  # fmt: skip
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
    np.testing.assert_array_equal(got, expected)
    stamps = entry_stamps(cache)
    assert len(stamps) == 48
    lazy = transform_paths(small(cache), photos, client=client, partition_size=10, return_dask_array=True)
    np.testing.assert_array_equal(lazy.compute(), expected)
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


def test_worker_killed_during_featurisation(client, photos, tmp_path):
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
    np.testing.assert_array_equal(got, expected)
    client.wait_for_workers(2, timeout=120)
    stamps = entry_stamps(cache)
    assert len(stamps) == 48
    np.testing.assert_array_equal(transform_paths(small(cache), photos, client=client), expected)
    assert entry_stamps(cache) == stamps


def test_default_client_and_small_partitions(photos, tmp_path):
    got = transform_paths(small(tmp_path / "c"), photos[:5], client=None, partition_size=2)
    np.testing.assert_array_equal(got, small(None).fit(photos).transform(photos[:5]))
