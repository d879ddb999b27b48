"""The exceptions the SDK raises. Every one is a :class:`HypeError`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional, Type

if TYPE_CHECKING:  # pragma: no cover
    from .models import Job


class HypeError(Exception):
    """An error from hyped, or on the way to it.

    ``status`` is the HTTP status (``None`` when no answer came back),
    ``code`` the API's stable snake_case code (``vm_not_found``,
    ``name_taken``, ...) and ``message`` its human text. The API key is
    never part of either.
    """

    def __init__(self, message: str, *, status: Optional[int] = None, code: str = "error") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def __str__(self) -> str:
        where = f"HTTP {self.status}, " if self.status is not None else ""
        return f"{self.message} ({where}{self.code})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, message={self.message!r})"

    def __reduce__(self) -> Any:  # picklable, with its keyword arguments
        return (_rebuild, (type(self), self.message, self.status, self.code, self.__dict__))


def _rebuild(cls: Type[HypeError], message: str, status: Optional[int], code: str,
             state: Dict[str, Any]) -> HypeError:
    err = cls.__new__(cls)
    HypeError.__init__(err, message, status=status, code=code)
    err.__dict__.update(state)
    return err


class HypeConnectionError(HypeError):
    """hyped could not be reached (refused, reset, DNS, TLS)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=None, code="connection_error")


class HypeTimeoutError(HypeError):
    """A wait (for a VM's state, a job's end, an answer) ran out of time."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=None, code="timeout")


class JobFailedError(HypeError):
    """``job.wait()`` saw the job fail or get cancelled; ``.job`` is its last state."""

    def __init__(self, job: "Job") -> None:
        code = "job_cancelled" if job.state == "cancelled" else "job_failed"
        super().__init__(
            f"job {job.id} ({job.image}) {job.state}: {job.error or 'no reason given'}",
            status=None,
            code=code,
        )
        self.job = job
