"""Files a fresh clone must carry besides the code."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_license_file_holds_the_license_pyproject_declares() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    text = (ROOT / "LICENSE").read_text()
    assert declared == "MIT"
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 TaskFlow contributors" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text
