//! Reports what the sandbox lets it see: files, environment, arguments,
//! clocks, randomness, the network. Every output is what the guest
//! observed, for tests to compare with what the sandbox promises.

use skewless_guest::{Features, transform};

/// What the world looks like from inside.
#[transform(name = "ambient", version = "0.1.0")]
fn ambient(path: &str) -> Observed {
    let file = match std::fs::read_to_string(path) {
        Ok(text) => format!("read {} bytes", text.len()),
        Err(error) => format!("error: {error}"),
    };
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(-1);
    let mut random = [0xAA_u8; 16];
    let random_bytes = wasip2_random(&mut random);
    let tcp = match std::net::TcpStream::connect("127.0.0.1:80") {
        Ok(_) => "connected".to_string(),
        Err(error) => format!("error: {error}"),
    };
    Observed {
        file,
        env_vars: std::env::vars().count() as i64,
        args: std::env::args().count() as i64,
        home: std::env::var("HOME").ok(),
        wall_clock_nanos: wall,
        monotonic_nanos: monotonic_now(),
        random_hex: random_bytes,
        preopened_dirs: preopens(),
        tcp,
    }
}

#[cfg(target_arch = "wasm32")]
fn monotonic_now() -> i64 {
    wasip2::clocks::monotonic_clock::now() as i64
}

#[cfg(target_arch = "wasm32")]
fn wasip2_random(buffer: &mut [u8; 16]) -> String {
    let bytes = wasip2::random::random::get_random_bytes(buffer.len() as u64);
    buffer.copy_from_slice(&bytes);
    let insecure = wasip2::random::insecure::get_insecure_random_u64();
    let seed = wasip2::random::insecure_seed::insecure_seed();
    let hex: String = buffer.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}/{insecure}/{}:{}", seed.0, seed.1)
}

#[cfg(target_arch = "wasm32")]
fn preopens() -> i64 {
    wasip2::filesystem::preopens::get_directories().len() as i64
}

#[cfg(not(target_arch = "wasm32"))]
fn monotonic_now() -> i64 {
    -1
}

#[cfg(not(target_arch = "wasm32"))]
fn wasip2_random(_: &mut [u8; 16]) -> String {
    "native".into()
}

#[cfg(not(target_arch = "wasm32"))]
fn preopens() -> i64 {
    -1
}

#[derive(Features)]
struct Observed {
    file: String,
    env_vars: i64,
    args: i64,
    home: Option<String>,
    wall_clock_nanos: i64,
    monotonic_nanos: i64,
    random_hex: String,
    preopened_dirs: i64,
    tcp: String,
}
