-- The embeddable widget (issue 8): who may see a user's presence, and the users that
-- embedding sites sign in with their own ids. users.kind (since 0001) is 'guest' or
-- 'site_user'.

-- friends (default) or everyone: who may ask GET /api/users/{uid}/presence.
ALTER TABLE users ADD COLUMN presence_level TEXT NOT NULL DEFAULT 'friends';

-- One row per site user: the same site and external id always map to the same uid. The
-- primary key makes concurrent first sign-ins of one site user agree on one uid.
CREATE TABLE site_identities (
    -- The site id of --site-keys (the token's iss).
    site         TEXT    NOT NULL,
    -- The site's own id for the user (the token's sub).
    external_id  TEXT    NOT NULL,
    uid          INTEGER NOT NULL REFERENCES users(uid),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (site, external_id)
);
