-- Message ids without AUTOINCREMENT (issue 7). With it, every INSERT INTO messages also
-- scanned and rewrote SQLite's sqlite_sequence table: about 4% of the send writer's instructions
-- (callgrind). Messages are never deleted, so a plain INTEGER PRIMARY KEY (the largest id
-- plus one) hands out the same ids, increasing, never reused. SQLite cannot drop AUTOINCREMENT
-- from a table, so the table is rebuilt: the same columns, constraints and rows. No table
-- refers to messages.

CREATE TABLE messages_rowid (
    msg_id        INTEGER PRIMARY KEY,
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

INSERT INTO messages_rowid (msg_id, conversation, seq, sender, client_msg_id, msg_type, content, time)
    SELECT msg_id, conversation, seq, sender, client_msg_id, msg_type, content, time FROM messages;

DROP TABLE messages;

ALTER TABLE messages_rowid RENAME TO messages;

DELETE FROM sqlite_sequence WHERE name = 'messages';
