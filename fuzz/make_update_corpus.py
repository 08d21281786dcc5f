#!/usr/bin/env python3
"""Write the seed corpus for fuzz_update_reply (fuzz/corpus/update_reply/).

Replies to an UPDATE as knotd and named send them, signed (RFC 8945) with
the fuzzer's fixed key and request MAC so that the seeds reach every branch
of fo__tsig_verify, including a MAC that verifies; plus UPDATE requests and
a transfer-like reply for the RR walker. The files are committed: run this
only to change them.
"""
import hashlib
import hmac
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "corpus", "update_reply")

KEY_NAME = "ft-key"
SECRET = b"secret-secret-secret"          # fuzz_update_reply.c's key
REQ_MAC = bytes([1, 2, 3, 4, 5, 6, 7, 8]) + bytes(24)
NOW = 1700000000
ZONE = "failover.example.net"
A, CNAME, SOA, AAAA, ANY, TSIG = 1, 5, 6, 28, 255, 250


def name(dotted):
    out = b""
    for label in dotted.split(".") if dotted else []:
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def header(qid, flags, zo, pr=0, up=0, ad=0):
    return struct.pack(">HHHHHH", qid, flags, zo, pr, up, ad)


def rr(owner, rtype, rclass, ttl, rdata):
    return owner + struct.pack(">HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def reply(rcode, qid=0x4242):
    return header(qid, 0xA800 | rcode, 1) + name(ZONE) + struct.pack(">HH", SOA, 1)


def sign(msg, error=0, other=b"", signed=True, alg="hmac-sha256",
         when=NOW, owner=None, req_mac=REQ_MAC):
    digest = hashlib.sha512 if alg == "hmac-sha512" else hashlib.sha256
    time_fudge = struct.pack(">HIH", when >> 32, when & 0xFFFFFFFF, 300)
    tail_vars = struct.pack(">HH", error, len(other)) + other
    data = b""
    if req_mac:
        data += struct.pack(">H", len(req_mac)) + req_mac
    data += msg + name(KEY_NAME) + struct.pack(">HI", ANY, 0) + name(alg)
    data += time_fudge + tail_vars
    mac = hmac.new(SECRET, data, digest).digest() if signed else b""
    rdata = name(alg) + time_fudge + struct.pack(">H", len(mac)) + mac
    rdata += msg[:2] + tail_vars
    arcount = struct.unpack(">H", msg[10:12])[0] + 1
    msg = msg[:10] + struct.pack(">H", arcount) + msg[12:]
    return msg + rr(owner or name(KEY_NAME), TSIG, ANY, 0, rdata)


def update_request():
    msg = header(0x4242, 0x2800, 1, 1, 3) + name(ZONE) + struct.pack(">HH", SOA, 1)
    host = name("www." + ZONE)
    msg += rr(host, ANY, 254, 0, b"")
    msg += rr(host, CNAME, ANY, 0, b"")
    msg += rr(host, A, 1, 60, bytes([192, 0, 2, 1]))
    msg += rr(host, CNAME, 1, 60, name("web.example.org"))
    msg = msg[:8] + struct.pack(">H", 3) + msg[10:]
    return msg


SEEDS = {
    "signed_noerror": sign(reply(0)),
    "signed_sha512": sign(reply(0), alg="hmac-sha512"),
    "signed_yxdomain": sign(reply(6)),
    "signed_other_id": (lambda m: b"\x11\x22" + m[2:])(sign(reply(0))),
    "compressed_owner": sign(reply(0), owner=b"\xc0\x0c"),
    "badsig_unsigned": sign(reply(9), error=16, signed=False),
    "badkey_unsigned": sign(reply(9), error=17, signed=False),
    "badtime_signed": sign(reply(9), error=18,
                           other=struct.pack(">HI", 0, NOW + 3600)),
    "stale": sign(reply(0), when=NOW - 3600),
    "unsigned_notauth": reply(9),
    "unsigned_refused": reply(5),
    "no_request_mac": sign(reply(0), req_mac=b""),
    "update_request": update_request(),
    "update_request_signed": sign(update_request(), req_mac=b""),
    "transfer_like": header(1, 0x8400, 1, 3) + name(ZONE) +
        struct.pack(">HH", 252, 1) +
        rr(b"\xc0\x0c", A, 1, 60, bytes([10, 0, 0, 1])) +
        rr(name("a." + ZONE), CNAME, 1, 60, b"\x01b\xc0\x0c") +
        rr(b"\xc0\x0c", AAAA, 1, 60, bytes(16)),
    # Key-file text, as BIND and Knot write it.
    "keyfile_bind": b'key "ft-key" {\n\talgorithm hmac-sha256;\n'
                    b'\tsecret "c2VjcmV0LXNlY3JldC1zZWNyZXQ=";\n};\n',
    "keyfile_knot": b"# hmac-sha256:ft-key:c2VjcmV0LXNlY3JldC1zZWNyZXQ=\n"
                    b"key:\n  - id: ft-key\n    algorithm: hmac-sha256\n"
                    b"    secret: c2VjcmV0LXNlY3JldC1zZWNyZXQ=\n",
    "keyfile_mixed": b"options { a { b; }; }; /* c */ // d\n"
                     b"key x { algorithm hmac-sha512; secret \"QUJD\"; };\n"
                     b"hmac-sha256:y:QUJD\nserver:\n  listen: 1@2\n",
}

os.makedirs(OUT, exist_ok=True)
for seed, data in SEEDS.items():
    with open(os.path.join(OUT, seed), "wb") as f:
        f.write(data)
print("wrote %d seeds to %s" % (len(SEEDS), OUT))
