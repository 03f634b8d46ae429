-- How `reports.raw` is compressed: 'deflate' (raw deflate, rows written
-- before this migration) or 'lz4' (LZ4 block with its size prepended, about
-- five times cheaper to write than deflate, which matters at hundreds of
-- reports per second).
ALTER TABLE reports ADD COLUMN raw_codec TEXT NOT NULL DEFAULT 'deflate';
