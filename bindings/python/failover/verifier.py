"""The DNS verifier: asks every server what a name points at."""

import asyncio
import collections
import ctypes

from . import _lib
from ._lib import Error, check, lib, to_bytes, text
from .uv import Loop, Operation

EXPECT_CNAME, EXPECT_ADDRESSES, EXPECT_NONE = 1, 2, 3
VERIFY_PROMISE_MS = 300000
ETIMEDOUT = -29
ECLOSING = -31

ServerAnswer = collections.namedtuple(
    "ServerAnswer", "server status rcode authoritative chain chain_ttls "
    "addresses ttl rtt_ms first_match_ms rounds")
ServerAnswer.__doc__ = (
    "What one server said: status ('match', 'mismatch', 'nxdomain', ...), "
    "the CNAME chain from the name asked, the addresses at its end, TTL, "
    "timings (ms; first_match_ms -1 if it never matched).")


class VerifyResult:
    """The outcome of a check. `error` is 0 (completed) or FO_ETIMEDOUT (the
    deadline passed; the answers are the last ones); `ok` is True when every
    server matched. `servers` lists each server's ServerAnswer, in option
    order."""

    def __init__(self, name, error, status, elapsed_ms, converged_ms, servers):
        self.name = name
        self.error = error
        self.error_name = lib.fo_err_name(error).decode()
        self.status = status
        self.elapsed_ms = elapsed_ms
        self.converged_ms = converged_ms
        self.servers = servers

    @property
    def ok(self):
        return self.error == 0 and self.status == "match"

    def __repr__(self):
        return "<VerifyResult %s %s %s>" % (self.name, self.status, self.error_name)


def _status_name(status):
    return lib.fo_verify_status_name(status).decode()


def _strings(array, n):
    return [array[i].decode() for i in range(n)]


def _copy_result(r):
    """Everything of a fo_verify_result, copied while C still holds it."""
    servers = []
    for i in range(r.server_count):
        a = lib.fo_verify_result_server(ctypes.byref(r), i).contents
        hops = max(a.chain_length, 1) - 1
        servers.append(ServerAnswer(
            text(a.server), _status_name(a.status), a.rcode, bool(a.authoritative),
            _strings(a.chain, a.chain_length),
            [a.chain_ttls[k] for k in range(hops)] if hops else [],
            _strings(a.addresses, a.address_count), a.ttl, a.rtt_ms,
            a.first_match_ms, a.rounds))
    return VerifyResult(text(r.name), r.error, _status_name(r.status),
                        r.elapsed_ms, r.converged_ms, servers)


@_lib.VERIFY_FN
def _on_verified(result, userdata):
    check_ = _lib.lookup(userdata)
    if check_ is not None:
        try:
            outcome = _copy_result(result.contents)
        except Exception as e:  # never let an exception cross into C
            outcome = e
        check_._fire(outcome)


@_lib.CLOSED_FN
def _on_closed(userdata):
    fut = _lib.release(userdata)
    if fut is not None and not fut.done():
        fut.get_loop().call_soon(
            lambda: fut.done() or fut.set_result(None))


class Check(Operation):
    """A pending check; await it for a VerifyResult."""

    def _cancel_c(self):
        check(lib.fo_check_cancel(self._handle))

    def _result(self, outcome):
        if isinstance(outcome, Exception):
            raise outcome
        if outcome.error not in (0, ETIMEDOUT):
            raise Error(outcome.error, "check of %s" % outcome.name)
        return outcome


def _params(until_ms, interval_ms):
    p = _lib.VerifyParams(version=1)  # FO_VERIFY_PARAMS_INIT
    p.until_ms = until_ms
    p.interval_ms = interval_ms
    return p


class Verifier:
    """A verifier on a Loop (fo_verifier_new). `servers` are "IP",
    "IP:port" or "[v6]:port" strings (authoritative servers: recursion off
    unless recursion_desired)."""

    def __init__(self, loop, servers, timeout_ms=0, tries=0, max_in_flight=0,
                 recursion_desired=False, use_tcp=False):
        if isinstance(servers, str):
            servers = [servers]
        self.loop = loop
        self.servers = list(servers)
        self._ptr = _lib.P()
        self._closing = None
        opts = _lib.VerifierOptions()
        check(lib.fo_verifier_options_init(ctypes.byref(opts), 1))
        array = (ctypes.c_char_p * max(len(self.servers), 1))(
            *[to_bytes(s) for s in self.servers])
        opts.servers = ctypes.cast(array, _lib.c_str_array)
        opts.server_count = len(self.servers)
        opts.timeout_ms = timeout_ms
        opts.tries = tries
        opts.max_in_flight = max_in_flight
        opts.recursion_desired = int(bool(recursion_desired))
        opts.use_tcp = int(bool(use_tcp))
        try:
            check(lib.fo_verifier_new(ctypes.byref(self._ptr), loop.ptr,
                                      ctypes.byref(opts)))
        finally:
            loop.kick()  # a failure may leave handles to release
        loop.engines.add(self)

    @property
    def closed(self):
        """True once close() finished."""
        return self._closing is not None and self._closing.done()

    def _live(self):
        """The C handle; FO_ECLOSING once close() began (after it, the
        memory is gone)."""
        if self._closing is not None:
            raise Error(ECLOSING)
        return self._ptr

    @property
    def pending(self):
        """Checks started and not yet called back."""
        n = ctypes.c_size_t()
        check(lib.fo_verifier_pending(self._live(), ctypes.byref(n)))
        return n.value

    def verify(self, name, *, cname=None, addresses=None, none=False,
               until_ms=0, interval_ms=0):
        """Check `name` on every server against one expectation: a CNAME to
        `cname`, the A/AAAA set `addresses`, or (none=True) no records.
        until_ms=0 asks once; otherwise until all match or the deadline
        (FO_VERIFY_PROMISE_MS is the product's promise). Returns a Check
        to await for the VerifyResult; a refused check raises now."""
        given = (cname is not None) + (addresses is not None) + bool(none)
        if given != 1:
            raise ValueError("give exactly one of cname=, addresses=, none=True")
        expect = _lib.Expectation(version=1)  # FO_EXPECTATION_INIT
        keep = None
        if cname is not None:
            expect.kind = EXPECT_CNAME
            expect.target = to_bytes(cname)
        elif addresses is not None:
            addresses = [addresses] if isinstance(addresses, str) else list(addresses)
            keep = (ctypes.c_char_p * max(len(addresses), 1))(
                *[to_bytes(a) for a in addresses])
            expect.kind = EXPECT_ADDRESSES
            expect.addresses = ctypes.cast(keep, _lib.c_str_array)
            expect.address_count = len(addresses)
        else:
            expect.kind = EXPECT_NONE
        params = _params(until_ms, interval_ms)
        op = Check(self.loop)
        rc = lib.fo_verify_name(ctypes.byref(op._handle), self._live(),
                                to_bytes(name), ctypes.byref(expect),
                                ctypes.byref(params), _on_verified, op._begin())
        del keep  # the expectation is copied by the call
        if rc < 0:
            op._refused(rc)
        self.loop.kick()
        return op

    def verify_group(self, group, *, until_ms=0, interval_ms=0):
        """Check a group's name against its desired records right now."""
        params = _params(until_ms, interval_ms)
        op = Check(self.loop)
        rc = lib.fo_verify_group(ctypes.byref(op._handle), self._live(), group._ptr,
                                 ctypes.byref(params), _on_verified, op._begin())
        if rc < 0:
            op._refused(rc)
        self.loop.kick()
        return op

    async def close(self):
        """Close: pending checks end with FO_ECANCELED; returns once the
        engine released everything."""
        if self._closing is None:
            fut = self.loop.aio.create_future()
            self._closing = fut
            token = _lib.hold(fut)
            lib.fo_verifier_close(self._ptr, _on_closed, token)
            self.loop.kick()
        await asyncio.shield(self._closing)
        self.loop.engines.discard(self)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()


async def verify(name, servers, *, cname=None, addresses=None, none=False,
                 until_ms=0, interval_ms=0, **verifier_options):
    """One check on a verifier of its own, in the running asyncio loop:

        result = await failover.verify(name, ["127.0.0.1:5300"], cname=target)
    """
    async with Loop() as loop:
        v = Verifier(loop, servers, **verifier_options)
        try:
            return await v.verify(name, cname=cname, addresses=addresses,
                                  none=none, until_ms=until_ms,
                                  interval_ms=interval_ms)
        finally:
            await v.close()
