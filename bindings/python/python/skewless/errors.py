"""The exceptions skewless raises: one per kind of failure of the library.

Every exception carries the CLI's message (it names the file, column and
row where it can) and, as attributes, what a program needs to act on it::

    try:
        features = t.transform(table)
    except skewless.RowRejected as e:
        print(e.row, e)          # the row (from 0) and the transform's message
    except skewless.BadInput as e:
        print(e.column, e)       # a missing column, a wrong type, a null
"""

from __future__ import annotations

from typing import Optional


class SkewlessError(Exception):
    """Base of every skewless error.

    Attributes:
        kind: a short stable name of the error (``"row_failed"``,
            ``"wrong_type"``, ``"pin_mismatch"``, ...), as in the server's
            JSON error bodies.
        row: the row the error is about, counted from 0 within the data
            passed (from the file's first row for files), or ``None``.
        column: the column (or JSON field) the error is about, or ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str = "error",
        row: Optional[int] = None,
        column: Optional[str] = None,
        limit: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.row = row
        self.column = column
        self.limit = limit

    def __reduce__(self):
        # Exceptions cross process boundaries (Spark, multiprocessing).
        return (
            _rebuild,
            (type(self), str(self), self.kind, self.row, self.column, self.limit),
        )


def _rebuild(cls, message, kind, row, column, limit):
    return cls(message, kind=kind, row=row, column=column, limit=limit)


class InvalidComponent(SkewlessError):
    """The file is not a usable transform component (not WebAssembly, a
    core module, another contract, or its ``describe`` failed)."""


class PinMismatch(SkewlessError):
    """The component's sha256 is not the one it is pinned to
    (``expect_sha256=``)."""


class BadInput(SkewlessError, ValueError):
    """The data is not what the transform takes: a missing column, a column
    of the wrong type, a value that cannot be taken exactly, a null in a
    non-nullable column, a naive timestamp, a malformed row."""


class RowRejected(SkewlessError):
    """The transform's own code rejected a row: it returned an error or
    crashed (a panic, an exception in a Python transform)."""


class LimitExceeded(SkewlessError):
    """The transform hit a sandbox limit: its CPU budget per row (fuel), its
    memory limit, the deadline or the output size. ``limit`` says which."""


class InvalidOutput(SkewlessError):
    """The transform returned a batch that breaks its own declaration."""


class DataError(SkewlessError, OSError):
    """A data file could not be read or written."""


class InvalidSetting(SkewlessError, ValueError):
    """A keyword of :func:`skewless.load` or :func:`skewless.run` has a value
    skewless cannot use (a fuel budget of 0, a memory limit outside 64 KiB
    to 4 GiB, ``on_error="skip"`` without ``rejects``, ...)."""


__all__ = [
    "SkewlessError",
    "InvalidComponent",
    "PinMismatch",
    "BadInput",
    "RowRejected",
    "LimitExceeded",
    "InvalidOutput",
    "DataError",
    "InvalidSetting",
]
