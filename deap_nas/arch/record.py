"""An architecture file with its head: what ``best/`` and ``deap-nas export`` write.

The network a search trained is the architecture *and* its classifier head (the head is
not part of the architecture description, nor of its hash). A file written for a found
network records the head beside the description, as a top-level ``"head"`` key holding
the resolved :class:`~deap_nas.arch.heads.HeadSpec` (``{"name": "mlp3", "dropout": 0.0}``);
:meth:`Architecture.from_dict` ignores the key, so such a file reads as a plain
architecture too. Files written before heads were recorded have no ``"head"``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .architecture import Architecture
from .errors import ArchitectureError
from .heads import HeadSpec

__all__ = ["architecture_with_head", "recorded_head"]


def architecture_with_head(arch: Architecture, head: str | Mapping[str, Any] | HeadSpec | None) -> str:
    """``arch`` as JSON text with the resolved ``head`` recorded (``"head"`` key)."""
    data = arch.to_dict()
    data["head"] = HeadSpec.parse(head).to_dict()
    return json.dumps(data, indent=2)


def recorded_head(data: Mapping[str, Any] | str) -> HeadSpec | None:
    """The head recorded in an architecture file's data (or JSON text); None when the
    file records none. A recorded head that is not a valid head is an
    :class:`ArchitectureError`."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as e:
            raise ArchitectureError(f"architecture JSON is not valid JSON: {e}") from None
    if not isinstance(data, Mapping) or data.get("head") is None:
        return None
    try:
        return HeadSpec.parse(data["head"])
    except ValueError as e:
        raise ArchitectureError(f"recorded head: {e}") from None
