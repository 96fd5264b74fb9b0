//! The module that implements the `skewless verify` command.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use skewless::verify::{BatchSize, PathError, Verify};

use super::{RuntimeArgs, ValueArgs};

const EXAMPLES: &str = "\
Examples:
  skewless verify fraud_features.wasm --input transactions.parquet
  skewless verify fraud_features.wasm --input transactions.csv --batch-sizes 1,100,all
  # Aggregations: the backfill against events applied one at a time, shuffled
  skewless verify card_velocity.wasm --events transactions.parquet --input spine.parquet";

/// Prove parity: run a data file through the backfill path and through the
/// online path (each row alone through the JSON codec, then the whole file
/// in batches of several sizes) and compare every output bit.
///
/// Exits 0 only when every value of every path is identical to the
/// backfill's; otherwise prints the first differing row, column and both
/// values. The input is held in memory.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct VerifyCommand {
    /// The transform component (.wasm).
    #[arg(value_name = "COMPONENT")]
    component: PathBuf,

    /// The data file to verify on (.parquet, .csv, .arrow, .jsonl).
    #[arg(long, short, value_name = "FILE")]
    input: PathBuf,

    /// The events of a transform that declares aggregations (`--input` is
    /// then the spine): the backfill's aggregates are compared with those of
    /// a state that takes the events one at a time, in a shuffled order, and
    /// with a served state (as `skewless serve` keeps) fed the events
    /// shuffled within the declared lateness and asked each row at its time.
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,

    /// Batch sizes of the batch paths (`all` is the whole file at once).
    #[arg(
        long,
        value_name = "SIZES",
        value_delimiter = ',',
        default_value = "1,7,1024,all"
    )]
    batch_sizes: Vec<BatchSize>,

    #[command(flatten)]
    values: ValueArgs,

    #[command(flatten)]
    runtime: RuntimeArgs,
}

impl VerifyCommand {
    /// Runs the verification and prints the summary.
    pub fn execute(self) -> Result<ExitCode> {
        let transform = self.runtime.load(&self.component, None, &self.values)?;
        let mut verify =
            Verify::new(&transform, &self.input).batch_sizes(self.batch_sizes.iter().copied());
        if let Some(events) = &self.events {
            verify = verify.events(events);
        }
        if std::io::stderr().is_terminal() {
            verify = verify.on_path(|path| eprintln!("  running: {path}"));
        }
        println!(
            "verifying {} {} (sha256 {}) on `{}`",
            transform.name(),
            transform.version(),
            transform.sha256(),
            self.input.display()
        );
        let report = verify.run().with_context(|| {
            // Verifying on a feature file instead of the data it was made
            // from is an easy slip: say so.
            let written_by = skewless::io::summarize(&self.input)
                .ok()
                .and_then(|summary| summary.provenance)
                .map(|made| {
                    format!(
                        " (`{}` holds features written by {} {}; verify takes the data a \
                         transform reads, such as the file that was backfilled)",
                        self.input.display(),
                        made.name,
                        made.version
                    )
                })
                .unwrap_or_default();
            format!(
                "cannot compute the backfill reference of `{}` with `{}`{written_by}",
                self.input.display(),
                transform.name()
            )
        })?;
        if report.compared_rows() == 0 {
            let why = match &report.first_rejected {
                None => "has no rows".to_string(),
                Some((_, message)) if report.rows == 1 => {
                    format!("has 1 row, and the transform rejected it ({message})")
                }
                Some((_, message)) => format!(
                    "has {} rows, and the transform rejected every one (the first: \
                     {message})",
                    report.rows
                ),
            };
            println!(
                "NOTHING VERIFIED: `{}` {why}, so no output was compared",
                self.input.display()
            );
            return Ok(ExitCode::FAILURE);
        }
        println!(
            "  {:<52} {} rows x {} columns",
            "backfill (the reference)", report.rows, report.columns
        );
        if let Some(events) = report.incremental_events {
            println!(
                "  {:<52} {events} events, applied one at a time in a shuffled order",
                "aggregates of the other paths: an incremental state"
            );
        }
        if report.rejected > 0 {
            println!(
                "  {:<52} {} (every path must reject them too, with the same message)",
                "rows the transform rejected or could not read", report.rejected
            );
        }
        let mut mismatches = 0;
        for path in &report.paths {
            if path.passed() {
                println!("  {:<52} identical", path.name);
                continue;
            }
            mismatches += path.rows_differing;
            if let Some(error) = &path.error {
                println!("  {:<52} FAILED: {error}", path.name);
            }
            if path.rows_differing > 0 {
                println!(
                    "  {:<52} DIFFERENT in {} of {} rows",
                    path.name, path.rows_differing, report.rows
                );
            }
            if let Some(first) = &path.first_mismatch {
                println!(
                    "      first difference: row {}, column `{}`: backfill {}, this path {}",
                    first.row, first.column, first.expected, first.actual
                );
            }
        }
        let compared = report.paths.len();
        if report.passed() {
            let rejected = if report.rejected > 0 {
                match report.rejected {
                    1 => "; the same 1 row rejected with the same message".to_string(),
                    rows => format!("; the same {rows} rows rejected with the same messages"),
                }
            } else {
                String::new()
            };
            println!(
                "OK: {compared} paths x {} rows x {} columns, every output bit identical to the backfill{rejected}",
                report.rows, report.columns
            );
            return Ok(ExitCode::SUCCESS);
        }
        // Say whose fault it is: a transport skewless could not carry the
        // rows through is not the transform's output depending on its path.
        let transport = report
            .paths
            .iter()
            .filter(|p| matches!(p.error, Some(PathError::Transport(_))))
            .count();
        let differ = report
            .paths
            .iter()
            .filter(|p| !p.passed() && !matches!(p.error, Some(PathError::Transport(_))))
            .count();
        if differ > 0 {
            // Events that share an id but differ are the data's doing:
            // which copy counts depends on the order they arrive in.
            let ids = match transform
                .info()
                .aggregation
                .as_ref()
                .and_then(|a| a.event_id.as_ref())
            {
                Some(id) if self.events.is_some() => format!(
                    ", or the events give one `{}` to two events that differ (which of them \
                     counts then depends on the order they arrive in: give each event its own id)",
                    id.name
                ),
                _ => String::new(),
            };
            println!(
                "MISMATCH: {differ} of {compared} paths differ from the backfill ({mismatches} differing rows in all); \
                 the transform's output depends on how rows are batched or transported{ids}"
            );
        }
        if transport > 0 {
            println!(
                "NOT VERIFIED: skewless could not carry the rows through {transport} of {compared} \
                 paths; that is a defect in skewless, not in the transform (please report it \
                 with the input file's schema)"
            );
        }
        Ok(ExitCode::FAILURE)
    }
}
