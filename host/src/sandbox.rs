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
//! - the row budget: the `start-row` and `end-rows` imports restart the
//!   fuel budget, so CPU limits apply per row (see `wit/transform.wit`).

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

/// The interface name of the row-budget imports.
pub(crate) const HOST_INTERFACE: &str = "skewless:transform/host@0.1.0";

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
    let mut host = linker.instance(HOST_INTERFACE)?;
    host.func_wrap(
        "start-row",
        |mut store: StoreContextMut<'_, GuestState>, (): ()| {
            let budget = &mut store.data_mut().rows;
            if budget.started >= budget.rows {
                return Err(wasmtime::Error::new(ContractViolation(format!(
                    "it started row {} of a {}-row batch",
                    budget.started, budget.rows
                ))));
            }
            budget.phase = Phase::Row(budget.started);
            budget.started += 1;
            let fuel = budget.fuel_per_row;
            store.set_fuel(fuel)
        },
    )?;
    host.func_wrap(
        "end-rows",
        |mut store: StoreContextMut<'_, GuestState>, (): ()| {
            let budget = &mut store.data_mut().rows;
            budget.phase = Phase::Finishing;
            let fuel = budget.batch_fuel;
            store.set_fuel(fuel)
        },
    )?;
    Ok(())
}

/// Where a call is, for the fuel budget and for naming the row in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Before the first row: the guest is reading its input batch.
    Setup,
    /// Computing row `n` of the batch.
    Row(u64),
    /// After the last row: the guest is assembling its output batch.
    Finishing,
}

/// The fuel accounting of one call.
#[derive(Debug)]
pub(crate) struct RowBudget {
    /// Rows in the current batch.
    pub(crate) rows: u64,
    /// `start-row` calls so far in this call.
    pub(crate) started: u64,
    /// Fuel each row gets.
    pub(crate) fuel_per_row: u64,
    /// Fuel for reading the input and for assembling the output.
    pub(crate) batch_fuel: u64,
    pub(crate) phase: Phase,
}

/// Fuel for a guest's work outside rows (lifting its input, building its
/// output), which is linear in the batch: this much per row...
const BATCH_FUEL_PER_ROW: u64 = 20_000;
/// ...plus this much per call.
const BATCH_FUEL_BASE: u64 = 50_000_000;

impl RowBudget {
    fn new(fuel_per_row: u64) -> Self {
        RowBudget {
            rows: 0,
            started: 0,
            fuel_per_row,
            batch_fuel: 0,
            phase: Phase::Setup,
        }
    }

    /// Resets the budget for a call with `rows` rows and returns the fuel to
    /// start it with. A guest that reports row boundaries gets the batch
    /// budget now and `fuel_per_row` at each row; one that does not gets
    /// everything at once.
    pub(crate) fn begin_call(&mut self, rows: u64, reports_rows: bool) -> u64 {
        self.rows = rows;
        self.started = 0;
        self.phase = Phase::Setup;
        self.batch_fuel = BATCH_FUEL_BASE.saturating_add(BATCH_FUEL_PER_ROW.saturating_mul(rows));
        if reports_rows {
            self.batch_fuel
        } else {
            self.batch_fuel
                .saturating_add(self.fuel_per_row.saturating_mul(rows.max(1)))
        }
    }

    /// The row being computed when the call stopped, if it was in a row.
    pub(crate) fn current_row(&self) -> Option<u64> {
        match self.phase {
            Phase::Row(row) => Some(row),
            Phase::Setup | Phase::Finishing => None,
        }
    }
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
/// instances for itself and its WASI adapters).
const MAX_INSTANCES: usize = 64;
/// Tables per store.
const MAX_TABLES: usize = 64;
/// Linear memories per store.
const MAX_MEMORIES: usize = 16;

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
        let with_rows = budget.begin_call(10, true);
        assert_eq!(with_rows, BATCH_FUEL_BASE + 10 * BATCH_FUEL_PER_ROW);
        assert_eq!(budget.begin_call(10, false), with_rows + 10 * 1_000);
        assert_eq!(budget.current_row(), None);
    }
}
