//! Generates the Rust types of the Restate service protocol (`proto/dev/restate/service/
//! protocol.proto`, our own transcription of the published specification) that the embedded
//! engine speaks to service endpoints. The output is `dev.restate.service.protocol.rs` in
//! `OUT_DIR`, included by `src/engine/protocol.rs`. Without the `engine` feature there is
//! nothing to generate.

#[cfg(feature = "engine")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use std::path::PathBuf;

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
    let fds = compiler.file_descriptor_set();

    // `bytes` fields stay `Vec<u8>`, prost's default.
    prost_build::Config::new().compile_fds(fds)?;
    Ok(())
}

#[cfg(not(feature = "engine"))]
fn main() {}
