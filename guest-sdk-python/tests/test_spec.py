"""The SDK's checks of a transform's signature, natively: what is accepted
becomes the declared columns, and what is not says which parameter or field
and what to write instead."""

import datetime
from dataclasses import dataclass
from typing import Optional

import pytest

import skewless_guest
from skewless_guest import Float32, Int32, SpecError


@pytest.fixture(autouse=True)
def fresh_registry():
    skewless_guest._REGISTERED.clear()
    yield
    skewless_guest._REGISTERED.clear()


@dataclass
class Out:
    y: float
    n: Optional[int]
    when: "datetime.datetime | None"


def test_annotations_become_columns_and_the_function_stays_callable():
    @skewless_guest.transform(name="t", version="1")
    def f(a: float, b: int, c: Int32, d: Float32, e: str, f: bool,
          g: datetime.datetime, h: Optional[str], i: "int | None") -> Out:
        """Doc of t.

        Second paragraph."""
        return Out(a, None, None)

    spec = skewless_guest.spec()
    assert [(c.name, c.data_type, c.nullable) for c in spec.inputs] == [
        ("a", "float64", False), ("b", "int64", False), ("c", "int32", False),
        ("d", "float32", False), ("e", "utf8", False), ("f", "boolean", False),
        ("g", "timestamp-micros", False), ("h", "utf8", True), ("i", "int64", True),
    ]
    assert [(c.name, c.data_type, c.nullable) for c in spec.outputs] == [
        ("y", "float64", False), ("n", "int64", True), ("when", "timestamp-micros", True),
    ]
    assert spec.description == "Doc of t.\n\nSecond paragraph."
    assert f(1.5, 1, 1, 1.0, "", True, None, None, None) == Out(1.5, None, None)


def test_varargs_are_not_columns():
    def spread(*x: float) -> Out: ...

    with pytest.raises(SpecError) as raised:
        skewless_guest.transform(name="t", version="1")(spread)
    assert str(raised.value) == (
        "parameter `x` of `test_spec.test_varargs_are_not_columns.<locals>.spread` is not a "
        "plain parameter (*args, **kwargs and keyword-only parameters are not columns); write "
        "one parameter per input column"
    )


def test_what_is_not_a_column_says_what_to_write():
    declare = skewless_guest.transform(name="t", version="1")

    def union(x: "int | str") -> Out: ...
    def nothing() -> Out: ...
    def no_return(x: float): ...

    with pytest.raises(SpecError, match=r"parameter `x` of `.*union` has type int \| str, a union"):
        declare(union)
    with pytest.raises(SpecError, match=r"takes no parameters; each parameter is an input column"):
        declare(nothing)
    with pytest.raises(SpecError, match=r"has no return annotation; return a dataclass"):
        declare(no_return)

    @dataclass
    class Bad:
        items: list

    def bad_field(x: float) -> Bad: ...

    with pytest.raises(SpecError) as raised:
        declare(bad_field)
    assert str(raised.value).startswith("field `items` of `")
    assert "is a list without an element type; write list[float]" in str(raised.value)


def test_the_types_of_contract_0_2_become_columns():
    from skewless_guest import Decimal, Embedding

    @dataclass
    class Rich:
        day: datetime.date
        amount: Decimal(18, 2)
        blob: bytes
        tags: list[str]
        counts: list[Optional[int]]
        embedding: Embedding(768)
        wide: Optional[Embedding(3, float)]

    @skewless_guest.transform(name="rich", version="1")
    def f(day: datetime.date, amount: Decimal(18, 2), blob: Optional[bytes],
          scores: list[Float32], embedding: Embedding(4)) -> Rich:
        return None

    spec = skewless_guest.spec()
    assert [(c.name, c.data_type, c.nullable) for c in spec.inputs] == [
        ("day", "date", False), ("amount", "decimal(18,2)", False), ("blob", "binary", True),
        ("scores", "list<float32>", False), ("embedding", "fixed-size-list<float32, 4>", False),
    ]
    assert [(c.name, c.data_type, c.nullable) for c in spec.outputs] == [
        ("day", "date", False), ("amount", "decimal(18,2)", False), ("blob", "binary", False),
        ("tags", "list<utf8>", False), ("counts", "list<nullable int64>", False),
        ("embedding", "fixed-size-list<float32, 768>", False),
        ("wide", "fixed-size-list<float64, 3>", True),
    ]


def test_a_decimal_needs_its_precision_and_scale():
    import decimal

    @dataclass
    class Out:
        y: float

    with pytest.raises(SpecError, match=r"decimal.Decimal without its precision and scale; write skewless_guest.Decimal\(18, 2\)"):
        @skewless_guest.transform(name="t", version="1")
        def f(x: decimal.Decimal) -> Out:
            return Out(1.0)
    with pytest.raises(SpecError, match="a decimal has 1 to 38 digits"):
        skewless_guest.Decimal(40, 2)


def _transactions():
    @dataclass
    class Tx:
        amount: Optional[float]
        declined: bool

    @skewless_guest.events(key="card_id", time="ts", tie_break="seq: int64")
    def tx(amount: Optional[float], declined: bool) -> Tx:
        return Tx(amount, declined)

    return tx


def test_aggregates_become_the_declaration_and_the_transform_takes_their_class():
    from typing import Annotated

    from skewless_guest import agg

    tx = _transactions()

    @skewless_guest.aggregates(events=tx)
    @dataclass
    class Velocity:
        n_1h: Annotated[int, agg.count(window="1h")]
        declined_1d: Annotated[int, agg.count(window="1d", filter="declined")]
        mean_7d: Annotated[Optional[float], agg.mean("amount", window="7d")]

    @dataclass
    class Features:
        ratio: Optional[float]

    @skewless_guest.transform(name="velocity", version="1")
    def velocity(amount: float, v: Velocity) -> Features:
        return Features(None if v.mean_7d is None else amount / v.mean_7d)

    spec = skewless_guest.spec()
    group = spec.aggregates
    assert group.events.key.name == "card_id" and group.events.key.data_type == "utf8"
    assert group.events.tie_break.data_type == "int64"
    assert [(c.name, c.data_type, c.nullable) for c in group.events.outputs] == [
        ("amount", "float64", True), ("declined", "boolean", False)]
    assert [(a.function, a.value, a.filter, a.window_micros) for a in group.aggregates] == [
        ("count", None, None, 3_600_000_000),
        ("count", None, "declined", 86_400_000_000),
        ("mean", "amount", None, 7 * 86_400_000_000)]
    assert [(c.name, c.data_type, c.nullable) for c in group.fields] == [
        ("n_1h", "int64", False), ("declined_1d", "int64", False), ("mean_7d", "float64", True)]


@pytest.mark.parametrize("field, message", [
    ('n: int', r"field `n` of `.*V` is not an aggregate; annotate it"),
    ('n: Annotated[int, agg.count(window="1 hour")]', r"a window is a positive whole number and a unit"),
    ('n: Annotated[int, agg.count(window="99999999999w")]', r"a window of '99999999999w' is too long"),
    ('n: Annotated[float, agg.sum("price", window="1h")]', r"reads `price`, which is not a field of `.*Tx`"),
    ('n: Annotated[int, agg.count(window="1h", filter="amount")]', r"filters on `amount`, which is not a bool"),
    ('n: Annotated[int, agg.count(window="1h", filter="status")]', r"filters on `status`, which is not a field of `.*Tx`"),
    ('n: Annotated[float, agg.count(window="1h")]', r"is `agg.count`, which gives int; annotate it `Annotated\[int, ...\]`"),
    ('n: Annotated[float, agg.max("amount", window="1h")]', r"which gives Optional\[float\]"),
    ('n: Annotated[int, agg.sum("declined", window="1h")]', r"`agg.sum` adds numbers, not bool"),
])
def test_an_aggregate_that_cannot_be_computed_says_why(field, message):
    from typing import Annotated  # noqa: F401  (the annotations' names)

    from skewless_guest import agg  # noqa: F401

    tx = _transactions()
    namespace = {}
    with pytest.raises(SpecError, match=message):
        exec(f"@dataclass\nclass V:\n    {field}\n", {**globals(), "Annotated": Annotated, "agg": agg}, namespace)
        skewless_guest.aggregates(events=tx)(namespace["V"])


def test_events_keys_must_be_keys():
    with pytest.raises(SpecError, match=r"the key `card` is float64; write \"card: T\""):
        @skewless_guest.events(key="card: float64", time="ts")
        def tx(amount: float) -> Out:
            return Out(amount, None, None)
    with pytest.raises(SpecError, match=r"is not an @events function"):
        skewless_guest.aggregates(events=print)
