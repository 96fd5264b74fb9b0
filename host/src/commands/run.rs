//! The module that implements the `skewless run` command: a backfill.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use skewless::backfill::{Backfill, DEFAULT_BATCH_SIZE, MaxRejects, OnError, Progress};
use skewless::io::Format;

use super::{RuntimeArgs, ValueArgs, positive};

const EXAMPLES: &str = "\
Examples:
  skewless run fraud_features.wasm --input transactions.parquet --output features.parquet
  skewless run fraud_features.wasm --input transactions.csv --output features.parquet \\
      --keep transaction_id,is_fraud
  skewless run email_subject.wasm --input subjects.jsonl --output features.csv --threads 1
  # Keep going past bad rows, with a record of each (and stop if over 1%):
  skewless run fraud_features.wasm --input transactions.parquet --output features.parquet \\
      --on-error skip --rejects rejected.jsonl --max-rejects 1%
  # Point-in-time training data: each spine row's aggregates as of its time
  skewless run card_velocity.wasm --events transactions.parquet --input spine.parquet \\
      --output training.parquet --keep card_id,ts,label
  # What the server answered, again: its exported events, the logged requests
  curl -s localhost:8080/v1/events/card-velocity > served-events.jsonl
  skewless run card_velocity.wasm --events served-events.jsonl --as-served \\
      --input logged-requests.jsonl --output served-features.jsonl";

/// Backfill: run every row of a data file through a transform and write the
/// features to another file.
///
/// Formats follow the file extensions: .parquet, .csv (with a header row),
/// .arrow/.ipc (Arrow IPC) and .jsonl. Input columns are matched by name.
/// Parquet and Arrow outputs record the transform's name, version, sha256
/// and spec in their metadata (see `skewless inspect OUTPUT`). The output is
/// written to a temporary file and renamed into place when complete: a
/// failed run leaves no output file.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct RunCommand {
    /// The transform component (.wasm).
    #[arg(value_name = "COMPONENT")]
    component: PathBuf,

    /// The data file to read. For a transform that aggregates events, the
    /// spine: one row per example (the entity's key, the time the features
    /// are as of, the row function's other inputs).
    #[arg(long, short, value_name = "FILE")]
    input: PathBuf,

    /// The events a transform that declares aggregations aggregates (any
    /// order; any supported format). Each input row gets its entity's
    /// aggregates as of its time: events at or after that time never count.
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,

    /// With --events: the aggregates exactly as `skewless serve` answered
    /// them. The events and the input rows carry arrival times in
    /// `_arrival` (the events as `GET /v1/events/NAME` exports them; each
    /// input row with the `arrival` its answer returned); each key's events
    /// count in arrival order under the serving rules (an event id once,
    /// late events dropped), and only for rows they arrived by.
    #[arg(long, requires = "events")]
    as_served: bool,

    /// The file to write the features to (replaced if it exists).
    #[arg(long, short, value_name = "FILE")]
    output: PathBuf,

    /// Input columns to copy into the output before the features, e.g.
    /// `--keep transaction_id,label`.
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    keep: Vec<String>,

    /// Rows per batch. The features do not depend on it; memory and speed do.
    #[arg(long, value_name = "ROWS", default_value_t = DEFAULT_BATCH_SIZE, value_parser = positive::<usize>)]
    batch_size: usize,

    /// Threads that read, transform and encode [default: the CPUs available].
    #[arg(long, value_name = "N", value_parser = positive::<usize>)]
    threads: Option<usize>,

    /// What to do with a row the transform rejects (an error, a panic, its
    /// CPU or memory budget) or a value the reader cannot take: `fail` the
    /// backfill, `skip` the row, or write `null` features for it. With
    /// skip or null, every rejected row is written to --rejects.
    #[arg(long, value_name = "WHAT", default_value = "fail", value_parser = parse_on_error, help_heading = "Bad rows")]
    on_error: OnError,

    /// The JSON Lines file the rejected rows go to: each with its row in the
    /// input, its input values and its error.
    #[arg(long, value_name = "FILE", help_heading = "Bad rows")]
    rejects: Option<PathBuf>,

    /// Fail the backfill (no output) when more rows than this are rejected:
    /// a number (`1000`) or a percentage of the input (`0.5%`).
    #[arg(long, value_name = "N", value_parser = parse_max_rejects, help_heading = "Bad rows")]
    max_rejects: Option<MaxRejects>,

    /// No progress bar or summary.
    #[arg(long, short)]
    quiet: bool,

    /// Events files larger than this go to disk, in partitions, while the
    /// aggregates are computed (for tests of that path).
    #[arg(long, value_name = "SIZE", hide = true)]
    spill_above: Option<super::Size>,

    #[command(flatten)]
    values: ValueArgs,

    #[command(flatten)]
    runtime: RuntimeArgs,
}

fn parse_on_error(text: &str) -> Result<OnError> {
    text.parse().map_err(anyhow::Error::msg)
}

fn parse_max_rejects(text: &str) -> Result<MaxRejects> {
    text.parse().map_err(anyhow::Error::msg)
}

impl RunCommand {
    /// Runs the backfill.
    pub fn execute(self) -> Result<ExitCode> {
        let threads = self
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        // One instance a thread (and one for a precise re-run).
        let runtime = self.runtime.runtime_with(None, &self.values, threads + 1)?;
        let transform = super::load(&runtime, &self.component)?;
        let mut backfill = Backfill::new(&transform, &self.input, &self.output)
            .batch_size(self.batch_size)
            .keep(self.keep.iter().map(|column| column.trim()))
            .threads(threads)
            .on_error(self.on_error);
        if let Some(events) = &self.events {
            backfill = backfill.events(events).as_served(self.as_served);
        }
        if let Some(size) = self.spill_above {
            backfill = backfill.spill_above(size.0 as u64);
        }
        if let Some(rejects) = &self.rejects {
            backfill = backfill.rejects(rejects);
        }
        if let Some(limit) = self.max_rejects {
            backfill = backfill.max_rejects(limit);
        }
        let bar = (!self.quiet && std::io::stderr().is_terminal()).then(progress_bar);
        if let Some(bar) = &bar {
            let bar = bar.clone();
            backfill = backfill.on_progress(move |progress| show_progress(&bar, progress));
        }
        remove_output_on_signal(bar.clone());
        let summary = backfill
            .run()
            .map_err(|error| {
                // A null nobody typed: in CSV, an empty field is one.
                let csv = Format::from_path(&self.input).is_ok_and(|f| f == Format::Csv);
                match error {
                    skewless::Error::UnexpectedNull { .. } if csv => {
                        anyhow::anyhow!("{error}; in a CSV file, an empty field is null")
                    }
                    // A bad event fails the run whatever `--on-error` says:
                    // an event set aside would change other rows' features.
                    skewless::Error::InFile { ref path, .. }
                        if self.on_error != OnError::Fail
                            && error.row().is_some()
                            && self.events.as_deref() == Some(path.as_path()) =>
                    {
                        anyhow::Error::new(error).context(
                            "an event cannot be read, and `--on-error` sets aside input rows, \
                             not events (one left out would change other rows' features): fix \
                             or remove it",
                        )
                    }
                    error => error.into(),
                }
            })
            .with_context(|| {
                format!(
                    "backfill of `{}` with `{}` failed (no output was written)",
                    self.input.display(),
                    transform.name()
                )
            })?;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        if !self.quiet {
            let seconds = summary.elapsed.as_secs_f64();
            let rejected = match (&self.rejects, self.on_error) {
                (Some(rejects), OnError::Skip | OnError::Null) => format!(
                    "; {} {} rejected ({}), listed in `{}`",
                    summary.rejected,
                    if summary.rejected == 1 { "row" } else { "rows" },
                    if self.on_error == OnError::Skip {
                        "left out"
                    } else {
                        "written with null features"
                    },
                    rejects.display()
                ),
                _ => String::new(),
            };
            eprintln!(
                "wrote {} {} to `{}` with {} {} (sha256 {}) in {:.2} s ({:.0} rows/s){rejected}",
                summary.rows,
                if summary.rows == 1 { "row" } else { "rows" },
                summary.output.display(),
                transform.name(),
                transform.version(),
                transform.sha256(),
                seconds,
                summary.rows as f64 / seconds.max(1e-9),
            );
        }
        // Empty windows are not an error, but all of them is almost always
        // a mistake, which nothing else would show.
        match (&summary.warning, summary.events) {
            (Some(warning), _) => eprintln!("warning: {warning}"),
            (None, Some(events)) if !self.quiet && events.rows_without_events > 0 => eprintln!(
                "{} of {} rows {} a `{}` no event has (their windows are empty)",
                events.rows_without_events,
                events.rows,
                if events.rows_without_events == 1 {
                    "has"
                } else {
                    "have"
                },
                transform
                    .info()
                    .aggregation
                    .as_ref()
                    .map_or("", |a| a.key.name.as_str())
            ),
            _ => {}
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// On Ctrl-C or SIGTERM: deletes the unfinished output, says so and exits
/// with status 130. (A signal runs no destructors, so without this the
/// temporary file would stay next to the output.) The handlers are in place
/// when this returns; a thread waits for them.
fn remove_output_on_signal(bar: Option<ProgressBar>) {
    // Without the watcher a signal still stops the run; only the cleanup
    // is lost, so failing to set it up is not an error.
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let signalled = {
        let _entered = runtime.enter();
        match skewless::serve::shutdown_signal() {
            Ok(signalled) => signalled,
            Err(_) => return,
        }
    };
    let watch = move || {
        runtime.block_on(signalled);
        skewless::io::remove_unfinished_outputs();
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        eprintln!("error: interrupted; the unfinished output was deleted (no output was written)");
        std::process::exit(130);
    };
    let _ = std::thread::Builder::new()
        .name("skewless-signals".into())
        .spawn(watch);
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg}",
        )
        .expect("valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn show_progress(bar: &ProgressBar, progress: Progress) {
    match progress.total_rows {
        Some(total) => {
            bar.set_length(total);
            bar.set_position(progress.rows);
        }
        None => {
            bar.set_length(progress.total_bytes);
            bar.set_position(progress.bytes_read);
        }
    }
    bar.set_message(format!("{} rows", progress.rows));
}
