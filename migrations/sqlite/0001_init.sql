-- Courier's first schema: guests, sessions, one-to-one conversations, messages and per-user
-- event streams. Times are milliseconds since the Unix epoch.

CREATE TABLE users (
    uid         INTEGER PRIMARY KEY AUTOINCREMENT,
    nick_name   TEXT    NOT NULL,
    kind        TEXT    NOT NULL DEFAULT 'guest',
    created_at  INTEGER NOT NULL,
    -- Cursor of the newest event in this user's stream (0 = none yet). Allocated inside the
    -- writing transaction, so commit order equals cursor order for each user.
    event_head  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
    -- SHA-256 of the session token, hex. The token itself is never stored.
    token_hash  TEXT    PRIMARY KEY,
    uid         INTEGER NOT NULL REFERENCES users(uid),
    created_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL
);
CREATE INDEX sessions_uid ON sessions(uid);

CREATE TABLE conversations (
    id          TEXT    PRIMARY KEY,
    kind        TEXT    NOT NULL,
    -- Seq of the newest message; the next send takes max_seq + 1 under the writer lock.
    max_seq     INTEGER NOT NULL DEFAULT 0,
    last_time   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE conversation_members (
    conversation TEXT    NOT NULL REFERENCES conversations(id),
    uid          INTEGER NOT NULL REFERENCES users(uid),
    -- The other participant of a one-to-one conversation.
    peer_uid     INTEGER REFERENCES users(uid),
    read_seq     INTEGER NOT NULL DEFAULT 0,
    joined_at    INTEGER NOT NULL,
    PRIMARY KEY (conversation, uid)
);
CREATE INDEX conversation_members_uid ON conversation_members(uid);

CREATE TABLE messages (
    msg_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation  TEXT    NOT NULL REFERENCES conversations(id),
    seq           INTEGER NOT NULL,
    sender        INTEGER NOT NULL REFERENCES users(uid),
    client_msg_id TEXT    NOT NULL,
    msg_type      TEXT    NOT NULL,
    content       TEXT    NOT NULL,
    time          INTEGER NOT NULL,
    UNIQUE (conversation, seq),
    -- Idempotent sends: one message per sender and client_msg_id.
    UNIQUE (sender, client_msg_id)
);

CREATE TABLE events (
    uid      INTEGER NOT NULL REFERENCES users(uid),
    cursor   INTEGER NOT NULL,
    -- The event as the client receives it (shared::Event, JSON).
    payload  TEXT    NOT NULL,
    time     INTEGER NOT NULL,
    PRIMARY KEY (uid, cursor)
);
CREATE INDEX events_time ON events(time);
