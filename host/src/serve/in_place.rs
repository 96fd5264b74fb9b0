//! The calls running in place on tokio's async workers, and the thread
//! that keeps the server's sockets watched while one runs.
//!
//! tokio's multi-thread runtime waits on the sockets (its I/O driver) from
//! one idle worker, the first to park; other idle workers wait on a
//! condition variable. A worker woken by the sockets to run a task does not
//! hand the driver to another (tokio's `enable_eager_driver_handoff` would,
//! but it is unstable), so while that task runs nobody waits on the
//! sockets until a task is scheduled from outside the runtime. If the task
//! is a call running in place and its rows turn out slow, the server takes
//! no connection and answers nothing, `/healthz` included, until the call
//! ends: a call of a second held a `/healthz` for that second, every time
//! (`serving::a_call_that_turns_slow_in_place_leaves_the_server_answering`).
//!
//! So a thread looks every [`WATCH_TICK`]: when a call has been in place
//! over a whole tick (no call entered since the last look while one runs),
//! it schedules an empty task from outside the runtime, which wakes an idle
//! worker; finding nothing more to do, that worker parks on the driver,
//! which the busy worker left free. A quick call (the only kind that starts
//! in place, see `run_call`) never pays for it; a server with no call in
//! place for [`SLEEP_AFTER`] puts the thread to sleep until the next one.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::thread::Thread;
use std::time::Duration;

/// How often the watch looks, and so about how long a call in place that
/// turned slow can leave the sockets unwatched (at most two ticks). A
/// 2 ms tick cost one-connection requests' p99 (329-448 µs against
/// 174-276 µs without the watch, `wrk -c1`, three alternated rounds on
/// 2026-12-05, this project's 2-core machine); at 10 ms it did not show
/// (181-230 µs against 247-405 µs), nor at 16 connections.
const WATCH_TICK: Duration = Duration::from_millis(10);

/// How long without a call in place before the watch sleeps.
const SLEEP_AFTER: Duration = Duration::from_secs(1);

/// The calls running in place now, counted.
#[derive(Default)]
pub(super) struct InPlaceCalls {
    running: AtomicUsize,
    /// Calls that have entered, ever: unchanged over a tick while one
    /// runs means a call has been in place that long.
    entered: AtomicU64,
    watch: OnceLock<Watch>,
}

struct Watch {
    thread: Thread,
    asleep: AtomicBool,
}

impl InPlaceCalls {
    /// Counts a call in place, unless as many run in place as the runtime
    /// has workers but one (and so none on a current-thread runtime).
    pub(super) fn enter(self: &Arc<Self>) -> Option<InPlace<'_>> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let workers = runtime.metrics().num_workers();
        self.running
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                (now + 1 < workers).then_some(now + 1)
            })
            .ok()?;
        self.entered.fetch_add(1, Ordering::Relaxed);
        let watch = self
            .watch
            .get_or_init(|| start_watch(Arc::downgrade(self), runtime));
        if watch.asleep.load(Ordering::SeqCst) {
            watch.thread.unpark();
        }
        Some(InPlace(self))
    }
}

impl Drop for InPlaceCalls {
    fn drop(&mut self) {
        // A sleeping watch wakes to find the server gone, and ends.
        if let Some(watch) = self.watch.get() {
            watch.thread.unpark();
        }
    }
}

/// A call running in place, counted while it lives.
pub(super) struct InPlace<'a>(&'a InPlaceCalls);

impl Drop for InPlace<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

fn start_watch(calls: Weak<InPlaceCalls>, runtime: tokio::runtime::Handle) -> Watch {
    let thread = std::thread::Builder::new()
        .name("skewless-in-place".into())
        .spawn(move || watch(&calls, &runtime))
        .expect("cannot start the thread that watches calls in place");
    Watch {
        thread: thread.thread().clone(),
        asleep: AtomicBool::new(false),
    }
}

fn watch(weak: &Weak<InPlaceCalls>, runtime: &tokio::runtime::Handle) {
    let ticks_to_sleep = SLEEP_AFTER.as_nanos() / WATCH_TICK.as_nanos();
    let mut idle_ticks = 0;
    let mut last_entered = 0;
    let mut woken_for = None;
    loop {
        std::thread::park_timeout(WATCH_TICK);
        let Some(calls) = weak.upgrade() else { return };
        let entered = calls.entered.load(Ordering::Relaxed);
        let before = std::mem::replace(&mut last_entered, entered);
        if calls.running.load(Ordering::SeqCst) > 0 {
            idle_ticks = 0;
            if entered == before && woken_for != Some(entered) {
                // Scheduled from outside the runtime: an idle worker wakes.
                drop(runtime.spawn(async {}));
                woken_for = Some(entered);
            }
            continue;
        }
        idle_ticks += 1;
        if idle_ticks < ticks_to_sleep {
            continue;
        }
        idle_ticks = 0;
        let Some(watch) = calls.watch.get() else {
            continue;
        };
        watch.asleep.store(true, Ordering::SeqCst);
        // A call that entered before `asleep` was set is counted here; one
        // that enters after sees `asleep` and wakes this thread.
        let idle = calls.running.load(Ordering::SeqCst) == 0;
        drop(calls);
        if idle {
            std::thread::park();
        }
        let Some(calls) = weak.upgrade() else { return };
        if let Some(watch) = calls.watch.get() {
            watch.asleep.store(false, Ordering::SeqCst);
        }
    }
}
