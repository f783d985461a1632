//! Generates the code of the protos under `proto/` used by the examples and tests: once with
//! JSON payloads (the default) and once more with binary payloads, so both modes compile.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/common/v1/common.proto",
        "proto/hydra/v1/deploy.proto",
        "proto/hydra/v1/signup.proto",
        "proto/hydra/v1/greeter.proto",
        "proto/hydra/v1/kitchen_sink.proto",
        "proto/hydra/v1/configured.proto",
        "proto/scenarios/v1/scenarios.proto",
        "proto/scenarios/v1/sweep.proto",
        "proto/scenarios/v1/retention.proto",
        "proto/scenarios/v1/keys.proto",
    ];
    protoc_gen_restate_rs::configure()
        .default_stubs(false)
        .compile_protos(&protos, &["proto"])?;

    // The contract shared with the Python service of the interop test.
    protoc_gen_restate_rs::configure().compile_protos(
        &["interop/proto/interop/v1/interop.proto"],
        &["interop/proto", "proto"],
    )?;

    let out_dir = std::env::var("OUT_DIR")?;
    protoc_gen_restate_rs::configure()
        .encoding(protoc_gen_restate_rs::Encoding::Binary)
        .default_stubs(true)
        .out_dir(format!("{out_dir}/binary"))
        .compile_protos(&protos, &["proto"])?;
    Ok(())
}
