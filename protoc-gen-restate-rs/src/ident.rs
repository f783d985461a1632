//! Rust identifiers from proto names, in one place, following prost-build's conventions so
//! that our paths agree with the messages it generates.

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span};

/// Words that cannot be raw identifiers: they get a trailing underscore instead.
const NOT_RAW: &[&str] = &["self", "super", "crate", "extern", "Self", "_"];

/// Rust keywords (strict and reserved, all editions) that need `r#`.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop",
    "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return", "static",
    "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use", "virtual",
    "where", "while", "yield",
];

/// `FooBar` -> `foo_bar`, made a valid identifier text (`type` -> `r#type`, `self` -> `self_`).
pub(crate) fn snake(name: &str) -> String {
    sanitize(name.to_snake_case())
}

/// `foo_bar` -> `FooBar`, as prost-build names message types.
pub(crate) fn camel(name: &str) -> String {
    sanitize(name.to_upper_camel_case())
}

/// `FooBar` -> `FOO_BAR`, for constants.
pub(crate) fn shouty(name: &str) -> String {
    sanitize(name.to_shouty_snake_case())
}

fn sanitize(text: String) -> String {
    if NOT_RAW.contains(&text.as_str()) {
        format!("{text}_")
    } else if KEYWORDS.contains(&text.as_str()) {
        format!("r#{text}")
    } else if text.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{text}")
    } else {
        text
    }
}

/// Parses identifier text produced by the functions above (raw identifiers included).
pub(crate) fn ident(text: &str) -> Ident {
    match text.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(text, Span::call_site()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_and_reserved_words() {
        assert_eq!(snake("Type"), "r#type");
        assert_eq!(snake("Self"), "self_");
        assert_eq!(snake("Match"), "r#match");
        assert_eq!(snake("GetStatus"), "get_status");
        assert_eq!(camel("self"), "Self_");
        assert_eq!(camel("http_request"), "HttpRequest");
        assert_eq!(shouty("GetStatus"), "GET_STATUS");
        assert_eq!(ident("r#type").to_string(), "r#type");
    }
}
