"""``sklvgg._network_store``: the bounded, locked stores of built backbones and compiled cuts."""


def test_model_store_is_bounded_and_drops_the_cuts_of_a_dropped_backbone(monkeypatch):
    """At most MAX_STORED_BACKBONES backbones and MAX_STORED_CUTS cuts; each built once while kept."""
    from types import SimpleNamespace

    from sklvgg import _network_store
    from sklvgg._store import BoundedStore

    built = []
    monkeypatch.setattr(
        _network_store, "build_vgg16", lambda arrays, top, size, precision: built.append(size) or size
    )
    monkeypatch.setattr(_network_store, "compile_cut", lambda backbone, layer, *args: (backbone, layer))
    monkeypatch.setattr(_network_store, "_CUTS", BoundedStore(maxsize=3))
    monkeypatch.setattr(
        _network_store, "_BACKBONES", BoundedStore(maxsize=2, on_evict=_network_store._forget_cuts)
    )
    source = SimpleNamespace(key="fake", arrays=lambda include_top: {})

    def cut(layer, size):
        return _network_store.get_feature_function(source, layer, size, "float32", "avg")

    def kept():  # (input size, layer) of the cuts kept, least recently used first
        return [(backbone_key[2], cut_key[0]) for backbone_key, cut_key in _network_store._CUTS.keys()]

    assert cut("block1_pool", 32) == (32, "block1_pool")
    assert cut(["block1_pool"], 32) is cut("block1_pool", 32)  # one layer: the same cut
    cut("block2_pool", 32)
    cut("block2_pool", 64)
    assert built == [32, 64] and len(_network_store._CUTS) == 3
    cut("block3_pool", 32)  # a fourth cut pushes out the least recently used one
    assert kept() == [(32, "block2_pool"), (64, "block2_pool"), (32, "block3_pool")]
    cut("block1_pool", 96)  # a third backbone pushes out the one of size 64, and its cut with it
    assert built == [32, 64, 96] and len(_network_store._BACKBONES) == 2
    assert kept() == [(32, "block2_pool"), (32, "block3_pool"), (96, "block1_pool")]
