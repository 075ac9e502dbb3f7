-- Profiles and privacy (seed 000 user_info), friends (user_friend), blocks, friend requests,
-- groups (group_info, group_members), invitations and join requests, and the versioned lists
-- (list_time) with the change log their deltas are computed from.

-- The profile's `time` on the wire; changes whenever the profile or a privacy setting changes.
ALTER TABLE users ADD COLUMN profile_time INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN gender TEXT NOT NULL DEFAULT 'unknown';
-- YYYYMMDD, NULL when unset.
ALTER TABLE users ADD COLUMN birthday INTEGER;
ALTER TABLE users ADD COLUMN open_level TEXT NOT NULL DEFAULT 'everyone';
ALTER TABLE users ADD COLUMN friend_level TEXT NOT NULL DEFAULT 'approval';
ALTER TABLE users ADD COLUMN msg_policy TEXT NOT NULL DEFAULT 'anyone';
-- The code of the user's friend invite link.
ALTER TABLE users ADD COLUMN friend_code TEXT;
UPDATE users SET profile_time = created_at, friend_code = lower(hex(randomblob(8)));
CREATE UNIQUE INDEX users_friend_code ON users(friend_code);

-- Where a member's history starts (seed 001 initSeq): the group's max_seq when they joined.
-- The group of a group conversation (NULL for one-to-one ones).
ALTER TABLE conversations ADD COLUMN gid INTEGER;

ALTER TABLE conversation_members ADD COLUMN init_seq INTEGER NOT NULL DEFAULT 0;

-- Friendship is stored in both directions: (a, b) and (b, a).
CREATE TABLE user_friend (
    uid         INTEGER NOT NULL REFERENCES users(uid),
    friend_uid  INTEGER NOT NULL REFERENCES users(uid),
    since       INTEGER NOT NULL,
    PRIMARY KEY (uid, friend_uid)
);

CREATE TABLE user_block (
    uid          INTEGER NOT NULL REFERENCES users(uid),
    blocked_uid  INTEGER NOT NULL REFERENCES users(uid),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (uid, blocked_uid)
);
CREATE INDEX user_block_blocked ON user_block(blocked_uid);

CREATE TABLE friend_requests (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    from_uid    INTEGER NOT NULL REFERENCES users(uid),
    to_uid      INTEGER NOT NULL REFERENCES users(uid),
    note        TEXT    NOT NULL DEFAULT '',
    -- pending, accepted, rejected, cancelled
    state       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX friend_requests_to ON friend_requests(to_uid, state);
CREATE INDEX friend_requests_from ON friend_requests(from_uid, state);

CREATE TABLE group_info (
    gid          INTEGER PRIMARY KEY AUTOINCREMENT,
    gname        TEXT    NOT NULL,
    intro        TEXT    NOT NULL DEFAULT '',
    owner_uid    INTEGER NOT NULL REFERENCES users(uid),
    -- open, approval, invite_only
    join_policy  TEXT    NOT NULL,
    dissolved    INTEGER NOT NULL DEFAULT 0,
    -- Changes whenever the info changes (seed: time).
    time         INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE TABLE group_members (
    gid        INTEGER NOT NULL REFERENCES group_info(gid),
    uid        INTEGER NOT NULL REFERENCES users(uid),
    -- owner, admin, member
    role       TEXT    NOT NULL,
    joined_at  INTEGER NOT NULL,
    PRIMARY KEY (gid, uid)
);
CREATE INDEX group_members_uid ON group_members(uid);

CREATE TABLE group_invites (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    gid         INTEGER NOT NULL REFERENCES group_info(gid),
    admin_uid   INTEGER NOT NULL REFERENCES users(uid),
    add_uid     INTEGER NOT NULL REFERENCES users(uid),
    -- pending, accepted, rejected (declined), cancelled
    state       TEXT    NOT NULL,
    result      TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX group_invites_add ON group_invites(add_uid, state);
CREATE INDEX group_invites_gid ON group_invites(gid, state);

CREATE TABLE group_join_requests (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    gid         INTEGER NOT NULL REFERENCES group_info(gid),
    uid         INTEGER NOT NULL REFERENCES users(uid),
    note        TEXT    NOT NULL DEFAULT '',
    state       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX group_join_requests_gid ON group_join_requests(gid, state);
CREATE INDEX group_join_requests_uid ON group_join_requests(uid, state);

-- Each user's list versions (seed 000 list_time). A version bumps by one per entry added or
-- removed, never otherwise. `*_floor` is the oldest version a delta can start from: every
-- change after it is in list_changes (pruning the log raises the floor).
CREATE TABLE list_time (
    uid           INTEGER PRIMARY KEY REFERENCES users(uid),
    friend_list   INTEGER NOT NULL DEFAULT 0,
    group_list    INTEGER NOT NULL DEFAULT 0,
    friend_floor  INTEGER NOT NULL DEFAULT 0,
    group_floor   INTEGER NOT NULL DEFAULT 0
);

-- One row per list change: the version it produced, the entry, and whether it was added or
-- removed.
CREATE TABLE list_changes (
    uid      INTEGER NOT NULL REFERENCES users(uid),
    -- friend, group
    list     TEXT    NOT NULL,
    version  INTEGER NOT NULL,
    item     INTEGER NOT NULL,
    -- add, remove
    op       TEXT    NOT NULL,
    time     INTEGER NOT NULL,
    PRIMARY KEY (uid, list, version)
);

-- Presence. Each node records its heartbeat; a user is online while some node with a fresh
-- heartbeat holds a row for them (a poll parked there or answered within the grace period).
-- A node that dies stops its heartbeat, and another node reaps its rows.
CREATE TABLE nodes (
    node     TEXT    PRIMARY KEY,
    seen_at  INTEGER NOT NULL
);

CREATE TABLE presence (
    uid    INTEGER NOT NULL REFERENCES users(uid),
    node   TEXT    NOT NULL,
    since  INTEGER NOT NULL,
    PRIMARY KEY (uid, node)
);
CREATE INDEX presence_node ON presence(node);
