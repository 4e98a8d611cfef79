"""Durable source progress (file positions, taken files), saved only after the broker acknowledged.

One small JSON file per source under `$SANWANG_HOME/checkpoints/`, replaced atomically
(write, fsync, rename): a kill -9 at any moment leaves either the old or the new progress.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


class CheckpointStore:
    """Progress by source key; the key names the source (e.g. a file's identity)."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def _path(self, key: str) -> Path:
        return self._folder / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".json")

    def load(self, key: str) -> dict[str, Any] | None:
        try:
            saved = json.loads(self._path(key).read_text())
        except FileNotFoundError:
            return None
        return saved["value"] if saved.get("key") == key else None

    def save(self, key: str, value: dict[str, Any]) -> None:
        self._folder.mkdir(parents=True, exist_ok=True)
        path = self._path(key)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as file:
            json.dump({"key": key, "value": value}, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)

    def clear(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def file_identity(path: Path) -> str:
    """Path, size and modification time: a file changed since the last run starts over."""
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
