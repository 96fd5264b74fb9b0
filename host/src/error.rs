//! The library's error type: one enum whose variants a caller can match.
//!
//! Every message names what it is about (the file, the transform, the
//! column, the row) and, where there is one, what to do about it. Rows are
//! counted from 0 within what the caller passed: the backfill shifts them so
//! they count from the start of the input file.

use std::fmt;
use std::path::PathBuf;

use crate::engine::Setting;

/// A `Result` with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong loading or running a transform.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file is not a component, is corrupt, or targets another contract.
    #[error("`{source_name}` is not a usable skewless transform: {reason}")]
    InvalidComponent {
        /// The component's file path (or the name given to its bytes).
        source_name: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The input has no column a transform needs.
    #[error(
        "input has no column `{column}` ({expected}), which transform `{transform}` needs; \
         the input's columns are: {available}"
    )]
    MissingColumn {
        /// The transform's name.
        transform: String,
        /// The missing input column.
        column: String,
        /// The type the transform declares for it.
        expected: String,
        /// The columns the input does have, as a readable list, then
        /// which of them looks like a misspelling of this one, if any.
        available: String,
    },

    /// An input column has a type the transform does not take.
    #[error(
        "column `{column}` has type {found}, but transform `{transform}` takes {expected}{hint}"
    )]
    WrongType {
        /// The transform's name.
        transform: String,
        /// The input column.
        column: String,
        /// The type the transform declares.
        expected: String,
        /// The type found in the input.
        found: String,
        /// A suggestion, starting with "; " when present.
        hint: String,
    },

    /// A value in the input cannot be taken as the declared type without
    /// losing information.
    #[error("column `{column}`, row {row}: {reason}")]
    InvalidValue {
        /// The input column.
        column: String,
        /// The row, counted from 0.
        row: u64,
        /// What is wrong with the value.
        reason: String,
    },

    /// A timestamp without a time zone, which is refused unless
    /// [`crate::NaiveTimestamps::Utc`] says what it means: a whole column
    /// of a typed file, or one value of a text file or a request.
    #[error("column `{column}`{}", naive_at(*row, reason))]
    NaiveTimestamp {
        /// The input column.
        column: String,
        /// The row of the value, for text; `None` for a typed column.
        row: Option<u64>,
        /// What was found, and what to do.
        reason: String,
    },

    /// A row (a JSON object) lacks a field the transform needs.
    #[error("row {row}: missing field `{column}` ({expected}){hint}")]
    MissingField {
        /// The field (input column).
        column: String,
        /// The row, counted from 0.
        row: u64,
        /// The declared type.
        expected: String,
        /// What to send instead, starting with "; " when present.
        hint: String,
    },

    /// A value (in a JSON row) of the wrong kind for its column.
    #[error("row {row}, field `{column}`: expected {expected}, found {found}{hint}")]
    WrongValue {
        /// The field (input column).
        column: String,
        /// The row, counted from 0.
        row: u64,
        /// What the column takes.
        expected: String,
        /// What was sent.
        found: String,
        /// What to do about it, starting with "; " when present.
        hint: String,
    },

    /// A null where the transform does not accept nulls.
    #[error(
        "column `{column}` is null in row {row}, but transform `{transform}` declares it \
         non-nullable{hint}"
    )]
    UnexpectedNull {
        /// The transform's name.
        transform: String,
        /// The input column.
        column: String,
        /// The row, counted from 0.
        row: u64,
        /// What to do about it: for a row function's input,
        /// [`Error::NOT_OPTIONAL`].
        hint: String,
    },

    /// The transform's own code rejected a row (it returned an error).
    #[error("transform `{transform}` failed{}: {message}", at_row(*row))]
    RowFailed {
        /// The transform's name.
        transform: String,
        /// The row, when the transform named one.
        row: Option<u64>,
        /// The transform's message.
        message: String,
    },

    /// The transform crashed: a panic, an out-of-bounds access, a stack
    /// overflow. The instance is discarded.
    #[error("transform `{transform}` crashed{}: {message}{}", at_row(*row), guest_output(output))]
    Trap {
        /// The transform's name.
        transform: String,
        /// The row being computed, when known.
        row: Option<u64>,
        /// What happened.
        message: String,
        /// What the guest wrote to stdout and stderr during the call
        /// (bounded), e.g. a panic message.
        output: String,
    },

    /// The transform hit a sandbox limit (fuel, memory, deadline, output size).
    #[error("transform `{transform}` exceeded the {limit}{}: {detail}{}", at_row(*row), guest_output(output))]
    LimitExceeded {
        /// The transform's name.
        transform: String,
        /// Which limit.
        limit: Limit,
        /// The row being computed, when known.
        row: Option<u64>,
        /// The limit's value and how to raise it.
        detail: String,
        /// What the guest wrote to stdout and stderr during the call (bounded).
        output: String,
    },

    /// The transform's output broke its own declaration (row count, column
    /// types, nulls, malformed strings).
    #[error("transform `{transform}` returned an invalid batch: {reason}")]
    InvalidOutput {
        /// The transform's name.
        transform: String,
        /// What is wrong with the output.
        reason: String,
    },

    /// The component is not the one it is pinned to: its sha256 differs.
    #[error(
        "transform `{transform}` from `{source_name}` has sha256 {actual}, but it is pinned to \
         {expected}; use the component the model was trained with"
    )]
    PinMismatch {
        /// The transform's name.
        transform: String,
        /// The component's file path (or the name given to its bytes).
        source_name: String,
        /// The sha256 of the component that was loaded.
        actual: String,
        /// The sha256 it is pinned to.
        expected: String,
    },

    /// A request or a row the caller built is not acceptable.
    #[error("{0}")]
    BadRequest(String),

    /// A row (a JSON object in a request) is not acceptable as a whole:
    /// not an object, or a field given twice.
    #[error("row {row}: {message}")]
    BadRow {
        /// The row, counted from 0.
        row: u64,
        /// What is wrong with it.
        message: String,
    },

    /// Reading or writing a file failed.
    // The I/O error is part of the message rather than a `source`, so that a
    // printed error chain does not say it twice.
    #[error("{action} `{}`: {cause}", path.display())]
    Io {
        /// What was being done, e.g. "cannot read".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        cause: std::io::Error,
    },

    /// A data file could not be parsed or written (CSV, JSON, Parquet, Arrow).
    #[error("{action} `{}`: {message}", path.display())]
    Data {
        /// What was being done, e.g. "cannot read".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The parser's or writer's message.
        message: String,
    },

    /// A value or column of a data file was refused: `error` says which and
    /// why, and keeps its own kind, class, column, row (counted from the
    /// file's first row) and [`setting`](Error::setting).
    #[error("{action} `{}`: {error}", path.display())]
    InFile {
        /// What was being done, e.g. "cannot read".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The error about the value or column.
        error: Box<Error>,
    },

    /// A served state kept elsewhere (Redis) cannot be reached, or refused
    /// what was asked of it. An ingestion that fails so may have been
    /// written before the connection broke (the message says so): send it
    /// again, which an event id makes safe.
    #[error("{action} at {location}: {message}")]
    StateUnavailable {
        /// What was being done, e.g. "cannot read the state".
        action: &'static str,
        /// Where the state is (its URL, without a password).
        location: String,
        /// What went wrong.
        message: String,
    },

    /// A [`Config`](crate::Config) setting, or an option of a
    /// [`Backfill`](crate::backfill::Backfill), has a value the library
    /// cannot use.
    #[error("invalid `{}`: {reason}", setting.name())]
    InvalidSetting {
        /// The setting.
        setting: Setting,
        /// What is wrong with its value.
        reason: String,
    },

    /// The runtime itself failed (engine setup, instantiation).
    #[error("{0}")]
    Runtime(String),
}

/// The broad class of an [`Error`]: what a front end tells apart (the
/// Python package raises one exception class for each). Deliberately not
/// `#[non_exhaustive]`: a new class is a compile error for every front
/// end that maps them, not a message lost in a catch-all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The component cannot be used ([`Error::InvalidComponent`]).
    InvalidComponent,
    /// The component is not the pinned one ([`Error::PinMismatch`]).
    PinMismatch,
    /// The caller's data or request is at fault (a missing column, a wrong
    /// type, a value that cannot be taken, a malformed request).
    BadInput,
    /// The transform rejected a row: its own error, a crash.
    RowRejected,
    /// A sandbox limit was exceeded.
    LimitExceeded,
    /// The transform's output broke its declaration.
    InvalidOutput,
    /// A file could not be read or written.
    Data,
    /// A setting has a value the library cannot use.
    InvalidSetting,
    /// The runtime itself failed.
    Runtime,
}

/// A sandbox limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// CPU budget per row, in fuel units.
    Fuel,
    /// Linear memory per instance.
    Memory,
    /// Wall-clock deadline per call.
    Deadline,
    /// Bytes returned per call.
    OutputSize,
    /// Tables, instances, stack or other engine resources.
    Resources,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Limit::Fuel => "CPU budget (fuel)",
            Limit::Memory => "memory limit",
            Limit::Deadline => "deadline",
            Limit::OutputSize => "output size limit",
            Limit::Resources => "resource limit",
        })
    }
}

fn at_row(row: Option<u64>) -> String {
    match row {
        Some(row) => format!(" at row {row}"),
        None => String::new(),
    }
}

fn naive_at(row: Option<u64>, reason: &str) -> String {
    match row {
        Some(row) => format!(", row {row}: {reason}"),
        None => format!(" {reason}"),
    }
}

fn guest_output(output: &str) -> String {
    let output = one_line(output);
    if output.is_empty() {
        String::new()
    } else {
        format!("; the transform printed: {output}")
    }
}

/// A guest's output on one line. Rust's hint about `RUST_BACKTRACE` is
/// dropped: no environment variable reaches a guest.
pub(crate) fn one_line(output: &str) -> String {
    output
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("note: run with `RUST_BACKTRACE=1`"))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// `64 MiB`, `1.5 GiB`, `812 bytes`.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if bytes >= size {
            let value = bytes as f64 / size as f64;
            return if bytes.is_multiple_of(size) {
                format!("{} {unit}", bytes / size)
            } else {
                format!("{value:.1} {unit}")
            };
        }
    }
    format!("{bytes} bytes")
}

impl Error {
    /// The row this error is about, counted from 0, if any.
    pub fn row(&self) -> Option<u64> {
        match self {
            Error::InvalidValue { row, .. }
            | Error::UnexpectedNull { row, .. }
            | Error::MissingField { row, .. }
            | Error::WrongValue { row, .. }
            | Error::BadRow { row, .. } => Some(*row),
            Error::RowFailed { row, .. }
            | Error::Trap { row, .. }
            | Error::LimitExceeded { row, .. }
            | Error::NaiveTimestamp { row, .. } => *row,
            Error::InFile { error, .. } => error.row(),
            _ => None,
        }
    }

    /// The same error with its row shifted by `offset`: a batch's rows count
    /// from 0, a file's from its first row.
    pub fn offset_rows(mut self, offset: u64) -> Self {
        match &mut self {
            Error::InvalidValue { row, .. }
            | Error::UnexpectedNull { row, .. }
            | Error::MissingField { row, .. }
            | Error::WrongValue { row, .. }
            | Error::BadRow { row, .. } => *row += offset,
            Error::RowFailed { row, .. }
            | Error::Trap { row, .. }
            | Error::LimitExceeded { row, .. }
            | Error::NaiveTimestamp { row, .. } => {
                if let Some(row) = row {
                    *row += offset;
                }
            }
            _ => {}
        }
        self
    }

    /// The column (or JSON field) this error is about, if any.
    pub fn column(&self) -> Option<&str> {
        match self {
            Error::MissingColumn { column, .. }
            | Error::WrongType { column, .. }
            | Error::InvalidValue { column, .. }
            | Error::UnexpectedNull { column, .. }
            | Error::MissingField { column, .. }
            | Error::WrongValue { column, .. }
            | Error::NaiveTimestamp { column, .. } => Some(column),
            Error::InFile { error, .. } => error.column(),
            _ => None,
        }
    }

    /// The [`Config`](crate::Config) setting that would change this
    /// outcome, if any: the limit that was exceeded, or the rule that
    /// refused a value. A front end names it in its own terms (a flag, a
    /// keyword); the message itself names only the library's setting.
    pub fn setting(&self) -> Option<Setting> {
        match self {
            Error::LimitExceeded { limit, .. } => match limit {
                Limit::Fuel => Some(Setting::FuelPerRow),
                Limit::Memory => Some(Setting::MemoryLimit),
                Limit::Deadline => Some(Setting::Deadline),
                Limit::OutputSize => Some(Setting::MaxOutputBytes),
                Limit::Resources => None,
            },
            Error::NaiveTimestamp { .. } => Some(Setting::NaiveTimestamps),
            Error::InvalidSetting { setting, .. } => Some(*setting),
            Error::InFile { error, .. } => error.setting(),
            _ => None,
        }
    }

    /// Whether this is about one row alone, so that the row can be set aside
    /// and the others computed: the transform rejected it (an error, a
    /// panic, its CPU or memory budget at that row) or its input value
    /// cannot be taken. Errors about a whole column, the output, the
    /// deadline (wall-clock time, which depends on the machine) or a file
    /// are not.
    pub fn is_row_rejection(&self) -> bool {
        match self {
            Error::RowFailed { row, .. } | Error::Trap { row, .. } => row.is_some(),
            Error::LimitExceeded { limit, row, .. } => {
                row.is_some() && matches!(limit, Limit::Fuel | Limit::Memory)
            }
            Error::InvalidValue { .. }
            | Error::UnexpectedNull { .. }
            | Error::MissingField { .. }
            | Error::WrongValue { .. }
            | Error::BadRow { .. } => true,
            Error::NaiveTimestamp { row, .. } => row.is_some(),
            _ => false,
        }
    }

    /// Whether the caller's input is at fault (as opposed to the transform or
    /// the machine): a serving front end answers these with a 4xx.
    pub fn is_input_error(&self) -> bool {
        self.class() == ErrorClass::BadInput
    }

    /// The error's class (see [`ErrorClass`]).
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::InvalidComponent { .. } => ErrorClass::InvalidComponent,
            Error::PinMismatch { .. } => ErrorClass::PinMismatch,
            Error::MissingColumn { .. }
            | Error::WrongType { .. }
            | Error::InvalidValue { .. }
            | Error::NaiveTimestamp { .. }
            | Error::MissingField { .. }
            | Error::WrongValue { .. }
            | Error::UnexpectedNull { .. }
            | Error::BadRequest(_)
            | Error::BadRow { .. } => ErrorClass::BadInput,
            Error::RowFailed { .. } | Error::Trap { .. } => ErrorClass::RowRejected,
            Error::LimitExceeded { .. } => ErrorClass::LimitExceeded,
            Error::InvalidOutput { .. } => ErrorClass::InvalidOutput,
            Error::Io { .. } | Error::Data { .. } | Error::StateUnavailable { .. } => {
                ErrorClass::Data
            }
            Error::InvalidSetting { .. } => ErrorClass::InvalidSetting,
            Error::Runtime(_) => ErrorClass::Runtime,
            Error::InFile { error, .. } => error.class(),
        }
    }

    /// A short stable name for the kind of error, for metrics and JSON
    /// error bodies.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidComponent { .. } => "invalid_component",
            Error::MissingColumn { .. } => "missing_column",
            Error::WrongType { .. } | Error::WrongValue { .. } => "wrong_type",
            Error::MissingField { .. } => "missing_field",
            Error::InvalidValue { .. } => "invalid_value",
            Error::UnexpectedNull { .. } => "unexpected_null",
            Error::NaiveTimestamp { .. } => "naive_timestamp",
            Error::RowFailed { .. } => "row_failed",
            Error::Trap { .. } => "trap",
            Error::LimitExceeded { limit, .. } => match limit {
                Limit::Fuel => "fuel_exhausted",
                Limit::Memory => "memory_limit",
                Limit::Deadline => "deadline_exceeded",
                Limit::OutputSize => "output_too_large",
                Limit::Resources => "resource_limit",
            },
            Error::InvalidOutput { .. } => "invalid_output",
            Error::PinMismatch { .. } => "pin_mismatch",
            Error::BadRequest(_) => "bad_request",
            Error::BadRow { .. } => "bad_row",
            Error::Io { .. } => "io",
            Error::Data { .. } => "data",
            Error::StateUnavailable { .. } => "state_unavailable",
            Error::InvalidSetting { .. } => "invalid_setting",
            Error::Runtime(_) => "runtime",
            Error::InFile { error, .. } => error.kind(),
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            cause: source,
        }
    }

    /// The hint of an [`Error::UnexpectedNull`] about a row function's
    /// input: how its declaration says it takes nulls.
    pub const NOT_OPTIONAL: &'static str =
        " (not `Option<_>` in Rust, not `Optional[...]` in Python)";

    /// `error`, met while `action` (e.g. "cannot read") the data file
    /// `path`, said of the file: an error about a value or a column keeps
    /// its kind ([`Error::InFile`]), so that a front end can still say what
    /// would fix it; an error already about a file, or about neither a row
    /// nor a column, is returned as it is.
    pub(crate) fn in_file(action: &'static str, path: impl Into<PathBuf>, error: Error) -> Self {
        match error {
            Error::Io { .. } | Error::Data { .. } | Error::InFile { .. } => error,
            error if error.row().is_some() || error.column().is_some() => Error::InFile {
                action,
                path: path.into(),
                error: Box::new(error),
            },
            error => error,
        }
    }

    pub(crate) fn data(
        action: &'static str,
        path: impl Into<PathBuf>,
        message: impl fmt::Display,
    ) -> Self {
        Error::Data {
            action,
            path: path.into(),
            message: message.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_rows_shifts_only_row_errors() {
        let error = Error::RowFailed {
            transform: "t".into(),
            row: Some(3),
            message: "bad".into(),
        };
        assert_eq!(error.offset_rows(100).row(), Some(103));
        let error = Error::BadRequest("x".into()).offset_rows(100);
        assert_eq!(error.row(), None);
    }

    #[test]
    fn guest_output_is_kept_on_one_line() {
        let error = Error::Trap {
            transform: "t".into(),
            row: Some(0),
            message: "wasm trap: unreachable".into(),
            output: "thread panicked at src/lib.rs:3:5:\nboom\n".into(),
        };
        let text = error.to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(
            text.ends_with("the transform printed: thread panicked at src/lib.rs:3:5: | boom"),
            "{text}"
        );
    }

    #[test]
    fn sizes_read_like_the_flags() {
        assert_eq!(human_bytes(64 << 20), "64 MiB");
        assert_eq!(human_bytes((64 << 20) + (1 << 19)), "64.5 MiB");
        assert_eq!(human_bytes(812), "812 bytes");
    }
}
