//! Scenario 5: the size of the web client the browser downloads, raw and gzipped.

use super::emit;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;
use std::io::Write;

/// The files a first visit downloads, as `scripts/build-frontend.sh` writes them.
const FILES: [&str; 3] = ["index.html", "frontend.js", "frontend_bg.wasm"];
/// Target for the three files together, gzipped.
const TARGET_GZIP_BYTES: usize = 250_000;

pub fn run(settings: &super::Settings) {
    let dist = &settings.dist;
    let mut files = Vec::new();
    let mut raw_total = 0;
    let mut gzip_total = 0;
    for name in FILES {
        let path = dist.join(name);
        let Ok(bytes) = std::fs::read(&path) else {
            emit(json!({
                "scenario": "frontend",
                "skipped": format!("{} is missing: build the web client first (scripts/build-frontend.sh), or pass --dist DIR", path.display()),
            }));
            return;
        };
        let gzip = gzipped_len(&bytes);
        raw_total += bytes.len();
        gzip_total += gzip;
        files.push(json!({ "file": name, "raw_bytes": bytes.len(), "gzip_bytes": gzip }));
    }
    emit(json!({
        "scenario": "frontend",
        "dist": dist.display().to_string(),
        "files": files,
        "raw_bytes": raw_total,
        "gzip_bytes": gzip_total,
        "navigation_timing": "skipped (Chromium not driven yet)",
        "targets": { "gzip_total_le_250kB": gzip_total <= TARGET_GZIP_BYTES },
    }));
}

/// Length of `bytes` gzipped at the best level (what a static server would pre-compress).
fn gzipped_len(bytes: &[u8]) -> usize {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    // Writing to a Vec cannot fail.
    if encoder.write_all(bytes).is_err() {
        return 0;
    }
    encoder.finish().map(|v| v.len()).unwrap_or(0)
}
