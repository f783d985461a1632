//! What the generated traits let through the compiler, and what they stop, with the messages
//! users see (`tests/compile_fail/*.stderr`; `TRYBUILD=overwrite` rewrites them).

#[test]
fn generated_traits() {
    let t = trybuild::TestCases::new();
    t.pass("tests/compile_pass/*.rs");
    t.compile_fail("tests/compile_fail/*.rs");
}
