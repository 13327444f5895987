"""The exceptions of modelseal, one per exit-status class of the tools (DESIGN §7)."""

from __future__ import annotations

import errno as _errno
from typing import Any, Optional, Tuple

__all__ = ["ModelsealError", "NotTrusted", "UnsafeContent", "UsageError", "ModelsealOSError"]


class ModelsealError(Exception):
    """Base of every modelseal error.

    ``str(e)`` is the one line the command-line tools print after ``modelseal:``; ``e.hint`` is what
    they print after ``hint:`` (often empty); ``e.exit_status`` is the tools' exit status for it
    (1 not trusted, 2 usage error, 3 I/O or system error).
    """

    exit_status: int = 3
    message: str
    hint: str

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.message, self.hint))


class NotTrusted(ModelsealError, PermissionError):
    """The model, a file of it, or its signature is not trusted: tampered, unlisted, missing,
    signed by a key the policy does not trust, revoked, expired. ``errno`` is ``EACCES``, as the
    loader shim refuses such an open."""

    exit_status = 1

    def __init__(self, message: str, hint: str = "") -> None:
        PermissionError.__init__(self, _errno.EACCES, message)
        self.message = message
        self.hint = hint


class UnsafeContent(NotTrusted):
    """The scanner found code (or content it cannot parse) where only data should be, e.g. a
    pickle that imports ``os.system``. ``e.report`` is the :class:`modelseal.ScanReport`."""

    report: Optional[Any]

    def __init__(self, message: str, hint: str = "", report: Optional[Any] = None) -> None:
        super().__init__(message, hint)
        self.report = report

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.message, self.hint, self.report))


class UsageError(ModelsealError, ValueError):
    """The caller asked for something malformed: a bad argument or policy, a path that is not part
    of the model (``../`` escapes, absolute paths), both ``policy`` and ``public_key``."""

    exit_status = 2


class ModelsealOSError(ModelsealError, OSError):
    """An I/O or system error. ``errno`` is that of the failed system call (``ENOENT``,
    ``EACCES``, ...) or ``None`` when the library did not name one."""

    exit_status = 3

    def __init__(self, message: str, hint: str = "", errno: Optional[int] = None) -> None:
        OSError.__init__(self, errno, message)
        self.message = message
        self.hint = hint

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.message, self.hint, self.errno))


def from_status(status: int, message: str, hint: str, err: int) -> ModelsealError:
    """The exception for a C API status and this thread's last error."""
    if status == 1:
        return NotTrusted(message, hint)
    if status == 2:
        return UsageError(message, hint)
    return ModelsealOSError(message or "i/o error", hint, err or None)
