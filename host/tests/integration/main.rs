//! skewless's integration tests: one binary, a module per area. Guests come
//! from `skewless_test_artifacts`, built by its `build.rs`.

mod building;
mod cli;
mod conformance;
mod examples;
mod files;
mod loading;
mod python;
mod sandbox;
mod serving;
mod support;
mod types;
mod verifying;
