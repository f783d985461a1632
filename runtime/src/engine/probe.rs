//! Not API (hidden): one invocation's request and answer in the service protocol, for measuring
//! an endpoint on its own, without an engine or a server around it (`benches/compare.rs`).

use super::protocol::{self, Frame, FrameDecoder, pb};
use bytes::{Bytes, BytesMut};
use http_body_util::Full;

/// The service protocol version of [`start_request`]; every SDK of this workspace speaks it.
pub const VERSION: &str = protocol::CONTENT_TYPE_V5;

/// The request that runs a new invocation of `service`/`handler` (`key` for keyed services, else
/// empty) on `input` from start to end: the start and input frames in one whole body, as the
/// engine sends them for a first attempt.
pub fn start_request(
    service: &str,
    handler: &str,
    key: &str,
    input: Bytes,
) -> http::Request<Full<Bytes>> {
    let start = pb::StartMessage {
        id: vec![7; 16],
        debug_id: "inv_probe".to_owned(),
        known_entries: 1,
        state_map: Vec::new(),
        partial_state: false,
        key: key.to_owned(),
        retry_count_since_last_stored_entry: 0,
        duration_since_last_stored_entry: 0,
        random_seed: 7,
    };
    let input = pb::InputCommandMessage {
        headers: Vec::new(),
        value: Some(pb::Value {
            content: input.to_vec(),
        }),
        name: String::new(),
    };
    let mut body = BytesMut::new();
    Frame::new(protocol::START, &start).encode(&mut body);
    Frame::new(protocol::INPUT_COMMAND, &input).encode(&mut body);
    http::Request::builder()
        .method("POST")
        .uri(format!("/invoke/{service}/{handler}"))
        .header("content-type", VERSION)
        .header("accept", VERSION)
        .body(Full::new(body.freeze()))
        .expect("a valid request")
}

/// The output value in an endpoint's whole answer to [`start_request`], or what came instead.
pub fn output_value(answer: &[u8]) -> Result<Bytes, String> {
    let mut decoder = FrameDecoder::new();
    decoder.push(answer);
    while let Some(frame) = decoder.next_frame().map_err(|e| e.to_string())? {
        if frame.ty == protocol::OUTPUT_COMMAND {
            let output: pb::OutputCommandMessage = frame.decode_as().map_err(|e| e.to_string())?;
            return match output.result {
                Some(pb::output_command_message::Result::Value(value)) => {
                    Ok(Bytes::from(value.content))
                }
                Some(pb::output_command_message::Result::Failure(failure)) => Err(format!(
                    "terminal failure {}: {}",
                    failure.code, failure.message
                )),
                None => Ok(Bytes::new()),
            };
        }
        if frame.ty == protocol::ERROR {
            let error: pb::ErrorMessage = frame.decode_as().map_err(|e| e.to_string())?;
            return Err(format!("error {}: {}", error.code, error.message));
        }
    }
    Err("the answer has no output".to_owned())
}
