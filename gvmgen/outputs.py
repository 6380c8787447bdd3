"""The output folder: takes kept on disk, per-job staging, checkpoints, locks and the commit.

Layout of `--out DIR`:

    DIR/score.otio              the input timeline with the "GVMGen Score" track (latest take)
    DIR/report.json             the ScoreResult of the latest run (lists every take)
    DIR/report.png              the picture an editor reads at a glance
    DIR/takes/take-NN/cue-MM.wav  48 kHz 24-bit WAVs, one folder per take, never overwritten
    DIR/preview.mp4             the video with the music muxed in (on request)

A job works in `DIR/.staging-<job id>/`: `job.json` (what the job is and the takes it reserved),
`cues/take-NN/cue-MM.npz` (each finished cue as plain arrays and JSON, read back without
pickle, so a crashed job resumes where it stopped) and
`out/` (the files of the run, laid out as in DIR). Only the commit moves them into DIR: WAVs
first, `report.json` last, so a report never names a WAV that is not there. A job that fails or
is cancelled removes its staging folder and the take folders it reserved; one killed outright
leaves them for the next run with the same job id.

Take numbers are reserved by an exclusive `mkdir` of `DIR/.reservations/take-NN` (hidden, so
`takes/` only ever holds complete takes, even after a job killed and never run again), under a
lock on DIR, after looking at the report, at the take folders on disk and at other jobs'
reservations. The commit creates `takes/take-NN/` and then drops the reservation.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gvmgen.atomic import atomic_path, write_text_atomic
from gvmgen.errors import JobError, OutputError

REPORT_NAME = "report.json"
STAGING_PREFIX = ".staging-"
RESERVATIONS = ".reservations"
JOB_FILE = "job.json"
_USER_ERRNOS = {
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
    errno.ENOSPC,
    errno.EDQUOT,
    errno.ENOTDIR,
    errno.ENOENT,  # the folder (or a parent) removed while the job ran
}


@dataclass(frozen=True)
class PreviousScore:
    """What an earlier run left in DIR: which input and range, the takes on disk, the report."""

    input: str
    range_in: str
    range_out: str
    takes: list[dict]
    report: dict = field(default_factory=dict)

    @property
    def next_take(self) -> int:
        return max((t["take"] for t in self.takes), default=0) + 1

    @property
    def seeds(self) -> set[int]:
        return {t["seed"] for t in self.takes}

    def takes_of(self, job_id: str) -> list[dict]:
        return [t for t in self.takes if t.get("job_id") == job_id]


def read_previous(out_dir: Path) -> PreviousScore | None:
    """The earlier score in `out_dir`; None when there is none.

    A report that is there but cannot be read is an `OutputError`: scoring on would forget the
    takes it lists and could write over them.
    """
    report = Path(out_dir) / REPORT_NAME
    if not report.exists():
        return None
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
        takes = [dict(t, take=int(t["take"]), seed=int(t["seed"])) for t in data["takes"]]
        return PreviousScore(data["input"], data["range_in"], data["range_out"], takes, data)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise OutputError(
            f"{str(report)!r} is unreadable ({type(error).__name__}: {error}); move it away or "
            "score into a new --out folder (takes in the folder are never overwritten)",
            field="out_dir",
            code="report_unreadable",
        ) from None


def take_dir_name(take: int) -> str:
    return f"take-{take:02d}"


def cue_wav_name(cue_index: int) -> str:
    return f"cue-{cue_index + 1:02d}.wav"


def check_out_dir(out_dir: Path) -> None:
    """An OutputError when `out_dir` cannot be an output folder (a file, or under one)."""
    for folder in (out_dir, *out_dir.parents):
        if folder.exists():
            if not folder.is_dir():
                raise OutputError(
                    f"--out must be a folder, but {str(folder)!r} is a file", field="out_dir"
                )
            if not os.access(folder, os.W_OK | os.X_OK):
                raise _not_writable(out_dir, f"no write permission in {str(folder)!r}")
            return


@contextlib.contextmanager
def user_os_errors(out_dir: Path) -> Iterator[None]:
    """Turn the OSErrors a user can fix (permissions, full disk, a file in the way) under
    `out_dir` into one-line `OutputError`s."""
    try:
        yield
    except OSError as error:
        where = str(error.filename or "")
        ours = where and (where.startswith(str(out_dir)) or str(out_dir).startswith(where))
        if error.errno in _USER_ERRNOS and ours:  # the folder, a file in it, or a parent
            raise _not_writable(out_dir, error.strerror or str(error)) from error
        raise


def _not_writable(out_dir: Path, reason: str) -> OutputError:
    return OutputError(
        f"cannot write to --out {str(out_dir)!r}: {reason}; choose a folder you can write to",
        field="out_dir",
        hint="pass --out with a folder on a writable disk",
    )


@contextlib.contextmanager
def folder_lock(folder: Path, blocking: bool = True) -> Iterator[bool]:
    """An exclusive advisory lock on `folder` itself (flock on the folder; no lock file left).

    Yields False instead of waiting when `blocking` is False and another process holds it.
    """
    fd = os.open(folder, os.O_RDONLY)
    try:
        held = _lock(fd, blocking)
        yield held
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _lock(fd: int, blocking: bool) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows: folders cannot be locked; jobs there must not share a folder
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


class Job:
    """One job's staging folder in `out_dir`: reservations, checkpoints, staged outputs, commit.

    Use `Job.open(out_dir, job_id)`; the job's lock is held until the block ends.
    """

    def __init__(self, out_dir: Path, job_id: str, created_out_dir: bool):
        self.out_dir = out_dir
        self.job_id = job_id
        self.stage = out_dir / f"{STAGING_PREFIX}{job_id}"
        self.created_out_dir = created_out_dir
        self.reserved: list[tuple[int, int]] = []

    @classmethod
    @contextlib.contextmanager
    def open(cls, out_dir: Path, job_id: str) -> Iterator[Job]:
        """Create (or reopen, after a crash) the job's staging folder and hold its lock.

        JobError when the same job id is running right now.
        """
        created = not out_dir.exists()
        with user_os_errors(out_dir):
            out_dir.mkdir(parents=True, exist_ok=True)
            job = cls(out_dir, job_id, created)
            job.stage.mkdir(exist_ok=True)
            with folder_lock(job.stage, blocking=False) as held:
                if not held:
                    raise JobError(
                        f"job {job_id!r} is already running in {str(out_dir)!r}; wait for it "
                        "or give another --job-id",
                        field="job_id",
                        code="job_running",
                    )
                yield job

    @property
    def out(self) -> Path:
        """Where the run's files are staged, laid out as in the output folder."""
        return self.stage / "out"

    def read_state(self) -> dict | None:
        """What a crashed run of this job left: {"fingerprint", "takes"}, or None."""
        try:
            return json.loads((self.stage / JOB_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def check_request(self, fingerprint: str) -> None:
        """JobError when a crashed run under this job id asked for something else (its
        checkpoints are left as they are)."""
        state = self.read_state()
        if state is not None and state.get("fingerprint") != fingerprint:
            raise JobError(
                f"job id {self.job_id!r} was used in {str(self.out_dir)!r} for another request; "
                "give a new --job-id",
                field="job_id",
            )

    def resume_or_reserve(
        self, fingerprint: str, count: int, choose_seeds: Callable[[set[int]], list[int]]
    ) -> list[tuple[int, int]]:
        """(take, seed) for this job: those a crashed run of it reserved, or new ones."""
        self.check_request(fingerprint)
        state = self.read_state()
        if state is not None:
            self.reserved = [(int(t), int(s)) for t, s in state["takes"]]
            for take, _ in self.reserved:
                _reservation(self.out_dir, take).mkdir(parents=True, exist_ok=True)
            return self.reserved
        with folder_lock(self.out_dir):
            self.reserved = self._reserve(count, choose_seeds)
            state = {"fingerprint": fingerprint, "takes": self.reserved}
            write_text_atomic(self.stage / JOB_FILE, json.dumps(state))
        return self.reserved

    def _reserve(self, count: int, choose_seeds) -> list[tuple[int, int]]:
        """Take numbers past every one in use (report, disk, other jobs), by exclusive mkdir."""
        previous = read_previous(self.out_dir)
        others = self._other_reservations()
        used_takes = {t for t, _ in others} | _take_dirs_on_disk(self.out_dir)
        used_takes |= _take_dirs_on_disk(self.out_dir, RESERVATIONS)
        used_takes |= {t["take"] for t in previous.takes} if previous else set()
        used_seeds = {s for _, s in others} | (previous.seeds if previous else set())
        seeds = choose_seeds(used_seeds)
        (self.out_dir / RESERVATIONS).mkdir(exist_ok=True)
        reserved, take = [], max(used_takes, default=0) + 1
        for seed in seeds:
            while True:
                try:  # exclusive even where folders cannot be locked
                    _reservation(self.out_dir, take).mkdir()
                    if not (self.out_dir / "takes" / take_dir_name(take)).exists():
                        break  # a take folder made since we looked is not ours either
                    _reservation(self.out_dir, take).rmdir()
                except FileExistsError:
                    pass
                take += 1
            reserved.append((take, seed))
            take += 1
        return reserved

    def _other_reservations(self) -> list[tuple[int, int]]:
        found = []
        for stage in self.out_dir.glob(f"{STAGING_PREFIX}*"):
            if stage == self.stage:
                continue
            try:
                state = json.loads((stage / JOB_FILE).read_text(encoding="utf-8"))
                found += [(int(t), int(s)) for t, s in state["takes"]]
            except (OSError, ValueError, KeyError, TypeError):
                continue  # a job still writing its state, or not ours: its mkdirs still count
        return found

    def checkpoint(self, take: int, cue_index: int) -> Path:
        return self.stage / "cues" / take_dir_name(take) / f"cue-{cue_index + 1:02d}.npz"

    def save_cue(self, take: int, cue_index: int, arrays: dict[str, np.ndarray]) -> None:
        """Keep a finished cue's arrays; the file appears complete or not at all."""
        with atomic_path(self.checkpoint(take, cue_index)) as tmp, tmp.open("wb") as file:
            np.savez(file, **arrays)

    def load_cue(self, take: int, cue_index: int) -> dict[str, np.ndarray] | None:
        """The arrays of a cue this job finished before it was interrupted, or None.

        Read with `allow_pickle=False`: a checkpoint is data and cannot run code.
        """
        path = self.checkpoint(take, cue_index)
        try:
            with np.load(path, allow_pickle=False) as kept:
                return {name: kept[name] for name in kept.files}
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):
            return None  # unreadable (a partial disk, another version): render it again

    def commit(self) -> None:
        """Move the staged files into the folder: WAVs first, `report.json` last."""
        files = sorted(p for p in self.out.rglob("*") if p.is_file())
        report = [p for p in files if p.relative_to(self.out).as_posix() == REPORT_NAME]
        wavs = [p for p in files if p.suffix == ".wav"]
        rest = [p for p in files if p not in wavs and p not in report]
        for path in [*wavs, *rest, *report]:
            target = self.out_dir / path.relative_to(self.out)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        shutil.rmtree(self.stage, ignore_errors=True)
        self._drop_reservations()

    def _drop_reservations(self) -> None:
        for take, _ in self.reserved:
            with contextlib.suppress(OSError):
                _reservation(self.out_dir, take).rmdir()
        with contextlib.suppress(OSError):  # not empty: another job's reservations
            (self.out_dir / RESERVATIONS).rmdir()
        self.reserved = []

    def discard(self) -> None:
        """Leave the folder as it was before this job: staging and empty reserved takes gone."""
        shutil.rmtree(self.stage, ignore_errors=True)
        self._drop_reservations()
        if self.created_out_dir:
            with contextlib.suppress(OSError):
                self.out_dir.rmdir()


def _reservation(out_dir: Path, take: int) -> Path:
    return out_dir / RESERVATIONS / take_dir_name(take)


def _take_dirs_on_disk(out_dir: Path, under: str = "takes") -> set[int]:
    """Take numbers of the `take-NN` folders in `out_dir/under`."""
    found = set()
    for path in (out_dir / under).glob("take-*"):
        with contextlib.suppress(ValueError):
            found.add(int(path.name.removeprefix("take-")))
    return found
