"""Shared fixtures of the Python package's tests.

Run by `cargo test` (host/tests/integration/python_package.rs), which
builds the package into the tests' venv and passes, as environment
variables, the built CLI (`SKEWLESS`), the example components with their
bundled data (`SKEWLESS_EXAMPLES`, JSON) and the test guests
(`SKEWLESS_GUESTS`, JSON).
"""

from __future__ import annotations

import json
import math
import os
import random
import struct
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv
import pyarrow.json
import pyarrow.parquet as pq
import pytest

import skewless

CLI = os.environ.get("SKEWLESS", "skewless")
EXAMPLES = json.loads(os.environ.get("SKEWLESS_EXAMPLES", "{}"))
GUESTS = json.loads(os.environ.get("SKEWLESS_GUESTS", "{}"))


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([CLI, *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"skewless {' '.join(args)} failed:\n{result.stderr}")
    return result


def read_bundled(path: str) -> pa.Table:
    """A bundled data file as a user's pyarrow reads it."""
    if path.endswith(".csv"):
        return pyarrow.csv.read_csv(path)
    if path.endswith(".jsonl"):
        return pyarrow.json.read_json(path)
    return pq.read_table(path)


# Edge values of each declared type.
_F64_EDGES = [0.0, -0.0, math.nan, math.inf, -math.inf, 5e-324, -5e-324, 2.2250738585072014e-308,
              1e308, -1e308, 1.7976931348623157e308, 0.1, -0.5, 1.0, 9.999999999999998, 10.0,
              100.0, 1000.0, -12.5]
_I64_EDGES = [0, 1, -1, 23, 24, 6, 7, 2**31 - 1, -(2**31), 2**53 + 1, 2**63 - 1, -(2**63)]
_I32_EDGES = [0, 1, -1, 2**31 - 1, -(2**31)]
_STR_EDGES = ["", "travel", "grocery", "électronique", "日本語の件名", "🔥 SALE!!!", "Ünïcödé",
              "a" * 300, "Re: hi {{first_name}}", "tab\tnew\nline", "\u0301combining", "ß"]
_TS_EDGES = [0, 1, -1, 1_700_006_400_000_000, 4_102_444_800_000_000, -62_135_596_800_000_000,
             253_402_300_799_999_999]


def _f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0] if math.isfinite(x) and abs(x) < 3e38 else x


def generated_table(t: skewless.Transform, rows: int, seed: int = 7) -> pa.Table:
    """`rows` rows for `t`'s declared inputs: edge values (NaN, +-inf, -0.0,
    subnormals, huge, non-ASCII, nulls where nullable) mixed with ordinary
    random ones."""
    rng = random.Random(seed)
    columns = {}
    for field in t.inputs:
        values = []
        for i in range(rows):
            if field.nullable and rng.random() < 0.1:
                values.append(None)
                continue
            edge = rng.random() < 0.3
            if field.type in ("float64", "float32"):
                v = rng.choice(_F64_EDGES) if edge else rng.uniform(-50, 5000)
                values.append(_f32(v) if field.type == "float32" else v)
            elif field.type == "int64":
                values.append(rng.choice(_I64_EDGES) if edge else rng.randint(0, 23))
            elif field.type == "int32":
                values.append(rng.choice(_I32_EDGES) if edge else rng.randint(0, 23))
            elif field.type == "utf8":
                values.append(rng.choice(_STR_EDGES) if edge else
                              "".join(rng.choice("abcdeé日🔥 !XYZ") for _ in range(rng.randint(0, 40))))
            elif field.type == "boolean":
                values.append(rng.random() < 0.5)
            elif field.type == "timestamp-micros":
                values.append(rng.choice(_TS_EDGES) if edge else
                              rng.randint(1_600_000_000_000_000, 1_800_000_000_000_000))
            else:  # pragma: no cover
                raise AssertionError(f"no generator for {field.type}")
        arrow_type = t.input_schema.field(field.name).type
        columns[field.name] = pa.array(values, type=arrow_type)
    columns["row_id"] = pa.array(range(rows), type=pa.int64())
    return pa.table(columns)


def assert_same_bits(expected: pa.Table, actual: pa.Table, columns=None) -> None:
    """Every value of `columns` (default all of `expected`) equal by its
    bits (floats by their IEEE bits, NaN payloads and signed zeros
    included), nulls in the same places."""
    assert actual.num_rows == expected.num_rows, (expected.num_rows, actual.num_rows)
    for name in columns or expected.column_names:
        e = expected.column(name).combine_chunks()
        a = actual.column(name).combine_chunks()
        assert a.type == e.type, f"column {name}: {a.type} != {e.type}"
        assert pc.all(pc.equal(a.is_null(), e.is_null())).as_py() is not False, f"nulls of {name}"
        if pa.types.is_floating(e.type):
            # Nulls are in the same places; elsewhere compare the raw bits.
            bits = pa.int64() if e.type == pa.float64() else pa.int32()
            ev = e.fill_null(0.0).view(bits)
            av = a.fill_null(0.0).view(bits)
            if not ev.equals(av):
                for i, (x, y) in enumerate(zip(ev.to_pylist(), av.to_pylist())):
                    assert x == y, f"column {name}, row {i}: bits {x:#x} != {y:#x}"
        else:
            assert a.equals(e), f"column {name} differs"


@pytest.fixture(scope="session")
def examples():
    if not EXAMPLES:
        pytest.skip("SKEWLESS_EXAMPLES not set (run through cargo test)")
    return EXAMPLES


@pytest.fixture(scope="session")
def guests():
    if not GUESTS:
        pytest.skip("SKEWLESS_GUESTS not set (run through cargo test)")
    return GUESTS


@pytest.fixture(scope="session")
def fraud(examples) -> skewless.Transform:
    return skewless.load(examples["fraud-features"]["component"])
