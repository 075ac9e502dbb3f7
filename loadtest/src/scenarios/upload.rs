//! Upload throughput (issue 6): one user uploads files of `--upload-mb` MB, one at a time, each
//! in one streamed `PUT` over loopback; the server writes them to disk, hashes them (SHA-256)
//! and moves them into its file store. Courier only: the baseline has no files.

use super::{Settings, emit, progress, round2};
use crate::client::Api;
use crate::error::Error;
use crate::server::{Kind, Server};
use serde_json::json;
use sha2::{Digest, Sha256};
use shared::files::{FileState, NewFile};
use std::time::{Duration, Instant};

pub async fn run(settings: &Settings) -> bool {
    progress(
        "upload",
        Kind::Courier,
        &format!("{} uploads of {} MB", settings.uploads, settings.upload_mb),
    );
    let result = match Server::start(Kind::Courier, &settings.servers).await {
        Ok(server) => {
            let result = measure(&server, settings).await;
            server.stop().await;
            result
        }
        Err(error) => Err(error),
    };
    let line = match &result {
        Ok(times) => {
            let bytes = settings.upload_mb as f64 * 1024.0 * 1024.0;
            let mut rates: Vec<f64> = times
                .iter()
                .map(|t| bytes / 1024.0 / 1024.0 / t.as_secs_f64())
                .collect();
            rates.sort_by(f64::total_cmp);
            let total: Duration = times.iter().sum();
            json!({
                "scenario": "upload",
                "file_mb": settings.upload_mb,
                "uploads": times.len(),
                "courier": {
                    "mb_per_s": round2(bytes * times.len() as f64 / 1024.0 / 1024.0 / total.as_secs_f64()),
                    "median_mb_per_s": round2(rates[rates.len() / 2]),
                    "min_mb_per_s": round2(rates[0]),
                    "max_mb_per_s": round2(rates[rates.len() - 1]),
                },
            })
        }
        Err(error) => json!({"scenario": "upload", "courier": {"error": error.to_string()}}),
    };
    emit(line);
    result.is_ok()
}

/// The time of each upload, from `POST /api/files` to the `PUT`'s answer (file ready).
async fn measure(server: &Server, settings: &Settings) -> Result<Vec<Duration>, Error> {
    let api = Api::new(&server.base)?;
    let user = api.guest().await?;
    let size = settings.upload_mb * 1024 * 1024;
    let mut times = Vec::with_capacity(settings.uploads);
    for n in 0..settings.uploads.max(1) {
        // Bytes that differ per file (the server must not get away with anything clever).
        let mut x = 0x9e37_79b9_7f4a_7c15_u64 ^ n as u64;
        let data: Vec<u8> = (0..size)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let file = NewFile {
            name: format!("upload-{n}.bin"),
            size: size as u64,
            mime: "application/octet-stream".into(),
            sha256: hex::encode(Sha256::digest(&data)),
        };
        let started = Instant::now();
        let created = api.create_file(&user, &file).await?;
        let done = api.upload(&user, &created.file.id, data.into()).await?;
        times.push(started.elapsed());
        if done.state != FileState::Ready {
            return Err(Error::Protocol(format!("upload ended {:?}", done.state)));
        }
    }
    Ok(times)
}
