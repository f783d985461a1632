//! The Restate service protocol, engine side: messages, message type ids, framing, content
//! types and awakeable ids.
//!
//! The messages are generated (by `build.rs`) from `proto/dev/restate/service/protocol.proto`,
//! our transcription of the published specification, into [`pb`]. On the wire every message is
//! a frame: an 8-byte big-endian header (`u16` message type, `u16` flags, `u32` payload length)
//! followed by the protobuf payload. The only flag in use since V5 is [`ACK_FLAG`].
//!
//! What the SDK endpoint (restate-sdk 0.13, shared core 8.2) does with these messages, as
//! checked by the tests at the bottom of this file:
//!
//! * the engine sends `Start` (with `known_entries` >= 1, the input command counted) and then
//!   that many journal entries; with `known_entries = 0` the endpoint ends the response without
//!   sending anything;
//! * on replay the endpoint sends nothing for the entries it was given, and a `run` closure
//!   whose completion is in the journal is not executed again;
//! * in V5/V6 a `run` outcome arrives as `ProposeRunCompletion` without the ack flag, and the
//!   endpoint waits until the engine sends the `RunCompletionNotification` back; from V7 the
//!   proposal carries the ack flag;
//! * a handler waiting on a completion or signal just waits; when the engine closes the request
//!   body the endpoint answers `Suspension` (V6 form: flat lists of awaited ids, the cancel
//!   signal 1 always among them) and ends;
//! * after `End` the response stays open until the engine closes the request body;
//! * an unknown handler gets status 200 and then an `Error` with code 500 (retryable); an
//!   unknown service gets status 404 and a text body.

// This module is the whole vocabulary of the protocol, and the engine does not use every word
// of it at every point in time. Test builds still check for dead code: the tests below use
// every item.
#![cfg_attr(not(test), allow(dead_code))]

use std::fmt;

use base64::Engine as _;
use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The protocol messages, generated from `proto/dev/restate/service/protocol.proto`.
#[allow(
    missing_docs,
    unreachable_pub,
    dead_code,
    clippy::all,
    clippy::pedantic,
    rust_2018_idioms
)]
pub(crate) mod pb {
    include!(concat!(env!("OUT_DIR"), "/dev.restate.service.protocol.rs"));
}

/// `content-type` of an invocation request and response in service protocol V5.
pub(crate) const CONTENT_TYPE_V5: &str = "application/vnd.restate.invocation.v5";
/// `content-type` of an invocation request and response in service protocol V6, the version
/// the engine speaks (and restate-server negotiates by default).
pub(crate) const CONTENT_TYPE_V6: &str = "application/vnd.restate.invocation.v6";
/// `content-type` of service protocol V7 (messages of V7 beyond V6 are not modelled here).
pub(crate) const CONTENT_TYPE_V7: &str = "application/vnd.restate.invocation.v7";

/// Endpoint manifest (discovery) format v3.
pub(crate) const MANIFEST_V3: &str = "application/vnd.restate.endpointmanifest.v3+json";
/// Endpoint manifest (discovery) format v4: v3 plus retry policies.
pub(crate) const MANIFEST_V4: &str = "application/vnd.restate.endpointmanifest.v4+json";
/// `accept` header of a discovery request (`GET .../discover`). The SDK picks the highest
/// version it finds in the header (v4 first), and refuses to describe a service with retry
/// policies in v3, so v4 is what is served.
pub(crate) const DISCOVERY_ACCEPT: &str = concat!(
    "application/vnd.restate.endpointmanifest.v4+json, ",
    "application/vnd.restate.endpointmanifest.v3+json"
);

/// Header flag asking the receiver to acknowledge the message. In V5/V6 nothing in the
/// protocol sets it; from V7 the endpoint sets it on `ProposeRunCompletion`.
pub(crate) const ACK_FLAG: u16 = 0x8000;

/// Length of a frame header in bytes.
pub(crate) const HEADER_LEN: usize = 8;

/// Default limit of a frame's payload length accepted by [`FrameDecoder`]: 32 MiB.
pub(crate) const DEFAULT_MAX_FRAME_LEN: usize = 32 * 1024 * 1024;

const COMMAND_RANGE: std::ops::Range<u16> = 0x0400..0x8000;
const NOTIFICATION_RANGE: std::ops::Range<u16> = 0x8000..0xFC00;

/// A message with a fixed type id.
pub(crate) trait ProtocolMessage: prost::Message + Default {
    /// The message type id written in the frame header.
    const TY: u16;
}

/// Declares the message type ids, their names for error messages and, where the message is
/// modelled in [`pb`], the [`ProtocolMessage`] impl.
macro_rules! message_types {
    ($( $(#[$doc:meta])* $konst:ident = $id:literal, $name:literal $(, $msg:ident)?; )*) => {
        $(
            $(#[$doc])*
            pub(crate) const $konst: u16 = $id;
            $( impl ProtocolMessage for pb::$msg { const TY: u16 = $konst; } )?
        )*

        /// The name of a message type, for logs and error messages (`"unknown"` for an id not
        /// in the protocol).
        pub(crate) fn type_name(ty: u16) -> &'static str {
            match ty {
                $( $konst => $name, )*
                _ => "unknown",
            }
        }

        /// Whether `ty` is a message type id of the protocol (V5 to V7) that the engine knows.
        pub(crate) fn is_known(ty: u16) -> bool {
            matches!(ty, $( $konst )|*)
        }
    };
}

message_types! {
    /// Engine -> endpoint, first message of every attempt.
    START = 0x0000, "Start", StartMessage;
    /// Endpoint -> engine: waiting for notifications, attempt over.
    SUSPENSION = 0x0001, "Suspension", SuspensionMessage;
    /// Endpoint -> engine: the attempt failed (retryable).
    ERROR = 0x0002, "Error", ErrorMessage;
    /// Endpoint -> engine: the invocation finished.
    END = 0x0003, "End", EndMessage;
    /// Engine -> endpoint: a command is durable.
    COMMAND_ACK = 0x0004, "CommandAck", CommandAckMessage;
    /// Endpoint -> engine: outcome of a `run` closure to journal.
    PROPOSE_RUN_COMPLETION = 0x0005, "ProposeRunCompletion", ProposeRunCompletionMessage;
    /// Endpoint -> engine (V7+ only): what the handler is blocked on.
    AWAITING_ON = 0x0006, "AwaitingOn";
    /// Engine -> endpoint (V7+ only): a proposed run completion is durable.
    PROPOSE_RUN_COMPLETION_ACK = 0x0007, "ProposeRunCompletionAck";

    /// Input command: the request, always journal entry 0.
    INPUT_COMMAND = 0x0400, "InputCommand", InputCommandMessage;
    /// Output command: the response or terminal failure.
    OUTPUT_COMMAND = 0x0401, "OutputCommand", OutputCommandMessage;
    /// Lazy state read.
    GET_LAZY_STATE_COMMAND = 0x0402, "GetLazyStateCommand", GetLazyStateCommandMessage;
    /// Completion of a lazy state read.
    GET_LAZY_STATE_COMPLETION_NOTIFICATION = 0x8002, "GetLazyStateCompletionNotification",
        GetLazyStateCompletionNotificationMessage;
    /// State write.
    SET_STATE_COMMAND = 0x0403, "SetStateCommand", SetStateCommandMessage;
    /// State delete of one key.
    CLEAR_STATE_COMMAND = 0x0404, "ClearStateCommand", ClearStateCommandMessage;
    /// State delete of every key.
    CLEAR_ALL_STATE_COMMAND = 0x0405, "ClearAllStateCommand", ClearAllStateCommandMessage;
    /// Lazy state key listing.
    GET_LAZY_STATE_KEYS_COMMAND = 0x0406, "GetLazyStateKeysCommand",
        GetLazyStateKeysCommandMessage;
    /// Completion of a lazy state key listing.
    GET_LAZY_STATE_KEYS_COMPLETION_NOTIFICATION = 0x8006,
        "GetLazyStateKeysCompletionNotification", GetLazyStateKeysCompletionNotificationMessage;
    /// State read answered from the eager state.
    GET_EAGER_STATE_COMMAND = 0x0407, "GetEagerStateCommand", GetEagerStateCommandMessage;
    /// State key listing answered from the eager state.
    GET_EAGER_STATE_KEYS_COMMAND = 0x0408, "GetEagerStateKeysCommand",
        GetEagerStateKeysCommandMessage;
    /// Wait for a workflow promise.
    GET_PROMISE_COMMAND = 0x0409, "GetPromiseCommand", GetPromiseCommandMessage;
    /// Completion of a promise wait.
    GET_PROMISE_COMPLETION_NOTIFICATION = 0x8009, "GetPromiseCompletionNotification",
        GetPromiseCompletionNotificationMessage;
    /// Look at a workflow promise.
    PEEK_PROMISE_COMMAND = 0x040A, "PeekPromiseCommand", PeekPromiseCommandMessage;
    /// Completion of a promise peek.
    PEEK_PROMISE_COMPLETION_NOTIFICATION = 0x800A, "PeekPromiseCompletionNotification",
        PeekPromiseCompletionNotificationMessage;
    /// Resolve or reject a workflow promise.
    COMPLETE_PROMISE_COMMAND = 0x040B, "CompletePromiseCommand", CompletePromiseCommandMessage;
    /// Completion of a promise resolution.
    COMPLETE_PROMISE_COMPLETION_NOTIFICATION = 0x800B, "CompletePromiseCompletionNotification",
        CompletePromiseCompletionNotificationMessage;
    /// Durable timer.
    SLEEP_COMMAND = 0x040C, "SleepCommand", SleepCommandMessage;
    /// A timer fired.
    SLEEP_COMPLETION_NOTIFICATION = 0x800C, "SleepCompletionNotification",
        SleepCompletionNotificationMessage;
    /// Request-response call.
    CALL_COMMAND = 0x040D, "CallCommand", CallCommandMessage;
    /// Result of a call.
    CALL_COMPLETION_NOTIFICATION = 0x800D, "CallCompletionNotification",
        CallCompletionNotificationMessage;
    /// One-way (possibly delayed) call.
    ONE_WAY_CALL_COMMAND = 0x040E, "OneWayCallCommand", OneWayCallCommandMessage;
    /// Invocation id of a call or one-way call.
    CALL_INVOCATION_ID_COMPLETION_NOTIFICATION = 0x800E,
        "CallInvocationIdCompletionNotification", CallInvocationIdCompletionNotificationMessage;
    /// Signal to another invocation (cancellation among others).
    SEND_SIGNAL_COMMAND = 0x0410, "SendSignalCommand", SendSignalCommandMessage;
    /// A `run` step.
    RUN_COMMAND = 0x0411, "RunCommand", RunCommandMessage;
    /// The durable outcome of a `run` step.
    RUN_COMPLETION_NOTIFICATION = 0x8011, "RunCompletionNotification",
        RunCompletionNotificationMessage;
    /// Wait for another invocation's result.
    ATTACH_INVOCATION_COMMAND = 0x0412, "AttachInvocationCommand",
        AttachInvocationCommandMessage;
    /// Result of an attach.
    ATTACH_INVOCATION_COMPLETION_NOTIFICATION = 0x8012,
        "AttachInvocationCompletionNotification", AttachInvocationCompletionNotificationMessage;
    /// Read another invocation's result if it is there.
    GET_INVOCATION_OUTPUT_COMMAND = 0x0413, "GetInvocationOutputCommand",
        GetInvocationOutputCommandMessage;
    /// Result of an output read.
    GET_INVOCATION_OUTPUT_COMPLETION_NOTIFICATION = 0x8013,
        "GetInvocationOutputCompletionNotification",
        GetInvocationOutputCompletionNotificationMessage;
    /// Resolve or reject an awakeable.
    COMPLETE_AWAKEABLE_COMMAND = 0x0414, "CompleteAwakeableCommand",
        CompleteAwakeableCommandMessage;
    /// A signal delivered to this invocation (awakeable results, cancellation).
    SIGNAL_NOTIFICATION = 0xFBFF, "SignalNotification", SignalNotificationMessage;
}

/// Signal index of cancellation.
pub(crate) const CANCEL_SIGNAL_INDEX: u32 = 1;
/// First signal index the endpoint uses for awakeables (1 to 16 belong to the runtime).
pub(crate) const FIRST_AWAKEABLE_SIGNAL_INDEX: u32 = 17;

/// Whether `ty` is a command (a journal entry written by the endpoint).
pub(crate) fn is_command(ty: u16) -> bool {
    COMMAND_RANGE.contains(&ty)
}

/// Whether `ty` is a notification (a journal entry written by the engine: completions and
/// signals).
pub(crate) fn is_notification(ty: u16) -> bool {
    NOTIFICATION_RANGE.contains(&ty)
}

/// Errors of framing, message decoding and awakeable ids.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProtocolError {
    /// A frame header names a message type the protocol does not have.
    #[error("unknown service protocol message type {ty:#06x}")]
    UnknownMessageType {
        /// The type id read.
        ty: u16,
    },
    /// A frame header declares a payload longer than the decoder accepts.
    #[error(
        "service protocol frame of type {} ({ty:#06x}) declares a payload of {len} bytes, more than the limit of {max} bytes",
        type_name(*ty)
    )]
    FrameTooLarge {
        /// The type id read.
        ty: u16,
        /// The declared payload length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// The stream ended in the middle of a frame.
    #[error("service protocol stream ended inside a frame ({buffered} bytes left over)")]
    TruncatedFrame {
        /// Bytes buffered when the stream ended.
        buffered: usize,
    },
    /// A payload does not decode as the message its type id names.
    #[error("cannot decode the payload of a {} ({ty:#06x}) message: {source}", type_name(*ty))]
    Decode {
        /// The frame's type id.
        ty: u16,
        /// Why prost refused it.
        #[source]
        source: prost::DecodeError,
    },
    /// A frame is not the message the caller expected.
    #[error(
        "expected a {} ({expected:#06x}) message, got a {} ({actual:#06x})",
        type_name(*expected),
        type_name(*actual)
    )]
    UnexpectedMessageType {
        /// The type id expected.
        expected: u16,
        /// The type id received.
        actual: u16,
    },
    /// A string is not an awakeable id.
    #[error("invalid awakeable id {id:?}: {reason}")]
    InvalidAwakeableId {
        /// The string given.
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// One protocol message as it travels: type id, flags and the encoded payload.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    /// Message type id (see the constants of this module).
    pub(crate) ty: u16,
    /// Header flags ([`ACK_FLAG`] or 0).
    pub(crate) flags: u16,
    /// Protobuf encoding of the message.
    pub(crate) payload: Bytes,
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field(
                "ty",
                &format_args!("{} ({:#06x})", type_name(self.ty), self.ty),
            )
            .field("flags", &format_args!("{:#06x}", self.flags))
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

impl Frame {
    /// A frame of type `ty` carrying `msg`, without flags.
    pub(crate) fn new(ty: u16, msg: &impl prost::Message) -> Self {
        Self {
            ty,
            flags: 0,
            payload: msg.encode_to_vec().into(),
        }
    }

    /// A frame carrying `msg` under its own type id, without flags.
    pub(crate) fn from_message<M: ProtocolMessage>(msg: &M) -> Self {
        Self::new(M::TY, msg)
    }

    /// The same frame with [`ACK_FLAG`] set.
    pub(crate) fn with_ack(mut self) -> Self {
        self.flags |= ACK_FLAG;
        self
    }

    /// Whether the sender asked for an acknowledgement.
    pub(crate) fn requires_ack(&self) -> bool {
        self.flags & ACK_FLAG != 0
    }

    /// Length of the frame on the wire, header included.
    pub(crate) fn encoded_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// Appends the frame (header and payload) to `buf`.
    ///
    /// # Panics
    ///
    /// If the payload is 4 GiB or longer, which the header cannot express.
    pub(crate) fn encode(&self, buf: &mut BytesMut) {
        let len = u32::try_from(self.payload.len())
            .expect("a protocol message payload must be shorter than 4 GiB");
        buf.reserve(self.encoded_len());
        buf.put_u16(self.ty);
        buf.put_u16(self.flags);
        buf.put_u32(len);
        buf.put_slice(&self.payload);
    }

    /// The frame as bytes (header and payload).
    pub(crate) fn to_bytes(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut buf);
        buf.freeze()
    }

    /// Decodes the payload as `M`, whatever the frame's type id.
    pub(crate) fn decode_as<M: prost::Message + Default>(&self) -> Result<M, ProtocolError> {
        M::decode(self.payload.clone()).map_err(|source| ProtocolError::Decode {
            ty: self.ty,
            source,
        })
    }

    /// Decodes the payload as `M` after checking that the type id is `M`'s.
    pub(crate) fn decode<M: ProtocolMessage>(&self) -> Result<M, ProtocolError> {
        if self.ty != M::TY {
            return Err(ProtocolError::UnexpectedMessageType {
                expected: M::TY,
                actual: self.ty,
            });
        }
        self.decode_as()
    }
}

/// Cuts a byte stream into [`Frame`]s. Chunks may split frames anywhere and may hold several.
///
/// After an error the stream cannot be trusted: the decoder keeps answering the same error.
#[derive(Debug)]
pub(crate) struct FrameDecoder {
    buf: BytesMut,
    max_frame_len: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder accepting payloads up to [`DEFAULT_MAX_FRAME_LEN`].
    pub(crate) fn new() -> Self {
        Self::with_max_frame_len(DEFAULT_MAX_FRAME_LEN)
    }

    /// A decoder accepting payloads up to `max_frame_len` bytes.
    pub(crate) fn with_max_frame_len(max_frame_len: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            max_frame_len,
        }
    }

    /// Appends a chunk of the stream.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete frame, `None` when more bytes are needed.
    pub(crate) fn next_frame(&mut self) -> Result<Option<Frame>, ProtocolError> {
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let mut header = &self.buf[..HEADER_LEN];
        let ty = header.get_u16();
        let flags = header.get_u16();
        let len = header.get_u32();
        if !is_known(ty) {
            return Err(ProtocolError::UnknownMessageType { ty });
        }
        let len_usize = usize::try_from(len).unwrap_or(usize::MAX);
        if len_usize > self.max_frame_len {
            return Err(ProtocolError::FrameTooLarge {
                ty,
                len: u64::from(len),
                max: self.max_frame_len,
            });
        }
        if self.buf.len() < HEADER_LEN + len_usize {
            // Make room for the rest of the frame at once rather than chunk by chunk.
            self.buf.reserve(HEADER_LEN + len_usize - self.buf.len());
            return Ok(None);
        }
        let mut frame = self.buf.split_to(HEADER_LEN + len_usize);
        frame.advance(HEADER_LEN);
        Ok(Some(Frame {
            ty,
            flags,
            payload: frame.freeze(),
        }))
    }

    /// Bytes received but not yet returned as frames.
    pub(crate) fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Checks that the stream ended on a frame boundary.
    pub(crate) fn finish(&self) -> Result<(), ProtocolError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(ProtocolError::TruncatedFrame {
                buffered: self.buf.len(),
            })
        }
    }
}

const AWAKEABLE_PREFIX: &str = "sign_1";

/// The URL-safe base64 alphabet, written without padding and read with or without it, as the
/// SDK's shared core does for awakeable ids.
const AWAKEABLE_BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    base64::engine::GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// The printable id of the awakeable that is signal `signal_index` of the invocation whose
/// binary id (`StartMessage.id`) is `invocation_id_bytes`: `sign_1` followed by the unpadded
/// URL-safe base64 of the id bytes and the index as a big-endian `u32`. The same string the
/// endpoint hands to user code.
pub(crate) fn awakeable_id(invocation_id_bytes: &[u8], signal_index: u32) -> String {
    let mut raw = Vec::with_capacity(invocation_id_bytes.len() + 4);
    raw.extend_from_slice(invocation_id_bytes);
    raw.extend_from_slice(&signal_index.to_be_bytes());
    let mut id = String::with_capacity(AWAKEABLE_PREFIX.len() + raw.len().div_ceil(3) * 4);
    id.push_str(AWAKEABLE_PREFIX);
    AWAKEABLE_BASE64.encode_string(raw, &mut id);
    id
}

/// Splits an awakeable id into the binary invocation id and the signal index, the inverse of
/// [`awakeable_id`]. Padded and unpadded forms are accepted.
pub(crate) fn parse_awakeable_id(id: &str) -> Result<(Vec<u8>, u32), ProtocolError> {
    let invalid = |reason| ProtocolError::InvalidAwakeableId {
        id: id.to_owned(),
        reason,
    };
    let encoded = id
        .strip_prefix(AWAKEABLE_PREFIX)
        .ok_or_else(|| invalid("it does not start with `sign_1`"))?;
    let mut raw = AWAKEABLE_BASE64
        .decode(encoded)
        .map_err(|_| invalid("it is not URL-safe base64"))?;
    if raw.len() <= 4 {
        return Err(invalid(
            "it is too short to hold an invocation id and an index",
        ));
    }
    let index_bytes = raw.split_off(raw.len() - 4);
    let index = u32::from_be_bytes(
        index_bytes
            .try_into()
            .expect("split_off left exactly four bytes"),
    );
    Ok((raw, index))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(content: &'static [u8]) -> pb::InputCommandMessage {
        pb::InputCommandMessage {
            value: Some(pb::Value {
                content: content.to_vec(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn header_layout_is_big_endian_type_flags_length() {
        let frame = Frame::from_message(&pb::CommandAckMessage { command_index: 1 }).with_ack();
        let bytes = frame.to_bytes();
        assert_eq!(&bytes[..HEADER_LEN], &[0x00, 0x04, 0x80, 0x00, 0, 0, 0, 2]);
        assert_eq!(&bytes[HEADER_LEN..], &[0x08, 0x01]);
    }

    #[test]
    fn frames_split_across_chunks_at_every_offset() {
        let mut stream = BytesMut::new();
        Frame::from_message(&input(b"\"Ada\"")).encode(&mut stream);
        Frame::from_message(&pb::EndMessage {}).encode(&mut stream);
        let stream = stream.freeze();
        for split in 0..=stream.len() {
            let mut decoder = FrameDecoder::new();
            let mut frames = Vec::new();
            for chunk in [&stream[..split], &stream[split..]] {
                decoder.push(chunk);
                while let Some(frame) = decoder.next_frame().unwrap() {
                    frames.push(frame);
                }
            }
            assert_eq!(frames.len(), 2, "split at {split}");
            assert_eq!(
                frames[0].decode::<pb::InputCommandMessage>().unwrap(),
                input(b"\"Ada\"")
            );
            assert_eq!(frames[1].ty, END);
            assert!(frames[1].payload.is_empty());
            decoder.finish().unwrap();
        }
    }

    #[test]
    fn byte_by_byte_and_many_frames_per_chunk() {
        let frames: Vec<Frame> = (0..10)
            .map(|i| Frame::from_message(&pb::CommandAckMessage { command_index: i }))
            .collect();
        let mut stream = BytesMut::new();
        for f in &frames {
            f.encode(&mut stream);
        }

        let mut all_at_once = FrameDecoder::new();
        all_at_once.push(&stream);
        for f in &frames {
            assert_eq!(all_at_once.next_frame().unwrap().as_ref(), Some(f));
        }
        assert!(all_at_once.next_frame().unwrap().is_none());

        let mut one_byte = FrameDecoder::new();
        let mut got = Vec::new();
        for b in stream.iter() {
            one_byte.push(std::slice::from_ref(b));
            while let Some(frame) = one_byte.next_frame().unwrap() {
                got.push(frame);
            }
        }
        assert_eq!(got, frames);
        assert_eq!(one_byte.buffered(), 0);
    }

    #[test]
    fn ack_flag() {
        let proposal = pb::ProposeRunCompletionMessage {
            result_completion_id: 1,
            result: Some(pb::propose_run_completion_message::Result::Value(
                b"1".to_vec(),
            )),
        };
        let plain = Frame::from_message(&proposal);
        assert!(!plain.requires_ack());
        let acked = plain.clone().with_ack();
        assert!(acked.requires_ack());

        let mut decoder = FrameDecoder::new();
        decoder.push(&acked.to_bytes());
        decoder.push(&plain.to_bytes());
        let first = decoder.next_frame().unwrap().unwrap();
        assert!(first.requires_ack());
        assert_eq!(first.ty, PROPOSE_RUN_COMPLETION);
        assert_eq!(
            first.decode::<pb::ProposeRunCompletionMessage>().unwrap(),
            proposal
        );
        assert!(!decoder.next_frame().unwrap().unwrap().requires_ack());
    }

    #[test]
    fn oversized_frame_is_refused_before_its_payload_arrives() {
        let mut decoder = FrameDecoder::with_max_frame_len(16);
        decoder.push(&[0x04, 0x00, 0, 0, 0, 0, 0, 17]);
        let err = decoder.next_frame().unwrap_err();
        assert!(matches!(
            err,
            ProtocolError::FrameTooLarge {
                ty: INPUT_COMMAND,
                len: 17,
                max: 16
            }
        ));
        assert_eq!(
            err.to_string(),
            "service protocol frame of type InputCommand (0x0400) declares a payload of 17 bytes, more than the limit of 16 bytes"
        );

        let mut default = FrameDecoder::new();
        default.push(&[0x04, 0x01, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert!(matches!(
            default.next_frame(),
            Err(ProtocolError::FrameTooLarge {
                len: 0xFFFF_FFFF,
                ..
            })
        ));

        let mut exact = FrameDecoder::with_max_frame_len(2);
        exact.push(&Frame::from_message(&pb::CommandAckMessage { command_index: 1 }).to_bytes());
        assert!(exact.next_frame().unwrap().is_some());
    }

    #[test]
    fn unknown_type_truncation_and_bad_payloads() {
        let mut decoder = FrameDecoder::new();
        decoder.push(&[0x12, 0x34, 0, 0, 0, 0, 0, 0]);
        let err = decoder.next_frame().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown service protocol message type 0x1234"
        );

        let mut partial = FrameDecoder::new();
        partial.push(&[0x00, 0x03, 0, 0, 0, 0]);
        assert!(partial.next_frame().unwrap().is_none());
        assert_eq!(
            partial.finish().unwrap_err().to_string(),
            "service protocol stream ended inside a frame (6 bytes left over)"
        );

        let garbage = Frame {
            ty: OUTPUT_COMMAND,
            flags: 0,
            payload: Bytes::from_static(&[0xFF]),
        };
        let err = garbage.decode::<pb::OutputCommandMessage>().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot decode the payload of a OutputCommand (0x0401) message: "),
            "{err}"
        );
        let err = garbage.decode::<pb::EndMessage>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected a End (0x0003) message, got a OutputCommand (0x0401)"
        );
    }

    #[test]
    fn type_ids_classify() {
        assert!(is_command(INPUT_COMMAND));
        assert!(is_command(COMPLETE_AWAKEABLE_COMMAND));
        assert!(!is_command(START));
        assert!(!is_command(RUN_COMPLETION_NOTIFICATION));
        assert!(is_notification(RUN_COMPLETION_NOTIFICATION));
        assert!(is_notification(SIGNAL_NOTIFICATION));
        assert!(!is_notification(PROPOSE_RUN_COMPLETION));
        assert!(!is_notification(RUN_COMMAND));
        assert_eq!(
            type_name(CALL_INVOCATION_ID_COMPLETION_NOTIFICATION),
            "CallInvocationIdCompletionNotification"
        );
        assert_eq!(type_name(0x7777), "unknown");
        assert_eq!(
            <pb::SignalNotificationMessage as ProtocolMessage>::TY,
            0xFBFF
        );
    }

    #[test]
    fn every_notification_reads_as_the_template() {
        let frame = Frame::from_message(&pb::RunCompletionNotificationMessage {
            completion_id: 3,
            result: Some(pb::run_completion_notification_message::Result::Value(
                pb::Value {
                    content: b"42".to_vec(),
                },
            )),
        });
        let template: pb::NotificationTemplate = frame.decode_as().unwrap();
        assert_eq!(
            template.id,
            Some(pb::notification_template::Id::CompletionId(3))
        );
        assert_eq!(
            template.result,
            Some(pb::notification_template::Result::Value(pb::Value {
                content: b"42".to_vec()
            }))
        );
    }

    #[test]
    fn suspension_reads_both_forms() {
        // V6 form: flat lists in fields 1 to 3.
        let v6 = pb::SuspensionMessage {
            waiting_completions: vec![1, 2],
            waiting_signals: vec![17],
            waiting_named_signals: vec!["s".into()],
            awaiting_on: None,
        };
        let back: pb::SuspensionMessage = Frame::from_message(&v6).decode().unwrap();
        assert_eq!(back, v6);
        // V7 form: a tree in field 4.
        let v7 = pb::SuspensionMessage {
            awaiting_on: Some(pb::Future {
                waiting_completions: vec![3],
                combinator_type: pb::CombinatorType::FirstCompleted.into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let back: pb::SuspensionMessage = Frame::from_message(&v7).decode().unwrap();
        assert_eq!(back, v7);
    }

    #[test]
    fn awakeable_id_round_trip() {
        let invocation = b"0123456789abcdef\xff\xfe\xfd";
        for index in [17, 18, 0xFFFF_FFFF] {
            let id = awakeable_id(invocation, index);
            assert!(id.starts_with("sign_1"));
            assert!(!id.contains('=') && !id.contains('+') && !id.contains('/'));
            assert_eq!(
                parse_awakeable_id(&id).unwrap(),
                (invocation.to_vec(), index)
            );
        }
        // 20 bytes encode to 27 characters, 28 with padding: both read back.
        let id = awakeable_id(b"0123456789abcdef", 17);
        let padded = format!("{id}=");
        assert_eq!(
            parse_awakeable_id(&padded).unwrap(),
            (b"0123456789abcdef".to_vec(), 17)
        );
    }

    #[test]
    fn awakeable_id_matches_the_shared_core_format() {
        // The format of restate-sdk-shared-core 8.2 (`awakeable_id_str`): "sign_1" ++ unpadded
        // URL-safe base64 of (id bytes ++ u32 big-endian). Computed by hand for 16 bytes 0..16
        // and index 17: the raw bytes are 00 01 .. 0f 00 00 00 11.
        let id: Vec<u8> = (0u8..16).collect();
        assert_eq!(awakeable_id(&id, 17), "sign_1AAECAwQFBgcICQoLDA0ODwAAABE");
        // The in-process test `awakeable_id_is_the_one_the_sdk_gives_out` checks the same
        // against the endpoint itself.
    }

    #[test]
    fn bad_awakeable_ids() {
        for bad in [
            "",
            "prom_1AAAA",
            "sign_1",
            "sign_1AAAA",
            "sign_1!!!!!!!!",
            "sign_1AAAAAAA*",
        ] {
            let err = parse_awakeable_id(bad).unwrap_err();
            assert!(
                matches!(err, ProtocolError::InvalidAwakeableId { .. }),
                "{bad}: {err}"
            );
        }
    }
}

/// Drives a restate-sdk endpoint in-process, as the embedded engine does: request and response
/// bodies are in-memory channels, no TCP, no hyper.
#[cfg(test)]
mod inprocess_tests {
    use super::*;

    use std::convert::Infallible;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use futures::channel::mpsc;
    use http_body_util::{BodyExt, StreamBody};
    use restate_sdk::endpoint::ResponseBody;
    use restate_sdk::prelude::*;

    /// How long a test waits for the endpoint before calling it stuck.
    const PATIENCE: Duration = Duration::from_secs(10);
    /// How long a test waits to conclude that the endpoint sends nothing more.
    const QUIET: Duration = Duration::from_millis(300);

    const INVOCATION_ID: [u8; 16] = *b"\x01\x02\x03\x04\x05\x06\x07\x08inv_test";

    struct Echo {
        runs: Arc<AtomicUsize>,
    }

    #[restate_sdk::service]
    impl Echo {
        #[handler]
        async fn echo(&self, _ctx: Context<'_>, name: String) -> Result<String, HandlerError> {
            Ok(format!("Hello {name}"))
        }

        #[handler]
        async fn step(&self, ctx: Context<'_>, name: String) -> Result<String, HandlerError> {
            let runs = Arc::clone(&self.runs);
            let greeting = ctx
                .run(|| async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    Ok(format!("Hello {name}"))
                })
                .name("greet")
                .await?;
            Ok(format!("{greeting}!"))
        }

        #[handler]
        async fn nap(&self, ctx: Context<'_>) -> Result<String, HandlerError> {
            ctx.sleep(Duration::from_secs(3600)).await?;
            Ok("rested".to_owned())
        }

        #[handler]
        async fn wait(&self, ctx: Context<'_>) -> Result<String, HandlerError> {
            let (id, promise) = ctx.awakeable::<String>();
            let value = promise.await?;
            Ok(format!("{id} {value}"))
        }
    }

    type RequestTx = mpsc::UnboundedSender<Result<hyper::body::Frame<Bytes>, Infallible>>;

    /// One invocation attempt: the open request body and the response being read.
    struct Attempt {
        status: http::StatusCode,
        content_type: Option<String>,
        request: Option<RequestTx>,
        response: ResponseBody,
        decoder: FrameDecoder,
    }

    fn endpoint(runs: &Arc<AtomicUsize>) -> Endpoint {
        Endpoint::builder()
            .bind(Echo {
                runs: Arc::clone(runs),
            })
            .build()
    }

    fn start(known_entries: u32) -> Frame {
        Frame::from_message(&pb::StartMessage {
            id: INVOCATION_ID.to_vec(),
            debug_id: "inv_test".to_owned(),
            known_entries,
            key: String::new(),
            random_seed: 1,
            partial_state: false,
            ..Default::default()
        })
    }

    fn input_json(json: &'static str) -> Frame {
        Frame::from_message(&pb::InputCommandMessage {
            value: Some(pb::Value {
                content: json.as_bytes().to_vec(),
            }),
            ..Default::default()
        })
    }

    impl Attempt {
        fn begin(endpoint: &Endpoint, path: &str, content_type: &str) -> Self {
            let (tx, rx) = mpsc::unbounded();
            let request = http::Request::post(path)
                .header(http::header::CONTENT_TYPE, content_type)
                .body(StreamBody::new(rx))
                .unwrap();
            let response = endpoint.handle(request);
            let status = response.status();
            let content_type = response
                .headers()
                .get(http::header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap().to_owned());
            Self {
                status,
                content_type,
                request: Some(tx),
                response: response.into_body(),
                decoder: FrameDecoder::new(),
            }
        }

        /// Sends frames in one chunk of the request body.
        fn send(&self, frames: &[Frame]) {
            let mut chunk = BytesMut::new();
            for f in frames {
                f.encode(&mut chunk);
            }
            self.request
                .as_ref()
                .expect("request body still open")
                .unbounded_send(Ok(hyper::body::Frame::data(chunk.freeze())))
                .unwrap();
        }

        fn close_request(&mut self) {
            self.request = None;
        }

        /// The next message of the response, `None` when the response body ended. Polling the
        /// response body is what runs the handler.
        async fn next(&mut self) -> Option<Frame> {
            loop {
                if let Some(frame) = self.decoder.next_frame().unwrap() {
                    return Some(frame);
                }
                match self.response.frame().await {
                    None => {
                        self.decoder.finish().unwrap();
                        return None;
                    }
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            self.decoder.push(&data);
                        }
                    }
                    Some(Err(e)) => panic!("response body failed: {e}"),
                }
            }
        }

        async fn expect(&mut self, ty: u16) -> Frame {
            let frame = tokio::time::timeout(PATIENCE, self.next())
                .await
                .unwrap_or_else(|_| panic!("no {} within {PATIENCE:?}", type_name(ty)))
                .unwrap_or_else(|| panic!("response ended before a {}", type_name(ty)));
            assert_eq!(
                frame.ty,
                ty,
                "expected {}, got {frame:?}: {:?}",
                type_name(ty),
                frame.decode_as::<pb::ErrorMessage>()
            );
            frame
        }

        /// Asserts that nothing arrives for a while (the endpoint is waiting for the engine).
        async fn expect_quiet(&mut self) {
            if let Ok(frame) = tokio::time::timeout(QUIET, self.next()).await {
                panic!("expected silence, got {frame:?}");
            }
        }

        async fn expect_end_of_response(&mut self) {
            let next = tokio::time::timeout(PATIENCE, self.next()).await.unwrap();
            assert!(
                next.is_none(),
                "expected the end of the response, got {next:?}"
            );
        }

        /// Reads Output and End, closes the request, checks the response ends, and returns the
        /// output value as a string.
        async fn expect_output_and_end(&mut self) -> String {
            let output: pb::OutputCommandMessage =
                self.expect(OUTPUT_COMMAND).await.decode().unwrap();
            self.expect(END).await;
            self.close_request();
            self.expect_end_of_response().await;
            match output.result {
                Some(pb::output_command_message::Result::Value(v)) => {
                    String::from_utf8(v.content.to_vec()).unwrap()
                }
                other => panic!("expected an output value, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn echo_answers_output_then_end() {
        let runs = Arc::new(AtomicUsize::new(0));
        let mut attempt = Attempt::begin(&endpoint(&runs), "/invoke/Echo/echo", CONTENT_TYPE_V6);
        assert_eq!(attempt.status, http::StatusCode::OK);
        assert_eq!(attempt.content_type.as_deref(), Some(CONTENT_TYPE_V6));

        attempt.send(&[start(1), input_json("\"Ada\"")]);
        let output: pb::OutputCommandMessage =
            attempt.expect(OUTPUT_COMMAND).await.decode().unwrap();
        assert_eq!(
            output.result,
            Some(pb::output_command_message::Result::Value(pb::Value {
                content: b"\"Hello Ada\"".to_vec()
            }))
        );
        attempt.expect(END).await;
        // The endpoint drains the request before ending its response: until the engine closes
        // the request body, the response stays open.
        attempt.expect_quiet().await;
        attempt.close_request();
        attempt.expect_end_of_response().await;
    }

    #[tokio::test]
    async fn echo_speaks_v5_and_v7_too() {
        let runs = Arc::new(AtomicUsize::new(0));
        for content_type in [CONTENT_TYPE_V5, CONTENT_TYPE_V7] {
            let mut attempt = Attempt::begin(&endpoint(&runs), "/invoke/Echo/echo", content_type);
            assert_eq!(attempt.content_type.as_deref(), Some(content_type));
            attempt.send(&[start(1), input_json("\"Ada\"")]);
            assert_eq!(attempt.expect_output_and_end().await, "\"Hello Ada\"");
        }
    }

    #[tokio::test]
    async fn run_is_proposed_without_ack_in_v6_and_waits_for_its_notification() {
        let runs = Arc::new(AtomicUsize::new(0));
        let mut attempt = Attempt::begin(&endpoint(&runs), "/invoke/Echo/step", CONTENT_TYPE_V6);
        attempt.send(&[start(1), input_json("\"Ada\"")]);

        let run: pb::RunCommandMessage = attempt.expect(RUN_COMMAND).await.decode().unwrap();
        assert_eq!(run.name, "greet");
        assert_eq!(run.result_completion_id, 1);
        let proposal_frame = attempt.expect(PROPOSE_RUN_COMPLETION).await;
        assert!(
            !proposal_frame.requires_ack(),
            "V6 proposals carry no ack flag"
        );
        let proposal: pb::ProposeRunCompletionMessage = proposal_frame.decode().unwrap();
        assert_eq!(proposal.result_completion_id, run.result_completion_id);
        let value = match proposal.result {
            Some(pb::propose_run_completion_message::Result::Value(v)) => v,
            other => panic!("expected a value, got {other:?}"),
        };
        assert_eq!(&value[..], b"\"Hello Ada\"");
        assert_eq!(runs.load(Ordering::SeqCst), 1);

        // Until the engine journals the completion, the handler does not go on.
        attempt.expect_quiet().await;

        attempt.send(
            &[Frame::from_message(&pb::RunCompletionNotificationMessage {
                completion_id: proposal.result_completion_id,
                result: Some(pb::run_completion_notification_message::Result::Value(
                    pb::Value { content: value },
                )),
            })],
        );
        assert_eq!(attempt.expect_output_and_end().await, "\"Hello Ada!\"");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn run_proposal_asks_for_ack_from_v7() {
        let runs = Arc::new(AtomicUsize::new(0));
        let mut attempt = Attempt::begin(&endpoint(&runs), "/invoke/Echo/step", CONTENT_TYPE_V7);
        assert_eq!(attempt.content_type.as_deref(), Some(CONTENT_TYPE_V7));
        attempt.send(&[start(1), input_json("\"Ada\"")]);
        attempt.expect(RUN_COMMAND).await;
        assert!(attempt.expect(PROPOSE_RUN_COMPLETION).await.requires_ack());
    }

    #[tokio::test]
    async fn replay_does_not_run_a_completed_step_again() {
        let runs = Arc::new(AtomicUsize::new(0));
        let mut attempt = Attempt::begin(&endpoint(&runs), "/invoke/Echo/step", CONTENT_TYPE_V6);
        attempt.send(&[
            start(3),
            input_json("\"Ada\""),
            Frame::from_message(&pb::RunCommandMessage {
                result_completion_id: 1,
                name: "greet".to_owned(),
            }),
            Frame::from_message(&pb::RunCompletionNotificationMessage {
                completion_id: 1,
                result: Some(pb::run_completion_notification_message::Result::Value(
                    pb::Value {
                        content: b"\"Hello from the journal\"".to_vec(),
                    },
                )),
            }),
        ]);
        // Nothing is sent for the replayed entries: the first message is the output.
        assert_eq!(
            attempt.expect_output_and_end().await,
            "\"Hello from the journal!\""
        );
        assert_eq!(runs.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn replay_of_a_step_without_its_completion_runs_it_once_more() {
        let runs = Arc::new(AtomicUsize::new(0));
        let mut attempt = Attempt::begin(&endpoint(&runs), "/invoke/Echo/step", CONTENT_TYPE_V6);
        attempt.send(&[
            start(2),
            input_json("\"Ada\""),
            Frame::from_message(&pb::RunCommandMessage {
                result_completion_id: 1,
                name: "greet".to_owned(),
            }),
        ]);
        // The command is in the journal, its result is not: the closure runs and is proposed.
        let proposal: pb::ProposeRunCompletionMessage = attempt
            .expect(PROPOSE_RUN_COMPLETION)
            .await
            .decode()
            .unwrap();
        assert_eq!(proposal.result_completion_id, 1);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn replay_that_does_not_match_the_code_is_error_570() {
        let runs = Arc::new(AtomicUsize::new(0));
        let mut attempt = Attempt::begin(&endpoint(&runs), "/invoke/Echo/step", CONTENT_TYPE_V6);
        attempt.send(&[
            start(2),
            input_json("\"Ada\""),
            Frame::from_message(&pb::SleepCommandMessage {
                wake_up_time: 1,
                result_completion_id: 1,
                name: String::new(),
            }),
        ]);
        let error: pb::ErrorMessage = attempt.expect(ERROR).await.decode().unwrap();
        assert_eq!(error.code, 570, "{error:?}");
        attempt.close_request();
        attempt.expect_end_of_response().await;
    }

    #[tokio::test]
    async fn closing_the_request_while_waiting_suspends() {
        let runs = Arc::new(AtomicUsize::new(0));
        let endpoint = endpoint(&runs);

        let mut napping = Attempt::begin(&endpoint, "/invoke/Echo/nap", CONTENT_TYPE_V6);
        napping.send(&[start(1), input_json("null")]);
        let sleep: pb::SleepCommandMessage = napping.expect(SLEEP_COMMAND).await.decode().unwrap();
        assert_eq!(sleep.result_completion_id, 1);
        napping.expect_quiet().await;
        napping.close_request();
        let suspension: pb::SuspensionMessage = napping.expect(SUSPENSION).await.decode().unwrap();
        // Cancellation (signal 1) is always awaited as well.
        assert_eq!(
            suspension,
            pb::SuspensionMessage {
                waiting_completions: vec![1],
                waiting_signals: vec![CANCEL_SIGNAL_INDEX],
                ..Default::default()
            }
        );
        napping.expect_end_of_response().await;

        let mut waiting = Attempt::begin(&endpoint, "/invoke/Echo/wait", CONTENT_TYPE_V6);
        waiting.send(&[start(1), input_json("null")]);
        waiting.expect_quiet().await;
        waiting.close_request();
        let mut suspension: pb::SuspensionMessage =
            waiting.expect(SUSPENSION).await.decode().unwrap();
        suspension.waiting_signals.sort_unstable();
        assert_eq!(
            suspension,
            pb::SuspensionMessage {
                waiting_signals: vec![CANCEL_SIGNAL_INDEX, FIRST_AWAKEABLE_SIGNAL_INDEX],
                ..Default::default()
            }
        );
        waiting.expect_end_of_response().await;
    }

    #[tokio::test]
    async fn awakeable_id_is_the_one_the_sdk_gives_out() {
        let runs = Arc::new(AtomicUsize::new(0));
        let mut attempt = Attempt::begin(&endpoint(&runs), "/invoke/Echo/wait", CONTENT_TYPE_V6);
        attempt.send(&[start(1), input_json("null")]);
        // Creating an awakeable journals nothing; resolving it is a signal to this invocation.
        attempt.expect_quiet().await;
        attempt.send(&[Frame::from_message(&pb::SignalNotificationMessage {
            signal_id: Some(pb::signal_notification_message::SignalId::Idx(
                FIRST_AWAKEABLE_SIGNAL_INDEX,
            )),
            result: Some(pb::signal_notification_message::Result::Value(pb::Value {
                content: b"\"ok\"".to_vec(),
            })),
        })]);
        let output = attempt.expect_output_and_end().await;
        let expected = awakeable_id(&INVOCATION_ID, FIRST_AWAKEABLE_SIGNAL_INDEX);
        assert_eq!(output, format!("\"{expected} ok\""));
        assert_eq!(
            parse_awakeable_id(&expected).unwrap(),
            (INVOCATION_ID.to_vec(), FIRST_AWAKEABLE_SIGNAL_INDEX)
        );
    }

    #[tokio::test]
    async fn known_entries_zero_ends_the_response_without_a_message() {
        let runs = Arc::new(AtomicUsize::new(0));
        let mut attempt = Attempt::begin(&endpoint(&runs), "/invoke/Echo/echo", CONTENT_TYPE_V6);
        assert_eq!(attempt.status, http::StatusCode::OK);
        attempt.send(&[start(0), input_json("\"Ada\"")]);
        // The shared core refuses the start message ("Known entries is zero, expected >= 1"),
        // but before the handler context exists nothing is written: the body just ends.
        attempt.expect_end_of_response().await;
    }

    #[tokio::test]
    async fn unknown_handler_is_200_then_an_error_message_and_unknown_service_is_404() {
        let runs = Arc::new(AtomicUsize::new(0));
        let endpoint = endpoint(&runs);

        let mut attempt = Attempt::begin(&endpoint, "/invoke/Echo/nope", CONTENT_TYPE_V6);
        assert_eq!(attempt.status, http::StatusCode::OK);
        attempt.send(&[start(1), input_json("\"Ada\"")]);
        // A retryable error (500), so the engine must check handlers against discovery itself.
        let error: pb::ErrorMessage = attempt.expect(ERROR).await.decode().unwrap();
        assert_eq!(error.code, 500, "{error:?}");
        assert_eq!(
            error.message,
            "Received a request for unknown service handler 'Echo/nope'"
        );
        attempt.close_request();
        attempt.expect_end_of_response().await;

        let attempt = Attempt::begin(&endpoint, "/invoke/Nope/echo", CONTENT_TYPE_V6);
        assert_eq!(attempt.status, http::StatusCode::NOT_FOUND);
        let body = attempt.response.collect().await.unwrap().to_bytes();
        assert!(String::from_utf8_lossy(&body).contains("unknown service 'Nope'"));

        let attempt = Attempt::begin(&endpoint, "/invoke/Echo/echo", "application/json");
        assert_eq!(attempt.status, http::StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[tokio::test]
    async fn discovery_serves_manifest_v4() {
        let runs = Arc::new(AtomicUsize::new(0));
        let request = http::Request::get("/discover")
            .header(http::header::ACCEPT, DISCOVERY_ACCEPT)
            .body(http_body_util::Empty::<Bytes>::new())
            .unwrap();
        let response = endpoint(&runs).handle(request);
        assert_eq!(response.status(), http::StatusCode::OK);
        assert_eq!(
            response.headers().get(http::header::CONTENT_TYPE).unwrap(),
            MANIFEST_V4
        );
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let manifest: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(manifest["minProtocolVersion"], 5);
        assert_eq!(manifest["maxProtocolVersion"], 7);
        assert_eq!(manifest["protocolMode"], "BIDI_STREAM");
        assert_eq!(manifest["services"][0]["name"], "Echo");

        let request = http::Request::get("/discover")
            .header(http::header::ACCEPT, MANIFEST_V3)
            .body(http_body_util::Empty::<Bytes>::new())
            .unwrap();
        let response = endpoint(&runs).handle(request);
        assert_eq!(
            response.headers().get(http::header::CONTENT_TYPE).unwrap(),
            MANIFEST_V3
        );
    }
}
