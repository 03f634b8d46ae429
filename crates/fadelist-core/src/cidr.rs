//! Splitting an inclusive address range into the fewest CIDR blocks.
//!
//! Needed wherever a range must be written in prefix form: exporting the
//! flattened intervals of a dataset, and parsing rbldnsd `a-b` ranges.

macro_rules! range_to_cidrs {
    ($name:ident, $t:ty, $bits:expr) => {
        /// The fewest `(net, len)` blocks that exactly cover `first..=last`
        /// (empty when `first > last`).
        pub fn $name(first: $t, last: $t) -> Vec<($t, u8)> {
            let mut out = Vec::new();
            let mut cur = first;
            if first > last {
                return out;
            }
            loop {
                // Largest block that starts at `cur` (alignment) and does
                // not pass `last`.
                let mut size_bits = if cur == 0 { $bits } else { cur.trailing_zeros() };
                loop {
                    let span_last = if size_bits >= $bits {
                        <$t>::MAX
                    } else {
                        cur | ((1 as $t << size_bits) - 1)
                    };
                    if span_last <= last {
                        out.push((cur, ($bits - size_bits) as u8));
                        match span_last.checked_add(1) {
                            Some(next) if span_last < last => cur = next,
                            _ => return out,
                        }
                        break;
                    }
                    size_bits -= 1;
                }
            }
        }
    };
}

range_to_cidrs!(range_to_cidrs_u32, u32, 32);
range_to_cidrs!(range_to_cidrs_u128, u128, 128);

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> u32 {
        u32::from(s.parse::<std::net::Ipv4Addr>().unwrap())
    }

    #[test]
    fn splits_ranges() {
        assert_eq!(
            range_to_cidrs_u32(ip("10.0.0.0"), ip("10.0.0.255")),
            vec![(ip("10.0.0.0"), 24)]
        );
        assert_eq!(
            range_to_cidrs_u32(ip("1.2.3.4"), ip("1.2.3.10")),
            vec![
                (ip("1.2.3.4"), 30),
                (ip("1.2.3.8"), 31),
                (ip("1.2.3.10"), 32)
            ]
        );
        assert_eq!(range_to_cidrs_u32(0, u32::MAX), vec![(0, 0)]);
        assert_eq!(range_to_cidrs_u32(u32::MAX, u32::MAX), vec![(u32::MAX, 32)]);
        assert_eq!(range_to_cidrs_u32(5, 4), vec![]);
        assert_eq!(range_to_cidrs_u128(0, u128::MAX), vec![(0, 0)]);
        assert_eq!(
            range_to_cidrs_u128(1 << 64, (2 << 64) - 1),
            vec![(1 << 64, 64)]
        );
    }
}
