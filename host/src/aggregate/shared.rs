//! A served state shared by replicas: its journal in Redis.
//!
//! The journal is a Redis stream (`skewless:{NAME}:log`) of ingested
//! batches, numbered 1, 2, 3... as the stream's ids (`N-0`); each entry
//! holds the batch's accepted events, its arrival time and its newest
//! event time. Every replica keeps the whole state in memory, as a mirror
//! of the stream: before it decides a batch's fates or answers a query, it
//! reads the entries it has not applied yet. A replica appends a batch as
//! the number after the last entry it applied, through a script that
//! appends only when that entry is the stream's last: when another replica
//! appended first, the replica reads what it missed and decides again;
//! when the stream's last is older than what the replica applied, Redis
//! lost acknowledged writes (a restart without its append-only file, an
//! eviction, a failover), and the replica refuses rather than diverge. So
//! the rules of ingestion are decided in one place (the Rust code every
//! replica runs, against a state that has every earlier batch), each batch
//! once, the stream orders all batches, and arrival times grow along it.
//!
//! A batch is acknowledged once Redis has it; it survives a crash of
//! Redis only as Redis's own persistence allows (`appendonly yes` with
//! `appendfsync always` makes an acknowledged write durable).
//!
//! Expiry trims the stream's oldest entries once every event in them is
//! older than anything the state still answers for, and keeps that horizon
//! (`floor`) in the state's hash (`skewless:{NAME}:meta`), beside the
//! component's sha256, the journal's format, the query lag (replicas
//! that kept different lags could not answer alike, so another is refused)
//! and the time the state was created (the arrival before any event).
//! The braces make the two keys one hash slot, as a script that touches
//! both needs in Redis Cluster (which this client does not speak yet: a
//! single primary, with its replicas for failover, is what it serves from).
//!
//! Each replica talks to Redis over one connection (its writer's), opened
//! again after a failure; a read or a trim whose connection had broken (an
//! idle connection does when Redis restarts) is tried once more on a new
//! one, an append never (it might have been written).

use std::time::Duration;

use redis::{Connection, RedisResult, Value};

use crate::error::{Error, Result};

/// The journal's own format; another is refused rather than misread.
const FORMAT: &str = "1";

/// How long a connection may take to open, and a command to answer.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Appends entry `ARGV[1]` (its fields after) when the stream's last
/// generated id is `ARGV[2]`: `ok`; `behind` when it is later (another
/// replica appended), `lost` (with it) when it is earlier.
const APPEND: &str = r"
local last = '0-0'
if redis.call('EXISTS', KEYS[1]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then last = info[i + 1] end
  end
end
if last == ARGV[2] then
  redis.call('XADD', KEYS[1], ARGV[1], 'a', ARGV[3], 'n', ARGV[4], 'e', ARGV[5])
  return 'ok'
end
local seq = tonumber(string.match(last, '^(%d+)-'))
local expected = tonumber(string.match(ARGV[2], '^(%d+)-'))
if seq > expected then return 'behind' end
return 'lost ' .. last
";

/// Raises the state's floor (never lowers it) and trims the stream's
/// entries before an id, in one step.
const TRIM: &str = r"
local floor = redis.call('HGET', KEYS[1], 'floor')
if (not floor) or tonumber(floor) < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'floor', ARGV[1])
end
redis.call('XTRIM', KEYS[2], 'MINID', ARGV[2])
return 1
";

/// A state's journal in Redis.
pub(crate) struct RedisLog {
    client: redis::Client,
    /// The URL without its password, for messages.
    location: String,
    log: String,
    meta: String,
}

impl std::fmt::Debug for RedisLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLog")
            .field("location", &self.location)
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

/// One batch of the stream.
pub(crate) struct Entry {
    pub(crate) seq: u64,
    pub(crate) arrival: i64,
    /// The newest event time in the batch.
    pub(crate) newest: i64,
    /// The events (see `live::Record::encode_batch`).
    pub(crate) events: Vec<u8>,
}

/// What the state's hash says when a replica opens it.
pub(crate) struct Opened {
    pub(crate) floor: Option<i64>,
    /// When the state was created: the arrival time before any event.
    pub(crate) created: i64,
}

/// Whether `text` names a Redis state rather than a directory.
pub(crate) fn is_redis_url(text: &str) -> bool {
    [
        "redis://",
        "rediss://",
        "redis+unix://",
        "unix://",
        "valkey://",
        "valkeys://",
        "valkey+unix://",
    ]
    .iter()
    .any(|scheme| text.starts_with(scheme))
}

/// `url` without the password it may hold (`user:password@` before the
/// host, or a socket's `pass=` parameter).
fn redacted(url: &str) -> String {
    let mut url = match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_string(),
    };
    if let Some(query) = url.find('?') {
        let mut start = query + 1;
        while start < url.len() {
            let end = url[start..].find('&').map_or(url.len(), |i| start + i);
            if url[start..end].starts_with("pass=") {
                url.replace_range(start + "pass=".len()..end, "***");
            }
            start = url[start..].find('&').map_or(url.len(), |i| start + i + 1);
        }
    }
    url
}

impl RedisLog {
    /// Connects to the state of transform `name` at `url`, creating it
    /// when missing; refuses one made by another component, in another
    /// format or with another query lag.
    pub(crate) fn open(
        url: &str,
        name: &str,
        sha256: &str,
        query_lag: i64,
        now: i64,
    ) -> Result<(RedisLog, Connection, Opened)> {
        let location = redacted(url);
        let refused = |message: String| Error::StateUnavailable {
            action: "cannot use the state",
            location: location.clone(),
            message,
        };
        if url.starts_with("rediss://") || url.starts_with("valkeys://") {
            return Err(refused(
                "this skewless speaks to Redis without TLS; give a `redis://` URL on a \
                 network you trust, or one of a TLS tunnel to Redis (e.g. stunnel) on this \
                 machine"
                    .to_string(),
            ));
        }
        let client = redis::Client::open(url).map_err(|e| refused(e.to_string()))?;
        let log = RedisLog {
            client,
            location,
            log: format!("skewless:{{{name}}}:log"),
            meta: format!("skewless:{{{name}}}:meta"),
        };
        let mut conn = log.connect()?;
        let failed = |message: String| Error::StateUnavailable {
            action: "cannot open the state",
            location: log.location.clone(),
            message,
        };
        let lag = query_lag.to_string();
        let created = now.to_string();
        let fields: Vec<(String, String)> = redis::pipe()
            .atomic()
            .cmd("HSETNX")
            .arg(&log.meta)
            .arg("sha256")
            .arg(sha256)
            .ignore()
            .cmd("HSETNX")
            .arg(&log.meta)
            .arg("format")
            .arg(FORMAT)
            .ignore()
            .cmd("HSETNX")
            .arg(&log.meta)
            .arg("query_lag")
            .arg(&lag)
            .ignore()
            .cmd("HSETNX")
            .arg(&log.meta)
            .arg("created")
            .arg(&created)
            .ignore()
            .cmd("HGETALL")
            .arg(&log.meta)
            .query::<(Vec<(String, String)>,)>(&mut conn)
            .map_err(|e| failed(e.to_string()))?
            .0;
        let get = |field: &str| {
            fields
                .iter()
                .find(|(f, _)| f == field)
                .map(|(_, v)| v.as_str())
        };
        let key = &log.meta;
        if let Some(other) = get("sha256").filter(|other| *other != sha256) {
            return Err(failed(format!(
                "`{key}` holds the events of the component with sha256 {other}, not of this one \
                 ({sha256}); its aggregates may differ, so serve this component under another \
                 name or from another Redis database (to carry the events over, export them with \
                 the component that made it, from `GET /v1/events/NAME` of a server of it on this \
                 state or `Online::export`, and post them to this one's `/v1/events/NAME`)"
            )));
        }
        if let Some(other) = get("format").filter(|other| *other != FORMAT) {
            return Err(failed(format!(
                "`{key}` is in format {other}, and this skewless reads format {FORMAT}"
            )));
        }
        if let Some(other) = get("query_lag").filter(|other| *other != lag) {
            let seconds = |micros: &str| match micros.parse::<i64>().map(|m| m / 1_000_000) {
                Ok(s) if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
                Ok(s) if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
                Ok(s) if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
                Ok(s) => format!("{s}s"),
                Err(_) => micros.to_string(),
            };
            return Err(failed(format!(
                "`{key}` is served with a query lag of {}, and this replica was given {}; \
                 replicas of one state must keep the same (give --query-lag {})",
                seconds(other),
                seconds(&lag),
                seconds(other)
            )));
        }
        let time = |field: &str| -> Result<Option<i64>> {
            get(field)
                .map(|v| {
                    v.parse::<i64>()
                        .map_err(|_| failed(format!("its `{field}` (`{v}`) is not a time")))
                })
                .transpose()
        };
        let opened = Opened {
            floor: time("floor")?,
            created: time("created")?.unwrap_or(now),
        };
        Ok((log, conn, opened))
    }

    /// Where the state is, for messages (the URL without a password).
    pub(crate) fn location(&self) -> &str {
        &self.location
    }

    /// A new connection.
    pub(crate) fn connect(&self) -> Result<Connection> {
        let failed = |e: redis::RedisError| self.unavailable("cannot connect to the state", e);
        let conn = self
            .client
            .get_connection_with_timeout(TIMEOUT)
            .map_err(failed)?;
        conn.set_read_timeout(Some(TIMEOUT)).map_err(failed)?;
        conn.set_write_timeout(Some(TIMEOUT)).map_err(failed)?;
        Ok(conn)
    }

    fn unavailable(&self, action: &'static str, e: redis::RedisError) -> Error {
        Error::StateUnavailable {
            action,
            location: self.location.clone(),
            message: e.to_string(),
        }
    }

    /// Runs `command` on the connection in `conn`, opening one when there
    /// is none. On failure the connection is dropped (the next use opens
    /// another); a command safe to run twice (`repeatable`) whose
    /// connection had broken before this call is run once more on a new
    /// connection.
    fn run<T>(
        &self,
        conn: &mut Option<Connection>,
        action: &'static str,
        repeatable: bool,
        mut command: impl FnMut(&mut Connection) -> RedisResult<T>,
    ) -> Result<T> {
        let mut fresh = conn.is_none();
        loop {
            if conn.is_none() {
                *conn = Some(self.connect()?);
            }
            match command(conn.as_mut().expect("connected")) {
                Ok(answer) => return Ok(answer),
                Err(e) => {
                    *conn = None;
                    if repeatable && !fresh && e.is_connection_dropped() {
                        fresh = true;
                        continue;
                    }
                    return Err(self.unavailable(action, e));
                }
            }
        }
    }

    /// Up to `count` entries after number `after`, in order.
    pub(crate) fn read_after(
        &self,
        conn: &mut Option<Connection>,
        after: u64,
        count: usize,
    ) -> Result<Vec<Entry>> {
        let reply: Value = self.run(conn, "cannot read the state", true, |conn| {
            redis::cmd("XRANGE")
                .arg(&self.log)
                .arg(format!("({after}-0"))
                .arg("+")
                .arg("COUNT")
                .arg(count)
                .query(conn)
        })?;
        let unreadable = |what: &str| Error::StateUnavailable {
            action: "cannot read the state",
            location: self.location.clone(),
            message: format!("`{}` holds {what}", self.log),
        };
        let Value::Array(items) = reply else {
            return Err(unreadable("something other than a stream"));
        };
        items
            .into_iter()
            .map(|item| entry(item).ok_or_else(|| unreadable("an entry skewless did not write")))
            .collect()
    }

    /// Appends batch number `entry.seq` after number `entry.seq - 1`:
    /// `false` (and nothing written) when the stream already has a later
    /// one, appended by another replica.
    pub(crate) fn append(&self, conn: &mut Option<Connection>, entry: &Entry) -> Result<bool> {
        let answer: String = self.run(
            conn,
            "cannot write the events to the state (they may or may not have been written: \
             send them again, which an event id makes safe)",
            false,
            |conn| {
                redis::cmd("EVAL")
                    .arg(APPEND)
                    .arg(1)
                    .arg(&self.log)
                    .arg(format!("{}-0", entry.seq))
                    .arg(format!("{}-0", entry.seq - 1))
                    .arg(entry.arrival)
                    .arg(entry.newest)
                    .arg(entry.events.as_slice())
                    .query(conn)
            },
        )?;
        match answer.as_str() {
            "ok" => Ok(true),
            "behind" => Ok(false),
            lost => Err(Error::StateUnavailable {
                action: "cannot write the events to the state",
                location: self.location.clone(),
                message: format!(
                    "`{}` ends at entry {}, and this replica has applied up to entry {}: Redis \
                     lost acknowledged writes (run it with appendonly yes, appendfsync always \
                     and maxmemory-policy noeviction); restart the replicas to serve what it \
                     still holds",
                    self.log,
                    lost.trim_start_matches("lost ").trim_end_matches("-0"),
                    entry.seq - 1
                ),
            }),
        }
    }

    /// Forgets the entries before number `first_kept`, whose events are all
    /// older than `floor`.
    pub(crate) fn trim(
        &self,
        conn: &mut Option<Connection>,
        floor: i64,
        first_kept: u64,
    ) -> Result<()> {
        self.run(conn, "cannot expire events from the state", true, |conn| {
            redis::cmd("EVAL")
                .arg(TRIM)
                .arg(2)
                .arg(&self.meta)
                .arg(&self.log)
                .arg(floor)
                .arg(format!("{first_kept}-0"))
                .query::<Value>(conn)
        })
        .map(drop)
    }

    /// What Redis promises about an acknowledged write, as its settings
    /// say (`None` when it does not tell: `CONFIG` may be refused).
    pub(crate) fn durability(&self, conn: &mut Option<Connection>) -> Option<String> {
        let mut config = |name: &str| -> Option<String> {
            let pairs: Vec<String> = self
                .run(conn, "cannot read Redis's settings", true, |conn| {
                    redis::cmd("CONFIG").arg("GET").arg(name).query(conn)
                })
                .ok()?;
            pairs.get(1).cloned()
        };
        let appendonly = config("appendonly")?;
        let fsync = config("appendfsync")?;
        Some(if appendonly == "yes" && fsync == "always" {
            "durable (appendonly yes, appendfsync always)".to_string()
        } else {
            format!(
                "NOT durable across a crash of Redis (appendonly {appendonly}, appendfsync \
                 {fsync}; set appendonly yes and appendfsync always)"
            )
        })
    }
}

/// An entry of the stream: `[id, [field, value, ...]]`.
fn entry(item: Value) -> Option<Entry> {
    let Value::Array(mut parts) = item else {
        return None;
    };
    let (Some(Value::Array(fields)), Some(id)) = (parts.pop(), parts.pop()) else {
        return None;
    };
    let id = match id {
        Value::BulkString(bytes) => String::from_utf8(bytes).ok()?,
        Value::SimpleString(text) => text,
        _ => return None,
    };
    let seq = id.strip_suffix("-0")?.parse().ok()?;
    let (mut arrival, mut newest, mut events) = (None, None, None);
    let mut fields = fields.into_iter();
    while let (Some(Value::BulkString(name)), Some(Value::BulkString(value))) =
        (fields.next(), fields.next())
    {
        let number = || std::str::from_utf8(&value).ok()?.parse::<i64>().ok();
        match name.as_slice() {
            b"a" => arrival = number(),
            b"n" => newest = number(),
            b"e" => events = Some(value),
            _ => {}
        }
    }
    Some(Entry {
        seq,
        arrival: arrival?,
        newest: newest?,
        events: events?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_hide_passwords() {
        assert_eq!(
            redacted("redis://app:s3cret@10.0.0.5:6379/0"),
            "redis://***@10.0.0.5:6379/0"
        );
        assert_eq!(
            redacted("unix:///run/redis.sock?db=2&pass=s3cret&user=app"),
            "unix:///run/redis.sock?db=2&pass=***&user=app"
        );
        assert_eq!(
            redacted("redis+unix:///run/redis.sock?pass=s3cret"),
            "redis+unix:///run/redis.sock?pass=***"
        );
        assert_eq!(
            redacted("redis://10.0.0.5:6379/0"),
            "redis://10.0.0.5:6379/0"
        );
    }

    #[test]
    fn tls_urls_are_refused_by_name() {
        let error = RedisLog::open("rediss://:s3cret@10.0.0.5:6380/0", "t", "sha", 0, 0)
            .map(drop)
            .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("without TLS"), "{message}");
        assert!(message.contains("rediss://***@10.0.0.5"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }
}
