//! Zone names as one type: lower-case, without the root dot, every label
//! valid. A [`ZoneName`] is made once where a name enters (configuration,
//! `--zone`, an API path) and compared as it is everywhere after, so no
//! module needs to normalise again.

use std::borrow::Borrow;
use std::fmt;

use crate::snapshot::normalize_name;

/// A normalised zone name (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ZoneName(String);

impl ZoneName {
    /// Normalises `name` (`IPRBL.Example.NET.` → `iprbl.example.net`);
    /// `None` when it is not a valid domain name.
    pub fn parse(name: &str) -> Option<ZoneName> {
        normalize_name(name).map(ZoneName)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ZoneName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for ZoneName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for ZoneName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ZoneName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl From<ZoneName> for String {
    fn from(z: ZoneName) -> String {
        z.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spelling() {
        let z = ZoneName::parse("IPRBL.Example.NET.").unwrap();
        assert_eq!(z, "iprbl.example.net");
        assert_eq!(z.to_string(), "iprbl.example.net");
        assert_eq!(ZoneName::parse("iprbl.example.net"), Some(z));
        for bad in ["", ".", "a..b", "a b.example", "x.y/z"] {
            assert!(ZoneName::parse(bad).is_none(), "{bad:?}");
        }
    }
}
