"""The distribution ships every package: pyproject.toml lists them by hand (renamed folders)."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALLED_AS = {"backend": "gvmgen_backend", "plugin": "gvmgen_plugin"}


def test_every_package_folder_is_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = set()
    for folder in ("gvmgen", "backend", "plugin"):
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT).parts
            on_disk.add(".".join((INSTALLED_AS.get(parts[0], parts[0]), *parts[1:])))
    assert set(config["packages"]) == on_disk
    assert config["package-dir"] == {"gvmgen": "gvmgen", **{v: k for k, v in INSTALLED_AS.items()}}
