use skewless_guest::{Aggregates, Features, events, transform};

#[derive(Features)]
pub struct Login {
    pub success: bool,
    pub duration_s: Option<f64>,
}

#[events(key = "user_id", time = "ts")]
pub fn login(success: bool, duration_s: Option<f64>) -> Login {
    Login { success, duration_s }
}

#[derive(Aggregates)]
#[aggregates(events = login)]
pub struct Activity {
    // Null over an empty window: must be an Option.
    #[aggregate(mean(duration_s), window = "7d")]
    pub duration_mean_7d: f64,
    // Never null: must not be.
    #[aggregate(count, window = "1h")]
    pub logins_1h: Option<i64>,
    // A window the macro cannot read: said once, and `Activity` still
    // implements `Aggregates`, so the transform below raises nothing more.
    #[aggregate(count, window = "10 min")]
    pub logins_10m: i64,
    // A window beyond microseconds in 64 bits: said to be too long.
    #[aggregate(count, window = "99999999999w")]
    pub logins_ever: i64,
}

#[derive(Features)]
pub struct Out {
    pub logins_10m: i64,
}

#[transform(name = "t", version = "1")]
pub fn t(#[aggregates] activity: Activity) -> Out {
    Out { logins_10m: activity.logins_10m }
}

fn main() {}
