"""Torch-free MAC counts (``OpSpec.macs``, ``Architecture.macs``) against forward hooks on
the built module's Conv2d and Linear layers: exact equality for every op, head and merge,
and for random architectures of every search space."""

import random

import pytest
import torch

from deap_nas.arch import OPS, Architecture, Node, OpSpec, sequential
from deap_nas.nn import build
from deap_nas.spaces import SPACES

from .test_nn_build import CASES, INPUT_SHAPE


def torch_macs(net: torch.nn.Module, input_shape: tuple[int, int, int]) -> int:
    """Multiply-accumulates per image of every Conv2d and Linear, counted in a forward pass."""
    total = [0]

    def conv_hook(m, inputs, out):
        kh, kw = m.kernel_size
        total[0] += out[0].numel() * kh * kw * (m.in_channels // m.groups)

    def linear_hook(m, inputs, out):
        total[0] += out[0].numel() * m.in_features

    handles = []
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, torch.nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    torch.set_num_threads(1)
    with torch.no_grad():
        net.eval()(torch.zeros(1, *input_shape))
    for h in handles:
        h.remove()
    return total[0]


def test_every_registered_op_counts_its_macs():
    missing = sorted(name for name, spec in OPS.items() if type(spec).macs is OpSpec.macs)
    assert not missing, f"ops without macs(): {missing}"


@pytest.mark.parametrize(
    "op, params",
    [(op, p) for op, plist in CASES.items() for p in plist],
    ids=[f"{op}-{i}" for op, plist in CASES.items() for i in range(len(plist))],
)
def test_op_macs_equal_the_built_modules(op, params):
    arch = sequential([(op, params)])
    assert arch.macs(INPUT_SHAPE, 10, "gap_linear") == torch_macs(build(arch, INPUT_SHAPE, 10), INPUT_SHAPE)
    assert arch.macs(INPUT_SHAPE, 10) - arch.macs(INPUT_SHAPE) == 10 * arch.output_shape(INPUT_SHAPE)[0]


@pytest.mark.parametrize("head", ["gap_linear", "linear", "concat_pool", "mlp3"])
def test_head_and_merge_macs(head):
    arch = Architecture(
        [
            Node(0, "conv", {"channels": 8}),
            Node(1, "pool", {"channel_mult": 2.0}, inputs=(0,)),
            Node(2, "conv", {"kernel": 5}, inputs=(1, 0), merge="add"),  # resized, 8 -> 16 aligner
            Node(3, "identity", inputs=(2, 0, -1), merge="concat"),
        ]
    )
    shape = (3, 15, 15)
    net = build(arch, shape, 7, head)
    assert arch.macs(shape, 7, head) == torch_macs(net, shape)
    assert arch.macs(shape) < arch.macs(shape, 7, head)


def test_a_hand_count():
    # 3x3 conv 1 -> 4 channels on 8x8 ('same'): 8*8*4*9*1 = 2304; gap_linear 4 -> 10: 40
    arch = sequential([("conv", {"channels": 4})])
    assert arch.macs((1, 8, 8)) == 2304
    assert arch.macs((1, 8, 8), 10) == 2344


SMALL = {
    "sequential": {},
    "neat": {},
    "immunecs_fashion": {},
    "immunecs_cifar10": {"input_shape": (3, 16, 16)},
    "eigen": {"input_shape": (3, 16, 16), "channel_choices": (4, 8)},
    "nasgep": {"input_shape": (3, 16, 16), "channels": 4, "cells_per_stage": 1, "stages": 2},
    "minigen": {"input_shape": (3, 16, 16), "channels": (4, 8), "input_channels": (4, 8), "num_cells": 2},
}


@pytest.mark.parametrize("name", sorted(SPACES))
def test_random_architectures_of_every_space(name):
    assert set(SMALL) == set(SPACES), "give every space small parameters here"
    from deap_nas.runtime.schema import from_mapping

    space = SPACES[name](from_mapping(SPACES[name].Params, SMALL[name], "space"))
    shape = tuple(space.params.input_shape) if hasattr(space.params, "input_shape") else (1, 28, 28)
    rng = random.Random(7)
    counted = 0
    for _ in range(3):
        arch = space.decode(space.random_individual(rng))
        try:
            net = build(arch, shape, 10, space.default_head)
        except Exception:  # a genome that does not fit the input shape (an invalid candidate)
            continue
        assert arch.macs(shape, 10, space.default_head) == torch_macs(net, shape), arch.to_json()
        counted += 1
    assert counted >= 2
