"""The product's exceptions.

Every error a user can cause (a bad file, a bad range, missing weights) is a `GVMGenError`:
the CLI prints its message on one line and exits 2; the backend sends `to_dict()` as the
structured error reply. Messages name the bad value and what was expected.

Each error carries a snake_case `code` (a class default, or given), the one-line `message`
(also `str(error)`), and optionally the request `field` at fault and a `hint` saying what to do.
"""

from __future__ import annotations


class GVMGenError(Exception):
    """Base of every error a user can act on."""

    code = "error"

    def __init__(
        self,
        message: str = "",
        *,
        field: str | None = None,
        hint: str | None = None,
        code: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        self.hint = hint
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict:
        """`{"code", "message", "field"?, "hint"?}`: what the backend replies with."""
        out = {"code": self.code, "message": self.message}
        if self.field is not None:
            out["field"] = self.field
        if self.hint is not None:
            out["hint"] = self.hint
        return out

    def __reduce__(self):  # keyword fields survive pickling (process pools, job queues)
        return _restore, (type(self), self.message, dict(self.__dict__))


def one_line(message: str, hint: str | None) -> str:
    """The message, with the hint in brackets unless the message already says it."""
    if not hint or hint in message:
        return message
    return f"{message} ({hint})"


def _restore(cls: type, message: str, state: dict) -> GVMGenError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class InputError(GVMGenError, ValueError):
    """A request, flag or argument that does not make sense (names the field)."""

    code = "invalid_request"


class MediaError(GVMGenError):
    """A media file that is missing, unreadable, or not the kind expected."""

    code = "media_error"


class TimelineError(GVMGenError):
    """A timeline that cannot be read, or a range that does not fit it."""

    code = "timeline_error"


class MissingMediaError(TimelineError):
    """A clip's media file is not where the timeline says; names the clip and the path."""

    code = "media_missing"

    def __init__(self, clip: str, path: str, hint: str = "", also_missing: int = 0):
        self.clip, self.path = clip, path
        msg = f"media for clip {clip!r} not found at {path!r}"
        if also_missing:
            msg += f"; {also_missing} more clip(s) also missing"
        super().__init__(msg + (f"; {hint}" if hint else ""), field="input", hint=hint or None)


class EngineError(GVMGenError):
    """A music engine that cannot run here (unknown name, no weights, no device)."""

    code = "engine_error"


class WeightsError(EngineError):
    """Model weights missing, incomplete or mismatched."""

    code = "no_weights"


class OutOfMemory(EngineError):
    """The accelerator ran out of memory (CUDA OOM) while making music."""

    code = "out_of_memory"


class OutputError(GVMGenError):
    """The output folder cannot take this run's files (not writable, a file, unreadable report)."""

    code = "output_not_writable"


class JobError(GVMGenError):
    """A job id that cannot be used now: running elsewhere, or used for another request."""

    code = "job_conflict"


class Cancelled(GVMGenError):
    """The user or the backend cancelled a running job."""

    code = "cancelled"


class Paused(GVMGenError):
    """The job stopped at a cue boundary because its server is stopping: unlike `Cancelled`,
    its staging folder and cue checkpoints are kept, so the same job id resumes it."""

    code = "paused"
