"""The configs shipped inside the package (``deap_nas/experiments/``), found by name.

``deap-nas run immunecs-fashion-mnist-quick`` runs ``experiments/configs/immunecs_fashion_mnist_quick.yaml``
of the installed package; ``deap-nas configs`` lists what is shipped. A name is the file
stem, ``-`` and ``_`` alike, ``.yaml`` optional. An existing file always wins over a
shipped name. Standard library only: nothing here imports torch or the rest of the package.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = ["KINDS", "ShippedConfig", "UnknownConfigError", "describe", "resolve_config", "shipped_configs", "shipped_dir"]

#: kind -> folder under ``deap_nas/experiments/``
KINDS = {"run": "configs", "study": "studies"}


class UnknownConfigError(ValueError):
    """Neither a file nor a shipped config name; the message lists close names."""


@dataclass(frozen=True)
class ShippedConfig:
    """One shipped YAML file: its name (the stem), path and one-line description."""

    name: str
    path: Path
    description: str
    study: str | None = None  # a study config's ``study:`` value


def shipped_dir(kind: str = "run") -> Path:
    """The folder of the shipped ``kind`` configs (``run``: search and teacher configs,
    ``study``: study configs) in the installed package."""
    return Path(str(resources.files("deap_nas") / "experiments" / KINDS[kind]))


def describe(text: str, limit: int = 100) -> str:
    """The first sentence of a YAML file's header comment (the ``#`` lines before the first
    key), at most ``limit`` characters; "" without a header comment."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    header = " ".join(x for x in lines if x)
    sentence = re.split(r"(?<=[.!?])(?<!\bsec\.)(?<!\bal\.)(?<!\bFig\.)\s+(?=[A-Z(])", header, maxsplit=1)[0]
    return sentence if len(sentence) <= limit else sentence[: limit - 3].rstrip() + "..."


def shipped_configs(kind: str = "run") -> list[ShippedConfig]:
    """Every shipped ``kind`` config, by name."""
    out = []
    for path in sorted(shipped_dir(kind).glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        study = re.search(r"^study:\s*([\w-]+)", text, re.MULTILINE)
        out.append(ShippedConfig(path.stem, path, describe(text), study.group(1) if study else None))
    return out


def _key(name: str) -> str:
    name = name.strip()
    for suffix in (".yaml", ".yml"):
        name = name.removesuffix(suffix)
    return name.replace("-", "_").lower()


def resolve_config(arg: str, kind: str = "run") -> str:
    """``arg`` itself when it is a file or looks like a path (has a folder part); else the
    shipped ``kind`` config of that name. An unknown name raises UnknownConfigError with
    the close names."""
    if Path(arg).exists() or Path(arg).parent != Path("."):
        return arg
    names = {c.name: c.path for c in shipped_configs(kind)}
    key = _key(arg)
    if key in names:
        return str(names[key])
    close = difflib.get_close_matches(key, names, n=4, cutoff=0.5)
    hint = f"; close names: {', '.join(close)}" if close else ""
    raise UnknownConfigError(
        f"config {arg!r}: no such file and no shipped {kind} config of that name{hint} "
        f"(deap-nas configs lists them)"
    )
