//! Payload codecs: how request and response messages travel on the wire.
//!
//! Generated code picks one codec per generation:
//!
//! * [`Json`] (the default): proto3 canonical JSON, `content-type: application/json`, the
//!   mapping the Go generator and `curl` users expect: lowerCamelCase field names (the
//!   original names are accepted on input), 64-bit integers as strings, enums by name,
//!   well-known types in their JSON forms, unknown fields rejected.
//! * [`Binary`]: the protobuf binary encoding, `content-type: application/proto`.
//!
//! An empty payload decodes as the message's default value with either codec, so a handler
//! whose input is `google.protobuf.Empty` (or any message) can be called without a body.
//!
//! A payload that does not decode is a [`DecodeError`] that says where it went wrong; the
//! runtime turns it into a terminal error with code 400, never retried.

use bytes::Bytes;
use std::fmt;
use std::marker::PhantomData;

/// A way to turn messages of type `T` into bytes and back.
pub trait Codec<T>: Send + Sync + 'static {
    /// The MIME type of encoded payloads.
    const CONTENT_TYPE: &'static str;

    /// Encodes `value`.
    fn encode(value: &T) -> Result<Bytes, EncodeError>;

    /// Decodes `bytes`; an empty payload is the default message.
    fn decode(bytes: &[u8]) -> Result<T, DecodeError>;
}

/// Proto3 canonical JSON (`application/json`), through the pbjson serde impls generated
/// beside the prost messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

/// Protobuf binary encoding (`application/proto`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Binary;

impl<T> Codec<T> for Json
where
    T: serde::Serialize + serde::de::DeserializeOwned + Default,
{
    const CONTENT_TYPE: &'static str = "application/json";

    fn encode(value: &T) -> Result<Bytes, EncodeError> {
        serde_json::to_vec(value)
            .map(Bytes::from)
            .map_err(|e| EncodeError {
                message: e.to_string(),
            })
    }

    fn decode(bytes: &[u8]) -> Result<T, DecodeError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        serde_json::from_slice(bytes).map_err(|e| DecodeError {
            content_type: <Self as Codec<T>>::CONTENT_TYPE,
            type_name: short_type_name::<T>(),
            message: e.to_string(),
        })
    }
}

impl<T> Codec<T> for Binary
where
    T: prost::Message + Default,
{
    const CONTENT_TYPE: &'static str = "application/proto";

    fn encode(value: &T) -> Result<Bytes, EncodeError> {
        Ok(Bytes::from(value.encode_to_vec()))
    }

    fn decode(bytes: &[u8]) -> Result<T, DecodeError> {
        T::decode(bytes).map_err(|e| DecodeError {
            content_type: <Self as Codec<T>>::CONTENT_TYPE,
            type_name: short_type_name::<T>(),
            message: e.to_string(),
        })
    }
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    // Keep the last path segment of the outermost type: `hydra::v1::DeployRequest` -> `DeployRequest`.
    let outer = full.split('<').next().unwrap_or(full);
    let start = outer.rfind("::").map_or(0, |i| i + 2);
    &full[start..]
}

/// A payload that could not be decoded into the expected message.
///
/// Its message names the message type and, for JSON, the line and column and the field
/// that was wrong (`unknown field `nmae`, expected one of `name`, ...`).
#[derive(Clone, PartialEq, Eq)]
pub struct DecodeError {
    content_type: &'static str,
    type_name: &'static str,
    message: String,
}

impl DecodeError {
    /// The content type the payload was expected to have.
    pub fn content_type(&self) -> &'static str {
        self.content_type
    }

    /// The message type the payload was decoded into.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// What was wrong, as the decoder said it.
    pub fn reason(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {} payload for {}: {}",
            self.content_type, self.type_name, self.message
        )
    }
}

// restate-sdk formats decode errors with `{:?}`; keep that readable.
impl fmt::Debug for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for DecodeError {}

/// A message that could not be encoded (for JSON: an enum number with no name, say).
#[derive(Clone, PartialEq, Eq)]
pub struct EncodeError {
    message: String,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot encode payload: {}", self.message)
    }
}

impl fmt::Debug for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for EncodeError {}

/// A message of type `T` carried with codec `C`: the bridge to restate-sdk's own
/// serialization traits, so messages can be used wherever the SDK takes a payload
/// (`ctx.run`, state, promises, awakeables).
///
/// ```no_run
/// # use restate_rs::codec::{Json, Payload};
/// # #[derive(Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)] struct Order {}
/// let payload: Payload<Order, Json> = Payload::new(Order::default());
/// let order: Order = payload.into_inner();
/// ```
pub struct Payload<T, C = Json> {
    value: T,
    codec: PhantomData<fn() -> C>,
}

impl<T, C> Payload<T, C> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self {
            value,
            codec: PhantomData,
        }
    }

    /// Unwraps the message.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// Borrows the message.
    pub fn get(&self) -> &T {
        &self.value
    }
}

impl<T: fmt::Debug, C> fmt::Debug for Payload<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Payload").field(&self.value).finish()
    }
}

impl<T: Clone, C> Clone for Payload<T, C> {
    fn clone(&self) -> Self {
        Self::new(self.value.clone())
    }
}

impl<T, C> From<T> for Payload<T, C> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T, C: Codec<T>> restate_sdk::serde::Serialize for Payload<T, C> {
    type Error = EncodeError;

    fn serialize(&self) -> Result<Bytes, Self::Error> {
        C::encode(&self.value)
    }
}

impl<T, C: Codec<T>> restate_sdk::serde::Deserialize for Payload<T, C> {
    type Error = DecodeError;

    fn deserialize(bytes: &mut Bytes) -> Result<Self, Self::Error> {
        C::decode(bytes).map(Self::new)
    }
}

impl<T, C: Codec<T>> restate_sdk::serde::PayloadMetadata for Payload<T, C> {
    fn json_schema() -> Option<serde_json::Value> {
        None
    }

    fn input_metadata() -> restate_sdk::serde::InputMetadata {
        restate_sdk::serde::InputMetadata {
            accept_content_type: C::CONTENT_TYPE,
            is_required: false,
        }
    }

    fn output_metadata() -> restate_sdk::serde::OutputMetadata {
        restate_sdk::serde::OutputMetadata {
            content_type: C::CONTENT_TYPE,
            set_content_type_if_empty: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_payload_is_default() {
        let v: pbjson_types::Duration = <Json as Codec<_>>::decode(b"").unwrap();
        assert_eq!(v, pbjson_types::Duration::default());
        let v: pbjson_types::Duration = <Binary as Codec<_>>::decode(b"").unwrap();
        assert_eq!(v, pbjson_types::Duration::default());
    }

    #[test]
    fn json_errors_name_type_and_position() {
        let err = <Json as Codec<pbjson_types::Duration>>::decode(b"{\"seconds\": [}").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("invalid application/json payload for Duration:"),
            "{text}"
        );
        assert!(text.contains("column"), "{text}");
    }

    #[test]
    fn binary_round_trip() {
        let d = pbjson_types::Duration {
            seconds: 7,
            nanos: 9,
        };
        let bytes = <Binary as Codec<_>>::encode(&d).unwrap();
        let back: pbjson_types::Duration = <Binary as Codec<_>>::decode(&bytes).unwrap();
        assert_eq!(back, d);
        let err = <Binary as Codec<pbjson_types::Duration>>::decode(&[0xff]).unwrap_err();
        assert!(err.to_string().contains("application/proto"), "{err}");
    }
}
