//! skewless's patch (the sixth change of skewless's `vendor/README.md`): a
//! store's instances put back, in place, to the state they had right after
//! instantiation, instead of a new instance for every call.
//!
//! What is put back, for every core instance of the store: the pages of
//! each memory written since (by the pooling allocator's own reset, the
//! one it runs when an instance ends, which copies back the module's
//! image), then the pages instantiation itself had written, recorded once
//! (those that differed from the image right after instantiation), and
//! the memory's size; the elements
//! and size of each table; each passive element segment; and the
//! `VMContext` (globals, memory and table definitions, dropped data
//! segments; not its imports nor its funcrefs, which hold after
//! instantiation what they always will). For every component instance: its whole
//! `VMComponentContext` (the flags of its instances) and empty handle
//! tables. Anything else a call could leave makes the reset refuse, and
//! the caller drops the store instead: a store that trapped, a handle still
//! held by a guest or the host, a memory or table not from the pooling
//! allocator, GC references.
//!
//! Startup functions do not run again: the instance is put back to what
//! they left.

use super::{StoreId, StoreInstanceKind, StoreOpaque};
use crate::prelude::*;
use crate::runtime::component::ComponentInstanceId;
use crate::runtime::vm::InstanceInitialState;
use crate::runtime::vm::component::ComponentInitialState;
use crate::store::InstanceId;
use crate::{Result, Store};

/// The state of a store's instances right after instantiation, recorded by
/// [`Store::record_initial_state`] and put back by
/// [`Store::reset_to_initial_state`].
pub struct InitialState {
    store: StoreId,
    /// All of the store's instances, the default caller's included.
    instance_count: usize,
    instances: Vec<(InstanceId, InstanceInitialState)>,
    components: Vec<(ComponentInstanceId, ComponentInitialState)>,
}

impl InitialState {
    /// The linear memories of the store's instances (each holds a slot of
    /// the pooling allocator for as long as the store lives).
    pub fn memories(&self) -> usize {
        self.instances
            .iter()
            .map(|(_, state)| state.memories())
            .sum()
    }

    /// The pages of those memories that instantiation wrote (that their
    /// reset copies back on top of the image, after every call).
    pub fn pages_written_by_instantiation(&self) -> usize {
        self.instances
            .iter()
            .map(|(_, state)| state.pages_written_by_instantiation())
            .sum()
    }
}

impl core::fmt::Debug for InitialState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InitialState")
            .field("instances", &self.instances.len())
            .field("components", &self.components.len())
            .finish_non_exhaustive()
    }
}

impl<T> Store<T> {
    /// skewless's patch: records the state of this store's instances, to
    /// be put back by [`Store::reset_to_initial_state`]. Call it right
    /// after instantiating, before anything runs. An error says what the
    /// store holds that a reset could not put back (see this module's
    /// documentation); its instances can then only be dropped.
    pub fn record_initial_state(&mut self) -> Result<InitialState> {
        self.inner
            .record_initial_state()
            .map_err(|why| crate::format_err!("its instances cannot be reset in place: {why}"))
    }

    /// skewless's patch: puts this store's instances back to `state`, in
    /// place. `Ok`: every instance is as it was when `state` was recorded,
    /// and the next call cannot tell it from a call on new instances. An
    /// error says what a reset could not put back (a handle the guest still
    /// holds, say): the store may be half reset and must be dropped, never
    /// called again.
    ///
    /// Call it only between calls, never from inside one. It does not touch
    /// the store's data (`T`), fuel or epoch deadline.
    pub fn reset_to_initial_state(&mut self, state: &InitialState) -> Result<()> {
        self.inner
            .reset_to_initial_state(state)
            .map_err(|why| crate::format_err!("its instances cannot be reset in place: {why}"))
    }
}

impl StoreOpaque {
    fn record_initial_state(&mut self) -> Result<InitialState, &'static str> {
        if self.trapped() {
            return Err("it trapped");
        }
        let mut instances = Vec::new();
        for (id, instance) in self.instances.iter() {
            let handle = instance.handle.get();
            if let StoreInstanceKind::Dummy = instance.kind {
                // Every store has one, the default caller's, which holds
                // nothing a call changes. One the host made for a memory,
                // table or global of its own would hold state: refused.
                let module = handle.env_module();
                if module.num_defined_memories() == 0
                    && module.num_defined_tables() == 0
                    && module.num_defined_globals() == 0
                {
                    continue;
                }
                return Err("the host made a memory, table or global in it");
            }
            instances.push((id, handle.record_initial_state(self.engine.allocator())?));
        }
        let instance_count = self.instances.len();
        let mut components = Vec::new();
        let ids = self
            .component_data()
            .instance_ids_if_host_holds_no_handle()
            .ok_or("the host holds a handle of a component instance")?;
        for id in ids {
            let component = self.component_instance(id);
            components.push((id, component.record_initial_state()?));
        }
        Ok(InitialState {
            store: self.id(),
            instance_count,
            instances,
            components,
        })
    }

    fn reset_to_initial_state(&mut self, state: &InitialState) -> Result<(), String> {
        if state.store != self.id() {
            return Err("the state was recorded from another store".into());
        }
        if self.trapped() {
            return Err("it trapped".into());
        }
        if self.instances.len() != state.instance_count {
            return Err("instances were added to the store".into());
        }
        // The same component instances as recorded (compared without
        // collecting them: a reset is on every call's path).
        let same_components = self
            .component_data()
            .instance_ids_if_host_holds_no_handle()
            .ok_or("the host holds a handle of a component instance")?
            .eq(state.components.iter().map(|(id, _)| *id));
        if !same_components {
            return Err("component instances were added to the store".into());
        }
        for (id, recorded) in &state.components {
            let component = self.store_data_mut().component_instance_mut(*id);
            // SAFETY: recorded from this component instance (same store),
            // and nothing runs in a store between calls.
            unsafe { component.reset_to_initial_state(recorded)? };
        }
        let allocator = self.engine.allocator();
        let tunables = self.engine.tunables();
        for (id, recorded) in &state.instances {
            let instance = self.instances[*id].handle.get_mut();
            // SAFETY: recorded from this instance (same store), whose
            // memories the engine's allocator allocated; nothing runs in
            // a store between calls.
            unsafe { instance.reset_to_initial_state(recorded, allocator, tunables)? };
        }
        Ok(())
    }
}
