"""A fake DaVinci Resolve for the Lua menu scripts, run through lupa (LuaJIT 2.1, like Fusion's).

It encodes the documented behaviours the scripts must survive (docs/resolve.md,
research nle-api.md §1.4-1.10), not a happy path:

- the timeline starts at 01:00:00:00: GetStartFrame() is 86400 at 23.976/24 fps and 107892 at
  29.97 drop-frame; item GetStart/GetEnd and AppendToTimeline's recordFrame are absolute,
  GetEnd exclusive; GetMarkInOut and timeline markers are relative to the start;
- a timeline can run at another rate than its project (mixed-rate timelines); a WAV keeps the
  project rate it was imported at, and clipInfo startFrame/endFrame count those frames. A range
  in another rate is floored onto the timeline: n frames of 23.976 media fill floor(n * 24 /
  23.976) frames of a 24 fps timeline. endFrame is exclusive from 19.0, integers only on 21 (a
  fractional batch places nothing);
- GetSetting("timelineFrameRate") is a string ("23.976", "25"), and may carry " DF" for a
  drop-frame timeline ("29.97 DF"); timelineDropFrameTimecode says drop-frame too;
- an append that overlaps an item is dropped without a word; one onto a locked track gives {};
  returned items have no ids; survivors of a partly dropped batch vanish on SaveProject;
- ImportMedia lands in the current folder and returns {} while a file is "being written";
- DeleteClips works on the Edit page only; methods newer than the version are missing
  (GetMarkInOut 19.1, GetSelectedClips 21.0.4, AddTrack/DeleteClips 18.5);
- free 21.1: no UIManager, and the Scripts menu lists no .py files.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import ClassVar

import opentimelineio as otio
import soundfile

RATES = {
    "23.976": Fraction(24000, 1001),
    "24": Fraction(24),
    "25": Fraction(25),
    "29.97": Fraction(30000, 1001),
    "30": Fraction(30),
    "50": Fraction(50),
    "59.94": Fraction(60000, 1001),
    "60": Fraction(60),
}
DROP_FRAME_RATES = ("29.97", "59.94")  # NTSC rates counted in drop-frame timecode here
# method -> the first version that has it; calling it on an older one is a Lua error
GATES = {
    "GetMarkInOut": (19, 1, 0),
    "GetSelectedClips": (21, 0, 4),
    "AddTrack": (18, 5, 0),
    "DeleteTrack": (18, 5, 0),
    "DeleteClips": (18, 5, 0),
    "Export": (18, 5, 0),
}


def start_frame(timecode: str, rate: str, drop_frame: bool) -> int:
    exact = float(RATES[rate])
    text = timecode[:-3] + (";" if drop_frame else ":") + timecode[-2:]
    return round(otio.opentime.from_timecode(text, exact).value)


class _Gated:
    """Methods newer than the running version do not exist (AttributeError → Lua error)."""

    version: tuple[int, int, int] = (21, 1, 0)

    def __getattribute__(self, name):
        gate = GATES.get(name)
        if gate is not None and object.__getattribute__(self, "version") < gate:
            raise AttributeError(f"{type(self).__name__} has no {name} before {gate}")
        return object.__getattribute__(self, name)


class _Markers:
    """Markers as Resolve keeps them on a timeline or a timeline item: one per frame."""

    markers: dict[int, dict]

    def AddMarker(self, frame, color, name, note, duration, custom_data=""):
        if frame in self.markers:
            return False
        self.markers[frame] = {
            "color": color,
            "name": name,
            "note": note,
            "duration": duration,
            "customData": custom_data,
        }
        return True

    def GetMarkers(self):
        return _lua().table_from(self.markers, recursive=True)


@dataclass(eq=False)
class MediaPoolItem:
    path: str
    fps: str
    samples: int
    sample_rate: int
    uid: str
    metadata: dict = field(default_factory=dict)

    def GetName(self):
        return Path(self.path).name

    def GetUniqueId(self):
        return self.uid

    @property
    def length(self) -> int:
        """Frames of media at its own rate; a partial last frame counts."""
        return math.ceil(self.samples * RATES[self.fps] / self.sample_rate - Fraction(1, 10**6))

    def GetClipProperty(self, key=None):
        props = {"File Path": self.path, "FPS": self.fps, "Frames": str(self.length)}
        return props.get(key) if key else props

    def GetMetadata(self, key=None):
        return self.metadata.get(key, "") if key else dict(self.metadata)

    def SetMetadata(self, key, value):
        self.metadata[key] = value
        return True


@dataclass(eq=False)
class TimelineItem(_Markers):
    name: str
    start: int
    duration: int
    kind: str
    track: int
    mpi: MediaPoolItem | None = None
    uid: str | None = None
    color: str = ""
    markers: dict = field(default_factory=dict)
    fragile: bool = False  # from a batch Resolve partly dropped: gone after SaveProject

    def GetName(self):
        return self.name

    def GetStart(self):
        return self.start

    def GetEnd(self):
        return self.start + self.duration

    def GetDuration(self):
        return self.duration

    def GetMediaPoolItem(self):
        return self.mpi

    def GetUniqueId(self):
        return self.uid

    def GetTrackTypeAndIndex(self):
        return _lua().table_from([self.kind, self.track])

    def SetClipColor(self, color):
        self.color = color
        return True

    def GetClipColor(self):
        return self.color


@dataclass(eq=False)
class Track:
    name: str
    locked: bool = False
    items: list = field(default_factory=list)


class Folder:
    def __init__(self, name):
        self.name, self.clips, self.subfolders = name, [], []

    def GetName(self):
        return self.name

    def GetClipList(self):
        return _lua_list(self.clips)

    def GetSubFolderList(self):
        return _lua_list(self.subfolders)


_RUNTIME = None
_ITEM_IDS = itertools.count(1)  # every timeline item has its own unique id


def _clocked(method):
    """Log the call's wall time on the FakeResolve (the bench splits the command's time by it)."""

    @functools.wraps(method)
    def clocked(self, *args):
        began = time.perf_counter()
        try:
            return method(self, *args)
        finally:
            self.resolve.calls.append((method.__name__, began, time.perf_counter()))

    return clocked


def _lua():
    return _RUNTIME


def _lua_list(values: list):
    """A Lua array of Python objects, built by Lua itself (as Resolve returns them)."""
    return _RUNTIME.eval("function(...) return {...} end")(*values)


class FakeResolve(_Gated):
    """One open project with one timeline; `studio` and `version` choose the edition."""

    EXPORT_OTIO, EXPORT_NONE, EXPORT_AAF, EXPORT_FCP_7_XML = 18, 0, 1, 4

    def __init__(
        self,
        lua,
        *,
        rate: str = "24",
        project_rate: str | None = None,
        rate_says_df: bool = False,
        version: tuple[int, int, int] = (21, 1, 0),
        studio: bool = False,
        scripts_root: Path | None = None,
        project_name: str = "Film",
    ):
        global _RUNTIME
        _RUNTIME = lua
        self.version = version
        self.studio = studio
        self.page = "media"
        self.scripts_root = scripts_root
        self.calls: list[tuple[str, float, float]] = []  # (method, start, end): for the bench
        self.timeline = FakeTimeline(self, rate, says_df=rate_says_df)
        self.project = FakeProject(self, project_name, project_rate or rate)
        self.manager = FakeProjectManager(self)
        self.fusion = FakeFusion(self)

    # the API
    def GetProductName(self):
        return "DaVinci Resolve Studio" if self.studio else "DaVinci Resolve"

    def GetVersion(self):
        return _lua().table_from([*self.version, 0, ""])

    def GetVersionString(self):
        return ".".join(str(v) for v in self.version)

    def GetProjectManager(self):
        return self.manager

    def OpenPage(self, name):
        self.page = name
        return True

    def GetCurrentPage(self):
        return self.page

    def Fusion(self):
        return self.fusion

    # for tests
    def menu_entries(self, scripts_root: Path) -> list[str]:
        """What Workspace > Scripts lists: every .lua, and .py except on free 21.1+."""
        shown = []
        for path in sorted((scripts_root / "Utility").rglob("*")):
            python_hidden = not self.studio and self.version >= (21, 1, 0)
            listed = path.suffix == ".lua" or (path.suffix == ".py" and not python_hidden)
            if listed and path.parent.name == "GVMGen":
                shown.append(path.stem)
        return shown


class FakeFusion:
    def __init__(self, resolve):
        self.resolve = resolve
        # UIManager is Studio-only from 19.1; on free it is nil
        free_without_ui = not resolve.studio and resolve.version >= (19, 1, 0)
        self.UIManager = None if free_without_ui else FakeUI()

    def GetResolve(self):
        return self.resolve

    def MapPath(self, path):
        if path == "Scripts:" and self.resolve.scripts_root is not None:
            return str(self.resolve.scripts_root) + os.sep
        return path


class FakeProjectManager:
    def __init__(self, resolve):
        self.resolve, self.saves = resolve, 0

    def GetCurrentProject(self):
        return self.resolve.project

    @_clocked
    def SaveProject(self):
        self.saves += 1
        for track in self.resolve.timeline.audio:
            track.items = [item for item in track.items if not item.fragile]
        return True


class FakeProject:
    def __init__(self, resolve, name, rate: str):
        self.resolve, self.name, self.rate_text = resolve, name, rate
        self.media_pool = FakeMediaPool(resolve)

    def GetName(self):
        return self.name

    def GetCurrentTimeline(self):
        return self.resolve.timeline

    def GetMediaPool(self):
        return self.media_pool

    def GetSetting(self, key=None):
        settings = {"timelineFrameRate": self.rate_text}  # the project's own rate
        return settings.get(key) if key else _lua().table_from(settings)


class FakeMediaPool:
    def __init__(self, resolve):
        self.resolve = resolve
        self.root = Folder("Master")
        self.current = self.root
        self.busy: dict[str, int] = {}  # path -> imports that still return {} ("being written")
        self.busy_first = 0  # every new path is "being written" for this many imports
        self.next_uid = 1
        self.imports = 0

    def GetRootFolder(self):
        return self.root

    def GetCurrentFolder(self):
        return self.current

    def SetCurrentFolder(self, folder):
        self.current = folder
        return True

    def AddSubFolder(self, parent, name):
        folder = Folder(name)
        parent.subfolders.append(folder)
        return folder

    @_clocked
    def ImportMedia(self, paths):
        self.imports += 1
        imported = []
        for path in _values(paths):
            path = str(path)
            self.busy.setdefault(path, self.busy_first)
            if self.busy[path] > 0:
                self.busy[path] -= 1
                continue
            if not os.path.isfile(path):
                continue
            info = soundfile.info(path)
            mpi = MediaPoolItem(
                path,
                self.resolve.project.rate_text,  # a WAV keeps the project rate at import
                info.frames,
                info.samplerate,
                f"mpi-{self.next_uid}",
            )
            self.next_uid += 1
            self.current.clips.append(mpi)
            imported.append(mpi)
        return _lua_list(imported)

    @_clocked
    def AppendToTimeline(self, infos):
        return self.resolve.timeline.append([dict(info.items()) for info in _values(infos)])

    def all_clips(self) -> list[MediaPoolItem]:
        found, folders = [], [self.root]
        while folders:
            folder = folders.pop()
            found.extend(folder.clips)
            folders.extend(folder.subfolders)
        return found


class FakeTimeline(_Markers, _Gated):
    def __init__(self, resolve, rate: str, name: str = "Cut 3", says_df: bool = False):
        self.resolve = resolve
        self.name = name
        self.rate_text = rate
        self.rate = RATES[rate]
        self.drop_frame = rate in DROP_FRAME_RATES
        self.says_df = says_df and self.drop_frame  # GetSetting writes "29.97 DF"
        self.start = start_frame("01:00:00:00", rate, self.drop_frame)
        self.length = 0
        self.video = [Track("Video 1")]
        self.audio = [Track("Audio 1")]
        self.markers: dict[int, dict] = {}  # relative frame -> marker
        self.mark_in_out: dict = {}
        self.playhead = self.start
        self.selected: list[TimelineItem] = []
        self.exports: list[str] = []

    @property
    def version(self):
        return self.resolve.version

    # building (tests)
    def add_video_clip(
        self, name: str, frames: int, media: str = "/media/missing.mov", source_start: int = 0
    ):
        """A shot at the end of Video 1: `frames` of `media` from its frame `source_start`."""
        item = TimelineItem(name, self.start + self.length, frames, "video", 1, uid=name)
        item.media, item.source_start = media, source_start
        self.video[0].items.append(item)
        self.length += frames
        return item

    def add_audio_item(self, track: int, start_rel: int, frames: int, name: str = "dialogue"):
        while len(self.audio) < track:
            self.audio.append(Track(f"Audio {len(self.audio) + 1}"))
        item = TimelineItem(name, self.start + start_rel, frames, "audio", track, uid=name)
        self.audio[track - 1].items.append(item)
        return item

    def snapshot(self) -> dict:
        """Everything an editor would see changed on the timeline."""
        return {
            "tracks": [
                (t.name, t.locked, sorted((i.start, i.duration, i.name) for i in t.items))
                for t in self.video + self.audio
            ],
            "markers": dict(self.markers),
        }

    # the API
    def GetName(self):
        return self.name

    def GetStartFrame(self):
        return self.start

    def GetEndFrame(self):
        return self.start + self.length

    def GetStartTimecode(self):
        return "01:00:00;00" if self.drop_frame else "01:00:00:00"

    def GetSetting(self, key=None):
        settings = {
            "timelineFrameRate": self.rate_text + (" DF" if self.says_df else ""),
            "timelineDropFrameTimecode": "1" if self.drop_frame else "0",
        }
        return settings.get(key) if key else _lua().table_from(settings)

    def GetTrackCount(self, kind):
        return len(self._tracks(kind))

    def _tracks(self, kind) -> list[Track]:
        return {"video": self.video, "audio": self.audio}.get(kind, [])

    def GetItemListInTrack(self, kind, index):
        tracks = self._tracks(kind)
        if not 1 <= index <= len(tracks):
            return None
        return _lua_list(sorted(tracks[index - 1].items, key=lambda i: i.start))

    def GetTrackName(self, kind, index):
        return self._tracks(kind)[index - 1].name

    def SetTrackName(self, kind, index, name):
        self._tracks(kind)[index - 1].name = name
        return True

    def GetIsTrackLocked(self, kind, index):
        return self._tracks(kind)[index - 1].locked

    def SetTrackLock(self, kind, index, locked):
        self._tracks(kind)[index - 1].locked = bool(locked)
        return True

    def AddTrack(self, kind, sub_type=None):
        tracks = self._tracks(kind)
        tracks.append(Track(f"{kind.title()} {len(tracks) + 1}"))
        return True

    def DeleteTrack(self, kind, index):
        tracks = self._tracks(kind)
        if not 1 <= index <= len(tracks) or tracks[index - 1].items:
            return False
        del tracks[index - 1]
        return True

    def GetMarkInOut(self):
        return _lua().table_from(self.mark_in_out, recursive=True)

    def set_marks(self, first: int, last_inclusive: int):
        marks = {"in": first, "out": last_inclusive}
        self.mark_in_out = {"video": dict(marks), "audio": dict(marks)}

    def GetSelectedClips(self):
        return _lua_list(self.selected)

    def GetCurrentVideoItem(self):
        for item in self.video[0].items:
            if item.start <= self.playhead < item.start + item.duration:
                return item
        return None

    def GetCurrentTimecode(self):
        return timecode_of(self.playhead, self.rate, self.drop_frame)

    def DeleteClips(self, items, ripple=False):
        if self.resolve.page != "edit":
            return False
        doomed = {id(item) for item in _values(items)}
        for track in self.video + self.audio:
            track.items = [item for item in track.items if id(item) not in doomed]
        return True

    @_clocked
    def Export(self, path, kind, sub_type=None):
        if kind != FakeResolve.EXPORT_OTIO or not os.path.isdir(os.path.dirname(path)):
            return False  # a bad constant or folder fails silently in Resolve too
        otio.adapters.write_to_file(self.to_otio(), path, adapter_name="otio_json")
        self.exports.append(path)
        return True

    def append(self, infos: list[dict]):
        if self.version >= (21, 0, 0) and not all(_whole(info) for info in infos):
            return _lua_list([])  # 21 rejects a batch with a fractional frame
        placed = [self._append_one(info) for info in infos]
        survivors = [item for item in placed if item is not None]
        if len(survivors) < len(placed):
            for item in survivors:
                item.fragile = True
        # returned items come back without ids
        ghosts = [
            TimelineItem(i.name, i.start, i.duration, i.kind, i.track, i.mpi) for i in survivors
        ]
        return _lua_list(ghosts)

    def _append_one(self, info: dict) -> TimelineItem | None:
        mpi, index = info["mediaPoolItem"], int(info.get("trackIndex", 1))
        if info.get("mediaType", 1) != 2 or not 1 <= index <= len(self.audio):
            return None
        track = self.audio[index - 1]
        if track.locked:
            return None
        first, last = int(info["startFrame"]), int(info["endFrame"])
        media_frames = min(
            last - first + (0 if self.version >= (19, 0, 0) else 1), mpi.length - first
        )
        # a range in another rate is floored onto the timeline
        duration = math.floor(Fraction(media_frames) * self.rate / RATES[mpi.fps])
        record = int(info["recordFrame"])
        if any(i.start < record + duration and record < i.start + i.duration for i in track.items):
            return None  # overlap: silently dropped
        item = TimelineItem(
            mpi.GetName(), record, duration, "audio", index, mpi, uid=f"ti-{next(_ITEM_IDS)}"
        )
        track.items.append(item)
        return item

    def to_otio(self) -> otio.schema.Timeline:
        """The timeline as Resolve's OTIO export writes it: bare paths, gaps, start timecode."""
        rate = float(self.rate)
        timeline = otio.schema.Timeline(
            name=self.name, global_start_time=otio.opentime.RationalTime(self.start, rate)
        )
        timeline.metadata["Resolve_OTIO"] = {"Resolve OTIO Meta Version": "1.0"}
        for kind, tracks in (("Video", self.video), ("Audio", self.audio)):
            for track in tracks:
                timeline.tracks.append(self._otio_track(track, kind, rate))
        for frame, marker in sorted(self.markers.items()):
            timeline.tracks.markers.append(
                otio.schema.Marker(
                    name=marker["name"],
                    marked_range=otio.opentime.TimeRange(
                        otio.opentime.RationalTime(frame, rate),
                        otio.opentime.RationalTime(max(1, marker["duration"]), rate),
                    ),
                    metadata={"Resolve_OTIO": {"Note": marker["note"]}},
                )
            )
        return timeline

    def _otio_track(self, track: Track, kind: str, rate: float) -> otio.schema.Track:
        out = otio.schema.Track(name=track.name, kind=getattr(otio.schema.TrackKind, kind))
        out.metadata["Resolve_OTIO"] = {"Locked": track.locked}
        cursor = self.start
        for item in sorted(track.items, key=lambda i: i.start):
            if item.start > cursor:
                out.append(
                    otio.schema.Gap(duration=otio.opentime.RationalTime(item.start - cursor, rate))
                )
            media = getattr(item, "media", None) or (item.mpi.path if item.mpi else "")
            first = getattr(item, "source_start", 0)
            used = otio.opentime.TimeRange(
                otio.opentime.RationalTime(first, rate),
                otio.opentime.RationalTime(item.duration, rate),
            )
            available = otio.opentime.TimeRange(
                otio.opentime.RationalTime(0, rate),
                otio.opentime.RationalTime(first + item.duration, rate),
            )
            out.append(
                otio.schema.Clip(
                    name=item.name,
                    media_reference=otio.schema.ExternalReference(media, available),
                    source_range=used,
                )
            )
            cursor = item.start + item.duration
        return out


def timecode_of(frame: int, rate: Fraction, drop_frame: bool) -> str:
    return otio.opentime.to_timecode(
        otio.opentime.RationalTime(frame, float(rate)), float(rate), drop_frame
    )


def _whole(info: dict) -> bool:
    keys = ("startFrame", "endFrame", "recordFrame", "trackIndex")
    return all(float(info[k]).is_integer() for k in keys if k in info)


def _values(table) -> list:
    """A Lua array table (or a Python list) as a list, in order."""
    if table is None:
        return []
    if isinstance(table, list | tuple):
        return list(table)
    return [table[k] for k in sorted(table.keys())]


# Studio's UIManager, as much of it as the progress window uses ----------------------------


class Handlers:
    """`win.On.Cancel.Clicked = fn` / `disp.On.Timeout = fn`: nested, assignable from Lua."""

    def __getattr__(self, name):
        child = Handlers()
        object.__setattr__(self, name, child)
        return child

    def __setitem__(self, name, value):  # lupa assigns `a.b = v` from Lua as an item
        object.__setattr__(self, name, value)

    def __getitem__(self, name):  # and then reads `a.b` as an item too
        return getattr(self, name)

    def __call__(self, *args):  # an event nobody handles
        return None


class Widget:
    def __init__(self, kind, props=None, children=None):
        self.kind, self.children = kind, children or []
        self.ID, self.Text = None, ""
        for key, value in dict(props.items() if props is not None else {}).items():
            setattr(self, key, value)
        self.texts = [self.Text]

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)
        if name == "Text" and hasattr(self, "texts"):
            self.texts.append(value)

    def __setitem__(self, name, value):  # `items.Stage.Text = ...` from Lua
        setattr(self, name, value)

    def __getitem__(self, name):
        return getattr(self, name)


class ComboBox(Widget):
    """`AddItem(text)`, `CurrentIndex` (0-based, as UIManager's), `CurrentText`."""

    def __init__(self, props=None):
        self.choices, self.CurrentIndex = [], 0
        super().__init__("ComboBox", props)

    def AddItem(self, text):
        self.choices.append(str(text))

    @property
    def CurrentText(self):
        return self.choices[self.CurrentIndex] if self.choices else ""

    def choose(self, text: str) -> None:
        self.CurrentIndex = self.choices.index(text)


def _widgets(widget) -> list:
    return [widget, *(w for child in widget.children for w in _widgets(child))]


class FakeWindow:
    def __init__(self, props, layout):
        self.props, self.layout, self.On = dict(props.items()), layout, Handlers()
        self.shown = False
        self.items = {w.ID: w for w in _widgets(layout) if w.ID}

    def GetItems(self):
        return _lua().table_from(self.items)

    def Show(self):
        self.shown = True

    def Hide(self):
        self.shown = False


class FakeTimer:
    def __init__(self, props):
        self.props, self.running = dict(props.items()), False

    def Start(self):
        self.running = True

    def Stop(self):
        self.running = False


class FakeUI:
    def __init__(self):
        self.windows: list[FakeWindow] = []

    def VGroup(self, children):
        return Widget("VGroup", None, _values(children))

    def HGroup(self, children):
        return Widget("HGroup", None, _values(children))

    def ComboBox(self, props):
        return ComboBox(props)

    def LineEdit(self, props):
        return Widget("LineEdit", props)

    def Label(self, props):
        return Widget("Label", props)

    def Button(self, props):
        return Widget("Button", props)

    def Timer(self, props):
        return FakeTimer(props)


class FakeDispatcher:
    """RunLoop fires the timer every 50 ms; `press_cancel` clicks Cancel once a stage shows."""

    press_cancel = False
    # The score dialog: the editor's choices by item ID ("Mood", "Intensity": a choice's text;
    # "Tempo": the text typed), then Score; None: the editor closes the dialog.
    controls: ClassVar[dict | None] = {}
    opened_with: ClassVar[dict] = {}  # what the dialog showed when it opened (read by tests)

    def __init__(self, ui):
        self.ui, self.On, self.running = ui, Handlers(), False

    def AddWindow(self, props, layout):
        window = FakeWindow(props, layout)
        self.ui.windows.append(window)
        return window

    def RunLoop(self):
        import time

        window = self.ui.windows[-1]
        if window.props.get("ID") == "GVMGenControls":
            return self._answer_controls(window)
        self.running = True
        for _ in range(600):  # 30 s at most
            if not self.running:
                return
            time.sleep(0.05)
            self.On.Timeout()
            window = self.ui.windows[-1]
            if self.press_cancel and len(window.items["Stage"].texts) > 2:
                window.On.Cancel.Clicked()
                FakeDispatcher.press_cancel = False

    def ExitLoop(self):
        self.running = False

    def _answer_controls(self, window):
        items = window.items
        FakeDispatcher.opened_with = {
            "Mood": items["Mood"].CurrentText,
            "Intensity": items["Intensity"].CurrentText,
            "Tempo": items["Tempo"].Text,
        }
        if self.controls is None:
            window.On.Close.Clicked()
            return
        for key, value in self.controls.items():
            if key == "Tempo":
                items[key].Text = value
            else:
                items[key].choose(value)
        window.On.Score.Clicked()


class FakeBmd:
    def UIDispatcher(self, ui):
        return FakeDispatcher(ui)
