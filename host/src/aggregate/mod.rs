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

use crate::engine::{Transform, prepare_columns};
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

/// A batch of events as the engine keeps them: the key, the time, the
/// tie-break (when declared) and the event values the transform's
/// `events` computed, in [`event_schema`]'s columns.
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
    )?;
    if let Some(row) = (0..batch.num_rows()).find(|&row| engine[0].is_null(row)) {
        return Err(Error::InvalidValue {
            column: aggregation.key.name.clone(),
            row: row as u64,
            reason: "the event's key is null, so it is of no entity".into(),
        });
    }
    let mut columns = engine;
    columns.extend(values.columns().iter().cloned());
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
    Arc::new(Schema::new(fields))
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
    let columns = prepare_columns(transform.name(), &fields, batch, naive)?;
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

/// One entity's events, the newest time among them, and the ids of those
/// that carry one (with their times, so that they expire with them).
#[derive(Default)]
struct Entity {
    events: Vec<Event>,
    newest: i64,
    ids: HashMap<Value, i64>,
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
        self.entities.values().map(|e| e.events.len() as u64).sum()
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
            .filter(|e| !e.events.is_empty())
            .map(|e| e.newest)
    }

    /// Whether entity `key` holds an event with id `id`.
    pub(crate) fn has_id(&self, key: &Value, id: &Value) -> bool {
        self.entities
            .get(key)
            .is_some_and(|e| e.ids.contains_key(id))
    }

    /// Adds one event of entity `key`.
    pub(crate) fn apply(&mut self, key: Value, event: Event) {
        self.apply_with_id(key, event, None);
    }

    /// Adds one event of entity `key`, with its id when it has one.
    pub(crate) fn apply_with_id(&mut self, key: Value, event: Event, id: Option<Value>) {
        let entity = self.entities.entry(key).or_default();
        if entity.events.is_empty() || event.time > entity.newest {
            entity.newest = event.time;
        }
        if let Some(id) = id {
            entity.ids.insert(id, event.time);
        }
        if self.arrival_order {
            entity.events.push(event);
            return;
        }
        let at = entity.events.partition_point(|e| *e <= event);
        entity.events.insert(at, event);
    }

    /// Forgets every event older than `horizon` (and their ids), and the
    /// entities left with none; returns how many events it forgot.
    pub(crate) fn expire(&mut self, horizon: i64) -> u64 {
        let mut forgotten = 0;
        self.entities.retain(|_, entity| {
            let old = entity.events.partition_point(|e| e.time < horizon);
            if old > 0 {
                entity.events.drain(..old);
                entity.ids.retain(|_, time| *time >= horizon);
                forgotten += old as u64;
                // Room beyond twice what is held goes back (down to half
                // as much again as is held, so that a key whose count
                // wavers does not shrink and grow at every expiry):
                // otherwise each key keeps the most it ever held (a busy
                // hour once; every key's luckiest week, eventually), and a
                // state holding the same number of events grows with
                // uptime (`state_memory` in benches/ measured +25% live
                // heap in 16 minutes without this).
                let (len, ids) = (entity.events.len(), entity.ids.len());
                if entity.events.capacity() > 2 * len.max(4) {
                    entity.events.shrink_to(len + len / 2);
                }
                if entity.ids.capacity() > 2 * ids.max(4) {
                    entity.ids.shrink_to(ids + ids / 2);
                }
            }
            !entity.events.is_empty()
        });
        forgotten
    }

    /// The aggregates of entity `key` as of `t`.
    pub(crate) fn query(&self, key: &Value, t: i64) -> Result<Vec<Answer>, String> {
        let events = self
            .entities
            .get(key)
            .map_or(&[][..], |e| e.events.as_slice());
        // Only the events the longest window can reach.
        let start = t.saturating_sub(self.plan.longest_window());
        let (from, to) = if self.arrival_order {
            (0, events.len())
        } else {
            (
                events.partition_point(|e| e.time < start),
                events.partition_point(|e| e.time < t),
            )
        };
        let mut answer = Err(String::new());
        self.plan
            .answer(&events[from..to], &[t], |_, result| answer = result);
        answer
    }
}
