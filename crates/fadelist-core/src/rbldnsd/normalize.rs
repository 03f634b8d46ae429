//! Turning the entries of a data file into [`DatasetData`] whose plain
//! longest-prefix / exact-before-wildcard reading gives rbldnsd's answers.
//!
//! rbldnsd's dataset types do not all resolve overlapping entries the same
//! way (all observed on rbldnsd 1.0):
//!
//! - **ip4set** stores every entry as octet-aligned chunks (/8, /16, /24,
//!   /32; a /20 is sixteen /24s, a /25 is 128 /32s). A query is answered
//!   from the most specific *chunk level* that has any entry, and *all*
//!   entries at that level answer together (their A and TXT records are
//!   merged); one exclusion at that level excludes. So `1.2.3.0/25 :8` and
//!   `1.2.3.4 :3` both answer for 1.2.3.4, but `1.2.3.0/24 :6` does not.
//! - **ip4trie / ip6trie** answer with the single longest matching prefix;
//!   a repeated prefix is a warning and only the first one counts.
//! - **dnset** answers from the exact name if listed or excluded, otherwise
//!   from the longest matching wildcard; repeated names merge like ip4set.
//! - **ip4tset / ip6tset** have one answer for the whole dataset.
//!
//! fadelist's datasets use longest-prefix match with exclusions, merging
//! the values of identical keys. [`ip4set_levels`] rewrites ip4set data so
//! that this reading is exact: entries that overlap at the same chunk level
//! are split into disjoint blocks carrying the merged value (no effect on
//! typical files, where ranges and single addresses sit at different
//! levels). The writer uses the same routine the other way round.

use std::collections::HashMap;

use super::addr::range_to_cidrs;
use crate::data::{AnswerSpec, DomainEntry, DomainMatch, EntryValue};

/// Value marker for an exclusion in the working entry lists.
pub(super) const EXCL: u32 = u32::MAX;

/// Prefix length marking an entry removed during [`ip4set_levels`].
const REMOVED: u8 = u8::MAX;

/// An IP entry while it is being normalized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct IpEntry<T> {
    /// Network, host bits clear.
    pub net: T,
    /// Prefix length.
    pub len: u8,
    /// Answer index, or [`EXCL`].
    pub val: u32,
    /// 1-based line it came from (0 when not from a file).
    pub line: u32,
}

/// A dnset entry while it is being normalized (`Both` already split).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct DomEntry {
    /// Lower-case name, no trailing dot.
    pub name: String,
    /// False: the name itself; true: the names below it.
    pub wild: bool,
    /// Answer index, or [`EXCL`].
    pub val: u32,
}

/// A table of distinct answers that can also merge two of them.
#[derive(Debug, Default)]
pub(super) struct Answers {
    /// The answers; indices are what entries hold.
    pub specs: Vec<AnswerSpec>,
    ids: HashMap<AnswerSpec, u32>,
}

impl Answers {
    /// A table starting with `specs` (indices kept as they are).
    pub(super) fn from_specs(specs: Vec<AnswerSpec>) -> Answers {
        let mut ids = HashMap::with_capacity(specs.len());
        for (i, s) in specs.iter().enumerate() {
            ids.entry(s.clone()).or_insert(i as u32);
        }
        Answers { specs, ids }
    }

    /// The index of `spec`, added if new.
    pub(super) fn intern(&mut self, spec: AnswerSpec) -> u32 {
        if let Some(&id) = self.ids.get(&spec) {
            return id;
        }
        let id = self.specs.len() as u32;
        self.ids.insert(spec.clone(), id);
        self.specs.push(spec);
        id
    }

    /// The value of two entries for the same key: an exclusion wins, two
    /// listings answer with the records of both (duplicates dropped, as
    /// rbldnsd drops duplicate records from an answer).
    pub(super) fn union(&mut self, a: u32, b: u32) -> u32 {
        if a == EXCL || b == EXCL {
            return EXCL;
        }
        if a == b {
            return a;
        }
        let (Some(x), Some(y)) = (self.specs.get(a as usize), self.specs.get(b as usize)) else {
            // Unreachable with indices this module hands out; stay total.
            return a;
        };
        let mut spec = x.clone();
        for v in &y.a {
            if !spec.a.contains(v) {
                spec.a.push(*v);
            }
        }
        for t in &y.txt {
            if !spec.txt.contains(t) {
                spec.txt.push(t.clone());
            }
        }
        self.intern(spec)
    }
}

/// How values combine where several entries of one chunk level cover an
/// address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Combine {
    /// rbldnsd ip4set: every covering entry answers (parsing a file).
    Union,
    /// fadelist: the longest covering prefix answers (writing a file).
    MostSpecific,
}

/// ip4set chunk level of a prefix length: 8, 16, 24 or 32 (a /0 is stored
/// by rbldnsd as 256 /8s).
fn level(len: u8) -> u8 {
    len.clamp(1, 32).div_ceil(8) * 8
}

/// Sort key of an IPv4 entry: network, then prefix length.
fn key4(e: &IpEntry<u32>) -> u64 {
    (u64::from(e.net) << 8) | u64::from(e.len)
}

/// Rewrites IPv4 entries so that no two of them overlap at the same
/// ip4set chunk level: identical prefixes are merged, and nested prefixes
/// of one level are split into disjoint blocks whose value `combine`
/// decides. The result is sorted by (network, length) and has no
/// duplicate prefixes. Entries at different levels are left alone: there
/// the more specific one wins in both readings.
pub(super) fn ip4set_levels(
    mut v: Vec<IpEntry<u32>>,
    ans: &mut Answers,
    combine: Combine,
) -> Vec<IpEntry<u32>> {
    // Identical prefixes in file order, so merged answers list their
    // records in file order.
    // (Many published lists are sorted already: checking is cheap.)
    if !v.is_sorted_by_key(|e| (key4(e), e.line)) {
        v.sort_unstable_by_key(|e| (key4(e), e.line));
    }
    v.dedup_by(|later, kept| {
        let same = later.net == kept.net && later.len == kept.len;
        if same {
            kept.val = ans.union(kept.val, later.val);
        }
        same
    });

    // One open cluster per level: a top prefix and the prefixes of the
    // same level nested in it (CIDR blocks either nest or are disjoint, and
    // the sort puts a container before what it contains).
    let mut clusters: [(u64, Vec<usize>); 4] = Default::default();
    let mut pieces = Vec::new();
    for i in 0..v.len() {
        let lv = usize::from(level(v[i].len) / 8 - 1);
        let start = u64::from(v[i].net);
        let (end, members) = &mut clusters[lv];
        if !members.is_empty() && start <= *end {
            members.push(i);
            continue;
        }
        flatten(&mut v, members, ans, combine, &mut pieces);
        members.clear();
        members.push(i);
        *end = start + (1u64 << (32 - u32::from(v[i].len))) - 1;
    }
    for (_, members) in &clusters {
        flatten(&mut v, members, ans, combine, &mut pieces);
    }
    if pieces.is_empty() {
        return v;
    }
    // Merge the (few) pieces into the sorted survivors instead of sorting
    // everything again.
    v.retain(|e| e.len != REMOVED);
    pieces.sort_unstable_by_key(key4);
    let mut out = Vec::with_capacity(v.len() + pieces.len());
    let mut rest = pieces.into_iter().peekable();
    for e in v {
        while let Some(p) = rest.next_if(|p| key4(p) < key4(&e)) {
            out.push(p);
        }
        out.push(e);
    }
    out.extend(rest);
    out
}

/// Splits one cluster (`members[0]` contains the others, all of one
/// level) into disjoint blocks, appended to `out`; marks the members
/// removed. A cluster of one entry is left as it is.
fn flatten(
    v: &mut [IpEntry<u32>],
    members: &[usize],
    ans: &mut Answers,
    combine: Combine,
    out: &mut Vec<IpEntry<u32>>,
) {
    if members.len() < 2 {
        return;
    }
    let top = v[members[0]];
    let lv = u32::from(level(top.len));
    let chunk_bits = 32 - lv;
    // At most 256 chunks (a /0 at level 8), and at most 511 distinct
    // members, since identical prefixes were merged before.
    let chunks = 1u64 << (lv - u32::from(top.len));
    let value_at = |addr: u64, ans: &mut Answers| {
        let covering = members.iter().map(|&m| v[m]).filter(|e| {
            let first = u64::from(e.net);
            first <= addr && addr < first + (1u64 << (32 - u32::from(e.len)))
        });
        match combine {
            Combine::Union => {
                // File order, so merged answers list records as written.
                let mut c: Vec<IpEntry<u32>> = covering.collect();
                c.sort_by_key(|e| e.line);
                c.iter().fold(None, |acc, e| match acc {
                    None => Some(e.val),
                    Some(a) => Some(ans.union(a, e.val)),
                })
            }
            Combine::MostSpecific => covering.max_by_key(|e| e.len).map(|e| e.val),
        }
        .unwrap_or(top.val)
    };
    let mut run: Option<(u64, u64, u32)> = None;
    let emit = |(first, last, val): (u64, u64, u32), out: &mut Vec<IpEntry<u32>>| {
        range_to_cidrs(first as u32, last as u32, |net, len| {
            out.push(IpEntry {
                net,
                len,
                val,
                line: top.line,
            });
        });
    };
    for c in 0..chunks {
        let first = u64::from(top.net) + (c << chunk_bits);
        let last = first + (1u64 << chunk_bits) - 1;
        let val = value_at(first, ans);
        run = match run {
            Some((f, _, rv)) if rv == val => Some((f, last, rv)),
            Some(r) => {
                emit(r, out);
                Some((first, last, val))
            }
            None => Some((first, last, val)),
        };
    }
    if let Some(r) = run {
        emit(r, out);
    }
    for &m in members {
        v[m].len = REMOVED;
    }
}

/// Two entries of a trie dataset for the same prefix with different
/// values: `(first, second)` in file order.
pub(super) type Conflict<T> = (IpEntry<T>, IpEntry<T>);

/// Sorts trie entries and drops exact repeats. Two entries for the same
/// prefix with *different* values are an error (rbldnsd keeps the first
/// and warns); the conflict reported is the one found earliest in the file.
pub(super) fn dedup_trie<T: Copy + Ord>(v: &mut Vec<IpEntry<T>>) -> Result<(), Conflict<T>> {
    if !v.is_sorted_by_key(|e| (e.net, e.len, e.line)) {
        v.sort_unstable_by_key(|e| (e.net, e.len, e.line));
    }
    let mut conflict: Option<Conflict<T>> = None;
    v.dedup_by(|later, kept| {
        if later.net != kept.net || later.len != kept.len {
            return false;
        }
        if later.val != kept.val && conflict.is_none_or(|(_, c)| later.line < c.line) {
            conflict = Some((*kept, *later));
        }
        true
    });
    match conflict {
        Some(c) => Err(c),
        None => Ok(()),
    }
}

/// Sorts dnset entries, merges repeated keys (as ip4set does) and folds a
/// name's exact and wildcard entries into one `Both` entry when their
/// values agree.
pub(super) fn dnset(mut v: Vec<DomEntry>, ans: &mut Answers) -> Vec<DomainEntry> {
    v.sort_by(|a, b| (&a.name, a.wild).cmp(&(&b.name, b.wild)));
    v.dedup_by(|later, kept| {
        let same = later.wild == kept.wild && later.name == kept.name;
        if same {
            kept.val = ans.union(kept.val, later.val);
        }
        same
    });
    let mut out: Vec<DomainEntry> = Vec::with_capacity(v.len());
    for e in v {
        let value = entry_value(e.val);
        if let Some(last) = out.last_mut()
            && e.wild
            && last.matching == DomainMatch::Exact
            && last.value == value
            && last.name == e.name
        {
            last.matching = DomainMatch::Both;
            continue;
        }
        out.push(DomainEntry {
            name: e.name,
            matching: if e.wild {
                DomainMatch::Subdomains
            } else {
                DomainMatch::Exact
            },
            value,
        });
    }
    out
}

/// The [`EntryValue`] of a working value.
pub(super) fn entry_value(val: u32) -> EntryValue {
    if val == EXCL {
        EntryValue::Excluded
    } else {
        EntryValue::Listed(val)
    }
}

/// Keeps only the answers that entries use, numbered in order of first use
/// (IPv4, then IPv6, then domain entries). The loader numbers its columns
/// with `store::compact`; this form, on [`crate::data::DatasetData`],
/// checks it in tests.
#[cfg(test)]
pub(super) fn compact(data: &mut crate::data::DatasetData) {
    let old = std::mem::take(&mut data.answers);
    let mut new_id: Vec<u32> = vec![u32::MAX; old.len()];
    let mut answers = Vec::new();
    let mut remap = |v: &mut EntryValue| {
        if let EntryValue::Listed(i) = v {
            let Some(slot) = new_id.get_mut(*i as usize) else {
                return;
            };
            if *slot == u32::MAX {
                *slot = answers.len() as u32;
                answers.push(old[*i as usize].clone());
            }
            *i = *slot;
        }
    };
    data.ip4.iter_mut().for_each(|e| remap(&mut e.value));
    data.ip6.iter_mut().for_each(|e| remap(&mut e.value));
    data.domains.iter_mut().for_each(|e| remap(&mut e.value));
    data.answers = answers;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DatasetData;
    use std::net::Ipv4Addr;

    fn ip(s: &str) -> u32 {
        s.parse::<Ipv4Addr>().map(u32::from).unwrap_or(u32::MAX)
    }
    fn e(net: &str, len: u8, val: u32, line: u32) -> IpEntry<u32> {
        IpEntry {
            net: ip(net),
            len,
            val,
            line,
        }
    }
    fn spec(a: u8, txt: Option<&str>) -> AnswerSpec {
        AnswerSpec::new(Ipv4Addr::new(127, 0, 0, a), txt.map(String::from))
    }
    fn table(n: u8) -> Answers {
        Answers::from_specs(
            (0..n)
                .map(|i| spec(i + 2, Some(&format!("t{i}"))))
                .collect(),
        )
    }
    /// Longest-prefix lookup over normalized entries (what the dataset
    /// builder does), answering with the answer's A values.
    fn lookup(v: &[IpEntry<u32>], ans: &Answers, addr: &str) -> Option<Vec<u8>> {
        let a = ip(addr);
        let best = v
            .iter()
            .filter(|e| e.len <= 32 && a & super::super::addr::mask4(e.len) == e.net)
            .max_by_key(|e| e.len)?;
        if best.val == EXCL {
            return None;
        }
        Some(
            ans.specs[best.val as usize]
                .a
                .iter()
                .map(|x| x.octets()[3])
                .collect(),
        )
    }

    #[test]
    fn union_merges_records_and_exclusion_wins() {
        let mut ans =
            Answers::from_specs(vec![spec(3, Some("x")), spec(4, Some("x")), spec(3, None)]);
        let u = ans.union(0, 1);
        assert_eq!(ans.specs[u as usize].a.len(), 2);
        assert_eq!(ans.specs[u as usize].txt, vec!["x".to_string()]);
        assert_eq!(ans.union(0, 2), 0, "3/x plus 3/no-TXT is 3/x");
        assert_eq!(ans.union(0, EXCL), EXCL);
        assert_eq!(ans.union(EXCL, 1), EXCL);
        assert_eq!(ans.union(1, 1), 1);
        assert_eq!(ans.union(u, 0), u, "already contained");
    }

    #[test]
    fn ip4set_typical_data_is_untouched() {
        let mut ans = table(3);
        let input = vec![
            e("10.0.0.0", 8, 0, 1),
            e("1.2.3.4", 32, 1, 2),
            e("1.2.3.0", 24, 2, 3),
            e("1.2.0.0", 16, EXCL, 4),
        ];
        let out = ip4set_levels(input, &mut ans, Combine::Union);
        assert_eq!(
            out,
            vec![
                e("1.2.0.0", 16, EXCL, 4),
                e("1.2.3.0", 24, 2, 3),
                e("1.2.3.4", 32, 1, 2),
                e("10.0.0.0", 8, 0, 1),
            ]
        );
        assert_eq!(ans.specs.len(), 3);
    }

    #[test]
    fn ip4set_exclusion_covers_same_level_listings() {
        // Observed on rbldnsd: `!1.2.0.0/20` (sixteen /24 chunks) hides
        // `1.2.3.0/24` entirely, though the /24 is the longer prefix.
        let mut ans = table(1);
        let input = vec![
            e("1.2.0.0", 20, EXCL, 1),
            e("1.2.3.0", 24, 0, 2),
            e("1.2.3.4", 32, 0, 3),
        ];
        let out = ip4set_levels(input, &mut ans, Combine::Union);
        assert_eq!(out, vec![e("1.2.0.0", 20, EXCL, 1), e("1.2.3.4", 32, 0, 3)]);
        assert_eq!(lookup(&out, &ans, "1.2.3.5"), None);
        assert_eq!(lookup(&out, &ans, "1.2.3.4"), Some(vec![2]));
    }

    #[test]
    fn ip4set_same_level_overlaps_union() {
        // Observed on rbldnsd: 1.2.3.0/25 :8 and 1.2.3.4 :3 both answer for
        // 1.2.3.4; 1.2.3.0/24 :6 answers only outside the /25.
        let mut ans = table(0);
        let a3 = ans.intern(spec(3, Some("three")));
        let a8 = ans.intern(spec(8, Some("eight")));
        let a6 = ans.intern(spec(6, Some("six")));
        let input = vec![
            e("1.2.3.4", 32, a3, 1),
            e("1.2.3.0", 24, a6, 2),
            e("1.2.3.0", 25, a8, 3),
            e("1.2.3.9", 32, EXCL, 4),
        ];
        let out = ip4set_levels(input, &mut ans, Combine::Union);
        assert_eq!(lookup(&out, &ans, "1.2.3.4"), Some(vec![3, 8]));
        assert_eq!(lookup(&out, &ans, "1.2.3.5"), Some(vec![8]));
        assert_eq!(lookup(&out, &ans, "1.2.3.9"), None);
        assert_eq!(lookup(&out, &ans, "1.2.3.127"), Some(vec![8]));
        assert_eq!(lookup(&out, &ans, "1.2.3.128"), Some(vec![6]));
        assert_eq!(lookup(&out, &ans, "1.2.4.0"), None);
        // Disjoint blocks, no repeated prefixes, sorted.
        for w in out.windows(2) {
            assert!(key4(&w[0]) < key4(&w[1]), "{out:?}");
        }
        // 1.2.3.0/25 became 0/30, .4, .5/32, .6/31, .8/32 (excl), ... — the
        // covering /24 stays.
        assert!(out.contains(&e("1.2.3.0", 24, a6, 2)));
        assert!(out.iter().all(|x| x.len != 25));
    }

    #[test]
    fn ip4set_same_level_exclusion_wins_over_more_specific_listing() {
        let mut ans = table(1);
        let input = vec![
            e("1.2.3.0", 25, EXCL, 1),
            e("1.2.3.0", 26, 0, 2),
            e("1.2.3.128", 26, 0, 3),
        ];
        let out = ip4set_levels(input.clone(), &mut ans, Combine::Union);
        assert_eq!(
            out,
            vec![e("1.2.3.0", 25, EXCL, 1), e("1.2.3.128", 26, 0, 3)]
        );
        // Writing fadelist data, the more specific /26 must win instead.
        let out = ip4set_levels(input, &mut ans, Combine::MostSpecific);
        assert_eq!(
            out,
            vec![
                e("1.2.3.0", 26, 0, 1),
                e("1.2.3.64", 26, EXCL, 1),
                e("1.2.3.128", 26, 0, 3)
            ]
        );
    }

    #[test]
    fn ip4set_duplicates_merge_in_file_order() {
        let mut ans = table(3);
        let input = vec![
            e("1.2.3.4", 32, 1, 1),
            e("1.2.3.4", 32, 0, 2),
            e("1.2.3.4", 32, 1, 3),
        ];
        let out = ip4set_levels(input, &mut ans, Combine::Union);
        assert_eq!(out.len(), 1);
        let a: Vec<u8> = ans.specs[out[0].val as usize]
            .a
            .iter()
            .map(|x| x.octets()[3])
            .collect();
        assert_eq!(a, vec![3, 2]);
        let mut ans = table(1);
        let out = ip4set_levels(
            vec![e("1.2.3.4", 32, EXCL, 1), e("1.2.3.4", 32, 0, 2)],
            &mut ans,
            Combine::Union,
        );
        assert_eq!(out, vec![e("1.2.3.4", 32, EXCL, 1)]);
    }

    #[test]
    fn ip4set_levels_of_short_prefixes() {
        assert_eq!(level(0), 8);
        assert_eq!(level(1), 8);
        assert_eq!(level(8), 8);
        assert_eq!(level(9), 16);
        assert_eq!(level(24), 24);
        assert_eq!(level(25), 32);
        // /0 with a nested /8 of another value: both at level 8.
        let mut ans = table(2);
        let out = ip4set_levels(
            vec![e("0.0.0.0", 0, 0, 1), e("10.0.0.0", 8, 1, 2)],
            &mut ans,
            Combine::MostSpecific,
        );
        assert_eq!(lookup(&out, &ans, "10.1.2.3"), Some(vec![3]));
        assert_eq!(lookup(&out, &ans, "9.1.2.3"), Some(vec![2]));
        assert_eq!(lookup(&out, &ans, "255.1.2.3"), Some(vec![2]));
        assert!(out.iter().all(|x| x.len <= 8));
        assert_eq!(
            out.len(),
            8 + 1,
            "0/5 8/7 10/8 11/8 12/6 16/4 32/3 64/2 128/1"
        );
    }

    #[test]
    fn trie_dedup() {
        let mut v = vec![
            e("1.2.3.4", 32, 0, 1),
            e("1.2.3.0", 24, 1, 2),
            e("1.2.3.4", 32, 0, 3),
        ];
        assert_eq!(dedup_trie(&mut v), Ok(()));
        assert_eq!(v, vec![e("1.2.3.0", 24, 1, 2), e("1.2.3.4", 32, 0, 1)]);
        let mut v = vec![
            e("9.9.9.9", 32, 0, 1),
            e("1.2.3.4", 32, 0, 2),
            e("9.9.9.9", 32, 1, 8),
            e("1.2.3.4", 32, EXCL, 5),
        ];
        let (a, b) = dedup_trie(&mut v).unwrap_err();
        assert_eq!((a.line, b.line), (2, 5), "earliest conflict in the file");
    }

    #[test]
    fn dnset_merge_and_fold() {
        let d = |n: &str, wild: bool, val: u32| DomEntry {
            name: n.into(),
            wild,
            val,
        };
        let mut ans = table(3);
        let out = dnset(
            vec![
                d("b.com", false, 0),
                d("b.com", true, 0),
                d("a.com", false, 1),
                d("a.com", true, 0),
                d("a.com", false, 2),
                d("c.com", true, EXCL),
                d("c.com", true, 1),
            ],
            &mut ans,
        );
        let names: Vec<(&str, DomainMatch)> =
            out.iter().map(|x| (x.name.as_str(), x.matching)).collect();
        assert_eq!(
            names,
            vec![
                ("a.com", DomainMatch::Exact),
                ("a.com", DomainMatch::Subdomains),
                ("b.com", DomainMatch::Both),
                ("c.com", DomainMatch::Subdomains),
            ]
        );
        let EntryValue::Listed(i) = out[0].value else {
            panic!("listed")
        };
        assert_eq!(ans.specs[i as usize].a.len(), 2);
        assert_eq!(out[1].value, EntryValue::Listed(0));
        assert_eq!(out[3].value, EntryValue::Excluded);
    }

    #[test]
    fn compact_numbers_by_first_use() {
        let mut d = DatasetData {
            answers: vec![spec(2, None), spec(3, None), spec(4, None)],
            ip4: vec![
                crate::data::Ip4Entry {
                    net: 1,
                    len: 32,
                    value: EntryValue::Listed(2),
                },
                crate::data::Ip4Entry {
                    net: 2,
                    len: 32,
                    value: EntryValue::Excluded,
                },
                crate::data::Ip4Entry {
                    net: 3,
                    len: 32,
                    value: EntryValue::Listed(0),
                },
                crate::data::Ip4Entry {
                    net: 4,
                    len: 32,
                    value: EntryValue::Listed(2),
                },
            ],
            ..Default::default()
        };
        compact(&mut d);
        assert_eq!(d.answers, vec![spec(4, None), spec(2, None)]);
        let vals: Vec<EntryValue> = d.ip4.iter().map(|x| x.value).collect();
        assert_eq!(
            vals,
            vec![
                EntryValue::Listed(0),
                EntryValue::Excluded,
                EntryValue::Listed(1),
                EntryValue::Listed(0)
            ]
        );
    }
}
