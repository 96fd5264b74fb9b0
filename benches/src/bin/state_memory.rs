//! How much heap a served state holds as it runs, without a server: the
//! soak's stream of card-velocity events (`soak_online`: 12,000 a second
//! over 100,000 cards, event time 3,000 times the clock's) ingested
//! embedded, in memory, as fast as it goes, with the live heap (a counting
//! allocator) and the events held printed every simulated minute. It
//! separates what the state keeps from what the allocator does with it.
//!
//! Usage: state_memory [--minutes N] [--dir DIR] [--queries N]
//! (20 minutes, in memory; with --dir the state keeps its journal in DIR;
//! with --queries, N single-row features requests follow each batch of
//! 500 events, as of its last event, each a guest call)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use skewless::online::{Online, StateOptions};
use skewless::{Config, Runtime};
use skewless_benches::{XorShift, card_id};
use skewless_test_artifacts as artifacts;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed to the system allocator as given.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const PER_SECOND: i64 = 12_000;
const SPEED: i64 = 3_000;
const KEYS: u64 = 100_000;
const BATCH: usize = 500;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut minutes = 20;
    let mut state = StateOptions::default();
    let mut queries = 0;
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--minutes", Some(n)) if n.parse::<i64>().is_ok() => minutes = n.parse().unwrap(),
            ("--dir", Some(dir)) => state = state.dir(dir),
            ("--queries", Some(n)) if n.parse::<usize>().is_ok() => queries = n.parse().unwrap(),
            _ => {
                eprintln!("Usage: state_memory [--minutes N] [--dir DIR] [--queries N]");
                std::process::exit(2);
            }
        }
    }
    let runtime = Runtime::new(Config::default()).expect("runtime");
    let transform = runtime.load(artifacts::CARD_VELOCITY).expect("load");
    let online = Online::open(&transform, &state).expect("open");
    let mut random = XorShift(0x2545_f491_4f6c_dd1d);
    // Simulated wall-clock microseconds between events, and event time's.
    let step = 1_000_000 / PER_SECOND;
    let base = skewless::online::now_micros() - minutes * 60 * 1_000_000 * SPEED;
    let mut wall = 0i64;
    let mut next_report = 60_000_000;
    println!("minute  events held  live heap MiB  bytes/event");
    while wall < minutes * 60 * 1_000_000 {
        let rows: Vec<serde_json::Value> = (0..BATCH)
            .map(|_| {
                wall += step;
                let time = chrono::DateTime::from_timestamp_micros(base + wall * SPEED)
                    .expect("a time")
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
                serde_json::json!({
                    "card_id": card_id(random.below(KEYS)),
                    "ts": time,
                    "amount": random.below(2_000) as f64 + 0.25,
                    "merchant": format!("m{}", random.below(8)),
                    "declined": random.below(25) == 0,
                })
            })
            .collect();
        online.ingest_json_values(&rows).expect("ingest");
        let now = rows.last().expect("a row")["ts"].clone();
        for _ in 0..queries {
            let request = serde_json::json!({"card_id": card_id(random.below(KEYS)), "ts": now, "amount": 42.5});
            online.features_json_values(&[request]).expect("features");
        }
        if wall >= next_report {
            let held = online.stats().events;
            let live = LIVE.load(Ordering::Relaxed);
            println!(
                "{:>6}  {held:>11}  {:>13.1}  {:>11.0}",
                next_report / 60_000_000,
                live as f64 / (1 << 20) as f64,
                live as f64 / held.max(1) as f64
            );
            next_report += 60_000_000;
        }
    }
}
