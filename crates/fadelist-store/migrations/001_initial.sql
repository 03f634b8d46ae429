-- fadelist schema, version 1. Times are Unix seconds.

CREATE TABLE reporters (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    -- SHA-256 (hex) of the API token; the token itself is never stored.
    token_hash  TEXT NOT NULL UNIQUE,
    weight      REAL NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('user', 'trap')),
    -- JSON array of CIDRs: the reporter's own MX and filter hosts.
    trusted     TEXT NOT NULL,
    suspended   INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);

CREATE TABLE reports (
    id           INTEGER PRIMARY KEY,
    reporter_id  INTEGER NOT NULL REFERENCES reporters(id),
    received_at  INTEGER NOT NULL,
    -- Message-ID + body hash: the same message from the same reporter counts once.
    dedupe_key   TEXT NOT NULL,
    message_id   TEXT,
    body_hash    TEXT NOT NULL,
    category     TEXT NOT NULL,
    subject      TEXT,
    -- The raw sample, deflate-compressed; NULL once past retention.
    raw          BLOB,
    raw_size     INTEGER NOT NULL,
    -- What was extracted and decided, as JSON (the 202 answer body).
    outcome      TEXT NOT NULL,
    UNIQUE (reporter_id, dedupe_key)
);
CREATE INDEX reports_received ON reports(received_at);

-- One reporter's decaying contribution to one key in one zone.
CREATE TABLE contributions (
    zone         TEXT NOT NULL,
    key          TEXT NOT NULL,
    reporter_id  INTEGER NOT NULL REFERENCES reporters(id),
    score        REAL NOT NULL,
    at           INTEGER NOT NULL,
    PRIMARY KEY (zone, key, reporter_id)
);

CREATE TABLE listings (
    zone           TEXT NOT NULL,
    key            TEXT NOT NULL,
    category       TEXT NOT NULL,
    first_seen     INTEGER NOT NULL,
    last_seen      INTEGER NOT NULL,
    listed_since   INTEGER,
    min_until      INTEGER,
    listing_count  INTEGER NOT NULL DEFAULT 0,
    -- JSON array of the start times of recent listings (repeat offenders).
    past_listings  TEXT NOT NULL DEFAULT '[]',
    report_count   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (zone, key)
);
CREATE INDEX listings_listed ON listings(zone) WHERE listed_since IS NOT NULL;

-- Which reports were evidence for which keys.
CREATE TABLE evidence (
    report_id  INTEGER NOT NULL REFERENCES reports(id),
    zone       TEXT NOT NULL,
    key        TEXT NOT NULL,
    PRIMARY KEY (report_id, zone, key)
);
CREATE INDEX evidence_key ON evidence(zone, key);

CREATE TABLE never_list (
    entry     TEXT PRIMARY KEY,
    reason    TEXT NOT NULL,
    added_at  INTEGER NOT NULL
);

CREATE TABLE audit (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    zone       TEXT,
    key        TEXT,
    action     TEXT NOT NULL,
    reason     TEXT NOT NULL,
    report_id  INTEGER
);
CREATE INDEX audit_key ON audit(key, at);
