//! Served aggregations: the [`State`] behind requests, the rules of
//! ingestion (duplicates, lateness, expiry) and, with a directory, its
//! durability.
//!
//! - Ingestion runs one batch at a time (a mutex): each event is checked
//!   against the state and the batch's earlier events, the accepted ones
//!   are written to the journal and committed (fsync), and only then
//!   applied to the state that queries read. An acknowledged event is on
//!   disk; a query never sees an event that is not.
//! - An event whose id the state already holds for its key is a
//!   duplicate, and is acknowledged without being applied again.
//! - An event older than its key's newest event minus the declared
//!   lateness is late: counted, reported and dropped.
//! - The state answers queries as of times no earlier than the newest
//!   event it has seen minus the lateness minus the query lag; events
//!   older than that minus the longest window can count in no such
//!   answer, so they expire (from memory and disk), and an event that old
//!   on arrival is dropped as expired.
//!
//! The journal is a [redb](https://docs.rs/redb) database (copy-on-write
//! B-trees, crash-safe commits): one table of the accepted events by
//! (time, sequence), each with its key, values, id, arrival time and the
//! row as it was received; and the sha256 of the component that made it.
//! Opening it replays the events into a fresh state, which therefore
//! equals the state of a clean replay of every acknowledged event.
//!
//! Shared by replicas, the journal is a Redis stream instead (see
//! [`super::shared`]): each replica mirrors it in memory, reads what the
//! others appended before it decides a batch or answers a query, and
//! appends a batch only as the stream's next entry after the last it
//! read (or reads again and decides again).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use redis::Connection;

use super::shared::{Entry, RedisLog};
use super::{Answer, Event, Plan, State, Value};
use crate::error::{Error, Result};

/// Accepted events: (time, sequence) -> the record ([`Record::encode`]).
const EVENTS: TableDefinition<'_, (i64, u64), &[u8]> = TableDefinition::new("events");
/// What the journal is: `sha256` (of the component), `format`.
const META: TableDefinition<'_, &str, &str> = TableDefinition::new("meta");
/// The journal's own format; another is refused rather than misread.
const FORMAT: &str = "1";
/// The journal's page cache, in bytes.
const JOURNAL_CACHE: usize = 16 << 20;
/// The journal's file in the state directory.
pub(crate) const JOURNAL_FILE: &str = "events.redb";

/// The rules of a served state, in microseconds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rules {
    /// How far behind its key's newest event an event may arrive.
    pub(crate) lateness: i64,
    /// How far before the newest event (less the lateness) a query may ask.
    pub(crate) query_lag: i64,
    /// The longest window.
    pub(crate) longest: i64,
}

impl Rules {
    /// The earliest time a query may be as of, when the newest event seen
    /// is at `newest`.
    fn earliest_query(&self, newest: i64) -> i64 {
        newest
            .saturating_sub(self.lateness)
            .saturating_sub(self.query_lag)
    }

    /// The latest event time a state takes when its clock reads `now`: a
    /// later event would make queries as of `now` earlier than the state
    /// answers, and expire events such queries need.
    fn latest_event(&self, now: i64) -> i64 {
        now.saturating_add(self.lateness)
            .saturating_add(self.query_lag)
    }

    /// Events before this time can count in no answer the state gives.
    fn horizon(&self, newest: i64) -> i64 {
        self.earliest_query(newest).saturating_sub(self.longest)
    }
}

/// An event offered to the state.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) key: Value,
    pub(crate) event: Event,
    pub(crate) id: Option<Value>,
    /// The row as received (a JSON object), kept for export.
    pub(crate) row: String,
}

/// What became of an offered event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    Applied,
    /// Its id was already applied for its key.
    Duplicate,
    /// Older than its key's newest event minus the lateness.
    Late,
    /// Older than anything the state still answers for.
    Expired,
}

/// Counts since the state was opened.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) applied: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) late: AtomicU64,
    pub(crate) expired: AtomicU64,
    /// With Redis: expiries whose trim of the stream failed (the next
    /// expiry trims what they left).
    pub(crate) trims_failed: AtomicU64,
}

/// Where a served state keeps its journal.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Store<'a> {
    /// Nowhere: the state is lost with the process.
    Memory,
    /// A redb file in the directory.
    Dir(&'a Path),
    /// A Redis stream shared with other replicas (see [`super::shared`]),
    /// under the transform's name.
    Redis { url: &'a str, name: &'a str },
}

/// The journal of a served state.
enum Journal {
    Memory,
    /// Written by ingestion under the writer's lock, read by exports
    /// without it.
    Dir {
        db: redb::Database,
        path: PathBuf,
    },
    /// Its connection is the writer's.
    Redis(RedisLog),
}

/// A served state.
pub(crate) struct Live {
    rules: Rules,
    state: RwLock<State>,
    journal: Journal,
    writer: Mutex<Writer>,
    /// The newest event time applied (`i64::MIN` before the first);
    /// written under the state's write lock, read under its read lock, so
    /// a query sees it and the state of one moment.
    newest: AtomicI64,
    /// The arrival time of the last batch applied (or, before any, of the
    /// state's opening, or with Redis of its creation): a query sees
    /// exactly the events that arrived at or before it. Written under the
    /// state's write lock, read under its read lock.
    arrived: AtomicI64,
    /// Events before this time may have been forgotten (the last expiry's
    /// horizon, kept in the journal so a reopening with a longer query lag
    /// cannot answer from a state that lost what it needs).
    floor: AtomicI64,
    pub(crate) counters: Counters,
    /// With Redis: catch-ups begun (each begins and ends under the
    /// writer's lock; see [`Writer::ended`]).
    catch_ups_begun: AtomicU64,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("rules", &self.rules)
            .field("journal", &self.location())
            .finish_non_exhaustive()
    }
}

struct Writer {
    /// The next sequence number of the redb journal.
    next_seq: u64,
    /// The last arrival time given: each batch's is later than the last,
    /// so arrival times order the batches even when the clock stalls or
    /// steps back.
    last_arrival: i64,
    /// The horizon of the last expiry.
    expired_to: i64,
    /// With Redis: the connection (`None` after a failure, until the next
    /// use reconnects), the number of the last entry applied, and the
    /// newest event time of each entry applied and not yet trimmed.
    redis: Option<Connection>,
    tail: u64,
    entries: VecDeque<(u64, i64)>,
    /// With Redis: the number of the last catch-up that ended, and its
    /// error when it failed.
    ended: u64,
    failure: Option<Error>,
}

/// One journal record.
struct Record {
    key: Value,
    event: Event,
    id: Option<Value>,
    arrival: i64,
    row: String,
}

impl Record {
    /// A batch of records, for a Redis entry: each as its time and the
    /// length of [`Record::encode`]'s bytes, then them.
    fn encode_batch<'r>(records: impl Iterator<Item = &'r Record>) -> Vec<u8> {
        let mut out = Vec::new();
        for record in records {
            let bytes = record.encode();
            out.extend_from_slice(&record.event.time.to_le_bytes());
            out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            out.extend_from_slice(&bytes);
        }
        out
    }

    /// [`Record::encode_batch`]'s records, each arrived at `arrival`.
    fn decode_batch(mut bytes: &[u8], arrival: i64) -> Option<Vec<Record>> {
        let mut records = Vec::new();
        while !bytes.is_empty() {
            let (time, rest) = bytes.split_at_checked(8)?;
            let (len, rest) = rest.split_at_checked(4)?;
            let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
            let (record, rest) = rest.split_at_checked(len)?;
            let mut record = Record::decode(i64::from_le_bytes(time.try_into().ok()?), record)?;
            record.arrival = arrival;
            records.push(record);
            bytes = rest;
        }
        Some(records)
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.row.len());
        self.key.encode(&mut out);
        self.event.tie.encode(&mut out);
        out.extend_from_slice(&(self.event.values.len() as u32).to_le_bytes());
        for value in &self.event.values {
            value.encode(&mut out);
        }
        self.id.clone().unwrap_or(Value::Null).encode(&mut out);
        out.extend_from_slice(&self.arrival.to_le_bytes());
        Value::Text(self.row.as_str().into()).encode(&mut out);
        out
    }

    fn decode(time: i64, mut bytes: &[u8]) -> Option<Record> {
        let bytes = &mut bytes;
        let key = Value::decode(bytes)?;
        let tie = Value::decode(bytes)?;
        let (count, rest) = bytes.split_at_checked(4)?;
        *bytes = rest;
        let count = u32::from_le_bytes(count.try_into().ok()?);
        let values = (0..count)
            .map(|_| Value::decode(bytes))
            .collect::<Option<Box<[Value]>>>()?;
        let id = Some(Value::decode(bytes)?).filter(|id| !id.is_null());
        let (arrival, rest) = bytes.split_at_checked(8)?;
        *bytes = rest;
        let arrival = i64::from_le_bytes(arrival.try_into().ok()?);
        let Value::Text(row) = Value::decode(bytes)? else {
            return None;
        };
        bytes.is_empty().then(|| Record {
            key,
            event: Event { time, tie, values },
            id,
            arrival,
            row: row.into(),
        })
    }
}

/// A query's answers, or why it has none.
pub(crate) type Queried = std::result::Result<Vec<Answer>, Unanswered>;

/// Why a query has no answer.
#[derive(Debug)]
pub(crate) enum Unanswered {
    /// Its time is earlier than the state answers for.
    TooOld(String),
    /// An aggregate cannot be computed (a sum beyond its type).
    Failed(String),
}

/// An event as the journal holds it (for `export`).
#[derive(Debug)]
pub(crate) struct Logged {
    pub(crate) seq: u64,
    pub(crate) arrival: i64,
    pub(crate) row: String,
}

impl Live {
    /// A state in memory only, kept in a directory's journal (created when
    /// missing and replayed when present) or in Redis (likewise). `sha256`
    /// is the component's: a journal made by another is refused.
    pub(crate) fn open(
        plan: Arc<Plan>,
        rules: Rules,
        store: Store<'_>,
        sha256: &str,
        opened: i64,
    ) -> Result<Live> {
        let mut live = Live {
            rules,
            state: RwLock::new(State::new(plan)),
            journal: Journal::Memory,
            writer: Mutex::new(Writer {
                next_seq: 0,
                last_arrival: opened,
                expired_to: i64::MIN,
                redis: None,
                tail: 0,
                entries: VecDeque::new(),
                ended: 0,
                failure: None,
            }),
            newest: AtomicI64::new(i64::MIN),
            arrived: AtomicI64::new(opened),
            floor: AtomicI64::new(i64::MIN),
            counters: Counters::default(),
            catch_ups_begun: AtomicU64::new(0),
        };
        match store {
            Store::Memory => {}
            Store::Dir(dir) => live.open_dir(dir, sha256, opened)?,
            Store::Redis { url, name } => {
                let (log, conn, found) =
                    RedisLog::open(url, name, sha256, rules.query_lag, opened)?;
                live.journal = Journal::Redis(log);
                let floor = found.floor.unwrap_or(i64::MIN);
                *live.floor.get_mut() = floor;
                *live.arrived.get_mut() = found.created;
                let writer = live.writer.get_mut().expect("not shared yet");
                writer.expired_to = floor;
                writer.last_arrival = found.created;
                writer.redis = Some(conn);
                let mut writer = live.writer.lock().expect("not shared yet");
                live.catch_up(&mut writer)?;
                drop(writer);
            }
        }
        Ok(live)
    }

    fn open_dir(&mut self, dir: &Path, sha256: &str, opened: i64) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|cause| Error::Io {
            action: "cannot create the state directory",
            path: dir.to_path_buf(),
            cause,
        })?;
        let path = dir.join(JOURNAL_FILE);
        let failed = |message: String| Error::Data {
            action: "cannot open the state",
            path: path.clone(),
            message,
        };
        // The journal is written at every batch and read only on opening
        // and by exports: a small page cache, not redb's 1 GiB default
        // (the soak's resident memory was 110 MiB lower with 16 MiB).
        let db = redb::Database::builder()
            .set_cache_size(JOURNAL_CACHE)
            .create(&path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => failed(
                    "another process has it open (one `skewless serve` owns a state directory; \
                 give each its own)"
                        .into(),
                ),
                e => failed(e.to_string()),
            })?;
        let txn = db.begin_write().map_err(|e| failed(e.to_string()))?;
        {
            let mut meta = txn.open_table(META).map_err(|e| failed(e.to_string()))?;
            let found = |name: &str| -> Result<Option<String>> {
                Ok(meta
                    .get(name)
                    .map_err(|e| failed(e.to_string()))?
                    .map(|v| v.value().to_string()))
            };
            if let Some(floor) = found("expired_to")? {
                let floor = floor
                    .parse::<i64>()
                    .map_err(|_| failed(format!("its expiry mark `{floor}` is not a time")))?;
                *self.floor.get_mut() = floor;
            }
            match (found("sha256")?, found("format")?) {
                (None, _) => {
                    meta.insert("sha256", sha256)
                        .map_err(|e| failed(e.to_string()))?;
                    meta.insert("format", FORMAT)
                        .map_err(|e| failed(e.to_string()))?;
                }
                (Some(other), _) if other != sha256 => {
                    return Err(failed(format!(
                        "it holds the events of the component with sha256 {other}, not of this \
                         one ({sha256}); its aggregates may differ, so give this component a \
                         state directory of its own (to carry the events over, export them with \
                         the component that made it, from `GET /v1/events/NAME` of a server of it \
                         on this state or `Online::export`, and post them to this one's \
                         `/v1/events/NAME`)"
                    )));
                }
                (Some(_), format) if format.as_deref() != Some(FORMAT) => {
                    return Err(failed(format!(
                        "its format is {}, and this skewless reads format {FORMAT}",
                        format.as_deref().unwrap_or("unknown")
                    )));
                }
                _ => {}
            }
        }
        txn.commit().map_err(|e| failed(e.to_string()))?;
        // Replay.
        let mut next_seq = 0;
        {
            let read = db.begin_read().map_err(|e| failed(e.to_string()))?;
            let table = read.open_table(EVENTS).map_err(|e| match e {
                redb::TableError::TableDoesNotExist(_) => None,
                e => Some(failed(e.to_string())),
            });
            match table {
                Err(Some(error)) => return Err(error),
                Err(None) => {}
                Ok(table) => {
                    let state = self.state.get_mut().expect("not shared yet");
                    let mut newest = i64::MIN;
                    let mut arrived = opened;
                    for entry in table.iter().map_err(|e| failed(e.to_string()))? {
                        let (key, value) = entry.map_err(|e| failed(e.to_string()))?;
                        let (time, seq) = key.value();
                        let record = Record::decode(time, value.value()).ok_or_else(|| {
                            failed(format!("the event of sequence {seq} is not readable"))
                        })?;
                        next_seq = next_seq.max(seq + 1);
                        newest = newest.max(time);
                        arrived = arrived.max(record.arrival);
                        state.apply_with_id(record.key, record.event, record.id);
                    }
                    *self.newest.get_mut() = newest;
                    *self.arrived.get_mut() = arrived;
                }
            }
        }
        self.journal = Journal::Dir { db, path };
        let writer = self.writer.get_mut().expect("not shared yet");
        writer.next_seq = next_seq;
        writer.last_arrival = *self.arrived.get_mut();
        writer.expired_to = *self.floor.get_mut();
        Ok(())
    }

    /// Where the journal is: a redb file, a Redis URL, or none.
    pub(crate) fn location(&self) -> Option<String> {
        match &self.journal {
            Journal::Memory => None,
            Journal::Dir { path, .. } => Some(path.display().to_string()),
            Journal::Redis(log) => Some(log.location().to_string()),
        }
    }

    /// What the store promises about an acknowledged event, where it can
    /// tell (Redis's persistence settings).
    pub(crate) fn durability(&self) -> Option<String> {
        let Journal::Redis(log) = &self.journal else {
            return None;
        };
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        log.durability(&mut writer.redis)
    }

    /// With Redis: applies the entries other replicas appended since the
    /// last this replica applied. Nothing to do otherwise.
    fn catch_up(&self, writer: &mut Writer) -> Result<()> {
        let Journal::Redis(log) = &self.journal else {
            return Ok(());
        };
        let number = self.catch_ups_begun.fetch_add(1, Ordering::AcqRel) + 1;
        let outcome = self.read_new(writer, log);
        writer.ended = number;
        writer.failure = outcome.as_ref().err().map(shared_failure);
        outcome
    }

    /// [`Live::catch_up`]'s reads.
    fn read_new(&self, writer: &mut Writer, log: &RedisLog) -> Result<()> {
        // Entries a read may bring (each up to a batch of events).
        const COUNT: usize = 64;
        loop {
            let entries = log.read_after(&mut writer.redis, writer.tail, COUNT)?;
            let read = entries.len();
            for entry in entries {
                let records =
                    Record::decode_batch(&entry.events, entry.arrival).ok_or_else(|| {
                        Error::StateUnavailable {
                            action: "cannot read the state",
                            location: log.location().to_string(),
                            message: format!("its entry {} is not readable", entry.seq),
                        }
                    })?;
                // Entries another replica trimmed before this one read them
                // held only events older than anything the state answers
                // for once it has the later ones (the entry of the newest
                // event is never trimmed), so skipping them changes no
                // answer.
                let newest = self.newest.load(Ordering::Acquire).max(entry.newest);
                let expire = self.expiry(writer, newest);
                self.apply(writer, records, newest, entry.arrival, expire);
                writer.tail = entry.seq;
                writer.entries.push_back((entry.seq, entry.newest));
            }
            if read < COUNT {
                return Ok(());
            }
        }
    }

    /// [`Live::catch_up`] for a call that took `ticket` (the catch-ups
    /// begun) before it waited for the writer's lock. A catch-up that began
    /// after the ticket and ended while the call waited read everything
    /// acknowledged before the call began, so a query (`fresh_enough`)
    /// takes the state as it is; or it failed to reach Redis after the
    /// call began, and its error is the call's too: concurrent calls share
    /// one round trip, and an outage costs them one timeout, not one each.
    fn catch_up_since(&self, writer: &mut Writer, ticket: u64, fresh_enough: bool) -> Result<()> {
        if writer.ended > ticket {
            if let Some(failure) = &writer.failure {
                return Err(shared_failure(failure));
            }
            if fresh_enough {
                return Ok(());
            }
        }
        self.catch_up(writer)
    }

    /// Makes the state current: with Redis, every batch any replica
    /// appended is applied.
    pub(crate) fn sync(&self) -> Result<()> {
        if let Journal::Redis(_) = &self.journal {
            let ticket = self.catch_ups_begun.load(Ordering::Acquire);
            let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            self.catch_up_since(&mut writer, ticket, true)?;
        }
        Ok(())
    }

    /// What becomes of each of `records` (one batch, in order) offered to
    /// the state as it is, and the newest event time once the accepted
    /// ones are applied.
    fn decide(&self, records: &[Record]) -> (Vec<Fate>, i64) {
        let mut newest = self.newest.load(Ordering::Acquire);
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        // The batch's own accepted events, by key: newest time and ids.
        let mut batch_newest: std::collections::HashMap<&Value, i64> = Default::default();
        let mut batch_ids: std::collections::HashSet<(&Value, &Value)> = Default::default();
        // The events of one batch arrive together, so they are decided in
        // time order (ties in the order given): how a client ordered its
        // request changes nothing, as in a backfill, and an event is late
        // only behind its key's newest of an earlier batch.
        let mut order: Vec<usize> = (0..records.len()).collect();
        order.sort_by_key(|&row| records[row].event.time);
        let mut fates = vec![Fate::Applied; records.len()];
        for row in order {
            let item = &records[row];
            let seen =
                |id: &Value| state.has_id(&item.key, id) || batch_ids.contains(&(&item.key, id));
            let key_newest = state
                .newest(&item.key)
                .into_iter()
                .chain(batch_newest.get(&item.key).copied())
                .max();
            let fate = if item.id.as_ref().is_some_and(seen) {
                Fate::Duplicate
            } else if key_newest
                .is_some_and(|n| item.event.time < n.saturating_sub(self.rules.lateness))
            {
                Fate::Late
            } else if item.event.time < self.horizon(newest) {
                Fate::Expired
            } else {
                Fate::Applied
            };
            if fate == Fate::Applied {
                let entry = batch_newest.entry(&item.key).or_insert(item.event.time);
                *entry = (*entry).max(item.event.time);
                if let Some(id) = &item.id {
                    batch_ids.insert((&item.key, id));
                }
                newest = newest.max(item.event.time);
            }
            fates[row] = fate;
        }
        (fates, newest)
    }

    /// The horizon to expire to once the newest event is `newest`, if it
    /// has moved far enough since the last expiry: in steps of a 64th of
    /// the longest window (at least a second), not at every event.
    fn expiry(&self, writer: &Writer, newest: i64) -> Option<i64> {
        let horizon = self.horizon(newest);
        let step = (self.rules.longest / 64).max(1_000_000);
        (newest != i64::MIN && horizon >= writer.expired_to.saturating_add(step)).then_some(horizon)
    }

    /// Applies `records` (durable by now), arrived at `arrival`, to the
    /// state that queries read, and expires to `expire`.
    fn apply(
        &self,
        writer: &mut Writer,
        records: Vec<Record>,
        newest: i64,
        arrival: i64,
        expire: Option<i64>,
    ) {
        writer.last_arrival = arrival;
        {
            let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
            for record in records {
                state.apply_with_id(record.key, record.event, record.id);
            }
            if let Some(horizon) = expire {
                state.expire(horizon);
                self.floor.store(horizon, Ordering::Release);
            }
            self.newest.store(newest, Ordering::Release);
            self.arrived.store(arrival, Ordering::Release);
        }
        if let Some(horizon) = expire {
            writer.expired_to = horizon;
            // With Redis: the entries whose events are all past the
            // horizon are no longer needed (the one before the first kept
            // is what `trim` forgets).
            while writer
                .entries
                .front()
                .is_some_and(|(_, newest)| *newest < horizon)
            {
                writer.entries.pop_front();
            }
        }
    }

    /// The latest event time this state takes when its clock reads `now`,
    /// and how far ahead of `now` that is.
    pub(crate) fn latest_event(&self, now: i64) -> (i64, i64) {
        let latest = self.rules.latest_event(now);
        (latest, latest.saturating_sub(now))
    }

    /// Offers `incoming` (one batch, in order), arrived at the clock's
    /// `now`: what became of each event, and the batch's arrival time
    /// (`now`, or just after the last batch's when the clock is behind
    /// it; with Redis, when nothing was applied, the last batch's).
    /// Returns once the applied events are durable.
    pub(crate) fn ingest(&self, incoming: Vec<Incoming>, now: i64) -> Result<(Vec<Fate>, i64)> {
        let ticket = self.catch_ups_begun.load(Ordering::Acquire);
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut records: Vec<Record> = incoming
            .into_iter()
            .map(|item| Record {
                key: item.key,
                event: item.event,
                id: item.id,
                arrival: 0,
                row: item.row,
            })
            .collect();
        let mut refused_at = None;
        let (fates, newest, arrival, expire) = loop {
            // With Redis, decide against every batch appended before.
            if refused_at.is_none() {
                self.catch_up_since(&mut writer, ticket, false)?;
            } else {
                self.catch_up(&mut writer)?;
            }
            if refused_at == Some(writer.tail) {
                // Refused, and nothing new to read: entries after this
                // replica's last were deleted from the stream by hand.
                return Err(Error::StateUnavailable {
                    action: "cannot write the events to the state",
                    location: self.location().unwrap_or_default(),
                    message: format!(
                        "its stream has entries after {} that cannot be read (deleted by \
                         hand?); restart the replicas to serve what it holds",
                        writer.tail
                    ),
                });
            }
            let arrival = now.max(writer.last_arrival.saturating_add(1));
            let (fates, newest) = self.decide(&records);
            let expire = self.expiry(&writer, newest);
            for record in &mut records {
                record.arrival = arrival;
            }
            let accepted = || {
                records
                    .iter()
                    .zip(&fates)
                    .filter(|(_, fate)| **fate == Fate::Applied)
                    .map(|(record, _)| record)
            };
            match &self.journal {
                Journal::Memory => {}
                Journal::Dir { db, path } => {
                    let first_seq = writer.next_seq;
                    self.write_dir(db, path, accepted(), first_seq, expire)?;
                    writer.next_seq = first_seq + accepted().count() as u64;
                }
                Journal::Redis(log) => {
                    if accepted().next().is_none() {
                        // Nothing to write, nor a new arrival to give.
                        let last = writer.last_arrival;
                        break (fates, self.newest.load(Ordering::Acquire), last, None);
                    }
                    let entry = Entry {
                        seq: writer.tail + 1,
                        arrival,
                        newest: accepted().map(|r| r.event.time).max().expect("one"),
                        events: Record::encode_batch(accepted()),
                    };
                    match log.append(&mut writer.redis, &entry) {
                        Ok(true) => {
                            writer.tail = entry.seq;
                            writer.entries.push_back((entry.seq, entry.newest));
                        }
                        // Another replica appended first: read it, decide again.
                        Ok(false) => {
                            refused_at = Some(writer.tail);
                            continue;
                        }
                        Err(error) => return Err(error),
                    }
                }
            }
            break (fates, newest, arrival, expire);
        };
        let accepted = records
            .into_iter()
            .zip(&fates)
            .filter(|(_, fate)| **fate == Fate::Applied)
            .map(|(record, _)| record)
            .collect();
        self.apply(&mut writer, accepted, newest, arrival, expire);
        if let (Some(horizon), Journal::Redis(log)) = (expire, &self.journal) {
            // Forget in Redis the entries whose events are all past the
            // horizon (`apply` dropped them from `entries`). A failure
            // changes no answer (the next expiry trims them), so it does
            // not fail the acknowledged ingestion; it is counted.
            if let Some(&(first_kept, _)) = writer.entries.front()
                && log.trim(&mut writer.redis, horizon, first_kept).is_err()
            {
                self.counters.trims_failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        for fate in &fates {
            let counter = match fate {
                Fate::Applied => &self.counters.applied,
                Fate::Duplicate => &self.counters.duplicates,
                Fate::Late => &self.counters.late,
                Fate::Expired => &self.counters.expired,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        Ok((fates, arrival))
    }

    /// Writes `accepted` to the redb journal from sequence `first_seq`, and
    /// forgets the events before `expire`, in one commit.
    fn write_dir<'r>(
        &self,
        db: &redb::Database,
        path: &Path,
        accepted: impl Iterator<Item = &'r Record>,
        first_seq: u64,
        expire: Option<i64>,
    ) -> Result<()> {
        let failed = |message: String| Error::Data {
            action: "cannot write the events to the state",
            path: path.to_path_buf(),
            message,
        };
        let txn = db.begin_write().map_err(|e| failed(e.to_string()))?;
        {
            let mut table = txn.open_table(EVENTS).map_err(|e| failed(e.to_string()))?;
            for (offset, record) in accepted.enumerate() {
                table
                    .insert(
                        (record.event.time, first_seq + offset as u64),
                        record.encode().as_slice(),
                    )
                    .map_err(|e| failed(e.to_string()))?;
            }
            if let Some(horizon) = expire {
                table
                    .retain_in(..(horizon, 0_u64), |_, _| false)
                    .map_err(|e| failed(e.to_string()))?;
            }
        }
        if let Some(horizon) = expire {
            let mut meta = txn.open_table(META).map_err(|e| failed(e.to_string()))?;
            meta.insert("expired_to", horizon.to_string().as_str())
                .map_err(|e| failed(e.to_string()))?;
        }
        txn.commit().map_err(|e| failed(e.to_string()))
    }

    /// Events before this time can count in no answer the state gives
    /// (none before the first event).
    fn horizon(&self, newest: i64) -> i64 {
        let floor = self.floor.load(Ordering::Acquire);
        if newest == i64::MIN {
            floor
        } else {
            self.rules.horizon(newest).max(floor)
        }
    }

    /// The aggregates of each (key, time): the answers, or why there are
    /// none; and the arrival time of the last batch they saw (every event
    /// that arrived at or before it, and none after). With Redis, first
    /// applies every batch any replica appended.
    pub(crate) fn query(&self, queries: &[(Value, i64)]) -> Result<(Vec<Queried>, i64)> {
        self.sync()?;
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        let arrived = self.arrived.load(Ordering::Acquire);
        let newest = self.newest.load(Ordering::Acquire);
        let floor = self.floor.load(Ordering::Acquire);
        let mut earliest = floor.saturating_add(self.rules.longest);
        if newest != i64::MIN {
            earliest = earliest.max(self.rules.earliest_query(newest));
        }
        let answers = queries
            .iter()
            .map(|(key, t)| {
                if *t < earliest {
                    return Err(Unanswered::TooOld(format!(
                        "the time is {}, and this state answers as of {} or later (its newest \
                         event, {}, less the lateness and the query lag; or the oldest time \
                         its kept events answer for); ask a backfill for older times",
                        crate::codec::text::timestamp_text(*t),
                        crate::codec::text::timestamp_text(earliest),
                        if newest == i64::MIN {
                            "none".to_string()
                        } else {
                            crate::codec::text::timestamp_text(newest)
                        },
                    )));
                }
                state.query(key, *t).map_err(Unanswered::Failed)
            })
            .collect();
        Ok((answers, arrived))
    }

    /// Events and entities held.
    pub(crate) fn held(&self) -> (u64, u64) {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        (state.events(), state.entities())
    }

    /// The newest event time applied, if any.
    pub(crate) fn newest(&self) -> Option<i64> {
        Some(self.newest.load(Ordering::Acquire)).filter(|&n| n != i64::MIN)
    }

    /// Every event the journal holds that arrived after `after`, in the
    /// order they were applied.
    pub(crate) fn logged(&self, after: i64) -> Result<Vec<Logged>> {
        let (db, path) = match &self.journal {
            Journal::Memory => {
                return Err(Error::BadRequest(
                    "this state is in memory only; give it a directory (or Redis) to keep, and \
                     export, its events"
                        .into(),
                ));
            }
            Journal::Redis(log) => return logged_in_redis(log, after),
            Journal::Dir { db, path } => (db, path),
        };
        let failed = |message: String| Error::Data {
            action: "cannot read the state",
            path: path.clone(),
            message,
        };
        let read = db.begin_read().map_err(|e| failed(e.to_string()))?;
        let table = match read.open_table(EVENTS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(failed(e.to_string())),
        };
        let mut logged = Vec::new();
        for entry in table.iter().map_err(|e| failed(e.to_string()))? {
            let (key, value) = entry.map_err(|e| failed(e.to_string()))?;
            let (time, seq) = key.value();
            let record = Record::decode(time, value.value())
                .ok_or_else(|| failed(format!("the event of sequence {seq} is not readable")))?;
            if record.arrival <= after {
                continue;
            }
            logged.push(Logged {
                seq,
                arrival: record.arrival,
                row: record.row,
            });
        }
        logged.sort_unstable_by_key(|l| l.seq);
        Ok(logged)
    }
}

/// [`Live::logged`] of a state in Redis, on a connection of its own (an
/// export does not hold up ingestion).
fn logged_in_redis(log: &RedisLog, after: i64) -> Result<Vec<Logged>> {
    let mut conn = Some(log.connect()?);
    let mut logged = Vec::new();
    let mut tail = 0;
    loop {
        let entries = log.read_after(&mut conn, tail, 1000)?;
        let Some(last) = entries.last() else {
            return Ok(logged);
        };
        tail = last.seq;
        for entry in entries.into_iter().filter(|e| e.arrival > after) {
            let records = Record::decode_batch(&entry.events, entry.arrival).ok_or_else(|| {
                Error::StateUnavailable {
                    action: "cannot read the state",
                    location: log.location().to_string(),
                    message: format!("its entry {} is not readable", entry.seq),
                }
            })?;
            for record in records {
                logged.push(Logged {
                    seq: logged.len() as u64,
                    arrival: record.arrival,
                    row: record.row,
                });
            }
        }
    }
}

/// A catch-up's error again, for a call that waited on it (only
/// `StateUnavailable` comes from one).
fn shared_failure(error: &Error) -> Error {
    match error {
        Error::StateUnavailable {
            action,
            location,
            message,
        } => Error::StateUnavailable {
            action,
            location: location.clone(),
            message: message.clone(),
        },
        other => Error::StateUnavailable {
            action: "cannot read the state",
            location: String::new(),
            message: other.to_string(),
        },
    }
}
