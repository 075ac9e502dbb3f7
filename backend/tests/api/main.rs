//! Integration tests: real HTTP against the real server with a real database. Each test starts
//! its own server on 127.0.0.1:0 with a fresh SQLite file.

mod bad_input;
mod crash;
mod helpers;
mod messaging;
mod session;
mod stream;
