//! A service embedding skewless: it loads the transform its model was trained
//! with, refuses any other (by sha256), and computes features for requests
//! arriving on several threads from one shared, warm `Transform`.
//!
//! `cargo run -p embed-host -- target/wasm32-wasip2/release/fraud_features.wasm [SHA256]`

use serde_json::json;
use skewless::{Config, Runtime, Transform};

/// What the service does per request: one row in, one feature row out.
fn features(
    transform: &Transform,
    amount: f64,
    hour: i64,
    category: &str,
) -> skewless::Result<serde_json::Value> {
    transform.call_json(&json!({"amount": amount, "hour": hour, "merchant_category": category}))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let component = args
        .next()
        .ok_or("usage: embed-host COMPONENT.wasm [EXPECTED_SHA256]")?;
    let transform = Runtime::new(Config::default())?.load(&component)?;
    if let Some(pin) = args.next().filter(|pin| pin != transform.sha256()) {
        return Err(format!(
            "{component} has sha256 {}, the model expects {pin}",
            transform.sha256()
        )
        .into());
    }
    let requests = [
        (12.5, 3, "travel"),
        (830.0, 14, "electronics"),
        (4.2, 23, "gaming"),
        (61.0, 9, "grocery"),
    ];
    let transform = &transform;
    let answers: Vec<_> = std::thread::scope(|scope| {
        let workers: Vec<_> = requests
            .iter()
            .map(|&(amount, hour, category)| {
                scope.spawn(move || features(transform, amount, hour, category))
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .collect()
    });
    for ((amount, hour, category), answer) in requests.iter().zip(answers) {
        println!("{amount} at {hour}h, {category}: {}", answer?);
    }
    Ok(())
}
