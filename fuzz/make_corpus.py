#!/usr/bin/env python3
"""Write the seed corpus for fuzz_dns_parse (fuzz/corpus/dns_parse/).

Small hand-made replies covering what the parser and the chain follower
branch on: compression, CNAME chains, every section, the error paths.
Run from anywhere; the files are committed, so this is only needed to
change them.
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "corpus", "dns_parse")

A, NS, CNAME, SOA, AAAA, OPT = 1, 2, 5, 6, 28, 41


def header(qd, an, ns=0, ar=0, flags=0x8180, qid=0x1234):
    return struct.pack(">HHHHHH", qid, flags, qd, an, ns, ar)


def name(dotted):
    out = b""
    for label in dotted.split(".") if dotted else []:
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def ptr(off):
    return struct.pack(">H", 0xC000 | off)


def question(qname, qtype=A):
    return name(qname) + struct.pack(">HH", qtype, 1)


def rr(owner, rtype, rdata, ttl=300, rclass=1):
    return owner + struct.pack(">HHIH", rtype, rclass, ttl, len(rdata)) + rdata


Q = 12  # offset of the first question name

seeds = {}
seeds["a"] = (header(1, 1) + question("www.example.com") +
              rr(ptr(Q), A, bytes([192, 0, 2, 1])))
seeds["aaaa"] = (header(1, 1) + question("www.example.com", AAAA) +
                 rr(ptr(Q), AAAA, bytes.fromhex("20010db8" + "0" * 23 + "1")))
# www.example.com CNAME web.example.net; web CNAME lb.<example.net>; A x2
m = header(1, 4) + question("www.example.com")
web = len(m) + 2 + 10
m += rr(ptr(Q), CNAME, name("web.example.net"), 3600)
lb = len(m) + 2 + 10
m += rr(ptr(web), CNAME, b"\x02lb" + ptr(web + 4), 600)
m += rr(ptr(lb), A, bytes([192, 0, 2, 10]), 120)
m += rr(ptr(lb), A, bytes([192, 0, 2, 11]), 60)
seeds["cname_chain"] = m
seeds["mixed_case"] = (header(1, 2) + question("WwW.ExAmple.COM") +
                       rr(name("WWW.example.Com"), CNAME,
                          name("Web.EXAMPLE.net")) +
                       rr(name("WEB.example.NET"), A, bytes([198, 51, 100, 7])))
soa = (b"\x03ns1" + ptr(Q + 5) + b"\x0ahostmaster" + ptr(Q + 5) +
       struct.pack(">IIIII", 2024010101, 7200, 3600, 1209600, 300))
seeds["nxdomain_soa"] = (header(1, 0, 1, flags=0x8583) +
                         question("nope.example.com") +
                         rr(ptr(Q + 5), SOA, soa))
seeds["referral"] = (header(1, 0, 1, 2, flags=0x8000) +
                     question("www.example.com") +
                     rr(ptr(Q + 4), NS, b"\x02ns" + ptr(Q + 4)) +
                     rr(name("ns.example.com"), A, bytes([192, 0, 2, 53])) +
                     rr(b"\0", OPT, b"", 0, 1232))
seeds["loop"] = (header(1, 2) + question("a.example") +
                 rr(ptr(Q), CNAME, name("b.example")) +
                 rr(name("b.example"), CNAME, ptr(Q)))
m = header(1, 17) + question("n0.example")
for i in range(17):
    m += rr(name("n%d.example" % i), CNAME, name("n%d.example" % (i + 1)))
seeds["long_chain"] = m
seeds["query"] = (header(1, 0, flags=0x0100) + question("a.example"))
seeds["escapes"] = (header(1, 0) + b"\x03A.b\x04_Srv\x03x\\y\x01\xff\x00" +
                    struct.pack(">HH", 1, 1))
seeds["ptr_self"] = header(1, 0) + ptr(Q) + struct.pack(">HH", 1, 1)
seeds["ptr_forward"] = header(1, 0) + ptr(Q + 6) + b"\0\0\0\0\x01a\0"
seeds["bad_rdlength"] = (header(1, 1) + question("h.example") +
                         rr(ptr(Q), A, bytes([1, 2, 3, 4, 5])))
seeds["label_0x40"] = header(1, 0) + b"\x40" + b"x" * 64 + b"\0\0\1\0\1"
seeds["truncated"] = seeds["cname_chain"][:40]
seeds["header_only"] = header(0, 0, flags=0)
# Inputs are also tried as presentation text for the encoder.
seeds["text_name"] = b"Www.Example.COM."
seeds["text_escapes"] = b"a\\046b._srv.x\\.y.\\255"

os.makedirs(OUT, exist_ok=True)
for key, data in sorted(seeds.items()):
    with open(os.path.join(OUT, key), "wb") as f:
        f.write(data)
print("%d seeds in %s" % (len(seeds), OUT))
