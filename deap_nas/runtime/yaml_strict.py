"""YAML reading for configs: ``yaml.SafeLoader`` that refuses duplicate mapping keys,
and one-line errors for files that cannot be read or parsed.

PyYAML keeps the last of two equal keys silently (``lr: 0.1`` then ``lr: 10`` gives
10); :class:`StrictLoader` raises instead, naming the key and both lines. Keys merged in
with ``<<: *anchor`` may still be overridden, as YAML defines. Every run,
study and teacher config, every ``--set`` value and every saved ``config.yaml`` is read
through :func:`load_yaml_text` (``runtime.config.read_yaml`` for files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .schema import ConfigError


class StrictLoader(yaml.SafeLoader):
    """``SafeLoader`` whose mappings may not repeat a key."""


def _construct_mapping(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # ``<<: *base``: its keys may be overridden
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:  # an unhashable key: SafeLoader reports it below
            continue
        line = key_node.start_mark.line + 1
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (lines {first} and {line})", key_node.start_mark)
        seen[key] = line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def yaml_error_line(e: yaml.YAMLError) -> str:
    """A YAML error as one line: the problem and where (``line 3, column 5``)."""
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    mark = getattr(e, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return " ".join(f"{problem}{where}".split())


def load_yaml_text(text: str, source: str) -> Any:
    """``text`` parsed with :class:`StrictLoader`; errors are a ConfigError naming ``source``."""
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: not valid YAML: {yaml_error_line(e)}") from None


def read_text_file(path: str | Path, what: str = "config file") -> str:
    """The UTF-8 text of ``path``; a missing file, a directory, an unreadable or a
    non-UTF-8 file is a ConfigError naming the path and the cause."""
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{what} {p} is a directory, not a file")
    if not p.exists():
        raise ConfigError(f"{what} not found: {p}")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{what} {p} is not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start})") from None
    except OSError as e:
        raise ConfigError(f"{what} {p} cannot be read: {e.strerror or e}") from None
