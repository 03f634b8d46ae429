//! Compact per-entry value storage.
//!
//! Most DNSBL data sets give every entry the same answer (rbldnsd's `:A:TXT`
//! default line), and nearly all use fewer than 65,534 distinct answers. So
//! the value column is stored as a single shared id, as `u16`s, or as `u32`s
//! only when needed: for a million entries that is 0, 2 or 4 MB.

/// Value of an entry that is an exclusion.
pub const EXCLUDED: u32 = u32::MAX;
/// Value of a gap between listed intervals (nothing matches there).
pub const NONE: u32 = u32::MAX - 1;

const SMALL_EXCLUDED: u16 = u16::MAX;
const SMALL_NONE: u16 = u16::MAX - 1;

/// A column of values (answer ids or the two sentinels above).
#[derive(Clone, Debug)]
pub enum Values {
    /// Every row has this value.
    Uniform(u32),
    /// Ids below 65,534, sentinels mapped to the top of the `u16` range.
    Small(Box<[u16]>),
    /// Anything else.
    Wide(Box<[u32]>),
}

impl Values {
    /// Chooses the narrowest representation for `v`.
    pub fn from_vec(v: Vec<u32>) -> Values {
        match v.first() {
            None => return Values::Uniform(NONE),
            Some(&first) if v.iter().all(|&x| x == first) => return Values::Uniform(first),
            _ => {}
        }
        let fits = v
            .iter()
            .all(|&x| x == EXCLUDED || x == NONE || x < u32::from(SMALL_NONE));
        if fits {
            Values::Small(
                v.into_iter()
                    .map(|x| match x {
                        EXCLUDED => SMALL_EXCLUDED,
                        NONE => SMALL_NONE,
                        // Checked above: x < SMALL_NONE.
                        x => x as u16,
                    })
                    .collect(),
            )
        } else {
            Values::Wide(v.into_boxed_slice())
        }
    }

    /// The same column as [`from_vec`](Self::from_vec) of the `n` values
    /// of `vals`, without a vector of `u32`s first: a uniform column
    /// allocates nothing, a small one only its `u16`s.
    pub fn collect(n: usize, vals: impl Iterator<Item = u32>) -> Values {
        let fits = |x: u32| x == EXCLUDED || x == NONE || x < u32::from(SMALL_NONE);
        let small = |x: u32| match x {
            EXCLUDED => SMALL_EXCLUDED,
            NONE => SMALL_NONE,
            x => x as u16,
        };
        let mut vals = vals.peekable();
        let Some(first) = vals.next() else {
            return Values::Uniform(NONE);
        };
        let mut same = 1;
        while vals.next_if_eq(&first).is_some() {
            same += 1;
        }
        let Some(&next) = vals.peek() else {
            return Values::Uniform(first);
        };
        if fits(first) && fits(next) {
            let mut s: Vec<u16> = Vec::with_capacity(n);
            s.resize(same, small(first));
            while let Some(x) = vals.next_if(|&x| fits(x)) {
                s.push(small(x));
            }
            if vals.peek().is_none() {
                return Values::Small(s.into_boxed_slice());
            }
            // A value past the u16 range: every row goes wide.
            let mut w: Vec<u32> = Vec::with_capacity(n);
            w.extend(s.iter().map(|&x| match x {
                SMALL_EXCLUDED => EXCLUDED,
                SMALL_NONE => NONE,
                x => u32::from(x),
            }));
            drop(s);
            w.extend(vals);
            return Values::Wide(w.into_boxed_slice());
        }
        let mut w: Vec<u32> = Vec::with_capacity(n);
        w.resize(same, first);
        w.extend(vals);
        Values::Wide(w.into_boxed_slice())
    }

    /// The value of row `i` (callers only pass rows that exist).
    #[inline]
    pub fn get(&self, i: usize) -> u32 {
        match self {
            Values::Uniform(v) => *v,
            Values::Small(s) => match s[i] {
                SMALL_EXCLUDED => EXCLUDED,
                SMALL_NONE => NONE,
                x => u32::from(x),
            },
            Values::Wide(w) => w[i],
        }
    }

    /// Heap bytes used.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Values::Uniform(_) => 0,
            Values::Small(s) => s.len() * 2,
            Values::Wide(w) => w.len() * 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_narrowest_form_and_keeps_sentinels() {
        assert!(matches!(
            Values::from_vec(vec![3, 3, 3]),
            Values::Uniform(3)
        ));
        let s = Values::from_vec(vec![1, EXCLUDED, NONE, 65_533]);
        assert!(matches!(s, Values::Small(_)));
        assert_eq!(
            (0..4).map(|i| s.get(i)).collect::<Vec<_>>(),
            vec![1, EXCLUDED, NONE, 65_533]
        );
        for v in [
            vec![],
            vec![4],
            vec![4, 4, 4],
            vec![4, 4, 5, EXCLUDED, NONE],
            vec![EXCLUDED, EXCLUDED, 70_000, 1],
            vec![1, 2, 65_533, 65_534],
            vec![70_000, 70_000],
            vec![70_000, 3, 3],
        ] {
            let a = Values::from_vec(v.clone());
            let b = Values::collect(v.len(), v.iter().copied());
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "{v:?}");
        }
        let w = Values::from_vec(vec![1, 70_000, EXCLUDED]);
        assert!(matches!(w, Values::Wide(_)));
        assert_eq!(w.get(1), 70_000);
        assert_eq!(w.get(2), EXCLUDED);
        assert_eq!(Values::from_vec(vec![]).get(0), NONE);
    }
}
