//! The protoc plugin binary: reads a `CodeGeneratorRequest` on standard input and writes the
//! `CodeGeneratorResponse` on standard output. See `protoc_gen_restate_rs::plugin`.

use clap::Parser;
use std::io::{Read, Write};
use std::process::ExitCode;

/// Generates Rust Restate services, servers and clients from .proto files.
///
/// protoc runs this plugin; it is not meant to be run by hand. Use it as
///
///   protoc --plugin=protoc-gen-restate-rs --restate-rs_out=OUT [--restate-rs_opt=PARAMS] FILES
///
/// or as a local plugin in buf.gen.yaml. PARAMS is a comma-separated list of: encoding=json|binary,
/// server=false, client=false, ingress_client=false, default_stubs, require_service_type,
/// extern_path=.pkg=::rust::path, service_attribute=.selector=#[attr].
#[derive(Parser)]
#[command(name = "protoc-gen-restate-rs", version, verbatim_doc_comment)]
struct Cli {}

fn main() -> ExitCode {
    Cli::parse();
    let mut request = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut request) {
        eprintln!("protoc-gen-restate-rs: cannot read the request from standard input: {e}");
        return ExitCode::FAILURE;
    }
    let response = protoc_gen_restate_rs::plugin::run(&request);
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(&response).and_then(|()| stdout.flush()) {
        eprintln!("protoc-gen-restate-rs: cannot write the response to standard output: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
