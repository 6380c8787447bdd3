"""The editor's say in the music: mood, intensity and tempo, for a whole range or from a marker on.

One place owns what each control means, so the CLI, the protocol, the markers and the engines
agree:

* **mood** is one of `MOODS`, a named set. Each names the tempo band, mode and instrumentation
  the arranger writes in, and the objective features a take is judged by when the engine cannot
  be steered (GVMGen, conditioned on picture only): tempo band, brightness (spectral centroid)
  and onset density. The picture still chooses within it (key, sections, where the hits are).
* **intensity** 1 (barely there) … 9 (everything): how busy, bright and forward the music is.
  5 is what the picture alone asks for.
* **tempo** one BPM (`96`) or a band (`90-110`), 40–220: the arranger's base tempo is chosen
  inside it; for GVMGen it bounds alignment and chooses among takes.

A `Controls` value is the request's; `ControlChange`s are markers' (`mood tense`, `intensity 8`,
`tempo 96`) and take effect from their time on. `CueControls` is what one cue's engine is asked:
the controls at its start and the changes inside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from gvmgen.errors import InputError

INTENSITY_RANGE = (1, 9)
NEUTRAL_INTENSITY = 5
TEMPO_RANGE = (40.0, 220.0)  # BPM an editor may ask for
TEMPO_TOLERANCE = 2.0  # BPM: a single tempo is honoured within this


@dataclass(frozen=True)
class MoodSpec:
    """One named mood.

    Attributes:
        name: what the editor types.
        description: one line, in a composer's words.
        tempo: (slowest, fastest) BPM of the band the base tempo is chosen in.
        mode: the arranger's scale mode (`gvmgen.engines.arranger.mood.MODES`).
        instrumentation: what plays, in words (the README and `--help` show it).
        centroid_hz: (low, high) spectral centroid a take of this mood sits in (brightness).
        onsets_per_second: (low, high) onset density a take of this mood sits in.
        density: the arranger's rhythmic density 0..3 at intensity 5.
        drums: whether the arranger's drum kit plays.
        texture: the arranger's chord instrument, "pad" or "keys".
        melody: the arranger's melody instrument, "lead" or "pluck".
    """

    name: str
    description: str
    tempo: tuple[float, float]
    mode: str
    instrumentation: str
    centroid_hz: tuple[float, float]
    onsets_per_second: tuple[float, float]
    density: int
    drums: bool = True
    texture: str = "pad"
    melody: str = "lead"


MOODS: dict[str, MoodSpec] = {
    m.name: m
    for m in (
        MoodSpec(
            "tense",
            "suspense: a dark minor-second colour over a pulse that will not settle",
            (84.0, 108.0),
            "phrygian",
            "held pad, pulsing bass, side-stick and ticking hats, a sparse synth line",
            (700.0, 1800.0),
            (2.0, 4.5),
            density=1,
        ),
        MoodSpec(
            "warm",
            "close and kind: major harmony, soft attacks, nothing hurried",
            (72.0, 96.0),
            "ionian",
            "electric piano comping, soft pad, round bass, plucked melody, light kit",
            (900.0, 2000.0),
            (1.5, 3.5),
            density=1,
            texture="keys",
            melody="pluck",
        ),
        MoodSpec(
            "uplifting",
            "rising and open: a bright major scale, a steady lift on the beat",
            (108.0, 128.0),
            "lydian",
            "keys on the eighths, full kit, octave bass, bright synth lead",
            (1600.0, 3500.0),
            (3.5, 6.5),
            density=2,
            texture="keys",
        ),
        MoodSpec(
            "sombre",
            "grave and slow: natural minor, long chords, room to breathe",
            (56.0, 76.0),
            "aeolian",
            "held pad, slow bass, a plucked line; no drums",
            (500.0, 1400.0),
            (0.5, 2.0),
            density=0,
            drums=False,
            melody="pluck",
        ),
        MoodSpec(
            "playful",
            "light on its feet: mixolydian bounce, short notes, a wink",
            (112.0, 136.0),
            "mixolydian",
            "keys comping, plucked melody, busy hats, bouncing bass",
            (1600.0, 3500.0),
            (4.0, 7.5),
            density=2,
            texture="keys",
            melody="pluck",
        ),
        MoodSpec(
            "epic",
            "large and heroic: minor-key weight, big downbeats, everything playing",
            (84.0, 104.0),
            "aeolian",
            "wide pad, full kit with crashes and tom fills, driving bass, lead",
            (1200.0, 2800.0),
            (4.0, 8.0),
            density=3,
        ),
        MoodSpec(
            "driving",
            "forward motion: dorian groove, straight eighths, no let-up",
            (120.0, 140.0),
            "dorian",
            "full kit on sixteenth hats, eighth-note bass, keys, synth lead",
            (1400.0, 3200.0),
            (5.0, 9.0),
            density=3,
            texture="keys",
        ),
        MoodSpec(
            "ambient",
            "suspended: lydian colour, no pulse to speak of, slow change",
            (60.0, 84.0),
            "lydian",
            "held pad and a soft plucked line; no drums, no bass rhythm",
            (600.0, 1600.0),
            (0.0, 1.5),
            density=0,
            drums=False,
            melody="pluck",
        ),
    )
}


@dataclass(frozen=True)
class TempoBand:
    """A BPM band; a single tempo is a band of width 0."""

    low: float
    high: float

    @property
    def single(self) -> bool:
        return self.low == self.high

    def __str__(self) -> str:
        return f"{self.low:g}" if self.single else f"{self.low:g}-{self.high:g}"


@dataclass(frozen=True)
class Controls:
    """What the editor asked of the music; None leaves it to the picture."""

    mood: str | None = None
    intensity: int | None = None
    tempo: TempoBand | None = None

    def with_change(self, change: ControlChange) -> Controls:
        return replace(self, **{change.control: change.value})

    @property
    def given(self) -> bool:
        return any(v is not None for v in (self.mood, self.intensity, self.tempo))


@dataclass(frozen=True)
class ControlChange:
    """A marker's change of one control, from `time` (seconds from the range start) on."""

    time: float
    control: str  # "mood", "intensity" or "tempo"
    value: object  # a mood name, an intensity, or a TempoBand
    marker: str = ""  # the marker's name as the editor wrote it


@dataclass(frozen=True)
class CueControls:
    """One cue's controls: those in force at its start and the changes inside it (seconds from
    the cue start, in time order)."""

    start: Controls = field(default_factory=Controls)
    changes: tuple[ControlChange, ...] = ()

    def at(self, time: float) -> Controls:
        """The controls in force `time` seconds into the cue."""
        now = self.start
        for change in self.changes:
            if change.time <= time:
                now = now.with_change(change)
        return now

    @property
    def given(self) -> bool:
        return self.start.given or bool(self.changes)


def cue_controls(
    base: Controls, changes: list[ControlChange], start: float, duration: float
) -> CueControls:
    """The controls of the cue `[start, start + duration)` (seconds from the range start)."""
    now = base
    inside = []
    for change in sorted(changes, key=lambda c: c.time):
        if change.time <= start:
            now = now.with_change(change)
        elif change.time < start + duration:
            inside.append(replace(change, time=change.time - start))
    return CueControls(now, tuple(inside))


# ---- parsing and checking (the request, the CLI and the markers share these) ----


def check_mood(name: str, field_name: str = "mood") -> str:
    """The mood's canonical name; an unknown one is an InputError listing the moods."""
    key = name.strip().lower()
    if key not in MOODS:
        raise InputError(
            f"{field_name}: unknown mood {name!r}; choose one of {', '.join(MOODS)}",
            field=field_name,
        )
    return key


def check_intensity(value, field_name: str = "intensity") -> int:
    low, high = INTENSITY_RANGE
    try:
        number = int(str(value).strip())
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise InputError(
            f"{field_name}: intensity is a whole number {low}-{high} "
            f"(1 barely there, 5 as the picture asks, 9 everything), got {value!r}",
            field=field_name,
        )
    return number


_TEMPO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?)\s*)?(?:bpm)?\s*$", re.I)


def parse_tempo(text, field_name: str = "tempo") -> TempoBand:
    """`96`, `96 bpm` or `90-110` → TempoBand, each end within TEMPO_RANGE."""
    low_limit, high_limit = TEMPO_RANGE
    match = _TEMPO.match(str(text))
    band = None
    if match:
        low = float(match.group(1))
        high = float(match.group(2)) if match.group(2) else low
        band = TempoBand(low, high)
    if band is None or band.low > band.high or band.low < low_limit or band.high > high_limit:
        raise InputError(
            f"{field_name}: tempo is BPM {low_limit:g}-{high_limit:g}, one value (96) or a "
            f"band (90-110), got {text!r}",
            field=field_name,
        )
    return band


def tempo_bounds(mood: MoodSpec | None, tempo: TempoBand | None, picture: tuple[float, float]):
    """The BPM band the arranger searches: the editor's tempo, else the mood's band, else the
    picture's; a mood's band narrowed towards the picture's when they overlap."""
    if tempo is not None:
        return (tempo.low, tempo.high)
    if mood is None:
        return picture
    low, high = max(mood.tempo[0], picture[0]), min(mood.tempo[1], picture[1])
    return (low, high) if high - low >= 8.0 else mood.tempo
