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


def transform(name: str, version: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declares ``function`` the module's transform, named ``name`` (1 to 64
    lowercase letters, digits, ``-`` and ``_``) at ``version``.

    The signature is checked now, when the module is imported: an
    unsupported or missing annotation, a return type that is not a
    dataclass of supported fields, or a second ``@transform`` in the same
    program raises :class:`SpecError` naming the parameter or field.
    Returns the function unchanged, so tests call it directly.
    """

    def declare(function: Callable[..., Any]) -> Callable[..., Any]:
        where = f"{function.__module__}.{function.__qualname__}"
        try:
            hints = typing.get_type_hints(function, include_extras=True)
        except Exception as error:  # a name in an annotation that is not defined
            raise SpecError(f"the annotations of `{where}` cannot be read: {error}") from None
        parameters = inspect.signature(function).parameters.values()
        inputs = []
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
            data_type, nullable = _column_type(hints[parameter.name], f"parameter `{parameter.name}` of `{where}`")
            inputs.append(Column(parameter.name, data_type, nullable))
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
        if _REGISTERED:
            other = _REGISTERED[0]
            raise SpecError(
                f"`{where}` is a second @transform (the first is `{other.origin}`); a "
                f"component holds one transform: put each in its own project"
            )
        code = function.__code__
        _REGISTERED.append(
            TransformSpec(
                name=name,
                version=version,
                description=inspect.cleandoc(function.__doc__ or ""),
                inputs=tuple(inputs),
                outputs=tuple(outputs),
                function=function,
                features=features,
                origin=f"{code.co_filename.rsplit('/', 1)[-1]}:{code.co_firstlineno}",
            )
        )
        return function

    return declare


def spec() -> Optional[TransformSpec]:
    """The program's transform, once its module has been imported."""
    return _REGISTERED[0] if _REGISTERED else None


# The epoch, for timestamp arithmetic (microseconds since it, UTC).
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
# The epoch as a date (days since it).
EPOCH_DATE = datetime.date(1970, 1, 1)

if sys.version_info < (3, 9):  # pragma: no cover
    raise ImportError("skewless_guest needs Python 3.9 or newer")
