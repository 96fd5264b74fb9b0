"""Aggregations from Python: `Transform.transform(spine, events=...)` on
Arrow data from pyarrow, polars and pandas, and `skewless.run(events=...)`,
against `skewless run --events` bit for bit; the errors a user meets."""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import skewless
from conftest import assert_same_bits, cli, read_bundled

AGGREGATING = ["card-velocity", "card-velocity-py"]


def read_csv_as_skewless(path: str) -> pa.Table:
    """A CSV file read by pyarrow under skewless's CSV rules: only an empty
    field is null (pyarrow's default also reads `NaN`, `NA`, `null`... as
    null, where skewless reads `NaN` as the float NaN: given the same file,
    the two would differ, and this test is about the engine, not that)."""
    import pyarrow.csv as csv

    return csv.read_csv(path, convert_options=csv.ConvertOptions(
        null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False))


def cli_features(example, tmp_path, *extra):
    out = tmp_path / "cli.parquet"
    cli("run", example["component"], "--events", example["events"], "--input", example["data"],
        "--output", str(out), "--quiet", *extra)
    return pq.read_table(out)


@pytest.mark.parametrize("name", AGGREGATING)
def test_transform_with_events_is_bit_identical_to_skewless_run(examples, tmp_path, name):
    example = examples[name]
    expected = cli_features(example, tmp_path)
    t = skewless.load(example["component"])
    spine, events = read_csv_as_skewless(example["data"]), read_csv_as_skewless(example["events"])
    assert t.aggregation is not None and [f.name for f in t.spine_inputs][:2] == ["card_id", "ts"]
    assert_same_bits(expected, t.transform(spine, events=events))
    # Events in another order, in odd batches: the same bits.
    order = list(range(events.num_rows))
    random.Random(3).shuffle(order)
    shuffled = events.take(pa.array(order))
    assert_same_bits(expected, t.transform(spine, events=pa.Table.from_batches(shuffled.to_batches(97))))
    # The spine as polars gives it, and the events.
    import polars as pl

    assert_same_bits(expected, t.transform(pl.from_arrow(spine), events=pl.from_arrow(shuffled)))


def test_run_with_events_writes_what_the_cli_writes(examples, tmp_path):
    example = examples["card-velocity"]
    expected = cli_features(example, tmp_path, "--keep", "card_id")
    out = tmp_path / "py.parquet"
    summary = skewless.run(example["component"], example["data"], out, events=example["events"],
                           keep=["card_id"])
    assert summary.rows == expected.num_rows
    assert_same_bits(expected, pq.read_table(out))
    assert summary.events == sum(1 for _ in open(example["events"])) - 1
    assert 0 <= summary.rows_without_events < summary.rows

    # Keys written differently in the two files: every window empty, said.
    spine = read_csv_as_skewless(example["data"])
    keys = spine.column("card_id").to_pylist()
    upper = tmp_path / "upper.parquet"
    at = spine.schema.get_field_index("card_id")
    pq.write_table(spine.set_column(at, "card_id", pa.array([k.upper() + "!" for k in keys])), upper)
    with pytest.warns(UserWarning, match=r"no row's `card_id` is the key of any of the \d+ events"):
        summary = skewless.run(example["component"], upper, tmp_path / "upper-out.parquet",
                               events=example["events"])
    assert summary.rows_without_events == summary.rows


def test_pandas_spine_and_events(examples, tmp_path):
    example = examples["card-velocity"]
    expected = cli_features(example, tmp_path)
    t = skewless.load(example["component"])
    spine, events = read_csv_as_skewless(example["data"]), read_csv_as_skewless(example["events"])
    got = t.transform_pandas(spine.to_pandas(), events=events.to_pandas())
    assert len(got) == expected.num_rows
    for name in ("tx_count_1h", "tx_count_24h", "distinct_merchants_24h", "declined_count_24h"):
        assert got[name].tolist() == expected[name].to_pylist(), name


def test_events_are_required_exactly_when_a_transform_aggregates(examples):
    card = skewless.load(examples["card-velocity"]["component"])
    spine = read_csv_as_skewless(examples["card-velocity"]["data"])
    events = read_csv_as_skewless(examples["card-velocity"]["events"])
    with pytest.raises(skewless.BadInput, match=r"aggregates events: pass them as `events=`"):
        card.transform(spine)
    fraud = skewless.load(examples["fraud-features"]["component"])
    rows = read_bundled(examples["fraud-features"]["data"])
    with pytest.raises(skewless.BadInput, match=r"declares no aggregations, so it takes no `events=`"):
        fraud.transform(rows, events=events)
    with pytest.raises(skewless.BadInput, match=r"`events`: it has no column `merchant`; its columns are"):
        card.transform(spine, events=events.drop_columns(["merchant"]))
    with pytest.raises(skewless.BadInput, match=r"no column `amount`"):
        card.transform(spine.slice(0, 0).drop_columns(["amount"]), events=events)
    # Rows alone cannot give the aggregates: told where they come from, not
    # asked for them as if they were inputs.
    row = {"card_id": "c1", "ts": "2026-03-15T13:05:19Z", "amount": 1.0}
    with pytest.raises(skewless.BadInput, match=r"aggregates events, which rows alone do not carry: .*skewless\.Online"):
        card.transform_rows([row])
    assert [f.name for f in card.spine_inputs] == ["card_id", "ts", "amount"]


def test_verify_takes_the_events(examples):
    example = examples["card-velocity"]
    report = skewless.verify(example["component"], example["data"], events=example["events"])
    assert report.passed, report
    assert any(p.name.startswith("served state") for p in report.paths), report
    with pytest.raises(skewless.InvalidSetting, match=r"give the events file beside the input"):
        skewless.verify(example["component"], example["data"])


def test_naive_event_times_name_the_events_and_the_keyword(examples):
    """Spine and events both have a `ts`: the error says which one, and
    where Python takes the setting that reads such times as UTC."""
    example = examples["card-velocity"]
    t = skewless.load(example["component"])
    spine, events = read_csv_as_skewless(example["data"]), read_csv_as_skewless(example["events"])
    at = events.schema.get_field_index("ts")
    naive = events.set_column(at, "ts", events.column("ts").cast(pa.timestamp("us")))
    with pytest.raises(skewless.BadInput) as refused:
        t.transform(spine, events=naive)
    message = str(refused.value)
    assert message.startswith("in `events`: column `ts` has type Timestamp"), message
    assert message.endswith('(in Python: `skewless.load(component, naive_timestamps="utc")`)'), message
    assert refused.value.column == "ts"
    utc = skewless.load(example["component"], naive_timestamps="utc")
    assert_same_bits(t.transform(spine, events=events), utc.transform(spine, events=naive))
