"""Where the departments' contract keeps its synthetic sample city (../shared beside the repo)."""

from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "departments" / "sample"
