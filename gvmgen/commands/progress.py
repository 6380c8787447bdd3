"""The CLI's progress display, driven by `progress(fraction, message)` callbacks or by the
pipeline's `ProgressEvent`s (`bar.event`)."""

from __future__ import annotations

import sys


class ProgressBar:
    """A tqdm bar on a terminal; plain lines on stderr otherwise (logs, CI), one per stage."""

    def __init__(self, title: str = ""):
        self.title = title

    def __enter__(self):
        from tqdm import tqdm

        self.bar = tqdm(
            total=1000,
            desc=self.title or None,
            unit="‰",
            file=sys.stderr,
            leave=False,
            disable=not sys.stderr.isatty(),
            bar_format="{l_bar}{bar}| {elapsed}<{remaining} {postfix}",
        )
        self.last_stage = ""
        return self

    def __call__(self, fraction: float, message: str) -> None:
        self.bar.n = round(min(max(fraction, 0.0), 1.0) * 1000)
        self.bar.set_postfix_str(message[:60], refresh=True)
        stage = message.split(":")[0]
        if self.bar.disable and stage != self.last_stage:
            self.last_stage = stage
            print(f"[{fraction:4.0%}] {message}", file=sys.stderr)

    def event(self, event) -> None:
        """Show a `gvmgen.schema.ProgressEvent` (its fraction of the whole job, its message)."""
        self(event.fraction, event.message)

    def __exit__(self, *exc) -> None:
        self.bar.close()
