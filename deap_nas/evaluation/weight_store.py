"""Weight store: the best weights seen so far per reusable block, shared by a search.

Whenever a block reaches a validation accuracy higher than before, its weights are saved;
a new network then starts from the stored weights of its blocks instead of a random
initialisation.

A search space names the reusable blocks: ``space.weight_store_keys(genome)`` maps node ids
to keys, most specific first (e.g. a gene position, then a conv block kind). After a
training with validation accuracy ``acc``, every key whose stored accuracy is lower (or
absent) gets the tensors of the first node (lowest id) carrying it. Before a new network
trains, each node takes the tensors of its first key whose stored tensors have the same
names and shapes; other nodes keep their fresh initialisation.

On disk (one directory per run): ``<sha1 of key>.pt`` holds ``{"key", "accuracy",
"tensors"}`` (loaded with ``weights_only=True``) and ``<sha1>.json`` the key and accuracy,
each written atomically. Concurrent workers may race on one key; the last writer wins,
which at worst keeps the second-best weights of that key.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

import torch

from ..arch import Architecture


def _stem(key: str) -> str:
    return hashlib.sha1(key.encode()).hexdigest()


class WeightStore:
    """Best-accuracy weights per key under ``root`` (module doc)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def accuracy(self, key: str) -> float | None:
        """The stored accuracy of ``key``, or None when nothing is stored."""
        path = self.root / f"{_stem(key)}.json"
        try:
            return float(json.loads(path.read_text())["accuracy"])
        except (OSError, ValueError, KeyError):
            return None

    def save(self, key: str, tensors: Mapping[str, torch.Tensor], accuracy: float) -> bool:
        """Store ``tensors`` under ``key`` if ``accuracy`` beats the stored one; True if stored."""
        best = self.accuracy(key)
        if best is not None and not accuracy > best:
            return False
        self.root.mkdir(parents=True, exist_ok=True)
        stem = self.root / _stem(key)
        data = {"key": key, "accuracy": float(accuracy),
                "tensors": {k: v.detach().to("cpu").clone() for k, v in tensors.items()}}
        tmp = stem.with_suffix(".pt.tmp")
        torch.save(data, tmp)
        os.replace(tmp, stem.with_suffix(".pt"))
        tmp = stem.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"key": key, "accuracy": float(accuracy)}))
        os.replace(tmp, stem.with_suffix(".json"))
        return True

    def load(self, key: str) -> dict[str, torch.Tensor] | None:
        """The stored tensors of ``key`` (on the CPU), or None."""
        path = self.root / f"{_stem(key)}.pt"
        if not path.is_file():
            return None
        data = torch.load(path, map_location="cpu", weights_only=True)
        return dict(data["tensors"])

    def keys(self) -> dict[str, float]:
        """Every stored key with its accuracy."""
        out = {}
        for p in sorted(self.root.glob("*.json")):
            try:
                d = json.loads(p.read_text())
                out[d["key"]] = float(d["accuracy"])
            except (OSError, ValueError, KeyError):
                continue
        return out


def _node_prefix(arch: Architecture, node_id: int) -> str:
    from ..nn.network import node_key

    return f"nodes.{node_key(node_id, arch.node(node_id).op)}."


def save_best(store: WeightStore, arch: Architecture, state: Mapping[str, torch.Tensor],
              keys: Mapping[int, list[str]], accuracy: float) -> list[str]:
    """Store the node tensors of ``state`` under each key they beat (module doc); returns
    the keys written."""
    written, seen = [], set()
    for node_id in sorted(int(i) for i in keys):
        prefix = _node_prefix(arch, node_id)
        tensors = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if not tensors:
            continue
        for key in keys[node_id] if node_id in keys else keys[str(node_id)]:  # type: ignore[index]
            if key in seen:
                continue
            seen.add(key)
            if store.save(key, tensors, accuracy):
                written.append(key)
    return written


@torch.no_grad()
def load_best(store: WeightStore, arch: Architecture, net: torch.nn.Module,
              keys: Mapping[int, list[str]]) -> dict[int, str]:
    """Copy stored tensors into ``net`` (a built :class:`~deap_nas.nn.Network` of ``arch``):
    each node takes its first key whose tensors match by name and shape. Returns
    ``{node id: key loaded}``."""
    state = net.state_dict()
    loaded: dict[int, str] = {}
    cache: dict[str, dict[str, torch.Tensor] | None] = {}
    for node_id, node_keys in sorted((int(i), k) for i, k in keys.items()):
        prefix = _node_prefix(arch, node_id)
        dst = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if not dst:
            continue
        for key in node_keys:
            if key not in cache:
                cache[key] = store.load(key)
            src = cache[key]
            if src is None or set(src) != set(dst) or any(src[n].shape != dst[n].shape for n in dst):
                continue
            for n, t in dst.items():
                t.copy_(src[n].to(t.device, t.dtype))
            loaded[node_id] = key
            break
    return loaded
