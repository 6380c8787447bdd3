"""A batch yields between cues: an interactive job queued meanwhile runs before the next cue;
and an out-of-memory retry caps the engines' windows, so the plan makes shorter cues.

The pipeline renders a job cue by cue, and every cue starts with an engine call. The worker's
engines are wrapped so that this call first runs `before_cue()`, in which the worker runs any
waiting interactive job to its end (on the batch's own thread, which would only wait), and
then lets the batch's cue go on. The batch keeps its lease and its finished cues: nothing is
cancelled, nothing is redone, and the engine stays the one warm instance.
"""

from __future__ import annotations

from collections.abc import Callable

from gvmgen.engines import EngineChoice, EngineRegistry

_CUE_CALLS = frozenset({"generate", "generate_with_beats", "generate_takes"})


class YieldingEngine:
    """`engine` with `before_cue()` called ahead of each cue's generation call.

    Attributes are the engine's own (so protocol checks such as `TakesInOnePass` see exactly
    what the engine has); only the generation calls are wrapped.
    """

    def __init__(self, engine, before_cue: Callable[[], None], owner: YieldingEngines):
        self._engine, self._before_cue, self._owner = engine, before_cue, owner

    def __getattr__(self, name: str):
        attr = getattr(self._engine, name)
        if name == "window_seconds" and self._owner.window_limit is not None:
            return min(attr, self._owner.window_limit)  # shorter cues: less memory each
        if name not in _CUE_CALLS:
            return attr

        def cue_call(*args, **kwargs):
            self._before_cue()
            return attr(*args, **kwargs)

        return cue_call


class YieldingEngines:
    """What the `Scorer` asks of its registry (`choose`), with every engine a YieldingEngine."""

    def __init__(self, registry: EngineRegistry, before_cue: Callable[[], None]):
        self.registry, self.before_cue = registry, before_cue
        self.window_limit: float | None = None  # cap on every engine's window (OOM retries)
        self._wrapped: dict[int, YieldingEngine] = {}

    def choose(self, name: str) -> EngineChoice:
        choice = self.registry.choose(name)
        key = id(choice.engine)
        if key not in self._wrapped:
            self._wrapped[key] = YieldingEngine(choice.engine, lambda: self.before_cue(), self)
        return EngineChoice(self._wrapped[key], choice.reason)

    def loaded(self) -> list[str]:
        return self.registry.loaded()
