//! rbldnsd data files: the parser (file text → [`DatasetData`]) and the
//! writer ([`DatasetData`] → file text that a stock rbldnsd serves with the
//! same answers).
//!
//! The reference is rbldnsd 1.0 (Debian `rbldnsd` 1.0~20210120, manual
//! page `rbldnsd(8)`); where the manual is vague the behaviour below was
//! checked against the daemon itself.
//!
//! # Syntax
//!
//! Lines are split at `\n`; a trailing `\r` and surrounding whitespace are
//! ignored. Empty lines and lines starting with `#` or `;` are comments,
//! except `#$`, `;$` and `:$`, which introduce directives like `$`.
//!
//! Directives (keywords in any case):
//! - `$SOA ttl origin mailbox serial refresh retry expire minttl`: only the
//!   first counts (later ones are not even read, as in rbldnsd). Serial `0`
//!   means "derive it from the data", ttl `0` "the default TTL"; both are
//!   kept as 0 in [`SoaSpec`](crate::data::SoaSpec).
//! - `$NS ttl name...`: the first line with an active name server counts;
//!   `-name` is a disabled name server; at most 32 names; ttl `0` → `None`.
//! - `$TTL ttl`: the last one counts; `0` → `None` (server default).
//! - `$MAXRANGE4 /len` or `$MAXRANGE4 count`: IPv4 entries covering more
//!   addresses are an error from then on; it can only be lowered.
//! - `$0`..`$9 text` and `$= text` (base template): resolved at parse
//!   time (details in `template.rs`); the first definition wins and
//!   applies to the whole file, also above it.
//! - `$TIMESTAMP` and `$DATASET` are refused (expiry and `combined`
//!   datasets are not supported); any other keyword is an error, except in
//!   the `#$`/`;$` forms, which stay comments (think `#$Id: ... $`).
//!
//! Times (`ttl`, `refresh`, ...) are seconds with an optional unit suffix
//! `s`, `m`, `h`, `d` or `w` (`35m`, `1w`); compound forms like `1h30m`
//! are rejected, as by rbldnsd.
//!
//! Values: a line `:A:TXT` sets the default for the entries below it
//! (ip4tset/ip6tset: the *first* such line is the value of every entry).
//! After an entry, `:A:TXT` gives both, `:A` the A value with the default
//! TXT, `:A:` the A value and no TXT, and plain text the TXT with the
//! default A. Text starting with `#` or `;` right after the entry is a
//! comment. `A` is `127.0.0.N`, or `N` alone for `127.0.0.N`; fadelist
//! refuses A values outside 127.0.0.0/8. Without any value an entry
//! answers `127.0.0.2` and no TXT. Texts longer than 255 bytes are refused
//! (rbldnsd would truncate them); invalid UTF-8 in texts is replaced.
//!
//! Entries: see `addr.rs` for the IPv4/IPv6 forms. `!entry` excludes (not in
//! ip4tset; ip6tset excludes single /128s). dnset entries are `name`,
//! `*.name` (the names below) and `.name` (both), lower-cased, trailing
//! dot dropped, labels of 1–63 bytes of `[a-z0-9_-]`, at most 253 bytes.
//!
//! # Output
//!
//! The returned data reads correctly with longest-prefix match for IP
//! entries (exclusions included: a listing inside a larger exclusion is
//! listed) and "exact entry, else longest wildcard" for names, merging the
//! answers of identical keys — `normalize.rs` explains how ip4set's
//! different rules are mapped onto that. Entries come sorted, without
//! repeated keys, and the answers are numbered in order of first use.
//! TXT templates are *normalized*: `$$` is a literal `$` and any other `$`
//! is the queried address or name ([`expand_txt`]).
//!
//! # Errors
//!
//! The first problem stops the parse with a [`ParseError`] naming the
//! line: everything rbldnsd would warn about and skip, plus what fadelist
//! refuses on purpose (A values outside 127/8, CIDRs with host bits set —
//! rbldnsd refuses them too unless run with `-e` —, lines over 64 KiB,
//! NUL bytes, conflicting repeats of a prefix in the trie types, names
//! that are not host names).

mod acl;
mod addr;
mod lex;
#[cfg(test)]
mod loader_tests;
mod normalize;
mod parse;
mod store;
mod template;
mod write;

use std::fmt;

use crate::data::DatasetData;

pub use acl::parse_acl;
pub use parse::Loader;

/// The rbldnsd dataset types fadelist reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DatasetType {
    /// `ip4set`: IPv4 addresses, CIDRs and ranges with per-entry values and exclusions.
    Ip4Set,
    /// `ip4tset`: a trivial set of single IPv4 addresses sharing one value.
    Ip4Tset,
    /// `ip4trie`: IPv4 CIDRs with per-entry values and exclusions, longest prefix wins.
    Ip4Trie,
    /// `ip6tset`: a trivial set of IPv6 /64 (or /128) prefixes sharing one value.
    Ip6Tset,
    /// `ip6trie`: IPv6 CIDRs with per-entry values and exclusions, longest prefix wins.
    Ip6Trie,
    /// `dnset`: domain names and wildcards with per-entry values and exclusions.
    Dnset,
}

impl DatasetType {
    /// Every type, in declaration order.
    pub const ALL: [DatasetType; 6] = [
        DatasetType::Ip4Set,
        DatasetType::Ip4Tset,
        DatasetType::Ip4Trie,
        DatasetType::Ip6Tset,
        DatasetType::Ip6Trie,
        DatasetType::Dnset,
    ];

    /// The name rbldnsd uses on its command line (`ip4set`, `dnset`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DatasetType::Ip4Set => "ip4set",
            DatasetType::Ip4Tset => "ip4tset",
            DatasetType::Ip4Trie => "ip4trie",
            DatasetType::Ip6Tset => "ip6tset",
            DatasetType::Ip6Trie => "ip6trie",
            DatasetType::Dnset => "dnset",
        }
    }

    /// The type with rbldnsd name `name` (case-insensitive), if fadelist
    /// reads it.
    pub fn from_name(name: &str) -> Option<DatasetType> {
        DatasetType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for DatasetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A data file error, with the 1-based line it was found on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number (0 when the error is not tied to a line).
    pub line: usize,
    /// What is wrong, in words an operator understands.
    pub message: String,
}

/// Parses one rbldnsd data file of type `ty`.
///
/// See the [module documentation](self) for the syntax and the shape of the
/// result. Never panics; the first invalid line is the error. To load a big
/// file, use [`Loader`]: the same parse, a block at a time, into the packed
/// [`Columns`](crate::data::Columns) that
/// [`Dataset::from_columns`](crate::dataset::Dataset::from_columns) freezes.
pub fn parse(ty: DatasetType, input: &[u8]) -> Result<DatasetData, ParseError> {
    parse::parse(ty, input)
}

/// Writes `data` as an rbldnsd data file of type `ty` that stock rbldnsd
/// answers from exactly as fadelist answers from `data`, and that
/// [`parse`] reads back (to `data` itself when `data` came from [`parse`]).
///
/// Fails with [`std::io::ErrorKind::InvalidInput`] when the type cannot
/// express the data: entries of another family; several A values or TXTs
/// in one answer for ip4trie, ip6trie and the tsets (ip4set and dnset write
/// them as repeated entries, which rbldnsd merges); more than one answer
/// or any exclusion in ip4tset, anything but /64 listings and /128
/// exclusions in ip6tset; A values outside 127.0.0.0/8; TXT templates
/// rbldnsd would alter (empty, over 255 bytes, surrounding whitespace,
/// line breaks, or a subject `$` directly before a digit or `=`); host
/// bits set; repeated prefixes in the trie types; invalid names.
pub fn write(
    ty: DatasetType,
    data: &DatasetData,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    write::write(ty, data, out)
}

/// Expands a normalized TXT template (as stored in
/// [`AnswerSpec::txt`](crate::data::AnswerSpec)) into `out`: `$$` becomes
/// `$`, any other `$` becomes `subject` (the queried IP address or
/// domain). rbldnsd also truncates the result to 255 bytes; that is left
/// to the caller.
pub fn expand_txt(template: &str, subject: &str, out: &mut String) {
    template::expand_normalized(template, subject, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        for t in DatasetType::ALL {
            assert_eq!(DatasetType::from_name(t.name()), Some(t));
            assert_eq!(t.to_string(), t.name());
        }
        assert_eq!(DatasetType::from_name("IP4SET"), Some(DatasetType::Ip4Set));
        assert_eq!(DatasetType::from_name("combined"), None);
        assert_eq!(DatasetType::from_name(""), None);
    }

    #[test]
    fn expand() {
        let mut out = String::new();
        expand_txt("Listed $, costs $$5", "1.2.3.4", &mut out);
        assert_eq!(out, "Listed 1.2.3.4, costs $5");
    }
}
