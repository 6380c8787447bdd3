"""The product's exceptions.

Every error a user can cause (a bad file, a bad range, missing weights) is a `GVMGenError`:
the CLI prints its message on one line and exits 2; the backend turns it into a structured
error reply. Messages name the bad value and what was expected.
"""


class GVMGenError(Exception):
    """Base of every error a user can act on."""


class InputError(GVMGenError, ValueError):
    """A request, flag or argument that does not make sense (names the field)."""


class MediaError(GVMGenError):
    """A media file that is missing, unreadable, or not the kind expected."""


class TimelineError(GVMGenError):
    """A timeline that cannot be read, or a range that does not fit it."""


class MissingMediaError(TimelineError):
    """A clip's media file is not where the timeline says; names the clip and the path."""

    def __init__(self, clip: str, path: str, hint: str = ""):
        self.clip, self.path = clip, path
        msg = f"media for clip {clip!r} not found at {path!r}"
        super().__init__(msg + (f"; {hint}" if hint else ""))


class EngineError(GVMGenError):
    """A music engine that cannot run here (unknown name, no weights, no device)."""


class WeightsError(EngineError):
    """Model weights missing, incomplete or mismatched."""


class Cancelled(GVMGenError):
    """The user or the backend cancelled a running job."""
