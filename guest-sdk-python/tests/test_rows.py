"""The component's row loop (`skewless_guest._component`), natively: the
generated `wit_world` bindings are stood in for by plain classes, and the
host's `start-rows` by a function that grants runs of a chosen length, so
the same batch can be run one row at a time (the host's precise mode) and
in runs of any length (its fast mode). A row's result, and which failure a
batch reports, must not depend on the runs the host chose."""

import math
import struct
import sys
import types
from array import array
from dataclasses import dataclass
from typing import Annotated, Optional

import pytest


class _Record:
    """A stand-in for a generated WIT record: positional fields."""

    fields: tuple = ()

    def __init__(self, *values):
        for name, value in zip(self.fields, values):
            setattr(self, name, value)

    def __eq__(self, other):
        return type(self) is type(other) and vars(self) == vars(other)

    def __repr__(self):
        return f"{type(self).__name__}({vars(self)})"


def _record(name, *fields):
    return type(name, (_Record,), {"fields": fields})


class _Host:
    run = 1 << 30
    calls = []

    @classmethod
    def start_rows(cls, row):
        cls.calls.append(("start", row))
        return cls.run

    @classmethod
    def end_rows(cls):
        cls.calls.append(("end",))


class Err(Exception):
    def __init__(self, value):
        super().__init__(value)
        self.value = value


def _stand_ins():
    wit = types.ModuleType("wit_world.imports.types")
    for name, fields in {
        "Batch": ("num_rows", "columns"),
        "Column": ("values", "offsets", "validity", "element_offsets", "element_validity"),
        "Field": ("name", "data_type", "nullable"),
        "RowError": ("row", "message"),
        "TransformError_Failed": ("value",),
        "TransformError_InvalidInput": ("value",),
        "TransformInfo": ("name", "version", "description", "inputs", "outputs", "aggregation"),
    }.items():
        setattr(wit, name, _record(name, *fields))
    # The contract's other types (scalar types, aggregations) only describe.
    wit.__getattr__ = lambda name: _record(name, "value")
    world = types.ModuleType("wit_world")
    world.WitWorld = type("WitWorld", (), {})
    imports = types.ModuleType("wit_world.imports")
    host = types.ModuleType("wit_world.imports.host")
    host.start_rows = _Host.start_rows
    host.end_rows = _Host.end_rows
    imports.host, imports.types = host, wit
    world.imports = imports
    runtime = types.ModuleType("componentize_py_types")
    runtime.Err = Err
    return {"wit_world": world, "wit_world.imports": imports, "wit_world.imports.host": host,
            "wit_world.imports.types": wit, "componentize_py_types": runtime}


@pytest.fixture(autouse=True)
def component(monkeypatch):
    import skewless_guest

    for name, module in _stand_ins().items():
        monkeypatch.setitem(sys.modules, name, module)
    sys.modules.pop("skewless_guest._component", None)
    skewless_guest._REGISTERED.clear()
    from skewless_guest import _component

    _Host.calls = []
    yield _component
    skewless_guest._REGISTERED.clear()
    sys.modules.pop("skewless_guest._component", None)


def _column(component, values, fmt=None, validity=None):
    Column = component.Column
    if fmt is None:  # text
        encoded = [v.encode() for v in values]
        offsets = array("I", [0])
        for piece in encoded:
            offsets.append(offsets[-1] + len(piece))
        return Column(b"".join(encoded), offsets.tobytes(), validity, None, None)
    return Column(array(fmt, values).tobytes(), None, validity, None, None)


def _run(component, batch, run):
    """The transform's answer to `batch` with runs of `run` rows: the output
    batch, or the `(row, message)` it failed on."""
    _Host.run = run
    try:
        return component.WitWorld().transform(batch)
    except Err as err:
        return (err.value.value.row, err.value.value.message)


RUNS = (1, 2, 3, 256, 1 << 30)


@dataclass
class Out:
    y: float
    n: Optional[int]
    label: str


def test_outputs_are_the_same_whatever_runs_the_host_grants(component):
    import skewless_guest

    @skewless_guest.transform(name="t", version="1")
    def f(x: float, k: int, s: str) -> Out:
        return Out(x * 2, None if k % 3 == 0 else k, s.upper())

    rows = 10
    xs = [0.5 * i for i in range(rows)]
    ks = list(range(rows))
    texts = ["a", "bé", "", "ccc", "d", "e", "ünï", "f", "g", "h"]
    batch = component.Batch(rows, [_column(component, xs, "d"), _column(component, ks, "q"),
                                   _column(component, texts)])
    answers = [_run(component, batch, run) for run in RUNS]
    out = answers[0]
    assert all(answer == out for answer in answers[1:])
    y, n, label = out.columns
    assert array("d", y.values).tolist() == [x * 2 for x in xs]
    assert y.validity is None
    # Rows 0, 3, 6, 9 are null: bits cleared, and none past the last row.
    assert n.validity == bytes([0b10110110, 0b00000001])
    assert array("q", n.values).tolist() == [0 if k % 3 == 0 else k for k in ks]
    offsets = array("I", label.offsets).tolist()
    assert [label.values[a:b].decode() for a, b in zip(offsets, offsets[1:])] == [
        t.upper() for t in texts
    ]


def test_text_columns_read_the_same_in_ascii_and_not(component):
    import skewless_guest

    @dataclass
    class Length:
        n: int
        same: str

    @skewless_guest.transform(name="t", version="1")
    def f(s: str) -> Length:
        return Length(len(s), s)

    for texts in (["plain", "", "ascii"], ["plain", "", "naïve", "日本"]):
        batch = component.Batch(len(texts), [_column(component, texts)])
        for run in RUNS:
            out = _run(component, batch, run)
            assert array("q", out.columns[0].values).tolist() == [len(t) for t in texts]
            assert out.columns[1].values == "".join(texts).encode()


def test_the_first_failure_in_row_order_is_reported_whatever_the_runs(component):
    import skewless_guest

    @dataclass
    class Two:
        a: float
        b: int

    @skewless_guest.transform(name="t", version="1")
    def f(x: float) -> Two:
        if x == 7:
            raise ValueError("seven")
        if x == 5:
            return Two(1.0, 2**63)  # b does not fit int64
        if x == 4:
            return Two("no", 2**63)  # both fields wrong: the first is reported
        if x == 3:
            return Two(1.0, 1) if False else {"a": 1}  # not a Two
        return Two(x, 1)

    def batch(xs):
        return component.Batch(len(xs), [_column(component, xs, "d")])

    cases = {
        (0.0, 1.0, 7.0, 5.0): (2, "ValueError: seven (at test_rows.py, line"),
        (0.0, 5.0, 7.0): (1, "field `b`: 9223372036854775808 does not fit int64"),
        (0.0, 1.0, 2.0, 4.0, 5.0): (
            3,
            "field `a` is float64, but the transform returned str 'no'; return a float",
        ),
        (0.0, 3.0, 7.0): (1, "the transform returned dict {'a': 1}, not"),
        (7.0, 3.0): (0, "ValueError: seven"),
    }
    for xs, (row, message) in cases.items():
        for run in RUNS:
            failed = _run(component, batch(list(xs)), run)
            assert failed[0] == row and failed[1].startswith(message), (xs, run, failed)


def test_a_null_in_a_field_that_is_not_optional_names_the_field(component):
    import skewless_guest

    @skewless_guest.transform(name="t", version="1")
    def f(x: float) -> Out:
        return Out(x, 1, None if x > 1 else "ok")

    batch = component.Batch(3, [_column(component, [0.0, 1.0, 2.0], "d")])
    for run in RUNS:
        assert _run(component, batch, run) == (
            2, "field `label` is None, but it is not Optional in the dataclass")


def test_values_converted_exactly_as_one_at_a_time(component):
    import skewless_guest

    @dataclass
    class Mixed:
        f: float
        i: int
        b: bool

    @skewless_guest.transform(name="t", version="1")
    def g(x: float) -> Mixed:
        # An int where a float is declared is stored as that float; a bool
        # is not an int.
        return Mixed(int(x) if x < 2 else x, int(x), x > 1)

    batch = component.Batch(3, [_column(component, [0.0, 1.0, 2.5], "d")])
    out = _run(component, batch, 1 << 30)
    assert array("d", out.columns[0].values).tolist() == [0.0, 1.0, 2.5]
    assert array("q", out.columns[1].values).tolist() == [0, 1, 2]
    assert out.columns[2].values == bytes([0, 0, 1])

    @dataclass
    class Wrong:
        i: int

    skewless_guest._REGISTERED.clear()

    @skewless_guest.transform(name="t", version="1")
    def h(x: float) -> Wrong:
        return Wrong(True if x > 0 else 3)

    assert _run(component, batch, 1 << 30) == (
        1, "field `i` is int64, but the transform returned bool True; return an int")


def test_rows_are_run_between_start_and_end(component):
    import skewless_guest

    @skewless_guest.transform(name="t", version="1")
    def f(x: float) -> Out:
        return Out(math.sqrt(x), 1, "")

    batch = component.Batch(5, [_column(component, [float(i) for i in range(5)], "d")])
    _run(component, batch, 2)
    assert _Host.calls == [("start", 0), ("end",), ("start", 2), ("end",), ("start", 4), ("end",)]
    assert struct.unpack("<d", _run(component, batch, 1).columns[0].values[8:16]) == (1.0,)


def test_warming_runs_every_type_through_the_loops_without_the_users_code(component):
    """`_warm` (run while a component is built) takes one placeholder row
    of every column type through the `transform` and `events` loops, never
    calls the host, nor the row functions, nor the classes they return,
    and leaves the transform answering as before."""
    import datetime
    import decimal

    import skewless_guest
    from skewless_guest import Decimal, Embedding, Float32, Int32, agg

    ran = []

    @dataclass
    class Payment:
        amount: Optional[float]
        paid: datetime.datetime

        def __post_init__(self):
            ran.append("Payment")

    @skewless_guest.events(key="customer", time="ts")
    def payment(amount: Optional[float], paid: datetime.datetime) -> Payment:
        ran.append("payment")
        return Payment(amount, paid)

    @skewless_guest.aggregates(events=payment)
    @dataclass
    class Spend:
        total: Annotated[float, agg.sum("amount", window="1d")]

    @dataclass
    class Every:
        b: bool
        i32: Int32
        i: int
        f32: Float32
        f: float
        s: Optional[str]
        t: datetime.datetime
        d: datetime.date
        raw: bytes
        money: Decimal(18, 2)
        floats: list[float]
        names: list[Optional[str]]
        vector: Embedding(3)

        def __post_init__(self):
            ran.append("Every")

    @skewless_guest.transform(name="t", version="1")
    def f(b: bool, i32: Int32, i: int, f32: Float32, x: float, s: Optional[str],
          t: datetime.datetime, d: datetime.date, raw: bytes, money: Decimal(18, 2),
          floats: list[float], names: list[Optional[str]], vector: Embedding(3),
          spend: Spend) -> Every:
        ran.append("f")
        return Every(b, i32, i, f32, x, s, t, d, raw, money, floats, names, vector)

    component._warm(strict=True)
    assert ran == [] and _Host.calls == []

    # A call after warming: the row function runs, as it would have.
    found = skewless_guest.spec()
    columns = [component._placeholder_column(c) for c in found.inputs]
    out = _run(component, component.Batch(1, columns), 1 << 30)
    assert ran == ["f", "Every"] and len(out.columns) == len(found.outputs)
    assert decimal.Decimal(int.from_bytes(out.columns[9].values, "little")) == 0


def test_features_whose_attributes_run_code_are_not_warmed(component):
    """A features class with a `__del__`, a `__getattr__` or a property
    where a field is would run the user's code if made and read by the
    warm-up: such a transform's loop is left cold."""
    import skewless_guest

    ran = []

    @dataclass
    class Out2:
        y: float

        def __del__(self):
            ran.append("del")

    @skewless_guest.transform(name="t", version="1")
    def f(x: float) -> Out2:
        return Out2(x)

    component._warm(strict=True)
    assert ran == [] and _Host.calls == []

    class Lazy:
        def __getattr__(self, name):
            ran.append(name)
            raise AttributeError(name)

    assert not component._plain(Lazy, ["y"])
    assert not component._plain(type("P", (), {"y": property(lambda self: 1.0)}), ["y"])
    assert component._plain(type("S", (), {"__slots__": ("y",)}), ["y"])
    assert component._plain(Out, ["y", "n", "label"])
