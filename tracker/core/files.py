"""Small file-system chores shared by the places that keep files under the instance folder."""
from __future__ import annotations

import time
from pathlib import Path


def remove_older_than(directory: Path, pattern: str, seconds: float) -> None:
    """Delete the files of ``directory`` matching ``pattern`` last modified more than
    ``seconds`` ago; another process removing the same files at the same time is fine."""
    cutoff = time.time() - seconds
    for path in directory.glob(pattern):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
        except OSError:  # gone meanwhile, or not ours to delete
            continue
