"""Shared fixtures: one embedded Ray for the whole session, and an isolated home.

The environment is fixed before anything imports Ray: Ray reads some variables at import,
and turns token auth on when ``~/.ray/auth_token`` exists, so tests get a home of their own.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["HOME"] = tempfile.mkdtemp(prefix="tunefw-test-home-")
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ.setdefault("RAY_DEDUP_LOGS", "0")

import ray

from tunefw.runner import start_embedded_ray

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """The one Ray instance of the test session: embedded, 2 CPUs, on 127.0.0.1."""
    start_embedded_ray(num_cpus=2)
    yield
    ray.shutdown()


@pytest.fixture
def recipe_file(tmp_path: Path):
    """Write a recipe from YAML text into ``tmp_path`` and return its path."""

    def write(text: str, name: str = "recipe.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
