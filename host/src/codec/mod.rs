//! The value rules: how every type is written as text and read back, for
//! every format and every request.
//!
//! A value written one way in a CSV file and another in a response is skew
//! that `verify` cannot see. So each type has one writer ([`text`]: the
//! one text form of every value) and one reader per kind of source
//! ([`json`]: JSON values, for requests and JSON Lines; [`parse`]: text
//! cells, for CSV), and both readers parse a value's text by the same
//! functions.

pub mod json;
pub mod parse;
pub mod text;
