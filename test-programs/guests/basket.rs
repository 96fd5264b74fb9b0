//! An integer sum over events: units bought by a user in the last day. A
//! sum beyond int64 cannot be computed, so its row is rejected (for the
//! tests of rows whose aggregates fail).

use skewless_guest::{Aggregates, Features, events, transform};

#[derive(Debug, Features)]
pub struct Purchase {
    pub units: i64,
}

/// One purchase of a user.
#[events(key = "user", time = "ts")]
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

#[transform(name = "basket", version = "1.0.0")]
pub fn basket(#[aggregates] bought: Bought) -> Out {
    Out {
        units_1d: bought.units_1d,
    }
}
