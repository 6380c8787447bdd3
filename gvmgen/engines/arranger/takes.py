"""Takes as other ideas: what a composer varies when the director says "try another".

A take's idea comes from its seed (`seed % len(IDEAS)`), so consecutive seeds, which is what
`--takes N` and regenerate hand out, get different ideas: another tempo lane (at least
`TEMPO_LANE_STEP` from every other lane, unless the cuts or the editor pin the tempo), another
key and mode, another groove and another instrumentation.
"""

from __future__ import annotations

from dataclasses import dataclass

from gvmgen.engines.arranger.mood import MODES

TEMPO_LANE_STEP = 0.08  # takes' tempos differ by at least 8 % ...
PIN_LOSS = 0.05  # ... unless that loses more than 5 points of cuts on beats: the cuts pin it
_MODE_ORDER = tuple(MODES)  # brightest first


@dataclass(frozen=True)
class Idea:
    """One take's choices beside the picture's.

    Attributes:
        lane: tempo lane: 0 is the picture's best tempo, each next lane the best tempo at least
            8 % from all lanes before it.
        transpose: semitones added to the key the picture chose.
        mode_step: steps along the modes (brightest first) from the mode the picture chose.
        groove: "straight", "half" (half-time backbeat), "shuffle" (swung eighths) or "push"
            (bass and chords anticipate the downbeat).
        palette: the instrumentation, a key of `PALETTES`.
    """

    lane: int
    transpose: int
    mode_step: int
    groove: str
    palette: str


IDEAS = (
    Idea(0, 0, 0, "straight", "band"),
    Idea(1, 5, 0, "half", "chamber"),
    Idea(2, -3, 1, "shuffle", "electric"),
    Idea(3, 2, -1, "push", "chamber"),
    Idea(4, -5, 1, "half", "electric"),
)

# Which instrument plays each role, per palette. Roles are what the part writers write.
PALETTES: dict[str, dict[str, str]] = {
    "band": {"pad": "strings", "keys": "keys", "lead": "lead", "pluck": "harp"},
    "chamber": {"pad": "strings", "keys": "piano", "lead": "strings_lead", "pluck": "harp"},
    "electric": {"pad": "pad", "keys": "keys", "lead": "bell", "pluck": "pluck"},
}


def idea_of(seed: int) -> Idea:
    return IDEAS[int(seed) % len(IDEAS)]


def shifted_mode(mode: str, step: int) -> str:
    """`mode` moved `step` places darker (positive) or brighter (negative), kept in range."""
    index = min(max(_MODE_ORDER.index(mode) + step, 0), len(_MODE_ORDER) - 1)
    return _MODE_ORDER[index]
