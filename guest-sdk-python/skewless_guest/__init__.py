"""Write a skewless feature transform as a plain Python function.

A transform is a function from one input row to one output row. Its
arguments are input columns, matched by name; the fields of the dataclass
it returns are the output columns; its docstring is the description::

    import math
    from dataclasses import dataclass
    from skewless_guest import transform

    @dataclass
    class FraudFeatures:
        log_amount: float
        is_night: int

    @transform(name="fraud-features", version="1.0.0")
    def fraud(amount: float, hour: int) -> FraudFeatures:
        \"\"\"Fraud-scoring features from a card transaction.\"\"\"
        return FraudFeatures(math.log(1.0 + amount), int(not 6 <= hour < 22))

`skewless build` compiles the module (with componentize-py) into a
WebAssembly component of the same ``skewless:transform`` world a Rust
transform implements, run by the same host. Natively, the decorated
function is the plain function: call it from tests.

Column types:

===============================  ==============================  ==============================
column type                      argument or field               value
===============================  ==============================  ==============================
boolean                          ``bool``                        ``True``, ``False``
int32                            ``Int32``                       an ``int`` within int32
int64                            ``int``                         an ``int`` within int64
float32                          ``Float32``                     a ``float`` (rounded to float32 on output)
float64                          ``float``                       a ``float``
utf8                             ``str``                         a ``str``
timestamp                        ``datetime``                    a ``datetime`` with ``tzinfo=timezone.utc``
date                             ``datetime.date``               a ``date``
decimal(18,2)                    ``Decimal(18, 2)``              a ``decimal.Decimal``, exact
binary                           ``bytes``                       ``bytes``
list<float64>                    ``list[float]``                 a ``list`` (of any of the above)
list<nullable float64>           ``list[Optional[float]]``       a ``list``, ``None`` for a null element
fixed-size-list<float32, 768>    ``Embedding(768)``              a ``list`` of 768 floats
===============================  ==============================  ==============================

``Optional[T]`` (or ``T | None``) makes a column nullable; a null in a
column whose argument is not optional is refused before the function runs.
Raising an exception rejects the row: its row number and the exception's
message reach the user in a backfill and in serving alike.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal as _decimal
import inspect
import sys
import types
import typing
from typing import Any, Callable, NewType, Optional

__all__ = [
    "agg",
    "aggregates",
    "events",
    "Decimal",
    "Embedding",
    "Float32",
    "Int32",
    "SpecError",
    "TransformSpec",
    "transform",
    "spec",
]

#: A float32 column: a ``float`` argument holding a float32 value, or a
#: field whose ``float`` is rounded to the nearest float32.
Float32 = NewType("Float32", float)
#: An int32 column: an ``int`` within -2**31 .. 2**31 - 1.
Int32 = NewType("Int32", int)

# The contract's type names (`wit/transform.wit`), by annotation.
_TYPES: dict[Any, str] = {
    bool: "boolean",
    Int32: "int32",
    int: "int64",
    Float32: "float32",
    float: "float64",
    str: "utf8",
    datetime.datetime: "timestamp-micros",
    datetime.date: "date",
    bytes: "binary",
}

_WHAT_TO_WRITE = (
    "write one of bool, int, float, str, datetime, date, bytes, skewless_guest.Int32, "
    "skewless_guest.Float32, skewless_guest.Decimal(18, 2), list[...] of one of them, "
    "skewless_guest.Embedding(768), or Optional[...] of any of these"
)


@dataclasses.dataclass(frozen=True)
class _DecimalType:
    precision: int
    scale: int


@dataclasses.dataclass(frozen=True)
class _EmbeddingType:
    size: int
    element: str


def Decimal(precision: int, scale: int) -> Any:  # noqa: N802 (reads as a type)
    """The annotation of a ``decimal(precision, scale)`` column: values are
    ``decimal.Decimal``, exact, of at most ``precision`` digits (1 to 38),
    ``scale`` of them after the point. ``Decimal(18, 2)`` holds money."""
    if not (isinstance(precision, int) and 1 <= precision <= 38):
        raise SpecError(f"a decimal has 1 to 38 digits, not {precision!r}")
    if not (isinstance(scale, int) and 0 <= scale <= precision):
        raise SpecError(f"a decimal's scale is 0 to its precision ({precision}), not {scale!r}")
    return typing.Annotated[_decimal.Decimal, _DecimalType(precision, scale)]


def Embedding(size: int, element: Any = Float32) -> Any:  # noqa: N802
    """The annotation of a ``fixed-size-list`` column: ``size`` float32
    values a row (``element=float`` for float64), as a ``list`` of floats."""
    if not (isinstance(size, int) and size > 0):
        raise SpecError(f"an embedding has a positive size, not {size!r}")
    names = {Float32: "float32", float: "float64"}
    if element not in names:
        raise SpecError("an embedding's elements are Float32 or float")
    return typing.Annotated[list, _EmbeddingType(size, names[element])]


def _scalar_name(annotation: Any) -> Optional[str]:
    """The contract name of a scalar annotation, or None."""
    if typing.get_origin(annotation) is typing.Annotated:
        for extra in typing.get_args(annotation)[1:]:
            if isinstance(extra, _DecimalType):
                return f"decimal({extra.precision},{extra.scale})"
        return None
    try:
        return _TYPES.get(annotation)
    except TypeError:  # an unhashable annotation
        return None


class SpecError(TypeError):
    """A transform's signature that skewless cannot run: raised when the
    module is imported (so `skewless build` reports it), saying which
    parameter or field and what to write instead."""


@dataclasses.dataclass(frozen=True)
class Column:
    """One input or output column."""

    name: str
    data_type: str
    nullable: bool


@dataclasses.dataclass(frozen=True)
class TransformSpec:
    """What a transform declares, and the function that computes a row."""

    name: str
    version: str
    description: str
    inputs: tuple[Column, ...]
    outputs: tuple[Column, ...]
    function: Callable[..., Any]
    features: type
    #: Where the function is, for messages: ``module.py:line``.
    origin: str
    #: Per parameter: None (one column) or the :class:`AggregatesSpec` of a
    #: class of aggregates (several columns).
    arguments: tuple = ()
    #: The class of aggregates the function takes, if any.
    aggregates: Any = None


_REGISTERED: list[TransformSpec] = []


def _optional(annotation: Any, where: str) -> tuple[Any, bool]:
    """`Optional[T]` or `T | None` as (T, True); anything else as (it, False)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is getattr(types, "UnionType", None):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1 or len(typing.get_args(annotation)) != 2:
            raise SpecError(f"{where} has type {_show(annotation)}, a union; {_WHAT_TO_WRITE}")
        return args[0], True
    return annotation, False


def _column_type(annotation: Any, where: str) -> tuple[str, bool]:
    """The contract type of an annotation and whether it is nullable."""
    annotation, nullable = _optional(annotation, where)
    if typing.get_origin(annotation) is typing.Annotated:
        for extra in typing.get_args(annotation)[1:]:
            if isinstance(extra, _EmbeddingType):
                return f"fixed-size-list<{extra.element}, {extra.size}>", nullable
    if annotation is list or typing.get_origin(annotation) in (list, typing.List):
        (element,) = typing.get_args(annotation) or (None,)
        if element is None:
            raise SpecError(f"{where} is a list without an element type; write list[float], list[str], ...")
        element, element_nullable = _optional(element, where)
        name = _scalar_name(element)
        if name is None:
            raise SpecError(
                f"{where} is a list of {_show(element)}, which is not a column type; a list's "
                f"elements are bool, int, float, str, datetime, date, bytes, Int32, Float32 "
                f"or Decimal(p, s), or Optional[...] of one"
            )
        return (f"list<nullable {name}>" if element_nullable else f"list<{name}>"), nullable
    data_type = _scalar_name(annotation)
    if data_type is None:
        if annotation is _decimal.Decimal:
            raise SpecError(
                f"{where} is a decimal.Decimal without its precision and scale; write "
                f"skewless_guest.Decimal(18, 2) (18 digits, 2 after the point)"
            )
        raise SpecError(f"{where} has type {_show(annotation)}, which is not a column type; {_WHAT_TO_WRITE}")
    return data_type, nullable


def _show(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__qualname__
    return repr(annotation)


def _signature(function: Callable[..., Any], where: str, groups: bool):
    """The columns of `function`'s parameters (and which parameter is a
    struct of aggregates, when `groups`), and its return dataclass with its
    columns."""
    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except Exception as error:  # a name in an annotation that is not defined
        raise SpecError(f"the annotations of `{where}` cannot be read: {error}") from None
    parameters = inspect.signature(function).parameters.values()
    inputs = []
    arguments = []  # per parameter: None (a column) or an AggregatesSpec
    for parameter in parameters:
        if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.POSITIONAL_ONLY):
            raise SpecError(
                f"parameter `{parameter.name}` of `{where}` is not a plain parameter "
                f"(*args, **kwargs and keyword-only parameters are not columns); "
                f"write one parameter per input column"
            )
        if parameter.name not in hints:
            raise SpecError(
                f"parameter `{parameter.name}` of `{where}` has no type annotation; "
                f"{_WHAT_TO_WRITE}, e.g. `{parameter.name}: float`"
            )
        annotation = hints[parameter.name]
        group = getattr(annotation, "__skewless_aggregates__", None)
        if group is not None:
            if not groups:
                raise SpecError(
                    f"parameter `{parameter.name}` of `{where}` is a class of aggregates; an "
                    f"@events function reads event columns"
                )
            if any(a is not None for a in arguments):
                raise SpecError(
                    f"`{where}` takes two classes of aggregates; put every aggregate in one"
                )
            inputs.extend(group.fields)
            arguments.append(group)
            continue
        data_type, nullable = _column_type(annotation, f"parameter `{parameter.name}` of `{where}`")
        inputs.append(Column(parameter.name, data_type, nullable))
        arguments.append(None)
    if not inputs:
        raise SpecError(f"`{where}` takes no parameters; each parameter is an input column")
    features = hints.get("return")
    if features is None:
        raise SpecError(
            f"`{where}` has no return annotation; return a dataclass whose fields are "
            f"the output columns, e.g. `-> FraudFeatures`"
        )
    if not (isinstance(features, type) and dataclasses.is_dataclass(features)):
        raise SpecError(
            f"`{where}` returns {_show(features)}, not a dataclass; return a "
            f"@dataclass whose fields are the output columns"
        )
    field_hints = typing.get_type_hints(features, include_extras=True)
    outputs = []
    for field in dataclasses.fields(features):
        data_type, nullable = _column_type(
            field_hints.get(field.name), f"field `{field.name}` of `{features.__qualname__}`"
        )
        outputs.append(Column(field.name, data_type, nullable))
    if not outputs:
        raise SpecError(f"`{features.__qualname__}` has no fields; each field is an output column")
    return tuple(inputs), tuple(arguments), features, tuple(outputs)


def transform(name: str, version: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declares ``function`` the module's transform, named ``name`` (1 to 64
    lowercase letters, digits, ``-`` and ``_``) at ``version``.

    The signature is checked now, when the module is imported: an
    unsupported or missing annotation, a return type that is not a
    dataclass of supported fields, or a second ``@transform`` in the same
    program raises :class:`SpecError` naming the parameter or field. A
    parameter whose type is an :func:`aggregates` class receives the
    aggregates of the request's entity. Returns the function unchanged, so
    tests call it directly.
    """

    def declare(function: Callable[..., Any]) -> Callable[..., Any]:
        where = f"{function.__module__}.{function.__qualname__}"
        inputs, arguments, features, outputs = _signature(function, where, groups=True)
        if _REGISTERED:
            other = _REGISTERED[0]
            raise SpecError(
                f"`{where}` is a second @transform (the first is `{other.origin}`); a "
                f"component holds one transform: put each in its own project"
            )
        code = function.__code__
        group = next((a for a in arguments if a is not None), None)
        _REGISTERED.append(
            TransformSpec(
                name=name,
                version=version,
                description=inspect.cleandoc(function.__doc__ or ""),
                inputs=inputs,
                outputs=outputs,
                function=function,
                features=features,
                origin=f"{code.co_filename.rsplit('/', 1)[-1]}:{code.co_firstlineno}",
                arguments=arguments,
                aggregates=group,
            )
        )
        return function

    return declare


# ---------------------------------------------------------------------------
# Aggregations
# ---------------------------------------------------------------------------

_UNITS = {"ms": 1_000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000,
          "d": 86_400_000_000, "w": 604_800_000_000}


def _duration(text: str, what: str) -> int:
    """`"90s"`, `"10m"`, `"1h"`, `"7d"`, `"2w"`, `"500ms"` in microseconds."""
    if isinstance(text, str):
        digits = text.strip()
        number = digits.rstrip("abcdefghijklmnopqrstuvwxyz")
        unit = digits[len(number):]
        if number.isdigit() and unit in _UNITS and (int(number) > 0 or what == "lateness"):
            micros = int(number) * _UNITS[unit]
            if micros >= 2**63:
                raise SpecError(
                    f"a {what} of {text!r} is too long: it is kept in microseconds, in 64 bits, "
                    "so at most about 292,000 years (\"15250000w\")"
                )
            return micros
    positive = "" if what == "lateness" else "positive "
    raise SpecError(
        f"a {what} is a {positive}whole number and a unit: \"500ms\", \"30s\", \"10m\", "
        f"\"1h\", \"7d\", \"2w\"; not {text!r}"
    )


@dataclasses.dataclass(frozen=True)
class EventsSpec:
    """What :func:`events` declares."""

    key: Column
    time: str
    request_time: str
    tie_break: Optional[Column]
    event_id: Optional[Column]
    lateness_micros: int
    inputs: tuple[Column, ...]
    values: type
    outputs: tuple[Column, ...]
    function: Callable[..., Any]


_KEY_TYPES = {"utf8", "int32", "int64"}


def _named_column(text: str, default: str, allowed: set, what: str) -> Column:
    name, _, type_name = text.partition(":")
    name, type_name = name.strip(), (type_name.strip() or default)
    if not name:
        raise SpecError(f"the {what} column has an empty name")
    if type_name == "timestamp":
        type_name = "timestamp-micros"
    if type_name not in allowed:
        raise SpecError(
            f"the {what} `{name}` is {type_name}; write \"{name}: T\" with T one of "
            f"{', '.join(sorted(allowed))}"
        )
    return Column(name, type_name, False)


def events(key: str, time: str, *, request_time: Optional[str] = None,
           tie_break: Optional[str] = None, event_id: Optional[str] = None,
           lateness: str = "0s") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declares a function from an event's columns to its values (a
    dataclass) as the events an :func:`aggregates` class aggregates.

    ``key`` names the entity's column (utf8; ``"account_id: int64"`` for
    an integer key), ``time`` the events' timestamp column, ``request_time``
    the requests' (default: the same name); ``tie_break="seq: int64"``
    orders events of the same time, ``event_id`` identifies an event, and
    ``lateness`` is how late one may arrive. Returns the function
    unchanged."""

    def declare(function: Callable[..., Any]) -> Callable[..., Any]:
        where = f"{function.__module__}.{function.__qualname__}"
        inputs, _, values, outputs = _signature(function, where, groups=False)
        scalars = {"utf8", "int32", "int64", "float32", "float64", "boolean",
                   "timestamp-micros", "date"}
        function.__skewless_events__ = EventsSpec(
            key=_named_column(key, "utf8", _KEY_TYPES, "key"),
            time=time,
            request_time=request_time or time,
            tie_break=_named_column(tie_break, "int64", scalars, "tie-break")
            if tie_break else None,
            event_id=_named_column(event_id, "utf8", {"utf8", "int64"}, "event id")
            if event_id else None,
            lateness_micros=_duration(lateness, "lateness"),
            inputs=inputs,
            values=values,
            outputs=outputs,
            function=function,
        )
        return function

    return declare


@dataclasses.dataclass(frozen=True)
class Aggregate:
    """One aggregate, as :mod:`skewless_guest.agg`'s functions make it."""

    function: str
    value: Optional[str]
    filter: Optional[str]
    window_micros: int
    n: int = 0


@dataclasses.dataclass(frozen=True)
class AggregatesSpec:
    """What :func:`aggregates` declares of a class."""

    events: EventsSpec
    fields: tuple[Column, ...]
    aggregates: tuple[Aggregate, ...]
    cls: type


def aggregates(*, events: Callable[..., Any]) -> Callable[[type], type]:
    """Declares a dataclass whose fields are aggregates of ``events`` (an
    :func:`events` function), each annotated with what it computes::

        @aggregates(events=transaction)
        @dataclass
        class Velocity:
            tx_count_1h: Annotated[int, agg.count(window="1h")]
            amount_mean_7d: Annotated[Optional[float], agg.mean("amount", window="7d")]

    A transform takes the class as a parameter's type."""
    source = getattr(events, "__skewless_events__", None)
    if source is None:
        raise SpecError(
            f"`events={getattr(events, '__qualname__', events)!r}` is not an @events function"
        )

    def declare(cls: type) -> type:
        where = cls.__qualname__
        if not dataclasses.is_dataclass(cls):
            raise SpecError(f"`{where}` is not a dataclass; put @aggregates above @dataclass")
        hints = typing.get_type_hints(cls, include_extras=True)
        value_names = {c.name: c for c in source.outputs}
        fields, declared = [], []
        for field in dataclasses.fields(cls):
            annotation = hints.get(field.name)
            at = f"field `{field.name}` of `{where}`"
            spec = None
            if typing.get_origin(annotation) is typing.Annotated:
                spec = next((x for x in typing.get_args(annotation)[1:] if isinstance(x, Aggregate)), None)
            if spec is None:
                raise SpecError(
                    f"{at} is not an aggregate; annotate it, e.g. "
                    f"`Annotated[int, agg.count(window=\"1h\")]`"
                )
            for name, verb in ((spec.value, "reads"), (spec.filter, "filters on")):
                if name is not None and name not in value_names:
                    raise SpecError(
                        f"{at} {verb} `{name}`, which is not a field of "
                        f"`{source.values.__qualname__}` (the events' values)"
                    )
            if spec.filter is not None and value_names[spec.filter].data_type != "boolean":
                raise SpecError(f"{at} filters on `{spec.filter}`, which is not a bool")
            data_type, nullable = _column_type(typing.get_args(annotation)[0], at)
            value_type = value_names[spec.value].data_type if spec.value else None
            wanted, may_be_null = _aggregate_type(spec, value_type, at)
            if data_type != wanted or (may_be_null and not nullable):
                shown = _python_type(wanted)
                raise SpecError(
                    f"{at} is `agg.{spec.function}`, which gives "
                    f"{f'Optional[{shown}]' if may_be_null else shown}; annotate it "
                    f"`Annotated[{f'Optional[{shown}]' if may_be_null else shown}, ...]`"
                )
            fields.append(Column(field.name, data_type, nullable))
            declared.append(spec)
        if not fields:
            raise SpecError(f"`{where}` has no fields; each field is an aggregate")
        cls.__skewless_aggregates__ = AggregatesSpec(source, tuple(fields), tuple(declared), cls)
        return cls

    return declare


_NUMBERS = {"int32", "int64", "float32", "float64"}


def _aggregate_type(spec: Aggregate, value: Optional[str], at: str) -> tuple[str, bool]:
    """What an aggregate gives (the host's rule, `AggregateFunction::output`):
    its contract type and whether it may be None."""
    function = spec.function
    if function == "seconds_since_last":
        if value is not None:
            raise SpecError(f"{at}: `agg.seconds_since_last` reads no value (it counts events)")
        return "float64", True
    if function == "count":
        return "int64", False
    if value is None:
        raise SpecError(f"{at}: `agg.{function}` needs a value to read")
    if value.startswith(("list<", "fixed-size-list<")):
        raise SpecError(f"{at} reads a {_python_type(value)} value; aggregates read scalar values")
    if function in ("sum", "mean"):
        if value.startswith("decimal(") and function == "sum":
            return "decimal(38," + value[len("decimal("):].split(",")[1], False
        if value not in _NUMBERS:
            raise SpecError(f"{at}: `agg.{function}` adds numbers, not {_python_type(value)}")
        if function == "mean":
            return "float64", True
        return ("int64" if value.startswith("int") else "float64"), False
    if function == "count_distinct":
        return "int64", False
    if function == "last_n":
        return f"list<{value}>", False
    return value, True


def _python_type(data_type: str) -> str:
    """A contract type as a Python annotation, for messages."""
    if data_type.startswith("list<"):
        return f"list[{_python_type(data_type[5:-1])}]"
    if data_type.startswith("decimal("):
        return "skewless_guest.Decimal" + data_type[len("decimal"):].replace(",", ", ")
    names = {name: getattr(python, "__name__", str(python)) for python, name in _TYPES.items()}
    names.update({"int32": "skewless_guest.Int32", "float32": "skewless_guest.Float32",
                  "timestamp-micros": "datetime", "date": "date"})
    return names.get(data_type, data_type)


def spec() -> Optional[TransformSpec]:
    """The program's transform, once its module has been imported."""
    return _REGISTERED[0] if _REGISTERED else None


from . import agg  # noqa: E402  (the aggregate functions, after Aggregate)

# The epoch, for timestamp arithmetic (microseconds since it, UTC).
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
# The epoch as a date (days since it).
EPOCH_DATE = datetime.date(1970, 1, 1)

if sys.version_info < (3, 9):  # pragma: no cover
    raise ImportError("skewless_guest needs Python 3.9 or newer")
