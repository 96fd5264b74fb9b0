//! An integer sum over events: units bought by a user in the last day. A
//! sum beyond int64 cannot be computed, so its row is rejected (for the
//! tests of rows whose aggregates fail). Rows are asked as of `at`, events
//! happen at `ts`: the two times have different names.

use skewless_guest::{Aggregates, Features, events, transform};

#[derive(Debug, Features)]
pub struct Purchase {
    pub units: i64,
}

/// One purchase of a user, at `ts`; rows are asked as of `at`.
#[events(key = "user", time = "ts", request_time = "at")]
pub fn purchase(units: i64) -> Purchase {
    Purchase { units }
}

#[derive(Debug, Aggregates)]
#[aggregates(events = purchase)]
pub struct Bought {
    #[aggregate(sum(units), window = "1d")]
    pub units_1d: i64,
}

#[derive(Debug, Features)]
pub struct Out {
    pub units_1d: i64,
}

/// Rejects a day whose units sum to less than nothing (returns).
#[transform(name = "basket", version = "1.0.0")]
pub fn basket(#[aggregates] bought: Bought) -> Result<Out, String> {
    if bought.units_1d < 0 {
        return Err(format!("{} units in a day", bought.units_1d));
    }
    Ok(Out {
        units_1d: bought.units_1d,
    })
}
