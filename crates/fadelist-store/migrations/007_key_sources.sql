-- Source networks per content key: the joe-job defence.
--
-- A spammer can plant any domain or address in its mail. A content key (a
-- domain or URL address in the `domain` feed's zone) is listed only once
-- the reports naming it came from enough distinct source networks (IPv4
-- /24, IPv6 /48 of the reports' source IPs, which the reporters' own
-- servers recorded and the spammer cannot choose). One row per key,
-- network and reporter, with the last time that reporter's report from
-- that network named the key; the writer counts the distinct recent
-- networks of reporters in good standing when a report arrives. Per
-- reporter, so that suspending or reverting a reporter takes its networks
-- out too (a rogue reporter writes the whole message, Received fields
-- included).
CREATE TABLE key_sources (
    zone        TEXT NOT NULL,
    key         TEXT NOT NULL,
    net         TEXT NOT NULL,
    reporter_id INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (zone, key, net, reporter_id)
) WITHOUT ROWID;
CREATE INDEX key_sources_reporter ON key_sources (reporter_id);
