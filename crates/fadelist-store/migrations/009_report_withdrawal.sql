-- "Not spam" corrections: a reporter withdraws one of its reports (a user
-- moved the message back out of Junk). The report row stays, for the
-- operator, with the time it was withdrawn; its evidence goes (see
-- src/correction.rs).
--
-- A withdrawn report also leaves the (reporter_id, dedupe_key) slot: its
-- dedupe key gets a "\nwithdrawn <id>" suffix, so the same message
-- reported again (moved back into Junk) is a new report, not a duplicate
-- of one that no longer counts.
ALTER TABLE reports ADD COLUMN withdrawn_at INTEGER;

-- A listing event kind for corrections, 'delisted-correction': written for
-- each key that a withdrawn report had kept listed. SQLite cannot change a
-- CHECK constraint in place, so the table is rebuilt (as in migration 6)
-- with the same columns, rows and indexes.
CREATE TABLE listing_events_new (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    zone        TEXT NOT NULL,
    key         TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN (
                    'listed', 'relisted',
                    'delisted-decay', 'delisted-self-service',
                    'delisted-review', 'delisted-operator',
                    'delisted-revert', 'delisted-correction',
                    'manual-listed', 'manual-expired')),
    -- Who made it: 'reports', 'decay', 'expiry', 'self-service', or the
    -- operator's or reporter's name.
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
CREATE INDEX listing_events_at ON listing_events(at);
