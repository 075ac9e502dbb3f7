use crate::helpers::{TestApp, error_code};
use reqwest::StatusCode;
use serde_json::json;
use shared::{Cursor, MAX_TEXT_CHARS};

store_test! {
async fn bad_sends_get_a_4xx_with_a_code_and_write_nothing() {
    let app = TestApp::spawn_with(|c| c.max_body_bytes = 64 * 1024).await;
    let a = app.guest().await;
    let b = app.guest().await;
    let send = |to: serde_json::Value, id: &str, msg_type: &str, content: String| json!({"to": to, "client_msg_id": id, "msg_type": msg_type, "content": content});
    let cases = [
        (
            send(json!({"user": 999_999}), "1", "text", "hi".into()),
            StatusCode::NOT_FOUND,
            "unknown_user",
        ),
        (
            send(json!({"user": a.uid}), "2", "text", "hi".into()),
            StatusCode::BAD_REQUEST,
            "cannot_message_self",
        ),
        (
            send(json!({"user": b.uid}), "3", "text", "".into()),
            StatusCode::BAD_REQUEST,
            "content_empty",
        ),
        (
            send(json!({"user": b.uid}), "4", "text", "  \n ".into()),
            StatusCode::BAD_REQUEST,
            "content_empty",
        ),
        (
            send(
                json!({"user": b.uid}),
                "5",
                "text",
                "x".repeat(MAX_TEXT_CHARS + 1),
            ),
            StatusCode::BAD_REQUEST,
            "content_too_large",
        ),
        (
            send(json!({"user": b.uid}), "", "text", "hi".into()),
            StatusCode::BAD_REQUEST,
            "invalid_client_msg_id",
        ),
        (
            send(json!({"user": b.uid}), "has space", "text", "hi".into()),
            StatusCode::BAD_REQUEST,
            "invalid_client_msg_id",
        ),
        (
            send(json!({"user": b.uid}), "6", "video", "hi".into()),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            send(json!({"channel": 1}), "7", "text", "hi".into()),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            send(json!({"group": 1}), "7b", "text", "hi".into()),
            StatusCode::NOT_FOUND,
            "group_not_found",
        ),
        (
            send(json!({"user": "two"}), "8", "text", "hi".into()),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            json!({"to": {"user": b.uid}, "content": "no id"}),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (json!([1, 2, 3]), StatusCode::BAD_REQUEST, "invalid_json"),
    ];
    for (body, status, code) in cases {
        let response = a.send_raw(body.clone()).await;
        assert_eq!(error_code(response, status).await, code, "{body}");
    }

    let malformed = a
        .post("/api/messages")
        .header("content-type", "application/json")
        .body("{\"to\": ")
        .send()
        .await
        .expect("request");
    assert_eq!(
        error_code(malformed, StatusCode::BAD_REQUEST).await,
        "invalid_json"
    );

    let not_json = a
        .post("/api/messages")
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .expect("request");
    assert_eq!(
        error_code(not_json, StatusCode::UNSUPPORTED_MEDIA_TYPE).await,
        "unsupported_media_type"
    );

    let huge = a
        .post("/api/messages")
        .header("content-type", "application/json")
        .body(format!("{{\"content\": \"{}\"}}", "x".repeat(200 * 1024)))
        .send()
        .await
        .expect("request");
    assert_eq!(
        error_code(huge, StatusCode::PAYLOAD_TOO_LARGE).await,
        "payload_too_large"
    );

    // Nothing was written: no conversation, no event in either stream.
    for guest in [&a, &b] {
        assert!(guest.conversations().await.conversations.is_empty());
        assert_eq!(guest.me().await.cursor, Cursor(0));
    }
}
}

store_test! {
async fn bad_history_and_read_requests_get_a_4xx() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let b = app.guest().await;
    let conv = a.send(b.uid, "1", "hi").await.conversation;
    for (query, code) in [
        ("limit=0", "invalid_parameter"),
        ("limit=lots", "invalid_parameter"),
        ("before_seq=-4", "invalid_seq"),
        ("after_seq=x", "invalid_parameter"),
    ] {
        assert_eq!(
            error_code(b.history_raw(&conv, query).await, StatusCode::BAD_REQUEST).await,
            code,
            "{query}"
        );
    }
    let unknown = shared::ConversationId("d0_0".into());
    assert_eq!(
        error_code(b.history_raw(&unknown, "").await, StatusCode::NOT_FOUND).await,
        "conversation_not_found"
    );
    assert_eq!(
        error_code(b.read_raw(&conv, -1).await, StatusCode::BAD_REQUEST).await,
        "invalid_seq"
    );
    let no_seq = b
        .post(&format!("/api/conversations/{}/read", conv.0))
        .json(&json!({"sequence": 1}))
        .send()
        .await
        .expect("request");
    assert_eq!(
        error_code(no_seq, StatusCode::BAD_REQUEST).await,
        "invalid_json"
    );
    assert_eq!(b.conversations().await.conversations[0].read_seq.0, 0);
}
}

store_test! {
async fn unknown_api_routes_and_methods_answer_in_json() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    assert_eq!(
        error_code(
            a.get("/api/nothing-here").send().await.expect("request"),
            StatusCode::NOT_FOUND
        )
        .await,
        "not_found"
    );
    assert_eq!(
        error_code(
            a.get("/api/messages").send().await.expect("request"),
            StatusCode::METHOD_NOT_ALLOWED
        )
        .await,
        "method_not_allowed"
    );
}
}

store_test! {
async fn the_web_client_is_served_for_every_other_path() {
    let app = TestApp::spawn_with(|c| {
        let dir = c.data_dir.join("web");
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("index.html"), "<html>courier</html>").expect("write");
        std::fs::write(dir.join("app.js"), "let courier = 1;\n".repeat(500)).expect("write");
        c.static_dir = dir;
    })
    .await;
    for path in ["/", "/chat/d1_2"] {
        let response = app.http.get(app.url(path)).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(response.text().await.expect("body").contains("courier"));
    }
    let gzipped = app
        .http
        .get(app.url("/app.js"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("request");
    assert_eq!(gzipped.status(), StatusCode::OK);
    assert_eq!(
        gzipped.headers().get("content-encoding").and_then(|v| v.to_str().ok()),
        Some("gzip"),
        "static files are compressed for browsers that accept it"
    );
    assert!(gzipped.bytes().await.expect("body").len() < 8_500 / 4);
}
}

store_test! {
async fn precompressed_copies_of_the_client_are_sent_as_they_are() {
    // Stand-ins for what scripts/build-frontend.sh writes: the server must send these bytes
    // unchanged (not compress anything itself) to a browser that accepts brotli or gzip.
    let app = TestApp::spawn_with(|c| {
        let dir = c.data_dir.join("web");
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("index.html"), "<html>courier</html>").expect("write");
        std::fs::write(dir.join("index.html.br"), "brotli index").expect("write");
        std::fs::write(dir.join("app.wasm"), vec![7u8; 4_000]).expect("write");
        std::fs::write(dir.join("app.wasm.br"), "brotli wasm").expect("write");
        std::fs::write(dir.join("app.wasm.gz"), "gzip wasm").expect("write");
        c.static_dir = dir;
    })
    .await;
    let fetch = |path: &'static str, accept: &'static str| {
        let request = app
            .http
            .get(app.url(path))
            .header("accept-encoding", accept);
        async move {
            let response = request.send().await.expect("request");
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let encoding = response
                .headers()
                .get("content-encoding")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = response.bytes().await.expect("body");
            (encoding, body)
        }
    };
    let (encoding, body) = fetch("/app.wasm", "gzip, deflate, br").await;
    assert_eq!(encoding.as_deref(), Some("br"));
    assert_eq!(&body[..], b"brotli wasm");
    let (encoding, body) = fetch("/app.wasm", "gzip").await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    assert_eq!(&body[..], b"gzip wasm");
    let (encoding, body) = fetch("/app.wasm", "identity").await;
    assert_eq!(encoding, None);
    assert_eq!(body.len(), 4_000);
    // A client-side route answers with index.html, compressed the same way.
    let (encoding, body) = fetch("/chat/d1_2", "br").await;
    assert_eq!(encoding.as_deref(), Some("br"));
    assert_eq!(&body[..], b"brotli index");
}
}
