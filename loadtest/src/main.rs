//! `loadtest`: Courier's load tool (issue #7).
//!
//! It starts Courier and a bare baseline server (axum + tokio, in-memory, the same request
//! shapes) as separate processes on 127.0.0.1, runs each scenario against both back to back, and
//! prints one JSON line per scenario with Courier's figures, the baseline's, and their ratio.
//! Every run is bounded in connections and time and stops by itself. The exit code is non-zero
//! when a message was lost or duplicated, or a scenario could not run.

mod baseline;
mod client;
mod error;
mod scenarios;
mod server;
mod stats;

use clap::{Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Courier's load tool: runs scenarios against Courier and a bare baseline server.
#[derive(Debug, Parser)]
#[command(
    name = "loadtest",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the baseline server (used by the tool itself, which re-executes its own binary so
    /// that the baseline's memory is measured in its own process).
    BaselineServer {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
}

/// Options of a load run.
#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The `courier` binary. Default: `courier` next to this binary
    /// (build it with `cargo build --release -p backend`).
    #[arg(long)]
    courier: Option<PathBuf>,

    /// An extra option for Courier, repeatable: `--courier-arg=--database-url=postgres://...`
    /// measures Courier on PostgreSQL (give it an empty database; every scenario's server
    /// starts on it in turn).
    #[arg(long = "courier-arg", allow_hyphen_values = true)]
    courier_args: Vec<String>,

    /// Which scenario to run.
    #[arg(long, value_enum, default_value_t = Which::All)]
    scenario: Which,

    /// Latency scenario: idle users, each with a parked poll, while messages flow.
    #[arg(long, default_value_t = 10_000)]
    parked: usize,

    /// Latency scenario: one-to-one messages per second, across all active pairs.
    #[arg(long, default_value_t = 1_000)]
    rate: u32,

    /// Latency scenario: active sender/recipient pairs that carry the messages.
    #[arg(long, default_value_t = 100)]
    pairs: usize,

    /// Measuring time of the latency scenario and of each sends run, in seconds.
    #[arg(long, default_value_t = 10)]
    duration: u64,

    /// Sends scenario: numbers of concurrent senders, one run each.
    #[arg(long, value_delimiter = ',', default_value = "64,256")]
    senders: Vec<usize>,

    /// Parked scenario: idle long-polls to open against each server (each its own HTTP/1.1
    /// connection and its own user). Keep it under the open-file limit minus a few dozen.
    #[arg(long, default_value_t = 19_500)]
    hold: usize,

    /// Parked scenario: idle long-polls to open over HTTP/2 (h2c), many per connection.
    #[arg(long, default_value_t = 50_000)]
    h2_hold: usize,

    /// Parked scenario: seconds every poll stays parked after the last one was opened.
    #[arg(long, default_value_t = 5.0)]
    hold_secs: f64,

    /// Fan-out scenario: group sizes, one run each.
    #[arg(long, value_delimiter = ',', default_value = "100,1000,5000")]
    fanout: Vec<usize>,

    /// Frontend scenario: the built web client.
    #[arg(long, default_value = "dist")]
    dist: PathBuf,

    /// Start-up scenario: starts per server (the median is reported).
    #[arg(long, default_value_t = 5)]
    starts: usize,

    /// Upload scenario: size of each uploaded file, in MB (at most Courier's --max-file-bytes).
    #[arg(long, default_value_t = 64)]
    upload_mb: usize,

    /// Upload scenario: files uploaded, one after the other.
    #[arg(long, default_value_t = 5)]
    uploads: usize,

    /// Runs every scenario very small (a few seconds in all), for CI.
    #[arg(long)]
    tiny: bool,
}

/// The scenarios, as `--scenario` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Which {
    All,
    Latency,
    Sends,
    Parked,
    Fanout,
    Frontend,
    Startup,
    Upload,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime can be built at start-up");
    match cli.command {
        Some(Command::BaselineServer { listen }) => {
            match runtime.block_on(baseline::serve(listen)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("baseline server: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        None => runtime.block_on(run(cli.run)),
    }
}

async fn run(args: RunArgs) -> ExitCode {
    let nofile = server::raise_open_file_limit();
    let settings = match settings(&args) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("loadtest: {error}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "loadtest: courier {}, open-file limit {nofile}{}",
        settings.servers.courier.display(),
        if args.tiny { ", tiny run" } else { "" }
    );
    let wanted = |which: Which| args.scenario == Which::All || args.scenario == which;
    let mut ok = true;
    if wanted(Which::Latency) {
        ok &= scenarios::latency::run(&settings).await;
    }
    if wanted(Which::Sends) {
        ok &= scenarios::sends::run(&settings).await;
    }
    if wanted(Which::Parked) {
        ok &= scenarios::parked::run(&settings).await;
    }
    if wanted(Which::Fanout) {
        ok &= scenarios::fanout::run(&settings).await;
    }
    if wanted(Which::Frontend) {
        scenarios::frontend::run(&settings);
    }
    if wanted(Which::Startup) {
        ok &= scenarios::startup::run(&settings).await;
    }
    if wanted(Which::Upload) {
        ok &= scenarios::upload::run(&settings).await;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Resolves the options (and `--tiny`) into the settings the scenarios read.
fn settings(args: &RunArgs) -> Result<scenarios::Settings, error::Error> {
    let exe = std::env::current_exe()
        .map_err(|e| error::Error::Setup(format!("cannot find this binary's path: {e}")))?;
    let courier = match &args.courier {
        Some(path) => path.clone(),
        None => exe
            .parent()
            .map(|dir| dir.join("courier"))
            .unwrap_or_else(|| PathBuf::from("courier")),
    };
    if !courier.is_file() {
        return Err(error::Error::Setup(format!(
            "no Courier binary at {}: build it with `cargo build --release -p backend` \
             (into the same target directory as loadtest) or pass --courier PATH",
            courier.display()
        )));
    }
    let servers = server::Binaries {
        courier,
        loadtest: exe,
        courier_args: args.courier_args.clone(),
    };
    let tiny = args.tiny;
    Ok(scenarios::Settings {
        servers,
        parked: if tiny { 200 } else { args.parked },
        rate: if tiny { 200 } else { args.rate },
        pairs: if tiny { 10 } else { args.pairs.max(1) },
        duration: Duration::from_secs_f64(if tiny { 1.0 } else { args.duration as f64 }),
        senders: if tiny {
            vec![8, 32]
        } else {
            args.senders.clone()
        },
        hold: if tiny { 500 } else { args.hold },
        h2_hold: if tiny { 500 } else { args.h2_hold },
        hold_for: Duration::from_secs_f64(if tiny { 1.0 } else { args.hold_secs.max(0.5) }),
        fanout: if tiny { vec![20] } else { args.fanout.clone() },
        dist: args.dist.clone(),
        starts: if tiny { 3 } else { args.starts.max(1) },
        upload_mb: if tiny { 4 } else { args.upload_mb.max(2) },
        uploads: if tiny { 2 } else { args.uploads.max(1) },
    })
}
