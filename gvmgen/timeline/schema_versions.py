"""OTIO files written by a newer OpenTimelineIO, read by the one we pin (0.18).

OTIO's main branch (0.19) writes **Marker.3**, whose `color` is a `Color.1` object
(`r, g, b, a, name`) where Marker.2 holds one of eleven colour names (`RED`, `GREEN`, …). OTIO
0.18 refuses the whole file ("unsupported schema version"), so editors' newer files are read
through this documented downgrade:

* Marker.3 → Marker.2: the colour becomes the Marker.2 name spelled alike (case-insensitive,
  "Red" → `RED`), else the name of the nearest of the eleven colours by RGB; the original colour
  object is kept in the marker's `metadata["gvmgen"]["color"]`. Nothing else in a marker changed.
* `Color.1` elsewhere (clips, tracks) is read by 0.18 as it is.

A schema newer than both OTIO and this table raises `NewerSchemaError`, which says which schema,
which version this OTIO reads, and how to re-export the file.
"""

from __future__ import annotations

from collections.abc import Callable

import opentimelineio as otio

from gvmgen.errors import TimelineError

MARKER_COLOURS = {
    name: getattr(otio.core.Color, name) for name in dir(otio.schema.MarkerColor) if name.isupper()
}


class NewerSchemaError(TimelineError):
    """An object in a schema version newer than this OTIO reads and that we cannot downgrade."""

    def __init__(self, schema: str, version: int, known: int):
        self.schema, self.version, self.known = schema, version, known
        super().__init__(
            f"{schema}.{version} is from a newer OpenTimelineIO than {otio.__version__}, which "
            f"reads {schema} up to version {known}; export the timeline for OTIO 0.18 "
            f"(otio.adapters.write_to_file(..., target_schema_versions={{'{schema}': {known}}}))"
        )


def marker_3_to_2(marker: dict) -> None:
    """Marker.3's colour object → Marker.2's colour name (in place)."""
    colour = marker.get("color")
    if isinstance(colour, dict):
        marker["color"] = marker_colour_name(colour)
        metadata = marker.setdefault("metadata", {})
        metadata.setdefault("gvmgen", {})["color"] = dict(colour)
    marker["OTIO_SCHEMA"] = "Marker.2"


def marker_colour_name(colour: dict) -> str:
    """The Marker.2 name of a Color.1 object: its own name if it is one, else the nearest."""
    name = str(colour.get("name") or "").strip().upper()
    if name in MARKER_COLOURS:
        return name
    rgb = [float(colour.get(key, 0.0) or 0.0) for key in ("r", "g", "b")]

    def distance(known: otio.core.Color) -> float:
        return sum((a - b) ** 2 for a, b in zip(rgb, (known.r, known.g, known.b), strict=True))

    return min(sorted(MARKER_COLOURS), key=lambda n: distance(MARKER_COLOURS[n]))


# (schema, version it is written in) → the function that rewrites it one version down
DOWNGRADES: dict[tuple[str, int], Callable[[dict], None]] = {("Marker", 3): marker_3_to_2}


def downgraded(document):
    """`document` (parsed OTIO JSON) with every object this OTIO reads too new rewritten down.

    :raises NewerSchemaError: an object newer than OTIO reads with no downgrade in `DOWNGRADES`.
    """
    known = otio.core.type_version_map()
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        _downgrade_object(item, known)
        stack.extend(item.values())
    return document


def _downgrade_object(item: dict, known: dict[str, int]) -> None:
    label = item.get("OTIO_SCHEMA")
    if not isinstance(label, str) or "." not in label:
        return
    schema, _, version_text = label.rpartition(".")
    if schema not in known or not version_text.isdigit():
        return  # OTIO keeps schemas it does not know as UnknownSchema
    version = int(version_text)
    while version > known[schema]:
        step = DOWNGRADES.get((schema, version))
        if step is None:
            raise NewerSchemaError(schema, version, known[schema])
        step(item)
        version -= 1
        item["OTIO_SCHEMA"] = f"{schema}.{version}"
