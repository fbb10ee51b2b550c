//! Compiles `proto/optuna_api.proto` (Optuna's gRPC storage protocol) for the `grpc` feature, in
//! pure Rust (protox), so that building needs no system `protoc`.

fn main() {
    #[cfg(feature = "grpc")]
    {
        println!("cargo:rerun-if-changed=proto/optuna_api.proto");
        let fds = protox::compile(["optuna_api.proto"], ["proto"])
            .unwrap_or_else(|e| panic!("proto/optuna_api.proto does not compile: {e}"));
        tonic_build::configure()
            .build_server(true)
            .build_client(true)
            .compile_fds(fds)
            .unwrap_or_else(|e| panic!("generating the gRPC code failed: {e}"));
    }
}
