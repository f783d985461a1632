//! Keys declared in the proto (`key`, `idempotency_key` in `restate_rs/options.proto`):
//! templates over the fields of a handler's request, parsed and resolved against the request
//! message here, so that the generated clients can build them and every mistake is reported
//! at generation with the file, service, method and field.

use prost_reflect::{Cardinality, FieldDescriptor, Kind, MessageDescriptor};

/// The name of the generated function that builds the key (`suffix` `key`) or idempotency
/// key (`idempotency_key`) of `service`'s `method`, at the package's level.
pub(crate) fn function_name(service: &str, method: &str, suffix: &str) -> String {
    let plain = |name: &str| {
        crate::ident::snake(name)
            .trim_start_matches("r#")
            .to_owned()
    };
    format!("__{}_{}_{suffix}", plain(service), plain(method))
}

/// A template resolved against one request message.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyTemplate {
    /// The template as written, e.g. `"{app_id}:{environment_id}"`.
    pub text: String,
    /// Its literal text and fields, in order.
    pub parts: Vec<KeyPart>,
}

/// A piece of a [`KeyTemplate`].
#[derive(Debug, Clone, PartialEq)]
pub enum KeyPart {
    /// Text used as it is.
    Literal(String),
    /// A field of the request.
    Field(KeyField),
}

/// A field of the request (through message fields for a dotted path) that is part of a key.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyField {
    /// The path as written: `actor.id`.
    pub path: String,
    /// The proto field names along the path.
    pub steps: Vec<String>,
    /// Whether the last field has presence (`optional`, proto2): `Option<T>` in prost.
    pub optional: bool,
    /// What the last field is.
    pub kind: KeyFieldKind,
}

/// How a key field is rendered.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyFieldKind {
    /// A string, used as it is.
    String,
    /// An integer, in decimal.
    Integer,
    /// `true` or `false`.
    Bool,
    /// An enum, by its value's name (proto3 JSON); the full name of the enum.
    Enum(String),
}

impl KeyTemplate {
    /// The fields' paths, for messages.
    pub fn fields(&self) -> Vec<&str> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                KeyPart::Field(f) => Some(f.path.as_str()),
                KeyPart::Literal(_) => None,
            })
            .collect()
    }
}

/// Text and `{field.path}` placeholders, before they are resolved.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Literal(String),
    Field(String),
}

/// Splits a template into literal text and field paths; the error completes the sentence
/// "`<option> = "<text>"` ...".
fn split(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '{' => {
                let rest = &text[at + 1..];
                let Some(end) = rest.find('}') else {
                    return Err(format!(
                        "has a `{{` at position {at} without its `}}`; write fields as {{field}} or {{message.field}}"
                    ));
                };
                let path = &rest[..end];
                if path.contains('{') {
                    return Err(format!(
                        "has a `{{` inside the field at position {at}; fields do not nest"
                    ));
                }
                let valid = !path.is_empty()
                    && path.split('.').all(|segment| {
                        segment
                            .chars()
                            .next()
                            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                            && segment
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '_')
                    });
                if !valid {
                    return Err(format!(
                        "has `{{{path}}}` at position {at}, which is not a field name or a dotted path of field names"
                    ));
                }
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Field(path.to_owned()));
                // Skip the field and its closing brace.
                for _ in 0..path.chars().count() + 1 {
                    chars.next();
                }
            }
            '}' => {
                return Err(format!("has a `}}` at position {at} that closes no field"));
            }
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    if !pieces.iter().any(|p| matches!(p, Piece::Field(_))) {
        return Err(
            "names no field of the request; write the fields in braces, as \"{project_id}\""
                .to_owned(),
        );
    }
    Ok(pieces)
}

/// Resolves `text` (the value of option `option`) against `request`. Every problem is
/// returned, each a sentence about the option.
pub(crate) fn resolve(
    option: &str,
    text: &str,
    request: &MessageDescriptor,
) -> Result<KeyTemplate, Vec<String>> {
    let pieces = split(text).map_err(|why| vec![format!("{option} = {text:?} {why}")])?;
    let mut errors = Vec::new();
    let mut parts = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Literal(literal) => parts.push(KeyPart::Literal(literal)),
            Piece::Field(path) => match field(request, &path) {
                Ok(field) => parts.push(KeyPart::Field(field)),
                Err(why) => errors.push(format!("{option} = {text:?}: field `{path}` {why}")),
            },
        }
    }
    if errors.is_empty() {
        Ok(KeyTemplate {
            text: text.to_owned(),
            parts,
        })
    } else {
        Err(errors)
    }
}

/// The field at `path` (dotted through singular message fields) of `message`, if it can be
/// part of a key.
fn field(message: &MessageDescriptor, path: &str) -> Result<KeyField, String> {
    let steps: Vec<&str> = path.split('.').collect();
    let mut current = message.clone();
    let mut last: Option<FieldDescriptor> = None;
    for (i, step) in steps.iter().enumerate() {
        let Some(found) = current.get_field_by_name(step) else {
            let within = if i == 0 {
                format!("`{}`", current.full_name())
            } else {
                format!(
                    "`{}` (the type of `{}`)",
                    current.full_name(),
                    steps[..i].join(".")
                )
            };
            return Err(format!("does not exist: {within} has no field `{step}`"));
        };
        if found.is_map() {
            return Err(format!("is a map (`{step}`); a key takes single values"));
        }
        if found.cardinality() == Cardinality::Repeated {
            return Err(format!("is repeated (`{step}`); a key takes single values"));
        }
        if let Some(oneof) = found.containing_oneof()
            && !oneof.is_synthetic()
        {
            return Err(format!(
                "is a member of the oneof `{}`; a key field cannot be part of a oneof",
                oneof.name()
            ));
        }
        let is_last = i + 1 == steps.len();
        match (found.kind(), is_last) {
            (Kind::Message(inner), false) => current = inner,
            (_, false) => {
                return Err(format!(
                    "goes through `{step}`, which is not a message and has no fields"
                ));
            }
            (_, true) => {}
        }
        last = Some(found);
    }
    let last = last.expect("a path has at least one step");
    let kind = match last.kind() {
        Kind::String => KeyFieldKind::String,
        Kind::Int32
        | Kind::Int64
        | Kind::Uint32
        | Kind::Uint64
        | Kind::Sint32
        | Kind::Sint64
        | Kind::Fixed32
        | Kind::Fixed64
        | Kind::Sfixed32
        | Kind::Sfixed64 => KeyFieldKind::Integer,
        Kind::Bool => KeyFieldKind::Bool,
        Kind::Enum(e) => KeyFieldKind::Enum(e.full_name().to_owned()),
        Kind::Message(m) => {
            return Err(format!(
                "is a message (`{}`); name one of its fields, as `{path}.<field>`",
                m.full_name()
            ));
        }
        Kind::Bytes => return Err("is bytes; a key is text".to_owned()),
        Kind::Float | Kind::Double => {
            return Err("is a floating-point number, which does not make a stable key".to_owned());
        }
    };
    Ok(KeyField {
        path: path.to_owned(),
        steps: steps.iter().map(|s| (*s).to_owned()).collect(),
        // prost makes a field with presence an `Option` (proto3 `optional`, proto2
        // `optional`), not a proto2 `required` one.
        optional: last.supports_presence() && last.cardinality() == Cardinality::Optional,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_into_text_and_fields() {
        assert_eq!(
            split("{app_id}:{environment_id}").unwrap(),
            vec![
                Piece::Field("app_id".into()),
                Piece::Literal(":".into()),
                Piece::Field("environment_id".into())
            ]
        );
        assert_eq!(
            split("deploy-{actor.id}").unwrap(),
            vec![
                Piece::Literal("deploy-".into()),
                Piece::Field("actor.id".into())
            ]
        );
        for (bad, why) in [
            ("{project_id", "without its `}`"),
            ("project_id}", "closes no field"),
            ("{}", "not a field name"),
            ("{a..b}", "not a field name"),
            ("{a-b}", "not a field name"),
            ("{1a}", "not a field name"),
            ("{a{b}}", "do not nest"),
            ("constant", "names no field"),
            ("", "names no field"),
        ] {
            let error = split(bad).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
        }
    }
}
