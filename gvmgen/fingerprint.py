"""What a job's result is made from, recorded with its takes, so a job id that comes again can
be checked against the request that brings it.

`record(request, edit)` holds, by name:

* "edit": a digest of the edit as read from the timeline file — every visible clip (its media,
  by path and size, its source and record times, its speed), the clips of the audio tracks
  (dialogue ducks the music), the dissolves, the rate and start timecode, every marker — over the
  whole timeline, which the delivered score.otio copies. Not the input's path: a recut saved over
  the same file is another edit, and a copy of the same edit elsewhere is the same one;
* "range": the scored range as record timecodes (the same range given another way is the same);
* "options": every other request option, as the request holds it.

`changes(before, now)` names what differs, in words for the error an editor reads.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import opentimelineio as otio

from gvmgen.analysis import range_timecodes
from gvmgen.schema import ScoreRequest
from gvmgen.timeline.edit import Edit
from gvmgen.timeline.flatten import Piece, track_dissolves, visible_pieces
from gvmgen.timeline.markers import markers_in_range
from gvmgen.timeline.media_refs import media_url, path_from_url
from gvmgen.timeline.score_track import METADATA_KEY, SCORE_TRACK_NAME

RECORD_VERSION = 1
# Request fields that are not options of what is made: where from, where to, which job; the
# range counts as the timecodes it selects.
NOT_OPTIONS = frozenset({"version", "input", "out_dir", "job_id", "range"})
EDIT_CHANGED = "the edit (clips, media, source ranges, rate, markers or sound)"


def record(request: ScoreRequest, edit: Edit) -> dict:
    """What the result of `request` over `edit` is made from (JSON data, see the module)."""
    return {
        "version": RECORD_VERSION,
        "edit": edit_digest(edit),
        "range": "-".join(range_timecodes(edit)),
        "options": options_of(request),
    }


def options_of(request: ScoreRequest) -> dict:
    data = request.model_dump(mode="json")
    return {name: value for name, value in data.items() if name not in NOT_OPTIONS}


def changes(before: dict, now: dict) -> list[str]:
    """What differs between two records, e.g. ["range 01:00:00:00-01:00:31:12 →
    01:00:00:00-01:00:29:12", "seed unset → 5"]; empty when they make the same result."""
    found = []
    if before.get("range") != now["range"]:
        found.append(f"range {before.get('range')} → {now['range']}")
    if before.get("edit") != now["edit"]:
        found.append(EDIT_CHANGED)
    defaults = _option_defaults()
    old = before.get("options", {})
    for name, value in now["options"].items():
        was = old.get(name, defaults.get(name))  # an option added since: its default then
        if was != value:
            found.append(f"{name} {_shown(was)} → {_shown(value)}")
    return found


def edit_digest(edit: Edit) -> str:
    """A digest of everything in the edit's timeline that the result depends on."""
    timeline = edit.timeline
    base = edit.source_path.parent if edit.source_path else None
    whole = otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, edit.rate), timeline.duration().rescaled_to(edit.rate)
    )
    content = {
        "rate": edit.rate,
        "start": [edit.global_start.value, edit.global_start.rate],
        "drop_frame": edit.drop_frame,
        "video": [_piece(p, base) for p in visible_pieces(list(timeline.video_tracks()))],
        "audio": [
            [_piece(p, base) for p in visible_pieces([track])]
            for track in timeline.audio_tracks()
            if not _ours(track)
        ],
        "dissolves": [
            [str(d.start), str(d.end)] for t in timeline.video_tracks() for d in track_dissolves(t)
        ],
        "markers": [
            [m.name, m.time.value, m.duration.value, m.color, m.comment]
            for m in markers_in_range(timeline, whole)
        ],
    }
    text = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def _piece(piece: Piece, base: Path | None) -> list:
    """A visible clip: its media (path and size; a clip without a file by its name) and times."""
    url = media_url(piece.clip)
    path = path_from_url(url, base) if url else None
    media = [str(path), _size(path)] if path else [None, piece.clip.name]
    times = [piece.start, piece.end, piece.source_start, piece.speed]
    return [*media, *(str(t) for t in times)]


def _size(path: Path) -> int | None:
    """The media file's size: a file replaced under the same name is other media."""
    try:
        return path.stat().st_size
    except OSError:  # missing media (scored on its edit points alone)
        return None


def _ours(track: otio.schema.Track) -> bool:
    """A music track we placed (a score.otio scored again): not the timeline's own sound."""
    return track.name.startswith(SCORE_TRACK_NAME) or any(
        METADATA_KEY in item.metadata for item in track
    )


def _option_defaults() -> dict:
    return options_of(ScoreRequest(input="-", out_dir="-"))


def _shown(value) -> str:
    return "unset" if value is None else str(value)
