//! Aggregations over events: counts, sums, means, extremes, distinct
//! counts and the latest values of an entity's events in time windows,
//! computed by one engine for backfills, serving, `verify` and the Python
//! package.
//!
//! A transform declares them ([`crate::spec::Aggregation`]); its `events`
//! export computes each event's values (and filters) from the event's
//! columns; the engine keeps each entity's events in one total order and
//! answers "as of `t`" from them ([`window`]); the transform's row function
//! then reads the aggregates as inputs beside the request's columns.
//!
//! The semantics, the same on every path:
//!
//! - An event counts for the query (key `k`, time `t`) in a window of
//!   length `W` exactly when its key is `k`, `t - W <= time < t` (the event
//!   being scored never counts in its own features) and its filter, if
//!   any, is true (a null filter is false).
//! - `count()` counts events; every function of a value skips a null
//!   value (`count(v)` counts the values that are not null).
//! - Integer sums are exact (int64; beyond it, the row fails); float sums
//!   are the exact sum of the values rounded once ([`exact_sum`]); `mean` is
//!   that rounded sum over the count of values; `min`, `max`, `first`,
//!   `last` and `count_distinct` follow [`value`]'s order and equality;
//!   `first`/`last` are by event time, then the declared tie-break, then
//!   the event's values, so equal times give one answer.
//! - An empty window gives 0 for counts and sums and null for the rest.
//! - Nothing depends on the order events arrive in, or how they are split
//!   across batches, threads, files or partitions.

pub(crate) mod backfill;
pub(crate) mod exact_sum;
pub(crate) mod live;
pub(crate) mod shared;
pub(crate) mod value;
pub(crate) mod window;

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch};
use arrow::datatypes::{Schema, SchemaRef};

pub(crate) use value::Value;
pub(crate) use window::{Answer, Event, Plan};

use crate::engine::{Setting, Transform, prepare_columns};
use crate::error::{Error, Result};
use crate::spec::{Aggregation, DataType, Field, NaiveTimestamps, ScalarType};

/// The aggregation of `transform`, or the error a caller who passed events
/// to a transform without one gets.
pub(crate) fn declared(transform: &Transform) -> Result<&Aggregation> {
    transform.info().aggregation.as_ref().ok_or_else(|| {
        Error::BadRequest(format!(
            "transform `{}` declares no aggregations, so it takes no events",
            transform.name()
        ))
    })
}

/// Refuses events given to a backfill (or `verify`) of a transform that
/// declares no aggregations, and none given for one that does, naming the
/// option to set ([`Setting::Events`]).
pub(crate) fn check_events_given(transform: &Transform, given: bool) -> Result<()> {
    let reason = match (&transform.info().aggregation, given) {
        // Not an option to set: an option to drop.
        (None, true) => return declared(transform).map(|_| ()),
        (Some(_), false) => format!(
            "none is given, and transform `{}` aggregates events: give the events file \
             beside the input, whose rows are the spine (key, time, and the other inputs)",
            transform.name()
        ),
        _ => return Ok(()),
    };
    Err(Error::InvalidSetting {
        setting: Setting::Events,
        reason,
    })
}

/// `error`, when it is about the key or the time column of events, a
/// spine or a request, with what fixes it there. They are declared with
/// the events (`key = "user_id: int64"`), not as the row function's
/// inputs, so the hints about those (`Option<_>`, "declare the input
/// float64") do not apply.
pub(crate) fn about_key_or_time(aggregation: &Aggregation, error: Error) -> Error {
    let role = |column: &str| {
        if column == aggregation.key.name {
            Some("key")
        } else if column == aggregation.event_time || column == aggregation.request_time {
            Some("time")
        } else {
            None
        }
    };
    let is_id = |column: &str| {
        aggregation
            .event_id
            .as_ref()
            .is_some_and(|id| id.name == column)
    };
    match error {
        Error::UnexpectedNull {
            transform,
            column,
            row,
            ..
        } if is_id(&column) => Error::UnexpectedNull {
            hint: format!(
                ": it is the events' id (`event_id = \"{column}\"`), which tells a retried event \
                 from a new one, so every event needs one; give such events an id where the data \
                 is produced, or declare no `event_id` if the events have none"
            ),
            transform,
            column,
            row,
        },
        Error::UnexpectedNull {
            transform,
            column,
            row,
            ..
        } if role(&column).is_some() => Error::UnexpectedNull {
            hint: format!(
                ": it is the aggregation's {}; drop or fill such rows where the data is produced",
                match role(&column) {
                    Some("key") => "key, which every event, spine row and request needs",
                    // A request may leave its time out, or null: it is then
                    // answered as of now.
                    _ => "time, which every event and spine row needs",
                }
            ),
            transform,
            column,
            row,
        },
        Error::WrongType {
            transform,
            column,
            expected,
            found,
            ..
        } if role(&column).is_some() => Error::WrongType {
            hint: if role(&column) == Some("key") {
                format!(
                    "; the key's type is declared with the events (`key = \"{column}: int64\"`; \
                     utf8 when not said): declare the type the data has, or convert the column \
                     where the data is produced"
                )
            } else {
                "; the aggregation's time is a timestamp with a time zone: convert the column \
                 where the data is produced (pandas: `pd.to_datetime(df[column], utc=True)`)"
                    .to_string()
            },
            transform,
            column,
            expected,
            found,
        },
        Error::WrongValue {
            column,
            row,
            expected,
            found,
            hint,
        } if role(&column) == Some("key") && hint.is_empty() => Error::WrongValue {
            hint: format!(
                "; it is the aggregation's key, whose type is declared with the events \
                 (`key = \"{column}: int64\"`; utf8 when not said): send the type declared, or \
                 declare the type the keys have"
            ),
            column,
            row,
            expected,
            found,
        },
        Error::WrongValue {
            column,
            row,
            expected,
            found,
            hint,
        } if is_id(&column) && hint.is_empty() => Error::WrongValue {
            hint: format!(
                "; it is the events' id, whose type is declared with the events \
                 (`event_id = \"{column}: int64\"`; utf8 when not said): send the type declared, \
                 or declare the type the ids have"
            ),
            column,
            row,
            expected,
            found,
        },
        Error::WrongType {
            transform,
            column,
            expected,
            found,
            ..
        } if is_id(&column) => Error::WrongType {
            hint: format!(
                "; the events' id type is declared with the events (`event_id = \"{column}: \
                 int64\"`; utf8 when not said): declare the type the data has, or convert the \
                 column where the data is produced"
            ),
            transform,
            column,
            expected,
            found,
        },
        Error::InFile {
            action,
            path,
            error,
        } => Error::InFile {
            action,
            path,
            error: Box::new(about_key_or_time(aggregation, *error)),
        },
        other => other,
    }
}

/// A batch of events as the engine keeps them: the key, the time, the
/// tie-break (when declared), the event values the transform's `events`
/// computed and the event id (when declared), in [`event_schema`]'s
/// columns.
pub(crate) fn event_batch(
    transform: &Transform,
    batch: &RecordBatch,
    naive: NaiveTimestamps,
) -> Result<RecordBatch> {
    let aggregation = declared(transform)?;
    let values = transform.call_events(batch)?;
    let engine = prepare_columns(
        transform.name(),
        &aggregation.engine_columns(),
        batch,
        naive,
    )
    .map_err(|e| about_key_or_time(aggregation, e))?;
    if let Some(row) = (0..batch.num_rows()).find(|&row| engine[0].is_null(row)) {
        return Err(Error::InvalidValue {
            column: aggregation.key.name.clone(),
            row: row as u64,
            reason: "the event's key is null, so it is of no entity".into(),
        });
    }
    let mut columns = engine;
    columns.extend(values.columns().iter().cloned());
    if let Some(id) = &aggregation.event_id {
        columns.extend(prepare_columns(
            transform.name(),
            std::slice::from_ref(id),
            batch,
            naive,
        )?);
    }
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(event_schema(aggregation), columns, &options)
        .map_err(|e| Error::Runtime(format!("cannot assemble the events: {e}")))
}

/// The schema of [`event_batch`]es.
pub(crate) fn event_schema(aggregation: &Aggregation) -> SchemaRef {
    let mut fields = vec![
        Field {
            name: "__key".into(),
            ..aggregation.key.clone()
        }
        .arrow(),
        Field {
            name: "__time".into(),
            data_type: DataType::TimestampMicros,
            nullable: false,
        }
        .arrow(),
    ];
    if let Some(tie) = &aggregation.tie_break {
        fields.push(
            Field {
                name: "__tie".into(),
                ..tie.clone()
            }
            .arrow(),
        );
    }
    fields.extend(aggregation.event_values.iter().map(Field::arrow));
    if let Some(id) = &aggregation.event_id {
        fields.push(
            Field {
                name: ID.into(),
                nullable: true,
                ..id.clone()
            }
            .arrow(),
        );
    }
    Arc::new(Schema::new(fields))
}

/// The column of an [`event_batch`] holding each event's declared id.
const ID: &str = "__id";

/// The declared id of each event of an [`event_batch`] (`None`: no id
/// declared, or a null one).
pub(crate) fn ids_of(aggregation: &Aggregation, batch: &RecordBatch) -> Vec<Option<Value>> {
    let Some(field) = &aggregation.event_id else {
        return vec![None; batch.num_rows()];
    };
    let scalar = field.data_type.scalar().expect("a scalar event id");
    let column = batch.column_by_name(ID).expect("the events' id column");
    (0..batch.num_rows())
        .map(|row| Some(value::read(column.as_ref(), scalar, row)).filter(|id| !id.is_null()))
        .collect()
}

/// The events of an [`event_batch`]: each one's key, and the event.
pub(crate) fn events_of(aggregation: &Aggregation, batch: &RecordBatch) -> Vec<(Value, Event)> {
    let key_type = aggregation.key.data_type.scalar().expect("a scalar key");
    let tie_type = aggregation
        .tie_break
        .as_ref()
        .map(|f| f.data_type.scalar().expect("a scalar tie-break"));
    let first_value = if tie_type.is_some() { 3 } else { 2 };
    let value_types: Vec<ScalarType> = aggregation
        .event_values
        .iter()
        .map(|f| {
            f.data_type
                .scalar()
                .expect("event values of aggregates are scalars")
        })
        .collect();
    let times = batch
        .column(1)
        .as_any()
        .downcast_ref::<arrow::array::TimestampMicrosecondArray>()
        .expect("a timestamp column");
    (0..batch.num_rows())
        .map(|row| {
            let key = value::read(batch.column(0).as_ref(), key_type, row);
            let tie = match tie_type {
                Some(tie_type) => value::read(batch.column(2).as_ref(), tie_type, row),
                None => Value::Null,
            };
            let values = batch.columns()[first_value..]
                .iter()
                .zip(&value_types)
                .map(|(column, &scalar)| value::read(column.as_ref(), scalar, row))
                .collect();
            (
                key,
                Event {
                    time: times.value(row),
                    tie,
                    values,
                },
            )
        })
        .collect()
}

/// A batch of queries (requests, or a spine's rows): each one's key and
/// time. A null key or time is refused with its row.
pub(crate) fn read_queries(
    transform: &Transform,
    batch: &RecordBatch,
    naive: NaiveTimestamps,
) -> Result<Vec<(Value, i64)>> {
    let aggregation = declared(transform)?;
    let fields = [
        aggregation.key.clone(),
        Field {
            name: aggregation.request_time.clone(),
            data_type: DataType::TimestampMicros,
            nullable: false,
        },
    ];
    let columns = prepare_columns(transform.name(), &fields, batch, naive)
        .map_err(|e| about_key_or_time(aggregation, e))?;
    let key_type = aggregation.key.data_type.scalar().expect("a scalar key");
    let times = columns[1]
        .as_any()
        .downcast_ref::<arrow::array::TimestampMicrosecondArray>()
        .expect("a timestamp column");
    (0..batch.num_rows())
        .map(|row| {
            let key = value::read(columns[0].as_ref(), key_type, row);
            if key.is_null() {
                return Err(Error::InvalidValue {
                    column: aggregation.key.name.clone(),
                    row: row as u64,
                    reason: "the key is null, so the row is of no entity".into(),
                });
            }
            Ok((key, times.value(row)))
        })
        .collect()
}

/// One column per aggregate from each query's answers (`None`: the query
/// failed, and its aggregates are null).
pub(crate) fn answer_columns(plan: &Plan, answers: &[Option<&[Answer]>]) -> Vec<ArrayRef> {
    plan.aggregates
        .iter()
        .enumerate()
        .map(|(index, aggregate)| {
            let mut builder = value::Builder::new(aggregate.output);
            for row in answers {
                match row.map(|answers| &answers[index]) {
                    Some(Answer::One(value)) => builder.push(value),
                    Some(Answer::Many(values)) => builder.push_list(values.iter()),
                    None => builder.push(&Value::Null),
                }
            }
            builder.finish()
        })
        .collect()
}

/// `batch` (requests, or a spine's rows) with one column per aggregate
/// appended, named after it, from each row's answers (`None`: null), as
/// the row function takes them.
pub(crate) fn with_answers(
    plan: &Plan,
    batch: &RecordBatch,
    answers: &[Option<&[Answer]>],
) -> Result<RecordBatch> {
    let columns = answer_columns(plan, answers);
    let schema = batch.schema();
    let mut fields = schema.fields().to_vec();
    let mut all = batch.columns().to_vec();
    for (aggregate, column) in plan.aggregates.iter().zip(columns) {
        fields.push(Arc::new(arrow::datatypes::Field::new(
            &aggregate.name,
            aggregate.output.arrow(),
            true,
        )));
        all.push(column);
    }
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(
        Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())),
        all,
        &options,
    )
    .map_err(|e| Error::Runtime(format!("cannot append the aggregates: {e}")))
}

/// Live state: every entity's events, kept in their order, answering
/// queries as of any time. The incremental path (`verify` applies events
/// to it one at a time, in a shuffled order) and, in serving, the state
/// behind requests ([`live`] adds the rules of ingestion and durability).
pub(crate) struct State {
    plan: Arc<Plan>,
    entities: HashMap<Value, Entity>,
    arrival_order: bool,
}

/// One entity's events, held compactly: their times, and each one's
/// tie-break and values encoded ([`Value::encode`]) one after another in
/// one buffer, both in the events' one order; the newest time among them;
/// the ids of those that carry one (with their times, so that they expire
/// with them).
///
/// Compact because a served state holds millions of events for as long
/// as the process runs: an [`Event`] is three allocations (itself in a
/// vector, its boxed values, a string), and a state of them held 197
/// bytes of heap per card transaction; this layout holds 67
/// (`state_memory` in benches/, BENCHMARKS.md), in three vectors per
/// entity whatever it holds. Queries decode the events their windows
/// reach.
#[derive(Default)]
struct Entity {
    times: Vec<i64>,
    /// Where each event's bytes end in `bytes`.
    ends: Vec<usize>,
    bytes: Vec<u8>,
    newest: i64,
    ids: HashMap<Value, i64>,
}

impl Entity {
    fn len(&self) -> usize {
        self.times.len()
    }

    /// The events `from..to`, decoded.
    #[cfg(test)]
    fn events(&self, from: usize, to: usize) -> Vec<Event> {
        (from..to).map(|i| self.event(i)).collect()
    }

    /// The events `from..to` as the engine reads them: their values
    /// decoded into one vector.
    fn decoded(&self, from: usize, to: usize) -> Decoded<'_> {
        let mut start = if from == 0 { 0 } else { self.ends[from - 1] };
        let mut values = Vec::new();
        let mut width = 0;
        for i in from..to {
            let mut bytes = &self.bytes[start..self.ends[i]];
            start = self.ends[i];
            // The tie-break orders the events; the engine reads no more.
            Value::decode(&mut bytes).expect("the state decodes what it encoded");
            while !bytes.is_empty() {
                values.push(Value::decode(&mut bytes).expect("the state decodes what it encoded"));
            }
            if i == from {
                width = values.len();
                values.reserve((to - from - 1) * width);
            }
        }
        Decoded {
            times: &self.times[from..to],
            values,
            width,
        }
    }

    fn event(&self, i: usize) -> Event {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        let mut bytes = &self.bytes[start..self.ends[i]];
        let mut values = Vec::new();
        while !bytes.is_empty() {
            values.push(Value::decode(&mut bytes).expect("the state decodes what it encoded"));
        }
        let mut values = values.into_iter();
        let tie = values
            .next()
            .expect("an event's bytes start with its tie-break");
        Event {
            time: self.times[i],
            tie,
            values: values.collect(),
        }
    }

    /// Where `event` goes in the one order: after every event not greater.
    fn position(&self, event: &Event) -> usize {
        let from = self.times.partition_point(|&t| t < event.time);
        let (mut lo, mut hi) = (
            from,
            from + self.times[from..].partition_point(|&t| t <= event.time),
        );
        // Events of the same time: ordered by their tie-break and values.
        while lo < hi {
            let middle = lo + (hi - lo) / 2;
            if self.event(middle) <= *event {
                lo = middle + 1;
            } else {
                hi = middle;
            }
        }
        lo
    }

    /// Puts `event` at `at`.
    fn insert(&mut self, at: usize, event: &Event) {
        let offset = if at == 0 { 0 } else { self.ends[at - 1] };
        let old = self.bytes.len();
        event.tie.encode(&mut self.bytes);
        for value in &event.values {
            value.encode(&mut self.bytes);
        }
        let size = self.bytes.len() - old;
        // Into place (a no-op for the newest, the usual case).
        self.bytes[offset..].rotate_right(size);
        for end in &mut self.ends[at..] {
            *end += size;
        }
        self.ends.insert(at, offset + size);
        self.times.insert(at, event.time);
    }

    /// Forgets the events older than `horizon` (and their ids); returns how
    /// many.
    fn expire(&mut self, horizon: i64) -> usize {
        let old = self.times.partition_point(|&t| t < horizon);
        if old == 0 {
            return 0;
        }
        let cut = self.ends[old - 1];
        self.times.drain(..old);
        self.ends.drain(..old);
        for end in &mut self.ends {
            *end -= cut;
        }
        self.bytes.drain(..cut);
        self.ids.retain(|_, time| *time >= horizon);
        // Room beyond twice what is held goes back (down to half as much
        // again as is held, so that a key whose count wavers does not
        // shrink and grow at every expiry): otherwise each key keeps the
        // most it ever held (a busy hour once; every key's luckiest week,
        // eventually), and a state holding the same number of events
        // grows with uptime (`state_memory` in benches/ measured +25% live
        // heap in 16 minutes without this).
        fn trim<T>(vector: &mut Vec<T>, len: usize) {
            if vector.capacity() > 2 * len.max(4) {
                vector.shrink_to(len + len / 2);
            }
        }
        let (len, bytes) = (self.times.len(), self.bytes.len());
        trim(&mut self.times, len);
        trim(&mut self.ends, len);
        trim(&mut self.bytes, bytes);
        if self.ids.capacity() > 2 * self.ids.len().max(4) {
            let ids = self.ids.len();
            self.ids.shrink_to(ids + ids / 2);
        }
        old
    }
}

/// Events of an [`Entity`], decoded for a query.
struct Decoded<'a> {
    times: &'a [i64],
    values: Vec<Value>,
    /// Values per event.
    width: usize,
}

impl window::Events for Decoded<'_> {
    fn len(&self) -> usize {
        self.times.len()
    }
    fn time(&self, i: usize) -> i64 {
        self.times[i]
    }
    fn values(&self, i: usize) -> &[Value] {
        &self.values[i * self.width..(i + 1) * self.width]
    }
}

impl State {
    pub(crate) fn new(plan: Arc<Plan>) -> State {
        State {
            plan,
            entities: HashMap::new(),
            arrival_order: false,
        }
    }

    /// Breaks the engine on purpose: events are kept in the order they
    /// arrive, not in their one order (for tests that `verify` notices).
    pub(crate) fn keep_arrival_order(&mut self) {
        self.arrival_order = true;
    }

    /// Events it holds.
    pub(crate) fn events(&self) -> u64 {
        self.entities.values().map(|e| e.len() as u64).sum()
    }

    /// Entities it holds events of.
    pub(crate) fn entities(&self) -> u64 {
        self.entities.len() as u64
    }

    /// The plan it answers with.
    pub(crate) fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The time of entity `key`'s newest event, if it has one.
    pub(crate) fn newest(&self, key: &Value) -> Option<i64> {
        self.entities
            .get(key)
            .filter(|e| e.len() > 0)
            .map(|e| e.newest)
    }

    /// Whether entity `key` holds an event with id `id`.
    pub(crate) fn has_id(&self, key: &Value, id: &Value) -> bool {
        self.entities
            .get(key)
            .is_some_and(|e| e.ids.contains_key(id))
    }

    /// Adds one event of entity `key`, with its id when it has one.
    pub(crate) fn apply_with_id(&mut self, key: Value, event: Event, id: Option<Value>) {
        let entity = self.entities.entry(key).or_default();
        if entity.len() == 0 || event.time > entity.newest {
            entity.newest = event.time;
        }
        if let Some(id) = id {
            entity.ids.insert(id, event.time);
        }
        let at = if self.arrival_order {
            entity.len()
        } else {
            entity.position(&event)
        };
        entity.insert(at, &event);
    }

    /// Forgets every event older than `horizon` (and their ids), and the
    /// entities left with none; returns how many events it forgot.
    pub(crate) fn expire(&mut self, horizon: i64) -> u64 {
        let mut forgotten = 0;
        self.entities.retain(|_, entity| {
            forgotten += entity.expire(horizon) as u64;
            entity.len() > 0
        });
        forgotten
    }

    /// The aggregates of entity `key` as of `t`.
    pub(crate) fn query(&self, key: &Value, t: i64) -> Result<Vec<Answer>, String> {
        // Only the events the longest window can reach.
        let start = t.saturating_sub(self.plan.longest_window());
        let mut answer = Err(String::new());
        let Some(entity) = self.entities.get(key) else {
            self.plan.answer(&[][..], &[t], |_, result| answer = result);
            return answer;
        };
        let events = if self.arrival_order {
            entity.decoded(0, entity.len())
        } else {
            entity.decoded(
                entity.times.partition_point(|&time| time < start),
                entity.times.partition_point(|&time| time < t),
            )
        };
        self.plan.answer(&events, &[t], |_, result| answer = result);
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events with many equal times, tie-breaks and values (text of
    /// several lengths, nulls), so that the order within a time matters.
    fn events(n: usize, mut seed: u64) -> Vec<Event> {
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        (0..n)
            .map(|_| Event {
                time: (next() % 20) as i64,
                tie: match next() % 3 {
                    0 => Value::Null,
                    _ => Value::Int((next() % 3) as i64),
                },
                values: vec![
                    Value::F64((next() % 4) as f64 / 2.0),
                    match next() % 4 {
                        0 => Value::Null,
                        n => Value::Text("m".repeat(n as usize).into()),
                    },
                ]
                .into(),
            })
            .collect()
    }

    fn held(entity: &Entity) -> Vec<Event> {
        entity.events(0, entity.len())
    }

    #[test]
    fn an_entity_holds_its_events_in_their_one_order_whatever_order_they_came_in() {
        for seed in 1..20u64 {
            let mut sorted = events(200, seed);
            let mut entity = Entity::default();
            for event in &sorted {
                entity.insert(entity.position(event), event);
            }
            sorted.sort();
            assert_eq!(held(&entity), sorted, "seed {seed}");

            let forgotten = entity.expire(7);
            let kept: Vec<Event> = sorted.iter().filter(|e| e.time >= 7).cloned().collect();
            assert_eq!(forgotten, sorted.len() - kept.len());
            assert_eq!(held(&entity), kept, "seed {seed}, after expiry");
            // And it goes on taking events after expiry.
            let mut more = kept;
            for event in events(50, seed + 100) {
                entity.insert(entity.position(&event), &event);
                more.push(event);
            }
            more.sort();
            assert_eq!(held(&entity), more, "seed {seed}, after more events");
            // What queries read: any range, as the engine sees it.
            for (from, to) in [(0, more.len()), (3, 40), (17, 18), (9, 9)] {
                use window::Events as _;
                let decoded = entity.decoded(from, to);
                assert_eq!(decoded.len(), to - from);
                for (i, event) in more[from..to].iter().enumerate() {
                    assert_eq!(decoded.time(i), event.time);
                    assert_eq!(decoded.values(i), &event.values[..]);
                }
            }
        }
    }

    #[test]
    fn an_entity_gives_back_room_when_its_events_expire() {
        let mut entity = Entity::default();
        for time in 0..10_000 {
            let event = Event {
                time,
                tie: Value::Null,
                values: vec![Value::Text("merchant".into())].into(),
            };
            entity.insert(entity.len(), &event);
        }
        assert_eq!(entity.expire(9_990), 9_990);
        assert_eq!(entity.len(), 10);
        assert!(entity.times.capacity() <= 20, "{}", entity.times.capacity());
        assert!(entity.ends.capacity() <= 20, "{}", entity.ends.capacity());
        assert!(entity.bytes.capacity() <= 2 * entity.bytes.len());
    }
}
