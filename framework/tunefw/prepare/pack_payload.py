"""What a pack carries: its configs in, its configs' results out.

A pack's Ray Tune config is ``{PACK_KEY: [{"id": ..., "config": {...}}, ...]}``. Each result
it reports carries, under ``DONE_KEY``, the configs that ended since its last report, each
whole: every result it reported, its final status and error. A config is reported only once
it has ended, so the store never holds a partial config from a pack that is retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

PACK_KEY = "tunefw_pack"
DONE_KEY = "tunefw_done"


@dataclass(frozen=True)
class PackedConfig:
    """One config of a pack, under the trial id it is stored as."""

    id: str
    config: dict[str, Any]


@dataclass
class EndedConfig:
    """A config that has ended: its results in order, its status and its error text."""

    id: str
    config: dict[str, Any]
    results: list[dict[str, Any]] = field(default_factory=list)
    status: str = ""
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pack_of(config: Mapping[str, Any]) -> list[PackedConfig] | None:
    """The configs of a pack's Ray Tune config, or None for an ordinary trial."""
    items = config.get(PACK_KEY)
    if items is None:
        return None
    return [PackedConfig(item["id"], item["config"]) for item in items]


def ended_in(result: Mapping[str, Any]) -> list[EndedConfig]:
    """The configs a pack's result reports as ended."""
    return [EndedConfig(**item) for item in result.get(DONE_KEY, ())]
