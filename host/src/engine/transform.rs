//! A loaded transform: its identity, its declaration, and warm instances.
//!
//! [`Transform`] is the handle every path calls. It is `Send + Sync` and
//! cheap to clone. Every call starts from the component's initial state,
//! so no call can see what an earlier one did: on an instance an earlier
//! call used, put back in place when that call ended (wasmtime's
//! `Store::reset_to_initial_state`, the sixth change of `vendor/README.md`),
//! or on a new one made from the pre-resolved `InstancePre` (the
//! component's memory image mapped copy-on-write by the pooling
//! allocator). At most `Config::max_instances` calls run at once. With
//! `Config::reuse_instances`, calls keep their instances warm instead. An
//! instance that trapped is always dropped, never used again: its memory
//! may be in any state.
//!
//! A reset that is slow beside its call (a Python interpreter's after a
//! one-row call; see [`BACKGROUND_RESET_NANOS`]) is made on the runtime's
//! background thread (under `SCHED_IDLE` on Linux: see
//! `Core::in_background`), so the call returns without waiting for it; the
//! instance is kept for a later call only once it is back in its initial
//! state, and a call that finds none kept makes a new one. Which calls'
//! resets go there changes how soon a call returns, never what it
//! returns.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;
use sha2::{Digest, Sha256};
use wasmtime::component::{ComponentExportIndex, Func, InstancePre, TypedFunc};
use wasmtime::{InitialState, Store, Trap};

use super::bindings::{HOST_INTERFACES, v1, v2};
use super::config::Config;
use super::convert;
use super::core::{Core, deadline_ticks, keeps_instances};
use super::sandbox::{ContractViolation, GrowthRefused, GuestLimits, GuestState, Mode, Phase};
use crate::error::{Error, Limit, Result};
use crate::spec::{Provenance, TransformInfo};

/// A loaded transform component, ready to run batches.
///
/// ```no_run
/// use std::sync::Arc;
/// use arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
/// use skewless::{Config, Runtime};
///
/// let transform = Runtime::new(Config::default())?.load("fraud_features.wasm")?;
/// let input = RecordBatch::try_from_iter([
///     ("amount", Arc::new(Float64Array::from(vec![12.5])) as _),
///     ("hour", Arc::new(Int64Array::from(vec![3])) as _),
///     ("merchant_category", Arc::new(StringArray::from(vec!["travel"])) as _),
/// ]).unwrap();
/// let features = transform.call(&input)?;
/// assert_eq!(features.num_rows(), 1);
/// # Ok::<(), skewless::Error>(())
/// ```
#[derive(Clone)]
pub struct Transform {
    inner: Arc<TransformInner>,
}

struct TransformInner {
    core: Arc<Core>,
    pre: Pre,
    info: TransformInfo,
    sha256: String,
    source_name: String,
    input_schema: SchemaRef,
    output_schema: SchemaRef,
    /// The schema of the event values, when it declares aggregations.
    event_schema: SchemaRef,
    /// Whether the guest calls `start-rows`/`end-rows` (every SDK guest does).
    reports_rows: bool,
    /// Fuel per row seen in the last fast run of each export (0 before the
    /// first), to size the next ones. Per export: a transform's rows and
    /// its events' rows cost different amounts, and sizing one by the other
    /// made fast runs of the dearer one run out of fuel and be run again
    /// one row at a time, or not at all, depending on which ran last.
    fuel_per_row_seen: [AtomicU64; 2],
    idle: Mutex<Vec<Instance>>,
    /// States of ended instances, ready for new ones (see
    /// [`GuestState::recycle`]).
    spare_states: Mutex<Vec<GuestState>>,
    /// Why ended instances are not put back to their initial state and
    /// kept, if they are not (see [`Transform::resets_in_place`]).
    resets_in_place: Option<String>,
    /// Why the last reset of an ended instance failed, if it did (the
    /// instance was dropped instead).
    reset_failure: Mutex<Option<String>>,
    /// Whether `reset_failure` holds a reason (read without its lock).
    reset_failed: AtomicBool,
    /// How long the last timed reset of an ended instance took, and the
    /// last timed call (from its instance taken to its answer), in
    /// nanoseconds: they decide whether resets are made in the background
    /// ([`BACKGROUND_RESET_NANOS`]).
    last_reset_nanos: AtomicU64,
    last_call_nanos: AtomicU64,
    /// Whether a reset of one of this transform's instances is waiting for
    /// or running on the background thread (one at a time: past that, the
    /// calls' own threads do the work, as a saturated machine needs).
    resetting: AtomicBool,
    /// Counts, for tests: instances made, and resets made in the background.
    instances_made: AtomicU64,
    background_resets: AtomicU64,
    /// For tests: every reset that can be is made in the background.
    #[cfg(test)]
    always_in_background: AtomicBool,
    /// For tests: every reset in place fails (after resetting), as one that
    /// cannot restore a table or a handle would.
    #[cfg(test)]
    fail_resets: AtomicBool,
}

/// A call's instance is reset in the background when the transform's last
/// reset took at least this long (20 µs) and at least a quarter of the
/// time the call itself took ([`TransformInner::end_call`]).
///
/// Handing an instance to the background thread costs the call a wake-up
/// of that thread (a few microseconds); a one-row call of a Rust transform
/// resets in about 1.5 µs, so only larger resets are worth it. A Python
/// interpreter's reset (about 130 µs after a one-row call of 200 µs) is
/// where it pays. Beside a 65,536-row batch a reset is a few percent of
/// the call, and made on the call's own thread it leaves the pages the
/// next batch writes in that core's cache: made in the background, clean
/// `glucose-alerts` batches took 1.16x-1.17x the time of reused ones,
/// against 1.12x-1.13x (BENCHMARKS.md).
const BACKGROUND_RESET_NANOS: u64 = 20_000;

/// Whether a reset that takes `reset_nanos` after calls that take
/// `call_nanos` is made in the background ([`BACKGROUND_RESET_NANOS`]).
fn resets_in_background(reset_nanos: u64, call_nanos: u64) -> bool {
    reset_nanos >= BACKGROUND_RESET_NANOS && reset_nanos.saturating_mul(4) >= call_nanos
}

/// One call in this many, on each instance, is timed with its reset while
/// resets are quick (a clock read is about 20 ns here, beside a one-row
/// call's 1.5 µs reset); every call is while they are slow.
const TIMED_CALLS: u32 = 16;

/// A component resolved against the linker, with the contract it was
/// built for and where its exports are.
struct Pre {
    contract: Contract,
    instance: InstancePre<GuestState>,
    describe: ComponentExportIndex,
    transform: ComponentExportIndex,
    /// `events` (contract 0.2.0).
    events: Option<ComponentExportIndex>,
}

/// The contract a component was built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Contract {
    V1,
    V2,
}

/// An instance's exports. Their types are checked when the component
/// loads: by the generated bindings (`TransformPre::new`, against the
/// world), and on the instance `Transform::load` makes against the very
/// types the calls below use ([`Guest::check`]). Every instance of the
/// component has the same, so a call's instance takes its exports by index
/// without checking them again (the bindings' `instantiate` re-checked
/// them on every instance, about a microsecond a call, comparing the
/// contract's record and variant types field by field).
struct Guest {
    describe: Func,
    transform: Func,
    events: Option<Func>,
}

/// The exports' signatures, by contract.
mod signature {
    use super::{v1, v2};
    use v1::skewless::transform::types as t1;
    use v2::skewless::transform::types as t2;

    pub(super) type Describe1 = (t1::TransformInfo,);
    pub(super) type Batch1<'a> = (t1::BatchParam<'a>,);
    pub(super) type Answer1 = (Result<t1::BatchResult, t1::TransformError>,);
    pub(super) type Describe2 = (t2::TransformInfo,);
    pub(super) type Batch2<'a> = (t2::BatchParam<'a>,);
    pub(super) type Answer2 = (Result<t2::BatchResult, t2::TransformError>,);
}

impl Guest {
    /// The exports of a new `instance` of `pre`'s component.
    fn of(
        store: &mut Store<GuestState>,
        instance: &wasmtime::component::Instance,
        pre: &Pre,
    ) -> Option<Guest> {
        Some(Guest {
            describe: instance.get_func(&mut *store, pre.describe)?,
            transform: instance.get_func(&mut *store, pre.transform)?,
            events: match &pre.events {
                Some(events) => Some(instance.get_func(&mut *store, events)?),
                None => None,
            },
        })
    }

    /// Checks the exports' types against `contract`'s: what makes the
    /// unchecked calls below sound.
    fn check(&self, store: &Store<GuestState>, contract: Contract) -> wasmtime::Result<()> {
        use signature::*;
        match contract {
            Contract::V1 => {
                self.describe.typed::<(), Describe1>(store)?;
                self.transform.typed::<Batch1<'static>, Answer1>(store)?;
            }
            Contract::V2 => {
                self.describe.typed::<(), Describe2>(store)?;
                self.transform.typed::<Batch2<'static>, Answer2>(store)?;
                if let Some(events) = &self.events {
                    events.typed::<Batch2<'static>, Answer2>(store)?;
                }
            }
        }
        Ok(())
    }
}

/// Calls `func` as a function of `Params` to `Results`.
///
/// # Safety
///
/// `func`'s type must have been checked against `Params` and `Results`
/// ([`Guest::check`]).
unsafe fn call_unchecked<Params, Results>(
    store: &mut Store<GuestState>,
    func: Func,
    params: Params,
) -> wasmtime::Result<Results>
where
    Params: wasmtime::component::ComponentNamedList + wasmtime::component::Lower,
    Results: wasmtime::component::ComponentNamedList + wasmtime::component::Lift,
{
    // SAFETY: the caller checked the type.
    let typed = unsafe { TypedFunc::<Params, Results>::new_unchecked(func) };
    typed.call(store, params)
}

/// One instantiated guest in its own store.
struct Instance {
    store: Store<GuestState>,
    guest: Guest,
    /// What the store's instances are put back to when a call ends, when
    /// instances are kept between calls without `Config::reuse_instances`
    /// and the store holds nothing a reset could not put back; else why not.
    initial: std::result::Result<InitialState, String>,
    /// Calls made on it, to time one in [`TIMED_CALLS`] of them.
    calls: u32,
}

impl Instance {
    /// Its store's linear memories, as far as known (1 if not).
    fn memories(&self) -> usize {
        self.initial.as_ref().map_or(1, InitialState::memories)
    }
}

/// The size of a call's batch: its rows, and its input and output columns.
#[derive(Clone, Copy, Debug, Default)]
struct Shape {
    rows: u64,
    columns: u64,
}

/// Which export a call runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Export {
    /// `transform`: input rows to output rows.
    Transform,
    /// `events`: events to their values (contract 0.2.0).
    Events,
}

/// A guest's answer to a call, whatever its contract.
enum Answer {
    V1(Result<v1::skewless::transform::types::BatchResult, Refusal>),
    V2(Result<v2::skewless::transform::types::BatchResult, Refusal>),
}

/// A guest's refusal of a batch, whatever its contract.
enum Refusal {
    InvalidInput(String),
    Failed { row: u32, message: String },
}

impl From<v1::skewless::transform::types::TransformError> for Refusal {
    fn from(error: v1::skewless::transform::types::TransformError) -> Self {
        use v1::skewless::transform::types::TransformError as E;
        match error {
            E::InvalidInput(message) => Refusal::InvalidInput(message),
            E::Failed(failure) => Refusal::Failed {
                row: failure.row,
                message: failure.message,
            },
        }
    }
}

impl From<v2::skewless::transform::types::TransformError> for Refusal {
    fn from(error: v2::skewless::transform::types::TransformError) -> Self {
        use v2::skewless::transform::types::TransformError as E;
        match error {
            E::InvalidInput(message) => Refusal::InvalidInput(message),
            E::Failed(failure) => Refusal::Failed {
                row: failure.row,
                message: failure.message,
            },
        }
    }
}

impl fmt::Debug for Transform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transform")
            .field("name", &self.inner.info.name)
            .field("version", &self.inner.info.version)
            .field("sha256", &self.inner.sha256)
            .finish_non_exhaustive()
    }
}

/// What kind of file `bytes` is, from its WebAssembly header.
fn check_header(bytes: &[u8]) -> Result<(), String> {
    const MAGIC: &[u8] = b"\0asm";
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err("not a WebAssembly file (it does not start with `\\0asm`)".into());
    }
    match &bytes[4..8] {
        [0x0d, 0x00, 0x01, 0x00] => Ok(()),
        [0x01, 0x00, 0x00, 0x00] => Err(
            "it is a core WebAssembly module, not a component; build the transform with \
             `cargo build --target wasm32-wasip2` or `cargo component build`"
                .into(),
        ),
        other => Err(format!(
            "unsupported WebAssembly version/layer bytes {other:02x?} (expected a component)"
        )),
    }
}

/// Lowercase hex sha256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

impl Transform {
    pub(crate) fn load(core: Arc<Core>, bytes: &[u8], source_name: &str) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidComponent {
            source_name: source_name.to_string(),
            reason,
        };
        check_header(bytes).map_err(invalid)?;
        let sha256 = sha256_hex(bytes);
        let component = core
            .compile(bytes, &sha256)
            .map_err(|e| invalid(format!("it does not compile: {e:#}")))?;
        let imports: Vec<String> = component
            .component_type()
            .imports(&core.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        let reports_rows = imports
            .iter()
            .any(|name| HOST_INTERFACES.contains(&name.as_str()));
        let instance_pre = core.linker.instantiate_pre(&component).map_err(|e| {
            invalid(format!(
                "it needs an import skewless does not provide (a transform may only use WASI \
                 and the skewless host interface; was it built for another world?): {e}"
            ))
        })?;
        // The contract it was built for: the version of the host interface
        // it imports, else whichever world its exports match.
        let built_for_v1 = imports.iter().any(|name| name == HOST_INTERFACES[0]);
        // (The generated bindings check that the world's exports are there,
        // with its types.)
        let contract = if built_for_v1 {
            v1::TransformPre::new(instance_pre.clone()).map(|_| Contract::V1)
        } else {
            match v2::TransformPre::new(instance_pre.clone()) {
                Ok(_) => Ok(Contract::V2),
                Err(v2_error) => v1::TransformPre::new(instance_pre.clone())
                    .map(|_| Contract::V1)
                    .map_err(|_| v2_error),
            }
        }
        .map_err(|e| {
            invalid(format!(
                "it does not export the `skewless:transform` world of version 0.2.0 or 0.1.0 \
                 (`describe`, `transform`, and in 0.2.0 `events`); was it built against \
                 another contract? ({e})"
            ))
        })?;
        let export = |name: &str| component.get_export_index(None, name);
        let pre = Pre {
            contract,
            describe: export("describe").expect("the bindings found `describe`"),
            transform: export("transform").expect("the bindings found `transform`"),
            events: match contract {
                Contract::V1 => None,
                Contract::V2 => Some(export("events").expect("the bindings found `events`")),
            },
            instance: instance_pre,
        };
        // Until `describe` answers, errors name the transform by its file.
        let file_name = std::path::Path::new(source_name).file_name().map_or_else(
            || source_name.to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let placeholder = TransformInfo {
            name: file_name,
            version: String::new(),
            description: String::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            aggregation: None,
        };
        let mut transform = TransformInner {
            core: core.clone(),
            pre,
            input_schema: placeholder.input_schema(),
            output_schema: placeholder.output_schema(),
            event_schema: placeholder.output_schema(),
            info: placeholder,
            sha256,
            source_name: source_name.to_string(),
            reports_rows,
            fuel_per_row_seen: [AtomicU64::new(0), AtomicU64::new(0)],
            idle: Mutex::new(Vec::new()),
            spare_states: Mutex::new(Vec::new()),
            resets_in_place: None,
            reset_failure: Mutex::new(None),
            reset_failed: AtomicBool::new(false),
            last_reset_nanos: AtomicU64::new(0),
            last_call_nanos: AtomicU64::new(0),
            resetting: AtomicBool::new(false),
            instances_made: AtomicU64::new(0),
            background_resets: AtomicU64::new(0),
            #[cfg(test)]
            always_in_background: AtomicBool::new(false),
            #[cfg(test)]
            fail_resets: AtomicBool::new(false),
        };
        // Loading runs the guest (its instantiation, `describe`): the
        // deadline's clock must run in this process too.
        core.keep_time()?;
        let slot = core.slots.take();
        let mut instance = transform
            .instantiate()
            .map_err(|e| invalid(format!("it cannot be instantiated: {e}")))?;
        instance
            .guest
            .check(&instance.store, transform.pre.contract)
            .map_err(|e| {
                invalid(format!(
                    "its exports do not have the types of the `skewless:transform` contract it \
                     names; was it built against another version of it? ({e})"
                ))
            })?;
        transform.prepare_call(
            &mut instance,
            Export::Transform,
            Shape::default(),
            Mode::Precise,
        );
        transform.resets_in_place = instance.initial.as_ref().err().cloned();
        let Instance { store, guest, .. } = &mut instance;
        // SAFETY: the types were checked just above.
        let described = unsafe {
            match transform.pre.contract {
                Contract::V1 => {
                    call_unchecked::<(), signature::Describe1>(store, guest.describe, ())
                        .map(|(info,)| info.into())
                }
                Contract::V2 => {
                    call_unchecked::<(), signature::Describe2>(store, guest.describe, ())
                        .map(|(info,)| info.into())
                }
            }
        };
        let info: TransformInfo = match described {
            Ok(info) => info,
            Err(trap) => {
                let error = transform.classify(trap, &mut instance);
                return Err(invalid(format!("its `describe` failed: {error}")));
            }
        };
        info.validate()
            .map_err(|reason| invalid(format!("its `describe` is invalid: {reason}")))?;
        transform.input_schema = info.input_schema();
        transform.output_schema = info.output_schema();
        transform.event_schema = info.event_schema();
        transform.info = info;
        transform.checkin(instance);
        drop(slot);
        Ok(Transform {
            inner: Arc::new(transform),
        })
    }

    /// Whether a call's instance is one an earlier call used, put back in
    /// place to the component's initial state when that call ended (the
    /// default), rather than a new one made for each call. Either way each
    /// call starts from that state; the reset costs about half as much. A
    /// new instance is made for every call with `Config::fresh_instances`
    /// or `Config::reuse_instances` (which keeps instances warm instead),
    /// or when the component holds, once instantiated, state the reset
    /// could not put back (a resource handle, for one), which none built
    /// by skewless's SDKs does; and a call whose instance cannot be put
    /// back when it ends (its guest kept a handle) leaves it to be dropped.
    /// The error says which, of the load and of the last call that ended
    /// with room in the pool to keep its instance (one without room is not
    /// reset in place; waiting, for at most a few seconds, for a reset the
    /// call left to the background).
    pub fn resets_in_place(&self) -> std::result::Result<(), String> {
        self.inner.wait_for_background_reset(Duration::from_secs(5));
        if let Some(why) = &self.inner.resets_in_place {
            return Err(why.clone());
        }
        let failure = self
            .inner
            .reset_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match &*failure {
            None => Ok(()),
            Some(why) => Err(format!("the last call's instance was dropped: {why}")),
        }
    }

    /// What the transform declares: name, version, description, schemas.
    pub fn info(&self) -> &TransformInfo {
        &self.inner.info
    }

    /// The transform's name.
    pub fn name(&self) -> &str {
        &self.inner.info.name
    }

    /// The transform's version.
    pub fn version(&self) -> &str {
        &self.inner.info.version
    }

    /// sha256 of the component file, lowercase hex: the transform's identity.
    pub fn sha256(&self) -> &str {
        &self.inner.sha256
    }

    /// The transform as `skewless inspect --json` and the server's
    /// `GET /v1/transforms` describe it: name, version, sha256,
    /// description, `inputs` (the row function's, aggregates included),
    /// `spine_inputs` (what a spine row or a request gives: with
    /// aggregations, the key and the time, then the row function's own),
    /// `outputs` and `aggregation` (null without).
    pub fn describe_json(&self) -> serde_json::Value {
        let info = self.info();
        serde_json::json!({
            "name": info.name,
            "version": info.version,
            "sha256": self.sha256(),
            "description": info.description,
            "inputs": info.inputs,
            "spine_inputs": info.spine_inputs(),
            "outputs": info.outputs,
            "aggregation": info.aggregation,
        })
    }

    /// The file path (or name) the component was loaded from.
    pub fn source_name(&self) -> &str {
        &self.inner.source_name
    }

    /// The Arrow schema of the declared inputs.
    pub fn input_schema(&self) -> &SchemaRef {
        &self.inner.input_schema
    }

    /// The Arrow schema of the declared outputs (what [`Transform::call`] returns).
    pub fn output_schema(&self) -> &SchemaRef {
        &self.inner.output_schema
    }

    /// Name, version, sha256 and spec, as recorded in backfill outputs.
    pub fn provenance(&self) -> Provenance {
        Provenance {
            name: self.inner.info.name.clone(),
            version: self.inner.info.version.clone(),
            sha256: self.inner.sha256.clone(),
            spec: self.inner.info.clone(),
        }
    }

    /// The configuration of the runtime the transform was loaded by.
    pub fn config(&self) -> &Config {
        &self.inner.core.config
    }

    /// Checks that the component is the one pinned by `sha256` (hex, any
    /// case): [`Error::PinMismatch`] otherwise.
    pub fn expect_sha256(&self, sha256: &str) -> Result<()> {
        let expected = sha256.trim();
        if self.sha256().eq_ignore_ascii_case(expected) {
            return Ok(());
        }
        Err(Error::PinMismatch {
            transform: self.name().to_string(),
            source_name: self.source_name().to_string(),
            actual: self.sha256().to_string(),
            expected: expected.to_ascii_lowercase(),
        })
    }

    /// Computes the output rows of `batch`: one output row per input row, in
    /// order, with the declared output schema.
    ///
    /// Input columns are matched by name (other columns are ignored) and
    /// must have the declared types, up to exact widening. Rows in errors
    /// count from 0 within `batch`.
    pub fn call(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let arrays = self.prepare(batch)?;
        self.inner
            .call_prepared(Export::Transform, &arrays, batch.num_rows())
    }

    /// Computes each event's values (the declared event values) from the
    /// events in `batch` (its event input columns, by name), as
    /// [`Transform::call`] computes output rows; only for a transform that
    /// declares aggregations.
    pub fn call_events(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let Some(aggregation) = &self.inner.info.aggregation else {
            return Err(Error::BadRequest(format!(
                "transform `{}` declares no aggregations, so it takes no events",
                self.name()
            )));
        };
        let arrays = convert::prepare_columns(
            self.name(),
            &aggregation.event_inputs,
            batch,
            self.inner.core.config.naive_timestamps,
        )?;
        self.inner
            .call_prepared(Export::Events, &arrays, batch.num_rows())
    }

    /// The Arrow schema of the event values (what
    /// [`Transform::call_events`] returns); empty without aggregations.
    pub fn event_schema(&self) -> &SchemaRef {
        &self.inner.event_schema
    }

    /// Like [`Transform::call`], but a row the transform rejects (its code
    /// returns an error, panics or exceeds its CPU budget at that row, or
    /// its input value cannot be taken) is set aside instead of failing the
    /// call: the other rows are computed, and the rejected ones come back
    /// with their errors. An error that is not about one row (a column of
    /// the wrong type, an invalid output) still fails the call.
    ///
    /// A rejection costs a second call for the rows before it (a
    /// transform's call stops at its first failing row), so this is for
    /// the occasional bad row, not for a file of them.
    pub fn call_rejecting(&self, batch: &RecordBatch) -> Result<Rejecting> {
        let rows = batch.num_rows();
        let mut outputs = Vec::new();
        let mut rejected = Vec::new();
        let mut start = 0;
        while start < rows {
            let rest = batch.slice(start, rows - start);
            match self.call(&rest) {
                Ok(output) => {
                    outputs.push(output);
                    break;
                }
                Err(error) => {
                    let Some(row) = error.row().filter(|_| error.is_row_rejection()) else {
                        return Err(error.offset_rows(start as u64));
                    };
                    let row = row as usize;
                    if row > 0 {
                        let before = self
                            .call(&batch.slice(start, row))
                            .map_err(|e| e.offset_rows(start as u64))?;
                        outputs.push(before);
                    }
                    rejected.push(error.offset_rows(start as u64));
                    start += row + 1;
                }
            }
        }
        let output = arrow::compute::concat_batches(self.output_schema(), &outputs)
            .map_err(|e| Error::Runtime(format!("cannot assemble the output rows: {e}")))?;
        Ok(Rejecting { output, rejected })
    }

    /// `batch`'s input columns as the transform receives them: the
    /// declared types, in declared order (what [`Transform::call`] does
    /// first; `verify` uses it to send exactly those values online).
    pub fn prepare_input(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let arrays = self.prepare(batch)?;
        let options =
            arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        RecordBatch::try_new_with_options(self.inner.input_schema.clone(), arrays, &options)
            .map_err(|e| Error::Runtime(format!("cannot assemble the input batch: {e}")))
    }

    fn prepare(&self, batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
        let naive = self.inner.core.config.naive_timestamps;
        convert::prepare_input(&self.inner.info, batch, naive)
    }
}

/// The outcome of [`Transform::call_rejecting`].
#[derive(Debug)]
pub struct Rejecting {
    /// The output rows of the rows that were not rejected, in input order.
    pub output: RecordBatch,
    /// The rejected rows' errors, in row order; [`Error::row`] is the row.
    pub rejected: Vec<Error>,
}

impl Rejecting {
    /// The output for every input row, rejected rows null (`rows` input
    /// rows); `None` when an output column is not nullable.
    pub fn with_nulls(&self, schema: &SchemaRef, rows: usize) -> Result<RecordBatch> {
        let mut next = 0_u32;
        let mut rejected = self.rejected.iter().filter_map(Error::row).peekable();
        let indices: arrow::array::UInt32Array = (0..rows as u64)
            .map(|row| {
                if rejected.peek() == Some(&row) {
                    rejected.next();
                    None
                } else {
                    next += 1;
                    Some(next - 1)
                }
            })
            .collect();
        let columns = self
            .output
            .columns()
            .iter()
            .map(|column| arrow::compute::take(column, &indices, None))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::Runtime(format!("cannot place the rejected rows: {e}")))?;
        RecordBatch::try_new(schema.clone(), columns)
            .map_err(|e| Error::Runtime(format!("cannot place the rejected rows: {e}")))
    }
}

impl Drop for TransformInner {
    fn drop(&mut self) {
        for instance in self
            .idle
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            self.core.forget_idle(instance.memories());
        }
    }
}

impl TransformInner {
    fn instantiate(&self) -> Result<Instance> {
        let config = &self.core.config;
        let spare = self
            .spare_states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop();
        let state = spare.unwrap_or_else(|| {
            let limits = GuestLimits {
                memory_bytes: config.memory_limit,
                table_elements: super::sandbox::MAX_TABLE_ELEMENTS,
            };
            GuestState::new(limits, config.fuel_per_row, config.output_capture_bytes)
        });
        self.instances_made.fetch_add(1, Ordering::Relaxed);
        let mut store = Store::new(&self.core.engine, state);
        store.limiter(|state| &mut state.limits);
        let mut instance_store = store;
        let fuel = instance_store
            .data_mut()
            .rows
            .begin_call(0, 0, true, Mode::Precise, 0);
        set_fuel(&mut instance_store, fuel);
        self.set_deadline(&mut instance_store);
        let guest = self
            .pre
            .instance
            .instantiate(&mut instance_store)
            .and_then(|instance| {
                Guest::of(&mut instance_store, &instance, &self.pre).ok_or_else(|| {
                    wasmtime::format_err!("an instance lacks an export its component has")
                })
            });
        match guest {
            Ok(guest) => {
                let initial = if config.reuse_instances {
                    Err("they are kept warm instead (`reuse_instances`)".to_string())
                } else if !keeps_instances(config) {
                    Err("a new one is made for every call (`fresh_instances`)".to_string())
                } else {
                    instance_store
                        .record_initial_state()
                        .map_err(|e| format!("a new one is made for every call, as {e}"))
                };
                Ok(Instance {
                    store: instance_store,
                    guest,
                    initial,
                    calls: 0,
                })
            }
            Err(error) => {
                let output = instance_store.data().output.take();
                Err(self.classify_error(error, None, output))
            }
        }
    }

    fn set_deadline(&self, store: &mut Store<GuestState>) {
        match self.core.config.deadline {
            Some(deadline) => store.set_epoch_deadline(deadline_ticks(deadline)),
            // Epoch interruption is on for the engine; without a deadline the
            // store gets one that is never reached.
            None => store.set_epoch_deadline(u64::MAX / 4),
        }
    }

    /// Resets fuel, deadline and output limits of `instance` for a call of
    /// `export` on a batch of `shape`, budgeted in `mode`.
    fn prepare_call(&self, instance: &mut Instance, export: Export, shape: Shape, mode: Mode) {
        let store = &mut instance.store;
        let seen = self.fuel_per_row_seen[export as usize].load(Ordering::Relaxed);
        let Shape { rows, columns } = shape;
        let fuel = store
            .data_mut()
            .rows
            .begin_call(rows, columns, self.reports_rows, mode, seen);
        set_fuel(store, fuel);
        self.set_deadline(store);
        store.set_hostcall_fuel(self.core.config.max_output_bytes);
    }

    /// An instance for a call, in the component's initial state (one an
    /// earlier call used, put back in place, or a new one), or with
    /// `Config::reuse_instances` a warm one if any.
    fn checkout(&self) -> Result<Instance> {
        let kept = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if let Some(instance) = kept {
            self.core.forget_idle(instance.memories());
            return Ok(instance);
        }
        self.instantiate()
    }

    /// Waits, for at most `limit`, until no reset of this transform's
    /// instances is left to the background; whether none is. It sleeps
    /// between looks (rather than yielding), so that the background
    /// thread, which gets little of a core another thread wants, runs.
    fn wait_for_background_reset(&self, limit: Duration) -> bool {
        let waiting = Instant::now();
        while self.resetting.load(Ordering::Acquire) {
            if waiting.elapsed() >= limit {
                return false;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        true
    }

    /// Whether the next call on `instance` is timed, with its reset.
    fn times(&self, instance: &mut Instance) -> bool {
        instance.calls = instance.calls.wrapping_add(1);
        instance.calls % TIMED_CALLS == 1
            || self.last_reset_nanos.load(Ordering::Relaxed) >= BACKGROUND_RESET_NANOS
    }

    /// The end of a call that did not trap (`started` when it was timed),
    /// as [`TransformInner::checkin`], except that when this transform's
    /// resets are slow beside its calls (see [`BACKGROUND_RESET_NANOS`])
    /// the instance is reset and kept on the runtime's background thread,
    /// and this returns at once. Room to keep it is taken first, so the
    /// pool never holds more instances than when resets are made here.
    fn end_call(self: &Arc<Self>, instance: Instance, started: Option<Instant>) {
        let call_nanos = match started {
            Some(started) => {
                let nanos = nanos_since(started);
                self.last_call_nanos.store(nanos, Ordering::Relaxed);
                nanos
            }
            None => self.last_call_nanos.load(Ordering::Relaxed),
        };
        let reset_nanos = self.last_reset_nanos.load(Ordering::Relaxed);
        #[cfg(test)]
        let (reset_nanos, call_nanos) = match self.always_in_background.load(Ordering::Relaxed) {
            true => (u64::MAX, 0),
            false => (reset_nanos, call_nanos),
        };
        let slow = instance.initial.is_ok()
            && !self.core.config.reuse_instances
            && resets_in_background(reset_nanos, call_nanos);
        if !slow || self.resetting.swap(true, Ordering::AcqRel) {
            self.put_back(instance, false, started.is_some());
            return;
        }
        if !self.core.keep_idle(instance.memories()) {
            self.resetting.store(false, Ordering::Release);
            self.put_back(instance, false, started.is_some());
            return;
        }
        let pending = PendingReset {
            memories: instance.memories(),
            inner: Arc::clone(self),
            instance: Some(instance),
            kept: false,
        };
        let job = Box::new(move || pending.run());
        if let Err(job) = self.core.in_background(job) {
            job();
        }
    }

    /// The end of a call that did not trap. By default the instance is put
    /// back to the component's initial state and kept for the next call;
    /// with `Config::reuse_instances` it is kept warm as it is. An instance
    /// that cannot be put back, or that there is no room to keep, ends here
    /// (its memory and tables are reset for the pool's next instance) and
    /// its host-side state goes to `spare_states`.
    fn checkin(&self, instance: Instance) {
        self.put_back(instance, false, true);
    }

    /// [`TransformInner::checkin`], with the room to keep `instance` taken
    /// already if `room_taken` (then the caller gives it back if the
    /// instance is not kept), and the reset timed if `timed`. Whether the
    /// instance was kept.
    ///
    /// Whether there is room to keep the instance is decided before it is
    /// reset: one there is no room to keep is reset once, by the pool when
    /// it is dropped, not first in place and then again with no call
    /// between (which the pool's rule for giving a slot's pages back would
    /// take for what a call wrote: the fourth change of
    /// `vendor/README.md`). No room is taken for an instance that cannot be
    /// put back (its initial state was not recorded).
    fn put_back(&self, mut instance: Instance, room_taken: bool, timed: bool) -> bool {
        let config = &self.core.config;
        let keepable = config.reuse_instances || instance.initial.is_ok();
        let took_room = !room_taken && keepable && self.core.keep_idle(instance.memories());
        let ready = (room_taken || took_room)
            && if config.reuse_instances {
                true
            } else if let Ok(initial) = &instance.initial {
                // Whatever the reset fails on (a handle the guest still
                // holds, say), a new instance for the next call is always
                // right.
                let started = timed.then(Instant::now);
                let reset = instance.store.reset_to_initial_state(initial);
                #[cfg(test)]
                let reset = match self.fail_resets.load(Ordering::Relaxed) {
                    true => reset.and(Err(wasmtime::Error::msg("a reset made to fail by a test"))),
                    false => reset,
                };
                if let Some(started) = started {
                    self.last_reset_nanos
                        .store(nanos_since(started), Ordering::Relaxed);
                }
                match reset {
                    Ok(()) => {
                        if self.reset_failed.load(Ordering::Relaxed) {
                            self.note_reset_failure(None);
                        }
                        instance.store.data_mut().reset(config.fuel_per_row);
                        true
                    }
                    Err(why) => {
                        self.note_reset_failure(Some(why.to_string()));
                        false
                    }
                }
            } else {
                false
            };
        if ready {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            // One more than the calls that may run at once: the call after
            // one whose instance is reset in the background does not wait
            // for it, and may have made a new instance.
            if idle.len() <= config.max_instances {
                idle.push(instance);
                return true;
            }
        }
        if took_room {
            self.core.forget_idle(instance.memories());
        }
        let state = instance.store.into_data().recycle(config.fuel_per_row);
        let mut spare = self.spare_states.lock().unwrap_or_else(|e| e.into_inner());
        if spare.len() < config.max_instances {
            spare.push(state);
        }
        false
    }

    /// Keeps why the last reset failed (`None`: it did not).
    fn note_reset_failure(&self, why: Option<String>) {
        let mut failure = self.reset_failure.lock().unwrap_or_else(|e| e.into_inner());
        self.reset_failed.store(why.is_some(), Ordering::Relaxed);
        *failure = why;
    }

    fn call_prepared(
        self: &Arc<Self>,
        export: Export,
        arrays: &[ArrayRef],
        rows: usize,
    ) -> Result<RecordBatch> {
        if u32::try_from(rows).is_err() {
            return Err(Error::BadRequest(format!(
                "a batch has at most {} rows, this one has {rows}",
                u32::MAX
            )));
        }
        let input = match self.pre.contract {
            Contract::V1 => Input::V1(convert::WitInputV1::new(arrays, rows)),
            Contract::V2 => Input::V2(convert::WitInputV2::new(arrays, rows)),
        };
        // A deadline needs its clock thread in this process.
        self.core.keep_time()?;
        // Held while this call runs: at most `max_instances` at once.
        let _slot = self.core.slots.take();
        let mut instance = self.checkout()?;
        let started = self.times(&mut instance).then(Instant::now);
        let output = match export {
            Export::Transform => &self.output_schema,
            Export::Events => &self.event_schema,
        };
        let shape = Shape {
            rows: rows as u64,
            columns: (arrays.len() + output.fields().len()) as u64,
        };
        self.prepare_call(&mut instance, export, shape, Mode::Fast);
        let mut result = run(&mut instance, export, &input);
        if let Err(trap) = &result {
            let budget = &instance.store.data().rows;
            let interrupted = matches!(trap.downcast_ref::<Trap>(), Some(Trap::Interrupt));
            if budget.retry_precisely() && !interrupted {
                // The fast run failed somewhere in a run of rows: the exact
                // per-row outcome (which row, and whether it really is over
                // its own budget) comes from running precisely, on a fresh
                // instance.
                if matches!(trap.downcast_ref::<Trap>(), Some(Trap::OutOfFuel)) {
                    self.fuel_per_row_seen[export as usize]
                        .fetch_max(budget.cost_after_fast_failure(), Ordering::Relaxed);
                }
                drop(instance);
                instance = self.checkout()?;
                self.prepare_call(&mut instance, export, shape, Mode::Precise);
                result = run(&mut instance, export, &input);
            }
        }
        match result {
            Ok(answer) => {
                // Whatever the guest printed is only kept for errors.
                let state = instance.store.data();
                let output = state.output.take();
                let rows_done = state.rows.all_rows_done();
                if state.rows.mode == Mode::Fast && state.rows.fuel_per_row_seen > 0 {
                    self.fuel_per_row_seen[export as usize]
                        .store(state.rows.fuel_per_row_seen, Ordering::Relaxed);
                }
                self.end_call(instance, started);
                self.answer(export, answer, rows, rows_done, output)
            }
            Err(trap) => Err(self.classify(trap, &mut instance)),
        }
    }

    fn answer(
        &self,
        export: Export,
        answer: Answer,
        rows: usize,
        rows_done: bool,
        output: String,
    ) -> Result<RecordBatch> {
        let refusal = match answer {
            Answer::V1(Ok(_)) | Answer::V2(Ok(_))
                if self.reports_rows && rows > 0 && !rows_done =>
            {
                return Err(Error::InvalidOutput {
                    transform: self.info.name.clone(),
                    reason: format!(
                        "it returned without starting and ending each of its {rows} rows"
                    ),
                });
            }
            Answer::V1(Ok(batch)) => {
                return convert::from_wit_v1(&self.info, &self.output_schema, rows, batch);
            }
            Answer::V2(Ok(batch)) => {
                let (fields, schema) = match export {
                    Export::Transform => (&self.info.outputs[..], &self.output_schema),
                    Export::Events => (
                        self.info
                            .aggregation
                            .as_ref()
                            .map_or(&[][..], |a| &a.event_values[..]),
                        &self.event_schema,
                    ),
                };
                return convert::from_wit_v2(&self.info, fields, schema, rows, batch);
            }
            Answer::V1(Err(refusal)) | Answer::V2(Err(refusal)) => refusal,
        };
        match refusal {
            Refusal::Failed { row, message } => Err(Error::RowFailed {
                transform: self.info.name.clone(),
                row: Some(u64::from(row)),
                message: with_output(message, &output),
            }),
            Refusal::InvalidInput(message) => Err(Error::BadRequest(format!(
                "transform `{}` refused its input: {}",
                self.info.name,
                with_output(message, &output)
            ))),
        }
    }

    /// Turns a trap into an error and discards the instance it happened in.
    fn classify(&self, trap: wasmtime::Error, instance: &mut Instance) -> Error {
        let output = instance.store.data().output.take();
        let row = instance.store.data().rows.current_row();
        let outside_rows = self.reports_rows && instance.store.data().rows.phase == Phase::Outside;
        let batch_fuel = instance.store.data().rows.batch_fuel;
        let mut error = self.classify_error(trap, row, output);
        if let Error::LimitExceeded {
            limit: Limit::Fuel,
            detail,
            ..
        } = &mut error
            && outside_rows
        {
            *detail = format!(
                "it used more than the {batch_fuel} fuel a batch of this size gets outside its rows \
                 (reading its input, building its output); that budget is fixed, so work belongs \
                 in the row function"
            );
        }
        error
    }

    fn classify_error(&self, trap: wasmtime::Error, row: Option<u64>, output: String) -> Error {
        let config = &self.core.config;
        let transform = self.info.name.clone();
        if let Some(refused) = trap.downcast_ref::<GrowthRefused>() {
            let (limit, how) = if refused.what == "memory" {
                (Limit::Memory, "raise `memory_limit`")
            } else {
                (Limit::Resources, "this limit is fixed")
            };
            return Error::LimitExceeded {
                transform,
                limit,
                row,
                detail: format!("{refused}; {how}"),
                output,
            };
        }
        if let Some(violation) = trap.downcast_ref::<ContractViolation>() {
            return Error::InvalidOutput {
                transform,
                reason: violation.to_string(),
            };
        }
        match trap.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => Error::LimitExceeded {
                transform,
                limit: Limit::Fuel,
                row,
                detail: format!(
                    "the row needed more than {} fuel; raise `fuel_per_row`",
                    config.fuel_per_row
                ),
                output,
            },
            Some(Trap::Interrupt) => Error::LimitExceeded {
                transform,
                limit: Limit::Deadline,
                row,
                detail: format!(
                    "the call ran longer than {} ms; raise `deadline`",
                    config.deadline.map(|d| d.as_millis()).unwrap_or_default()
                ),
                output,
            },
            Some(Trap::StackOverflow) => Error::Trap {
                transform,
                row,
                message: "stack overflow (too deep a recursion)".into(),
                output,
            },
            Some(Trap::UnreachableCodeReached) => Error::Trap {
                transform,
                row,
                message: "it panicked or aborted".into(),
                output,
            },
            Some(other) => Error::Trap {
                transform,
                row,
                message: other.to_string(),
                output,
            },
            None => {
                let message = format!("{trap}");
                if message.contains("too much data is being copied") {
                    Error::LimitExceeded {
                        transform,
                        limit: Limit::OutputSize,
                        row: None,
                        detail: format!(
                            "it returned more than {} bytes; raise `max_output_bytes`",
                            config.max_output_bytes
                        ),
                        output,
                    }
                } else {
                    Error::Trap {
                        transform,
                        row,
                        message,
                        output,
                    }
                }
            }
        }
    }
}

/// A call's input in the layout of the component's contract.
enum Input<'a> {
    V1(convert::WitInputV1<'a>),
    V2(convert::WitInputV2<'a>),
}

/// Runs `export` of `instance` on `input` (whose layout matches its
/// contract: both follow the component's).
fn run(instance: &mut Instance, export: Export, input: &Input<'_>) -> wasmtime::Result<Answer> {
    let Instance { store, guest, .. } = instance;
    let func = match export {
        Export::Transform => guest.transform,
        Export::Events => guest
            .events
            .expect("only 0.2.0 components are asked for events"),
    };
    // SAFETY: `Transform::load` checked the exports' types against the
    // contract the input's layout follows (`Guest::check`).
    unsafe {
        match input {
            Input::V1(input) => {
                let columns = input.columns();
                call_unchecked::<signature::Batch1<'_>, signature::Answer1>(
                    store,
                    func,
                    (input.batch(&columns),),
                )
                .map(|(answer,)| Answer::V1(answer.map_err(Into::into)))
            }
            Input::V2(input) => {
                let columns = input.columns();
                call_unchecked::<signature::Batch2<'_>, signature::Answer2>(
                    store,
                    func,
                    (input.batch(&columns),),
                )
                .map(|(answer,)| Answer::V2(answer.map_err(Into::into)))
            }
        }
    }
}

fn set_fuel(store: &mut Store<GuestState>, fuel: u64) {
    store
        .set_fuel(fuel)
        .expect("fuel is enabled in the engine configuration");
}

fn with_output(message: String, output: &str) -> String {
    let output = crate::error::one_line(output);
    if output.is_empty() {
        message
    } else {
        format!("{message} (the transform printed: {output})")
    }
}

/// An ended instance to be reset and kept on the runtime's background
/// thread, with the room to keep it taken. However it ends (reset and kept,
/// not kept, a panic, or dropped without running, say by a forked child
/// process's missing thread), the room is given back unless the instance
/// was kept, and the transform may send its next reset to the background.
struct PendingReset {
    inner: Arc<TransformInner>,
    instance: Option<Instance>,
    memories: usize,
    kept: bool,
}

impl PendingReset {
    fn run(mut self) {
        if let Some(instance) = self.instance.take() {
            self.inner.background_resets.fetch_add(1, Ordering::Relaxed);
            self.kept = self.inner.put_back(instance, true, true);
        }
    }
}

impl Drop for PendingReset {
    fn drop(&mut self) {
        if !self.kept {
            self.inner.core.forget_idle(self.memories);
        }
        self.inner.resetting.store(false, Ordering::Release);
    }
}

/// Nanoseconds since `start`.
fn nanos_since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_say_what_the_file_is() {
        assert_eq!(check_header(b"\0asm\x0d\x00\x01\x00rest"), Ok(()));
        assert!(
            check_header(b"\0asm\x01\x00\x00\x00")
                .unwrap_err()
                .contains("core WebAssembly module")
        );
        assert!(
            check_header(b"PAR1....")
                .unwrap_err()
                .contains("not a WebAssembly file")
        );
        assert!(
            check_header(b"")
                .unwrap_err()
                .contains("not a WebAssembly file")
        );
    }

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn only_resets_slow_beside_their_calls_are_made_in_the_background() {
        // A one-row call of a Rust transform: a 1.5 µs reset.
        assert!(!resets_in_background(1_500, 3_000));
        // A Python interpreter's one-row call.
        assert!(resets_in_background(136_000, 190_000));
        // A 65,536-row batch: its reset is a few percent of it.
        assert!(!resets_in_background(180_000, 3_700_000));
        assert!(resets_in_background(
            BACKGROUND_RESET_NANOS,
            4 * BACKGROUND_RESET_NANOS
        ));
        assert!(!resets_in_background(
            BACKGROUND_RESET_NANOS,
            4 * BACKGROUND_RESET_NANOS + 1
        ));
    }

    /// The hostile `leftover` guest on a runtime of one instance at a time,
    /// or `None` (the test skipped) where instances are not put back.
    fn leftover_put_back_in_place() -> Option<Transform> {
        let runtime = crate::Runtime::new(Config::default().max_instances(1)).unwrap();
        let transform = runtime.load(skewless_test_artifacts::LEFTOVER).unwrap();
        match transform.resets_in_place() {
            Ok(()) => Some(transform),
            Err(why) => {
                eprintln!("skipped: instances are not put back in place ({why})");
                None
            }
        }
    }

    /// Calls `leftover` (which answers with what an earlier call left in
    /// its memory) with secret `i`, checks that it found nothing, as a call
    /// on a clean instance does, and waits for the reset the call left to
    /// the background thread.
    fn call_clean_and_wait(transform: &Transform, i: usize) {
        use arrow::array::{AsArray, StringArray};
        use arrow::datatypes::{DataType, Field, Schema};

        let schema = Arc::new(Schema::new(vec![Field::new(
            "secret",
            DataType::Utf8,
            true,
        )]));
        let secret = StringArray::from(vec![format!("secret {i}")]);
        let batch = RecordBatch::try_new(schema, vec![Arc::new(secret)]).unwrap();
        let output = transform.call(&batch).unwrap();
        let found = |column: usize| {
            output
                .column(column)
                .as_string::<i32>()
                .value(0)
                .to_string()
        };
        assert_eq!(
            (found(0), found(1)),
            (String::new(), String::new()),
            "call {i}"
        );
        assert!(
            transform
                .inner
                .wait_for_background_reset(Duration::from_secs(60)),
            "the reset after call {i} never ended"
        );
    }

    /// An instance reset on the background thread is kept for the next
    /// call, and that call starts from the component's initial state:
    /// `leftover` answers with what an earlier call left in its memory,
    /// and must find nothing.
    #[test]
    fn an_instance_reset_in_the_background_starts_the_next_call_clean() {
        let Some(transform) = leftover_put_back_in_place() else {
            return;
        };
        let inner = &transform.inner;
        inner.always_in_background.store(true, Ordering::Relaxed);
        for i in 0..100 {
            // The next call finds this one's instance put back, not a new one.
            call_clean_and_wait(&transform, i);
        }
        assert_eq!(inner.background_resets.load(Ordering::Relaxed), 100);
        assert_eq!(
            inner.instances_made.load(Ordering::Relaxed),
            1,
            "instances were made beside the one `describe` ran on"
        );
        assert_eq!(transform.resets_in_place(), Ok(()));
        // The kept instance holds its room in the pool until the transform
        // is dropped.
        let core = Arc::clone(&inner.core);
        assert!(core.kept_units() > 0);
        drop(transform);
        assert_eq!(core.kept_units(), 0);
    }

    /// A reset on the background thread that fails drops the instance and
    /// gives its room back; the next call starts clean on a new instance,
    /// `resets_in_place` says why, and once resets succeed again instances
    /// are kept again.
    #[test]
    fn a_background_reset_that_fails_drops_the_instance_and_says_why() {
        let Some(transform) = leftover_put_back_in_place() else {
            return;
        };
        let inner = &transform.inner;
        inner.always_in_background.store(true, Ordering::Relaxed);
        let call = |i: usize| call_clean_and_wait(&transform, i);
        let made = || inner.instances_made.load(Ordering::Relaxed);

        inner.fail_resets.store(true, Ordering::Relaxed);
        let before = made();
        call(0);
        let why = transform.resets_in_place().unwrap_err();
        assert!(
            why.contains("the last call's instance was dropped: a reset made to fail by a test"),
            "{why}"
        );
        assert_eq!(
            inner.core.kept_units(),
            0,
            "the dropped instance kept its room"
        );
        assert!(inner.idle.lock().unwrap().is_empty());
        call(1);
        assert_eq!(
            made(),
            before + 1,
            "the call after a failed reset had no new instance"
        );

        inner.fail_resets.store(false, Ordering::Relaxed);
        call(2);
        call(3);
        assert_eq!(transform.resets_in_place(), Ok(()));
        assert_eq!(
            made(),
            before + 2,
            "an instance reset in place was not kept"
        );
        assert_eq!(inner.idle.lock().unwrap().len(), 1);
        assert!(inner.core.kept_units() > 0);
        assert_eq!(inner.background_resets.load(Ordering::Relaxed), 4);
    }

    /// A reset sent to the background that never runs (the job dropped, as
    /// a forked child's missing thread would leave it, or a panic) gives
    /// the room it took back, and lets the next reset go there.
    #[test]
    fn a_background_reset_that_never_runs_gives_its_room_back() {
        let Some(transform) = leftover_put_back_in_place() else {
            return;
        };
        let inner = &transform.inner;
        let instance = inner.checkout().unwrap();
        assert_eq!(inner.core.kept_units(), 0);
        assert!(inner.core.keep_idle(instance.memories()));
        inner.resetting.store(true, Ordering::Release);
        let pending = PendingReset {
            memories: instance.memories(),
            inner: Arc::clone(inner),
            instance: Some(instance),
            kept: false,
        };
        drop(pending);
        assert_eq!(inner.core.kept_units(), 0);
        assert!(!inner.resetting.load(Ordering::Acquire));
        assert!(inner.idle.lock().unwrap().is_empty());
    }

    /// An ended instance there is no room in the pool to keep is not
    /// reset in place (the pool resets it once, when it is dropped) and
    /// takes no room; with room, the next one is put back in place.
    #[test]
    fn an_instance_without_room_to_keep_is_not_reset_in_place() {
        let Some(transform) = leftover_put_back_in_place() else {
            return;
        };
        let inner = &transform.inner;
        let instance = inner.checkout().unwrap();
        let mut taken = 0;
        while inner.core.keep_idle(1) {
            taken += 1;
        }
        let full = inner.core.kept_units();
        inner.last_reset_nanos.store(0, Ordering::Relaxed);
        inner.checkin(instance);
        assert_eq!(
            inner.last_reset_nanos.load(Ordering::Relaxed),
            0,
            "an instance with no room to keep it was reset in place"
        );
        assert!(inner.idle.lock().unwrap().is_empty());
        assert_eq!(inner.core.kept_units(), full);
        for _ in 0..taken {
            inner.core.forget_idle(1);
        }
        let instance = inner.checkout().unwrap();
        inner.checkin(instance);
        assert!(inner.last_reset_nanos.load(Ordering::Relaxed) > 0);
        assert_eq!(inner.idle.lock().unwrap().len(), 1);
    }

    #[test]
    fn transform_is_send_sync_and_clone() {
        fn check<T: Send + Sync + Clone>() {}
        check::<Transform>();
    }
}
