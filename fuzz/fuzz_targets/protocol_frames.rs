//! The embedded engine's reading of the service protocol: the byte stream a deployment answers
//! is cut into frames (`FrameDecoder`), each payload decoded as the message its type names, and
//! awakeable ids parsed. Whatever the bytes and however they are split into chunks, this ends
//! in frames or an error, never a panic, and never a frame larger than the limit.
//!
//! The decoder is crate-private in `restate-rs`, so its source file is compiled into this
//! target as it is (`build.rs` generates the messages it includes).

#![no_main]
#![allow(dead_code, unreachable_pub)]

#[path = "../../runtime/src/engine/protocol.rs"]
mod protocol;

use libfuzzer_sys::fuzz_target;
use protocol::{Frame, FrameDecoder, pb};

/// The largest frame this target lets through, small so that the limit is exercised.
const MAX_FRAME: usize = 64 * 1024;

/// Decodes the payload as the message its type id names, as the engine would.
fn decode(frame: &Frame) {
    macro_rules! try_all {
        ($($msg:ident),* $(,)?) => {
            $( if frame.ty == <pb::$msg as protocol::ProtocolMessage>::TY {
                if let Ok(message) = frame.decode::<pb::$msg>() {
                    // What decodes re-encodes, and decodes again to the same message.
                    let again = Frame::from_message(&message);
                    assert_eq!(again.decode::<pb::$msg>().ok(), Some(message));
                }
                return;
            } )*
        };
    }
    try_all!(
        StartMessage,
        SuspensionMessage,
        ErrorMessage,
        EndMessage,
        CommandAckMessage,
        ProposeRunCompletionMessage,
        InputCommandMessage,
        OutputCommandMessage,
        GetLazyStateCommandMessage,
        GetLazyStateCompletionNotificationMessage,
        SetStateCommandMessage,
        ClearStateCommandMessage,
        ClearAllStateCommandMessage,
        GetLazyStateKeysCommandMessage,
        GetLazyStateKeysCompletionNotificationMessage,
        GetEagerStateCommandMessage,
        GetEagerStateKeysCommandMessage,
        GetPromiseCommandMessage,
        GetPromiseCompletionNotificationMessage,
        PeekPromiseCommandMessage,
        PeekPromiseCompletionNotificationMessage,
        CompletePromiseCommandMessage,
        CompletePromiseCompletionNotificationMessage,
        SleepCommandMessage,
        SleepCompletionNotificationMessage,
        CallCommandMessage,
        CallCompletionNotificationMessage,
        OneWayCallCommandMessage,
        CallInvocationIdCompletionNotificationMessage,
        SendSignalCommandMessage,
        RunCommandMessage,
        RunCompletionNotificationMessage,
        AttachInvocationCommandMessage,
        AttachInvocationCompletionNotificationMessage,
        GetInvocationOutputCommandMessage,
        GetInvocationOutputCompletionNotificationMessage,
        CompleteAwakeableCommandMessage,
        SignalNotificationMessage,
    );
}

fuzz_target!(|data: &[u8]| {
    // The first byte chooses how the stream is split into chunks (1 to 256 bytes).
    let Some((&split, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(split) + 1;
    let mut decoder = FrameDecoder::with_max_frame_len(MAX_FRAME);
    let mut frames = 0usize;
    let mut failed = false;
    'stream: for piece in stream.chunks(chunk) {
        decoder.push(piece);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    assert!(frame.payload.len() <= MAX_FRAME);
                    frames += 1;
                    decode(&frame);
                    // A frame re-encodes to the bytes it came from.
                    let bytes = frame.to_bytes();
                    let mut again = FrameDecoder::with_max_frame_len(MAX_FRAME);
                    again.push(&bytes);
                    assert_eq!(again.next_frame().ok().flatten(), Some(frame));
                }
                Ok(None) => break,
                Err(_) => {
                    failed = true;
                    break 'stream;
                }
            }
        }
    }
    if !failed {
        let _ = decoder.finish();
    }
    let _ = frames;

    // The same bytes as an awakeable id; what parses is printed back the same way.
    if let Ok(text) = std::str::from_utf8(stream) {
        if let Ok((raw, index)) = protocol::parse_awakeable_id(text) {
            let printed = protocol::awakeable_id(&raw, index);
            assert_eq!(
                protocol::parse_awakeable_id(&printed).ok(),
                Some((raw, index))
            );
        }
    }
});
