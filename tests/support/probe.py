"""Run a script in a Python process of its own, for what a process may do only once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_probe(script: str, folder: Path) -> str:
    """What `script` prints; it gets the path of a fresh SQLite database in `folder` as its
    one argument."""
    result = subprocess.run(
        [sys.executable, "-c", script, str(folder / "probe.db")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout
