//! Files (issue 6): small ones inline, large ones announced first and uploaded after, resumable
//! uploads, checks of size and checksum, safe and authorized downloads, thumbnails, expiry.

use crate::helpers::{Guest, TestApp, error_code, ok_json};
use base64::Engine;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use shared::files::{Attachment, FileCreated, FileFailure, FileId, FileInfo, FileState};
use shared::{Cursor, Event, MsgType, SendAck, UserId};
use std::path::Path;
use std::time::Duration;

/// `n` bytes that do not compress and differ from one test file to the next.
fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u8
        })
        .collect()
}

fn sha_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

async fn create_raw(g: &Guest, name: &str, size: u64, mime: &str, sha256: &str) -> Response {
    g.post_json(
        "/api/files",
        json!({"name": name, "size": size, "mime": mime, "sha256": sha256}),
    )
    .await
}

/// Creates a file record for `data` and returns it.
async fn create(g: &Guest, name: &str, mime: &str, data: &[u8]) -> FileInfo {
    let response = create_raw(g, name, data.len() as u64, mime, &sha_hex(data)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: FileCreated = ok_json(response).await;
    assert_eq!(
        created.upload_url,
        format!("/api/files/{}/content", created.file.id)
    );
    assert_eq!(created.file.state, FileState::Uploading);
    created.file
}

async fn put(g: &Guest, id: &FileId, offset: u64, body: impl Into<reqwest::Body>) -> Response {
    g.http
        .put(g.url(&format!("/api/files/{id}/content")))
        .bearer_auth(&g.token)
        .header("Upload-Offset", offset.to_string())
        .header("Content-Type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .expect("request")
}

/// Uploads `data` whole and expects the file to be ready.
async fn upload(g: &Guest, id: &FileId, data: &[u8]) -> FileInfo {
    let file: FileInfo = ok_json(put(g, id, 0, data.to_vec()).await).await;
    assert_eq!(file.state, FileState::Ready);
    file
}

async fn info_raw(g: &Guest, id: &FileId) -> Response {
    g.get(&format!("/api/files/{id}"))
        .send()
        .await
        .expect("request")
}

async fn info(g: &Guest, id: &FileId) -> FileInfo {
    ok_json(info_raw(g, id).await).await
}

async fn content(g: &Guest, id: &FileId, range: Option<&str>) -> Response {
    let mut request = g.get(&format!("/api/files/{id}/content"));
    if let Some(range) = range {
        request = request.header("Range", range);
    }
    request.send().await.expect("request")
}

fn stored(file: &FileInfo) -> String {
    json!({"file_id": file.id, "name": file.name, "size": file.size, "mime": file.mime}).to_string()
}

async fn send_file_raw(
    g: &Guest,
    to: Value,
    id: &str,
    msg_type: &str,
    content: String,
) -> Response {
    g.send_raw(json!({"to": to, "client_msg_id": id, "msg_type": msg_type, "content": content}))
        .await
}

async fn send_file(g: &Guest, to: UserId, client_msg_id: &str, file: &FileInfo) -> SendAck {
    ok_json(send_file_raw(g, json!({"user": to}), client_msg_id, "file", stored(file)).await).await
}

/// The `file_ready` events among `events`.
fn ready_events(events: &[Event]) -> Vec<FileInfo> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::FileReady { file } => Some(file.clone()),
            _ => None,
        })
        .collect()
}

/// Polls until a `file_ready` event arrives (or 10 s pass), from `after`.
async fn wait_ready(g: &Guest, mut after: Cursor) -> (FileInfo, Cursor) {
    for _ in 0..20 {
        let batch = g.poll(after, 0.5).await;
        after = batch.cursor;
        if let Some(file) = ready_events(&batch.events).pop() {
            return (file, after);
        }
    }
    panic!("no file_ready event");
}

fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

fn dir_is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none())
}

store_test! {
async fn a_file_of_1_kb_or_less_travels_inside_the_message_and_a_larger_one_is_refused_inline() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let b = app.guest().await;
    let data = bytes(1024, 1);
    let encode = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let content = json!({"name": "note.bin", "size": 1024, "mime": "application/octet-stream",
                         "data": encode(&data)});
    let response = send_file_raw(&a, json!({"user": b.uid}), "inline-1", "file", content.to_string()).await;
    let _: SendAck = ok_json(response).await;
    let (events, _) = b.events_since(Cursor(0)).await;
    let message = events
        .iter()
        .find_map(|e| match e {
            Event::Message { message } => Some(message.clone()),
            _ => None,
        })
        .expect("the file message");
    assert_eq!(message.msg_type, MsgType::File);
    let Attachment::Inline(inline) = serde_json::from_str(&message.content).expect("an attachment")
    else {
        panic!("inline expected");
    };
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(inline.data).expect("base64"), data);

    // 1025 bytes no longer fit in a message; nor does data that does not match its size.
    let big = bytes(1025, 2);
    let too_big = json!({"name": "a.bin", "size": 1025, "mime": "application/octet-stream",
                         "data": encode(&big)});
    let lying = json!({"name": "a.bin", "size": 10, "mime": "application/octet-stream",
                       "data": encode(&data[..5])});
    let not_json = "hello".to_owned();
    let bad_name = json!({"name": "../etc/passwd", "size": 5, "mime": "text/plain",
                          "data": encode(&data[..5])});
    let text_as_image = json!({"name": "a.txt", "size": 5, "mime": "text/plain",
                               "data": encode(&data[..5])});
    for (i, (msg_type, content)) in [
        ("file", too_big.to_string()),
        ("file", lying.to_string()),
        ("file", not_json),
        ("file", bad_name.to_string()),
        ("image", text_as_image.to_string()),
    ]
    .into_iter()
    .enumerate()
    {
        let response =
            send_file_raw(&a, json!({"user": b.uid}), &format!("bad-{i}"), msg_type, content).await;
        assert_eq!(error_code(response, StatusCode::BAD_REQUEST).await, "invalid_attachment");
    }
    // Small files are not uploaded either.
    let response = create_raw(&a, "small.bin", 1024, "application/octet-stream", &sha_hex(&data)).await;
    assert_eq!(error_code(response, StatusCode::BAD_REQUEST).await, "invalid_file");
    let history = b.history(&message.conversation, "").await;
    assert_eq!(history.messages.len(), 1, "refused sends wrote nothing");
}
}

store_test! {
async fn a_large_file_is_announced_at_once_and_the_receiver_gets_file_ready_when_the_upload_completes() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let b = app.guest().await;
    let data = bytes(3 << 20, 3);
    let file = create(&a, "photo album.zip", "application/zip", &data).await;
    assert_eq!(file.id.0.len(), 22);
    // The message goes out before a single byte is uploaded.
    send_file(&a, b.uid, "big-1", &file).await;
    let (events, cursor) = b.events_since(Cursor(0)).await;
    assert!(events.iter().any(|e| matches!(e, Event::Message { message } if message.msg_type == MsgType::File)));
    let early = info(&b, &file.id).await;
    assert_eq!((early.state, early.received), (FileState::Uploading, 0));
    let waiting = content(&b, &file.id, None).await;
    assert_eq!(waiting.status(), StatusCode::OK);
    assert_eq!(header(&waiting, "upload-state"), "uploading");
    assert!(waiting.bytes().await.expect("body").is_empty());

    let done = upload(&a, &file.id, &data).await;
    assert_eq!(done.received, data.len() as u64);
    let (ready, _) = wait_ready(&b, cursor).await;
    assert_eq!((ready.id, ready.state), (file.id.clone(), FileState::Ready));
    let response = content(&b, &file.id, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "upload-state"), "ready");
    assert_eq!(header(&response, "content-length"), data.len().to_string());
    assert!(response.bytes().await.expect("body") == data, "the bytes match");
}
}

store_test! {
async fn an_interrupted_upload_resumes_from_the_bytes_received() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let data = bytes(600_000, 4);
    let file = create(&a, "video.mp4", "video/mp4", &data).await;

    // A first request that ends early.
    let partial: FileInfo = ok_json(put(&a, &file.id, 0, data[..200_000].to_vec()).await).await;
    assert_eq!((partial.state, partial.received), (FileState::Uploading, 200_000));
    let shown = info(&a, &file.id).await;
    assert_eq!(shown.received, 200_000);
    // While it uploads, a download gets the prefix received so far.
    let prefix = content(&a, &file.id, None).await;
    assert_eq!(header(&prefix, "upload-state"), "uploading");
    assert!(prefix.bytes().await.expect("body") == data[..200_000]);

    // Starting over, or skipping ahead, is refused with the offset to use.
    for wrong in [0, 300_000] {
        let response = put(&a, &file.id, wrong, data[wrong as usize..].to_vec()).await;
        assert_eq!(header(&response, "upload-offset"), "200000");
        assert_eq!(error_code(response, StatusCode::CONFLICT).await, "upload_offset_mismatch");
    }

    // A connection that breaks in the middle of its body keeps what arrived.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
        Ok(data[200_000..300_000].to_vec()),
        Err(std::io::Error::other("cable pulled")),
    ];
    let broken = a
        .http
        .put(a.url(&format!("/api/files/{}/content", file.id)))
        .bearer_auth(&a.token)
        .header("Upload-Offset", "200000")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await;
    assert!(broken.is_err(), "the request failed on the client");

    // Resume from whatever the server says it has (retrying while it still finishes the
    // broken request).
    let mut finished = None;
    for _ in 0..50 {
        let at = info(&a, &file.id).await.received;
        assert!((200_000..=300_000).contains(&at), "received {at}");
        let response = put(&a, &file.id, at, data[at as usize..].to_vec()).await;
        if response.status() == StatusCode::CONFLICT {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        finished = Some(ok_json::<FileInfo>(response).await);
        break;
    }
    let finished = finished.expect("the upload resumed");
    assert_eq!((finished.state, finished.received), (FileState::Ready, 600_000));
    let response = content(&a, &file.id, None).await;
    assert!(response.bytes().await.expect("body") == data, "the bytes match");
    // Once complete, the upload takes no more bytes.
    let response = put(&a, &file.id, 600_000, Vec::new()).await;
    assert_eq!(error_code(response, StatusCode::CONFLICT).await, "upload_closed");
}
}

store_test! {
async fn bytes_that_do_not_match_the_declared_checksum_fail_the_upload_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().expect("dir");
    let app = TestApp::spawn_in(dir.path().to_path_buf(), |_| {}).await;
    let a = app.guest().await;
    let data = bytes(5000, 5);
    let response = create_raw(&a, "a.bin", 5000, "application/octet-stream", &sha_hex(b"other")).await;
    let created: FileCreated = ok_json(response).await;
    let id = created.file.id;
    let response = put(&a, &id, 0, data.clone()).await;
    assert_eq!(error_code(response, StatusCode::BAD_REQUEST).await, "checksum_mismatch");
    let failed = info(&a, &id).await;
    assert_eq!((failed.state, failed.failure), (FileState::Failed, Some(FileFailure::ChecksumMismatch)));
    assert!(dir_is_empty(&dir.path().join("uploads")));
    assert!(dir_is_empty(&dir.path().join("files")));
    let response = put(&a, &id, 0, data).await;
    assert_eq!(error_code(response, StatusCode::CONFLICT).await, "upload_closed");
    let response = content(&a, &id, None).await;
    assert_eq!(error_code(response, StatusCode::CONFLICT).await, "file_not_ready");

    // A resumed upload is checked over all its bytes too.
    let data = bytes(5000, 6);
    let response = create_raw(&a, "b.bin", 5000, "application/octet-stream", &sha_hex(&bytes(5000, 7))).await;
    let id = ok_json::<FileCreated>(response).await.file.id;
    let _: FileInfo = ok_json(put(&a, &id, 0, data[..2000].to_vec()).await).await;
    let response = put(&a, &id, 2000, data[2000..].to_vec()).await;
    assert_eq!(error_code(response, StatusCode::BAD_REQUEST).await, "checksum_mismatch");
    assert!(dir_is_empty(&dir.path().join("uploads")));
}
}

store_test! {
async fn more_bytes_than_declared_fail_the_upload_and_fewer_leave_it_unfinished() {
    let dir = tempfile::tempdir().expect("dir");
    let app = TestApp::spawn_in(dir.path().to_path_buf(), |_| {}).await;
    let a = app.guest().await;
    // Declared by Content-Length.
    let data = bytes(2001, 8);
    let response = create_raw(&a, "a.bin", 2000, "application/octet-stream", &sha_hex(&data[..2000])).await;
    let id = ok_json::<FileCreated>(response).await.file.id;
    let response = put(&a, &id, 0, data.clone()).await;
    assert_eq!(error_code(response, StatusCode::BAD_REQUEST).await, "size_mismatch");
    let failed = info(&a, &id).await;
    assert_eq!((failed.state, failed.failure), (FileState::Failed, Some(FileFailure::SizeMismatch)));

    // Streamed without a length: found out while receiving.
    let response = create_raw(&a, "b.bin", 2000, "application/octet-stream", &sha_hex(&data[..2000])).await;
    let id = ok_json::<FileCreated>(response).await.file.id;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        vec![Ok(data[..1500].to_vec()), Ok(data[1500..].to_vec())];
    let response = put(&a, &id, 0, reqwest::Body::wrap_stream(futures::stream::iter(chunks))).await;
    assert_eq!(error_code(response, StatusCode::BAD_REQUEST).await, "size_mismatch");
    assert_eq!(info(&a, &id).await.state, FileState::Failed);
    assert!(dir_is_empty(&dir.path().join("uploads")));

    // Fewer bytes: the request ends, the file is not ready.
    let data = bytes(3000, 9);
    let file = create(&a, "c.bin", "application/octet-stream", &data).await;
    let short: FileInfo = ok_json(put(&a, &file.id, 0, data[..2000].to_vec()).await).await;
    assert_eq!((short.state, short.received), (FileState::Uploading, 2000));
    assert_eq!(info(&a, &file.id).await.state, FileState::Uploading);
    let response = a.get(&format!("/api/files/{}/thumbnail", file.id)).send().await.expect("request");
    assert_eq!(error_code(response, StatusCode::CONFLICT).await, "file_not_ready");
}
}

store_test! {
async fn files_above_the_configured_maximum_and_too_many_pending_uploads_are_refused() {
    let app = TestApp::spawn_with(|c| {
        c.max_file_bytes = 10_000;
        c.max_pending_uploads = 2;
    })
    .await;
    let a = app.guest().await;
    let sha = sha_hex(b"x");
    let response = create_raw(&a, "big.bin", 10_001, "application/octet-stream", &sha).await;
    assert_eq!(error_code(response, StatusCode::PAYLOAD_TOO_LARGE).await, "file_too_large");
    for (name, mime, sha) in [
        ("", "a/b", sha.as_str()),
        ("a/b.txt", "text/plain", &sha),
        ("ok.txt", "text", &sha),
        ("ok.txt", "text/plain", "abc"),
    ] {
        let response = create_raw(&a, name, 5000, mime, sha).await;
        assert_eq!(error_code(response, StatusCode::BAD_REQUEST).await, "invalid_file", "{name} {mime}");
    }
    let response = a.post_json("/api/files", json!({"name": "a"})).await;
    assert_eq!(error_code(response, StatusCode::BAD_REQUEST).await, "invalid_json");
    for _ in 0..2 {
        let response = create_raw(&a, "ok.bin", 10_000, "application/octet-stream", &sha).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let response = create_raw(&a, "ok.bin", 10_000, "application/octet-stream", &sha).await;
    assert_eq!(error_code(response, StatusCode::TOO_MANY_REQUESTS).await, "too_many_uploads");
    // Another user has their own allowance.
    let b = app.guest().await;
    let response = create_raw(&b, "ok.bin", 10_000, "application/octet-stream", &sha).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}
}

store_test! {
async fn only_the_uploader_and_members_of_a_conversation_it_was_sent_in_may_download_it() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let b = app.guest().await;
    let c = app.guest().await;
    let data = bytes(4000, 10);
    let file = create(&a, "secret.pdf", "application/pdf", &data).await;
    upload(&a, &file.id, &data).await;
    assert_eq!(content(&a, &file.id, None).await.status(), StatusCode::OK);
    // Not sent anywhere yet: only the uploader sees it.
    for stranger in [&b, &c] {
        let response = info_raw(stranger, &file.id).await;
        assert_eq!(error_code(response, StatusCode::NOT_FOUND).await, "file_not_found");
        let response = content(stranger, &file.id, None).await;
        assert_eq!(error_code(response, StatusCode::NOT_FOUND).await, "file_not_found");
        // Nor may anyone else upload to it.
        let response = put(stranger, &file.id, 0, data.clone()).await;
        assert_eq!(error_code(response, StatusCode::NOT_FOUND).await, "file_not_found");
    }
    let after = b.me().await.cursor;
    send_file(&a, b.uid, "to-b", &file).await;
    // Sent when ready already: the receiver hears at once.
    let (ready, _) = wait_ready(&b, after).await;
    assert_eq!(ready.id, file.id);
    let response = content(&b, &file.id, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.bytes().await.expect("body") == data);
    let response = content(&c, &file.id, None).await;
    assert_eq!(error_code(response, StatusCode::NOT_FOUND).await, "file_not_found");
    // An unknown id looks the same as a foreign one.
    let unknown = FileId("AAAAAAAAAAAAAAAAAAAAAA".into());
    let response = content(&c, &unknown, None).await;
    assert_eq!(error_code(response, StatusCode::NOT_FOUND).await, "file_not_found");
    let response = c.get("/api/files/not-an-id/content").send().await.expect("request");
    assert_eq!(error_code(response, StatusCode::NOT_FOUND).await, "file_not_found");

    // B forwards A's file id: B did not upload it.
    let response = send_file_raw(&b, json!({"user": c.uid}), "fwd", "file", stored(&file)).await;
    assert_eq!(error_code(response, StatusCode::NOT_FOUND).await, "unknown_file");
    let missing = FileInfo { id: unknown, ..file.clone() };
    let response = send_file_raw(&a, json!({"user": c.uid}), "missing", "file", stored(&missing)).await;
    assert_eq!(error_code(response, StatusCode::NOT_FOUND).await, "unknown_file");
    let resized = FileInfo { size: 5000, ..file.clone() };
    let response = send_file_raw(&a, json!({"user": c.uid}), "resized", "file", stored(&resized)).await;
    assert_eq!(error_code(response, StatusCode::BAD_REQUEST).await, "invalid_attachment");
    let response = content(&c, &file.id, None).await;
    assert_eq!(error_code(response, StatusCode::NOT_FOUND).await, "file_not_found");
}
}

store_test! {
async fn a_retried_file_send_links_the_file_once() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let b = app.guest().await;
    let data = bytes(2000, 11);
    let file = create(&a, "a.bin", "application/octet-stream", &data).await;
    let first = send_file(&a, b.uid, "once", &file).await;
    let retry = send_file(&a, b.uid, "once", &file).await;
    assert_eq!(first, retry);
    let after = b.me().await.cursor;
    upload(&a, &file.id, &data).await;
    let (_, cursor) = wait_ready(&b, after).await;
    let again = send_file(&a, b.uid, "once", &file).await;
    assert_eq!(first, again);
    let (events, _) = b.events_since(cursor).await;
    assert!(ready_events(&events).is_empty(), "no second file_ready: {events:?}");
}
}

store_test! {
async fn range_requests_get_206_with_the_right_bytes_and_416_beyond_the_end() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let data = bytes(10_000, 12);
    let file = create(&a, "a.bin", "application/octet-stream", &data).await;
    upload(&a, &file.id, &data).await;
    for (range, start, end) in [
        ("bytes=0-99", 0, 99),
        ("bytes=9000-", 9000, 9999),
        ("bytes=-10", 9990, 9999),
        ("bytes=5000-20000", 5000, 9999),
    ] {
        let response = content(&a, &file.id, Some(range)).await;
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(header(&response, "content-range"), format!("bytes {start}-{end}/10000"));
        assert_eq!(header(&response, "accept-ranges"), "bytes");
        assert!(response.bytes().await.expect("body") == data[start..=end], "{range}");
    }
    let response = content(&a, &file.id, Some("bytes=10000-")).await;
    assert_eq!(header(&response, "content-range"), "bytes */10000");
    assert_eq!(
        error_code(response, StatusCode::RANGE_NOT_SATISFIABLE).await,
        "range_not_satisfiable"
    );
    // Several ranges are not served as such: the whole file comes back.
    let response = content(&a, &file.id, Some("bytes=0-1,5-6")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.expect("body").len(), 10_000);
}
}

store_test! {
async fn downloads_carry_a_safe_content_type_an_encoded_disposition_and_nosniff() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let page = bytes(3000, 13);
    let html = create(&a, "报告 \"1\".html", "text/html", &page).await;
    upload(&a, &html.id, &page).await;
    let response = content(&a, &html.id, None).await;
    assert_eq!(header(&response, "content-type"), "application/octet-stream");
    assert_eq!(
        header(&response, "content-disposition"),
        "attachment; filename=\"__ _1_.html\"; filename*=UTF-8''%E6%8A%A5%E5%91%8A%20%221%22.html"
    );
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    assert!(header(&response, "content-security-policy").contains("sandbox"));

    let zip = create(&a, "a.zip", "application/zip", &page).await;
    upload(&a, &zip.id, &page).await;
    let response = content(&a, &zip.id, None).await;
    assert_eq!(header(&response, "content-type"), "application/zip");
    assert!(header(&response, "content-disposition").starts_with("attachment;"));
}
}

/// A PNG of `w` x `h` noisy pixels (so that it is larger than 1 KB).
fn png(w: u32, h: u32) -> Vec<u8> {
    let noise = bytes((w * h * 3) as usize, 14);
    let image = image::RgbImage::from_raw(w, h, noise).expect("pixels");
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encodes");
    out.into_inner()
}

store_test! {
async fn an_uploaded_image_gets_a_small_thumbnail_and_is_shown_inline() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let b = app.guest().await;
    let data = png(600, 300);
    let file = create(&a, "cat.png", "image/png", &data).await;
    let response = send_file_raw(&a, json!({"user": b.uid}), "img", "image", stored(&file)).await;
    let _: SendAck = ok_json(response).await;
    let ready = upload(&a, &file.id, &data).await;
    assert!(ready.thumbnail);
    let response = b.get(&format!("/api/files/{}/thumbnail", file.id)).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-type"), "image/png");
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    let thumb = image::load_from_memory(&response.bytes().await.expect("body")).expect("decodes");
    assert_eq!((thumb.width(), thumb.height()), (256, 128));
    let response = content(&b, &file.id, None).await;
    assert_eq!(header(&response, "content-type"), "image/png");
    assert!(header(&response, "content-disposition").starts_with("inline;"));

    // Not an image: no preview.
    let other = bytes(2000, 15);
    let zip = create(&a, "a.zip", "application/zip", &other).await;
    upload(&a, &zip.id, &other).await;
    let response = a.get(&format!("/api/files/{}/thumbnail", zip.id)).send().await.expect("request");
    assert_eq!(error_code(response, StatusCode::NOT_FOUND).await, "file_not_found");
    // A stranger gets nothing.
    let c = app.guest().await;
    let response = c.get(&format!("/api/files/{}/thumbnail", file.id)).send().await.expect("request");
    assert_eq!(error_code(response, StatusCode::NOT_FOUND).await, "file_not_found");
}
}

store_test! {
async fn uploads_nobody_completes_expire_and_their_bytes_are_removed() {
    let dir = tempfile::tempdir().expect("dir");
    let app = TestApp::spawn_in(dir.path().to_path_buf(), |c| {
        c.upload_expiry = Duration::from_millis(400);
        c.max_pending_uploads = 1;
    })
    .await;
    let a = app.guest().await;
    let data = bytes(5000, 16);
    let file = create(&a, "a.bin", "application/octet-stream", &data).await;
    let _: FileInfo = ok_json(put(&a, &file.id, 0, data[..1000].to_vec()).await).await;
    assert!(!dir_is_empty(&dir.path().join("uploads")));
    let mut state = FileState::Uploading;
    for _ in 0..50 {
        let now = info(&a, &file.id).await;
        state = now.state;
        if state == FileState::Failed {
            assert_eq!(now.failure, Some(FileFailure::Expired));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, FileState::Failed);
    assert!(dir_is_empty(&dir.path().join("uploads")));
    let response = put(&a, &file.id, 1000, data[1000..].to_vec()).await;
    assert_eq!(error_code(response, StatusCode::CONFLICT).await, "upload_closed");
    // The expired upload no longer counts against the pending cap.
    let response = create_raw(&a, "b.bin", 5000, "application/octet-stream", &sha_hex(&data)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}
}

store_test! {
async fn uploads_need_an_offset_and_a_same_origin_request() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let data = bytes(2000, 17);
    let file = create(&a, "a.bin", "application/octet-stream", &data).await;
    let response = a
        .http
        .put(a.url(&format!("/api/files/{}/content", file.id)))
        .bearer_auth(&a.token)
        .body(data.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(error_code(response, StatusCode::BAD_REQUEST).await, "invalid_parameter");
    let response = a
        .http
        .put(a.url(&format!("/api/files/{}/content", file.id)))
        .bearer_auth(&a.token)
        .header("Upload-Offset", "0")
        .header("Origin", "https://evil.example")
        .body(data.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(error_code(response, StatusCode::FORBIDDEN).await, "forbidden_origin");
    assert_eq!(info(&a, &file.id).await.received, 0);
    // The API's 64 KB body limit does not apply to uploads.
    let big = bytes(200_000, 18);
    let file = create(&a, "big.bin", "application/octet-stream", &big).await;
    upload(&a, &file.id, &big).await;
}
}

store_test! {
async fn a_file_sent_to_a_group_reaches_its_members() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let b = app.guest().await;
    let c = app.guest().await;
    let response = a.post_json("/api/groups", json!({"gname": "files", "join_policy": "open"})).await;
    if response.status() != StatusCode::CREATED {
        eprintln!("skipped: groups are not available on this branch ({})", response.status());
        return;
    }
    let group: shared::groups::GroupInfo = ok_json(response).await;
    let joined = b.post_json(&format!("/api/groups/{}/join", group.gid), json!({"note": ""})).await;
    assert!(joined.status().is_success());
    let data = bytes(3000, 19);
    let file = create(&a, "minutes.txt", "text/plain", &data).await;
    let after = b.me().await.cursor;
    let response =
        send_file_raw(&a, json!({"group": group.gid}), "grp-file", "file", stored(&file)).await;
    let _: SendAck = ok_json(response).await;
    upload(&a, &file.id, &data).await;
    let (ready, _) = wait_ready(&b, after).await;
    assert_eq!(ready.id, file.id);
    let response = content(&b, &file.id, None).await;
    assert!(response.bytes().await.expect("body") == data);
    let response = content(&c, &file.id, None).await;
    assert_eq!(error_code(response, StatusCode::NOT_FOUND).await, "file_not_found");
}
}
