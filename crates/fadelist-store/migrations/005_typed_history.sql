-- Typed listing history and evidence columns.
--
-- Until now the lookup pages read a key's history by matching the wording
-- of audit reasons, and a report's source out of the JSON the API answered.
-- From here on both are typed: every change of a listing is a row of
-- `listing_events` (kind, actor, time, reason, the report or request that
-- caused it), and a report's extraction lives in columns. The audit log
-- stays what it is for: a human-readable log for the operator.

CREATE TABLE listing_events (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    zone        TEXT NOT NULL,
    key         TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN (
                    'listed', 'relisted',
                    'delisted-decay', 'delisted-self-service',
                    'delisted-review', 'delisted-operator',
                    'manual-listed', 'manual-expired')),
    -- Who made it: 'reports', 'decay', 'expiry', 'self-service', or the
    -- operator's name.
    actor       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    report_id   INTEGER,
    request_id  INTEGER
);
CREATE INDEX listing_events_key ON listing_events(zone, key, id);

-- Convert the listing history of earlier versions. Their audit reasons
-- had fixed wordings (this is the one place that still reads them).
INSERT INTO listing_events (at, zone, key, kind, actor, reason, report_id, request_id)
SELECT at, zone, key,
       CASE
           WHEN action = 'manual-list' THEN 'manual-listed'
           WHEN action = 'listed' AND reason LIKE '%listing #1 in%' THEN 'listed'
           WHEN action = 'listed' THEN 'relisted'
           WHEN reason LIKE 'self-service removal%' THEN 'delisted-self-service'
           WHEN reason LIKE 'request #% approved by %' THEN 'delisted-review'
           WHEN reason LIKE 'removed by %' THEN 'delisted-operator'
           WHEN reason LIKE 'score decayed%' THEN 'delisted-decay'
           ELSE 'manual-expired'
       END,
       CASE
           WHEN action = 'listed' THEN 'reports'
           WHEN action = 'manual-list' THEN 'admin'
           WHEN reason LIKE 'self-service removal%' THEN 'self-service'
           WHEN reason LIKE 'request #% approved by %'
               THEN substr(reason, instr(reason, ' approved by ') + 13)
           WHEN reason LIKE 'removed by %' THEN substr(reason, 12)
           WHEN reason LIKE 'score decayed%' THEN 'decay'
           ELSE 'expiry'
       END,
       reason,
       report_id,
       CASE
           WHEN reason LIKE 'self-service removal, request #%'
               THEN CAST(substr(reason, 32) AS INTEGER)
           WHEN reason LIKE 'request #% approved by %'
               THEN CAST(substr(reason, 10, instr(reason, ' approved by ') - 10) AS INTEGER)
       END
FROM audit
WHERE zone IS NOT NULL AND key IS NOT NULL
  AND (action IN ('listed', 'manual-list')
       OR (action = 'delisted' AND (reason LIKE 'self-service removal%'
                                    OR reason LIKE 'request #% approved by %'
                                    OR reason LIKE 'removed by %'
                                    OR reason LIKE 'score decayed%'
                                    OR reason = 'manual listing expired')))
ORDER BY id;

-- What was extracted from each report, as columns.
ALTER TABLE reports ADD COLUMN source_ip TEXT;
ALTER TABLE reports ADD COLUMN source_hop INTEGER;
ALTER TABLE reports ADD COLUMN bulk INTEGER NOT NULL DEFAULT 0;
-- The registered domains found in the links, space-separated.
ALTER TABLE reports ADD COLUMN domains TEXT NOT NULL DEFAULT '';

UPDATE reports SET
    source_ip = json_extract(outcome, '$.extracted.source.ip'),
    source_hop = json_extract(outcome, '$.extracted.source.received_hop'),
    bulk = coalesce(json_extract(outcome, '$.extracted.bulk.is_bulk'), 0),
    domains = coalesce((SELECT group_concat(json_extract(d.value, '$.domain'), ' ')
                        FROM json_each(outcome, '$.extracted.domains') AS d), '')
WHERE json_valid(outcome);

-- Evidence rows carry their time and reporter, so the reads of one key are
-- bounded by a time window and a row limit on one index.
ALTER TABLE evidence ADD COLUMN at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE evidence ADD COLUMN reporter_id INTEGER NOT NULL DEFAULT 0;
DROP INDEX evidence_key;
UPDATE evidence SET at = r.received_at, reporter_id = r.reporter_id
FROM reports AS r WHERE r.id = evidence.report_id;
CREATE INDEX evidence_key_at ON evidence(zone, key, at, report_id);

-- Distinct reporters that ever reported a key: a summary the writer keeps,
-- so a lookup never counts over all of a key's evidence.
CREATE TABLE key_reporters (
    zone         TEXT NOT NULL,
    key          TEXT NOT NULL,
    reporter_id  INTEGER NOT NULL,
    PRIMARY KEY (zone, key, reporter_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO key_reporters (zone, key, reporter_id)
SELECT zone, key, reporter_id FROM evidence;
