//! Generates the service protocol messages from `proto/dev/restate/service/protocol.proto`
//! exactly as `runtime/build.rs` does, so that `runtime/src/engine/protocol.rs` (compiled into
//! the `protocol_frames` target) finds them in `OUT_DIR`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_dir = manifest_dir.join("..").join("proto");
    let proto_file = "dev/restate/service/protocol.proto";
    println!(
        "cargo:rerun-if-changed={}",
        proto_dir.join(proto_file).display()
    );
    let mut compiler = protox::Compiler::new([&proto_dir])?;
    compiler.include_imports(true);
    compiler.open_file(proto_file)?;
    prost_build::Config::new().compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
