-- PostgreSQL twin of migrations/sqlite/0003_files.sql (same tables, same columns).
-- Uploaded files (seed 000: large files are uploaded after their message) and the conversations
-- they were sent in, which decide who may download them. Files of 1 KB or less travel inside the
-- message and have no row here.

CREATE TABLE files (
    -- 22 characters of random base64url: unguessable.
    id           TEXT    PRIMARY KEY,
    uploader     BIGINT  NOT NULL REFERENCES users(uid),
    name         TEXT    NOT NULL,
    -- Declared size in bytes; more bytes fail the upload.
    size         BIGINT  NOT NULL,
    mime         TEXT    NOT NULL,
    -- Declared SHA-256, lower-case hex; checked when the last byte arrived.
    sha256       TEXT    NOT NULL,
    -- uploading, ready, failed
    state        TEXT    NOT NULL,
    -- Bytes received so far (the partial file in the data directory holds them).
    received     BIGINT  NOT NULL DEFAULT 0,
    -- Why it failed: size_mismatch, checksum_mismatch, expired.
    failure      TEXT,
    -- Key of the content in the file store once ready.
    storage_key  TEXT    NOT NULL,
    -- Key and type of the small preview of an image, once ready.
    thumb_key    TEXT,
    thumb_mime   TEXT,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);
CREATE INDEX files_uploader_state ON files(uploader, state);
CREATE INDEX files_state_created ON files(state, created_at);

CREATE TABLE file_links (
    file_id       TEXT    NOT NULL REFERENCES files(id),
    conversation  TEXT    NOT NULL REFERENCES conversations(id),
    -- The newest message in the conversation that carries the file: members whose history
    -- starts at or after it (init_seq) do not see it.
    seq           BIGINT  NOT NULL,
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (file_id, conversation)
);
