"""README sends a newcomer only to files the repository has."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_every_document_the_readme_names_exists():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.md)\b", text))
    missing = sorted(name for name in named if not (ROOT / name).exists())
    assert not missing, f"README names {missing}, which the repository does not have"
    assert "docs/architecture.md" in named
