"""tunefw's exceptions: one root, so callers and the CLI catch user-facing errors in one place.

Every message is meant to be shown as is, on one line, and to name the field, file or plugin
at fault. The CLI maps a ``TunefwError`` to exit code 2.
"""


def last_line(exc: BaseException) -> str:
    """The last non-empty line of ``exc``'s message (Ray's errors end with their cause), or
    its type's name: what a one-line error can say of a third-party failure."""
    return last_line_of(str(exc)) or type(exc).__name__


def last_line_of(text: str) -> str:
    """The last non-empty line of ``text`` (a traceback's: the exception and its message)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def printable(text: str) -> str:
    """``text`` with its non-printable characters escaped (``\\x00``, ``\\n``), so a message
    quoting a file's or a user's text shows no control bytes and stays on one line."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def first_line(exc: BaseException) -> str:
    """The first non-empty line of ``exc``'s message, escaped; empty if it has none."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return printable(lines[0]) if lines else ""


def describe(exc: BaseException) -> str:
    """``Type: first line of the message``, or the type alone: what a one-line error can say
    of an exception raised by code tunefw does not own."""
    line = first_line(exc)
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


class TunefwError(Exception):
    """Root of every error tunefw raises on purpose."""


class RecipeError(TunefwError):
    """The recipe file, a ``--set`` override or a CLI flag is invalid."""


class SpaceError(RecipeError):
    """The search space cannot be built or cannot be used by the chosen strategy."""


class PluginError(TunefwError):
    """A plugin is unknown, fails to load, or refuses its params or its target."""


class StoreError(TunefwError):
    """The result store cannot be written or read."""


class TrialsFailedError(TunefwError):
    """Every trial of a run errored; their rows, with the tracebacks, stay in the store."""


class MetricError(TunefwError):
    """The trainable did not report the objective's metric."""


class ScaffoldError(TunefwError):
    """``tunefw new-plugin`` was given an unknown kind, a bad name or a directory in use."""
