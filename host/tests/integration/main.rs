//! skewless's integration tests: one binary, a module per area. Guests come
//! from `skewless_test_artifacts`, built by its `build.rs`.

mod building;
mod cli;
mod conformance;
mod examples;
mod files;
mod isolation;
mod loading;
mod python;
mod python_package;
mod rejecting;
mod sandbox;
mod serving;
mod support;
mod types;
mod verifying;
