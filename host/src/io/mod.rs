//! Data files in and out: Parquet, CSV, Arrow IPC and JSON Lines, chosen by
//! extension, read in batches and written atomically.
//!
//! Parsing is the arrow and parquet crates' job: no format here has a
//! hand-written parser. What this module adds is what a backfill needs
//! around them: reading only the columns asked for (with the transform's
//! declared types for text formats, where types would otherwise be
//! guessed), errors that name the file (and the column and row of a value
//! that does not parse, without the libraries' prefixes), a count of bytes
//! or rows for the progress bar, and output that appears under its final
//! name only once it is complete.
//!
//! One file a job: [`Format`] and opening an input (here), [`Reader`]
//! (`reader.rs`, with the CSV and JSON Lines specifics in `csv.rs` and
//! `jsonl.rs`), [`Writer`] and [`Encoder`] (`writer.rs`, with `flush.rs`),
//! and what `inspect` shows of a file ([`summarize`], [`head`], in
//! `summary.rs`).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::spec::DataType;

mod csv;
mod flush;
mod jsonl;
mod reader;
mod summary;
mod writer;

pub use reader::Reader;
pub(crate) use reader::SetAside;
pub use summary::{FileSummary, head, summarize};
pub use writer::{Encoded, Encoder, Writer, remove_unfinished_outputs};

/// A data file format, chosen by file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `.parquet`
    Parquet,
    /// `.csv`, with a header row.
    Csv,
    /// `.arrow`, `.ipc` or `.feather`: Arrow IPC, file or stream format.
    ArrowIpc,
    /// `.jsonl` or `.ndjson`: one JSON object per line.
    Jsonl,
}

impl Format {
    /// The format of `path`, from its extension.
    pub fn from_path(path: &Path) -> Result<Format> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("parquet") => Ok(Format::Parquet),
            Some("csv") => Ok(Format::Csv),
            Some("arrow" | "ipc" | "feather") => Ok(Format::ArrowIpc),
            Some("jsonl" | "ndjson") => Ok(Format::Jsonl),
            Some("json") => Err(Error::BadRequest(format!(
                "cannot tell the format of `{}` from its extension: a .json file can hold one \
                 JSON document or JSON Lines; for JSON Lines (one object a line, as Spark and \
                 DuckDB write them) use .jsonl or .ndjson",
                path.display()
            ))),
            _ => Err(Error::BadRequest(format!(
                "cannot tell the format of `{}` from its extension: use .parquet, .csv, \
                 .arrow (or .ipc), or .jsonl",
                path.display()
            ))),
        }
    }

    /// The format's name, e.g. `Parquet`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Parquet => "Parquet",
            Format::Csv => "CSV",
            Format::ArrowIpc => "Arrow IPC",
            Format::Jsonl => "JSON Lines",
        }
    }

    /// Whether files of this format record which transform wrote them.
    pub fn keeps_provenance(self) -> bool {
        matches!(self, Format::Parquet | Format::ArrowIpc)
    }
}

/// A column to read: its name and, for formats without types (CSV, JSON
/// Lines), the type to parse it as. `None` lets the reader infer it.
#[derive(Clone, Debug)]
pub struct ColumnRequest {
    /// Column name, matched exactly.
    pub name: String,
    /// The type to parse text as.
    pub data_type: Option<DataType>,
}

/// What arrow, parquet and csv put in front of their messages.
const LIBRARY_PREFIXES: [&str; 13] = [
    "External error: ",
    "Parser error: ",
    "Csv error: ",
    "Json error: ",
    "Io error: ",
    "Ipc error: ",
    "Schema error: ",
    "Invalid argument error: ",
    "Parquet argument error: ",
    "Parquet error: ",
    "External: ",
    "Arrow: ",
    "EOF: ",
];

/// "cannot read `FILE`: " and a reader's error, as [`readable`] puts it.
pub(super) fn unreadable(path: &Path, error: &dyn std::fmt::Display) -> Error {
    Error::data("cannot read", path, readable(error))
}

/// A batch's read failure, said of the file: a value this crate refused
/// while parsing the file's text keeps its kind (see [`Error::in_file`]);
/// anything else is put as [`unreadable`] puts it.
pub(super) fn read_failure(path: &Path, error: arrow::error::ArrowError) -> Error {
    match error {
        arrow::error::ArrowError::ExternalError(inner) => match inner.downcast::<Error>() {
            Ok(ours) => match Error::in_file("cannot read", path, *ours) {
                said @ (Error::InFile { .. } | Error::Io { .. } | Error::Data { .. }) => said,
                other => unreadable(path, &other),
            },
            Err(inner) => unreadable(path, &arrow::error::ArrowError::ExternalError(inner)),
        },
        other => unreadable(path, &other),
    }
}

/// Why a directory is not read, with what to do when it holds a table
/// written as part files (by Spark, pandas with a partition column, ...).
fn directory(path: &Path) -> String {
    let mut parts = Vec::new();
    let partitioned = part_files(path, "", &mut parts);
    parts.sort();
    let Some(first) = parts.first() else {
        return "it is a directory, not a data file".to_string();
    };
    let (format, one) = match Format::from_path(Path::new(first)) {
        Ok(Format::Parquet) => ("parquet", "give one of them"),
        Ok(Format::Csv) => ("csv", "give one of them"),
        Ok(Format::ArrowIpc) => ("ipc", "give one of them"),
        _ => ("json", "give one of them (named .jsonl)"),
    };
    let name = Path::new(first)
        .file_name()
        .map_or(first.as_str(), |n| n.to_str().unwrap_or(first));
    let partitioning = if partitioned {
        ", partitioning=\"hive\""
    } else {
        ""
    };
    format!(
        "it is a directory, not a data file; it holds {} data file{} (`{first}`{}), as Spark \
         writes a table: skewless reads one file, so read the directory in Python \
         (`t.transform(pyarrow.dataset.dataset(DIR, format=\"{format}\"{partitioning})\
         .to_table())`, with `events=` the same way), or run the transform in Spark \
         (`skewless.spark.transform`), or {one} if part of the rows will do (not of events: \
         features would count only `{name}`'s)",
        parts.len(),
        if parts.len() == 1 { "" } else { "s" },
        if parts.len() > 1 { ", ..." } else { "" },
    )
}

/// The data files of a table written as part files into `dir` (by Spark,
/// pyarrow, ...), in its partition directories too, sorted: paths under
/// `dir`. Empty when it holds none.
pub fn part_files_of(dir: &Path) -> Vec<PathBuf> {
    let mut parts = Vec::new();
    part_files(dir, "", &mut parts);
    parts.sort();
    parts.into_iter().map(|part| dir.join(part)).collect()
}

/// Adds to `parts` the data files in `dir` (named from the top directory,
/// `under` it), and in its partition directories (`day=2026-01-01`, as
/// Spark and pyarrow write them), a few levels deep. Returns whether
/// any were in partition directories.
fn part_files(dir: &Path, under: &str, parts: &mut Vec<String>) -> bool {
    let mut partitioned = false;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    for entry in entries.filter_map(|entry| entry.ok()) {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with(['.', '_']) {
            continue;
        }
        let named = format!("{under}{name}");
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            if name.contains('=') && under.matches('/').count() < 3 {
                let before = parts.len();
                part_files(&entry.path(), &format!("{named}/"), parts);
                partitioned |= parts.len() > before;
            }
        } else if Format::from_path(Path::new(&name)).is_ok() || name.ends_with(".json") {
            parts.push(named);
        }
    }
    partitioned
}

/// Opens an input file and tells its format from its extension, refusing
/// what would otherwise fail with a misleading message: a missing file
/// (before its extension is looked at), a directory, and a Parquet or
/// Arrow file under a text format's extension (or the other way round).
pub(super) fn open_input(path: &Path) -> Result<(File, Format)> {
    let mut file = File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
    let metadata = file
        .metadata()
        .map_err(|e| Error::io("cannot read", path, e))?;
    if metadata.is_dir() {
        return Err(Error::data("cannot read", path, directory(path)));
    }
    let format = Format::from_path(path)?;
    let mut start = Vec::with_capacity(6);
    (&mut file)
        .take(6)
        .read_to_end(&mut start)
        .and_then(|_| file.seek(SeekFrom::Start(0)))
        .map_err(|e| Error::io("cannot read", path, e))?;
    let contents = match start.as_slice() {
        [b'P', b'A', b'R', b'1', ..] => Some(Format::Parquet),
        b"ARROW1" => Some(Format::ArrowIpc),
        _ => None,
    };
    match contents {
        Some(actual) if actual != format => Err(Error::data(
            "cannot read",
            path,
            format!(
                "it is a{} {} file, not {}; give it the {} extension",
                if actual == Format::ArrowIpc { "n" } else { "" },
                actual.name(),
                format.name(),
                if actual == Format::Parquet {
                    ".parquet"
                } else {
                    ".arrow"
                }
            ),
        )),
        _ => Ok((file, format)),
    }
}

/// A reader's error as a user should read it after "cannot read `FILE`: ":
/// without the libraries' prefixes, and CSV field-count and UTF-8 errors
/// said plainly.
pub(super) fn readable(error: &dyn std::fmt::Display) -> String {
    let message = error.to_string();
    let mut rest = message.as_str();
    while let Some(stripped) = LIBRARY_PREFIXES
        .iter()
        .find_map(|prefix| rest.strip_prefix(prefix))
    {
        rest = stripped;
    }
    csv::field_count(rest)
        .or_else(|| csv::invalid_utf8(rest))
        .unwrap_or_else(|| rest.to_string())
}
