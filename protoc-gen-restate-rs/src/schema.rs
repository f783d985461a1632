//! JSON Schemas of messages, following the proto3 JSON mapping, for the discovery manifest
//! (the Restate UI and the OpenAPI that restate-server serves show them).

use prost_reflect::{Cardinality, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The schema of `message`, with the messages it refers to under `$defs`.
pub(crate) fn message_schema(message: &MessageDescriptor) -> Value {
    let mut defs = BTreeMap::new();
    let mut root = object_schema(message, message, &mut defs);
    if let Value::Object(map) = &mut root {
        map.insert("title".to_owned(), json!(message.full_name()));
        if !defs.is_empty() {
            map.insert(
                "$defs".to_owned(),
                Value::Object(defs.into_iter().collect::<Map<_, _>>()),
            );
        }
    }
    root
}

fn well_known(message: &MessageDescriptor) -> Option<Value> {
    Some(match message.full_name() {
        "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
        "google.protobuf.Duration" => {
            json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$"})
        }
        "google.protobuf.FieldMask" => json!({"type": "string"}),
        "google.protobuf.Empty" => json!({"type": "object", "additionalProperties": false}),
        "google.protobuf.Struct" => json!({"type": "object"}),
        "google.protobuf.Value" => json!({}),
        "google.protobuf.ListValue" => json!({"type": "array"}),
        "google.protobuf.Any" => {
            json!({"type": "object", "properties": {"@type": {"type": "string"}}})
        }
        "google.protobuf.StringValue" => json!({"type": "string"}),
        "google.protobuf.BytesValue" => json!({"type": "string", "contentEncoding": "base64"}),
        "google.protobuf.BoolValue" => json!({"type": "boolean"}),
        "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => json!({"type": "integer"}),
        "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => int64(),
        "google.protobuf.FloatValue" | "google.protobuf.DoubleValue" => number(),
        _ => return None,
    })
}

fn int64() -> Value {
    json!({"type": ["string", "integer"], "pattern": "^-?[0-9]+$"})
}

fn number() -> Value {
    json!({"type": ["number", "string"]})
}

fn object_schema(
    message: &MessageDescriptor,
    root: &MessageDescriptor,
    defs: &mut BTreeMap<String, Value>,
) -> Value {
    if let Some(schema) = well_known(message) {
        return schema;
    }
    let mut properties = Map::new();
    for field in message.fields() {
        properties.insert(
            field.json_name().to_owned(),
            field_schema(&field, root, defs),
        );
    }
    json!({
        "type": "object",
        "title": message.full_name(),
        "properties": properties,
        "additionalProperties": false,
    })
}

fn field_schema(
    field: &FieldDescriptor,
    root: &MessageDescriptor,
    defs: &mut BTreeMap<String, Value>,
) -> Value {
    if let (true, Kind::Message(entry)) = (field.is_map(), field.kind()) {
        let value = entry.map_entry_value_field();
        return json!({"type": "object", "additionalProperties": kind_schema(&value.kind(), root, defs)});
    }
    let single = kind_schema(&field.kind(), root, defs);
    if field.cardinality() == Cardinality::Repeated {
        json!({"type": "array", "items": single})
    } else {
        single
    }
}

fn kind_schema(kind: &Kind, root: &MessageDescriptor, defs: &mut BTreeMap<String, Value>) -> Value {
    match kind {
        Kind::Double | Kind::Float => number(),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Uint32 | Kind::Fixed32 => {
            json!({"type": "integer"})
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => int64(),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::String => json!({"type": "string"}),
        Kind::Bytes => json!({"type": "string", "contentEncoding": "base64"}),
        Kind::Enum(e) => {
            let names: Vec<String> = e.values().map(|v| v.name().to_owned()).collect();
            json!({"type": "string", "enum": names, "title": e.full_name()})
        }
        Kind::Message(m) => {
            if let Some(schema) = well_known(m) {
                return schema;
            }
            if m.full_name() == root.full_name() {
                return json!({"$ref": "#"});
            }
            let name = m.full_name().to_owned();
            if !defs.contains_key(&name) {
                // Reserve the name first so recursive messages terminate.
                defs.insert(name.clone(), Value::Null);
                let schema = object_schema(m, root, defs);
                defs.insert(name.clone(), schema);
            }
            json!({"$ref": format!("#/$defs/{name}")})
        }
    }
}
