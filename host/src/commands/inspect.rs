//! The module that implements the `skewless inspect` command.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde_json::json;
use skewless::io::{FileSummary, head, summarize};
use skewless::{Field, Transform};

use super::RuntimeArgs;

const EXAMPLES: &str = "\
Examples:
  skewless inspect fraud_features.wasm
  skewless inspect fraud_features.wasm --json
  skewless inspect features.parquet --rows 5";

/// Show what a transform declares (name, version, sha256, inputs, outputs),
/// or what a data file holds and which transform produced it.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct InspectCommand {
    /// A transform component (.wasm) or a data file (.parquet, .csv, .arrow, .jsonl).
    #[arg(value_name = "FILE")]
    file: PathBuf,

    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,

    /// For a data file, also print its first N rows.
    #[arg(long, value_name = "N")]
    rows: Option<usize>,

    #[command(flatten)]
    runtime: RuntimeArgs,
}

impl InspectCommand {
    /// Prints the description.
    pub fn execute(self) -> Result<ExitCode> {
        let is_component = self
            .file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("wasm"));
        let mut out = std::io::stdout().lock();
        if is_component {
            if self.rows.is_some() {
                anyhow::bail!(
                    "--rows shows the first rows of a data file; `{}` is a component, \
                     which has no rows",
                    self.file.display()
                );
            }
            let transform = self
                .runtime
                .load(&self.file, None, &super::ValueArgs::default())?;
            if self.json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&transform_json(&transform))?
                )?;
            } else {
                write_transform(&mut out, &transform)?;
            }
        } else {
            let parts = if self.file.is_dir() {
                skewless::io::part_files_of(&self.file)
            } else {
                Vec::new()
            };
            if let Some(first) = parts.first() {
                anyhow::bail!(
                    "`{}` is a directory of {} data file{}, as Spark writes a table; inspect \
                     one of them: `skewless inspect {}` (each part file a transform wrote \
                     carries its provenance)",
                    self.file.display(),
                    parts.len(),
                    if parts.len() == 1 { "" } else { "s" },
                    first.display()
                );
            }
            let summary = summarize(&self.file)?;
            let preview = match self.rows {
                Some(rows) => Some(head(&self.file, rows)?),
                None => None,
            };
            if self.json {
                let mut value = file_json(&self.file, &summary);
                if let Some(batches) = &preview {
                    value["rows_preview"] = rows_json(batches)?;
                }
                writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
            } else {
                write_file(&mut out, &self.file, &summary)?;
                if let Some(batches) = preview {
                    // Each value as CSV and JSON write it: exact, and the
                    // same whatever the column's zone or layout.
                    let shown: Vec<_> = batches
                        .iter()
                        .map(skewless::codec::text::text_batch)
                        .collect();
                    let options = arrow::util::display::FormatOptions::default().with_null("null");
                    writeln!(out)?;
                    writeln!(
                        out,
                        "{}",
                        arrow::util::pretty::pretty_format_batches_with_options(&shown, &options)?
                    )?;
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// The server's description of the transform, and the file it is in.
fn transform_json(transform: &Transform) -> serde_json::Value {
    let mut described = transform.describe_json();
    described["file"] = json!(transform.source_name());
    described
}

fn write_fields(out: &mut impl Write, title: &str, fields: &[Field]) -> std::io::Result<()> {
    writeln!(out, "{title}")?;
    let width = fields.iter().map(|f| f.name.len()).max().unwrap_or(0);
    for field in fields {
        let nullable = if field.nullable { "  (nullable)" } else { "" };
        writeln!(
            out,
            "  {:width$}  {}{nullable}",
            field.name, field.data_type
        )?;
    }
    Ok(())
}

fn write_transform(out: &mut impl Write, transform: &Transform) -> std::io::Result<()> {
    let info = transform.info();
    writeln!(out, "{} {}", info.name, info.version)?;
    writeln!(out, "  sha256       {}", transform.sha256())?;
    writeln!(out, "  file         {}", transform.source_name())?;
    if let Err(why) = transform.resets_in_place() {
        // Only unusual components, or `--fresh-instances`.
        writeln!(
            out,
            "  instances    not put back in place after a call: {why}"
        )?;
    }
    if !info.description.is_empty() {
        writeln!(
            out,
            "  description  {}",
            info.description.replace('\n', "\n               ")
        )?;
    }
    writeln!(out)?;
    match &info.aggregation {
        None => write_fields(out, "inputs", &info.inputs)?,
        Some(aggregation) => {
            write_fields(
                out,
                "inputs (a spine's or a request's)",
                &info.spine_inputs(),
            )?;
            writeln!(
                out,
                "events  (by `{}` at `{}`, as of the spine's `{}`{}{}{})",
                aggregation.key.name,
                aggregation.event_time,
                aggregation.request_time,
                aggregation
                    .tie_break
                    .as_ref()
                    .map(|t| format!("; ties by `{}`", t.name))
                    .unwrap_or_default(),
                aggregation
                    .event_id
                    .as_ref()
                    .map(|t| format!("; id `{}`", t.name))
                    .unwrap_or_default(),
                if aggregation.lateness_micros > 0 {
                    format!(
                        "; lateness {}",
                        skewless::spec::duration_text(aggregation.lateness_micros)
                    )
                } else {
                    // Served, a key's events must then come in time order:
                    // say so rather than leave it to be inferred.
                    "; no lateness".to_string()
                },
            )?;
            let columns = aggregation
                .event_inputs
                .iter()
                .map(|f| {
                    let nullable = if f.nullable { " (nullable)" } else { "" };
                    format!("{} {}{nullable}", f.name, f.data_type)
                })
                .collect::<Vec<_>>();
            writeln!(out, "  columns  {}", columns.join(", "))?;
            writeln!(out, "aggregates")?;
            let width = aggregation
                .aggregates
                .iter()
                .map(|a| a.name.len())
                .max()
                .unwrap_or(0);
            for aggregate in &aggregation.aggregates {
                writeln!(out, "  {:width$}  {aggregate}", aggregate.name)?;
            }
        }
    }
    write_fields(out, "outputs", &info.outputs)
}

fn file_json(path: &Path, summary: &FileSummary) -> serde_json::Value {
    json!({
        "file": path.display().to_string(),
        "format": summary.format.name(),
        "rows": summary.rows,
        "columns": summary.schema.fields().iter().map(|f| json!({
            "name": f.name(),
            "type": type_name(f.data_type()),
            "nullable": f.is_nullable(),
        })).collect::<Vec<_>>(),
        "transform": summary.provenance.as_ref().map(|p| json!({
            "name": p.name,
            "version": p.version,
            "sha256": p.sha256,
            "spec": p.spec,
        })),
    })
}

fn write_file(out: &mut impl Write, path: &Path, summary: &FileSummary) -> std::io::Result<()> {
    writeln!(out, "{} ({})", path.display(), summary.format.name())?;
    if let Some(rows) = summary.rows {
        writeln!(out, "  rows         {rows}")?;
    }
    match &summary.provenance {
        Some(p) => {
            writeln!(out, "  made by      {} {}", p.name, p.version)?;
            writeln!(out, "  sha256       {}", p.sha256)?;
            writeln!(
                out,
                "  pin it with  skewless serve COMPONENT --expect {}={}",
                p.name, p.sha256
            )?;
        }
        None if summary.format.keeps_provenance() => {
            writeln!(
                out,
                "  made by      (no skewless metadata: not written by `skewless run`)"
            )?;
        }
        None => {}
    }
    writeln!(out)?;
    writeln!(out, "columns")?;
    let width = summary
        .schema
        .fields()
        .iter()
        .map(|f| f.name().len())
        .max()
        .unwrap_or(0);
    for field in summary.schema.fields() {
        writeln!(
            out,
            "  {:width$}  {}",
            field.name(),
            type_name(field.data_type())
        )?;
    }
    Ok(())
}

/// A column type as transforms declare it (`float64`, `timestamp-micros`),
/// or as Arrow names it when no transform type matches (a `--keep` column).
fn type_name(arrow: &arrow::datatypes::DataType) -> String {
    match skewless::DataType::from_arrow(arrow) {
        Some(data_type) => data_type.to_string(),
        None => arrow.to_string(),
    }
}

/// The rows as the serving codec writes them (NaN stays `"NaN"`, not
/// `null`); columns without a text form as their display text.
fn rows_json(batches: &[arrow::array::RecordBatch]) -> Result<serde_json::Value> {
    let mut rows = Vec::new();
    for batch in batches {
        let batch = if skewless::codec::json::check_encodable(&batch.schema()).is_ok() {
            batch.clone()
        } else {
            skewless::codec::text::text_batch(batch)
        };
        for row in skewless::codec::json::encode_rows(&batch) {
            rows.push(serde_json::from_str::<serde_json::Value>(&row)?);
        }
    }
    Ok(json!(rows))
}
