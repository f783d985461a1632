//! Code generated from the protos under `proto/`, shared by the examples and the tests.

/// Generated with the defaults: proto3 JSON payloads.
pub mod proto {
    /// `common.v1`: types shared between packages.
    pub mod common {
        /// `common.v1`
        pub mod v1 {
            #![allow(missing_docs)]
            restate_rs::include_proto!("common.v1");
        }
    }
    /// `hydra.v1`: the services.
    pub mod hydra {
        /// `hydra.v1`
        pub mod v1 {
            #![allow(missing_docs)]
            restate_rs::include_proto!("hydra.v1");
        }
    }
    /// `interop.v1`: the contract shared with a service written with the Python SDK.
    pub mod interop {
        /// `interop.v1`
        pub mod v1 {
            #![allow(missing_docs)]
            restate_rs::include_proto!("interop.v1");
        }
    }
    /// `scenarios.v1`: services the end-to-end scenarios drive.
    pub mod scenarios {
        /// `scenarios.v1`
        pub mod v1 {
            #![allow(missing_docs)]
            restate_rs::include_proto!("scenarios.v1");
        }
    }
}

/// The same protos generated with binary protobuf payloads and default 501 stubs.
pub mod proto_binary {
    /// `common.v1`
    pub mod common {
        /// `common.v1`
        pub mod v1 {
            #![allow(missing_docs)]
            restate_rs::include_proto!("common.v1", "binary");
        }
    }
    /// `hydra.v1`
    pub mod hydra {
        /// `hydra.v1`
        pub mod v1 {
            #![allow(missing_docs)]
            restate_rs::include_proto!("hydra.v1", "binary");
        }
    }
}

pub mod services;
