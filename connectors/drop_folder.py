"""`sanwang connect DEPARTMENT --watch DIR`: each finished export dropped in a folder, once.

A department writes `NAME.part` and renames it when complete; only `.csv` and `.xlsx` files are
read, never a `.part`. A file is known by the sha256 of its content: once all its records are
acknowledged it is recorded as taken (durably), so neither a restart nor a second copy of the
same content publishes it again. A file interrupted half-way resumes at its saved position.
A file whose header cannot be read is dead-lettered whole and taken: the watch goes on.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from connectors.backfill import BackfillTally, ReadFrom, ToEvent, run_backfill
from connectors.checkpoints import CheckpointStore
from connectors.publisher import EventPublisher
from connectors.records import SourceRecord, UnreadableFileError
from schemas.hub_events import MAX_DEAD_LETTER_RAW

log = logging.getLogger(__name__)
SUFFIXES = (".csv", ".xlsx")
SourceFor = Callable[[Path], tuple[ReadFrom, ToEvent, int, str]]


def content_id(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def finished_files(folder: Path) -> list[Path]:
    """Complete exports in the folder, oldest first (a `.part` is still being written)."""
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES]
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))


class DropFolder:
    """Which files of one folder were taken, kept in the checkpoint store."""

    def __init__(self, folder: Path, checkpoints: CheckpointStore, destination: str) -> None:
        self.folder = folder
        self._checkpoints = checkpoints
        self._key = f"drop:{destination}:{folder.resolve()}"

    def taken(self) -> dict[str, str]:
        """content id -> the file name it had when taken."""
        return dict((self._checkpoints.load(self._key) or {}).get("taken", {}))

    def mark_taken(self, content: str, name: str) -> None:
        self._checkpoints.save(self._key, {"taken": {**self.taken(), content: name}})


def take_new_files(drop: DropFolder, source_for: SourceFor, publisher: EventPublisher,
                   checkpoints: CheckpointStore, stop: threading.Event | None = None
                   ) -> list[tuple[str, BackfillTally]]:
    """Publish every finished file not taken yet; returns each file's name and tally. Once
    `stop` is set, the file being read keeps its progress and is not taken."""
    done = []
    for path in finished_files(drop.folder):
        content = content_id(path)
        if content in drop.taken():
            continue
        try:
            read_from, to_event, total, unit = source_for(path)
            tally = run_backfill(read_from, to_event, publisher, checkpoints,
                                 key=f"dropfile:{publisher.destination}:{content}",
                                 total=total, unit=unit, progress=False, stop=stop)
        except UnreadableFileError as error:
            tally = _refuse_file(path, publisher, str(error))
        if tally.stopped_at is not None:
            break
        drop.mark_taken(content, path.name)
        log.info("took %s: %s", path.name, tally.summary())
        done.append((path.name, tally))
    return done


def _refuse_file(path: Path, publisher: EventPublisher, error: str) -> BackfillTally:
    """Dead-letter a file none of whose records can be read, as one record (its first bytes)."""
    with open(path, "rb") as file:
        head = file.read(MAX_DEAD_LETTER_RAW)
    publisher.dead_letter(SourceRecord({"file": path.name}, head), "file", error)
    publisher.flush()
    return BackfillTally(read=1, published=0, dead_lettered={"file": 1})


def watch(drop: DropFolder, source_for: SourceFor, publisher: EventPublisher,
          checkpoints: CheckpointStore, stop: threading.Event, poll_seconds: float = 1.0,
          on_file: Callable[[str, BackfillTally], None] = lambda name, tally: None) -> None:
    """Take new files as they appear until `stop` is set."""
    while not stop.is_set():
        for name, tally in take_new_files(drop, source_for, publisher, checkpoints, stop):
            on_file(name, tally)
        stop.wait(poll_seconds)
