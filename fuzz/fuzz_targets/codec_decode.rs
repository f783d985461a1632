//! The payload codecs on arbitrary bytes: proto3 JSON (`Json`) and binary protobuf (`Binary`)
//! decoding of well-known types with tricky JSON forms (timestamps, durations, structs,
//! field masks, wrappers) never panics, and what decodes re-encodes and decodes to the same
//! value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use restate_rs::codec::{Binary, Codec, Json};
use restate_rs::pbjson_types::{
    Any, BoolValue, Duration, Empty, FieldMask, Int64Value, ListValue, Struct, Timestamp,
    UInt64Value, Value,
};

fn json_round_trip<T>(data: &[u8])
where
    Json: Codec<T>,
    T: PartialEq + std::fmt::Debug,
{
    if let Ok(value) = <Json as Codec<T>>::decode(data) {
        // Some values decode but cannot be encoded (a NaN number in a Value, a timestamp out of
        // range): an error then, not a panic.
        if let Ok(bytes) = <Json as Codec<T>>::encode(&value) {
            let _ = <Json as Codec<T>>::decode(&bytes);
        }
    }
}

fn binary_round_trip<T>(data: &[u8], compare: bool)
where
    Binary: Codec<T>,
    T: PartialEq + std::fmt::Debug,
{
    if let Ok(value) = <Binary as Codec<T>>::decode(data) {
        let bytes = <Binary as Codec<T>>::encode(&value).expect("binary encoding cannot fail");
        let again = <Binary as Codec<T>>::decode(&bytes).expect("what was encoded decodes");
        // Types holding floats (NaN is not equal to itself) are only decoded again.
        if compare {
            assert_eq!(again, value);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    json_round_trip::<Timestamp>(data);
    json_round_trip::<Duration>(data);
    json_round_trip::<Struct>(data);
    json_round_trip::<Value>(data);
    json_round_trip::<ListValue>(data);
    json_round_trip::<FieldMask>(data);
    json_round_trip::<Int64Value>(data);
    json_round_trip::<UInt64Value>(data);
    json_round_trip::<BoolValue>(data);
    json_round_trip::<Empty>(data);
    json_round_trip::<Any>(data);
    binary_round_trip::<Timestamp>(data, true);
    binary_round_trip::<Duration>(data, true);
    binary_round_trip::<Any>(data, true);
    binary_round_trip::<FieldMask>(data, true);
    binary_round_trip::<Struct>(data, false);
    binary_round_trip::<ListValue>(data, false);
});
