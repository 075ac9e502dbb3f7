//! `courier`: read the configuration, set up logging, run the server until Ctrl-C or SIGTERM.

use backend::{Application, Config, StartupError, shutdown_signal, telemetry};
use clap::Parser;

/// mimalloc instead of the C library's allocator: a request allocates and frees dozens of
/// small buffers (headers, JSON, futures), and glibc's `malloc`/`free` were 16% of the HTTP
/// threads' time under load (docs/benchmarks.md, session 8).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), StartupError> {
    let config = Config::parse();
    telemetry::init();
    let app = Application::build(config).await?;
    println!("Courier is running at {}", app.url());
    app.run_until_stopped(shutdown_signal()).await
}
