//! [`Runtime`]: loads transforms onto one engine, configured once.
//!
//! Backfills, serving, `verify` and embedders all load transforms through
//! a `Runtime`, so they all run on the engine configuration of
//! [`super::core::engine_config`].

use std::path::Path;
use std::sync::Arc;

use super::config::Config;
use super::core::Core;
use super::transform::Transform;
use crate::error::{Error, Result};

/// Loads and runs transforms on one engine.
///
/// Cheap to clone; share one per process.
///
/// ```no_run
/// use skewless::{Config, Runtime};
///
/// let runtime = Runtime::new(Config::default())?;
/// let transform = runtime.load("fraud_features.wasm")?;
/// println!("{} {} sha256:{}", transform.name(), transform.version(), transform.sha256());
/// # Ok::<(), skewless::Error>(())
/// ```
#[derive(Clone)]
pub struct Runtime {
    core: Arc<Core>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.core.config)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime with the given limits; [`Error::InvalidSetting`] names a
    /// setting it cannot use.
    pub fn new(config: Config) -> Result<Self> {
        Ok(Runtime {
            core: Arc::new(Core::new(config)?),
        })
    }

    /// The runtime's configuration.
    pub fn config(&self) -> &Config {
        &self.core.config
    }

    /// Loads the component file at `path`: computes its sha256, compiles it
    /// (or loads it from the cache), calls `describe` and validates what it
    /// declares.
    pub fn load(&self, path: impl AsRef<Path>) -> Result<Transform> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io("cannot read", path, e))?;
        Transform::load(self.core.clone(), &bytes, &path.display().to_string())
    }

    /// Whether a finished instance's memory is reset in place, only the
    /// pages its call wrote: where Linux can say which those are (6.7 and
    /// later, checked once per process). Where not, every call's memory is
    /// given back to the system and the next call faults its pages in
    /// again, so clean instances cost more; calls are as isolated either way.
    pub fn resets_written_pages(&self) -> bool {
        super::core::resets_written_pages()
    }

    /// Loads a component from its bytes; `name` stands for it in messages.
    pub fn load_bytes(&self, bytes: &[u8], name: &str) -> Result<Transform> {
        Transform::load(self.core.clone(), bytes, name)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    /// One pooled instance slot of the hostile `leftover` guest, on new
    /// instances for every call (`fresh_instances`), where the pool counts
    /// the bytes kept resident in unused memory slots: an instance put back
    /// in place keeps its slot, whose reset is the same code with the same
    /// count. `None` where the kernel's pool does not reset pages in place.
    struct OneSlot {
        runtime: Runtime,
        transform: Transform,
    }

    impl OneSlot {
        fn new() -> Option<OneSlot> {
            let runtime =
                Runtime::new(Config::default().max_instances(1).fresh_instances(true)).unwrap();
            if !crate::engine::core::resets_written_pages() {
                eprintln!("skipped: this kernel's pool does not reset pages in place");
                return None;
            }
            let transform = runtime.load(skewless_test_artifacts::LEFTOVER).unwrap();
            Some(OneSlot { runtime, transform })
        }

        /// Bytes the slot kept after a call of `rows` rows (none after a
        /// release).
        fn call(&self, rows: usize) -> usize {
            let schema = Arc::new(Schema::new(vec![Field::new(
                "secret",
                DataType::Utf8,
                true,
            )]));
            let secrets = StringArray::from_iter_values((0..rows).map(|i| format!("secret {i}")));
            self.transform
                .call(&RecordBatch::try_new(schema, vec![Arc::new(secrets)]).unwrap())
                .unwrap();
            self.runtime
                .core
                .engine
                .pooling_allocator_metrics()
                .expect("the engine pools its instances")
                .unused_memory_bytes_resident()
        }

        /// What `n` one-row calls kept, call by call.
        fn one_rows(&self, n: usize) -> Vec<usize> {
            (0..n).map(|_| self.call(1)).collect()
        }
    }

    /// The vendored wasmtime's fourth change (`vendor/README.md`): a pooled
    /// slot whose calls wrote many pages keeps resetting them in place only
    /// until its 257th reset, which gives the heap's pages back, so one-row
    /// calls after a large one stop paying for its pages; a slot whose
    /// calls write the same few pages keeps them (until 4,096 resets,
    /// `RELEASE_AT_LEAST_EVERY`).
    #[test]
    fn a_slot_gives_back_the_pages_a_large_call_wrote() {
        let Some(slot) = OneSlot::new() else { return };
        // What a slot keeps after a one-row call: the pages that call wrote.
        let one_row = slot.call(1);
        // A large call writes far more pages, and each later reset in place
        // finds them written again (they stay private pages), so one-row
        // calls after it keep more.
        slot.call(20_000);
        let after = slot.one_rows(300);
        assert!(
            after[0] > one_row,
            "a one-row call after a large one kept {} bytes, no more than one alone ({one_row}): \
             this test no longer sees what it checks",
            after[0]
        );
        // The slot's 257th reset gives the heap's pages back (counting
        // `describe`'s, the first one-row call's and the large call's, that
        // is the 254th one-row call after it: `after[253]`), and from then
        // on it keeps what one row wrote.
        let back = after
            .iter()
            .position(|&bytes| bytes <= one_row)
            .unwrap_or_else(|| panic!("one-row calls kept {} bytes for 300 calls", after[299]));
        assert!(
            back <= 254,
            "the pages came back only at one-row call {}",
            back + 1
        );
        assert!(
            after[back..].iter().all(|&bytes| bytes <= one_row),
            "after the release: {:?}",
            &after[back..]
        );
        // A slot whose calls write the same pages is not released again:
        // one-row calls, beyond another 256 resets, keep what one row
        // wrote (a release shows as nothing kept, and its next call pays
        // page faults).
        let steady = slot.one_rows(600);
        assert!(
            steady.iter().all(|&bytes| 0 < bytes && bytes <= one_row),
            "one-row calls, each keeping at most {one_row} bytes, were released: {:?}",
            steady.iter().filter(|&&bytes| bytes == 0).count()
        );
        // Another large call: 256 resets have passed since the release, so
        // the reset after the next call, finding the large call's pages
        // kept, gives them back.
        slot.call(20_000);
        let again = slot.one_rows(3);
        assert!(
            again[0] == 0
                && again[1..]
                    .iter()
                    .all(|&bytes| 0 < bytes && bytes <= one_row),
            "after a second large call, one-row calls kept {again:?} bytes \
             (one alone keeps {one_row})"
        );
    }

    /// What one call on a slot writes is measured right after a release, so
    /// a large call there makes its pages look needed; the slot gives them
    /// back all the same within 4,097 resets (`RELEASE_AT_LEAST_EVERY` in
    /// the vendored wasmtime's `cow.rs`), and then keeps what one row
    /// writes.
    #[test]
    fn a_slot_whose_large_call_came_right_after_a_release_still_gives_it_back() {
        let Some(slot) = OneSlot::new() else { return };
        let one_row = slot.call(1);
        // One-row calls up to the slot's first release (its 257th reset),
        // then at once a large call.
        let first = (0..300)
            .position(|_| slot.call(1) == 0)
            .expect("the slot's first release, within 300 one-row calls");
        let large = slot.call(20_000);
        assert!(large > one_row, "the large call kept {large} bytes");
        let after = slot.one_rows(4_200);
        let back = after
            .iter()
            .position(|&bytes| bytes == 0)
            .unwrap_or_else(|| panic!("one-row calls kept {} bytes for 4,200 calls", after[4_199]));
        assert!(
            after[..back].iter().all(|&bytes| bytes > one_row)
                && after[back + 1..]
                    .iter()
                    .all(|&bytes| 0 < bytes && bytes <= one_row),
            "one-row calls after a large call made right after the release at one-row call {}: \
             released at {back}, then kept {:?}",
            first + 1,
            after[back + 1..].iter().max()
        );
        assert!(
            back <= 4_096,
            "the pages came back only at one-row call {back}"
        );
    }

    /// A call that wrote less than the slot's usual ones, made right after
    /// a release, makes the slot's usual calls look larger than needed;
    /// the slot then releases once in 257 resets only until two more
    /// releases have measured its usual calls (`holds_more_than_needed` in
    /// the vendored wasmtime's `cow.rs`), and then keeps their pages.
    #[test]
    fn a_slot_forgets_a_small_call_made_right_after_a_release() {
        let Some(slot) = OneSlot::new() else { return };
        let one_row = slot.call(1);
        // The slot's usual calls write more pages than a one-row call.
        let usual = slot.call(USUAL_ROWS);
        // More than the rule's margin (an eighth and a page, of 64 KiB at
        // most) above what one row keeps.
        assert!(
            usual > 2 * one_row + 65_536,
            "a call of {USUAL_ROWS} rows kept {usual} bytes, one row {one_row}: this test no \
             longer sees what it checks"
        );
        // Usual calls up to the slot's first release, then at once a
        // one-row call.
        (0..300)
            .position(|_| slot.call(USUAL_ROWS) == 0)
            .expect("the slot's first release, within 300 calls");
        slot.call(1);
        let after: Vec<usize> = (0..1_500).map(|_| slot.call(USUAL_ROWS)).collect();
        let released: Vec<usize> = (0..after.len()).filter(|&at| after[at] == 0).collect();
        // Two releases (each 257 resets after the last, while the small
        // count is one of the last two), then none.
        assert!(
            released.len() == 2,
            "calls of {USUAL_ROWS} rows after a one-row call made right after a release were \
             released at calls {released:?} of 1,500 (the usual call keeps {usual} bytes, one \
             row {one_row})"
        );
    }

    /// A large call right after a release that is not the slot's first is
    /// outweighed by the count before it, what a one-row call wrote: the
    /// slot gives the large call's pages back at its next 257th reset, not
    /// only after 4,096 (`holds_more_than_needed` in the vendored
    /// wasmtime's `cow.rs`).
    #[test]
    fn a_large_call_right_after_a_later_release_is_given_back_at_the_next_one() {
        let Some(slot) = OneSlot::new() else { return };
        let one_row = slot.call(1);
        // The slot's first release, measured by the one-row call after it.
        (0..300)
            .position(|_| slot.call(1) == 0)
            .expect("the slot's first release, within 300 one-row calls");
        slot.call(1);
        // A large call, whose pages a later release gives back...
        slot.call(20_000);
        (0..300)
            .position(|_| slot.call(1) == 0)
            .expect("the first large call's pages given back within 300 one-row calls");
        // ... and at once another large call, measured as what a call needs.
        let large = slot.call(20_000);
        assert!(
            large > 2 * one_row + 65_536,
            "the large call kept {large} bytes, one row {one_row}: this test no longer sees what \
             it checks"
        );
        let after = slot.one_rows(300);
        let back = after
            .iter()
            .position(|&bytes| bytes == 0)
            .unwrap_or_else(|| {
                panic!(
                    "one-row calls after a large call made right after a release kept {} bytes for \
                 300 calls (one row alone keeps {one_row})",
                    after[299]
                )
            });
        // Released at the slot's 257th reset since the last release (the
        // large call's was the first), and not before: until then each
        // one-row call keeps the large call's pages.
        assert!(
            back <= 255 && after[..back].iter().all(|&bytes| bytes > one_row),
            "one-row calls after the large call kept {:?} bytes until the release at one-row \
             call {back}",
            after[..back].iter().min()
        );
        assert!(
            after[back + 1..]
                .iter()
                .all(|&bytes| 0 < bytes && bytes <= one_row),
            "after the release at one-row call {back}: {:?}",
            after[back + 1..].iter().max()
        );
    }

    /// Rows of the slot's usual calls in the test above.
    const USUAL_ROWS: usize = 2_000;

    /// A core module with a mutable global and a one-element funcref table:
    /// `bump` adds one to the global and returns it, `grow` returns the
    /// table's size (as compiled code reads it, from the `VMContext`) and
    /// grows it by one element. Encoded by hand (the host has no
    /// WAT parser): type, function, table, global, export and code sections.
    const BUMP_AND_GROW: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
        0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type 0: [] -> [i32]
        0x03, 0x03, 0x02, 0x00, 0x00, // two functions of type 0
        0x04, 0x04, 0x01, 0x70, 0x00, 0x01, // table 0: funcref, min 1
        0x06, 0x06, 0x01, 0x7f, 0x01, 0x41, 0x00, 0x0b, // global 0: mut i32 = 0
        0x07, 0x0f, 0x02, // two exports
        0x04, b'b', b'u', b'm', b'p', 0x00, 0x00, // "bump": function 0
        0x04, b'g', b'r', b'o', b'w', 0x00, 0x01, // "grow": function 1
        0x0a, 0x1b, 0x02, // code, two bodies
        // global.get 0, i32.const 1, i32.add, global.set 0, global.get 0
        0x0b, 0x00, 0x23, 0x00, 0x41, 0x01, 0x6a, 0x24, 0x00, 0x23, 0x00, 0x0b,
        // table.size 0, ref.null func, i32.const 1, table.grow 0, drop
        0x0d, 0x00, 0xfc, 0x10, 0x00, 0xd0, 0x70, 0x41, 0x01, 0xfc, 0x0f, 0x00, 0x1a, 0x0b,
    ];

    /// The vendored wasmtime's sixth change (`vendor/README.md`) puts back
    /// what a call changes in an instance's `VMContext` besides memory: a
    /// mutable global, a table's size. No guest language of ours leaves a
    /// global changed after a call (Rust's and CPython's stack pointers
    /// come back by themselves), so the hostile guests of
    /// `tests/integration/isolation.rs`, which cover memory, cannot see
    /// this; a core module on the runtime's own engine can.
    #[test]
    fn a_reset_puts_back_globals_and_table_sizes() {
        let runtime = Runtime::new(Config::default()).unwrap();
        let engine = &runtime.core.engine;
        let module = wasmtime::Module::new(engine, BUMP_AND_GROW).unwrap();
        let mut store = wasmtime::Store::new(engine, ());
        store.set_fuel(1_000_000).unwrap();
        store.set_epoch_deadline(u64::MAX / 4);
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
        let bump = instance
            .get_typed_func::<(), i32>(&mut store, "bump")
            .unwrap();
        let grow = instance
            .get_typed_func::<(), i32>(&mut store, "grow")
            .unwrap();
        let initial = store.record_initial_state().unwrap();
        // Without a reset, each call sees what the last one left.
        assert_eq!(bump.call(&mut store, ()).unwrap(), 1);
        assert_eq!(bump.call(&mut store, ()).unwrap(), 2);
        assert_eq!(grow.call(&mut store, ()).unwrap(), 1);
        assert_eq!(grow.call(&mut store, ()).unwrap(), 2);
        for reset in 1..=3 {
            store.reset_to_initial_state(&initial).unwrap();
            assert_eq!(
                bump.call(&mut store, ()).unwrap(),
                1,
                "the global after reset {reset}"
            );
            assert_eq!(
                grow.call(&mut store, ()).unwrap(),
                1,
                "the table's size after reset {reset}"
            );
        }
    }
}
