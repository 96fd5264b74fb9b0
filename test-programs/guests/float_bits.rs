//! Float bit patterns: echoed values must keep every bit (NaN payloads,
//! signed zeros), and NaNs produced by arithmetic must be canonical.

use skewless_guest::{Features, transform};

/// Echoes and arithmetic on floats.
#[transform(name = "float-bits", version = "0.1.0")]
fn float_bits(x: f64, y: f32) -> FloatBits {
    FloatBits {
        x_echo: x,
        x_plus_zero: x + 0.0,
        zero_over_zero: std::hint::black_box(0.0_f64) / std::hint::black_box(0.0_f64),
        y_echo: y,
        y_plus_zero: y + 0.0,
    }
}

#[derive(Features)]
struct FloatBits {
    x_echo: f64,
    x_plus_zero: f64,
    zero_over_zero: f64,
    y_echo: f32,
    y_plus_zero: f32,
}
