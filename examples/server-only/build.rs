//! Generates the `hydra.v1` services (and the `common.v1` types they use) from the protos under
//! the workspace's `proto/`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    protoc_gen_restate_rs::configure().compile_protos(
        &[
            "../../proto/hydra/v1/greeter.proto",
            "../../proto/hydra/v1/deploy.proto",
            "../../proto/hydra/v1/signup.proto",
        ],
        &["../../proto"],
    )?;
    Ok(())
}
