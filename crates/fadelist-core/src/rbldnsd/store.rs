//! Where the parser keeps entries, and how they become [`Columns`].
//!
//! Big data files are millions of IPv4 /32s or of plain domain names, so
//! those are stored packed while parsing:
//!
//! - a /32 is its address alone (4 bytes) while every /32 has the same
//!   value — the usual big list on its default value —, and otherwise one
//!   `u64`, `(address << 32) | position`, with its value in a column by
//!   position. The position among the file's /32s stands for its line (a
//!   [`LineMap`] gives the line back when a message needs it); sorting
//!   those integers puts repeats of an address next to each other in file
//!   order, as the old sort by (prefix, line) did;
//! - a domain is its lookup key (reversed, length-prefixed labels, lower
//!   case) appended to one arena, plus 12 bytes.
//!
//! Shorter IPv4 prefixes and IPv6 entries stay [`IpEntry`]s with their
//! line, and go through the same normalization routines as before
//! (`normalize.rs`); the /32 column only takes part in ip4set's level
//! splitting where a /25–/31 covers some of its addresses.
//!
//! Everything here reproduces the old pipeline (vectors of `IpEntry` and
//! `DomEntry`, sorted, merged, then numbered by `normalize::compact`)
//! exactly: same merges in the same order, same answer numbering.

use super::normalize::{self, Answers, Combine, Conflict, IpEntry};
use crate::data::{AnswerSpec, Columns, DomainMatch, Exact4, NameRef};

/// The line of each /32 by position: lines grow with positions, so only
/// the positions where `line - position` changes are stored (a few for a
/// plain list; one per entry at worst).
#[derive(Debug, Default)]
pub(super) struct LineMap {
    marks: Vec<(u32, u32)>,
}

impl LineMap {
    #[inline]
    fn note(&mut self, pos: u32, line: u32) {
        if let Some(&(p0, l0)) = self.marks.last()
            && l0.wrapping_add(pos - p0) == line
        {
            return;
        }
        self.marks.push((pos, line));
    }

    fn line_of(&self, pos: u32) -> u32 {
        let k = self.marks.partition_point(|m| m.0 <= pos);
        match k.checked_sub(1).and_then(|k| self.marks.get(k)) {
            Some(&(p0, l0)) => l0.wrapping_add(pos - p0),
            None => 0,
        }
    }
}

/// How repeated IPv4 prefixes combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum V4Mode {
    /// ip4set: values merge, and prefixes of one chunk level are split
    /// into disjoint blocks ([`normalize::ip4set_levels`]).
    Set,
    /// ip4trie and ip4tset: a repeat with another value is an error
    /// ([`normalize::dedup_trie`]).
    Trie,
}

/// The /32s of a file, in file order (a /32's position is its index).
#[derive(Debug)]
enum Column {
    /// Every /32 so far has the same value (`None`: there is none yet).
    Uniform { addrs: Vec<u32>, val: Option<u32> },
    /// `(address << 32) | position`, and the values by position.
    Packed { keys: Vec<u64>, vals: Vec<u32> },
}

/// The IPv4 entries of a file.
#[derive(Debug)]
pub(super) struct V4Store {
    exact: Column,
    lines: LineMap,
    /// Every shorter prefix.
    other: Vec<IpEntry<u32>>,
    /// Room to reserve for /32s.
    hint: usize,
}

impl Default for V4Store {
    fn default() -> Self {
        V4Store::with_size(0)
    }
}

impl V4Store {
    /// A store for a file of about `size` bytes (room for a /32 per 8
    /// bytes: memory reserved, not touched, until used).
    pub(super) fn with_size(size: usize) -> V4Store {
        let hint = size / 8 + 16;
        V4Store {
            exact: Column::Uniform {
                addrs: Vec::with_capacity(hint),
                val: None,
            },
            lines: LineMap::default(),
            other: Vec::new(),
            hint,
        }
    }

    #[inline]
    pub(super) fn push(&mut self, net: u32, len: u8, val: u32, line: u32) -> Result<(), String> {
        if len < 32 {
            self.other.push(IpEntry {
                net,
                len,
                val,
                line,
            });
            Ok(())
        } else {
            self.push32(net, val, line)
        }
    }

    /// A /32.
    #[inline(always)]
    pub(super) fn push32(&mut self, net: u32, val: u32, line: u32) -> Result<(), String> {
        let n = match &self.exact {
            Column::Uniform { addrs, .. } => addrs.len(),
            Column::Packed { keys, .. } => keys.len(),
        };
        let Ok(pos) = u32::try_from(n) else {
            return Err("more than 4,294,967,295 single addresses in one file".into());
        };
        match &mut self.exact {
            Column::Uniform { addrs, val: v } if v.is_none_or(|v| v == val) => {
                *v = Some(val);
                addrs.push(net);
            }
            Column::Uniform { addrs, val: v } => {
                // A second value: positions and values are kept from now on.
                let first = v.unwrap_or(val);
                let cap = self.hint.max(n + 1);
                let mut keys = Vec::with_capacity(cap);
                keys.extend(
                    addrs
                        .iter()
                        .enumerate()
                        .map(|(i, &a)| (u64::from(a) << 32) | i as u64),
                );
                keys.push((u64::from(net) << 32) | u64::from(pos));
                let mut vals = Vec::with_capacity(cap);
                vals.resize(n, first);
                vals.push(val);
                self.exact = Column::Packed { keys, vals };
            }
            Column::Packed { keys, vals } => {
                keys.push((u64::from(net) << 32) | u64::from(pos));
                vals.push(val);
            }
        }
        self.lines.note(pos, line);
        Ok(())
    }

    /// Maps the raw values with `map`, sorts, merges repeats and (ip4set)
    /// splits same-level overlaps, as the old pipeline did on one vector.
    /// Returns the /32 column and the shorter prefixes, both sorted by
    /// (network, length), with no repeats.
    pub(super) fn finish(
        self,
        mode: V4Mode,
        map: impl Fn(u32) -> u32,
        ans: &mut Answers,
    ) -> Result<(Exact4, Vec<IpEntry<u32>>), Conflict<u32>> {
        let V4Store {
            exact,
            lines,
            mut other,
            ..
        } = self;
        for e in &mut other {
            e.val = map(e.val);
        }
        let mut exact = match exact {
            Column::Uniform { mut addrs, val } => {
                let val = val.map(&map).unwrap_or(0);
                if mode == V4Mode::Set {
                    // Positions are indices until the sort.
                    let ranges = level32_ranges(&other);
                    if !ranges.is_empty() {
                        let mut k = 0;
                        let mut w = 0;
                        for r in 0..addrs.len() {
                            let net = addrs[r];
                            if covered(&ranges, &mut k, net) {
                                other.push(IpEntry {
                                    net,
                                    len: 32,
                                    val,
                                    line: lines.line_of(r as u32),
                                });
                            } else {
                                addrs[w] = net;
                                w += 1;
                            }
                        }
                        addrs.truncate(w);
                    }
                }
                // Many published lists are sorted already: checking is cheap.
                if !addrs.is_sorted() {
                    sort_keys(&mut addrs, |a| (a >> 16) as usize);
                }
                // Repeats of one value merge into that value.
                addrs.dedup();
                Exact4::Uniform { keys: addrs, val }
            }
            Column::Packed { mut keys, mut vals } => {
                vals.iter_mut().for_each(|v| *v = map(*v));
                if !keys.is_sorted() {
                    sort_keys(&mut keys, |k| (k >> 48) as usize);
                }
                let conflict = dedup_packed(&mut keys, &mut vals, &lines, mode, ans);
                if let Some(c) = conflict {
                    // Reported with the other prefixes' conflicts below.
                    if let Err(d) = normalize::dedup_trie(&mut other)
                        && d.1.line < c.1.line
                    {
                        return Err(d);
                    }
                    return Err(c);
                }
                if mode == V4Mode::Set {
                    let ranges = level32_ranges(&other);
                    if !ranges.is_empty() {
                        let mut k = 0;
                        keys.retain(|&e| {
                            let net = (e >> 32) as u32;
                            if covered(&ranges, &mut k, net) {
                                let pos = e as u32;
                                other.push(IpEntry {
                                    net,
                                    len: 32,
                                    val: vals[pos as usize],
                                    line: lines.line_of(pos),
                                });
                                false
                            } else {
                                true
                            }
                        });
                    }
                }
                // Positions are done with: the column now holds the values.
                for e in &mut keys {
                    *e = (*e & !0xffff_ffff) | u64::from(vals[*e as u32 as usize]);
                }
                Exact4::Packed(keys)
            }
        };
        drop(lines);
        match mode {
            V4Mode::Trie => normalize::dedup_trie(&mut other)?,
            V4Mode::Set => other = normalize::ip4set_levels(other, ans, Combine::Union),
        }
        // ip4set's level splitting may have cut /32s out of a /25–/31.
        if other.iter().any(|e| e.len == 32) {
            let extra: Vec<(u32, u32)> = other
                .iter()
                .filter(|e| e.len == 32)
                .map(|e| (e.net, e.val))
                .collect();
            other.retain(|e| e.len != 32);
            exact = match exact {
                Exact4::Uniform { mut keys, val } if extra.iter().all(|e| e.1 == val) => {
                    let extra: Vec<u32> = extra.iter().map(|e| e.0).collect();
                    merge_sorted(&mut keys, &extra);
                    Exact4::Uniform { keys, val }
                }
                Exact4::Uniform { keys, val } => {
                    let mut packed: Vec<u64> = Vec::with_capacity(keys.len() + extra.len());
                    packed.extend(keys.iter().map(|&k| (u64::from(k) << 32) | u64::from(val)));
                    drop(keys);
                    let extra: Vec<u64> = extra
                        .iter()
                        .map(|&(n, v)| (u64::from(n) << 32) | u64::from(v))
                        .collect();
                    merge_sorted(&mut packed, &extra);
                    Exact4::Packed(packed)
                }
                Exact4::Packed(mut packed) => {
                    let extra: Vec<u64> = extra
                        .iter()
                        .map(|&(n, v)| (u64::from(n) << 32) | u64::from(v))
                        .collect();
                    merge_sorted(&mut packed, &extra);
                    Exact4::Packed(packed)
                }
            };
        }
        Ok((exact, other))
    }
}

/// Sorts /32 keys (addresses, or `(address << 32) | position`) by their
/// top 16 address bits in place — one counting pass, one pass moving each
/// key once into its bucket — then each bucket, a few dozen keys in a big
/// list, on its own: about a fifth of the instructions of a comparison
/// sort of a million keys, and no second buffer. `top` gives a key's top
/// 16 address bits.
fn sort_keys<T: Copy + Ord>(v: &mut [T], top: impl Fn(T) -> usize) {
    const BUCKETS: usize = 1 << 16;
    if v.len() < BUCKETS {
        v.sort_unstable();
        return;
    }
    let mut end = vec![0usize; BUCKETS];
    for &a in v.iter() {
        end[top(a)] += 1;
    }
    let mut next = vec![0usize; BUCKETS];
    let mut total = 0;
    for (n, e) in next.iter_mut().zip(end.iter_mut()) {
        *n = total;
        total += *e;
        *e = total;
    }
    // Each bucket fills from its start; a key found in the wrong bucket is
    // swapped into the next free place of its own.
    for b in 0..BUCKETS {
        while next[b] < end[b] {
            let mut a = v[next[b]];
            loop {
                let d = top(a);
                if d == b {
                    break;
                }
                std::mem::swap(&mut a, &mut v[next[d]]);
                next[d] += 1;
            }
            v[next[b]] = a;
            next[b] += 1;
        }
    }
    let mut start = 0;
    for &e in &end {
        v[start..e].sort_unstable();
        start = e;
    }
}

/// Merges repeats of an address (`keys` sorted: file order within one
/// address), as the old sort by (prefix, line) and `dedup_by` did: ip4set
/// unions the values in file order; the trie types keep the first and
/// return the repeat with another value that comes earliest in the file.
fn dedup_packed(
    keys: &mut Vec<u64>,
    vals: &mut [u32],
    lines: &LineMap,
    mode: V4Mode,
    ans: &mut Answers,
) -> Option<Conflict<u32>> {
    let entry = |e: u64, val: u32| IpEntry {
        net: (e >> 32) as u32,
        len: 32,
        val,
        line: lines.line_of(e as u32),
    };
    let mut conflict: Option<Conflict<u32>> = None;
    let n = keys.len();
    let (mut r, mut w) = (0, 0);
    while r < n {
        let first = keys[r];
        let kept = vals[first as u32 as usize];
        let mut val = kept;
        r += 1;
        while r < n && keys[r] >> 32 == first >> 32 {
            let later = keys[r];
            let v = vals[later as u32 as usize];
            match mode {
                V4Mode::Set => {
                    if v != val {
                        val = ans.union(val, v);
                    }
                }
                V4Mode::Trie => {
                    if v != kept {
                        let line = lines.line_of(later as u32);
                        if conflict.is_none_or(|(_, c)| line < c.line) {
                            conflict = Some((entry(first, kept), entry(later, v)));
                        }
                    }
                }
            }
            r += 1;
        }
        vals[first as u32 as usize] = val;
        keys[w] = first;
        w += 1;
    }
    keys.truncate(w);
    conflict
}

/// The address ranges of the /25–/31 prefixes in `other`, merged: ip4set
/// stores those as /32 chunks, so the /32s inside them share their chunk
/// level and leave the column for `other`, where
/// [`normalize::ip4set_levels`] splits the overlap (as it did when every
/// entry was in one vector).
fn level32_ranges(other: &[IpEntry<u32>]) -> Vec<(u32, u32)> {
    let mut covered: Vec<(u32, u32)> = other
        .iter()
        .filter(|e| (25..32).contains(&e.len))
        .map(|e| (e.net, e.net | (u32::MAX >> e.len)))
        .collect();
    covered.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(covered.len());
    for (a, b) in covered {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

/// True when `net` is in one of the sorted, disjoint `ranges`. `k` is a
/// cursor that makes ascending calls cheap; any order is answered right
/// (a `net` below the cursor's range searches again).
fn covered(ranges: &[(u32, u32)], k: &mut usize, net: u32) -> bool {
    if *k >= ranges.len() || ranges[*k].0 > net {
        *k = ranges.partition_point(|r| r.1 < net);
    }
    while *k < ranges.len() && ranges[*k].1 < net {
        *k += 1;
    }
    *k < ranges.len() && ranges[*k].0 <= net
}

/// Merges the sorted `extra` into the sorted `v` in place (no address is
/// in both).
fn merge_sorted<T: Copy + Ord + Default>(v: &mut Vec<T>, extra: &[T]) {
    let (mut i, mut j) = (v.len(), extra.len());
    v.resize(i + j, T::default());
    let mut k = i + j;
    while j > 0 {
        k -= 1;
        if i > 0 && v[i - 1] > extra[j - 1] {
            v[k] = v[i - 1];
            i -= 1;
        } else {
            v[k] = extra[j - 1];
            j -= 1;
        }
    }
}

/// A name byte as stored in a key: letters lower-cased, digits, `-` and
/// `_` kept, anything else 0 (not a name).
static NAME_BYTE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = match c {
            b'A'..=b'Z' => c + 32,
            b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => c,
            _ => 0,
        };
        b += 1;
    }
    t
};

/// [`NAME_BYTE`] of `b`.
#[inline(always)]
pub(super) fn name_byte(b: u8) -> u8 {
    NAME_BYTE[usize::from(b)]
}

/// One domain entry while parsing: its key in the arena, the half of a
/// `.name` entry it is, and its value.
#[derive(Clone, Copy, Debug)]
struct NameEntry {
    off: u32,
    len: u8,
    wild: bool,
    val: u32,
}

/// The domain entries of a file.
#[derive(Debug, Default)]
pub(super) struct NameStore {
    arena: Vec<u8>,
    entries: Vec<NameEntry>,
}

impl NameStore {
    /// A store for a file of about `size` bytes.
    pub(super) fn with_size(size: usize) -> NameStore {
        NameStore {
            arena: Vec::with_capacity(size),
            entries: Vec::with_capacity(size / 8 + 16),
        }
    }

    /// Stores the lookup key of `name` (no trailing dot, any case) when it
    /// is a name `check_name` accepts — labels of 1–63 bytes of letters,
    /// digits, `-` and `_`, at most 253 bytes —, else `None` (nothing
    /// stored): its offset and length.
    pub(super) fn add_key(&mut self, name: &[u8]) -> Result<Option<(u32, u8)>, String> {
        let Ok(off) = u32::try_from(self.arena.len()) else {
            return Err("more than 4 GiB of domain names in one file".into());
        };
        if name.is_empty() || name.len() > 253 {
            return Ok(None);
        }
        let start = self.arena.len();
        let mut end = name.len();
        loop {
            let from = name[..end]
                .iter()
                .rposition(|&b| b == b'.')
                .map_or(0, |p| p + 1);
            let label = &name[from..end];
            if label.is_empty() || label.len() > 63 {
                self.arena.truncate(start);
                return Ok(None);
            }
            self.arena.push(label.len() as u8);
            self.arena
                .extend(label.iter().map(|&b| NAME_BYTE[usize::from(b)]));
            if from == 0 {
                break;
            }
            end = from - 1;
        }
        // A byte outside the name alphabet was stored as 0 (length bytes
        // are never 0). A plain loop: `contains` is a memchr, slow to start
        // for a dozen bytes.
        if self.arena[start..].iter().fold(u8::MAX, |m, &b| m.min(b)) == 0 {
            self.arena.truncate(start);
            return Ok(None);
        }
        Ok(Some((off, (self.arena.len() - start) as u8)))
    }

    /// The entries of a name stored by [`add_key`](Self::add_key): the
    /// name, its subdomains, or both (`.name`).
    pub(super) fn add_entries(&mut self, off: u32, len: u8, matching: DomainMatch, val: u32) {
        if matching != DomainMatch::Subdomains {
            self.entries.push(NameEntry {
                off,
                len,
                wild: false,
                val,
            });
        }
        if matching != DomainMatch::Exact {
            self.entries.push(NameEntry {
                off,
                len,
                wild: true,
                val,
            });
        }
    }

    /// Maps the raw values, sorts by key, merges repeats of a key in file
    /// order (as ip4set does) and splits names from wildcards. Returns the
    /// arena and the two sorted lists (made in place of the entries).
    pub(super) fn finish(
        self,
        map: impl Fn(u32) -> u32,
        ans: &mut Answers,
    ) -> (Vec<u8>, Vec<NameRef>, Vec<NameRef>) {
        let NameStore { arena, mut entries } = self;
        for e in &mut entries {
            e.val = map(e.val);
        }
        let key = |e: &NameEntry| &arena[e.off as usize..e.off as usize + usize::from(e.len)];
        // Names, then wildcards, each by key; repeats end up in file order
        // (keys are appended as read).
        sort_names(&mut entries, &arena);
        let mut w = 0;
        let mut i = 0;
        while i < entries.len() {
            let mut first = entries[i];
            i += 1;
            while i < entries.len()
                && entries[i].wild == first.wild
                && key(&entries[i]) == key(&first)
            {
                if entries[i].val != first.val {
                    first.val = ans.union(first.val, entries[i].val);
                }
                i += 1;
            }
            entries[w] = first;
            w += 1;
        }
        entries.truncate(w);
        let names = entries.partition_point(|e| !e.wild);
        let wild = entries[names..].iter().map(|e| e.to_ref()).collect();
        entries.truncate(names);
        // Same size and alignment: collected in place.
        let exact = entries.into_iter().map(|e| e.to_ref()).collect();
        (arena, exact, wild)
    }
}

/// Sorts domain entries by (wildcard, key, offset): names before
/// wildcards, each by key bytes, repeats of a key in file order.
///
/// A comparison sort of 300,000 names spends most of its time comparing
/// keys that share their first bytes (every `.com` key starts with
/// `\x03com`), so this sorts by one key byte at a time instead, in place
/// (counting, then moving each entry once into its bucket, as for IPv4
/// keys), and compares only the small buckets that remain.
fn sort_names(v: &mut [NameEntry], arena: &[u8]) {
    const SMALL: usize = 32;
    let key = |e: &NameEntry| &arena[e.off as usize..e.off as usize + usize::from(e.len)];
    // Byte `d` of a key, 0 past its end (keys hold no 0 byte, so a key
    // that ends sorts before the longer keys it starts).
    let byte = |e: &NameEntry, d: usize| -> usize {
        if d < usize::from(e.len) {
            usize::from(arena[e.off as usize + d])
        } else {
            0
        }
    };
    let names = {
        // Names first: a partition.
        let (mut i, mut j) = (0, v.len());
        while i < j {
            if v[i].wild {
                j -= 1;
                v.swap(i, j);
            } else {
                i += 1;
            }
        }
        i
    };
    let mut work = vec![(0, names, 0usize), (names, v.len(), 0)];
    let mut next = [0usize; 256];
    let mut end = [0usize; 256];
    while let Some((lo, hi, d)) = work.pop() {
        let part = &mut v[lo..hi];
        if part.len() <= SMALL {
            part.sort_unstable_by(|a, b| key(a)[d..].cmp(&key(b)[d..]).then(a.off.cmp(&b.off)));
            continue;
        }
        end.fill(0);
        for e in part.iter() {
            end[byte(e, d)] += 1;
        }
        let mut total = 0;
        for (n, e) in next.iter_mut().zip(end.iter_mut()) {
            *n = total;
            total += *e;
            *e = total;
        }
        for b in 0..256 {
            while next[b] < end[b] {
                let mut e = part[next[b]];
                loop {
                    let t = byte(&e, d);
                    if t == b {
                        break;
                    }
                    std::mem::swap(&mut e, &mut part[next[t]]);
                    next[t] += 1;
                }
                part[next[b]] = e;
                next[b] += 1;
            }
        }
        // Keys that end here are equal: by offset. The others go on with
        // their next byte.
        let mut start = end[0];
        part[..start].sort_unstable_by_key(|e| e.off);
        for &e in &end[1..] {
            if e - start > 1 {
                work.push((lo + start, lo + e, d + 1));
            }
            start = e;
        }
    }
}

impl NameEntry {
    fn to_ref(self) -> NameRef {
        NameRef {
            off: self.off,
            len: self.len,
            val: self.val,
        }
    }
}

/// Writes the domain name of `key` (a reversed, length-prefixed key) into
/// `out`: labels from the leftmost, joined by dots.
fn name_of_key(key: &[u8], out: &mut Vec<u8>) {
    // Each label goes in front of the ones before it.
    out.clear();
    out.resize(key.len().saturating_sub(1), 0);
    let mut i = 0;
    let mut end = out.len();
    while i < key.len() {
        let len = usize::from(key[i]);
        let label = &key[(i + 1).min(key.len())..(i + 1 + len).min(key.len())];
        let from = end.saturating_sub(label.len());
        out[from..end].copy_from_slice(&label[..end - from]);
        if from > 0 {
            out[from - 1] = b'.';
        }
        end = from.saturating_sub(1);
        i += 1 + len;
    }
}

/// `normalize::compact` for columns: keeps the answers entries use,
/// numbered in order of first use — IPv4 entries by (network, length),
/// then IPv6 ones, then domain entries in the order of the old domain list
/// (by name text, the name before its wildcard).
pub(super) fn compact(cols: &mut Columns, specs: Vec<AnswerSpec>) {
    let mut num = Numbering {
        new_id: vec![u32::MAX; specs.len()],
        order: Vec::new(),
    };
    let (mut i, mut j) = (0, 0);
    let (exact, v4) = (&cols.v4_exact, &cols.v4);
    let n = exact.len();
    while (i < n || j < v4.len()) && num.order.len() < specs.len() {
        // At one network the shorter prefix comes first (every `v4` entry
        // is shorter than /32).
        if j < v4.len() && (i == n || v4[j].0 <= exact.get(i).0) {
            num.use_val(v4[j].2);
            j += 1;
        } else if let Exact4::Uniform { val, .. } = exact {
            // The rest of the column adds no other value.
            num.use_val(*val);
            i = n;
        } else {
            num.use_val(exact.get(i).1);
            i += 1;
        }
    }
    for e in &cols.v6 {
        num.use_val(e.2);
    }
    // Domains: the answers not used yet, by the first (name, wildcard)
    // that uses them — names to compare only when there are two or more.
    let mut pending: Vec<u32> = Vec::new();
    let mut seen = vec![false; specs.len()];
    for r in cols.exact.iter().chain(&cols.wild) {
        if let Some(s) = seen.get_mut(r.val as usize)
            && !*s
        {
            *s = true;
            if num.new_id[r.val as usize] == u32::MAX {
                pending.push(r.val);
            }
        }
    }
    let mut first: Vec<Option<(Vec<u8>, bool)>> = vec![None; specs.len()];
    let mut buf = Vec::new();
    let lists = if pending.len() > 1 {
        [(&cols.exact[..], false), (&cols.wild[..], true)]
    } else {
        pending.iter().for_each(|&v| num.use_val(v));
        [(&[][..], false), (&[][..], true)]
    };
    for (list, wild) in lists {
        for r in list.iter() {
            if num.new_id.get(r.val as usize) != Some(&u32::MAX) {
                continue;
            }
            let key = &cols.names[r.off as usize..r.off as usize + usize::from(r.len)];
            name_of_key(key, &mut buf);
            let slot = &mut first[r.val as usize];
            let better = match slot {
                None => true,
                Some((name, w)) => (buf.as_slice(), wild) < (name.as_slice(), *w),
            };
            if better {
                *slot = Some((buf.clone(), wild));
            }
        }
    }
    let mut rest: Vec<(Vec<u8>, bool, u32)> = first
        .into_iter()
        .enumerate()
        .filter_map(|(v, f)| f.map(|(n, w)| (n, w, v as u32)))
        .collect();
    rest.sort_unstable();
    for (_, _, v) in rest {
        num.use_val(v);
    }
    let Numbering { new_id, order } = num;
    let identity =
        order.len() == specs.len() && order.iter().enumerate().all(|(i, &v)| v as usize == i);
    if !identity {
        let re = |v: u32| match new_id.get(v as usize) {
            Some(&n) if n != u32::MAX => n,
            _ => v,
        };
        cols.v4_exact.map_values(re);
        cols.v4.iter_mut().for_each(|e| e.2 = re(e.2));
        cols.v6.iter_mut().for_each(|e| e.2 = re(e.2));
        cols.exact.iter_mut().for_each(|e| e.val = re(e.val));
        cols.wild.iter_mut().for_each(|e| e.val = re(e.val));
    }
    let mut specs: Vec<Option<AnswerSpec>> = specs.into_iter().map(Some).collect();
    cols.answers = order
        .iter()
        .filter_map(|&v| specs.get_mut(v as usize).and_then(Option::take))
        .collect();
}

/// Answer ids in order of first use.
struct Numbering {
    /// Old id → new id (`u32::MAX`: not used yet).
    new_id: Vec<u32>,
    /// New id → old id.
    order: Vec<u32>,
}

impl Numbering {
    #[inline]
    fn use_val(&mut self, v: u32) {
        if let Some(slot) = self.new_id.get_mut(v as usize)
            && *slot == u32::MAX
        {
            *slot = self.order.len() as u32;
            self.order.push(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_map_round_trips() {
        let mut m = LineMap::default();
        let lines = [3u32, 4, 5, 5, 5, 9, 10, 40, 41];
        for (p, &l) in lines.iter().enumerate() {
            m.note(p as u32, l);
        }
        for (p, &l) in lines.iter().enumerate() {
            assert_eq!(m.line_of(p as u32), l, "position {p}");
        }
        assert_eq!(m.marks.len(), 5);
    }

    #[test]
    fn column_goes_packed_at_a_second_value() {
        let mut v = V4Store::with_size(64);
        v.push32(5, 1, 1).unwrap_or_default();
        v.push32(3, 1, 2).unwrap_or_default();
        assert!(matches!(v.exact, Column::Uniform { .. }));
        v.push32(4, 2, 3).unwrap_or_default();
        v.push32(3, 2, 7).unwrap_or_default();
        let Column::Packed { keys, vals } = &v.exact else {
            panic!("not packed");
        };
        assert_eq!(keys, &[5 << 32, 3 << 32 | 1, 4 << 32 | 2, 3 << 32 | 3]);
        assert_eq!(vals, &[1, 1, 2, 2]);
        assert_eq!(v.lines.line_of(3), 7);
    }

    #[test]
    fn address_sort() {
        let mut r = crate::testrng::TestRng::new(11);
        for n in [0usize, 1, 1000, 70_000, 300_000] {
            let mut v: Vec<u32> = (0..n)
                .map(|i| match i % 3 {
                    0 => r.next_u64() as u32,
                    1 => (r.next_u64() as u32) & 0x0a0b_ffff,
                    _ => (i as u32).wrapping_mul(7),
                })
                .collect();
            let mut want = v.clone();
            want.sort_unstable();
            let mut wide: Vec<u64> = v
                .iter()
                .enumerate()
                .map(|(i, &a)| u64::from(a) << 32 | (n - i) as u64)
                .collect();
            let mut want_wide = wide.clone();
            want_wide.sort_unstable();
            sort_keys(&mut v, |a| (a >> 16) as usize);
            sort_keys(&mut wide, |k| (k >> 48) as usize);
            assert_eq!(v, want, "{n}");
            assert_eq!(wide, want_wide, "{n}");
        }
    }

    #[test]
    fn name_sort() {
        let mut r = crate::testrng::TestRng::new(3);
        let mut store = NameStore::with_size(0);
        let labels = ["a", "b", "ab", "com", "x-y", "a_b", "zz", "c"];
        for _ in 0..5000 {
            let n = 1 + r.below(4);
            let name: Vec<&str> = (0..n).map(|_| *r.pick(&labels)).collect();
            let m = *r.pick(&[
                DomainMatch::Exact,
                DomainMatch::Subdomains,
                DomainMatch::Both,
            ]);
            if let Ok(Some((off, len))) = store.add_key(name.join(".").as_bytes()) {
                store.add_entries(off, len, m, r.below(3) as u32);
            }
        }
        let key = |e: &NameEntry| &store.arena[e.off as usize..e.off as usize + usize::from(e.len)];
        let mut want = store.entries.clone();
        want.sort_unstable_by(|a, b| {
            a.wild
                .cmp(&b.wild)
                .then_with(|| key(a).cmp(key(b)))
                .then(a.off.cmp(&b.off))
        });
        let mut got = store.entries.clone();
        sort_names(&mut got, &store.arena);
        let id = |v: &[NameEntry]| v.iter().map(|e| (e.off, e.wild)).collect::<Vec<_>>();
        assert_eq!(id(&got), id(&want));
    }

    #[test]
    fn coverage_cursor() {
        let r = [(10, 20), (30, 40)];
        let mut k = 0;
        let got: Vec<bool> = [5, 10, 20, 21, 35, 41, 15]
            .iter()
            .map(|&n| covered(&r, &mut k, n))
            .collect();
        assert_eq!(got, [false, true, true, false, true, false, true]);
    }

    #[test]
    fn names_of_keys() {
        let mut out = Vec::new();
        name_of_key(b"\x03com\x07example\x03www", &mut out);
        assert_eq!(out, b"www.example.com");
        name_of_key(b"\x04test", &mut out);
        assert_eq!(out, b"test");
    }

    #[test]
    fn sorted_merge_in_place() {
        let mut v = vec![1u64 << 32, 5 << 32, 9 << 32];
        merge_sorted(&mut v, &[0, 6 << 32, 10 << 32]);
        assert_eq!(v, vec![0, 1 << 32, 5 << 32, 6 << 32, 9 << 32, 10 << 32]);
    }
}
