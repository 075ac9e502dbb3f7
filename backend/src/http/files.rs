//! Files: create a record, upload (resumable, streamed), info, download (ranges, safe headers),
//! thumbnail.

use super::error::ApiError;
use super::extract::{AppJson, AppPath, Auth};
use crate::domain::files::{RangeRequest, content_disposition, served_content_type};
use crate::service::{AppState, ServiceError, files};
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use shared::ErrorCode;
use shared::files::{
    FileCreated, FileInfo, FileState, NewFile, UPLOAD_OFFSET_HEADER, UPLOAD_STATE_HEADER,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/files", post(create))
        .route("/files/{id}", get(info))
        .route(
            "/files/{id}/content",
            // The upload streams to disk under its own limit (the declared size, at most
            // --max-file-bytes); the API's small body limit does not apply to it.
            put(upload).layer(DefaultBodyLimit::disable()).get(download),
        )
        .route("/files/{id}/thumbnail", get(thumbnail))
}

async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppJson(request): AppJson<NewFile>,
) -> Result<(StatusCode, AppJson<FileCreated>), ApiError> {
    let created = files::create(&state, caller.uid, request).await?;
    Ok((StatusCode::CREATED, AppJson(created)))
}

async fn info(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(id): AppPath<String>,
) -> Result<AppJson<FileInfo>, ApiError> {
    Ok(AppJson(files::info(&state, caller.uid, &id).await?))
}

fn offset_header(offset: u64) -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_static(UPLOAD_OFFSET_HEADER),
        HeaderValue::from(offset),
    )
}

async fn upload(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(id): AppPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let Some(offset) = number(UPLOAD_OFFSET_HEADER) else {
        return ApiError::InvalidParameter(
            "send the Upload-Offset header: the number of bytes already received (0 at first)"
                .to_owned(),
        )
        .into_response();
    };
    let content_length = number(header::CONTENT_LENGTH.as_str());
    let result = files::upload(
        &state,
        caller.uid,
        &id,
        offset,
        content_length,
        body.into_data_stream(),
    )
    .await;
    match result {
        Ok(file) => ([offset_header(file.received)], AppJson(file)).into_response(),
        Err(error) => {
            let mismatch = matches!(
                error,
                ServiceError::Refused {
                    code: ErrorCode::UploadOffsetMismatch,
                    ..
                }
            );
            let mut response = ApiError::from(error).into_response();
            if mismatch && let Ok(file) = files::info(&state, caller.uid, &id).await {
                let (name, value) = offset_header(file.received);
                response.headers_mut().insert(name, value);
            }
            response
        }
    }
}

/// Headers every file answer carries: no sniffing, no active content even if opened directly.
fn safe_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
}

async fn download(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(id): AppPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let download = files::download(&state, caller.uid, &id, range).await?;
    let file = &download.file;
    let total = if file.state == FileState::Ready {
        download.available.to_string()
    } else {
        "*".to_owned()
    };
    let (status, length, content_range) = match download.range {
        RangeRequest::Unsatisfiable => {
            let mut response = ApiError::Service(ServiceError::refused(
                ErrorCode::RangeNotSatisfiable,
                format!(
                    "the range lies beyond the {} bytes there are",
                    download.available
                ),
            ))
            .into_response();
            let value = format!("bytes */{}", download.available);
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return Ok(response);
        }
        RangeRequest::Full => (StatusCode::OK, download.available, None),
        RangeRequest::Partial { start, end } => (
            StatusCode::PARTIAL_CONTENT,
            end - start + 1,
            Some(format!("bytes {start}-{end}/{total}")),
        ),
    };
    let mut response = Response::new(Body::from_stream(download.body));
    *response.status_mut() = status;
    let h = response.headers_mut();
    safe_headers(h);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let content_type = served_content_type(&file.mime);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(value) = HeaderValue::from_str(&content_disposition(&file.name, content_type)) {
        h.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Some(value) = content_range.and_then(|r| HeaderValue::from_str(&r).ok()) {
        h.insert(header::CONTENT_RANGE, value);
    }
    let upload_state = match file.state {
        FileState::Ready => "ready",
        _ => "uploading",
    };
    h.insert(
        HeaderName::from_static(UPLOAD_STATE_HEADER),
        HeaderValue::from_static(upload_state),
    );
    Ok(response)
}

async fn thumbnail(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(id): AppPath<String>,
) -> Result<Response, ApiError> {
    let (bytes, mime) = files::thumbnail(&state, caller.uid, &id).await?;
    let mut response = Response::new(Body::from(bytes));
    let h = response.headers_mut();
    safe_headers(h);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&mime).unwrap_or(HeaderValue::from_static("image/png")),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    Ok(response)
}
