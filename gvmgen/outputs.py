"""The output folder: takes kept on disk, per-job staging, checkpoints, locks and the commit.

Layout of `--out DIR`:

    DIR/score.otio              the input timeline with the "GVMGen Score" track (latest take)
    DIR/report.json             the ScoreResult of the latest run (lists every take)
    DIR/report.png              the picture an editor reads at a glance
    DIR/takes/take-NN/cue-MM.wav  48 kHz 24-bit WAVs, one folder per take, never overwritten
    DIR/preview.mp4             the video with the music muxed in (on request)

A job works in `DIR/.staging-<job id>/` (mode 0700): `job.json` (what the job is and the takes
it reserved), `cues/take-NN/cue-MM.npz` (each finished cue as plain arrays and JSON, read back
without pickle, so a crashed job resumes where it stopped) and `out/` (the files of the run,
laid out as in DIR). Temporary files (`gvmgen.atomic`) only ever exist inside the stage.

The commit, under the folder's lock (`commit_lock`):
  1. `commit.json` is written and flushed to the disk: from here on the commit is decided, and
     whoever finds it finishes it (the job itself, the next run in the folder, a restarted
     server);
  2. each take folder is renamed whole into `takes/` (the whole `takes/` folder when DIR has
     none yet), so a listing shows all of a take or nothing of it;
  3. the other files are renamed into DIR, `report.json` last: that rename is the commit point;
  4. the reservations are dropped, then the stage is removed.
Every name in DIR is created, opened and renamed relative to DIR's own descriptor without
following a symbolic link (openat-style): a symlinked `takes/`, `.staging-*` or output file is
refused with an `OutputError`, so nothing is ever written outside DIR.

Take numbers are reserved by an exclusive `mkdir` of `DIR/.reservations/take-NN` (hidden, so
`takes/` only ever holds complete takes, even after a job killed and never run again), under
the folder's lock, after looking at the report, at the take folders on disk and at other jobs'
reservations. A job that fails or is cancelled removes its stage and its reservations; one
killed outright leaves them for the next run with the same job id. `recover` reclaims a stage
no run will resume: its job finished or failed in the caller's job store, or it was untouched
for `STALE_STAGING_DAYS`; it logs a line for each thing it finishes or removes.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import stat
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gvmgen.atomic import (
    TEMP_MARK,
    atomic_path,
    fsync_file,
    fsync_folder,
    is_temp_name,
    write_text_atomic,
)
from gvmgen.errors import InputError, JobError, OutputError

log = logging.getLogger("gvmgen.outputs")

REPORT_NAME = "report.json"
TAKES = "takes"
STAGING_PREFIX = ".staging-"
RESERVATIONS = ".reservations"
JOB_FILE = "job.json"
COMMIT_FILE = "commit.json"
STAGED_OUT = "out"
STALE_STAGING_DAYS = 30.0  # a stage untouched this long, of a job no store knows, is reclaimed
MAX_OUT_DIR_CHARS = 1024  # macOS's PATH_MAX; the files under it add about 60 characters
MAX_NAME_BYTES = 255  # one folder name (NAME_MAX on Linux, macOS and Windows)
MB = 1_000_000
_USER_ERRNOS = {
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
    errno.ENOSPC,
    errno.EDQUOT,
    errno.ENOTDIR,
    errno.ENOENT,  # the folder (or a parent) removed while the job ran
}
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_AT_FD = {os.open, os.mkdir, os.rename, os.stat} <= os.supports_dir_fd  # Linux, macOS

# what the job store knows of a job id: its state, or None for a job it does not know
JobState = Callable[[str], "str | None"]


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
    takes it lists and could write over them. So is a report that is a symbolic link.
    """
    report = Path(out_dir) / REPORT_NAME
    if not os.path.lexists(report):
        return None
    if report.is_symlink():
        raise _symlink_refused(report)
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


# ---- the folder's name and place ----


def check_out_dir_text(text: str, field_name: str = "out_dir") -> None:
    """`InputError` for an output folder name no file system takes: a NUL, too long a path
    or folder name."""
    if "\x00" in text:
        raise InputError(
            f"{field_name}: the path contains a NUL character; pass a plain folder path",
            field=field_name,
        )
    if len(text) > MAX_OUT_DIR_CHARS:
        raise InputError(
            f"{field_name}: the path is {len(text)} characters long; use one of at most "
            f"{MAX_OUT_DIR_CHARS}",
            field=field_name,
        )
    for part in Path(text).parts:
        if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise InputError(
                f"{field_name}: the folder name {part[:40]!r}... is longer than "
                f"{MAX_NAME_BYTES} bytes; use a shorter name",
                field=field_name,
            )


def check_out_dir(out_dir: Path) -> None:
    """An OutputError when `out_dir` cannot be an output folder (a file, or under one, or not
    writable); an InputError when its name is not a usable path."""
    check_out_dir_text(str(out_dir))
    for folder in (out_dir, *out_dir.parents):
        if folder.exists():
            if not folder.is_dir():
                raise OutputError(
                    f"--out must be a folder, but {str(folder)!r} is a file", field="out_dir"
                )
            if not os.access(folder, os.W_OK | os.X_OK):
                raise _not_writable(out_dir, f"no write permission in {str(folder)!r}")
            return


# ---- disk space ----


def scratch_bytes(
    seconds: float,
    takes: int,
    wavs: int = 1,
    stems: int = 0,
    channels: int = 2,
    preview_bytes: int = 0,
) -> int:
    """The disk a job needs in its output folder at its peak, from the music's length.

    Per take, its 48 kHz 24-bit WAVs (`wavs` of each cue: the placed one, its unducked twin;
    plus its `stems`) and its cue checkpoints (the mix and the stems, 48 kHz float32) live in
    the stage at once; the commit only renames them. Then the timelines and report.png (a few
    MB), the preview (about the size of the input video) and 10 % plus 16 MB to spare.
    """
    per_second = 48_000 * channels * (3 * (wavs + stems) + 4 * (1 + stems))
    need = takes * seconds * per_second + preview_bytes + 4 * MB
    return int(need * 1.1 + 16 * MB)


def free_bytes(folder: Path) -> int:
    """Space free to this user on the disk holding `folder` (or its nearest existing parent)."""
    for probe in (folder, *folder.parents):
        with contextlib.suppress(OSError):
            return shutil.disk_usage(probe).free
    return 0


def check_space(out_dir: Path, needed: int) -> None:
    """`OutputError` (output_not_writable) before a job starts when its disk cannot hold it."""
    free = free_bytes(out_dir)
    if free < needed:
        raise disk_full(out_dir, free, needed)


def disk_full(out_dir: Path, free: int, needed: int | None) -> OutputError:
    need = f"about {_mb(needed)} needed, " if needed else ""
    return OutputError(
        f"cannot write to --out {str(out_dir)!r}: the disk is full ({need}{_mb(free)} free)",
        field="out_dir",
        hint="free some space on that disk, or pass --out with a folder on another disk",
    )


def _mb(size: int) -> str:
    return f"{size / MB:,.0f} MB" if size >= MB else f"{size / 1000:,.0f} kB"


@contextlib.contextmanager
def user_os_errors(out_dir: Path, needed: int | None = None) -> Iterator[None]:
    """Turn the OSErrors a user can fix (permissions, full disk, a file in the way) under
    `out_dir` into one-line `OutputError`s; a full disk says how much is needed and free.

    `needed` is the job's estimate (`scratch_bytes`), when known.
    """
    try:
        yield
    except OSError as error:
        where = str(error.filename or "")
        ours = where and (where.startswith(str(out_dir)) or str(out_dir).startswith(where))
        if error.errno in _FULL_ERRNOS and (ours or not where):
            raise disk_full(out_dir, free_bytes(out_dir), needed) from error
        if error.errno in _USER_ERRNOS and ours:  # the folder, a file in it, or a parent
            raise _not_writable(out_dir, error.strerror or str(error)) from error
        raise
    except RuntimeError as error:  # libsndfile says "System error" and keeps the errno to itself
        if _sound_file_error(error) and free_bytes(out_dir) < (needed or 64 * MB):
            raise disk_full(out_dir, free_bytes(out_dir), needed) from error
        raise


def _sound_file_error(error: BaseException) -> bool:
    soundfile = sys.modules.get("soundfile")
    base = getattr(soundfile, "SoundFileRuntimeError", None)
    return isinstance(base, type) and isinstance(error, base)


def _not_writable(out_dir: Path, reason: str) -> OutputError:
    return OutputError(
        f"cannot write to --out {str(out_dir)!r}: {reason}; choose a folder you can write to",
        field="out_dir",
        hint="pass --out with a folder on a writable disk",
    )


def _symlink_refused(path: Path) -> OutputError:
    return OutputError(
        f"refusing to write through {str(path)!r}: it is a symbolic link, and outputs never "
        "leave the --out folder; remove the link or choose another --out folder",
        field="out_dir",
        code="output_not_writable",
    )


# ---- locks ----


@contextlib.contextmanager
def folder_lock(folder: Path, blocking: bool = True) -> Iterator[bool]:
    """An exclusive advisory lock on `folder` itself (flock on the folder; no lock file left).

    Yields False instead of waiting when `blocking` is False and another process (or another
    open of it in this process) holds it.
    """
    fd = os.open(folder, os.O_RDONLY)
    try:
        yield _lock(fd, blocking)
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextlib.contextmanager
def commit_lock(out_dir: Path) -> Iterator[None]:
    """The folder's lock, with every commit a killed job left half-done finished first: while
    it is held, `read_previous` sees every committed take and no one else commits."""
    with folder_lock(out_dir):
        _recover_locked(out_dir, None, STALE_STAGING_DAYS, keep=frozenset())
        yield


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


# ---- folders opened without following links ----


class _Folder:
    """A folder opened once; names in it are made, opened and renamed relative to it without
    following a symbolic link (by descriptor where the system has `*at` calls, else checked
    with lstat just before)."""

    def __init__(self, path: Path, fd: int | None):
        self.path, self.fd = path, fd

    @classmethod
    def open(cls, path: Path) -> _Folder:
        """`path` as it is (the caller resolved it once); a symlink there is refused."""
        if path.is_symlink():
            raise _symlink_refused(path)
        return cls(path, _open_dir(str(path), None, path) if _AT_FD else None)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> _Folder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def kind(self, name: str) -> str | None:
        """ "dir", "file", "link", "other" or None (nothing by that name)."""
        try:
            mode = os.stat(self._name(name), dir_fd=self.fd, follow_symlinks=False).st_mode
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(mode):
            return "link"
        return "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"

    def sub(self, name: str, create: bool = False, mode: int = 0o777) -> _Folder:
        """The folder `name` in this one (made when `create`); a symlink there is refused."""
        path = self.path / name
        if create:
            with contextlib.suppress(FileExistsError), _named(path):
                os.mkdir(self._name(name), mode, dir_fd=self.fd)
        if self.kind(name) == "link":
            raise _symlink_refused(path)
        return _Folder(path, _open_dir(name, self.fd, path) if _AT_FD else None)

    def move(self, name: str, into: _Folder, new_name: str, replace: bool) -> None:
        """Rename `name` here to `new_name` in `into`: a folder onto nothing (or an empty
        folder), a file onto a file (`replace`). A link at the target is refused."""
        target = into.kind(new_name)
        if target == "link":
            raise _symlink_refused(into.path / new_name)
        if target is not None and (not replace or target != "file"):
            raise OutputError(
                f"cannot commit: {str(into.path / new_name)!r} is in the way; move it away",
                field="out_dir",
            )
        with _named(into.path / new_name):
            os.rename(
                self._name(name), into._name(new_name), src_dir_fd=self.fd, dst_dir_fd=into.fd
            )

    def check_writable(self) -> None:
        """An OSError now, before a commit is decided, if no name can be made or removed here
        (a read-only folder or disk): made and removed, a hidden probe folder."""
        probe = f".probe{TEMP_MARK}{os.getpid()}-{time.monotonic_ns()}"
        with _named(self.path):
            os.mkdir(self._name(probe), dir_fd=self.fd)
            os.rmdir(self._name(probe), dir_fd=self.fd)

    def fsync(self) -> None:
        if self.fd is not None:
            os.fsync(self.fd)
        else:
            fsync_folder(self.path)

    def _name(self, name: str) -> str:
        return name if self.fd is not None else str(self.path / name)


def _open_dir(name: str, dir_fd: int | None, path: Path) -> int:
    try:
        return os.open(name, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=dir_fd)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise _symlink_refused(path) from None
        raise OSError(error.errno, error.strerror, str(path)) from None


@contextlib.contextmanager
def _named(path: Path) -> Iterator[None]:
    """OSErrors of a call made by descriptor name the whole path (`user_os_errors` reads it)."""
    try:
        yield
    except FileExistsError:
        raise
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(path)) from None


# ---- one job's stage ----


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

        First finishes what killed jobs left half-done in the folder (`recover`). JobError when
        the same job id is running right now; OutputError when the stage is a symbolic link.
        """
        created = not out_dir.exists()
        with user_os_errors(out_dir):
            out_dir.mkdir(parents=True, exist_ok=True)
            recover(out_dir, keep={job_id})
            job = cls(out_dir, job_id, created)
            with _Folder.open(out_dir) as folder, folder.sub(job.stage.name, True, 0o700) as stage:
                held = _lock(stage.fd, False) if stage.fd is not None else True
                if not held:
                    raise JobError(
                        f"job {job_id!r} is already running in {str(out_dir)!r}; wait for it "
                        "or give another --job-id",
                        field="job_id",
                        code="job_running",
                    )
                job._fresh_outputs()
                yield job

    @property
    def out(self) -> Path:
        """Where the run's files are staged, laid out as in the output folder."""
        return self.stage / STAGED_OUT

    def _fresh_outputs(self) -> None:
        """No links anywhere in the stage; staged outputs of a killed run and its temp files
        are removed: this run writes them again from the checkpoints."""
        for path in _walk(self.stage):
            if path.is_symlink():
                raise _symlink_refused(path)
            if is_temp_name(path.name) and path.is_file():
                path.unlink()
        shutil.rmtree(self.out, ignore_errors=True)

    def read_state(self) -> dict | None:
        """What a crashed run of this job left: {"fingerprint", "takes"}, or None."""
        return _read_json(self.stage / JOB_FILE)

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
            with _Folder.open(self.out_dir) as folder, folder.sub(RESERVATIONS, True) as held:
                for take, _ in self.reserved:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(held._name(take_dir_name(take)), dir_fd=held.fd)
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
        reserved, take = [], max(used_takes, default=0) + 1
        with _Folder.open(self.out_dir) as folder, folder.sub(RESERVATIONS, True) as held:
            for seed in seeds:
                while True:
                    try:  # exclusive even where folders cannot be locked
                        os.mkdir(held._name(take_dir_name(take)), dir_fd=held.fd)
                        if not (self.out_dir / TAKES / take_dir_name(take)).exists():
                            break  # a take folder made since we looked is not ours either
                        os.rmdir(held._name(take_dir_name(take)), dir_fd=held.fd)
                    except FileExistsError:
                        pass
                    take += 1
                reserved.append((take, seed))
                take += 1
        return reserved

    def _other_reservations(self) -> list[tuple[int, int]]:
        found = []
        for stage in _stages(self.out_dir):
            if stage == self.stage:
                continue
            found += _reserved_by(stage)
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
        """Make the staged files visible (see the module's doc): decide by writing
        `commit.json`, then rename take folders whole, the other files, `report.json` last.
        Call it under `commit_lock(out_dir)`."""
        plan = self._commit_plan()
        _check_commit(self.out_dir, plan)
        write_text_atomic(self.stage / COMMIT_FILE, json.dumps(plan), durable=True)
        _finish_commit(self.out_dir, self.stage, plan)
        self.reserved = []

    def _commit_plan(self) -> dict:
        """What the commit moves; temp files are deleted first (they never leave the stage),
        and every staged file is flushed to the disk, so a decided commit is complete."""
        takes, files = [], []
        for path in _walk(self.out):
            relative = path.relative_to(self.out)
            if path.is_symlink():
                raise _symlink_refused(path)
            if path.is_file() and is_temp_name(path.name):
                path.unlink()
            elif path.is_file():
                fsync_file(path)
                if relative.parts[0] != TAKES:
                    files.append(relative.as_posix())
            elif len(relative.parts) == 2 and relative.parts[0] == TAKES:
                takes.append(relative.parts[1])
        files.sort(key=lambda name: (name == REPORT_NAME, name))
        for folder in [self.out / TAKES / t for t in takes] + [self.out / TAKES]:
            if folder.is_dir():
                fsync_folder(folder)
        return {"job_id": self.job_id, "takes": sorted(takes), "files": files}

    def _drop_reservations(self) -> None:
        _drop_reservations(self.out_dir, [t for t, _ in self.reserved])
        self.reserved = []

    def discard(self) -> None:
        """Leave the folder as it was before this job: staging and empty reserved takes gone.

        A decided commit (one that failed halfway: the disk went away) is kept for `recover`
        to finish: its take is complete, and some of it may already show."""
        if (self.stage / COMMIT_FILE).exists():
            log.warning("job %s: its commit was cut short; the next run finishes it", self.job_id)
            return
        self._drop_reservations()
        _remove_stage(self.stage)
        if self.created_out_dir:
            with contextlib.suppress(OSError):
                self.out_dir.rmdir()


def _check_commit(out_dir: Path, plan: dict) -> None:
    """Every way the commit could fail that can be seen before deciding it: a folder that
    cannot take new names, a link or a folder in the way."""
    with _Folder.open(out_dir) as folder:
        folder.check_writable()
        for name in plan["files"]:
            first = name.split("/")[0]
            if folder.kind(first) == "link":
                raise _symlink_refused(out_dir / first)
        if folder.kind(TAKES) is None:
            return
        with folder.sub(TAKES) as takes:
            takes.check_writable()
            for take in plan["takes"]:
                if takes.kind(take) is not None:
                    raise OutputError(
                        f"cannot commit: {str(out_dir / TAKES / take)!r} already exists; "
                        "takes are never overwritten",
                        field="out_dir",
                    )


def _finish_commit(out_dir: Path, stage: Path, plan: dict) -> None:
    """Steps 2-4 of the commit; each step is skipped when an earlier attempt did it."""
    with _Folder.open(out_dir) as folder, folder.sub(stage.name) as staged:
        if staged.kind(STAGED_OUT) == "dir":
            with staged.sub(STAGED_OUT) as out:
                _move_takes(folder, out, plan["takes"])
                _move_files(folder, out, plan["files"])
        folder.fsync()
    _drop_reservations(out_dir, [t for t, _ in _reserved_by(stage)])
    _remove_stage(stage)


def _remove_stage(stage: Path) -> None:
    """Remove a stage, its `commit.json` last: a removal cut short leaves either a decided
    commit to finish or a stage without one, never a half-removed commit."""
    with contextlib.suppress(OSError), os.scandir(stage) as entries:
        for entry in list(entries):
            if entry.name == COMMIT_FILE:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
    with contextlib.suppress(OSError):
        os.unlink(stage / COMMIT_FILE)
    with contextlib.suppress(OSError):
        os.rmdir(stage)


def _move_takes(folder: _Folder, out: _Folder, takes: list[str]) -> None:
    if out.kind(TAKES) != "dir":
        return
    if folder.kind(TAKES) is None:  # the first takes here: one rename shows them all
        out.move(TAKES, folder, TAKES, replace=False)
        return
    with out.sub(TAKES) as staged, folder.sub(TAKES) as takes_dir:
        for name in takes:
            if staged.kind(name) == "dir":
                staged.move(name, takes_dir, name, replace=False)
        takes_dir.fsync()


def _move_files(folder: _Folder, out: _Folder, files: list[str]) -> None:
    """The other files, in order (report.json is last), each into its place in DIR."""
    for relative in files:
        *parents, name = relative.split("/")
        with contextlib.ExitStack() as stack:
            source, target = out, folder
            for part in parents:  # a subfolder a later format may use; made like the rest
                source = stack.enter_context(source.sub(part)) if source.kind(part) else None
                if source is None:
                    break  # moved by an earlier attempt
                target = stack.enter_context(target.sub(part, create=True))
            if source is not None and source.kind(name) == "file":  # else moved before
                source.move(name, target, name, replace=True)


# ---- recovery ----


def recover(
    out_dir: Path,
    job_state: JobState | None = None,
    keep_days: float = STALE_STAGING_DAYS,
    keep: frozenset[str] | set[str] = frozenset(),
    wait: bool = True,
) -> list[str]:
    """Finish every commit a killed job left half-done in `out_dir`, and reclaim the stages
    (and take reservations) no run will resume; one line per action, each also logged.

    A stage is reclaimed when `job_state` says its job finished, failed or was cancelled, or
    when no store knows the job and the stage was untouched for `keep_days` days. A stage in
    use (locked), of a job queued or running, or in `keep` is never touched. Without `wait`,
    a folder whose lock another job holds (committing now) is left for a later pass.
    """
    if not out_dir.is_dir() or out_dir.is_symlink():
        return []
    with folder_lock(out_dir, blocking=wait) as held:
        return _recover_locked(out_dir, job_state, keep_days, keep) if held else []


def _recover_locked(out_dir: Path, job_state, keep_days: float, keep) -> list[str]:
    lines, claimed = [], set()
    for stage in _stages(out_dir):
        job_id = stage.name.removeprefix(STAGING_PREFIX)
        try:
            fd = os.open(stage, os.O_RDONLY | _DIRECTORY | _NOFOLLOW)
        except OSError:
            continue  # a link or not a folder: not ours (Job.open refuses it by name)
        try:
            if not _lock(fd, blocking=False):  # its job runs now
                claimed |= {t for t, _ in _reserved_by(stage)}
                continue
            line = _settle_stage(out_dir, stage, job_id, job_state, keep_days, keep)
        finally:
            os.close(fd)
        if line is None:
            claimed |= {t for t, _ in _reserved_by(stage)}
        else:
            lines.append(line)
    lines += _drop_orphan_reservations(out_dir, claimed)
    for folder in (out_dir, out_dir / TAKES):  # a commit's writability probe, cut short
        for probe in folder.glob(f".probe{TEMP_MARK}*"):
            with contextlib.suppress(OSError):
                probe.rmdir()
    for line in lines:
        log.info("%s", line)
    return lines


def _settle_stage(out_dir, stage: Path, job_id: str, job_state, keep_days, keep) -> str | None:
    """Finish a decided commit, or reclaim the stage; the line saying so, or None (kept)."""
    plan = _read_json(stage / COMMIT_FILE)
    if plan is not None:
        _finish_commit(out_dir, stage, plan)
        takes = ", ".join(plan.get("takes", [])) or "no take"
        return f"finished the commit job {job_id} began in {out_dir} ({takes})"
    if job_id in keep:
        return None
    why = _reclaim_reason(stage, job_id, job_state, keep_days)
    if why is None:
        return None
    takes = [t for t, _ in _reserved_by(stage)]
    _drop_reservations(out_dir, takes)
    size = sum(p.lstat().st_size for p in _walk(stage) if p.is_file() and not p.is_symlink())
    _remove_stage(stage)
    held = f", take reservation(s) {', '.join(map(str, takes))}" if takes else ""
    return f"reclaimed the staging folder of job {job_id} in {out_dir} ({why}; {_mb(size)}{held})"


def _reclaim_reason(stage: Path, job_id: str, job_state, keep_days: float) -> str | None:
    state = job_state(job_id) if job_state is not None else None
    if state in ("done", "failed", "cancelled"):
        return f"the job is {state} in the job store"
    if state is not None:  # queued or running: its next run resumes from this stage
        return None
    newest = max((_mtime(p) for p in [stage, *_walk(stage)]), default=0.0)
    idle_days = (time.time() - newest) / 86400
    if idle_days >= keep_days:
        return f"untouched for {idle_days:.0f} days"
    return None


def _drop_orphan_reservations(out_dir: Path, claimed: set[int]) -> list[str]:
    """Reservations no stage claims: their job's stage is gone (run under the folder's lock,
    where no job is between reserving and writing its job.json)."""
    lines = []
    for take in sorted(_take_dirs_on_disk(out_dir, RESERVATIONS) - claimed):
        _drop_reservations(out_dir, [take])
        lines.append(f"dropped the reservation of take {take} in {out_dir}: no job holds it")
    return lines


def _drop_reservations(out_dir: Path, takes: list[int]) -> None:
    folder = out_dir / RESERVATIONS
    if folder.is_symlink():
        return
    for take in takes:
        with contextlib.suppress(OSError):
            (folder / take_dir_name(take)).rmdir()
    with contextlib.suppress(OSError):  # not empty: another job's reservations
        folder.rmdir()


def _stages(out_dir: Path) -> list[Path]:
    with contextlib.suppress(OSError), os.scandir(out_dir) as entries:
        return sorted(Path(e.path) for e in entries if e.name.startswith(STAGING_PREFIX))
    return []


def _reserved_by(stage: Path) -> list[tuple[int, int]]:
    state = _read_json(stage / JOB_FILE)
    try:
        return [(int(t), int(s)) for t, s in state["takes"]]
    except (TypeError, KeyError, ValueError):
        return []  # a job still writing its state, or not ours


def _read_json(path: Path) -> dict | None:
    if path.is_symlink():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _walk(folder: Path) -> list[Path]:
    """Everything under `folder`, without following links (bounded by what a job writes)."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        found += [Path(root) / name for name in dirs + files]
    return found


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return 0.0


def _take_dirs_on_disk(out_dir: Path, under: str = TAKES) -> set[int]:
    """Take numbers of the `take-NN` folders in `out_dir/under`."""
    found = set()
    for path in (out_dir / under).glob("take-*"):
        with contextlib.suppress(ValueError):
            found.add(int(path.name.removeprefix("take-")))
    return found
