"""Linkage quality and speed: the hub's clean-run merge against Splink 5 on the same records.

Run by hand, never by CI, in a venv of its own (Splink is a benchmark peer, never a dependency
of the hub):

    python3 -m venv /tmp/splinkvenv && /tmp/splinkvenv/bin/pip install splink -e .
    /tmp/splinkvenv/bin/python bench/splink_peer.py --persons 20000 --seed 7
    /tmp/splinkvenv/bin/python bench/splink_peer.py --city ../shared/departments/sample

One run: generate a synthetic city (connectors/synthetic_city.py) or read `--city DIR`; map
every record of the three exports with the hub's own connectors (source_for, schema check,
features_of), so both linkers see the same normalized fields; then
- hub: estimate_parameters + resolve, the clean run the streaming processor must reproduce
  (tests/integration/test_merge_convergence.py proves the two equal);
- Splink 5 on DuckDB: u by random sampling, m by EM over two blocking rules, the prior from
  deterministic rules, predict, connected components at THRESHOLD;
and score both with streams.evaluation.pairwise_scores against the city's truth.csv.
Wall times exclude reading and mapping, which both share.
"""

from __future__ import annotations

import argparse
import logging
import platform
import tempfile
import time
from pathlib import Path

import duckdb
import splink
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from connectors.file_backfill import source_for
from connectors.records import MappingError
from schemas.registry import validation_errors
from streams.estimate import estimate_parameters
from streams.evaluation import PairwiseScores, pairwise_scores, read_truth
from streams.features import RecordFeatures, features_of
from streams.resolve import resolve

EXPORTS = {"police": ("police_population.csv",),
           "civil_affairs": ("civil_affairs.csv", "civil_affairs.xlsx"),
           "social_security": ("social_security.jsonl",)}
THRESHOLD = 0.95  # Splink match probability at which a pair links (chosen before scoring)
# Deterministic rules for the prior (probability two random records match), assumed recall.
PRIOR_RULES, PRIOR_RECALL = (block_on("id", "pinyin"), block_on("pinyin", "birth", "phone")), 0.8
EM_RULES = (block_on("id"), block_on("pinyin", "birth_year"))


def load_records(city: Path, exports: dict[str, tuple[str, ...]] = EXPORTS
                 ) -> tuple[list[RecordFeatures], int]:
    """Every record's features as the hub computes them (latest version per record), and how
    many records the connectors would dead-letter."""
    latest: dict[str, RecordFeatures] = {}
    rejected = 0
    for department, names in exports.items():
        path = next(city / n for n in names if (city / n).exists())
        read_from, to_event, _, _ = source_for(department, path)
        for record in read_from(0):
            try:
                if record.columns is None:
                    raise MappingError(record.reason)
                event = to_event(record.columns, record.origin)
            except MappingError:
                rejected += 1
                continue
            if validation_errors(event):
                rejected += 1
                continue
            features = features_of(event)
            if features.ref not in latest or features.version > latest[features.ref].version:
                latest[features.ref] = features
    return sorted(latest.values(), key=lambda r: r.ref), rejected


def run_hub(records: list[RecordFeatures]) -> dict[str, str]:
    parameters = estimate_parameters(records)
    groups = resolve(records, parameters)
    return {link.ref: group[0].ref for group in groups for link in group}


def splink_row(r: RecordFeatures) -> dict[str, object]:
    """The same normalized fields as the hub compares, one flat row (NULL where missing)."""
    birth = r.birth or None
    return {
        "unique_id": r.ref,
        "id": r.id_number or r.id_digits,  # the valid number, else the raw characters
        "name": r.name,
        "pinyin": r.pinyin or None,
        "surname": r.name[0] if r.name else None,
        "birth": birth,
        "birth_year": birth[:4] if birth else None,
        "birth_month": birth[:7] if birth and len(birth) >= 7 else None,
        "sex": r.sex,
        "address": sorted({a.key() for a in r.addresses}) or None,
        "community": sorted({a.community for a in r.addresses if a.community}) or None,
        "phone": r.phone,
    }


def splink_settings() -> SettingsCreator:
    name = cl.CustomComparison([
        cll.NullLevel("name"),
        cll.ExactMatchLevel("name", term_frequency_adjustments=True),
        cll.ExactMatchLevel("pinyin"),
        cll.JaroWinklerLevel("pinyin", 0.92),
        cll.ElseLevel(),
    ], output_column_name="name")
    birth = cl.CustomComparison([
        cll.NullLevel("birth"),
        cll.ExactMatchLevel("birth"),
        cll.CustomLevel("substr(birth_l, 1, 7) = substr(birth_r, 1, 7)", "year-month"),
        cll.CustomLevel("substr(birth_l, 1, 4) = substr(birth_r, 1, 4)", "year"),
        cll.ElseLevel(),
    ], output_column_name="birth")
    address = cl.CustomComparison([
        cll.NullLevel("address"),
        cll.ArrayIntersectLevel("address", 1),
        cll.ArrayIntersectLevel("community", 1),
        cll.ElseLevel(),
    ], output_column_name="address")
    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=[cl.LevenshteinAtThresholds("id", [2]), name, birth, cl.ExactMatch("sex"),
                     address, cl.ExactMatch("phone")],
        blocking_rules_to_generate_predictions=[
            block_on("id"), block_on("pinyin", "birth_year"),
            block_on("surname", "birth_month"), block_on("phone")],
        retain_intermediate_calculation_columns=False,
    )


def run_splink(records: list[RecordFeatures], seed: int) -> tuple[dict[str, str], float]:
    """Record ref -> Splink cluster, and the estimated prior."""
    db_api = DuckDBAPI()
    table = db_api.register([splink_row(r) for r in records], dataset_display_name="records")
    linker = Linker(table, splink_settings(), log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(list(PRIOR_RULES),
                                                                  recall=PRIOR_RECALL)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=seed)
    for rule in EM_RULES:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    prior = linker.misc.save_model_to_json()["probability_two_random_records_match"]
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=THRESHOLD)
    rows = clusters.as_duckdbpyrelation().select("unique_id, cluster_id").fetchall()
    return {str(ref): str(cluster) for ref, cluster in rows}, prior


def row(name: str, s: PairwiseScores, seconds: float) -> str:
    return (f"| {name} | {s.records:,} | {s.predicted:,} | {s.true:,} | {s.correct:,} | "
            f"{s.precision:.4f} | {s.recall:.4f} | {s.f1:.4f} | {seconds:.1f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--city", type=Path, help="an existing city (the three exports and "
                        "truth.csv) instead of generating one")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="splink-peer-") as scratch:
        city = args.city
        if city is None:
            from connectors.synthetic_city import generate_city

            city = Path(scratch)
            started = time.perf_counter()
            generate_city(args.persons, args.seed, city)
            print(f"city: {args.persons:,} persons, seed {args.seed}, generated in "
                  f"{time.perf_counter() - started:.1f} s")
        else:
            print(f"city: {city}")
        started = time.perf_counter()
        records, rejected = load_records(city)
        truth = read_truth(city / "truth.csv")
    print(f"mapped {len(records):,} records with the hub's connectors and features_of in "
          f"{time.perf_counter() - started:.1f} s ({rejected} would be dead-lettered)")

    started = time.perf_counter()
    hub = run_hub(records)
    hub_seconds = time.perf_counter() - started
    started = time.perf_counter()
    peer, prior = run_splink(records, args.seed)
    splink_seconds = time.perf_counter() - started

    print(f"\nSplink {splink.__version__} (DuckDB {duckdb.__version__}): prior {prior:.3g} from "
          f"deterministic rules at assumed recall {PRIOR_RECALL}; links at match probability "
          f">= {THRESHOLD}. Python {platform.python_version()}.")
    print("hub: estimate_parameters + resolve, the clean run; the streaming path is proven "
          "equal to it by tests/integration/test_merge_convergence.py.\n")
    print("| linker | records | predicted pairs | true pairs | correct pairs | precision "
          "| recall | F1 | wall s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(row("hub (resolve)", pairwise_scores(hub, truth), hub_seconds))
    print(row(f"Splink {splink.__version__}", pairwise_scores(peer, truth), splink_seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
