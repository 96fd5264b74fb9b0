//! The macros' compile errors, compared with the golden `.stderr` files in
//! `ui/` (regenerate with `TRYBUILD=overwrite cargo test -p skewless-guest`).

#[test]
fn unsupported_signatures_get_spanned_errors_that_say_what_to_write() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
