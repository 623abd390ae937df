"""What `pip install .` puts in the wheel: every package of the source tree, and its data."""

from __future__ import annotations

import tomllib
from conftest import ROOT


def test_every_package_folder_is_in_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "cnaps_rag").rglob("__init__.py")
    }
    assert on_disk - listed == set(), "a package that a non-editable install would leave out"
    assert "cnaps_rag.prompts" in listed  # mapped from prompts/ at the top level
