//! Files: sending them (inline when small, else reserve, send the message, upload with progress,
//! cancel and resume) and showing `file` and `image` messages.

use crate::actions;
use crate::api::{self, ClientError};
use crate::components::{dynamic, memo};
use crate::state::{ChatKey, Store, Upload, use_store};
use js_sys::Uint8Array;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Deserialize;
use shared::MsgType;
use shared::files::{
    FileCreated, FileFailure, FileId, FileInfo, FileState, InlineAttachment, MAX_INLINE_BYTES,
    NewFile, StoredAttachment,
};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, File, FileList};

/// One upload of this tab: the file (kept for retries), where to put it, and the request running.
type Source = (File, String, Option<api::Upload>);

thread_local! {
    static SOURCES: RefCell<HashMap<FileId, Source>> = RefCell::new(HashMap::new());
    /// Files whose state is being asked for.
    static ASKED: RefCell<HashSet<FileId>> = RefCell::new(HashSet::new());
}

/// Records what the server says about a file (an answer, or `file_ready`).
pub fn known(store: Store, file: FileInfo) {
    store.files.update(|files| {
        files.info.insert(file.id.clone(), file);
    });
}

/// Sends every file of a list (file input, drop, paste) to the chat, in order.
pub fn send_list(store: Store, key: ChatKey, list: Option<FileList>) {
    let Some(list) = list else {
        return;
    };
    let files: Vec<File> = (0..list.length()).filter_map(|i| list.get(i)).collect();
    spawn_local(async move {
        for file in files {
            let name = file.name();
            if let Err(error) = send(store, key, file).await {
                store.show_error(format!("Cannot send {name}: {error}"));
            }
        }
    });
}

fn js_error(_: JsValue) -> ClientError {
    ClientError::Invalid("The browser cannot read this file".into())
}

async fn send(store: Store, key: ChatKey, file: File) -> Result<(), ClientError> {
    let name = match file.name() {
        n if n.is_empty() => "pasted".to_owned(),
        n => n,
    };
    let size = file.size() as u64;
    let mime = match file.type_() {
        m if m.contains('/') => m,
        _ => "application/octet-stream".to_owned(),
    };
    let msg_type = if mime.starts_with("image/") {
        MsgType::Image
    } else {
        MsgType::File
    };
    let buffer = JsFuture::from(file.array_buffer())
        .await
        .map_err(js_error)?;
    let json = |r: serde_json::Result<String>| r.map_err(|e| ClientError::Decode(e.to_string()));
    if size <= MAX_INLINE_BYTES {
        // `btoa` takes one character per byte.
        let latin1: String = Uint8Array::new(&buffer)
            .to_vec()
            .into_iter()
            .map(char::from)
            .collect();
        let data = window().btoa(&latin1).map_err(js_error)?;
        let content = json(serde_json::to_string(&InlineAttachment {
            name,
            size,
            mime,
            data,
        }))?;
        actions::send(store, key, msg_type, content);
        return Ok(());
    }
    let digest = window()
        .crypto()
        .map_err(js_error)?
        .subtle()
        .digest_with_str_and_buffer_source("SHA-256", &buffer.unchecked_into())
        .map_err(js_error)?;
    let digest = JsFuture::from(digest).await.map_err(js_error)?;
    let sha256 = Uint8Array::new(&digest)
        .to_vec()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let created: FileCreated = api::post(
        "/api/files",
        &NewFile {
            name: name.clone(),
            size,
            mime: mime.clone(),
            sha256,
        },
    )
    .await?;
    let id = created.file.id.clone();
    known(store, created.file);
    let content = json(serde_json::to_string(&StoredAttachment {
        file_id: id.clone(),
        name,
        size,
        mime,
    }))?;
    actions::send(store, key, msg_type, content);
    SOURCES.with(|s| {
        s.borrow_mut()
            .insert(id.clone(), (file, created.upload_url, None))
    });
    start(store, id, 0);
    Ok(())
}

fn window() -> web_sys::Window {
    web_sys::window().expect("the app runs in a browser window")
}

fn set_upload(store: Store, id: &FileId, f: impl FnOnce(&mut Upload)) {
    store.files.update(|files| {
        if let Some(upload) = files.uploads.get_mut(id) {
            f(upload);
        }
    });
}

/// Uploads the file from byte `offset` on.
fn start(store: Store, id: FileId, offset: u64) {
    let Some((file, url)) = SOURCES.with(|s| {
        s.borrow()
            .get(&id)
            .map(|(file, url, _)| (file.clone(), url.clone()))
    }) else {
        return;
    };
    let size = file.size() as u64;
    store.files.update(|f| {
        f.uploads.insert(
            id.clone(),
            Upload {
                sent: offset,
                size,
                running: true,
                error: None,
            },
        );
    });
    let on_progress = {
        let id = id.clone();
        move |sent| set_upload(store, &id, |u| u.sent = offset + sent)
    };
    let on_done = {
        let id = id.clone();
        move |result: Result<FileInfo, ClientError>| finished(store, id, result)
    };
    let body: Result<Blob, _> = file.slice_with_f64(offset as f64);
    match body
        .map_err(js_error)
        .and_then(|body| api::upload(&url, offset, &body, on_progress, on_done))
    {
        Ok(request) => SOURCES.with(|s| {
            if let Some(entry) = s.borrow_mut().get_mut(&id) {
                entry.2 = Some(request);
            }
        }),
        Err(error) => finished(store, id, Err(error)),
    }
}

fn finished(store: Store, id: FileId, result: Result<FileInfo, ClientError>) {
    let error = match result {
        Ok(info) if info.state == FileState::Uploading => Some("Upload interrupted".to_owned()),
        Ok(info) => {
            known(store, info);
            None
        }
        Err(error) => {
            let cancelled = store
                .files
                .with_untracked(|f| f.uploads.get(&id).is_some_and(|u| !u.running));
            Some(if cancelled {
                "Upload cancelled".to_owned()
            } else {
                error.to_string()
            })
        }
    };
    let done = error.is_none();
    set_upload(store, &id, |u| {
        u.running = false;
        u.error = error;
    });
    // Later: this runs inside the request's own callback, which the entry holds.
    spawn_local(async move {
        SOURCES.with(|s| {
            let mut sources = s.borrow_mut();
            if done {
                sources.remove(&id);
            } else if let Some(entry) = sources.get_mut(&id) {
                entry.2 = None;
            }
        });
        if done {
            store.files.update(|f| {
                f.uploads.remove(&id);
            });
        }
    });
}

/// Stops a running upload (it can be retried).
fn cancel(store: Store, id: &FileId) {
    set_upload(store, id, |u| u.running = false);
    let request = SOURCES.with(|s| s.borrow_mut().get_mut(id).and_then(|e| e.2.take()));
    if let Some(request) = request {
        request.abort();
        // Dropped later, after its callback ran.
        spawn_local(async move { drop(request) });
    }
}

/// Resumes an upload from where the server says it stands.
fn retry(store: Store, id: FileId) {
    set_upload(store, &id, |u| {
        u.running = true;
        u.error = None;
    });
    spawn_local(async move {
        match api::get::<FileInfo>(&format!("/api/files/{id}")).await {
            Ok(info) if info.state == FileState::Uploading => start(store, id, info.received),
            result => finished(store, id, result),
        }
    });
}

/// Asks the server for a file's state once.
fn want(store: Store, id: FileId) {
    if !ASKED.with(|a| a.borrow_mut().insert(id.clone())) {
        return;
    }
    spawn_local(async move {
        if let Ok(info) = api::get::<FileInfo>(&format!("/api/files/{id}")).await {
            known(store, info);
        }
    });
}

/// "1.5 MB"-style sizes (integer arithmetic: float formatting would add kilobytes to the module).
pub fn human_size(bytes: u64) -> String {
    let mut unit = "B";
    let mut tenths = bytes * 10;
    for next in ["KB", "MB", "GB"] {
        if tenths < 10240 {
            break;
        }
        tenths /= 1024;
        unit = next;
    }
    if unit == "B" {
        format!("{bytes} B")
    } else {
        format!("{}.{} {unit}", tenths / 10, tenths % 10)
    }
}

/// A `file` or `image` message's content, read leniently (one struct, not the untagged enum).
#[derive(Deserialize)]
struct Content {
    name: String,
    size: u64,
    mime: String,
    data: Option<String>,
    file_id: Option<FileId>,
}

/// The conversation list's one-line preview of a file message.
pub fn preview(content: &str) -> String {
    serde_json::from_str::<Content>(content)
        .map(|c| format!("📎 {}", c.name))
        .unwrap_or_default()
}

/// A `blob:` URL for `url` (when the bearer token is in use), else `url` itself.
fn source(url: String) -> Signal<Option<String>> {
    if api::bearer().is_none() {
        return Signal::stored(Some(url));
    }
    let blob = RwSignal::new(None::<String>);
    spawn_local(async move {
        if let Ok(object) = api::blob_url(&url).await
            && blob.try_set(Some(object.clone())).is_some()
        {
            // The view went away meanwhile.
            let _ = web_sys::Url::revoke_object_url(&object);
        }
    });
    on_cleanup(move || {
        if let Some(Some(object)) = blob.try_get_untracked() {
            let _ = web_sys::Url::revoke_object_url(&object);
        }
    });
    blob.into()
}

/// A blob URL for inline bytes (revoked when the view goes away).
fn inline_url(data: &str, mime: &str) -> Option<String> {
    let bytes: Vec<u8> = window().atob(data).ok()?.chars().map(|c| c as u8).collect();
    let parts = js_sys::Array::of1(&Uint8Array::from(bytes.as_slice()));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = Blob::new_with_u8_array_sequence_and_options(&parts, &options).ok()?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).ok()?;
    let revoke = url.clone();
    on_cleanup(move || {
        let _ = web_sys::Url::revoke_object_url(&revoke);
    });
    Some(url)
}

/// The body of a `file` or `image` message: name, size, and a link (and the picture) once it
/// can be downloaded.
#[component]
pub fn AttachmentView(msg_type: MsgType, content: String) -> impl IntoView {
    let Ok(file) = serde_json::from_str::<Content>(&content) else {
        return view! { <div class="content">{content}</div> }.into_any();
    };
    let image = msg_type == MsgType::Image;
    let head = view! {
        <div class="file-head">
            <span class="file-name">{file.name.clone()}</span>
            " "
            <span class="file-size">{human_size(file.size)}</span>
        </div>
    };
    let name = file.name.clone();
    let Some(id) = file.file_id else {
        let url = file.data.as_deref().and_then(|d| inline_url(d, &file.mime));
        return view! {
            <div class="content attachment" data-state="ready">
                {head}
                {image.then(|| view! { <img class="file-image" src=url.clone() alt=name.clone() /> })}
                <a class="file-link" href=url download=name>
                    "Download"
                </a>
            </div>
        }
        .into_any();
    };
    let store = use_store();
    let info = {
        let id = id.clone();
        memo(move || {
            store.files.with(|f| {
                f.info
                    .get(&id)
                    .map(|i| (i.state, i.failure, i.thumbnail && image))
            })
        })
    };
    if info.get_untracked().is_none() {
        want(store, id.clone());
    }
    let state = move || match info.get() {
        Some((FileState::Ready, ..)) => "ready",
        Some((FileState::Failed, ..)) => "failed",
        _ => "uploading",
    };
    let body = {
        let id = id.clone();
        move || match info.get() {
            Some((FileState::Ready, _, thumbnail)) => {
                let content = format!("/api/files/{id}/content");
                let href = source(content.clone());
                let picture = thumbnail.then(|| {
                    let src = source(format!("/api/files/{id}/thumbnail"));
                    view! {
                        <a class="file-open" href=href target="_blank" rel="noopener">
                            <img class="file-image" src=src alt=name.clone() />
                        </a>
                    }
                });
                view! {
                    {picture}
                    <a class="file-link" href=href download=name.clone()>
                        "Download"
                    </a>
                }
                .into_any()
            }
            Some((FileState::Failed, failure, _)) => {
                let reason = match failure {
                    Some(FileFailure::SizeMismatch) => "the size did not match",
                    Some(FileFailure::ChecksumMismatch) => "the checksum did not match",
                    Some(FileFailure::Expired) => "it was not completed in time",
                    None => "unknown reason",
                };
                view! { <span class="file-note error">{format!("upload failed: {reason}")}</span> }
                    .into_any()
            }
            _ => view! {
                <span class="file-note">"uploading…"</span>
                <UploadControls id=id.clone() />
            }
            .into_any(),
        }
    };
    view! {
        <div class="content attachment" data-state=state data-file=id.0.clone()>
            {head}
            {body}
        </div>
    }
    .into_any()
}

/// Progress, cancel and retry of this tab's upload of a file (nothing for others' files).
#[component]
fn UploadControls(id: FileId) -> impl IntoView {
    let store = use_store();
    let percent = {
        let id = id.clone();
        memo(move || {
            store
                .files
                .with(|f| f.uploads.get(&id).map_or(0, Upload::percent))
        })
    };
    let status = {
        let id = id.clone();
        memo(move || {
            store
                .files
                .with(|f| f.uploads.get(&id).map(|u| (u.running, u.error.clone())))
        })
    };
    move || {
        let id = id.clone();
        status.get().map(|(running, error)| {
            if running {
                view! {
                    <div class="upload">
                        <progress
                            class="upload-progress"
                            data-percent=move || percent.get().to_string()
                            max="100"
                            value=move || percent.get().to_string()
                        ></progress>
                        <span class="upload-percent">{dynamic(move || format!("{}%", percent.get()))}</span>
                        <button
                            class="upload-cancel secondary"
                            type="button"
                            on:click=move |_| cancel(store, &id)
                        >
                            "Cancel"
                        </button>
                    </div>
                }
                .into_any()
            } else {
                view! {
                    <div class="upload">
                        <span class="error">{error}</span>
                        <button
                            class="upload-retry"
                            type="button"
                            on:click=move |_| retry(store, id.clone())
                        >
                            "Retry"
                        </button>
                    </div>
                }
                .into_any()
            }
        })
    }
}
