//! What a guest can see and use: nothing ambient, bounded everything.
//!
//! Each instance lives in its own `Store` whose data is a [`GuestState`]:
//!
//! - a WASI context that grants nothing: no files or directories, no
//!   environment variables, no arguments, no sockets or name lookups, stdin
//!   closed. Clocks are frozen at the Unix epoch and random bytes are all
//!   zero, so a guest that asks for the time or for randomness (Rust's
//!   `HashMap` does, for its hash seed) gets the same answer in a backfill
//!   and in serving, today and next year.
//! - stdout and stderr captured into one bounded buffer that is attached to
//!   errors (a panic message reaches the user) and cleared after each call.
//! - a [`ResourceLimiter`] that caps linear memory, tables and instances.
//! - the row budget: the `start-rows` and `end-rows` imports restart the
//!   fuel budget, so CPU limits apply per row (see `wit/transform.wit` and
//!   [`Mode`]).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{ResourceLimiter, StoreContextMut};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::clocks::{HostMonotonicClock, HostWallClock};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::HOST_INTERFACES;

/// Per-store state of one guest instance.
pub(crate) struct GuestState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: GuestLimits,
    pub(crate) rows: RowBudget,
    pub(crate) output: CapturedOutput,
}

impl GuestState {
    pub(crate) fn new(limits: GuestLimits, fuel_per_row: u64, output_capture_bytes: usize) -> Self {
        let output = CapturedOutput::new(output_capture_bytes);
        let wasi = WasiCtx::builder()
            .stdout(output.clone())
            .stderr(output.clone())
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .secure_random(ZeroRandom)
            .insecure_random(ZeroRandom)
            .insecure_random_seed(0)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        GuestState {
            wasi,
            table: ResourceTable::new(),
            limits,
            rows: RowBudget::new(fuel_per_row),
            output,
        }
    }

    /// This state made ready for another instance, as [`GuestState::new`]
    /// would give it: a new row budget and resource table, and nothing
    /// captured. What is kept is what no call can change: the WASI context
    /// (frozen clocks, zero randomness, no files, environment or network,
    /// and the capture's own streams). Building one seeds random number
    /// generators that the builder then replaces with these, about 0.3 µs
    /// on every call.
    pub(crate) fn recycle(mut self, fuel_per_row: u64) -> Self {
        self.reset(fuel_per_row);
        self
    }

    /// [`GuestState::recycle`] in place, for an instance put back to its
    /// initial state.
    pub(crate) fn reset(&mut self, fuel_per_row: u64) {
        self.table = ResourceTable::new();
        self.rows = RowBudget::new(fuel_per_row);
        self.output.take();
    }
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Adds WASI (granting nothing, per [`GuestState`]) and the row-budget
/// imports to the linker.
pub(crate) fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    // The same two functions in every contract version.
    for interface in HOST_INTERFACES {
        let mut host = linker.instance(interface)?;
        host.func_wrap(
            "start-rows",
            |mut store: StoreContextMut<'_, GuestState>, (row,): (u32,)| {
                let remaining = store.get_fuel()?;
                let (rows, fuel) = store
                    .data_mut()
                    .rows
                    .start_rows(u64::from(row), remaining)?;
                store.set_fuel(fuel)?;
                Ok((rows,))
            },
        )?;
        host.func_wrap(
            "end-rows",
            |mut store: StoreContextMut<'_, GuestState>, (): ()| {
                let remaining = store.get_fuel()?;
                let fuel = store.data_mut().rows.end_rows(remaining)?;
                store.set_fuel(fuel)
            },
        )?;
    }
    Ok(())
}

/// Where a call is, for the fuel budget and for naming the row in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Outside rows: reading the input, building output between runs of
    /// rows, assembling the output batch. All of it shares one batch budget.
    Outside,
    /// Computing rows `start..end` of the batch on one row budget.
    Rows { start: u64, end: u64 },
}

/// How rows are budgeted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Each row on its own budget of `fuel_per_row`: exact, two host calls
    /// per row. The SDK measures a row from the start of the row to the end
    /// of the user's function, and builds its output after, so every row is
    /// measured the same way wherever it sits in its batch.
    Precise,
    /// Runs of rows on one budget of `fuel_per_row - ROW_MARGIN`, two host
    /// calls per run. A run that stays within it proves that each of its
    /// rows would have stayed within `fuel_per_row` on its own; a run that
    /// does not is re-run in precise mode, so the outcome is always the
    /// precise one.
    Fast,
}

/// Fuel a row measured precisely may spend beyond what the same row costs
/// inside a fast run (the protocol's own instructions, and allocator paths
/// that differ with the heap's history). Fast runs get
/// `fuel_per_row - ROW_MARGIN`, so passing fast implies passing precise.
pub(crate) const ROW_MARGIN: u64 = 10_000;

/// The fuel accounting of one call.
#[derive(Debug)]
pub(crate) struct RowBudget {
    /// Rows in the current batch.
    pub(crate) rows: u64,
    /// The next row the guest must start.
    pub(crate) started: u64,
    /// Fuel each row gets.
    pub(crate) fuel_per_row: u64,
    /// Fuel for everything outside rows, for the whole call.
    pub(crate) batch_fuel: u64,
    pub(crate) phase: Phase,
    pub(crate) mode: Mode,
    /// Fuel granted at the start of the current run of rows.
    granted: u64,
    /// What is left of the batch budget while rows run.
    outside_left: u64,
    /// Highest fuel per row seen in a fast run (0: nothing seen yet).
    pub(crate) fuel_per_row_seen: u64,
}

/// Fuel for a guest's work outside rows (lifting its input, building its
/// output), which is linear in the batch: this much per row (a Python
/// guest's `events` export, whose values include text, was measured above
/// 20,000 a row by bisecting the batch size, so this leaves it room while
/// still bounding a guest that works outside its rows)...
const BATCH_FUEL_PER_ROW: u64 = 100_000;
/// ...and this much per value (a row's input and output columns): a row
/// computed on its own budget stores its output outside it, so the work
/// outside rows grows with the columns. The Python SDK was measured at
/// about 2,000 a value storing rows computed one at a time (a transform of
/// forty float outputs: 93,000 a row outside its rows in all), so without
/// this, a wide Python transform whose batch was re-run one row at a time
/// (to find a row over its budget) failed on the batch's budget instead...
const BATCH_FUEL_PER_VALUE: u64 = 10_000;
/// ...plus this much per call.
const BATCH_FUEL_BASE: u64 = 50_000_000;
/// Rows in the first fast run of a transform, before its cost is known.
const FIRST_RUN_ROWS: u64 = 256;

impl RowBudget {
    fn new(fuel_per_row: u64) -> Self {
        RowBudget {
            rows: 0,
            started: 0,
            fuel_per_row,
            batch_fuel: 0,
            phase: Phase::Outside,
            mode: Mode::Precise,
            granted: 0,
            outside_left: 0,
            fuel_per_row_seen: 0,
        }
    }

    /// Resets the budget for a call with `rows` rows and returns the fuel to
    /// start it with. A guest that reports rows gets the batch budget now
    /// and row budgets as it starts rows; one that does not gets
    /// everything at once.
    pub(crate) fn begin_call(
        &mut self,
        rows: u64,
        columns: u64,
        reports_rows: bool,
        mode: Mode,
        fuel_per_row_seen: u64,
    ) -> u64 {
        self.rows = rows;
        self.started = 0;
        self.phase = Phase::Outside;
        self.mode = if self.fuel_per_row <= ROW_MARGIN {
            Mode::Precise
        } else {
            mode
        };
        self.fuel_per_row_seen = fuel_per_row_seen;
        let per_row = BATCH_FUEL_PER_VALUE
            .saturating_mul(columns)
            .saturating_add(BATCH_FUEL_PER_ROW);
        self.batch_fuel = BATCH_FUEL_BASE.saturating_add(per_row.saturating_mul(rows));
        if reports_rows {
            self.batch_fuel
        } else {
            self.batch_fuel
                .saturating_add(self.fuel_per_row.saturating_mul(rows.max(1)))
        }
    }

    /// The guest starts row `row` with `remaining` fuel left of its batch
    /// budget: returns how many rows it may run and the fuel to run them on.
    fn start_rows(&mut self, row: u64, remaining: u64) -> wasmtime::Result<(u32, u64)> {
        if matches!(self.phase, Phase::Rows { .. }) {
            return Err(violation(format!(
                "it started row {row} before ending rows it had started"
            )));
        }
        if row != self.started || row >= self.rows {
            return Err(violation(format!(
                "it started row {row}, but the next row of its {}-row batch is {}",
                self.rows, self.started
            )));
        }
        self.outside_left = remaining;
        let left = self.rows - row;
        let (count, fuel) = match self.mode {
            Mode::Precise => (1, self.fuel_per_row),
            Mode::Fast => {
                let fuel = self.fuel_per_row - ROW_MARGIN;
                // Aim to use half of the run's budget; before the cost is
                // known, start with a short run.
                let count = (fuel / 2)
                    .checked_div(self.fuel_per_row_seen)
                    .map_or(FIRST_RUN_ROWS, |count| count.max(1));
                (count.min(left).min(u64::from(u32::MAX)), fuel)
            }
        };
        self.phase = Phase::Rows {
            start: row,
            end: row + count,
        };
        self.started = row + count;
        self.granted = fuel;
        Ok((count as u32, fuel))
    }

    /// The guest ended the rows it started, with `remaining` fuel left of
    /// their budget: returns the fuel left of the batch budget.
    fn end_rows(&mut self, remaining: u64) -> wasmtime::Result<u64> {
        let Phase::Rows { start, end } = self.phase else {
            return Err(violation("it ended rows it had not started".into()));
        };
        if self.mode == Mode::Fast {
            let used = self.granted.saturating_sub(remaining);
            let per_row = used.div_ceil((end - start).max(1));
            self.fuel_per_row_seen = self.fuel_per_row_seen.max(per_row).max(1);
        }
        self.phase = Phase::Outside;
        Ok(self.outside_left)
    }

    /// Whether every row was started and ended.
    pub(crate) fn all_rows_done(&self) -> bool {
        self.started == self.rows && self.phase == Phase::Outside
    }

    /// The row being computed when the call stopped, when it is known
    /// exactly (a run of one row).
    pub(crate) fn current_row(&self) -> Option<u64> {
        match self.phase {
            Phase::Rows { start, end } if end == start + 1 => Some(start),
            _ => None,
        }
    }

    /// Whether a failure now should be retried in precise mode: it happened
    /// inside a fast run, where neither the failing row nor (for fuel) the
    /// failure itself is certain.
    pub(crate) fn retry_precisely(&self) -> bool {
        matches!((self.mode, self.phase), (Mode::Fast, Phase::Rows { .. }))
    }

    /// After a fast run of rows ran out of fuel: a cost per row high
    /// enough that the next fast runs are a quarter as long.
    pub(crate) fn cost_after_fast_failure(&self) -> u64 {
        let rows = match self.phase {
            Phase::Rows { start, end } => (end - start).max(1),
            Phase::Outside => 1,
        };
        let fast = self.fuel_per_row.saturating_sub(ROW_MARGIN);
        self.fuel_per_row_seen
            .max(fast / rows)
            .max(1)
            .saturating_mul(2)
    }
}

fn violation(message: String) -> wasmtime::Error {
    wasmtime::Error::new(ContractViolation(message))
}

/// The guest broke the row protocol (e.g. started more rows than it has).
#[derive(Debug)]
pub(crate) struct ContractViolation(pub(crate) String);

impl std::fmt::Display for ContractViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ContractViolation {}

/// Memory and table caps of one instance.
#[derive(Debug)]
pub(crate) struct GuestLimits {
    pub(crate) memory_bytes: usize,
    pub(crate) table_elements: usize,
}

/// Instances a component may create (a Rust guest uses a handful of core
/// instances for itself and its WASI adapters; a Python one a few dozen).
pub(crate) const MAX_INSTANCES: usize = 64;
/// Tables per store.
pub(crate) const MAX_TABLES: usize = 64;
/// Linear memories per store.
pub(crate) const MAX_MEMORIES: usize = 16;
/// Entries a table may grow to.
pub(crate) const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// A guest tried to grow past a cap.
#[derive(Debug)]
pub(crate) struct GrowthRefused {
    pub(crate) what: &'static str,
    pub(crate) desired: usize,
    pub(crate) limit: usize,
}

impl std::fmt::Display for GrowthRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.what == "memory" {
            write!(
                f,
                "it tried to grow its memory to {}, over the limit of {}",
                crate::error::human_bytes(self.desired as u64),
                crate::error::human_bytes(self.limit as u64)
            )
        } else {
            write!(
                f,
                "it tried to grow a {} to {} entries, over the limit of {}",
                self.what, self.desired, self.limit
            )
        }
    }
}

impl std::error::Error for GrowthRefused {}

impl ResourceLimiter for GuestLimits {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            return Err(wasmtime::Error::new(GrowthRefused {
                what: "memory",
                desired,
                limit: self.memory_bytes,
            }));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            return Err(wasmtime::Error::new(GrowthRefused {
                what: "table",
                desired,
                limit: self.table_elements,
            }));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

/// A clock stopped at the Unix epoch (wall) and at zero (monotonic), with a
/// resolution of one second: time does not pass inside a transform.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }

    fn now(&self) -> u64 {
        0
    }
}

/// "Random" bytes that are all zero, whatever was asked before: a seeded
/// generator would hand a row different bytes depending on how many rows
/// came before it in the same instance.
struct ZeroRandom;

impl rand_core::TryRng for ZeroRandom {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(0)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(0)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        dst.fill(0);
        Ok(())
    }
}

/// The guest's stdout and stderr, interleaved, keeping the first `limit`
/// bytes of each call and counting the rest.
#[derive(Clone)]
pub(crate) struct CapturedOutput {
    inner: Arc<Mutex<Captured>>,
}

struct Captured {
    bytes: Vec<u8>,
    limit: usize,
    dropped: usize,
}

impl CapturedOutput {
    fn new(limit: usize) -> Self {
        CapturedOutput {
            inner: Arc::new(Mutex::new(Captured {
                bytes: Vec::new(),
                limit,
                dropped: 0,
            })),
        }
    }

    fn append(&self, bytes: &[u8]) {
        let mut captured = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let room = captured.limit.saturating_sub(captured.bytes.len());
        let kept = bytes.len().min(room);
        captured.bytes.extend_from_slice(&bytes[..kept]);
        captured.dropped += bytes.len() - kept;
    }

    /// What was written since the last call, as text, and clears it.
    pub(crate) fn take(&self) -> String {
        let mut captured = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = String::from_utf8_lossy(&captured.bytes).into_owned();
        if captured.dropped > 0 {
            text.push_str(&format!("... ({} more bytes not kept)", captured.dropped));
        }
        captured.bytes.clear();
        captured.dropped = 0;
        text
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always accept: what does not fit is counted, not refused, so a
        // chatty guest is never failed for printing.
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured_output_keeps_the_first_bytes_and_counts_the_rest() {
        let output = CapturedOutput::new(5);
        output.append(b"hello world");
        assert_eq!(output.take(), "hello... (6 more bytes not kept)");
        assert_eq!(output.take(), "");
    }

    #[test]
    fn batch_budget_grows_with_rows_and_includes_rows_without_row_reports() {
        let mut budget = RowBudget::new(1_000);
        let with_rows = budget.begin_call(10, 3, true, Mode::Fast, 0);
        assert_eq!(
            with_rows,
            BATCH_FUEL_BASE + 10 * (BATCH_FUEL_PER_ROW + 3 * BATCH_FUEL_PER_VALUE)
        );
        assert_eq!(
            budget.begin_call(10, 3, false, Mode::Fast, 0),
            with_rows + 10 * 1_000
        );
        assert_eq!(budget.current_row(), None);
    }

    #[test]
    fn precise_runs_are_one_row_on_the_full_budget() {
        let mut budget = RowBudget::new(1_000_000);
        let batch = budget.begin_call(3, 1, true, Mode::Precise, 0);
        assert_eq!(budget.start_rows(0, batch - 5).unwrap(), (1, 1_000_000));
        assert_eq!(budget.current_row(), Some(0));
        assert!(budget.start_rows(1, 0).is_err(), "row 0 was not ended");
        assert_eq!(
            budget.end_rows(123).unwrap(),
            batch - 5,
            "back on the batch budget"
        );
        assert_eq!(budget.start_rows(1, batch - 9).unwrap(), (1, 1_000_000));
        assert!(budget.end_rows(0).is_ok());
        assert!(budget.start_rows(1, 0).is_err(), "row 1 again");
        assert!(!budget.retry_precisely());
        assert!(!budget.all_rows_done());
    }

    #[test]
    fn fast_runs_size_themselves_from_the_cost_seen() {
        let mut budget = RowBudget::new(1_000_000);
        budget.begin_call(100_000, 1, true, Mode::Fast, 0);
        let fast = 1_000_000 - ROW_MARGIN;
        assert_eq!(budget.start_rows(0, 0).unwrap(), (256, fast));
        assert!(budget.retry_precisely());
        // The first run used 100 fuel per row: aim for half the budget.
        budget.end_rows(fast - 256 * 100).unwrap();
        assert_eq!(budget.fuel_per_row_seen, 100);
        let (count, _) = budget.start_rows(256, 0).unwrap();
        assert_eq!(u64::from(count), fast / 2 / 100);
    }

    #[test]
    fn tiny_budgets_are_always_precise() {
        let mut budget = RowBudget::new(ROW_MARGIN);
        budget.begin_call(10, 1, true, Mode::Fast, 0);
        assert_eq!(budget.mode, Mode::Precise);
    }
}
