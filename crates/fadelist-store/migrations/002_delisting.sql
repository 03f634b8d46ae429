-- Delisting requests (self-service form, JSON API) and their outcomes.
CREATE TABLE delist_requests (
    id            INTEGER PRIMARY KEY,
    at            INTEGER NOT NULL,
    requester_ip  TEXT NOT NULL,
    key           TEXT NOT NULL,
    email         TEXT NOT NULL,
    explanation   TEXT NOT NULL,
    -- removed | queued | not-listed | approved | denied
    outcome       TEXT NOT NULL,
    -- JSON array of the zones the key was removed from (or would be).
    zones         TEXT NOT NULL DEFAULT '[]',
    decided_at    INTEGER,
    decided_by    TEXT
);
CREATE INDEX delist_requests_key ON delist_requests(key, at);
CREATE INDEX delist_requests_outcome ON delist_requests(outcome);
