//! The engine itself: the aggregates of one entity's events as of query
//! times, by sliding each window over the events in their one order.
//!
//! An entity's events are sorted by (time, tie-break, values), a total
//! order, so their sequence does not depend on the order they arrived in.
//! Queries are answered in order of their time: for a window of length
//! `W` and a query at `t`, the events with `t - W <= time < t` are in the
//! accumulators, having been added when `t` passed them and removed when
//! `t - W` did. Every accumulator's state is a function of the multiset
//! of events in it (integer counts and sums, an exact float sum, counted
//! maps, and for `first`/`last`/`last_n`/`seconds_since_last` the
//! qualifying events in their order), so the answer is the same whether
//! a window was reached by sliding through a backfill's million queries
//! or built for one request from a handful of stored events.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::exact_sum::ExactSum;
use super::value::Value;
use crate::spec::{AggregateFunction, Aggregation, DataType, ScalarType};

/// One event: its time, and what orders events of the same time (the
/// tie-break value, then every event value in declared order).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Event {
    pub(crate) time: i64,
    pub(crate) tie: Value,
    pub(crate) values: Box<[Value]>,
}

/// Events in their one order, as the engine reads them: each one's time
/// and values (the tie-break only orders them).
pub(crate) trait Events {
    fn len(&self) -> usize;
    fn time(&self, i: usize) -> i64;
    fn values(&self, i: usize) -> &[Value];
}

impl Events for [Event] {
    fn len(&self) -> usize {
        <[Event]>::len(self)
    }
    fn time(&self, i: usize) -> i64 {
        self[i].time
    }
    fn values(&self, i: usize) -> &[Value] {
        &self[i].values
    }
}

/// What an aggregate gives for one query.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Answer {
    One(Value),
    /// `last_n`: the values, oldest first.
    Many(Vec<Value>),
}

/// An aggregate, resolved against the declaration.
#[derive(Clone, Debug)]
pub(crate) struct Planned {
    pub(crate) name: String,
    pub(crate) function: AggregateFunction,
    /// Index of its value among the event values.
    pub(crate) value: Option<usize>,
    pub(crate) value_type: Option<ScalarType>,
    /// Index of its filter among the event values.
    pub(crate) filter: Option<usize>,
    pub(crate) window: i64,
    /// What it gives.
    pub(crate) output: DataType,
}

/// Aggregates sharing one window length.
#[derive(Clone, Debug)]
struct Group {
    window: i64,
    members: Vec<usize>,
}

/// The aggregates of a declaration, ready to run.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub(crate) aggregates: Vec<Planned>,
    groups: Vec<Group>,
    longest: i64,
}

impl Plan {
    /// The plan of a declaration that [`Aggregation::validate`] accepted.
    pub(crate) fn new(aggregation: &Aggregation) -> Plan {
        let position = |name: &Option<String>| {
            name.as_ref().map(|name| {
                aggregation
                    .event_values
                    .iter()
                    .position(|f| &f.name == name)
                    .expect("a validated declaration")
            })
        };
        let aggregates: Vec<Planned> = aggregation
            .aggregates
            .iter()
            .map(|a| {
                let value = position(&a.value);
                let value_type = value.map(|i| {
                    aggregation.event_values[i]
                        .data_type
                        .scalar()
                        .expect("a validated declaration")
                });
                Planned {
                    name: a.name.clone(),
                    function: a.function,
                    value,
                    value_type,
                    filter: position(&a.filter),
                    window: a.window_micros,
                    output: a
                        .function
                        .output(value_type.map(DataType::from))
                        .expect("a validated declaration")
                        .0,
                }
            })
            .collect();
        let mut groups: Vec<Group> = Vec::new();
        for (index, aggregate) in aggregates.iter().enumerate() {
            match groups.iter_mut().find(|g| g.window == aggregate.window) {
                Some(group) => group.members.push(index),
                None => groups.push(Group {
                    window: aggregate.window,
                    members: vec![index],
                }),
            }
        }
        let longest = aggregates.iter().map(|a| a.window).max().unwrap_or(0);
        Plan {
            aggregates,
            groups,
            longest,
        }
    }

    /// The longest window: how far back a query reads.
    pub(crate) fn longest_window(&self) -> i64 {
        self.longest
    }

    /// The answers of every aggregate for each query time in `times`
    /// (ascending), over `events` (sorted in their order: what the answers
    /// assume, and what a test of `verify` breaks): one row of answers per query,
    /// in order, or why an answer cannot be given (a sum beyond its type).
    pub(crate) fn answer<E: Events + ?Sized>(
        &self,
        events: &E,
        times: &[i64],
        mut each: impl FnMut(usize, Result<Vec<Answer>, String>),
    ) {
        debug_assert!(times.windows(2).all(|pair| pair[0] <= pair[1]));
        let mut windows: Vec<Sliding> = self
            .groups
            .iter()
            .map(|group| Sliding {
                window: group.window,
                lo: 0,
                hi: 0,
                members: group
                    .members
                    .iter()
                    .map(|&i| (i, Accumulator::new(&self.aggregates[i])))
                    .collect(),
            })
            .collect();
        let mut previous: Option<(i64, Result<Vec<Answer>, String>)> = None;
        for (query, &t) in times.iter().enumerate() {
            if let Some((time, answers)) = &previous
                && *time == t
            {
                each(query, answers.clone());
                continue;
            }
            let mut answers = vec![Answer::One(Value::Null); self.aggregates.len()];
            let mut failed = None;
            for window in &mut windows {
                window.slide(&self.aggregates, events, t);
                for (index, accumulator) in &window.members {
                    match Plan::read(&self.aggregates[*index], accumulator, t) {
                        Ok(answer) => answers[*index] = answer,
                        Err(why) => {
                            failed.get_or_insert(format!(
                                "aggregate `{}`: {why}",
                                self.aggregates[*index].name
                            ));
                        }
                    }
                }
            }
            let result = match failed {
                Some(why) => Err(why),
                None => Ok(answers),
            };
            each(query, result.clone());
            previous = Some((t, result));
        }
    }
}

/// One window length sliding over the events.
struct Sliding {
    window: i64,
    /// Events `lo..hi` are in the accumulators.
    lo: usize,
    hi: usize,
    members: Vec<(usize, Accumulator)>,
}

impl Sliding {
    /// Moves the window to end at `t`: events with `t - window <= time < t`.
    fn slide<E: Events + ?Sized>(&mut self, plan: &[Planned], events: &E, t: i64) {
        let start = t.saturating_sub(self.window);
        while self.lo < self.hi && events.time(self.lo) < start {
            for (index, accumulator) in &mut self.members {
                accumulator.remove(&plan[*index], events.time(self.lo), events.values(self.lo));
            }
            self.lo += 1;
        }
        if self.lo == self.hi {
            // Nothing in the window: skip what ends before it unread.
            while self.hi < events.len() && events.time(self.hi) < start {
                self.hi += 1;
            }
            self.lo = self.hi;
        }
        while self.hi < events.len() && events.time(self.hi) < t {
            for (index, accumulator) in &mut self.members {
                accumulator.add(&plan[*index], events.time(self.hi), events.values(self.hi));
            }
            self.hi += 1;
        }
    }
}

/// The running state of one aggregate over the events in its window.
enum Accumulator {
    Count(i64),
    SumInt(i128),
    SumFloat(Box<ExactSum>),
    SumDecimal(i128),
    MeanInt {
        sum: i128,
        count: i64,
    },
    MeanFloat {
        sum: Box<ExactSum>,
        count: i64,
    },
    Extreme {
        max: bool,
        values: BTreeMap<Value, u32>,
    },
    Distinct(HashMap<Value, u32>),
    /// The qualifying events in the window, in their order: their times
    /// and values.
    Recent(VecDeque<(i64, Value)>),
}

impl Accumulator {
    fn new(planned: &Planned) -> Accumulator {
        use AggregateFunction as F;
        let float = matches!(
            planned.value_type,
            Some(ScalarType::Float32 | ScalarType::Float64)
        );
        match planned.function {
            F::Count => Accumulator::Count(0),
            F::CountDistinct => Accumulator::Distinct(HashMap::new()),
            F::Sum if float => Accumulator::SumFloat(Box::default()),
            F::Sum if matches!(planned.value_type, Some(ScalarType::Decimal { .. })) => {
                Accumulator::SumDecimal(0)
            }
            F::Sum => Accumulator::SumInt(0),
            F::Mean if float => Accumulator::MeanFloat {
                sum: Box::default(),
                count: 0,
            },
            F::Mean => Accumulator::MeanInt { sum: 0, count: 0 },
            F::Min | F::Max => Accumulator::Extreme {
                max: planned.function == F::Max,
                values: BTreeMap::new(),
            },
            F::First | F::Last | F::LastN(_) | F::SecondsSinceLast => {
                Accumulator::Recent(VecDeque::new())
            }
        }
    }

    /// The event's value for this aggregate, when the event counts (its
    /// filter holds) and has one (`Value::Null` for an aggregate of events
    /// rather than values); `None` when it does not count.
    fn take<'e>(planned: &Planned, values: &'e [Value]) -> Option<&'e Value> {
        if let Some(filter) = planned.filter
            && !matches!(values[filter], Value::Bool(true))
        {
            return None;
        }
        match planned.value {
            None => Some(&Value::Null),
            Some(index) if values[index].is_null() => None,
            Some(index) => Some(&values[index]),
        }
    }

    /// Adds the event of time `time` and values `values`.
    fn add(&mut self, planned: &Planned, time: i64, values: &[Value]) {
        let Some(value) = Self::take(planned, values) else {
            return;
        };
        match self {
            Accumulator::Count(n) => *n += 1,
            Accumulator::SumInt(sum) => *sum += int(value),
            Accumulator::SumDecimal(sum) => *sum += decimal(value),
            Accumulator::SumFloat(sum) => sum.add(float(value)),
            Accumulator::MeanInt { sum, count } => {
                *sum += int(value);
                *count += 1;
            }
            Accumulator::MeanFloat { sum, count } => {
                sum.add(float(value));
                *count += 1;
            }
            Accumulator::Extreme { values, .. } => *values.entry(value.clone()).or_insert(0) += 1,
            Accumulator::Distinct(values) => *values.entry(value.clone()).or_insert(0) += 1,
            Accumulator::Recent(events) => events.push_back((time, value.clone())),
        }
    }

    /// Removes the oldest event added, of time `time` and values `values`.
    fn remove(&mut self, planned: &Planned, time: i64, values: &[Value]) {
        let Some(value) = Self::take(planned, values) else {
            return;
        };
        let forget = |values: &mut BTreeMap<Value, u32>| {
            if let Some(count) = values.get_mut(value) {
                *count -= 1;
                if *count == 0 {
                    values.remove(value);
                }
            }
        };
        match self {
            Accumulator::Count(n) => *n -= 1,
            Accumulator::SumInt(sum) => *sum -= int(value),
            Accumulator::SumDecimal(sum) => *sum -= decimal(value),
            Accumulator::SumFloat(sum) => sum.remove(float(value)),
            Accumulator::MeanInt { sum, count } => {
                *sum -= int(value);
                *count -= 1;
            }
            Accumulator::MeanFloat { sum, count } => {
                sum.remove(float(value));
                *count -= 1;
            }
            Accumulator::Extreme { values, .. } => forget(values),
            Accumulator::Distinct(values) => {
                if let Some(count) = values.get_mut(value) {
                    *count -= 1;
                    if *count == 0 {
                        values.remove(value);
                    }
                }
            }
            Accumulator::Recent(events) => {
                // Events leave in the order they came: the oldest first.
                let oldest = events.pop_front();
                debug_assert_eq!(oldest.map(|(oldest, _)| oldest), Some(time));
            }
        }
    }

    /// The aggregate's answer as of `t`.
    fn read(&self) -> Result<Answer, String> {
        let one = |value| Ok(Answer::One(value));
        match self {
            Accumulator::Count(n) => one(Value::Int(*n)),
            Accumulator::SumInt(sum) => i64::try_from(*sum)
                .map(|sum| Answer::One(Value::Int(sum)))
                .map_err(|_| format!("the sum {sum} is beyond int64")),
            Accumulator::SumDecimal(sum) => {
                if sum.unsigned_abs() >= 10_u128.pow(38) {
                    Err(format!("the sum {sum} has more than 38 digits"))
                } else {
                    one(Value::Decimal(*sum))
                }
            }
            Accumulator::SumFloat(sum) => one(Value::F64(sum.value())),
            Accumulator::MeanInt { sum, count } => one(if *count == 0 {
                Value::Null
            } else {
                Value::F64(*sum as f64 / *count as f64)
            }),
            Accumulator::MeanFloat { sum, count } => one(if *count == 0 {
                Value::Null
            } else {
                Value::F64(sum.value() / *count as f64)
            }),
            Accumulator::Extreme { max, values } => one(if *max {
                values.last_key_value()
            } else {
                values.first_key_value()
            }
            .map_or(Value::Null, |(value, _)| value.clone())),
            Accumulator::Distinct(values) => one(Value::Int(values.len() as i64)),
            Accumulator::Recent(_) => unreachable!("read through read_recent"),
        }
    }
}

fn int(value: &Value) -> i128 {
    match value {
        Value::Int(v) => i128::from(*v),
        other => unreachable!("an integer value, found {other:?}"),
    }
}

fn decimal(value: &Value) -> i128 {
    match value {
        Value::Decimal(v) => *v,
        other => unreachable!("a decimal value, found {other:?}"),
    }
}

fn float(value: &Value) -> f64 {
    match value {
        Value::F64(v) => *v,
        // Widening a float32 is exact.
        Value::F32(v) => f64::from(*v),
        other => unreachable!("a float value, found {other:?}"),
    }
}

impl Plan {
    /// Reads an accumulator, which for the `Recent` ones depends on the
    /// function.
    fn read(planned: &Planned, accumulator: &Accumulator, t: i64) -> Result<Answer, String> {
        let Accumulator::Recent(events) = accumulator else {
            return accumulator.read();
        };
        Ok(match planned.function {
            AggregateFunction::First => {
                Answer::One(events.front().map_or(Value::Null, |(_, v)| v.clone()))
            }
            AggregateFunction::Last => {
                Answer::One(events.back().map_or(Value::Null, |(_, v)| v.clone()))
            }
            AggregateFunction::LastN(n) => Answer::Many(
                events
                    .iter()
                    .skip(events.len().saturating_sub(n as usize))
                    .map(|(_, v)| v.clone())
                    .collect(),
            ),
            AggregateFunction::SecondsSinceLast => Answer::One(match events.back() {
                None => Value::Null,
                // One rounding to float64 of the exact microseconds, one
                // division.
                Some((time, _)) => Value::F64((i128::from(t) - i128::from(*time)) as f64 / 1e6),
            }),
            other => unreachable!("{other} keeps no recent events"),
        })
    }
}
