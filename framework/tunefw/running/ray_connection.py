"""Which Ray a run uses: an embedded one on 127.0.0.1, or a cluster at an address.

Ray's address resolution turns ``127.0.0.1`` into the machine's network address unless
multi-node support is off; with it off, a loopback address stays loopback. tunefw turns it off
for the embedded Ray and for any loopback cluster address (the local development cluster
listens on 127.0.0.1 only).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ray

from tunefw import compat
from tunefw.errors import TunefwError, last_line

#: Ray's switch for multi-node support; "0" keeps addresses on the loopback.
MULTI_NODE_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def embedded_env() -> dict[str, str]:
    """Environment for an embedded, single-machine Ray that stays on 127.0.0.1.

    Ray turns token authentication on for a new local instance; given a token made for this
    process alone, it neither reads nor writes ``~/.ray/auth_token``.
    """
    env = {
        MULTI_NODE_ENV: "0",
        # Trials keep the driver's working directory, so relative paths mean the same there.
        "RAY_CHDIR_TO_TRIAL_DIR": "0",
        **compat.RAY_NO_PRESTART_ENV,
    }
    if "RAY_AUTH_MODE" not in os.environ and "RAY_AUTH_TOKEN" not in os.environ:
        env["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    return env


def keep_on_loopback() -> None:
    """Make this process (and the Ray processes it starts) resolve 127.0.0.1 to itself.

    The variable is for child processes; this process read it when ``ray`` was imported, so
    the constant is set too.
    """
    os.environ[MULTI_NODE_ENV] = "0"
    compat.disable_multi_node()


def start_embedded_ray(**init_kwargs: Any) -> None:
    """Start a single-node Ray bound to 127.0.0.1, without a dashboard."""
    os.environ.update(embedded_env())
    keep_on_loopback()
    auth_log = logging.getLogger(compat.RAY_AUTH_LOGGER)
    level = auth_log.level
    auth_log.setLevel(logging.ERROR)  # "token auth enabled" is the intended state, not news
    try:
        ray.init(include_dashboard=False, logging_level=logging.WARNING, **init_kwargs)
    finally:
        auth_log.setLevel(level)


def is_loopback(address: str) -> bool:
    """Whether ``host:port`` (or a URL) names this machine's loopback interface."""
    host = address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_address(address: str, timeout_s: float = 5) -> None:
    """Refuse a ``host:port`` where nothing listens, at once and on one line: given one, Ray
    retries for minutes, logging as it goes. ``auto`` and ``ray://`` addresses go to Ray."""
    if address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except ValueError:
        raise TunefwError(f"--address {address}: expected HOST:PORT of the head") from None
    except OSError as exc:
        raise TunefwError(
            f"--address {address}: nothing answers there ({exc.strerror or exc})"
        ) from None


def connect(address: str) -> None:
    """Join the running cluster at ``address`` (host:port of its GCS), one line on failure."""
    check_address(address)
    if is_loopback(address):
        keep_on_loopback()
    try:
        ray.init(address=address, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise TunefwError(
            f"--address {address}: cannot join the Ray cluster: {last_line(exc)}"
        ) from None


@contextmanager
def ray_session(address: str | None) -> Iterator[None]:
    """Join ``address``, or start an embedded Ray; reuse one already initialised."""
    if ray.is_initialized():
        yield
        return
    if address:
        connect(address)
    else:
        start_embedded_ray()
    try:
        yield
    finally:
        ray.shutdown()
