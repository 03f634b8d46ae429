-- Source networks per content key: the joe-job defence.
--
-- A spammer can plant any domain or address in its mail. A content key (a
-- domain or URL address in the `domain` feed's zone) is listed only once
-- the reports naming it came from enough distinct source networks (IPv4
-- /24, IPv6 /48 of the reports' source IPs, which the reporters' own
-- servers recorded and the spammer cannot choose). One row per key and
-- network, with the last time a report from that network named the key;
-- the writer counts the recent rows when a report arrives.
CREATE TABLE key_sources (
    zone TEXT NOT NULL,
    key  TEXT NOT NULL,
    net  TEXT NOT NULL,
    at   INTEGER NOT NULL,
    PRIMARY KEY (zone, key, net)
) WITHOUT ROWID;
