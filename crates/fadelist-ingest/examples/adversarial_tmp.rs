//! temporary timing probe
use std::time::Instant;
fn main() {
    let o = fadelist_ingest::ExtractOptions::default();
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut s = String::from("Subject: x\n");
    while s.len() < 9_000_000 { s.push_str("Content-Type: multipart/mixed; boundary=\"nope\"\n\n"); }
    cases.push(("unfound boundaries", s.into_bytes()));
    let mut s = String::from("Subject: x\nContent-Type: multipart/mixed; boundary=b\n\n");
    let mut i = 0; while s.len() < 9_000_000 { s.push_str(&format!("--b\nContent-Type: multipart/mixed; boundary=c{i}\n\n")); i+=1; }
    cases.push(("many unclosed nested", s.into_bytes()));
    cases.push(("colons", { let mut v = b"Subject: x\n".to_vec(); v.extend(std::iter::repeat_n(b':', 9_000_000)); v }));
    cases.push(("a: lines", { let mut v = b"Subject: x\n".to_vec(); while v.len() < 9_000_000 { v.extend_from_slice(b"a:\n"); } v }));
    cases.push(("dash lines", { let mut v = b"Subject: x\nContent-Type: multipart/mixed; boundary=-\n\n".to_vec(); while v.len() < 9_000_000 { v.extend_from_slice(b"---\n"); } v }));
    cases.push(("ct headers", { let mut v = b"Subject: x\n".to_vec(); while v.len() < 9_000_000 { v.extend_from_slice(b"Content-Type: message/rfc822\n"); } v }));
    cases.push(("ct lookalikes", { let mut v = b"Subject: x\n\n".to_vec(); while v.len() < 9_000_000 { v.extend_from_slice(b"content - type :  message/(x)rfc822; a=\"b\"\n"); } v }));
    cases.push(("html tags", { let mut v = b"Subject: x\nContent-Type: text/html\n\n".to_vec(); while v.len() < 9_000_000 { v.extend_from_slice(b"<a href=x><img src=y><form action=z>"); } v }));
    cases.push(("entities", { let mut v = b"Subject: x\nContent-Type: text/html\n\n<a href=\"".to_vec(); while v.len() < 9_000_000 { v.extend_from_slice(b"&#46;&amp;&"); } v }));
    cases.push(("long line url", { let mut v = b"Subject: x\n\nhttp://".to_vec(); while v.len() < 9_000_000 { v.extend_from_slice(b"aaaaaaaa."); } v }));
    cases.push(("scheme soup", { let mut v = b"Subject: x\n\n".to_vec(); while v.len() < 9_000_000 { v.extend_from_slice(b"a://"); } v }));
    cases.push(("received soup", { let mut v = Vec::new(); while v.len() < 9_000_000 { v.extend_from_slice(b"Received: from [[[[[[[[[[[[[[[[[[[[[[ ( ( ( ( by\n"); } v.extend_from_slice(b"\nx"); v }));
    cases.push(("base64 parts", { let mut v = b"Subject: x\nContent-Type: multipart/mixed; boundary=b\n\n".to_vec(); while v.len() < 9_000_000 { v.extend_from_slice(b"--b\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogaQoKaHR0cDovL3guY29tLwo=\n"); } v }));
    for (name, raw) in cases {
        let t = Instant::now();
        let r = fadelist_ingest::extract(&raw, &o);
        println!("{name:24} {:>8.1?} {}", t.elapsed(), match r { Ok(x) => format!("ok domains={} warnings={}", x.domains.len(), x.warnings.len()), Err(e) => e.to_string() });
    }
}
