"""NASGEP torch side: weight store, continued training, drop-path and AutoAugment."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
import torch

from deap_nas.evaluation.augment import AugmentConfig, auto_augment
from deap_nas.evaluation.config import TrainConfig
from deap_nas.evaluation.weight_store import WeightStore, load_best, save_best
from deap_nas.nn import build, transfer_weights
from deap_nas.runtime.worker import weight_store_init_state, weight_store_save
from deap_nas.spaces import NasgepParams, NasgepSpace

SHAPE = (3, 8, 8)
SP = NasgepSpace(NasgepParams(channels=2, cells_per_stage=1, input_shape=SHAPE))


def genome(normal_gene, reduction_gene=("pw@h1", "pw@h1", "pw@h1")):
    return SP.make_individual(["add", "n1", "n2"] + ["n1"] * 6, ["r1"] * 9,
                              {"n1": list(normal_gene), "n2": ["dw_3x3@h1", "h1", "h1"]},
                              {"r1": list(reduction_gene)})


def randomized(arch, seed):
    torch.manual_seed(seed)
    net = build(arch, SHAPE, 10)
    with torch.no_grad():
        for t in net.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.randn_like(t))
    return net


def node_state(net, node_id):
    prefix = f"nodes.{net.keys[node_id]}."
    return {k[len(prefix):]: v for k, v in net.state_dict().items() if k.startswith(prefix)}


def test_reload_from_the_store_gives_identical_tensors(tmp_path):
    g = genome(["sep_3x5", "h1", "h1"])
    arch, keys = SP.decode(g), SP.weight_store_keys(g)
    a = randomized(arch, 0)
    store = WeightStore(tmp_path)
    written = save_best(store, arch, a.state_dict(), keys, 0.5)
    assert written and all(store.accuracy(k) == 0.5 for k in written)
    torch.manual_seed(1)
    b = build(arch, SHAPE, 10)
    loaded = load_best(store, arch, b, keys)
    assert set(loaded) == set(keys)
    for i in keys:
        sa, sb = node_state(a, i), node_state(b, i)
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    # a worse result does not replace the stored weights; a better one does
    c = randomized(arch, 2)
    assert save_best(store, arch, c.state_dict(), keys, 0.4) == []
    assert save_best(store, arch, c.state_dict(), keys, 0.6) != []
    torch.manual_seed(1)
    d = build(arch, SHAPE, 10)
    load_best(store, arch, d, keys)
    i = min(keys)
    assert all(torch.equal(node_state(c, i)[k], v) for k, v in node_state(d, i).items())


def test_gene_keys_first_then_conv_block_keys(tmp_path):
    g1 = genome(["sep_3x5", "h1", "h1"])
    arch1, keys1 = SP.decode(g1), SP.weight_store_keys(g1)
    a = randomized(arch1, 0)
    store = WeightStore(tmp_path)
    save_best(store, arch1, a.state_dict(), keys1, 0.7)
    # another genome: gene n2 is the same gene (same symbols), n1 differs but has a sep_3x5 block too
    g2 = genome(["sep_3x5", "dw_3x3@h2", "h1"])
    arch2, keys2 = SP.decode(g2), SP.weight_store_keys(g2)
    torch.manual_seed(3)
    b = build(arch2, SHAPE, 10)
    loaded = load_best(store, arch2, b, keys2)
    kinds = {k.split("/")[0] for k in loaded.values()}
    assert kinds == {"gene", "conv"}  # the shared gene by its gene key, the new dw block by its conv key
    for i, key in loaded.items():
        src = next(j for j, ks in keys1.items() if key in ks)
        assert all(torch.equal(node_state(a, src)[k], v) for k, v in node_state(b, i).items())


def test_worker_hook_loads_and_saves(tmp_path):
    g = genome(["isep_1x7", "h2", "h1"])
    arch = SP.decode(g)
    spec = {"dir": str(tmp_path), "keys": {str(k): v for k, v in SP.weight_store_keys(g).items()}, "load": True}
    data = SimpleNamespace(input_shape=SHAPE, num_classes=10)
    state0, n0 = weight_store_init_state(arch, data, None, 5, spec)
    assert n0 == 0  # empty store: the engine's own initialisation
    torch.manual_seed(5)
    fresh = build(arch, SHAPE, 10).state_dict()
    assert all(torch.equal(fresh[k], v) for k, v in state0.items())
    trained = randomized(arch, 9).state_dict()
    assert weight_store_save(arch, trained, 0.3, spec) > 0
    state1, n1 = weight_store_init_state(arch, data, None, 5, spec)
    assert n1 == len(spec["keys"])
    for i in SP.weight_store_keys(g):
        prefix = f"nodes.n{i}_{arch.node(i).op}."
        assert all(torch.equal(state1[k], trained[k]) for k in trained if k.startswith(prefix))


def test_continued_training_transfer_copies_every_node_and_the_head():
    g = SP.random_individual(random.Random(4))
    arch = SP.decode(g)
    a = randomized(arch, 0)
    torch.manual_seed(1)
    b = build(arch, SHAPE, 10)
    report = transfer_weights(a.state_dict(), b, exclude=[])
    assert report.head_copied
    assert all(reason == "no weights" for reason in report.skipped.values())
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_drop_path_only_in_training_and_only_on_merges():
    g = genome(["sep_3x5", "h1", "h1"])
    net = build(SP.decode(g), SHAPE, 10)
    x = torch.randn(16, *SHAPE)
    net.eval()
    ref = net(x)
    net.set_drop_path(0.5)
    assert torch.equal(net(x), ref)  # eval mode: no drop
    net.train()
    torch.manual_seed(0)
    y1 = net(x)
    net.set_drop_path(0.0)
    torch.manual_seed(0)
    y0 = net(x)
    assert not torch.allclose(y1, y0)
    with pytest.raises(ValueError, match="drop-path"):
        net.set_drop_path(1.0)
    assert TrainConfig(drop_path=0.1).drop_path == 0.1
    with pytest.raises(ValueError, match="drop_path"):
        TrainConfig(drop_path=1.0)
    assert "drop_path" not in TrainConfig().to_dict() and TrainConfig(drop_path=0.1).to_dict()["drop_path"] == 0.1


def test_autoaugment_on_uint8_batches():
    torch.manual_seed(0)
    x = torch.randint(0, 256, (6, 3, 16, 16), dtype=torch.uint8)
    y = auto_augment(x)
    assert y.dtype == torch.uint8 and y.shape == x.shape and not torch.equal(x, y)
    with pytest.raises(ValueError, match="uint8"):
        auto_augment(x.float())
    cfg = AugmentConfig(autoaugment=True)
    assert cfg.enabled and cfg.to_dict()["autoaugment"] is True
    assert "autoaugment" not in AugmentConfig(cutout=16).to_dict()
    with pytest.raises(ValueError, match="autoaugment"):
        AugmentConfig(autoaugment="yes")


def test_final_training_can_rank_by_the_best_accuracy():
    from deap_nas.analysis.final import rank_by_best
    from deap_nas.analysis.report import rank_architectures
    from deap_nas.runtime.config import FinalTrainingConfig

    def rec(i, h, acc):
        return {"eval_id": i, "arch_hash": h, "status": "ok", "accuracy": acc, "params": 10}

    # "a" trained 3 epochs (0.2, 0.5, 0.8): mean 0.5; "b" once at 0.6
    journal = [rec(0, "a", 0.2), rec(1, "b", 0.6), rec(2, "a", 0.5), rec(3, "a", 0.8)]
    assert [r["arch_hash"] for r in rank_architectures(journal)] == ["b", "a"]
    best = rank_by_best(rank_architectures(journal))
    assert [(r["rank"], r["arch_hash"]) for r in best] == [(1, "a"), (2, "b")]
    with pytest.raises(ValueError, match="rank_by"):
        FinalTrainingConfig(rank_by="median")
