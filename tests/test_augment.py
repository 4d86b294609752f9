"""Batched device augmentation: shapes, exact geometry, generator-driven determinism."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from deap_nas.evaluation.augment import AugmentConfig, cutout, hflip, pad_crop, random_erasing


def gen(seed: int = 0) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


@pytest.fixture
def batch() -> torch.Tensor:
    return torch.randn(32, 3, 12, 10, generator=gen(123))


def zero_boxes(out: torch.Tensor) -> list[tuple[int, int, int, int] | None]:
    """Per sample: (top, left, h, w) of the zeroed rectangle, asserting it is one rectangle
    shared by all channels; None when nothing is zero."""
    boxes = []
    for img in out:
        z = img == 0
        assert torch.equal(z, z[:1].expand_as(z)), "mask must be the same in every channel"
        z = z[0]
        if not z.any():
            boxes.append(None)
            continue
        rows = z.any(1).nonzero().flatten()
        cols = z.any(0).nonzero().flatten()
        t, b, left, r = rows[0].item(), rows[-1].item(), cols[0].item(), cols[-1].item()
        assert z[t : b + 1, left : r + 1].all() and z.sum() == (b - t + 1) * (r - left + 1), (
            "not a rectangle"
        )
        boxes.append((t, left, b - t + 1, r - left + 1))
    return boxes


@pytest.mark.parametrize(
    "cfg",
    [
        AugmentConfig(pad=2),
        AugmentConfig(pad=3, pad_mode="reflect"),
        AugmentConfig(flip=True),
        AugmentConfig(cutout=4),
        AugmentConfig(erasing=1.0),
        AugmentConfig(erasing=0.5, erasing_fill="random"),
        AugmentConfig(pad=2, flip=True, cutout=3, erasing=0.5),
    ],
)
def test_shapes_and_dtype_kept(cfg: AugmentConfig, batch: torch.Tensor) -> None:
    out = cfg.apply(batch, gen())
    assert out.shape == batch.shape and out.dtype == batch.dtype
    assert torch.isfinite(out).all()


def test_pad_zero_and_disabled_config_are_identity(batch: torch.Tensor) -> None:
    assert torch.equal(pad_crop(batch, 0, gen()), batch)
    assert torch.equal(AugmentConfig().apply(batch, gen()), batch)
    assert not AugmentConfig().enabled and AugmentConfig(flip=True).enabled


@pytest.mark.parametrize("mode", ["zero", "reflect"])
def test_pad_crop_gives_sub_windows_of_the_padded_image(mode: str, batch: torch.Tensor) -> None:
    p = 3
    out = pad_crop(batch, p, gen(1), mode)
    padded = F.pad(batch, (p, p, p, p), mode="reflect" if mode == "reflect" else "constant")
    H, W = batch.shape[-2:]
    offsets = set()
    for i in range(len(batch)):
        hits = [
            (dy, dx)
            for dy in range(2 * p + 1)
            for dx in range(2 * p + 1)
            if torch.equal(out[i], padded[i, :, dy : dy + H, dx : dx + W])
        ]
        assert hits, f"sample {i} is not a window of the padded image"
        offsets.add(hits[0])
    assert len(offsets) > 5, "offsets should vary per sample"


def test_zero_padding_uses_the_per_channel_fill(batch: torch.Tensor) -> None:
    fill = torch.tensor([-1.0, 2.0, 0.5]).view(1, 3, 1, 1)
    out = AugmentConfig(pad=4).apply(batch, gen(2), pad_fill=fill)
    H, W = batch.shape[-2:]
    padded = fill.expand(len(batch), 3, H + 8, W + 8).clone()
    padded[:, :, 4:-4, 4:-4] = batch
    for i in range(len(batch)):
        assert any(
            torch.equal(out[i], padded[i, :, dy : dy + H, dx : dx + W])
            for dy in range(9)
            for dx in range(9)
        )


def test_reflect_pad_must_be_smaller_than_image() -> None:
    with pytest.raises(ValueError, match="AugmentConfig.pad"):
        pad_crop(torch.zeros(2, 1, 4, 4), 4, gen(), "reflect")
    with pytest.raises(ValueError, match="AugmentConfig.pad"):
        AugmentConfig(pad=4, pad_mode="reflect").check_input((1, 4, 4))


def test_flip_flips_exactly_the_selected_samples(batch: torch.Tensor) -> None:
    out = hflip(batch, gen(5))
    selected = torch.rand(len(batch), generator=gen(5)) < 0.5  # the same draw
    assert 0 < selected.sum() < len(batch)
    for i in range(len(batch)):
        want = torch.flip(batch[i], dims=[-1]) if selected[i] else batch[i]
        assert torch.equal(out[i], want)


def test_cutout_zeroes_a_square_of_the_given_size() -> None:
    x = torch.ones(64, 2, 16, 16)
    size = 5
    boxes = zero_boxes(cutout(x, size, gen(2)))
    full = 0
    for box in boxes:
        assert box is not None, "the centre is always inside the image"
        t, left, h, w = box
        assert h <= size and w <= size
        inside = t > 0 and left > 0 and t + h < 16 and left + w < 16
        if inside:
            assert (h, w) == (size, size)
            full += 1
    assert full > 10


def test_random_erasing_rectangles_follow_scale_and_ratio() -> None:
    H = W = 32
    x = torch.ones(64, 3, H, W)
    scale, ratio = (0.05, 0.2), (0.5, 2.0)
    boxes = zero_boxes(random_erasing(x, 1.0, gen(3), scale, ratio))
    assert all(b is not None for b in boxes)
    for _, _, h, w in boxes:
        area = h * w / (H * W)
        assert scale[0] * 0.7 <= area <= scale[1] * 1.3  # rounding of h and w
        assert ratio[0] * 0.6 <= h / w <= ratio[1] * 1.6
    assert torch.equal(random_erasing(x, 0.0, gen(3)), x)


def test_random_erasing_probability_and_random_fill() -> None:
    x = torch.full((400, 1, 16, 16), 7.0)
    out = random_erasing(x, 0.5, gen(4), fill="random")
    changed = (out != 7.0).flatten(1).any(1).float().mean().item()
    assert 0.35 < changed < 0.65
    assert not (out == 0).any()


def test_same_generator_seed_same_output_and_global_rng_untouched(batch: torch.Tensor) -> None:
    cfg = AugmentConfig(
        pad=2, pad_mode="reflect", flip=True, cutout=3, erasing=0.5, erasing_fill="random"
    )
    torch.manual_seed(0)
    state = torch.get_rng_state()
    a, b = cfg.apply(batch, gen(9)), cfg.apply(batch, gen(9))
    assert torch.equal(a, b)
    assert not torch.equal(a, cfg.apply(batch, gen(10)))
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"pad": -1}, "pad"),
        ({"pad": 1.5}, "pad"),
        ({"pad_mode": "wrap"}, "pad_mode"),
        ({"flip": 1}, "flip"),
        ({"cutout": -2}, "cutout"),
        ({"erasing": 1.5}, "erasing"),
        ({"erasing_scale": (0.5, 0.1)}, "erasing_scale"),
        ({"erasing_ratio": (0.0, 1.0)}, "erasing_ratio"),
        ({"erasing_fill": "noise"}, "erasing_fill"),
    ],
)
def test_config_validation_names_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=rf"AugmentConfig\.{field}:"):
        AugmentConfig(**kwargs)


def test_config_from_dict() -> None:
    cfg = AugmentConfig.from_dict({"pad": 4, "flip": True, "erasing_scale": [0.1, 0.2]})
    assert cfg.erasing_scale == (0.1, 0.2)
    assert AugmentConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="padding"):
        AugmentConfig.from_dict({"padding": 4})
