"""`skewless run --events` against the independent reference: the nine
card-velocity features of every spine row, compared by bits, on generated
data with every edge of the spec (ties, window edges, cancelling sums, NaN
and infinities, nulls), in every format, for 1 and 2 threads, any batch
size, events in any order, partitions in memory and spilled to disk; and
the Python transform computes the same bits as the Rust one.

Run by `cargo test` (host/tests/integration/aggregations.rs) with the CLI
in `SKEWLESS` and the components in `SKEWLESS_CARD_VELOCITY` and
`SKEWLESS_CARD_VELOCITY_PY`.
"""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import generate
import reference

SKEWLESS = os.environ["SKEWLESS"]
RUST = os.environ["SKEWLESS_CARD_VELOCITY"]
PYTHON = os.environ["SKEWLESS_CARD_VELOCITY_PY"]
CACHE = os.environ.get("SKEWLESS_CACHE_DIR")


def run(component, events, spine, output, *extra):
    args = [SKEWLESS, "run", str(component), "--events", str(events), "--input", str(spine),
            "--output", str(output), "--quiet", *extra]
    if CACHE:
        args += ["--cache-dir", CACHE]
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return pq.read_table(output).to_pylist()


def check(expected, actual):
    diffs = reference.compare(expected, actual)
    bad = {feature: rows[:5] for feature, rows in diffs.items() if rows}
    assert not bad, {
        f: [(r, expected[r][f], actual[r][f]) for r in rows] for f, rows in bad.items()
    }


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Seed 1: 20,000 events of 500 cards, 5,000 spine rows."""
    events, spine = generate.generate(1, 20_000, 5_000, 500)
    out = tmp_path_factory.mktemp("data")
    paths = {fmt: generate.write(events, spine, out / fmt, fmt) for fmt in ("parquet", "csv", "jsonl")}
    return events, spine, paths, reference.card_velocity(events, spine)


def test_the_worked_example_is_what_the_readme_says(tmp_path):
    events, spine, expected = generate.worked_example()
    paths = generate.write(events, spine, tmp_path, "parquet")
    actual = run(RUST, paths[0], paths[1], tmp_path / "features.parquet")
    check(expected, actual)
    check(reference.card_velocity(events, spine), actual)
    # The files the README runs are these events and this spine.
    worked = Path(__file__).resolve().parents[3] / "examples" / "card-velocity" / "data" / "worked"
    check(expected, run(RUST, worked / "events.csv", worked / "spine.csv", tmp_path / "readme.parquet"))


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_every_spine_row_matches_the_reference_by_bits(data, tmp_path, fmt):
    events, spine, paths, expected = data
    events_file, spine_file = paths[fmt]
    actual = run(RUST, events_file, spine_file, tmp_path / "features.parquet")
    check(expected, actual)


@pytest.mark.parametrize("extra", [
    ["--threads", "1"],
    ["--threads", "2", "--batch-size", "7"],
    ["--threads", "2", "--batch-size", "1000", "--spill-above", "20000"],
    ["--threads", "1", "--spill-above", "1"],
])
def test_threads_batches_and_spilling_change_nothing(data, tmp_path, extra):
    events, spine, paths, expected = data
    events_file, spine_file = paths["parquet"]
    check(expected, run(RUST, events_file, spine_file, tmp_path / "features.parquet", *extra))


def test_the_order_of_events_changes_nothing(data, tmp_path):
    events, spine, paths, expected = data
    for seed in (2, 3):
        shuffled = list(events)
        random.Random(seed).shuffle(shuffled)
        files = generate.write(shuffled, spine, tmp_path / f"shuffled{seed}", "parquet")
        check(expected, run(RUST, files[0], files[1], tmp_path / f"features{seed}.parquet",
                            "--batch-size", str(97 * seed)))


def test_the_python_transform_computes_the_same_bits(data, tmp_path):
    events, spine, paths, expected = data
    events_file, spine_file = paths["parquet"]
    check(expected, run(PYTHON, events_file, spine_file, tmp_path / "features.parquet"))


def test_spark_int96_event_times_name_the_events_file_and_the_flag(tmp_path):
    """Events as Spark writes them by default (Parquet INT96, no zone) are
    refused naming the events file, not the spine, and the flag that takes
    them as UTC; with it, the features are the reference's."""
    events, spine, expected = generate.worked_example()
    events_file, spine_file = tmp_path / "events.parquet", tmp_path / "spine.parquet"
    pq.write_table(generate.events_table(events), events_file,
                    use_deprecated_int96_timestamps=True)
    pq.write_table(generate.spine_table(spine), spine_file)
    assert pq.ParquetFile(events_file).schema.column(1).physical_type == "INT96"
    output = tmp_path / "features.parquet"
    args = [SKEWLESS, "run", str(RUST), "--events", str(events_file), "--input",
            str(spine_file), "--output", str(output), "--quiet"]
    refused = subprocess.run(args, capture_output=True, text=True)
    assert refused.returncode != 0
    message = refused.stderr.strip()
    assert f"cannot read `{events_file}`: column `ts` holds INT96 timestamps" in message, message
    assert message.endswith("(on the command line: `--naive-timestamps utc`)"), message
    assert not output.exists()
    check(expected, run(RUST, events_file, spine_file, output, "--naive-timestamps", "utc"))
