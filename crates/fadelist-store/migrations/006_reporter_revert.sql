-- A listing event kind for reverted reporters: 'delisted-revert', written
-- for each key that a reverted reporter's withdrawn evidence had kept
-- listed. SQLite cannot change a CHECK constraint in place, so the table
-- is rebuilt with the same columns, rows and index.

CREATE TABLE listing_events_new (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    zone        TEXT NOT NULL,
    key         TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN (
                    'listed', 'relisted',
                    'delisted-decay', 'delisted-self-service',
                    'delisted-review', 'delisted-operator',
                    'delisted-revert',
                    'manual-listed', 'manual-expired')),
    -- Who made it: 'reports', 'decay', 'expiry', 'self-service', or the
    -- operator's name.
    actor       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    report_id   INTEGER,
    request_id  INTEGER
);
INSERT INTO listing_events_new (id, at, zone, key, kind, actor, reason, report_id, request_id)
SELECT id, at, zone, key, kind, actor, reason, report_id, request_id FROM listing_events;
DROP TABLE listing_events;
ALTER TABLE listing_events_new RENAME TO listing_events;
CREATE INDEX listing_events_key ON listing_events(zone, key, id);
