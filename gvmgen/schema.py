"""The data contract: typed, versioned requests and results (pydantic v2).

These models are the CLI's report and the backend protocol's payloads, so they are
JSON-serialisable, reject unknown fields and say which field is wrong. Times in results are
seconds (floats) for readers, with SMPTE timecodes beside them for editors.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from gvmgen.controls import INTENSITY_RANGE, MOODS, Controls, parse_tempo
from gvmgen.defaults import (
    DEFAULT_DUCK_DB,
    DEFAULT_ENGINE,
    DEFAULT_MAX_STRETCH,
    DEFAULT_TARGET_LUFS,
    DEFAULT_TRUE_PEAK_DBTP,
    ENGINE_CHOICES,
    EngineName,
)
from gvmgen.errors import InputError

__all__ = [  # the shared defaults, re-exported for the request's readers
    "DEFAULT_DUCK_DB",
    "DEFAULT_TARGET_LUFS",
    "DEFAULT_TRUE_PEAK_DBTP",
    "ENGINE_CHOICES",
]

SCHEMA_VERSION = 1
JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # safe as a folder name everywhere
# Delivery standards: (integrated LUFS, true-peak ceiling dBTP). `target_lufs` stays for a custom
# value (with the web preset's -1 dBTP ceiling).
LOUDNESS_PRESETS: dict[str, tuple[float, float]] = {
    "streaming": (-14.0, -1.0),
    "web": (-16.0, -1.0),
    "ebu-r128": (-23.0, -1.0),
    "atsc-a85": (-24.0, -2.0),
}
_TEMPO_HELP = "tempo is BPM 40-220: one value (96) or a band (90-110)"
# The stages a ProgressEvent names (where on the bar each lies: progress.STAGE_WEIGHTS).
Stage = Literal["timeline", "cuts", "plan", "generate", "align", "level", "write", "done"]
STAGES: tuple[str, ...] = get_args(Stage)


class ScoreMode(StrEnum):
    RANGE = "range"  # one selection → music for it
    REGENERATE = "regenerate"  # same range, new seed, a new numbered take; old takes kept
    BATCH = "batch"  # the whole timeline, split into cues


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=True)


class ScoreRequest(_Model):
    """What to score and how. `input` is a video file or a timeline file."""

    version: Literal[1] = SCHEMA_VERSION
    input: str = Field(min_length=1)
    range: str | None = Field(None, description="IN-OUT: seconds, timecodes or fNNN frames")
    mode: ScoreMode = ScoreMode.RANGE
    engine: EngineName = DEFAULT_ENGINE
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    takes: int = Field(1, ge=1, le=8)
    out_dir: str = Field(min_length=1)
    max_stretch: float = Field(DEFAULT_MAX_STRETCH, gt=0.0, le=0.25)
    target_lufs: float = Field(DEFAULT_TARGET_LUFS, ge=-40.0, le=-6.0)
    allow_missing_media: bool = False
    rate: float | None = Field(
        None,
        gt=0.0,
        le=240.0,
        description="frame rate of an EDL input (EDLs carry none), e.g. 25 or 29.97; None: told "
        "from the EDL's timecodes or the media it names. Other timeline formats and videos "
        "carry their own rate and ignore it",
    )
    preview: bool = False  # also write an MP4 with the music muxed in (bare videos only)
    job_id: str | None = Field(
        None,
        pattern=JOB_ID_PATTERN,
        description="checkpoint and resume key: letters, digits, '.', '_' or '-', up to 64",
    )
    # The editor's controls (gvmgen.controls); None leaves each to the picture.
    mood: str | None = Field(None, description="one of gvmgen.controls.MOODS")
    intensity: int | None = Field(None, description="1 (barely there) .. 9 (everything)")
    tempo: str | None = Field(None, description="BPM 40-220: one value (96) or a band (90-110)")
    duck_db: float | None = Field(
        DEFAULT_DUCK_DB,
        ge=-40.0,
        le=0.0,
        description="music level under the timeline's own dialogue, dB; None or 0: no ducking",
    )
    loudness: Literal["streaming", "web", "ebu-r128", "atsc-a85"] | None = Field(
        None, description="delivery standard (LOUDNESS_PRESETS); overrides target_lufs"
    )
    # How each cue ends (gvmgen.engines.base.Ending): a final accent on the out frame, the last
    # chord left to ring, or a fade; `tail` lets the last cue's ending ring past the range's
    # out frame (the WAV is longer by it, which score.otio and the report declare).
    ending: Literal["button", "ring", "fade"] = "button"
    tail: float = Field(0.0, ge=0.0, le=10.0, description="seconds the final ending rings past")
    stems: bool = False  # also write each cue's drums, bass, harmony and melody (arranger)

    @field_validator("mood")
    @classmethod
    def _known_mood(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.strip().lower() not in MOODS:
            raise PydanticCustomError(
                "unknown_mood", "unknown mood; choose one of {moods}", {"moods": ", ".join(MOODS)}
            )
        return value.strip().lower()

    @field_validator("intensity", mode="before")
    @classmethod
    def _intensity_in_range(cls, value):
        low, high = INTENSITY_RANGE
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise PydanticCustomError(
                "intensity", "intensity is a whole number {low}-{high}", {"low": low, "high": high}
            )
        return value

    @field_validator("tempo", mode="before")
    @classmethod
    def _tempo_band(cls, value):
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise PydanticCustomError("tempo", _TEMPO_HELP)
        try:
            return str(parse_tempo(value))
        except InputError:
            raise PydanticCustomError("tempo", _TEMPO_HELP) from None

    @field_validator("loudness")
    @classmethod
    def _one_loudness(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A preset wins over the default target; a custom target that disagrees is refused."""
        target = info.data.get("target_lufs", DEFAULT_TARGET_LUFS)
        if value is not None and target not in (DEFAULT_TARGET_LUFS, LOUDNESS_PRESETS[value][0]):
            preset = LOUDNESS_PRESETS[value][0]
            raise PydanticCustomError(
                "loudness",
                f"loudness {value} means {preset:g} LUFS but target_lufs is {target:g}: "
                "give one of them",
            )
        return value

    @property
    def loudness_target(self) -> tuple[float, float]:
        """(integrated LUFS, true-peak ceiling dBTP) every cue is levelled to."""
        if self.loudness is not None:
            return LOUDNESS_PRESETS[self.loudness]
        return self.target_lufs, DEFAULT_TRUE_PEAK_DBTP

    @property
    def ducking(self) -> float | None:
        """dB the music dips under dialogue, or None when ducking is off."""
        return None if not self.duck_db else float(self.duck_db)

    def controls(self):
        """The request's `gvmgen.controls.Controls`."""
        tempo = None if self.tempo is None else parse_tempo(self.tempo)
        return Controls(self.mood, self.intensity, tempo)


class ProgressEvent(_Model):
    """One step of a running job. `fraction` is of the whole job and never goes down."""

    job_id: str
    stage: Stage
    cue: int | None = None  # cue index (0-based) the step belongs to, if any
    take: int | None = None
    fraction: float = Field(ge=0.0, le=1.0)
    eta_seconds: float | None = None
    message: str


class CutHit(_Model):
    time: float  # seconds from the cue start
    hit: bool  # a beat within ±50 ms in the delivered audio
    hit_1frame: bool = False  # a beat within one frame
    offset_ms: float | None  # nearest beat minus cut; None when no beat was found
    beat_phase: float | None = None  # that distance in beats, 0 … 0.5 (the off-beat)
    reason: str | None = None  # why the plan could not reach this cut
    alternative: str | None = None  # a missed must-hit: "move the marker 4 frames later, or …"
    certain: bool | None = None  # False: the measurement cannot tell hit from miss here
    reachable: bool | None = None  # in the cue's metre ceiling (`CueMetrics.reachable`)


class CueMetrics(_Model):
    """How well one cue's delivered audio sits on its cuts: `gvmgen.align.AlignmentMetrics` as
    the report carries it (re-measured on the WAV, never taken from the plan). A rest (a silent
    cue over a gap or long black) aims at no cut: its hit rates and loudness are None."""

    hit_rate_1frame: float | None
    hit_rate_50ms: float | None
    hit_rate_100ms: float | None
    max_stretch: float
    mean_stretch: float
    splices: int
    clicks: int = 0  # clicks found in the delivered audio (should be 0)
    silence: float = 0.0  # seconds of digital silence in runs over 50 ms in the delivered audio
    loudness_lufs: float | None
    unhit_cuts: list[float] = []  # the cuts the delivered audio misses (`cuts` hit false)
    cuts: list[CutHit] = []
    # The most of `cuts` any metre-keeping plan could hit (`gvmgen.align.metre_ceiling` at the
    # music's tempo, ±6 %, ±100 ms): hit rates are judged against this, not against 100 %.
    reachable: int | None = None

    @classmethod
    def measured(cls, metrics, loudness_lufs: float, unhit_cuts: list[float]) -> dict:
        """The fields of `metrics` (an AlignmentMetrics) this model holds, by name."""
        fields = metrics.to_dict()
        fields = {k: v for k, v in fields.items() if k in cls.model_fields and k != "cuts"}
        cuts = [CutHit.model_validate(c) for c in metrics.per_cut]
        return dict(fields, loudness_lufs=loudness_lufs, unhit_cuts=unhit_cuts, cuts=cuts)


class CueReport(CueMetrics):
    """One cue of one take: where it sits, what made it, and its measured quality."""

    index: int
    name: str
    start: float  # seconds from the scored range's start
    duration: float
    record_in: str  # timecode on the timeline (global start included)
    record_out: str
    engine: str
    seed: int
    take: int
    wav: str | None  # None for a rest: a gap on the music track, no file
    tempo: float
    silent: bool = False  # a rest over a gap or long black: digital silence, engine "silence"
    # what the WAV holds past the cue's out frame, declared: its ending ringing into a following
    # rest, or the last cue's --tail; the clip on the timeline is longer by it
    ring: float = 0.0
    # `--stems`: the cue's stems by name (drums, bass, harmony, melody), summing to `wav`
    stems: dict[str, str] = {}
    # Whose music it is (gvmgen.licences): one line, the non-commercial flag, every weight used.
    licence: str = ""
    non_commercial: bool | None = None
    weights: list[dict] = []
    # How a neural engine ran (GVMGenEngine.provenance less the weights): precision and its
    # policy, window policy, NaN/Inf retries. None for the arranger and for rests.
    engine_run: dict | None = None
    true_peak_dbtp: float | None = None  # a BS.1770-4 meter's reading (4x oversampled)
    clean_wav: str | None = None  # the unducked music when `wav` (the placed one) is ducked
    features: dict | None = None  # measured tempo, centroid, onset density (gvmgen.steering)


class ControlsReport(_Model):
    """What the editor asked of the music and what became of it, in plain lines."""

    mood: str | None = None
    intensity: int | None = None
    tempo: str | None = None
    markers: list[str] = []  # the control markers read, "intensity 8 at 12.50 s"
    applied: list[str] = []
    not_applied: list[str] = []


class DialogueRegion(_Model):
    """Speech in the range's own sound, seconds from the range start."""

    start: float
    end: float


class TakeInfo(_Model):
    take: int
    seed: int
    wavs: list[str | None]  # one per cue; None for a rest (no file)
    created: str  # ISO 8601
    job_id: str | None = None  # the job that made it (None in reports from before 0.2)
    cues: list[CueReport] = []  # every cue of this take, measured
    loudness_lufs: float | None = None  # integrated loudness of the take's whole track
    # 1 for the take whose beats fit the cuts best (must-hits first, then edit points, then
    # in-shot cuts; less stretch on a tie) among the takes made in one job; None before 0.3
    fit_rank: int | None = None
    # what its job's result was made from (`gvmgen.fingerprint.record`: the edit's digest, the
    # range, the options), checked when the job id comes again; None in older reports
    made_from: dict | None = None


class CutEntry(_Model):
    """One cut of the scored range, as the editor counts them (the same list as the progress
    line and report.png): where it is, what kind, and whether the music aimed at it."""

    time: float  # seconds from the scored range's start
    record: str  # timecode on the timeline (global start included)
    kind: str  # "edit" (between clips), "shot" (hard cut in a clip), "gradual" (dissolve, fade)
    cue: int  # index of the cue it falls in
    target: bool  # a hit target of its cue (gradual changes and cue boundaries are not)
    hit: bool | None = None  # for targets: a beat within ±50 ms in the delivered audio
    # "must-hit" (the editor's hit marker), "edit", "shot" or "dissolve": the order in which
    # the plan spends its metre budget (gvmgen.align.Priority); kind "marker": a hit marker
    # on no cut
    priority: str | None = None
    label: str = ""  # a must-hit marker's words after "hit"
    certain: bool | None = None  # for targets: False where the measurement cannot tell
    reachable: bool | None = None  # for targets: in the cue's metre ceiling
    reason: str | None = None  # for a missed target: why
    alternative: str | None = None  # for a missed must-hit: the nearest reachable alternative


class MissedMustHit(_Model):
    """A `hit` marker the music does not land on, why, and what would reach it."""

    time: float  # seconds from the scored range's start
    record: str
    label: str
    reason: str
    alternative: str | None = None


class ScoreResult(_Model):
    version: Literal[1] = SCHEMA_VERSION
    job_id: str
    input: str
    mode: ScoreMode
    engine: str
    engine_reason: str
    range_in: str  # timecodes of the scored range
    range_out: str
    rate: float
    duration: float
    take: int  # the take placed on the track by this run
    takes: list[TakeInfo]  # every take on disk for this range, oldest first
    cues: list[CueReport]
    cuts: list[CutEntry] = []  # every cut in the range, in time order
    missed_must_hits: list[MissedMustHit] = []  # the editor's hit markers the music misses
    loudness_lufs: float
    timeline: str  # score.otio
    extra_timelines: list[str] = []  # same format as an adapter input (e.g. FCP7 XML)
    report_json: str
    report_picture: str
    preview: str | None = None
    seconds: dict[str, float] = {}  # wall time per stage
    warnings: list[str] = []  # what was left out, e.g. an extra timeline format not written
    controls: ControlsReport | None = None
    dialogue: list[DialogueRegion] = []  # where the music is ducked (empty: none, or off)
    duck_db: float | None = None  # how far, dB (None: ducking off)
    loudness_target: list[float] | None = None  # [integrated LUFS, true-peak ceiling dBTP]
    loudness_standard: str | None = None  # the --loudness preset, when one was named
    cue_sheet: str | None = None  # cue_sheet.csv


def parse_request(data: dict) -> ScoreRequest:
    """Validate a request; errors name the field and what was expected."""
    try:
        return ScoreRequest.model_validate(data)
    except ValidationError as error:
        raise InputError(describe_validation_error(error)) from None


def describe_validation_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "request"
        parts.append(f"{field}: {item['msg']} (got {item.get('input')!r})")
    return "; ".join(parts)
