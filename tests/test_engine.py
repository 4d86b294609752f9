"""Training engine: learning, determinism, early stopping, statuses, losses, config."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
import torch
from torch import nn

from deap_nas.data.device import DeviceDataset
from deap_nas.evaluation.augment import AugmentConfig
from deap_nas.evaluation.config import TrainConfig
from deap_nas.evaluation.engine import evaluate, predict_logits, train
from deap_nas.evaluation.losses import classification_loss, distillation_loss
from deap_nas.evaluation.optim import lr_at
from deap_nas.evaluation.result import TrainResult

CLASSES = 4


def quadrant_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """8x8 grey noise; the label is the brightest quadrant."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n)
    x = rng.integers(0, 100, (n, 1, 8, 8))
    for k in range(CLASSES):
        r, c = divmod(k, 2)
        x[y == k, :, 4 * r : 4 * r + 4, 4 * c : 4 * c + 4] += 100
    return x.astype(np.uint8), y.astype(np.int64)


@pytest.fixture(scope="module")
def data() -> tuple[DeviceDataset, DeviceDataset]:
    tr = DeviceDataset.from_numpy(*quadrant_data(512, 0))
    va = DeviceDataset.from_numpy(*quadrant_data(256, 1), mean=tr.mean, std=tr.std)
    return tr, va


def tiny() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AvgPool2d(4),
        nn.Flatten(),
        nn.Linear(32, CLASSES),
    )


def cfg(**kw) -> TrainConfig:
    base = {"epochs": 3, "batch_size": 64, "lr": 0.1, "schedule": "none"}
    return TrainConfig(**{**base, **kw})


def curve(result: TrainResult) -> list[tuple]:
    return [(h["epoch"], h["train_loss"], h["val_acc"], h["lr"]) for h in result.history]


class Raises(nn.Module):
    def __init__(self, err: BaseException) -> None:
        super().__init__()
        self.lin = nn.Linear(64, CLASSES)
        self.err = err

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise self.err


class NaNOut(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(64, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x.flatten(1)) * float("nan")


class SlowAfter(nn.Module):
    """Sleeps in every forward call after the first ``calls``."""

    def __init__(self, calls: int, seconds: float) -> None:
        super().__init__()
        self.net = tiny()
        self.calls, self.seconds, self.n = calls, seconds, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.n += 1
        if self.n > self.calls:
            time.sleep(self.seconds)
        return self.net(x)


# ---------------------------------------------------------------------- training
def test_learns_well_above_chance(data) -> None:
    tr, va = data
    # no flip: the label is a quadrant
    res = train(tiny, tr, va, cfg(augment=AugmentConfig(pad=1)), seed=0)
    assert res.status == "ok", res.message
    assert res.best_acc > 0.8  # chance is 0.25
    assert res.epochs_run == 3 and res.iterations == 3 * (512 // 64)
    assert [h["epoch"] for h in res.history] == [1, 2, 3]
    assert res.num_params == sum(p.numel() for p in tiny().parameters())
    assert res.images_per_sec > 0 and res.time_train > 0 and res.time_eval > 0
    assert res.device == "cpu"
    assert res.best_acc == max(h["val_acc"] for h in res.history)


def test_same_seed_same_run_different_seed_differs(data) -> None:
    tr, va = data
    built: list[nn.Module] = []

    def factory() -> nn.Module:
        built.append(tiny())
        return built[-1]

    c = cfg(epochs=2, augment=AugmentConfig(pad=1, flip=True, erasing=0.5))
    a, b, other = (train(factory, tr, va, c, seed=s) for s in (7, 7, 8))
    assert curve(a) == curve(b)
    sa, sb, so = (m.state_dict() for m in built)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert curve(a) != curve(other)
    assert not all(torch.equal(sa[k], so[k]) for k in sa)


def test_global_rng_state_is_left_alone(data) -> None:
    tr, va = data
    torch.manual_seed(123)
    state = torch.get_rng_state()
    train(tiny, tr, va, cfg(epochs=1), seed=0)
    assert torch.equal(torch.get_rng_state(), state)


def test_deterministic_mode_restores_settings(data) -> None:
    tr, va = data
    before = torch.are_deterministic_algorithms_enabled()
    res = train(tiny, tr, va, cfg(epochs=1, deterministic=True))
    assert res.status == "ok"
    assert torch.are_deterministic_algorithms_enabled() == before


def test_early_stopping_restores_best_epoch_weights(data) -> None:
    tr, va = data
    torch.manual_seed(0)
    model = tiny()
    # min_delta = 1 makes epoch 1 the best for good: stop after `patience` more epochs
    res = train(
        model, tr, va, cfg(epochs=10, patience=2, min_delta=1.0, keep_best_state=True), seed=3
    )
    assert res.status == "ok" and "early stop" in res.message
    assert res.best_epoch == 1 and res.epochs_run == 3
    assert res.best_acc == res.history[0]["val_acc"]
    # the weights after exactly one epoch of the same run (schedule "none": same trajectory)
    torch.manual_seed(0)
    one = tiny()  # same initial weights
    train(one, tr, va, cfg(epochs=1), seed=3)
    want = one.state_dict()
    assert res.best_state is not None and set(res.best_state) == set(want)
    for k, v in want.items():
        assert res.best_state[k].device.type == "cpu"
        assert torch.equal(res.best_state[k], v), k
        assert torch.equal(model.state_dict()[k], v), f"module not restored: {k}"
    assert evaluate(model, va) == res.best_acc


def test_on_epoch_sees_each_entry_and_its_errors_propagate(data) -> None:
    tr, va = data
    seen: list[dict] = []
    res = train(tiny, tr, va, cfg(epochs=2), on_epoch=seen.append)
    assert seen == res.history

    def boom(entry: dict) -> None:
        raise KeyError("callback bug")

    with pytest.raises(KeyError, match="callback bug"):
        train(tiny, tr, va, cfg(epochs=2), on_epoch=boom)


def test_package_exports_the_engine() -> None:
    import deap_nas.evaluation as ev

    assert ev.train is train and ev.TrainConfig is TrainConfig and ev.DeviceDataset is DeviceDataset
    assert ev.AugmentConfig is AugmentConfig and ev.TrainResult is TrainResult
    assert ev.evaluate is evaluate and ev.predict_logits is predict_logits


def test_best_state_only_when_asked(data) -> None:
    tr, va = data
    assert train(tiny, tr, va, cfg(epochs=1)).best_state is None


def test_max_iterations_caps_optimizer_steps(data) -> None:
    tr, va = data
    res = train(tiny, tr, va, cfg(epochs=5, max_iterations=5))
    assert res.status == "ok" and res.iterations == 5 and res.epochs_run == 1
    assert "max_iterations" in res.message
    res = train(tiny, tr, va, cfg(epochs=5, max_iterations=12))
    assert res.iterations == 12 and res.epochs_run == 2


def test_init_state_is_loaded(data) -> None:
    tr, va = data
    donor = tiny()
    train(donor, tr, va, cfg(epochs=2), seed=1)
    acc = evaluate(donor, va)
    # lr tiny: the inherited weights barely move
    res = train(tiny, tr, va, cfg(epochs=1, lr=1e-9), seed=2, init_state=donor.state_dict())
    assert res.status == "ok" and abs(res.best_acc - acc) < 0.02
    with pytest.raises(ValueError, match="init_state"):
        train(tiny, tr, va, cfg(epochs=1), init_state={"bogus": torch.zeros(1)})


# ---------------------------------------------------------------------- statuses
def test_too_large_without_building(data) -> None:
    tr, va = data
    called = []

    def factory() -> nn.Module:
        called.append(True)
        return tiny()

    res = train(factory, tr, va, cfg(max_params=100), num_params=10_000)
    assert res.status == "too_large" and not called
    assert res.num_params == 10_000 and res.best_acc is None


def test_too_large_after_building(data) -> None:
    tr, va = data
    res = train(tiny, tr, va, cfg(max_params=100))
    assert res.status == "too_large" and res.iterations == 0
    assert res.num_params > 100 and "max_params" in res.message


def test_nan_status(data) -> None:
    tr, va = data
    res = train(NaNOut, tr, va, cfg())
    assert res.status == "nan" and res.best_acc is None
    assert res.iterations == 512 // 64 and res.epochs_run == 0


def test_crash_in_forward_is_a_status(data) -> None:
    tr, va = data
    res = train(lambda: Raises(RuntimeError("shape mismatch xyz")), tr, va, cfg())
    assert res.status == "crashed" and "shape mismatch xyz" in res.message
    assert "training epoch 1" in res.message


def test_crash_in_factory_is_a_status(data) -> None:
    tr, va = data

    def factory() -> nn.Module:
        raise ValueError("bad block")

    res = train(factory, tr, va, cfg())
    assert res.status == "crashed" and "bad block" in res.message and "build" in res.message


def test_out_of_memory_is_a_status(data) -> None:
    tr, va = data
    res = train(lambda: Raises(torch.cuda.OutOfMemoryError("CUDA out of memory")), tr, va, cfg())
    assert res.status == "oom"


def test_timeout_before_the_first_step(data) -> None:
    tr, va = data
    res = train(tiny, tr, va, cfg(time_limit=1e-9))
    assert res.status == "timeout" and res.best_acc is None and res.iterations == 0


def test_timeout_keeps_the_best_epoch_so_far(data) -> None:
    tr, va = data
    # epoch 1 = 8 steps + 1 eval forward, fast; then every forward sleeps 0.5 s
    model = SlowAfter(calls=9, seconds=0.5)
    res = train(model, tr, va, cfg(epochs=3, time_limit=1.5, keep_best_state=True))
    assert res.status == "timeout"
    assert res.epochs_run == 1 and res.best_epoch == 1 and res.best_acc is not None
    assert res.best_state is not None and 9 < res.iterations < 16


def test_argument_errors_raise(data) -> None:
    tr, va = data
    with pytest.raises(TypeError, match="config"):
        train(tiny, tr, va, {"epochs": 1})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="teacher_logits"):
        train(tiny, tr, va, cfg(), teacher_logits=torch.zeros(10, CLASSES))
    with pytest.raises(ValueError, match="reflect"):
        train(tiny, tr, va, cfg(augment=AugmentConfig(pad=8, pad_mode="reflect")))


# ---------------------------------------------------------------------- losses
def test_label_smoothing_matches_hand_computation() -> None:
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0]])
    y = torch.tensor([0, 1])
    eps, k = 0.2, 3
    want = 0.0
    for row, t in zip(logits.tolist(), y.tolist(), strict=True):
        logz = math.log(sum(math.exp(v) for v in row))
        nll = [logz - v for v in row]
        want += (1 - eps) * nll[t] + eps / k * sum(nll)
    want /= 2
    assert classification_loss(logits, y, eps).item() == pytest.approx(want, rel=1e-6)


def test_distillation_loss_matches_eigen_eq3() -> None:
    s = torch.tensor([[1.0, 2.0, -1.0], [0.0, -2.0, 1.5]])
    t = torch.tensor([[3.0, 0.5, 0.0], [-1.0, 1.0, 2.0]])
    y = torch.tensor([1, 2])
    alpha, T = 0.7, 4.0

    def softmax(v: list[float]) -> list[float]:
        e = [math.exp(a) for a in v]
        return [a / sum(e) for a in e]

    want = 0.0
    for si, ti, yi in zip(s.tolist(), t.tolist(), y.tolist(), strict=True):
        hard = -math.log(softmax(si)[yi])
        ps, pt = softmax([a / T for a in si]), softmax([a / T for a in ti])
        soft = -sum(p * math.log(q) for p, q in zip(pt, ps, strict=True))  # L_C(H(t/T), H(s/T))
        want += (1 - alpha) * hard + alpha * T * T * soft
    want /= 2
    got = distillation_loss(s, y, t, alpha, T).item()
    assert got == pytest.approx(want, rel=1e-6)
    # alpha = 0: plain cross-entropy
    assert distillation_loss(s, y, t, 0.0, T).item() == pytest.approx(
        classification_loss(s, y).item()
    )


def test_training_with_teacher_logits(data) -> None:
    tr, va = data
    teacher = tiny()
    train(teacher, tr, va, cfg(epochs=2), seed=0)
    logits = predict_logits(teacher, tr)
    assert logits.shape == (len(tr), CLASSES) and logits.dtype == torch.float32
    acc = (logits.argmax(1) == tr.labels).float().mean().item()
    assert acc > 0.5
    res = train(
        tiny,
        tr,
        va,
        cfg(epochs=2, distill_alpha=0.5, distill_temperature=2.0),
        teacher_logits=logits,
    )
    assert res.status == "ok" and res.best_acc > 0.6


def test_evaluate_matches_predicted_logits(data) -> None:
    tr, va = data
    model = tiny()
    model.train()
    acc = evaluate(model, va, batch_size=100)
    logits = predict_logits(model, va, batch_size=100)
    assert acc == pytest.approx((logits.argmax(1) == va.labels).float().mean().item())
    assert model.training  # mode restored


# ---------------------------------------------------------------------- schedules
def test_lr_schedules() -> None:
    c = cfg(lr=1.0, schedule="cosine", eta_min=0.0)
    assert (
        lr_at(c, 0, 10) == 1.0
        and lr_at(c, 5, 10) == pytest.approx(0.5)
        and lr_at(c, 10, 10) == pytest.approx(0)
    )
    c = cfg(lr=1.0, schedule="step", step_size=2, gamma=0.1)
    assert [round(lr_at(c, e, 10), 6) for e in (0, 1.9, 2, 4.5)] == [1.0, 1.0, 0.1, 0.01]
    c = cfg(lr=1.0, schedule="multistep", milestones=[1, 3], gamma=0.5)
    assert [lr_at(c, e, 10) for e in (0.5, 1, 2, 3)] == [1.0, 0.5, 0.5, 0.25]
    c = cfg(lr=1.0, schedule="cosine_restarts", t0=2, t_mult=2)
    assert lr_at(c, 0, 99) == 1.0 and lr_at(c, 2, 99) == pytest.approx(1.0)  # restart
    assert lr_at(c, 4, 99) == pytest.approx(0.5) and lr_at(c, 6, 99) == pytest.approx(1.0)


# ---------------------------------------------------------------------- config / result
@pytest.mark.parametrize(
    "kwargs, text",
    [
        ({"lr": -1}, "TrainConfig.lr: must be > 0, got -1"),
        ({"epochs": 0}, "TrainConfig.epochs:"),
        ({"batch_size": 2.5}, "TrainConfig.batch_size:"),
        ({"optimizer": "rmsprop"}, "TrainConfig.optimizer:"),
        ({"schedule": "linear"}, "TrainConfig.schedule:"),
        ({"label_smoothing": 1.0}, "TrainConfig.label_smoothing:"),
        ({"patience": 0}, "TrainConfig.patience:"),
        ({"schedule": "multistep", "milestones": [5, 2]}, "TrainConfig.milestones: must be increasing"),
        ({"schedule": "cosine_restarts", "t0": 0}, "TrainConfig.t0: must be > 0"),
        ({"amp": "fp16"}, "TrainConfig.amp:"),
        ({"channels_last": "yes"}, "TrainConfig.channels_last:"),
        ({"distill_alpha": 1.5}, "TrainConfig.distill_alpha:"),
        ({"time_limit": 0}, "TrainConfig.time_limit:"),
        ({"nesterov": True, "optimizer": "adam"}, "TrainConfig.nesterov:"),
        ({"betas": (0.9, 1.0)}, "TrainConfig.betas:"),
    ],
)
def test_config_validation_names_the_field(kwargs: dict, text: str) -> None:
    with pytest.raises(ValueError) as err:
        TrainConfig(**kwargs)
    assert text in str(err.value)


@pytest.mark.parametrize(
    "schedule, key, value",
    [
        ("cosine", "t0", 35),
        ("cosine", "t_mult", 2),
        ("none", "eta_min", 0.0),
        ("step", "eta_min", 0.001),
        ("cosine_restarts", "step_size", 3),
        ("cosine", "gamma", 0.1),
        ("step", "milestones", [2]),
        ("multistep", "t0", 5),
        ("multistep", "step_size", 2),
    ],
)
def test_a_schedule_setting_the_schedule_ignores_is_an_error(schedule: str, key: str, value) -> None:
    """``t0: 35`` with plain ``cosine`` used to be ignored silently (no restart happened)."""
    with pytest.raises(ValueError) as err:
        TrainConfig.from_dict({"schedule": schedule, key: value})
    text = str(err.value)
    assert text.startswith(f"TrainConfig.{key}: is ignored by schedule '{schedule}'"), text


def test_schedule_settings_default_only_where_used() -> None:
    c = TrainConfig(schedule="cosine_restarts")
    assert (c.t0, c.t_mult, c.eta_min, c.step_size, c.gamma, c.milestones) == (10.0, 1.0, 0.0, None, None, None)
    c = TrainConfig(schedule="multistep", milestones=[3])
    assert (c.gamma, c.milestones, c.t0, c.eta_min) == (0.1, (3,), None, None)
    d = TrainConfig(schedule="cosine").to_dict()
    assert d["eta_min"] == 0.0 and not {"t0", "t_mult", "step_size", "gamma", "milestones"} & set(d)
    assert TrainConfig.from_dict(d) == TrainConfig(schedule="cosine")


def test_earlier_run_configs_still_parse_with_their_fingerprint() -> None:
    """A run directory's config.yaml written before ignored settings became errors lists
    all six schedule settings at their old defaults; it parses, and its fingerprint (what
    resume compares) is the one that version computed (bf7cb881e173732f, measured on it)."""
    from deap_nas.runtime.config import ConfigError, parse_config

    cfg_ = {"training": {"epochs": 2, "schedule": "cosine"},
            "final_training": {"training": {"epochs": 3, "schedule": "multistep", "milestones": [2]}},
            "budget": {"generations": 1}}  # fmt: skip
    dump = parse_config(cfg_).to_dict()
    old = {"t0": 10.0, "t_mult": 1.0, "eta_min": 0.0, "step_size": 30, "gamma": 0.1, "milestones": []}
    for training in (dump["training"], dump["final_training"]["training"]):
        for key, value in old.items():
            training.setdefault(key, value)
    assert parse_config(dump) == parse_config(cfg_)
    assert parse_config(dump).fingerprint() == parse_config(cfg_).fingerprint() == "bf7cb881e173732f"
    dump["training"]["t0"] = 35.0  # not the old default: it was set, and cosine ignores it
    with pytest.raises(ConfigError, match=r"training\.t0: is ignored by schedule 'cosine'"):
        parse_config(dump)


def test_config_from_dict() -> None:
    c = TrainConfig.from_dict(
        {"epochs": 4, "augment": {"pad": 4, "flip": True}, "schedule": "multistep", "milestones": [2, 3]}
    )
    assert c.augment == AugmentConfig(pad=4, flip=True) and c.milestones == (2, 3)
    assert TrainConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    with pytest.raises(ValueError, match="learning_rate"):
        TrainConfig.from_dict({"learning_rate": 0.1})
    with pytest.raises(ValueError, match=r"TrainConfig\.augment: .*'crop'"):
        TrainConfig.from_dict({"augment": {"crop": 4}})


def test_result_to_dict_is_json(data) -> None:
    tr, va = data
    res = train(tiny, tr, va, cfg(epochs=1, keep_best_state=True))
    d = res.to_dict()
    assert "best_state" not in d
    text = json.dumps(d, allow_nan=False)
    back = TrainResult.from_dict(json.loads(text))
    assert back.best_acc == res.best_acc and back.history == res.history
    nan = TrainResult.failure("nan", "x", history=[{"train_loss": float("nan")}])
    json.dumps(nan.to_dict(), allow_nan=False)
    with pytest.raises(ValueError):
        TrainResult.failure("ok")
    with pytest.raises(ValueError, match="status"):
        TrainResult(status="fine")


# ---------------------------------------------------------------------- device data
def test_device_dataset_batches_and_normalize(data) -> None:
    tr, _ = data
    assert len(tr) == 512 and tr.num_classes == CLASSES and tr.shape == (1, 8, 8)
    g = torch.Generator()
    g.manual_seed(0)
    idx = list(tr.batches(100, shuffle=True, generator=g, drop_last=False))
    assert [len(i) for i in idx] == [100] * 5 + [12]
    assert sorted(torch.cat(idx).tolist()) == list(range(512))
    assert len(list(tr.batches(100, drop_last=True))) == 5
    x = tr.images[:3]
    want = (x.float() / 255 - tr.mean[0]) / tr.std[0]
    assert torch.allclose(tr.normalize(x), want, atol=1e-5)
    xs = tr.normalize(tr.images).double()
    assert abs(xs.mean().item()) < 1e-3 and abs(xs.std().item() - 1) < 1e-2
    black = tr.normalize(torch.zeros(1, 1, 2, 2, dtype=torch.uint8))
    assert torch.allclose(tr.black.expand_as(black), black)
    sub = tr.subset([0, 5])
    assert torch.equal(sub.images, tr.images[[0, 5]]) and sub.mean == tr.mean
    with pytest.raises(ValueError, match="uint8"):
        DeviceDataset.from_numpy(np.zeros((2, 1, 4, 4), np.float32), np.zeros(2))
