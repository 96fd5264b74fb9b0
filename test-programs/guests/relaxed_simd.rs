//! Uses a relaxed SIMD instruction (fused or unfused multiply-add, the
//! hardware's choice): the engine must refuse to load it.

use skewless_guest::{Features, transform};

/// x * x + x, by relaxed SIMD.
#[transform(name = "relaxed-simd", version = "0.1.0")]
fn relaxed_simd(x: f32) -> Out {
    Out { y: madd(x) }
}

#[cfg(target_arch = "wasm32")]
fn madd(x: f32) -> f32 {
    #[target_feature(enable = "relaxed-simd")]
    fn relaxed(x: f32) -> f32 {
        use core::arch::wasm32::{f32x4_extract_lane, f32x4_relaxed_madd, f32x4_splat};
        let v = f32x4_splat(x);
        f32x4_extract_lane::<0>(f32x4_relaxed_madd(v, v, v))
    }
    // Safe on wasm: the host validates features when it loads the module,
    // which is what this guest exists to test.
    relaxed(x)
}

#[cfg(not(target_arch = "wasm32"))]
fn madd(x: f32) -> f32 {
    x.mul_add(x, x)
}

#[derive(Features)]
struct Out {
    y: f32,
}
