//! skewless's integration tests: one binary, a module per area. Guests come
//! from `skewless_test_artifacts`, built by its `build.rs`.

mod aggregations;
mod building;
mod cli;
mod conformance;
mod contracts;
mod examples;
mod files;
mod isolation;
mod loading;
mod online;
mod python;
mod python_package;
mod rejecting;
mod rich_types;
mod sandbox;
mod serving;
mod support;
mod types;
mod verifying;
