//! rbldnsd data files: the parser (file text → [`DatasetData`]) and the
//! writer ([`DatasetData`] → file text that a stock rbldnsd serves with the
//! same answers).
//!
//! HELPER-OWNED: the parser and writer are being written in this folder.

use crate::data::DatasetData;

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
pub fn parse(_ty: DatasetType, _input: &[u8]) -> Result<DatasetData, ParseError> {
    unimplemented!("helper")
}

/// Writes `data` as an rbldnsd file of type `ty`.
pub fn write(
    _ty: DatasetType,
    _data: &DatasetData,
    _out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    unimplemented!("helper")
}
