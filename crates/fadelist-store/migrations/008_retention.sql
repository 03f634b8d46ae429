-- Retention: what the pruning job (src/retention.rs) needs to find old
-- rows without scanning whole tables, and the erasure of requesters'
-- personal data.

-- Reports whose raw sample is still stored, by age. Samples past
-- `raw_retention` are set to NULL; without this index every pass would
-- step over all the reports already stripped (months of them) to find
-- the few that are not.
CREATE INDEX reports_raw_kept ON reports(received_at) WHERE raw IS NOT NULL;

-- Listing history and audit log by age (their other indexes lead with
-- the key).
CREATE INDEX listing_events_at ON listing_events(at);
CREATE INDEX audit_at ON audit(at);

-- A delisting request's e-mail, requester address and explanation are
-- personal data: erased `request_retention` after the request was
-- decided (at once for self-service, on review for queued ones). The row
-- stays, anonymous, for the self-service limit and the listing history
-- that names it, until it is deleted with the audit log. `erased_at`
-- says when (NULL: not erased).
ALTER TABLE delist_requests ADD COLUMN erased_at INTEGER;
CREATE INDEX delist_requests_to_erase ON delist_requests(coalesce(decided_at, at))
    WHERE erased_at IS NULL AND outcome <> 'queued';
CREATE INDEX delist_requests_decided ON delist_requests(coalesce(decided_at, at))
    WHERE outcome <> 'queued';
