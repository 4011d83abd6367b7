"""What Linux's /proc says of a process: start time, command line, group, environment.

A pid in a state file may name another process by the time it is read (pids are reused), so the
local cluster signals a recorded pid only while its start time and command line are still the
ones recorded when it was started.
"""

from __future__ import annotations

from pathlib import Path

PROC = Path("/proc")


def available() -> bool:
    """Whether this system has Linux's /proc, by which processes are told apart."""
    return (PROC / "self" / "stat").is_file()


def _stat(pid: int) -> list[str] | None:
    """Fields 3 onward of ``/proc/PID/stat`` (after the command name, which may hold spaces
    and parentheses); None for a process that is gone or a zombie."""
    try:
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else fields


def start_time(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks after boot (field 22); None if it is gone."""
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def command_line(pid: int) -> list[str] | None:
    """The arguments ``pid`` was started with; None if it is gone."""
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    return raw.decode(errors="surrogateescape").split("\0")[:-1]


def has_env(pid: int, name: str, value: str) -> bool:
    """Whether ``pid`` was started with ``name=value`` in its environment."""
    try:
        environ = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return False
    return f"{name}={value}".encode() in environ.split(b"\0")


def group_members(group: int) -> list[int]:
    """The live processes of process group ``group``; zombies, which a container's init may
    never reap, do not count."""
    members = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and int(fields[2]) == group:
                members.append(int(entry.name))
    return members
