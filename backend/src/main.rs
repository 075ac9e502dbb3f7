//! `courier`: read the configuration, set up logging, run the server until Ctrl-C or SIGTERM.

use backend::{Application, Config, StartupError, shutdown_signal, telemetry};
use clap::Parser;

#[tokio::main]
async fn main() -> Result<(), StartupError> {
    let config = Config::parse();
    telemetry::init();
    let app = Application::build(config).await?;
    println!("Courier is running at {}", app.url());
    app.run_until_stopped(shutdown_signal()).await
}
