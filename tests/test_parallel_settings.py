"""``parallel.threads`` (default cores // workers, a warning past the cores),
``parallel.workers_per_device`` and ``parallel.memory_fraction``."""

from __future__ import annotations

import pytest

from deap_nas.runtime.config import ParallelConfig, parse_config
from deap_nas.runtime.parallel import plan_threads
from deap_nas.runtime.schema import ConfigError
from deap_nas.runtime.worker import device_index, memory_cap

BASE = {"budget": {"evaluations": 1}}


def parallel(**kw: object) -> ParallelConfig:
    return parse_config({**BASE, "parallel": kw}).parallel


@pytest.mark.parametrize(("settings", "cores", "threads", "workers"), [
    ({"backend": "serial"}, 8, 8, 1),
    ({"backend": "process", "workers": 2}, 8, 4, 2),
    ({"backend": "process", "workers": 3}, 8, 2, 3),
    ({"backend": "process", "workers": 4}, 2, 1, 4),  # at least 1
    ({"backend": "auto", "workers": 2}, 2, 1, 2),
    ({"backend": "process", "workers": 2, "threads": 3}, 8, 3, 2),  # given: kept
    ({"backend": "dask", "workers": 2, "dask": {"threads_per_worker": 2}}, 8, 2, 4),
    ({"backend": "dask", "workers": 2, "dask": {"scheduler": "tls://h:1", "security":
      {"ca_file": "a", "cert": "b", "key": "c"}}}, 8, 1, 0),  # remote workers: unknown here
])  # fmt: skip
def test_threads_default_to_cores_over_workers(settings, cores, threads, workers):
    plan = plan_threads(parallel(**settings), cores=cores)
    assert (plan.threads, plan.workers, plan.cores) == (threads, workers, cores)
    assert plan.given == ("threads" in settings)


def test_more_threads_than_cores_is_warned_with_the_numbers_and_the_fix():
    plan = plan_threads(parallel(backend="process", workers=2, threads=2), cores=2)
    warning = plan.warning()
    assert warning is not None and "\n" not in warning
    assert "2 workers x 2 threads = 4 > 2 cores" in warning and "parallel.threads: 1" in warning
    assert plan_threads(parallel(backend="process", workers=2, threads=1), cores=2).warning() is None
    assert plan_threads(parallel(backend="process", workers=2), cores=2).warning() is None  # the default fits


def test_the_shipped_configs_use_one_thread():
    from deap_nas.runtime.config import read_yaml
    from deap_nas.shipped import shipped_configs

    for shipped in shipped_configs():
        threads = (read_yaml(shipped.path).get("parallel") or {}).get("threads")
        assert threads in (None, 1), f"{shipped.name}: parallel.threads {threads}"


@pytest.mark.parametrize(("workers", "gpus", "k", "expected"), [
    (4, 1, 1, [0, 0, 0, 0]),
    (4, 2, 1, [0, 1, 0, 1]),  # as before: worker i mod n
    (4, 2, 2, [0, 0, 1, 1]),
    (6, 2, 2, [0, 0, 1, 1, 0, 0]),
    (3, 4, 3, [0, 0, 0]),
])  # fmt: skip
def test_workers_per_device_groups_workers_on_a_gpu(workers, gpus, k, expected):
    assert [device_index(i, gpus, k) for i in range(workers)] == expected


def test_memory_cap_defaults_to_a_share_of_the_gpu():
    assert memory_cap(None, 1) is None
    assert memory_cap(None, 4) == 0.25
    assert memory_cap(0.5, 4) == 0.5


@pytest.mark.parametrize(("settings", "message"), [
    ({"workers_per_device": 0}, "parallel.workers_per_device: must be >= 1"),
    ({"workers_per_device": 1.5}, "parallel.workers_per_device"),
    ({"memory_fraction": 0}, r"parallel.memory_fraction: must be in \(0, 1\]"),
    ({"memory_fraction": 1.5}, r"parallel.memory_fraction: must be in \(0, 1\]"),
])  # fmt: skip
def test_bad_sharing_settings_name_the_field(settings, message):
    with pytest.raises(ConfigError, match=message):
        parallel(**settings)


def test_sharing_settings_reach_the_worker_context_and_leave_old_dumps_alone():
    from deap_nas.runtime.search import evaluation_context, make_space

    config = parse_config({**BASE, "parallel": {"workers_per_device": 2, "memory_fraction": 0.4}})
    context = evaluation_context(config, make_space(config))
    assert (context["workers_per_device"], context["memory_fraction"]) == (2, 0.4)
    plain = parse_config(BASE)
    assert "workers_per_device" not in plain.to_dict()["parallel"]
    assert "workers_per_device" not in evaluation_context(plain, make_space(plain))


@pytest.mark.gpu
def test_the_memory_cap_is_applied_on_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from deap_nas.runtime.worker import limit_memory

    limit_memory("cuda:0", 0.5)  # accepted by torch; a later allocation beyond it fails
    with pytest.raises(torch.cuda.OutOfMemoryError):
        free, total = torch.cuda.mem_get_info(0)
        torch.empty(int(total * 0.6), dtype=torch.uint8, device="cuda:0")
    limit_memory("cuda:0", 1.0)
