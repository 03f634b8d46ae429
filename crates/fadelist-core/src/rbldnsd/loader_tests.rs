//! The loader against the whole-file parser and the columns against the
//! dataset builder: a file given in any blocks parses to the same data
//! (or the same error), and [`Dataset::from_columns`] freezes exactly what
//! [`Dataset::build`] freezes from [`parse`]'s output.

use super::normalize;
use super::parse::to_data;
use super::write::soup;
use super::{DatasetType, Loader, ParseError, parse};
use crate::data::Columns;
use crate::dataset::Dataset;
use crate::testrng::TestRng as Rng;

/// Lines that make repeats, values and same-level overlaps likely.
fn extra_line(r: &mut Rng, ty: DatasetType, plain: bool) -> String {
    let value = if plain && !r.chance(2) {
        ""
    } else {
        *r.pick(&[
            "",
            "",
            "",
            " :3",
            " :4:four",
            " :5:",
            " five $",
            " :3:three",
        ])
    };
    let bang = if r.chance(if plain { 1 } else { 10 }) {
        "!"
    } else {
        ""
    };
    match ty {
        DatasetType::Ip4Set | DatasetType::Ip4Trie | DatasetType::Ip4Tset => {
            let host = r.below(8);
            match r.below(10) {
                0 => format!(
                    "{bang}10.0.{}.0/{}{value}",
                    r.below(3),
                    24 + r.below(8) as u8
                ),
                1 => format!(
                    "{bang}10.0.{}.{}-{}{value}",
                    r.below(3),
                    host,
                    host + r.below(5)
                ),
                2 => format!("{bang}10.{}/16{value}", r.below(2)),
                3 => format!("10.0.{}.{host}\r", r.below(3)),
                4 => format!("  10.0.{}.{host}", r.below(3)),
                _ => format!("{bang}10.0.{}.{host}{value}", r.below(3)),
            }
        }
        DatasetType::Ip6Tset | DatasetType::Ip6Trie => {
            format!("{bang}2001:db8:{}:{}{value}", r.below(3), r.below(4))
        }
        DatasetType::Dnset => {
            let pre = *r.pick(&["", "", "*.", "."]);
            let name = *r.pick(&[
                "a.example",
                "b.example",
                "A.Example",
                "x.a.example",
                "c.test",
                "a-b.example",
            ]);
            format!("{bang}{pre}{name}{value}")
        }
    }
}

fn file(r: &mut Rng, ty: DatasetType, lines: usize) -> Vec<u8> {
    let mut f = String::new();
    // Mostly one value (the loader's 4-byte column), or anything.
    let plain = r.chance(40);
    for _ in 0..lines {
        let l = if plain || r.chance(50) {
            extra_line(r, ty, plain)
        } else {
            soup::line(r, ty)
        };
        f.push_str(&l);
        f.push('\n');
    }
    if r.chance(20) {
        f.pop();
    }
    let mut f = f.into_bytes();
    if r.chance(3) && !f.is_empty() {
        let at = r.below(f.len());
        f[at] = 0;
    }
    f
}

fn load(ty: DatasetType, input: &[u8], cuts: &[usize]) -> Result<Columns, ParseError> {
    let mut l = Loader::new(ty, input.len() as u64);
    let mut from = 0;
    for &c in cuts {
        let c = c.clamp(from, input.len());
        l.feed(&input[from..c]);
        from = c;
    }
    l.feed(&input[from..]);
    l.finish()
}

fn ty_name(ty: DatasetType) -> &'static str {
    ty.name()
}

#[test]
fn blocks_parse_like_the_whole_file() {
    let mut r = Rng::new(0x6c6f_6164);
    for round in 0..1500 {
        for ty in DatasetType::ALL {
            let n = 1 + r.below(25);
            let input = file(&mut r, ty, n);
            let whole = parse(ty, &input);
            let mut cuts: Vec<usize> = (0..r.below(6)).map(|_| r.below(input.len() + 1)).collect();
            cuts.sort_unstable();
            if round % 7 == 0 {
                cuts = (1..input.len()).collect();
            }
            let got = load(ty, &input, &cuts).map(to_data);
            assert_eq!(
                got,
                whole,
                "{} cut at {cuts:?}\n{}",
                ty_name(ty),
                String::from_utf8_lossy(&input)
            );
        }
    }
}

#[test]
fn columns_freeze_like_the_builder() {
    let mut r = Rng::new(0x636f_6c73);
    let mut frozen = 0;
    for _ in 0..800 {
        for ty in DatasetType::ALL {
            let files: Vec<Vec<u8>> = (0..1 + r.below(3))
                .map(|_| {
                    let n = 1 + r.below(30);
                    let mut f = file(&mut r, ty, n);
                    f.retain(|&b| b != 0);
                    f
                })
                .collect();
            let Ok(cols) = files
                .iter()
                .map(|f| load(ty, f, &[]))
                .collect::<Result<Vec<Columns>, _>>()
            else {
                continue;
            };
            let data: Vec<_> = cols.iter().cloned().map(to_data).collect();
            for d in &data {
                // The loader's numbering is normalize::compact's.
                let mut again = d.clone();
                normalize::compact(&mut again);
                assert_eq!(&again, d);
            }
            let refs: Vec<_> = data.iter().collect();
            let want = Dataset::build(&refs, 300);
            let got = Dataset::from_columns(cols, 300);
            assert_eq!(
                format!("{got:?}"),
                format!("{want:?}"),
                "{}: {}",
                ty_name(ty),
                files
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect::<Vec<_>>()
                    .join("\n---\n")
            );
            frozen += 1;
        }
    }
    assert!(frozen > 1000, "{frozen}");
}

#[test]
fn big_ip4set_with_repeats_and_level_32_overlaps() {
    // Enough /32s for the split key column, repeats with other values, and
    // /25-/31 prefixes over some of them.
    let mut r = Rng::new(7);
    let mut f = String::from(":2:default $\n");
    for i in 0..200_000u32 {
        let a = r.next_u64() as u32 & 0x00ff_ffff | 0x0a00_0000;
        let ip = std::net::Ipv4Addr::from(a);
        match i % 1000 {
            0 => f.push_str(&format!("{ip} :3:three\n")),
            1 => f.push_str(&format!("{}/27 :4\n", std::net::Ipv4Addr::from(a & !31))),
            2 => f.push_str(&format!("!{ip}\n")),
            _ => f.push_str(&format!("{ip}\n")),
        }
    }
    let input = f.into_bytes();
    let d = parse(DatasetType::Ip4Set, &input).unwrap_or_default();
    assert!(d.ip4.len() > 190_000);
    let cols = load(DatasetType::Ip4Set, &input, &[4096, 70_000, 1 << 20]).unwrap_or_default();
    let want = Dataset::build(&[&d], 300);
    let got = Dataset::from_columns(vec![cols], 300);
    assert_eq!(format!("{got:?}"), format!("{want:?}"));
}

#[test]
fn errors_across_blocks() {
    // A NUL byte after an error is still the error reported.
    let input = b"1.2.3.4\nbad line\n1.2.3.5\n1.2.\x003.6\n";
    for cut in 0..input.len() {
        let e = load(DatasetType::Ip4Set, input, &[cut]).err();
        assert_eq!(e.as_ref().map(|e| e.line), Some(4), "cut {cut}");
        assert!(e.is_some_and(|e| e.message.contains("after \"1.2.\"")));
    }
    // A long line is measured whole, whatever the blocks.
    let mut long = b"1.2.3.4\n".to_vec();
    long.extend(std::iter::repeat_n(b'x', 70_000));
    long.extend_from_slice(b"\n1.2.3.5\n");
    let whole = parse(DatasetType::Ip4Set, &long).err();
    assert!(
        whole
            .as_ref()
            .is_some_and(|e| e.line == 2 && e.message.contains("70000 bytes"))
    );
    for cuts in [vec![9], vec![100, 65_000, 69_000], vec![8, 70_008]] {
        assert_eq!(load(DatasetType::Ip4Set, &long, &cuts).err(), whole);
    }
}
