//! Scenario 5: the size of the web client the browser downloads: raw, gzipped here at flate2's
//! best level, and as the compressed copies `scripts/build-frontend.sh` writes, which the server
//! sends as they are: brotli to browsers that accept it (Chromium, Firefox and Safari do), gzip
//! (by zopfli, when it was installed) to the others.

use super::emit;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;
use std::io::Write;

/// The files a first visit to the app downloads, as `scripts/build-frontend.sh` writes them.
const APP: [&str; 3] = ["index.html", "frontend.js", "frontend_bg.wasm"];
/// The files a page embedding the widget downloads: the loader, then in the iframe the widget's
/// page and module.
const WIDGET: [&str; 4] = [
    "widget.js",
    "widget.html",
    "courier_widget.js",
    "courier_widget_bg.wasm",
];
/// Target for the app's three files together, gzipped.
const TARGET_GZIP_BYTES: usize = 250_000;

/// One JSON line for the app's first visit, one for the widget's.
pub fn run(settings: &super::Settings) {
    measure(settings, "app", &APP);
    measure(settings, "widget", &WIDGET);
}

fn measure(settings: &super::Settings, page: &str, names: &[&str]) {
    let dist = &settings.dist;
    let mut files = Vec::new();
    let mut raw_total = 0;
    let mut gzip_total = 0;
    // None once a file has no brotli copy (node was missing when the client was built).
    let mut brotli_total = Some(0);
    let mut served_gzip_total = Some(0);
    for &name in names {
        let path = dist.join(name);
        let Ok(bytes) = std::fs::read(&path) else {
            emit(json!({
                "scenario": "frontend",
                "page": page,
                "skipped": format!("{} is missing: build the web client first (scripts/build-frontend.sh), or pass --dist DIR", path.display()),
            }));
            return;
        };
        let gzip = gzipped_len(&bytes);
        raw_total += bytes.len();
        gzip_total += gzip;
        let copy_len = |suffix: &str| {
            std::fs::metadata(dist.join(format!("{name}.{suffix}")))
                .ok()
                .map(|m| m.len() as usize)
        };
        let brotli = copy_len("br");
        let served_gzip = copy_len("gz");
        brotli_total = brotli_total.zip(brotli).map(|(total, len)| total + len);
        served_gzip_total = served_gzip_total
            .zip(served_gzip)
            .map(|(total, len)| total + len);
        files.push(json!({
            "file": name,
            "raw_bytes": bytes.len(),
            "gzip_bytes": gzip,
            "served_gzip_bytes": served_gzip,
            "brotli_bytes": brotli,
        }));
    }
    emit(json!({
        "scenario": "frontend",
        "page": page,
        "dist": dist.display().to_string(),
        "files": files,
        "raw_bytes": raw_total,
        "gzip_bytes": gzip_total,
        "served_gzip_bytes": served_gzip_total,
        "brotli_bytes": brotli_total,
        "navigation_timing": "measured by the browser test (cargo test -p backend --test browser -- --nocapture)",
        "targets": {
            "gzip_total_le_250kB": gzip_total <= TARGET_GZIP_BYTES,
            "served_gzip_total_le_250kB": served_gzip_total.map(|total| total <= TARGET_GZIP_BYTES),
            "brotli_total_le_250kB": brotli_total.map(|total| total <= TARGET_GZIP_BYTES),
        },
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
