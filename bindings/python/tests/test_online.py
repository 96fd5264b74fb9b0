"""The online API from Python: `skewless.Online` fed events and asked for
features in process answers what `skewless run --events` computes, for the
Rust and the Python card-velocity components; dict rows as pandas gives
them; a state directory that survives reopening and exports what
`skewless run --as-served` reads back."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import skewless
from conftest import assert_same_bits, cli
from test_aggregations import AGGREGATING, cli_features, read_csv_as_skewless

# The spine's times go back weeks before the newest event.
LAG = dt.timedelta(days=60)


@pytest.mark.parametrize("name", AGGREGATING)
def test_online_answers_what_the_backfill_computes(examples, tmp_path, name):
    example = examples[name]
    expected = cli_features(example, tmp_path)
    t = skewless.load(example["component"])
    spine = read_csv_as_skewless(example["data"])
    events = read_csv_as_skewless(example["events"])
    # The example declares no lateness: each card's events in time order.
    events = events.take(pc.sort_indices(events, sort_keys=[("ts", "ascending")]))
    online = skewless.Online(t, query_lag=LAG)
    for batch in events.to_batches(max_chunksize=500):
        ingested = online.ingest(batch)
        assert ingested.applied == batch.num_rows and not ingested.late
    answered = online.features(spine)
    assert_same_bits(expected, answered.rows)
    assert answered.arrival == ingested.arrival
    assert online.stats()["applied"] == events.num_rows


def test_dict_rows_as_pandas_gives_them_and_a_state_that_persists(examples, tmp_path):
    example = examples["card-velocity"]
    t = skewless.load(example["component"])
    events = read_csv_as_skewless(example["events"])
    events = events.take(pc.sort_indices(events, sort_keys=[("ts", "ascending")]))
    records = events.to_pandas().to_dict("records")  # pd.Timestamp, numpy scalars, NaN
    state = tmp_path / "state"
    online = skewless.Online(t, state=state, query_lag=LAG)
    first = online.ingest(records[:2000])
    second = online.ingest(records[2000:])
    assert first.applied + second.applied == len(records)
    assert second.arrival > first.arrival and second.arrival.tzinfo is not None
    asked = [{"card_id": "card-00017", "ts": "2026-03-20T00:00:00Z", "amount": 10.0},
             {"card_id": "card-00017", "amount": 10.0}]
    answered = online.features(asked)
    assert answered.rows[0]["tx_count_24h"] >= 0 and len(answered.rows) == 2
    assert abs((answered.as_of - dt.datetime.now(dt.timezone.utc)).total_seconds()) < 60
    assert answered.arrival == second.arrival

    # Export, and the as-served backfill of the logged requests.
    exported = tmp_path / "served.jsonl"
    assert online.export(exported) == len(records)
    assert online.export(tmp_path / "later.jsonl", after=first.arrival) == second.applied
    logged = tmp_path / "logged.jsonl"
    with open(logged, "w") as out:
        for row in asked:
            out.write(json.dumps({**row, "ts": row.get("ts", answered.as_of.isoformat()),
                                  "_arrival": answered.arrival.isoformat()}) + "\n")
    again = tmp_path / "again.parquet"
    cli("run", example["component"], "--events", str(exported), "--as-served",
        "--input", str(logged), "--output", str(again), "--quiet")
    served = pa.Table.from_pylist(answered.rows, schema=pq.read_table(again).schema)
    assert_same_bits(pq.read_table(again), served)

    # Reopened: the same state, the same answer. It is where `skewless serve
    # --state` keeps the transform's, so a server's state opens the same way.
    del online
    assert (state / "card-velocity" / "events.redb").is_file()
    assert not (state / "events.redb").exists()
    reopened = skewless.Online(t, state_dir=state, query_lag=LAG)
    assert reopened.stats()["events"] == len(records)
    assert reopened.features(asked[:1]).rows == answered.rows[:1]


def test_online_errors(examples, fraud, tmp_path):
    with pytest.raises(skewless.BadInput, match="declares no aggregations"):
        skewless.Online(fraud)
    t = skewless.load(examples["card-velocity"]["component"])
    online = skewless.Online(t)
    with pytest.raises(skewless.BadInput, match="card_id"):
        online.ingest([{"ts": "2026-03-01T10:00:00Z", "amount": 1.0, "merchant": "m"}])
    with pytest.raises(skewless.BadInput, match="in memory only"):
        online.export(tmp_path / "x.jsonl")


@pytest.fixture
def redis_url(tmp_path):
    """A redis-server of the test's own (fsync always), on a free port."""
    import os
    import shutil
    import socket
    import subprocess
    import time

    if shutil.which("redis-server") is None:
        if os.environ.get("SKEWLESS_REQUIRE_REDIS"):
            pytest.fail("SKEWLESS_REQUIRE_REDIS is set and redis-server is not installed")
        pytest.skip("needs redis-server (apt-get install redis-server)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--appendonly", "yes",
         "--appendfsync", "always", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(7) == b"+PONG\r\n":
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.kill()
        server.wait()


def test_two_online_states_on_one_redis_answer_alike(examples, tmp_path, redis_url):
    example = examples["card-velocity"]
    expected = cli_features(example, tmp_path)
    t = skewless.load(example["component"])
    spine = read_csv_as_skewless(example["data"])
    events = read_csv_as_skewless(example["events"])
    events = events.take(pc.sort_indices(events, sort_keys=[("ts", "ascending")]))
    replicas = [skewless.Online(t, state=redis_url, query_lag=LAG) for _ in range(2)]
    for i, batch in enumerate(events.to_batches(max_chunksize=500)):
        assert replicas[i % 2].ingest(batch).applied == batch.num_rows
    answers = [replica.features(spine) for replica in replicas]
    assert_same_bits(expected, answers[0].rows)
    assert_same_bits(expected, answers[1].rows)
    assert answers[0].arrival == answers[1].arrival
    with pytest.raises(skewless.DataError, match="query lag"):
        skewless.Online(t, state=redis_url, query_lag=dt.timedelta(days=1))
