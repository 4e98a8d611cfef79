"""Where a backfill's publish path spends its time, by stage, from a py-spy raw profile.

Run by hand, never by CI:

    py-spy record --gil -r 250 -f raw -o hub.raw -- \\
        .venv/bin/python bench/backfill_throughput.py --rows 20000 --runs 1 --hub-only
    .venv/bin/python bench/backfill_stages.py hub.raw --records 100000 --rate 250

`--gil` keeps only the samples of the thread holding the GIL: the connector is one Python
process whose main thread is its bottleneck, so what holds the GIL is what the rate pays for
(kafka-python's sender thread included). Each sample counts for the first stage (in the order
below) whose function is on its stack, so nested work counts where it is named first: canonical
JSON wherever it runs (the id, the storable check, the value), the checks inside `publish`
apart. A stage's µs per record is its samples / rate / records.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

# (stage, text that a frame of the stack starts with): the first match counts
STAGES = (
    ("metrics (prometheus counters)", ("MetricWrapperBase.", "Counter.inc", "_on_published",
                                       "_on_dead_lettered")),
    ("canonical JSON (json.dumps / orjson)", ("canonical_json ", "event_value ")),
    ("schema validation (jsonschema-rs, fastjsonschema)", ("validation_errors ",
                                                          "validate_urn_")),
    ("read and decode lines", ("read_csv ", "read_jsonl ", "read_xlsx ")),
    ("map: value parsers", ("parsed_fields ",)),
    ("map: storable check", ("_check_storable ",)),
    ("event id (sha256)", ("event_id ", "event_id_of_json ")),
    ("envelope: make_event, with_time", ("make_event ", "with_time ")),
    ("partition key", ("partition_key ",)),
    ("kafka-python send (caller's thread)", ("KafkaProducer.send ",)),
    ("publish's own checks (NUL, size)", ("EventPublisher.publish ",)),
    ("flush (waiting for acks)", ("EventPublisher.flush ",)),
    ("checkpoint save", ("CheckpointStore.save ",)),
    ("progress bar (tqdm)", ("tqdm.",)),
    ("run_backfill's own lines", ("run_backfill ", "publish_record ")),
    ("open and close the producer", ("KafkaProducer.__init__ ", "KafkaProducer.close ",
                                     "EventPublisher.__init__ ", "EventPublisher.close ")),
    ("kafka-python sender thread", ("Sender.run ",)),
)
OUTSIDE = "outside the hub's runs (stack start, files, topics)"


def stage_of(frames: list[str], inside: bool) -> str:
    for stage, starts in STAGES:
        if any(frame.startswith(starts) for frame in frames):
            return stage
    return "other, inside backfill_file" if inside else OUTSIDE


def split(profile: Path) -> Counter[str]:
    """Samples by stage; a sender thread's samples count as the hub's (profile `--hub-only`
    runs: a bare run's samples are left out, but not its sender thread's)."""
    samples: Counter[str] = Counter()
    for line in profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if any(f.startswith("bare_run") for f in frames):
            samples[OUTSIDE] += int(count)
            continue
        inside = any(f.startswith(("backfill_file ", "Thread.")) for f in frames)
        samples[stage_of(frames, inside)] += int(count)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description="A backfill's py-spy profile split by stage")
    parser.add_argument("profile", type=Path, help="py-spy raw output (-f raw)")
    parser.add_argument("--records", type=int, required=True, help="records the hub published")
    parser.add_argument("--rate", type=int, default=250, help="py-spy's samples per second")
    args = parser.parse_args()
    samples = split(args.profile)
    hub = sum(n for stage, n in samples.items() if stage != OUTSIDE)
    print("| stage | samples | share | µs per record |\n|---|---:|---:|---:|")
    order = [s for s, _ in STAGES] + ["other, inside backfill_file"]
    for stage in order:
        if samples[stage]:
            print(f"| {stage} | {samples[stage]:,} | {samples[stage] / hub:.1%} | "
                  f"{samples[stage] / args.rate / args.records * 1e6:.1f} |")
    print(f"| **the hub's runs** | {hub:,} | 100% | {hub / args.rate / args.records * 1e6:.1f} |")
    print(f"\n({samples[OUTSIDE]:,} samples outside the hub's runs left out)")


if __name__ == "__main__":
    main()
