"""Torch modules of the ImmuNeCS CIFAR-10 blocks; formulas in :mod:`deap_nas.arch.block_ops`."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..arch import OPS, Shape
from ..arch.block_ops import bottleneck_width, branch_width, transition_channels
from .registry import named, register_module


def conv_bn(c_in: int, c_out: int, kernel: int | tuple[int, int], stride: int = 1, relu: bool = True) -> nn.Sequential:
    """Bias-free conv with 'same'-style padding, BatchNorm, optional ReLU."""
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    pad = (k[0] // 2, k[1] // 2)
    layers: dict[str, nn.Module] = {
        "conv": nn.Conv2d(c_in, c_out, k, stride, pad, bias=False),
        "bn": nn.BatchNorm2d(c_out),
    }
    if relu:
        layers["act"] = nn.ReLU()
    return named(layers)


class ResidualBlock(nn.Module):
    """``relu(body(x) + shortcut(x))`` with a 1x1 conv + BN shortcut when shapes change."""

    def __init__(self, body: nn.Module, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.body = body
        needs = stride != 1 or c_in != c_out
        self.shortcut = conv_bn(c_in, c_out, 1, stride, relu=False) if needs else nn.Identity()
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


def _resnet_geometry(s: Shape, p: dict[str, Any], name: str) -> tuple[int, int]:
    spec = OPS[name]
    return spec.c_out(s, p), spec.stride(p)  # type: ignore[attr-defined]


@register_module("resnet_block")
def make_resnet_block(s: Shape, p: dict[str, Any]) -> nn.Module:
    c, st = _resnet_geometry(s, p, "resnet_block")
    k = p["kernel"]
    body = named({"conv1": conv_bn(s[0], c, k, st), "conv2": conv_bn(c, c, k, relu=False)})
    return ResidualBlock(body, s[0], c, st)


@register_module("resnet_bottleneck")
def make_resnet_bottleneck(s: Shape, p: dict[str, Any]) -> nn.Module:
    c, st = _resnet_geometry(s, p, "resnet_bottleneck")
    mid = bottleneck_width(c)
    body = named(
        {
            "reduce": conv_bn(s[0], mid, 1),
            "conv": conv_bn(mid, mid, p["kernel"], st),
            "expand": conv_bn(mid, c, 1, relu=False),
        }
    )
    return ResidualBlock(body, s[0], c, st)


def bn_relu_conv(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    """DenseNet's pre-activation unit."""
    return named(
        {
            "bn": nn.BatchNorm2d(c_in),
            "act": nn.ReLU(),
            "conv": nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
        }
    )


class DenseBlock(nn.Module):
    """Dense layers whose outputs are concatenated to their inputs; optional transition."""

    def __init__(self, c_in: int, growth: int, layers: int, bottleneck: bool, transition: bool) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        c = c_in
        for _ in range(layers):
            if bottleneck:
                layer = named(
                    {"reduce": bn_relu_conv(c, 4 * growth, 1), "conv": bn_relu_conv(4 * growth, growth, 3)}
                )
            else:
                layer = bn_relu_conv(c, growth, 3)
            self.layers.append(layer)
            c += growth
        self.transition: nn.Module | None = None
        if transition:
            self.transition = named(
                {"compress": bn_relu_conv(c, transition_channels(c), 1), "pool": nn.AvgPool2d(2, 2)}
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = torch.cat([x, layer(x)], 1)
        return x if self.transition is None else self.transition(x)


@register_module("dense_block")
def make_dense_block(s: Shape, p: dict[str, Any]) -> nn.Module:
    return DenseBlock(s[0], p["growth"], p["layers"], False, p["transition"])


@register_module("dense_bottleneck_block")
def make_dense_bottleneck_block(s: Shape, p: dict[str, Any]) -> nn.Module:
    return DenseBlock(s[0], p["growth"], p["layers"], True, p["transition"])


class InceptionResidual(nn.Module):
    """``relu(x + project(concat(branches(x))))`` (Inception-ResNet A and B)."""

    def __init__(self, branches: dict[str, nn.Module], width: int, c: int) -> None:
        super().__init__()
        self.branches = nn.ModuleDict(branches)
        self.project = nn.Conv2d(width * len(branches), c, 1, bias=True)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.cat([b(x) for b in self.branches.values()], 1)
        return self.act(x + self.project(y))


@register_module("inception_resnet_a")
def make_inception_resnet_a(s: Shape, p: dict[str, Any]) -> nn.Module:
    c, k = s[0], p["kernel"]
    b = branch_width(c, p["bottleneck"])
    branches = {
        "b1x1": conv_bn(c, b, 1),
        "b3": named({"reduce": conv_bn(c, b, 1), "conv": conv_bn(b, b, k)}),
        "b33": named({"reduce": conv_bn(c, b, 1), "conv1": conv_bn(b, b, k), "conv2": conv_bn(b, b, k)}),
    }
    return InceptionResidual(branches, b, c)


@register_module("inception_resnet_b")
def make_inception_resnet_b(s: Shape, p: dict[str, Any]) -> nn.Module:
    c, k = s[0], p["kernel"]
    b = branch_width(c, p["bottleneck"])
    branches = {
        "b1x1": conv_bn(c, b, 1),
        "b1k_k1": named(
            {"reduce": conv_bn(c, b, 1), "conv_1xk": conv_bn(b, b, (1, k)), "conv_kx1": conv_bn(b, b, (k, 1))}
        ),
    }
    return InceptionResidual(branches, b, c)
