#!/usr/bin/env python3
"""Interop vectors for fadelist_dns::tsig, from dnspython (an independent
TSIG implementation). Not run by CI: the vectors it printed are pasted as
hex into the tests of crates/fadelist-dns/src/tsig.rs.

    pip install dnspython
    python3 tsig_dnspython.py gen            # dnspython signs; Rust verifies
    cargo test -p fadelist-dns tsig::tests::print_vectors -- --ignored --nocapture \
        | python3 tsig_dnspython.py check    # Rust signs; dnspython verifies

Time is pinned (time.time is replaced) so the output is reproducible.
"""
import sys
import time

import dns.message
import dns.name
import dns.rdatatype
import dns.rrset
import dns.tsig

T = 1700000000  # Time Signed of every vector

KEY256 = dns.tsig.Key(
    "transfer-key.", "MCxhN8R6f/xS/N37oDTSdx9LLKzKVMtzNyPf/ltsbi8=", "hmac-sha256"
)
# Mixed case on purpose: key names compare case-insensitively.
KEY512 = dns.tsig.Key(
    "XFR512.Example.",
    "FxRFX1dHeqTE1SdX62itVGpQqD75gHorM8idzFpRg72cQifafKSr6OscI1W9dOSnNr3VU8CCNhZw5eisKs1npQ==",
    "hmac-sha512",
)
KEY384 = dns.tsig.Key(
    "k384.", "+iN4rCiURNl4msZ4jnW2jz35u7VJxZTK0Wh9Tz7EDgqaMlhiFW1wVZrZ1q3N6o6F", "hmac-sha384"
)
KEYS = {k.name: k for k in (KEY256, KEY512, KEY384)}

SOA = "example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 7 3600 600 86400 60"


def at(t):
    time.time = lambda: float(t)


def query(key, qid):
    q = dns.message.make_query("example.com.", "AXFR")
    q.id = qid
    q.flags = 0
    q.use_tsig(key)
    return q


def part(q, records):
    """One message of a zone transfer response to q, unsigned so far."""
    r = dns.message.make_response(q)
    r.flags |= dns.flags.AA
    for text in records:
        r.answer.append(dns.rrset.from_text(*text.split(" ", 4)[:4], text.split(" ", 4)[4]))
    return r


def gen():
    out = {}
    at(T)
    for label, key, qid in (("Q256", KEY256, 0x1234), ("Q512", KEY512, 0x4321), ("Q384", KEY384, 0x0BAD)):
        q = query(key, qid)
        out[label] = q.to_wire()
    # A three-message AXFR response to Q256, every message signed, times T+1, T+1, T+2.
    q = dns.message.from_wire(out["Q256"], keyring=KEYS)
    bodies = [
        [SOA, "example.com. 3600 IN NS ns1.example.com.", "ns1.example.com. 3600 IN A 192.0.2.53"],
        ["2.0.0.127.example.com. 2100 IN A 127.0.0.2", "3.0.0.127.example.com. 2100 IN A 127.0.0.3"],
        ["4.0.0.127.example.com. 2100 IN TXT \"listed\"", SOA],
    ]
    ctx = None
    for i, (body, t) in enumerate(zip(bodies, (T + 1, T + 1, T + 2))):
        at(t)
        r = part(q, body)
        out[f"R256_{i}"] = r.to_wire(multi=True, tsig_ctx=ctx)
        ctx = r.tsig_ctx
    # The same three messages, the middle one unsigned (allowed by RFC 8945 5.3.1):
    # the unsigned message goes into the running digest as it is.
    ctx = None
    for i, (body, t) in enumerate(zip(bodies, (T + 1, T + 1, T + 2))):
        at(t)
        r = part(q, body)
        if i == 1:
            r.tsig = None
            w = r.to_wire()
            ctx.update(w)
        else:
            w = r.to_wire(multi=True, tsig_ctx=ctx)
            ctx = r.tsig_ctx
        out[f"U256_{i}"] = w
    for k, v in out.items():
        print(f"{k} {v.hex()}")


def check():
    """Reads `NAME HEX` lines printed by the Rust test print_vectors and
    verifies them with dnspython. The names say what each line is."""
    lines = dict(l.split() for l in sys.stdin if l.startswith("OUR_"))
    at(T)
    # A request signed by our sign_request.
    q = dns.message.from_wire(bytes.fromhex(lines["OUR_Q256"]), keyring=KEYS)
    assert q.had_tsig and q.keyname == KEY256.name
    print("OUR_Q256 verified, key", q.keyname, "id", hex(q.id))
    q5 = dns.message.from_wire(bytes.fromhex(lines["OUR_Q512"]), keyring=KEYS)
    print("OUR_Q512 verified, key", q5.keyname)
    q3 = dns.message.from_wire(bytes.fromhex(lines["OUR_Q384"]), keyring=KEYS)
    print("OUR_Q384 verified, key", q3.keyname)
    # A response stream signed by our ResponseSigner, answering OUR_Q256.
    ctx = None
    i = 0
    while f"OUR_R256_{i}" in lines:
        at(T + 1 + i)
        m = dns.message.from_wire(
            bytes.fromhex(lines[f"OUR_R256_{i}"]),
            keyring=KEYS,
            request_mac=q.mac,
            tsig_ctx=ctx,
            multi=True,
        )
        assert m.had_tsig, i
        ctx = m.tsig_ctx
        print(f"OUR_R256_{i} verified")
        i += 1
    assert i >= 2
    # The BADTIME error our server sends: dnspython reports the peer's error.
    try:
        dns.message.from_wire(bytes.fromhex(lines["OUR_BADTIME"]), keyring=KEYS, request_mac=q.mac)
        raise SystemExit("BADTIME response accepted?")
    except dns.tsig.PeerBadTime:
        print("OUR_BADTIME parsed: PeerBadTime")
    try:
        dns.message.from_wire(bytes.fromhex(lines["OUR_BADKEY"]), keyring=KEYS, request_mac=q.mac)
        raise SystemExit("BADKEY response accepted?")
    except dns.tsig.PeerBadKey:
        print("OUR_BADKEY parsed: PeerBadKey")
    print("all verified")


if __name__ == "__main__":
    {"gen": gen, "check": check}[sys.argv[1]]()
