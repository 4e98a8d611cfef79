"""The synthetic city's files, written as households arrive: each department's export in its
own encoding, truth.csv, persons.csv, findings.csv and grids.csv.

Records are shuffled in blocks (a department's export is in no person's order) and truth.csv
is joined from one part per department at the end, so memory stays flat.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
from pathlib import Path
from typing import IO, Any

from connectors.synthetic_model import Household, Record
from connectors.synthetic_places import GRID_HEADER, grid_reference
from schemas.departments import department

# Each department's export: file name and encoding (the contract's; civil affairs' has a BOM).
EXPORTS = {"police": ("police_population.csv", "gb18030"),
           "civil_affairs": ("civil_affairs.csv", "utf-8-sig"),
           "social_security": ("social_security.jsonl", "utf-8"),
           "party": ("party_members.csv", "utf-8"),
           "health": ("health_certificates.csv", "utf-8")}
SOURCES = tuple(EXPORTS)  # truth.csv's order
BLOCK = 8192  # records shuffled together before they are written


class CityFiles:
    """The open files of one city being written."""

    def __init__(self, out_dir: Path, seed: int):
        self.out_dir = out_dir
        self.shuffle = random.Random(f"sanwang-shuffle:{seed}")
        self.exports: dict[str, IO[str]] = {}
        self.writers: dict[str, Any] = {}  # csv writers of the CSV exports
        self.headers = {source: department(source).header for source in SOURCES}
        for source, (name, encoding) in EXPORTS.items():
            self.exports[source] = open(out_dir / name, "w", encoding=encoding, newline="")
            if not name.endswith(".jsonl"):
                self.writers[source] = csv.writer(self.exports[source])
                self.writers[source].writerow(self.headers[source])
        self.truth_parts = {source: open(self._part(source), "w", encoding="utf-8", newline="")
                            for source in SOURCES}
        self.truth = {source: csv.writer(file) for source, file in self.truth_parts.items()}
        self.lists = {name: open(out_dir / f"{name}.csv", "w", encoding="utf-8", newline="")
                      for name in ("persons", "findings")}
        self.persons, self.findings = (csv.writer(file) for file in self.lists.values())
        self.persons.writerow(["person", "grid", "deceased"])
        self.findings.writerow(["kind", "person"])
        self.pending: dict[str, list[Record]] = {source: [] for source in SOURCES}

    def _part(self, source: str) -> Path:
        return self.out_dir / f".truth.{source}.part"

    def add(self, household: Household) -> None:
        """Write the household's people and findings; queue its records."""
        for person in household.members:
            self.persons.writerow([person.key, person.grid, int(person.died is not None)])
        for kind, person in household.findings:
            self.findings.writerow([kind, person.key])
        for record in household.records:
            self.pending[record.source].append(record)
        for source, records in self.pending.items():
            if len(records) >= BLOCK:
                self._flush(source)

    def _flush(self, source: str) -> None:
        records, header = self.pending[source], self.headers[source]
        self.shuffle.shuffle(records)
        writer = self.writers.get(source)
        for record in records:
            if writer is None:
                self.exports[source].write(json.dumps(record.row, ensure_ascii=False) + "\n")
            else:
                writer.writerow([record.row[column] for column in header])
            self.truth[source].writerow([source, record.record_id, record.person.key])
        records.clear()

    def finish(self) -> None:
        """Flush, join the truth parts into truth.csv (in SOURCES order), add grids.csv."""
        for source in SOURCES:
            self._flush(source)
        self._close()
        with open(self.out_dir / "truth.csv", "wb") as truth:
            truth.write(b"source,record_id,person\r\n")
            for source in SOURCES:
                with open(self._part(source), "rb") as part:
                    shutil.copyfileobj(part, truth)
        with open(self.out_dir / "grids.csv", "w", encoding="utf-8", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(GRID_HEADER)
            writer.writerows(grid.row() for grid in grid_reference())

    def _close(self) -> None:
        for file in [*self.exports.values(), *self.truth_parts.values(), *self.lists.values()]:
            file.close()

    def close(self) -> None:
        """Close every file and remove the truth parts, finished or not."""
        self._close()
        for source in SOURCES:
            self._part(source).unlink(missing_ok=True)
