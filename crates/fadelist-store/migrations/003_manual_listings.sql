-- Listings made by an operator, with their own return code and reason.
CREATE TABLE manual_listings (
    zone      TEXT NOT NULL,
    key       TEXT NOT NULL,
    code      TEXT NOT NULL,
    reason    TEXT NOT NULL,
    -- Unix seconds; NULL = until removed.
    until     INTEGER,
    added_at  INTEGER NOT NULL,
    added_by  TEXT NOT NULL,
    PRIMARY KEY (zone, key)
);
