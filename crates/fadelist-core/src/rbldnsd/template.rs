//! TXT templates: rbldnsd's `$` language and fadelist's normalized form.
//!
//! In a data file, rbldnsd expands a TXT template *at query time*:
//!
//! | in the file | becomes                                                    |
//! |-------------|------------------------------------------------------------|
//! | `$$`        | a literal `$`                                              |
//! | `$0`..`$9`  | the text of that substitution variable, verbatim (a `$` in it stays a `$`); an undefined variable stays `$n` literally |
//! | `$=`        | the entry's own text, verbatim — or, when the entry has no text, the queried subject |
//! | `$` (other) | the queried IP address or domain name (the "subject")      |
//!
//! With a base template (`$= text` line), every entry's TXT is the base
//! template, whose `$=` stands for the entry's text; an entry text starting
//! with `=` bypasses the base template (the `=` is dropped). Variables and
//! the base template are dataset-wide and the *first* definition wins, so
//! an entry may use a variable defined further down the file. All of this
//! was checked against rbldnsd 1.0 itself.
//!
//! fadelist resolves variables and the base template at parse time and
//! stores the result in a *normalized* template, where only two sequences
//! are special: `$$` is a literal `$`, and any other `$` is the subject.
//! [`expand_txt`](super::expand_txt) implements that form.

use super::lex::quote;

/// A TXT text as written for an entry or a default line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct RawText {
    /// The text, trimmed, without a leading `=`.
    pub text: String,
    /// True when the text started with `=`: it bypasses the base template.
    pub bypass: bool,
}

/// The longest TXT text rbldnsd keeps (it truncates longer ones, with a
/// warning, when loading).
pub(super) const MAX_TXT: usize = 255;

impl RawText {
    /// The text of a value (already trimmed, non-empty); an error when
    /// rbldnsd would truncate it.
    pub(super) fn new(s: &[u8]) -> Result<RawText, String> {
        if s.len() > MAX_TXT {
            return Err(format!(
                "TXT text is {} bytes long; rbldnsd truncates TXT to {MAX_TXT} bytes: {}",
                s.len(),
                quote(s)
            ));
        }
        let (bypass, body) = match s.strip_prefix(b"=") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        Ok(RawText {
            text: String::from_utf8_lossy(body).into_owned(),
            bypass,
        })
    }
}

/// Dataset-wide substitution state: `$0`..`$9` and the base template `$=`.
#[derive(Clone, Debug, Default)]
pub(super) struct Substitutions {
    /// `$0`..`$9`, first definition.
    pub vars: [Option<String>; 10],
    /// The base template, first definition.
    pub base: Option<String>,
}

impl Substitutions {
    /// The normalized TXT template of an entry whose text is `txt`
    /// (`None`: no text at all), or `None` when it has no TXT record.
    pub(super) fn resolve(&self, txt: Option<&RawText>) -> Option<String> {
        match (&self.base, txt) {
            // With a base template even a text-less entry gets a TXT:
            // `$=` then stands for the subject.
            (Some(base), None) => Some(self.expand(base, None)),
            (Some(base), Some(t)) if !t.bypass => Some(self.expand(base, Some(&t.text))),
            (_, Some(t)) if t.text.is_empty() => None,
            (_, Some(t)) => Some(self.expand(&t.text, Some(&t.text))),
            (None, None) => None,
        }
    }

    /// Expands `template` into normalized form; `own` is what `$=` means.
    fn expand(&self, template: &str, own: Option<&str>) -> String {
        let mut out = String::with_capacity(template.len() + 8);
        let mut rest = template;
        while let Some(p) = rest.find('$') {
            out.push_str(&rest[..p]);
            let after = &rest[p + 1..];
            match after.as_bytes().first() {
                Some(b'$') => {
                    out.push_str("$$");
                    rest = &after[1..];
                }
                Some(&d @ b'0'..=b'9') => {
                    match &self.vars[usize::from(d - b'0')] {
                        Some(v) => push_escaped(&mut out, v),
                        // rbldnsd leaves an undefined `$n` as it is.
                        None => {
                            out.push_str("$$");
                            out.push(char::from(d));
                        }
                    }
                    rest = &after[1..];
                }
                Some(b'=') => {
                    match own {
                        Some(t) => push_escaped(&mut out, t),
                        None => out.push('$'),
                    }
                    rest = &after[1..];
                }
                _ => {
                    out.push('$');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// Appends `s` with every `$` doubled, so it reads literally.
fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        if c == '$' {
            out.push('$');
        }
        out.push(c);
    }
}

/// Expands a normalized template: `$$` → `$`, other `$` → `subject`.
pub(super) fn expand_normalized(template: &str, subject: &str, out: &mut String) {
    let mut rest = template;
    while let Some(p) = rest.find('$') {
        out.push_str(&rest[..p]);
        if rest[p + 1..].starts_with('$') {
            out.push('$');
            rest = &rest[p + 2..];
        } else {
            out.push_str(subject);
            rest = &rest[p + 1..];
        }
    }
    out.push_str(rest);
}

/// Converts a normalized template into text that rbldnsd expands the same
/// way when written after `:A:` in a data file. `Err` explains what
/// rbldnsd's syntax cannot express.
pub(super) fn to_file_text(t: &str) -> Result<String, String> {
    if t.is_empty() {
        return Err("empty TXT template (an answer without TXT has no template at all)".into());
    }
    if t.len() > MAX_TXT {
        return Err(format!(
            "TXT template is {} bytes, more than {MAX_TXT}",
            t.len()
        ));
    }
    if let Some(c) = t.chars().find(|&c| matches!(c, '\n' | '\r' | '\0')) {
        return Err(format!("TXT template contains the control character {c:?}"));
    }
    let ws = |c: char| matches!(c, ' ' | '\t' | '\x0b' | '\x0c');
    if t.starts_with(ws) || t.ends_with(ws) {
        return Err("TXT template starts or ends with whitespace, which rbldnsd strips".into());
    }
    let b = t.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            match b.get(i + 1) {
                Some(b'$') => i += 1,
                Some(c @ (b'0'..=b'9' | b'=')) => {
                    return Err(format!(
                        "TXT template has the subject `$` right before {:?}; rbldnsd would \
                         read `${}` as a substitution",
                        char::from(*c),
                        char::from(*c)
                    ));
                }
                _ => {}
            }
        }
        i += 1;
    }
    // A leading `=` would be taken as "bypass the base template" and dropped.
    Ok(if t.starts_with('=') {
        format!("={t}")
    } else {
        t.to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> RawText {
        RawText::new(s.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }
    fn subs(vars: &[(usize, &str)], base: Option<&str>) -> Substitutions {
        let mut s = Substitutions::default();
        for &(i, v) in vars {
            s.vars[i] = Some(v.into());
        }
        s.base = base.map(String::from);
        s
    }
    fn expanded(t: &str, subject: &str) -> String {
        let mut out = String::new();
        expand_normalized(t, subject, &mut out);
        out
    }

    #[test]
    fn raw_text() {
        assert_eq!(
            raw("abc"),
            RawText {
                text: "abc".into(),
                bypass: false
            }
        );
        assert_eq!(
            raw("=abc"),
            RawText {
                text: "abc".into(),
                bypass: true
            }
        );
        assert_eq!(
            raw("=="),
            RawText {
                text: "=".into(),
                bypass: true
            }
        );
        assert!(RawText::new(&[b'x'; 255]).is_ok());
        let e = RawText::new(&[b'x'; 256]).unwrap_err();
        assert!(e.contains("256 bytes") && e.contains("255"), "{e}");
        assert_eq!(
            RawText::new(b"\xff ok").map(|t| t.text),
            Ok("\u{fffd} ok".into())
        );
    }

    /// The cases below reproduce answers observed from rbldnsd 1.0 (query
    /// 1.0.0.N, subject printed as S).
    #[test]
    fn rbldnsd_expansion_rules() {
        let s = subs(&[(1, "one[$]"), (2, "two[$1]"), (4, "four")], None);
        let r = |t: &str| s.resolve(Some(&raw(t))).map(|t| expanded(&t, "S"));
        assert_eq!(r("a$$b"), Some("a$b".into()));
        assert_eq!(r("a$1b"), Some("aone[$]b".into()));
        assert_eq!(r("a$2b"), Some("atwo[$1]b".into()));
        assert_eq!(r("a$3b"), Some("a$3b".into()));
        assert_eq!(r("a$4b"), Some("afourb".into()));
        assert_eq!(r("a$xb $"), Some("aSxb S".into()));
        assert_eq!(r("a$$$b $$$$ $="), Some("a$Sb $$ a$$$b $$$$ $=".into()));
        assert_eq!(r("=a$=b"), Some("aa$=bb".into()));
        assert_eq!(r("a$=b"), Some("aa$=bb".into()));
        assert_eq!(r("=eq"), Some("eq".into()));
        assert_eq!(r("="), None);
        assert_eq!(s.resolve(None), None);
    }

    #[test]
    fn base_template() {
        let s = subs(&[(1, "a")], Some("BASE[$=] ($) $1 $$"));
        let r = |t: Option<&str>| s.resolve(t.map(raw).as_ref()).map(|t| expanded(&t, "S"));
        assert_eq!(r(Some("[$1]")), Some("BASE[[$1]] (S) a $".into()));
        assert_eq!(r(None), Some("BASE[S] (S) a $".into()));
        assert_eq!(r(Some("r123")), Some("BASE[r123] (S) a $".into()));
        assert_eq!(r(Some("=See other $")), Some("See other S".into()));
        assert_eq!(r(Some("x$=y")), Some("BASE[x$=y] (S) a $".into()));
        assert_eq!(r(Some("=")), None);
        assert_eq!(r(Some("==x")), Some("=x".into()));
    }

    #[test]
    fn normalized_form() {
        let s = subs(&[(1, "v$")], None);
        assert_eq!(
            s.resolve(Some(&raw("x $1 $$ $"))),
            Some("x v$$ $$ $".into())
        );
        assert_eq!(expanded("$$$", "S"), "$S");
        assert_eq!(expanded("no dollar", "S"), "no dollar");
        assert_eq!(expanded("$", "1.2.3.4"), "1.2.3.4");
        assert_eq!(expanded("end$$", "S"), "end$");
    }

    #[test]
    fn file_text() {
        assert_eq!(
            to_file_text("Listed $, see x?$"),
            Ok("Listed $, see x?$".into())
        );
        assert_eq!(to_file_text("cost $$5"), Ok("cost $$5".into()));
        assert_eq!(to_file_text("=x"), Ok("==x".into()));
        assert_eq!(to_file_text(":x #y ;z"), Ok(":x #y ;z".into()));
        assert!(to_file_text("").unwrap_err().contains("empty"));
        assert!(to_file_text(" x").unwrap_err().contains("whitespace"));
        assert!(to_file_text("x\t").unwrap_err().contains("whitespace"));
        assert!(to_file_text("a\nb").unwrap_err().contains("control"));
        assert!(to_file_text("$1").unwrap_err().contains("substitution"));
        assert!(to_file_text("$=").unwrap_err().contains("substitution"));
        assert!(to_file_text(&"x".repeat(256)).unwrap_err().contains("256"));
        // What the writer emits reads back to the same normalized template.
        for t in ["a $ b", "$$1", "=x", "x$$$y", "$", "100% $$"] {
            let file = to_file_text(t).unwrap_or_default();
            let back = Substitutions::default().resolve(Some(&raw(&file)));
            assert_eq!(back.as_deref(), Some(t), "{t}");
        }
    }
}
