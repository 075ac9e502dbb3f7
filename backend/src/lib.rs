//! Courier's server as a library, so that tests start the real thing on `127.0.0.1:0`.
//!
//! Layers, and the only direction dependencies point: `http -> service -> {domain, store,
//! notify}`. Handlers hold no SQL, the store knows no HTTP, `domain` is pure rules.

pub mod config;
pub mod domain;
pub mod files;
pub mod http;
pub mod notify;
pub mod service;
pub mod startup;
pub mod store;
pub mod telemetry;

pub use config::Config;
pub use startup::{Application, StartupError, shutdown_signal};
