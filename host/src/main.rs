//! The `skewless` command: a thin layer over the `skewless` library. Each
//! subcommand lives in `commands/<name>.rs` with its flags and `execute`.

use std::process::ExitCode;

use clap::Parser;

mod commands;

/// jemalloc rather than glibc's malloc or mimalloc: `serve` allocates on
/// several threads at once (guest calls, durable writes, the state's
/// reads) for as long as it runs. In the served-aggregations soak
/// (`scripts/soak-online.sh`, BENCHMARKS.md), glibc's resident memory grew
/// +51% in 20 minutes after the windows filled and mimalloc's +56% (pages
/// pinned by a few live blocks, the live heap flat); jemalloc's stayed
/// level (235 -> 261 MiB over 10 minutes, falling at the end) and served
/// more queries a minute. (The library sets no allocator: that is its
/// embedder's choice, e.g. Python's.)
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const EXAMPLES: &str = "\
Examples:
  # Start a transform, and build it into a component with a reproducible sha256
  skewless new fares
  skewless build fares

  # What a transform declares, and its identity
  skewless inspect fraud_features.wasm

  # Backfill training features from a Parquet file
  skewless run fraud_features.wasm --input transactions.parquet --output features.parquet

  # Which transform produced a feature file
  skewless inspect features.parquet

  # Prove the online path computes the same bits as the backfill
  skewless verify fraud_features.wasm --input transactions.parquet

  # Serve the same component over HTTP
  skewless serve fraud_features.wasm --addr 127.0.0.1:8080";

/// Run one WebAssembly feature transform for offline backfills and online
/// serving, bit for bit.
#[derive(Parser)]
#[command(name = "skewless", version, after_help = EXAMPLES)]
enum Cli {
    New(commands::new::NewCommand),
    Build(commands::build::BuildCommand),
    Run(commands::run::RunCommand),
    Inspect(commands::inspect::InspectCommand),
    Serve(commands::serve::ServeCommand),
    Verify(commands::verify::VerifyCommand),
}

fn main() -> ExitCode {
    // `skewless build` runs cargo with this binary as its rustc wrapper.
    if let Some(code) = commands::build::run_as_rustc_wrapper() {
        return code;
    }
    let result = match Cli::parse() {
        Cli::New(command) => command.execute(),
        Cli::Build(command) => command.execute(),
        Cli::Run(command) => command.execute(),
        Cli::Inspect(command) => command.execute(),
        Cli::Serve(command) => command.execute(),
        Cli::Verify(command) => command.execute(),
    };
    match result {
        Ok(code) => code,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}{}", commands::flag_hint(&error));
            ExitCode::FAILURE
        }
    }
}

/// Output piped into `head` and closed early is not a failure.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
