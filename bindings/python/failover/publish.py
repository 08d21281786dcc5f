"""The publisher: keeps the zone's primary in step with a registry (RFC 2136
UPDATEs signed with TSIG), reconciles with what the zone holds, and tells
when a group's change is confirmed."""

import asyncio
import collections
import ctypes

from . import _lib
from ._lib import Error, check, lib, to_bytes, text
from .model import Group
from .tsig import TsigKey
from .uv import Operation

PUBLISH_STATES = {1: "published", 2: "pending", 3: "in-flight", 4: "failed"}
PLAN_ACTIONS = {1: "create", 2: "change", 3: "delete"}

PublishStatus = collections.namedtuple(
    "PublishStatus", "state generation published_generation error error_name")
PublishStatus.__doc__ = (
    "Where a group stands with the publisher: state ('published', "
    "'pending', 'in-flight', 'failed'), its generation now, the last one "
    "the server confirmed, and why it failed (0 / 'FO_OK' otherwise).")

PlanEntry = collections.namedtuple("PlanEntry", "action name group current desired")
PlanEntry.__doc__ = (
    "One name of a reconcile plan: action ('create', 'change', 'delete'), "
    "the group's address, the Group (None for a deleted one) and the "
    "presentation lines in the zone now and wanted.")


class Plan:
    """A reconcile plan: how the zone differs from the registry. Iterable
    over its PlanEntry items; `applied` says whether they were queued."""

    def __init__(self, error, zone_records, owned_names, entries, applied):
        self.error = error
        self.zone_records = zone_records
        self.owned_names = owned_names
        self.entries = entries
        self.applied = applied

    def __len__(self):
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    def __repr__(self):
        return "<Plan %d entries of %d owned names%s>" % (
            len(self.entries), self.owned_names, " applied" if self.applied else "")


# ---- trampolines: record, then hand over to asyncio ------------------------------

@_lib.PLAN_FN
def _on_plan(plan, userdata):
    op = _lib.lookup(userdata)
    if op is None:
        return
    try:
        p = plan.contents
        entries = []
        for i in range(p.count):
            e = lib.fo_plan_entry_at(plan, i).contents
            entries.append(PlanEntry(
                PLAN_ACTIONS.get(e.action, str(e.action)), text(e.name),
                Group(op.registry, e.group) if e.group else None,
                text(e.current) or "", text(e.desired) or ""))
        outcome = Plan(p.error, p.zone_records, p.owned_names, entries, op.apply)
    except Exception as e:
        outcome = e
    op._fire(outcome)


@_lib.WATCH_FN
def _on_watch(group, generation, error, userdata):
    op = _lib.lookup(userdata)
    if op is not None:
        op._fire((generation, error))


@_lib.PUBLISHED_FN
def _on_published(group, generation, userdata):
    pub = _lib.lookup(userdata)
    if pub is not None and pub._on_published is not None:
        pub.loop.aio.call_soon(pub._on_published,
                               Group(pub.registry, group), generation)


@_lib.PUBLISH_ERROR_FN
def _on_error(error, userdata):
    pub = _lib.lookup(userdata)
    if pub is not None and pub._on_error is not None:
        pub.loop.aio.call_soon(pub._on_error, Error(error))


@_lib.CLOSED_FN
def _on_closed(userdata):
    pub = _lib.release(userdata)
    if pub is not None:
        pub.loop.aio.call_soon(pub._closed)


class Reconcile(Operation):
    """A running reconcile; await it for the Plan. C has no way to cancel
    one: cancelling the awaiting task only stops waiting."""

    def __init__(self, loop, registry, apply):
        super().__init__(loop)
        self.registry = registry
        self.apply = bool(apply)

    def cancel(self):
        return False

    def _result(self, plan):
        if isinstance(plan, Exception):
            raise plan
        if plan.error:
            raise Error(plan.error, "reconcile")
        return plan


class Watch(Operation):
    """A watch on a group's generation; await it for the generation the
    server confirmed (the one watched or a later one)."""

    def _cancel_c(self):
        check(lib.fo_publish_watch_cancel(self._handle))

    def _result(self, outcome):
        generation, error = outcome
        if error:
            raise Error(error, "publishing")
        return generation


def _key(key):
    """A TsigKey, or a key file path (the first key in it)."""
    return key if isinstance(key, TsigKey) else TsigKey.load(key)


class Publisher:
    """A publisher for `registry` on a Loop (fo_publisher_new). It follows
    the registry's change feed from now on; reconcile() (or publish_all())
    brings the zone in step with what existed before.

    `key` is a TsigKey or the path of a BIND/Knot key file. fence_epoch
    (the store lease's epoch) makes the zone refuse this publisher's
    UPDATEs once a newer leader claimed the fence (see <failover/publish.h>).
    on_published(
    group, generation) and on_error(Error) are called from the asyncio loop,
    after the C library reported them.
    """

    def __init__(self, loop, registry, server, key, timeout_ms=0, batch_groups=0,
                 max_in_flight=0, retry_min_ms=0, retry_max_ms=0,
                 on_published=None, on_error=None, fence_epoch=0,
                 fence_name=None):
        self.loop = loop
        self.registry = registry
        self.server = server
        self._on_published = on_published
        self._on_error = on_error
        self._ptr = _lib.P()
        self._closing = None
        tsig = _key(key)
        opts = _lib.PublisherOptions()
        check(lib.fo_publisher_options_init(ctypes.byref(opts), 3))
        opts.server = to_bytes(server)
        opts.key = tsig._ptr
        opts.timeout_ms = timeout_ms
        opts.batch_groups = batch_groups
        opts.max_in_flight = max_in_flight
        opts.retry_min_ms = retry_min_ms
        opts.retry_max_ms = retry_max_ms
        # Fencing (publish.h): a leader passes its lease's epoch; a deposed
        # one's UPDATEs are then refused by the server (FO_EFENCED).
        opts.fence_epoch = fence_epoch
        opts.fence_name = to_bytes(fence_name)
        if on_published is not None:
            opts.on_published = _on_published
        opts.on_error = _on_error
        self._token = _lib.hold(self)  # until the closed callback
        opts.userdata = self._token
        try:
            rc = lib.fo_publisher_new(ctypes.byref(self._ptr), loop.ptr,
                                      registry._ptr, ctypes.byref(opts))
        finally:
            if tsig is not key:
                tsig.close()  # copied by the publisher
            loop.kick()
        if rc < 0:
            _lib.release(self._token)
            raise Error(rc)
        loop.engines.add(self)
        loop.registries.add(registry)
        registry._loops.add(loop)
        registry._engines.add(self)

    @property
    def closed(self):
        """True once close() finished."""
        return self._closing is not None and self._closing.done()

    def _live(self):
        """The C handle; FO_ECLOSING once close() began (after it, the
        memory is gone)."""
        if self._closing is not None:
            raise Error(-31)  # FO_ECLOSING
        return self._ptr

    # ---- state -----------------------------------------------------------------

    @property
    def error(self):
        """0 while running, else the code it stopped on."""
        return lib.fo_publisher_error(self._live())

    @property
    def pending(self):
        """Groups whose current generation is not confirmed yet."""
        n = ctypes.c_size_t()
        check(lib.fo_publisher_pending(self._live(), ctypes.byref(n)))
        return n.value

    def status(self, group):
        """The group's PublishStatus."""
        st = _lib.PublishStatus(version=1)  # FO_PUBLISH_STATUS_INIT
        check(lib.fo_publisher_group_status(self._live(), group._ptr, ctypes.byref(st)))
        return PublishStatus(PUBLISH_STATES.get(st.state, str(st.state)),
                             st.generation, st.published_generation, st.error,
                             lib.fo_err_name(st.error).decode())

    # ---- control ---------------------------------------------------------------

    def publish_all(self):
        """Queue every live group."""
        try:
            check(lib.fo_publisher_publish_all(self._live()))
        finally:
            self.loop.kick()

    def set_key(self, key):
        """Replace the key (e.g. after FO_EBADKEY); then resume()."""
        tsig = _key(key)
        try:
            check(lib.fo_publisher_set_key(self._live(), tsig._ptr))
        finally:
            if tsig is not key:
                tsig.close()

    def resume(self):
        """After a stop: send everything pending again."""
        try:
            check(lib.fo_publisher_resume(self._live()))
        finally:
            self.loop.kick()

    def reconcile(self, apply=False):
        """Read the zone (AXFR), compare every owned name with the registry
        and, with apply=True, queue what differs. Returns a Reconcile to
        await for the Plan (FO_EBUSY while another runs)."""
        op = Reconcile(self.loop, self.registry, apply)
        rc = lib.fo_publisher_reconcile(self._live(), int(bool(apply)), _on_plan,
                                        op._begin())
        if rc < 0:
            op._refused(rc)
        self.loop.kick()
        return op

    def published(self, group, generation=None):
        """A Watch that completes once the server confirmed `generation` of
        `group` (default: its generation now) or a later one; it raises the
        publisher's stop code (FO_EBADKEY, ...) if it stops first."""
        if generation is None:
            generation = group.generation
        op = Watch(self.loop)
        rc = lib.fo_publisher_watch(ctypes.byref(op._handle), self._live(),
                                    group._ptr, generation, _on_watch, op._begin())
        if rc < 0:
            op._refused(rc)
        self.loop.kick()
        return op

    # ---- closing ---------------------------------------------------------------

    def _closed(self):
        if not self._closing.done():
            self._closing.set_result(None)

    async def close(self):
        """Stop: pending watches end with FO_ECANCELED, unpublished changes
        are dropped (the registry keeps them); returns once the engine
        released everything. Close it before the registry."""
        if self._closing is None:
            self._closing = self.loop.aio.create_future()
            lib.fo_publisher_close(self._ptr, _on_closed, self._token)
            self.loop.kick()
        await asyncio.shield(self._closing)
        self.loop.engines.discard(self)
        if not any(getattr(e, "registry", None) is self.registry
                   for e in self.loop.engines):
            self.loop.registries.discard(self.registry)
            self.registry._loops.discard(self.loop)
        self.registry._engines.discard(self)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()
