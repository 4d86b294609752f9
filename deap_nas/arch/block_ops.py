"""The high-level blocks of ImmuNeCS's CIFAR-10 space (sec. 3.3, Table 1), without torch.

Each conv inside a block is conv (no bias) -> BN, followed by ReLU where the source
architecture has one. The formulas here mirror :mod:`deap_nas.nn.blocks` line by line.

- ResNet basic and bottleneck blocks (He et al. 2016). ``downsample`` halves the spatial
  size and doubles the channels (ImmuNeCS Table 1 caption); the shortcut is then a 1x1
  conv + BN. The bottleneck's inner width is a quarter of its output.
- DenseNet and DenseNet-bottleneck blocks (Huang et al. 2017): ``layers`` dense layers,
  each adding ``growth`` channels (BN-ReLU-conv3x3; the bottleneck variant puts
  BN-ReLU-conv1x1 to 4*growth first); ``transition`` appends BN-ReLU-conv1x1 compressing
  the channels by 50% and a 2x2 average pool.
- Inception-ResNet A and B (Szegedy et al. 2017): branches of width
  ``round(bottleneck * C)``, concatenated, projected back to C by a 1x1 conv with bias,
  added to the input, then ReLU. A has 1x1 / 1x1-kxk / 1x1-kxk-kxk branches; B has 1x1 /
  1x1-1xk-kx1. The output keeps the input's channel count (Table 1 caption).
"""

from __future__ import annotations

from typing import Any

from .opspec import (
    OpSpec,
    Shape,
    bn_params,
    check_bool,
    check_float,
    check_int,
    conv_macs,
    conv_out_size,
    conv_params,
    pool_out_size,
    register_op,
)


def conv_bn(c_in: int, c_out: int, kh: int, kw: int | None = None) -> int:
    """Parameters of a bias-free conv followed by BatchNorm."""
    return conv_params(c_in, c_out, kh, kw or kh, bias=False) + bn_params(c_out)


def _check_odd_kernel(p: dict[str, Any]) -> None:
    check_int(p, "kernel")
    if p["kernel"] % 2 == 0:
        raise ValueError(f"parameter 'kernel' of a block must be odd, got {p['kernel']}")


class ResNetSpec(OpSpec):
    defaults: dict[str, Any] = {"kernel": 3, "downsample": False, "channels": None}

    def check(self, p: dict[str, Any]) -> None:
        _check_odd_kernel(p)
        check_bool(p, "downsample")
        check_int(p, "channels", allow_none=True)

    def c_out(self, s: Shape, p: dict[str, Any]) -> int:
        if p["channels"] is not None:
            return p["channels"]
        return 2 * s[0] if p["downsample"] else s[0]

    def stride(self, p: dict[str, Any]) -> int:
        return 2 if p["downsample"] else 1

    def out_shape(self, s: Shape, p: dict[str, Any]) -> Shape:
        k, st = p["kernel"], self.stride(p)
        h = conv_out_size(s[1], k, st, 1, "same")
        w = conv_out_size(s[2], k, st, 1, "same")
        return (self.c_out(s, p), h, w)

    def shortcut_params(self, s: Shape, p: dict[str, Any]) -> int:
        c_out = self.c_out(s, p)
        needs = self.stride(p) != 1 or c_out != s[0]
        return conv_bn(s[0], c_out, 1) if needs else 0

    def shortcut_macs(self, s: Shape, p: dict[str, Any]) -> int:
        c_out, h, w = self.out_shape(s, p)
        needs = self.stride(p) != 1 or c_out != s[0]
        return conv_macs(s[0], c_out, 1, 1, (h, w)) if needs else 0


@register_op
class ResNetBlock(ResNetSpec):
    name = "resnet_block"
    doc = "ResNet basic block: kxk conv-BN-ReLU, kxk conv-BN, + shortcut, ReLU."

    def num_params(self, s: Shape, p: dict[str, Any]) -> int:
        c, k = self.c_out(s, p), p["kernel"]
        return conv_bn(s[0], c, k) + conv_bn(c, c, k) + self.shortcut_params(s, p)

    def macs(self, s: Shape, p: dict[str, Any]) -> int:
        c, h, w = self.out_shape(s, p)
        k = p["kernel"]
        body = conv_macs(s[0], c, k, k, (h, w)) + conv_macs(c, c, k, k, (h, w))
        return body + self.shortcut_macs(s, p)


@register_op
class ResNetBottleneck(ResNetSpec):
    name = "resnet_bottleneck"
    doc = "ResNet bottleneck: 1x1 to C/4, kxk, 1x1 to C (each conv-BN), + shortcut, ReLU."

    def num_params(self, s: Shape, p: dict[str, Any]) -> int:
        c, k = self.c_out(s, p), p["kernel"]
        mid = bottleneck_width(c)
        body = conv_bn(s[0], mid, 1) + conv_bn(mid, mid, k) + conv_bn(mid, c, 1)
        return body + self.shortcut_params(s, p)

    def macs(self, s: Shape, p: dict[str, Any]) -> int:
        c, h, w = self.out_shape(s, p)
        k, mid = p["kernel"], bottleneck_width(c)
        body = conv_macs(s[0], mid, 1, 1, (s[1], s[2]))  # the 1x1 reduction before the stride
        body += conv_macs(mid, mid, k, k, (h, w)) + conv_macs(mid, c, 1, 1, (h, w))
        return body + self.shortcut_macs(s, p)


def bottleneck_width(c_out: int) -> int:
    return max(1, c_out // 4)


class DenseSpec(OpSpec):
    defaults: dict[str, Any] = {"growth": 12, "layers": 4, "transition": False}
    bottleneck = False

    def check(self, p: dict[str, Any]) -> None:
        check_int(p, "growth")
        check_int(p, "layers")
        check_bool(p, "transition")

    def channels_after_layers(self, c_in: int, p: dict[str, Any]) -> int:
        return c_in + p["layers"] * p["growth"]

    def out_shape(self, s: Shape, p: dict[str, Any]) -> Shape:
        c = self.channels_after_layers(s[0], p)
        if not p["transition"]:
            return (c, s[1], s[2])
        h = pool_out_size(s[1], 2, 2, "valid")
        w = pool_out_size(s[2], 2, 2, "valid")
        return (transition_channels(c), h, w)

    def layer_params(self, c_in: int, g: int) -> int:
        if self.bottleneck:
            return bn_params(c_in) + conv_params(c_in, 4 * g, 1, 1, bias=False) + conv_bn_relu_conv(4 * g, g)
        return bn_params(c_in) + conv_params(c_in, g, 3, 3, bias=False)

    def num_params(self, s: Shape, p: dict[str, Any]) -> int:
        g = p["growth"]
        total = sum(self.layer_params(s[0] + i * g, g) for i in range(p["layers"]))
        if p["transition"]:
            c = self.channels_after_layers(s[0], p)
            total += bn_params(c) + conv_params(c, transition_channels(c), 1, 1, bias=False)
        return total

    def layer_macs(self, c_in: int, g: int, hw: tuple[int, int]) -> int:
        if self.bottleneck:
            return conv_macs(c_in, 4 * g, 1, 1, hw) + conv_macs(4 * g, g, 3, 3, hw)
        return conv_macs(c_in, g, 3, 3, hw)

    def macs(self, s: Shape, p: dict[str, Any]) -> int:
        g, hw = p["growth"], (s[1], s[2])
        total = sum(self.layer_macs(s[0] + i * g, g, hw) for i in range(p["layers"]))
        if p["transition"]:  # the 1x1 compression runs before the 2x2 pool
            c = self.channels_after_layers(s[0], p)
            total += conv_macs(c, transition_channels(c), 1, 1, hw)
        return total


def conv_bn_relu_conv(c_mid: int, g: int) -> int:
    """BN-ReLU-conv3x3 after a bottleneck 1x1 conv (DenseNet-B)."""
    return bn_params(c_mid) + conv_params(c_mid, g, 3, 3, bias=False)


def transition_channels(c: int) -> int:
    """DenseNet-C compression by 50%."""
    return max(1, c // 2)


@register_op
class DenseBlock(DenseSpec):
    name = "dense_block"
    doc = "DenseNet block: layers of BN-ReLU-conv3x3(growth), each concatenated."


@register_op
class DenseBottleneckBlock(DenseSpec):
    name = "dense_bottleneck_block"
    doc = "DenseNet-B block: BN-ReLU-conv1x1(4*growth)-BN-ReLU-conv3x3(growth) layers."
    bottleneck = True


class InceptionSpec(OpSpec):
    defaults: dict[str, Any] = {"kernel": 3, "bottleneck": 0.4}

    def check(self, p: dict[str, Any]) -> None:
        _check_odd_kernel(p)
        check_float(p, "bottleneck", 0.0, 4.0, lo_open=True)

    def out_shape(self, s: Shape, p: dict[str, Any]) -> Shape:
        return s


def branch_width(c: int, factor: float) -> int:
    return max(1, int(round(c * factor)))


@register_op
class InceptionResNetA(InceptionSpec):
    name = "inception_resnet_a"
    doc = "Inception-ResNet-A: 1x1 | 1x1-kxk | 1x1-kxk-kxk, concat, 1x1 back to C, + input, ReLU."

    def num_params(self, s: Shape, p: dict[str, Any]) -> int:
        c, k = s[0], p["kernel"]
        b = branch_width(c, p["bottleneck"])
        branches = 3 * conv_bn(c, b, 1) + 3 * conv_bn(b, b, k)
        return branches + conv_params(3 * b, c, 1, 1, bias=True)

    def macs(self, s: Shape, p: dict[str, Any]) -> int:
        c, k, hw = s[0], p["kernel"], (s[1], s[2])
        b = branch_width(c, p["bottleneck"])
        branches = 3 * conv_macs(c, b, 1, 1, hw) + 3 * conv_macs(b, b, k, k, hw)
        return branches + conv_macs(3 * b, c, 1, 1, hw)


@register_op
class InceptionResNetB(InceptionSpec):
    name = "inception_resnet_b"
    doc = "Inception-ResNet-B: 1x1 | 1x1-1xk-kx1, concat, 1x1 back to C, + input, ReLU."

    def num_params(self, s: Shape, p: dict[str, Any]) -> int:
        c, k = s[0], p["kernel"]
        b = branch_width(c, p["bottleneck"])
        branches = 2 * conv_bn(c, b, 1) + conv_bn(b, b, 1, k) + conv_bn(b, b, k, 1)
        return branches + conv_params(2 * b, c, 1, 1, bias=True)

    def macs(self, s: Shape, p: dict[str, Any]) -> int:
        c, k, hw = s[0], p["kernel"], (s[1], s[2])
        b = branch_width(c, p["bottleneck"])
        branches = 2 * conv_macs(c, b, 1, 1, hw) + conv_macs(b, b, 1, k, hw) + conv_macs(b, b, k, 1, hw)
        return branches + conv_macs(2 * b, c, 1, 1, hw)
