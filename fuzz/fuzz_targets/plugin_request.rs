//! The generator as a protoc plugin: whatever bytes arrive on its standard input, `run` answers
//! a `CodeGeneratorResponse` (an error message for what it cannot read) and never panics.
//!
//! Seeds: real `CodeGeneratorRequest`s captured from protoc for the protos under `proto/`
//! (`scripts/faults.sh` writes them to `fuzz/corpus/plugin_request/`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let response = protoc_gen_restate_rs::plugin::run(data);
    // The answer is always a well-formed response.
    let decoded = protoc_gen_restate_rs::plugin::CodeGeneratorResponse::decode(response.as_slice());
    assert!(
        decoded.is_ok(),
        "the plugin answered bytes that are not a response"
    );
});
