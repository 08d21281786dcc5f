"""The model (registry, stacks, groups, records, change feed) and durable
registries on a store. Synchronous: no loop needed.

Handles of deleted groups and removed stacks stay safe to use (the C library
keeps them as tombstones until the registry is freed); they raise
FO_EDELETED.
"""

import collections
import contextlib
import ctypes
import os
import weakref

from . import _lib
from ._lib import Error, check, lib, to_bytes, text

SLOT_PRIMARY, SLOT_BACKUP = 0, 1
SERVER_WEB, SERVER_LOAD_BALANCER = 1, 2
MODE_CNAME, MODE_ADDRESS = 1, 2
FORCE = 1
STORE_CREATE, STORE_READONLY, STORE_SYNC_NORMAL = 1, 2, 4
STATES = {1: "reserved", 2: "serving", 3: "switching", 4: "deleted"}
MODES = {MODE_CNAME: "cname", MODE_ADDRESS: "address"}
_SLOTS = {"primary": SLOT_PRIMARY, "backup": SLOT_BACKUP,
          SLOT_PRIMARY: SLOT_PRIMARY, SLOT_BACKUP: SLOT_BACKUP}
_KINDS = {"web": SERVER_WEB, "load_balancer": SERVER_LOAD_BALANCER,
          SERVER_WEB: SERVER_WEB, SERVER_LOAD_BALANCER: SERVER_LOAD_BALANCER}


def slot_number(slot):
    """0/1, SLOT_PRIMARY/SLOT_BACKUP or "primary"/"backup" -> fo_slot."""
    try:
        return _SLOTS[slot]
    except (KeyError, TypeError):
        raise ValueError("slot must be 'primary', 'backup', 0 or 1, not %r"
                         % (slot,)) from None


def _mode_number(mode):
    for number, name in MODES.items():
        if mode in (number, name):
            return number
    raise ValueError("mode must be 'cname' or 'address', not %r" % (mode,))


Server = collections.namedtuple(
    "Server", "kind name host_name host_name_explicit ipv4 ipv6")
Server.__doc__ = "A server of a stack (fo_server_info); kind is 'web' or 'load_balancer'."

Target = collections.namedtuple("Target", "none mode ttl host_name ipv4 ipv6")
Target.__doc__ = ("What a group points at (fo_target). `none` is None when "
                  "the group has records, else why not ('reserved', "
                  "'deleted', 'no-web-head', 'no-address').")

Record = collections.namedtuple("Record", "owner ttl type data")

Change = collections.namedtuple(
    "Change", "group reason generation old_target new_target")
Change.__doc__ = ("One change-feed event: the group, the reason "
                  "('switch', 'create', ...), its new generation and the "
                  "targets before and after.")


def _server(info):
    return Server("load_balancer" if info.kind == SERVER_LOAD_BALANCER else "web",
                  text(info.name), text(info.host_name),
                  bool(info.host_name_explicit), text(info.ipv4), text(info.ipv6))


def _target(t):
    return Target(None if t.none == 0 else lib.fo_none_reason_name(t.none).decode(),
                  MODES.get(t.mode), t.ttl, text(t.host_name), text(t.ipv4),
                  text(t.ipv6))


def _registry_options(zone, default_ttl, host_name_template):
    opts = _lib.RegistryOptions()
    check(lib.fo_registry_options_init(ctypes.byref(opts), 1))
    opts.zone = to_bytes(zone)
    opts.default_ttl = default_ttl
    opts.host_name_template = to_bytes(host_name_template)
    return opts


# ---- the change feed: recorded inside C, delivered after the call returns ------

@_lib.CHANGE_FN
def _on_change(change, userdata):
    ref = _lib.lookup(userdata)
    reg = ref() if ref is not None else None
    if reg is None:
        return
    c = change.contents
    reg._events.append(Change(
        Group(reg, c.group), lib.fo_change_reason_name(c.reason).decode(),
        c.generation,
        _target(c.old_target.contents) if c.old_target else None,
        _target(c.new_target.contents) if c.new_target else None))


@_lib.WRITE_FN
def _on_write(data, size, userdata):
    chunks = _lib.lookup(userdata)
    chunks.append(ctypes.string_at(data, size))
    return 0


class Store:
    """A durable store (fo_store). Registries opened on it keep it alive;
    close() frees them first, as the C library requires."""

    def __init__(self, ptr):
        self._ptr = ptr
        self._registries = weakref.WeakSet()

    @classmethod
    def sqlite(cls, path, create=False, readonly=False, sync_normal=False):
        """Open (with create=True, create) the SQLite store file at `path`.

        sync_normal trades the last commits before a power loss for speed
        (PRAGMA synchronous=NORMAL); a process crash loses nothing either way.
        """
        flags = ((STORE_CREATE if create else 0) |
                 (STORE_READONLY if readonly else 0) |
                 (STORE_SYNC_NORMAL if sync_normal else 0))
        ptr = _lib.P()
        check(lib.fo_store_sqlite_open(ctypes.byref(ptr), os.fsencode(path), flags))
        return cls(ptr)

    @classmethod
    def etcd(cls, url, create=False, readonly=False):
        """Open (with create=True, create) a store kept in an etcd cluster:
        url is etcd://HOST:PORT[,HOST:PORT...]/PREFIX (fo_store_etcd_open)."""
        flags = ((STORE_CREATE if create else 0) |
                 (STORE_READONLY if readonly else 0))
        ptr = _lib.P()
        check(lib.fo_store_etcd_open(ctypes.byref(ptr), to_bytes(url), flags))
        return cls(ptr)

    @classmethod
    def open(cls, where, create=False, readonly=False):
        """Open an etcd:// URL or an SQLite path, as failoverctl --db does
        (fo_store_open)."""
        flags = ((STORE_CREATE if create else 0) |
                 (STORE_READONLY if readonly else 0))
        ptr = _lib.P()
        check(lib.fo_store_open(ctypes.byref(ptr), os.fsencode(where), flags))
        return cls(ptr)

    @property
    def revision(self):
        n = ctypes.c_uint64()
        check(lib.fo_store_revision(self._ptr, ctypes.byref(n)))
        return n.value

    def lease_acquire(self, holder, ttl_ms):
        """Take or renew the publisher lease; FO_ELOCKED while another holds
        it. Returns (holder, epoch, expires_ms)."""
        lease = _lib.StoreLease()
        check(lib.fo_store_lease_acquire(self._ptr, to_bytes(holder), ttl_ms,
                                         ctypes.byref(lease)))
        return lease.holder.decode(), lease.epoch, lease.expires_ms

    def lease_release(self, holder):
        check(lib.fo_store_lease_release(self._ptr, to_bytes(holder)))

    def lease_read(self):
        lease = _lib.StoreLease()
        check(lib.fo_store_lease_read(self._ptr, ctypes.byref(lease)))
        return lease.holder.decode(), lease.epoch, lease.expires_ms

    def close(self):
        if self._ptr:
            for reg in list(self._registries):
                reg.close()
            lib.fo_store_close(self._ptr)
            self._ptr = _lib.P()

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Registry:
    """Owns every stack and group; freed by close() or when collected.

    Engines (publishers) bound to the registry are told after every change
    made through this binding, so that their loop looks at the new work.
    """

    def __init__(self, zone, default_ttl=0, host_name_template=None):
        self._init()
        opts = _registry_options(zone, default_ttl, host_name_template)
        check(lib.fo_registry_new(ctypes.byref(self._ptr), ctypes.byref(opts)))

    @classmethod
    def open(cls, store, zone=None, default_ttl=0, host_name_template=None):
        """A durable registry on `store` (fo_registry_open).

        An empty store (opened with create=True) is initialised from the
        arguments, and `zone` is then required. A store with state is loaded:
        `zone`, if given, must be its zone, and the stored TTL and host-name
        template win over the arguments.
        """
        self = cls.__new__(cls)
        self._init()
        opts = _registry_options(zone, default_ttl, host_name_template)
        self._store = store  # the store must outlive the registry
        check(lib.fo_registry_open(ctypes.byref(self._ptr), ctypes.byref(opts),
                                   store._ptr))
        store._registries.add(self)
        return self

    def _init(self):
        self._store = None
        self._ptr = _lib.P()
        self._events = []        # change events recorded inside C calls
        self._subscribers = {}   # id -> callable
        self._feed_token = None  # our C subscription, while there are subscribers
        self._feed_id = ctypes.c_uint32()
        self._loops = weakref.WeakSet()  # uv loops of engines bound to us
        self._engines = weakref.WeakSet()  # open publishers: close them first
        self.agent = None        # set by failover.Agent

    def close(self):
        """Free the registry. Close its publishers (and agent) first."""
        if self._ptr:
            if any(not e.closed for e in self._engines):
                raise RuntimeError("close the publisher bound to this registry first")
            lib.fo_registry_free(self._ptr)
            self._ptr = _lib.P()
            if self._feed_token is not None:
                _lib.release(self._feed_token)
                self._feed_token = None

    def __del__(self):
        try:
            self.close()
        except RuntimeError:
            pass  # a publisher still holds it: leak rather than crash

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- after every call that may change something --------------------------

    def _call(self, fn, *args):
        """Call a changing C function; then deliver the change events it
        recorded and wake the loops of bound engines. Raises its error."""
        try:
            rc = fn(*args)
        finally:
            self._after_change()
        return check(rc)

    def _after_change(self):
        for loop in list(self._loops):
            loop.kick()
        self._deliver_events()

    def _deliver_events(self):
        first = None
        while self._events:
            events, self._events = self._events, []
            for change in events:
                for fn in list(self._subscribers.values()):
                    try:
                        fn(change)
                    except Exception as e:  # deliver the rest, raise the first
                        first = first or e
        if first is not None:
            raise first

    # ---- the change feed ------------------------------------------------------

    def subscribe(self, fn):
        """Call fn(Change) for every change of a group's desired records.

        Events are recorded while the C library delivers them and handed to
        `fn` after the changing call has returned (or, for changes made by
        the engines, after the loop's turn), never from inside C; so `fn` may
        change the registry. Returns an id for unsubscribe().
        """
        if self._feed_token is None:
            token = _lib.hold(weakref.ref(self))  # close() or collection ends it
            rc = lib.fo_registry_subscribe(self._ptr, _on_change, token,
                                           ctypes.byref(self._feed_id))
            if rc < 0:
                _lib.release(token)
                raise Error(rc)
            self._feed_token = token
        key = max(self._subscribers, default=0) + 1
        self._subscribers[key] = fn
        return key

    def unsubscribe(self, key):
        del self._subscribers[key]
        if not self._subscribers and self._feed_token is not None:
            check(lib.fo_registry_unsubscribe(self._ptr, self._feed_id.value))
            _lib.release(self._feed_token)
            self._feed_token = None

    # ---- durable registries --------------------------------------------------

    @property
    def revision(self):
        """The store revision this registry has seen (0 in memory)."""
        n = ctypes.c_uint64()
        check(lib.fo_registry_revision(self._ptr, ctypes.byref(n)))
        return n.value

    @property
    def poisoned(self):
        """True once a failed store commit made the registry refuse changes:
        close it and open it again from the store."""
        return lib.fo_registry_poisoned(self._ptr) == 1

    def refresh(self):
        """Apply the commits other processes made since this registry's
        revision; a call that raised FO_ESTALE may then be retried."""
        self._call(lib.fo_registry_refresh, self._ptr)

    @contextlib.contextmanager
    def batch(self):
        """Make every change inside the block one store commit.

        FO_ESTALE comes on entering the block, before anything changed. A
        batch cannot be rolled back: leaving the block by an exception still
        commits what the block did. Publishers send nothing while it is open.
        """
        check(lib.fo_registry_batch_begin(self._ptr))
        try:
            yield self
        finally:
            self._call(lib.fo_registry_batch_commit, self._ptr)

    # ---- objects ---------------------------------------------------------------

    @property
    def zone(self):
        out = ctypes.c_char_p()
        check(lib.fo_registry_zone(self._ptr, ctypes.byref(out)))
        return out.value.decode()

    @property
    def default_ttl(self):
        out = ctypes.c_uint32()
        check(lib.fo_registry_default_ttl(self._ptr, ctypes.byref(out)))
        return out.value

    def stack(self, name):
        """Create a stack."""
        out = _lib.P()
        self._call(lib.fo_stack_new, ctypes.byref(out), self._ptr, to_bytes(name))
        return Stack(self, out.value)

    def group(self, primary=None, backup=None):
        """Create a group with a fresh address."""
        out = _lib.P()
        self._call(lib.fo_group_create, ctypes.byref(out), self._ptr,
                   primary._ptr if primary else None,
                   backup._ptr if backup else None)
        return Group(self, out.value)

    def find_group(self, address):
        out = _lib.P()
        check(lib.fo_registry_find_group(self._ptr, to_bytes(address),
                                         ctypes.byref(out)))
        return Group(self, out.value)

    def find_stack(self, name):
        out = _lib.P()
        check(lib.fo_registry_find_stack(self._ptr, to_bytes(name),
                                         ctypes.byref(out)))
        return Stack(self, out.value)

    def find_stack_id(self, stack_id):
        out = _lib.P()
        check(lib.fo_registry_find_stack_id(self._ptr, stack_id, ctypes.byref(out)))
        return Stack(self, out.value)

    def group_count(self):
        n = ctypes.c_size_t()
        check(lib.fo_registry_group_count(self._ptr, ctypes.byref(n)))
        return n.value

    def stack_count(self):
        n = ctypes.c_size_t()
        check(lib.fo_registry_stack_count(self._ptr, ctypes.byref(n)))
        return n.value

    def groups(self):
        """Live groups in creation order."""
        g = lib.fo_registry_next_group(self._ptr, None)
        while g:
            yield Group(self, g)
            g = lib.fo_registry_next_group(self._ptr, g)

    def stacks(self):
        """Live stacks in creation order."""
        s = lib.fo_registry_next_stack(self._ptr, None)
        while s:
            yield Stack(self, s)
            s = lib.fo_registry_next_stack(self._ptr, s)

    def export_zone(self):
        """Every live group's records as a zone fragment (text)."""
        chunks = []
        token = _lib.hold(chunks)
        try:
            check(lib.fo_registry_export_zone(self._ptr, _on_write, token))
        finally:
            _lib.release(token)
        return b"".join(chunks).decode()


class _Handle:
    """A stack or group: a pointer into its registry, compared by identity."""

    __slots__ = ("_registry", "_ptr")

    def __init__(self, registry, ptr):
        self._registry = registry  # keeps the registry alive
        self._ptr = ptr if isinstance(ptr, int) else ptr.value if ptr else None

    @property
    def registry(self):
        return self._registry

    def __eq__(self, other):
        return type(other) is type(self) and other._ptr == self._ptr

    def __hash__(self):
        return hash((type(self), self._ptr))


class Stack(_Handle):
    __slots__ = ()

    def __repr__(self):
        try:
            return "<failover.Stack %s>" % self.name
        except Error as e:
            return "<failover.Stack (%s)>" % e.name

    @property
    def id(self):
        """The stack's stable id: kept across renames, never reused."""
        n = ctypes.c_uint32()
        check(lib.fo_stack_id(self._ptr, ctypes.byref(n)))
        return n.value

    @property
    def name(self):
        out = ctypes.c_char_p()
        check(lib.fo_stack_name(self._ptr, ctypes.byref(out)))
        return out.value.decode()

    def add_server(self, name, load_balancer=False, host_name=None,
                   ipv4=None, ipv6=None):
        """Append a web server (or load balancer); addresses optional."""
        kind = SERVER_LOAD_BALANCER if load_balancer else SERVER_WEB
        self._registry._call(lib.fo_stack_add_server, self._ptr, kind,
                             to_bytes(name), to_bytes(host_name))
        if ipv4 is not None or ipv6 is not None:
            self.set_server_addresses(name, ipv4, ipv6)

    def remove_server(self, name):
        self._registry._call(lib.fo_stack_remove_server, self._ptr, to_bytes(name))

    def rename_server(self, name, new_name):
        self._registry._call(lib.fo_stack_rename_server, self._ptr,
                             to_bytes(name), to_bytes(new_name))

    def set_server_host_name(self, name, host_name):
        self._registry._call(lib.fo_stack_set_server_host_name, self._ptr,
                             to_bytes(name), to_bytes(host_name))

    def set_server_addresses(self, name, ipv4=None, ipv6=None):
        self._registry._call(lib.fo_stack_set_server_addresses, self._ptr,
                             to_bytes(name), to_bytes(ipv4), to_bytes(ipv6))

    def server_id(self, name):
        n = ctypes.c_uint32()
        check(lib.fo_stack_server_id(self._ptr, to_bytes(name), ctypes.byref(n)))
        return n.value

    def servers(self, kind=None):
        """Servers as Server tuples: load balancers, then web servers (or
        one kind: 'web' or 'load_balancer')."""
        kinds = ([SERVER_LOAD_BALANCER, SERVER_WEB] if kind is None
                 else [_KINDS[kind]])
        out = []
        for k in kinds:
            n = ctypes.c_size_t()
            check(lib.fo_stack_server_count(self._ptr, k, ctypes.byref(n)))
            for i in range(n.value):
                info = _lib.ServerInfo(version=1)
                check(lib.fo_stack_server_at(self._ptr, k, i, ctypes.byref(info)))
                out.append(_server(info))
        return out

    def find_server(self, name):
        info = _lib.ServerInfo(version=1)
        check(lib.fo_stack_find_server(self._ptr, to_bytes(name), ctypes.byref(info)))
        return _server(info)

    def web_head(self):
        """The web head as a Server (FO_ENOWEBHEAD when the stack has none)."""
        info = _lib.ServerInfo(version=1)
        check(lib.fo_stack_web_head(self._ptr, ctypes.byref(info), None))
        return _server(info)

    def groups(self):
        """The groups holding the stack in either slot."""
        g = lib.fo_stack_next_group(self._ptr, None)
        out = []
        while g:
            out.append(Group(self._registry, g))
            g = lib.fo_stack_next_group(self._ptr, g)
        return out

    def rename(self, name):
        self._registry._call(lib.fo_stack_rename, self._ptr, to_bytes(name))

    def remove(self):
        self._registry._call(lib.fo_stack_remove, self._ptr)


class Group(_Handle):
    __slots__ = ()

    def __repr__(self):
        return "<failover.Group %s %s>" % (self.address, self.state)

    @property
    def address(self):
        buf = ctypes.create_string_buffer(_lib.NAME_BUFSIZE)
        check(lib.fo_group_address(self._ptr, buf, _lib.NAME_BUFSIZE))
        return buf.value.decode()

    @property
    def state(self):
        """'reserved', 'serving', 'switching' or 'deleted'."""
        s = ctypes.c_int()
        check(lib.fo_group_state(self._ptr, ctypes.byref(s)))
        return STATES[s.value]

    @property
    def active_slot(self):
        """'primary' or 'backup'."""
        s = ctypes.c_int()
        check(lib.fo_group_active_slot(self._ptr, ctypes.byref(s)))
        return "backup" if s.value == SLOT_BACKUP else "primary"

    def stack(self, slot):
        """The stack in `slot`, or None."""
        out = _lib.P()
        check(lib.fo_group_stack(self._ptr, slot_number(slot), ctypes.byref(out)))
        return Stack(self._registry, out.value) if out.value else None

    @property
    def generation(self):
        n = ctypes.c_uint64()
        check(lib.fo_group_generation(self._ptr, ctypes.byref(n)))
        return n.value

    @property
    def ttl(self):
        n = ctypes.c_uint32()
        check(lib.fo_group_ttl(self._ptr, ctypes.byref(n)))
        return n.value

    @ttl.setter
    def ttl(self, value):
        self._registry._call(lib.fo_group_set_ttl, self._ptr, value)

    @property
    def mode(self):
        """'cname' or 'address'."""
        n = ctypes.c_int()
        check(lib.fo_group_mode(self._ptr, ctypes.byref(n)))
        return MODES[n.value]

    @mode.setter
    def mode(self, value):
        self._registry._call(lib.fo_group_set_mode, self._ptr, _mode_number(value))

    def attach(self, slot, stack):
        self._registry._call(lib.fo_group_attach, self._ptr, slot_number(slot),
                             stack._ptr)

    def detach(self, slot, force=False):
        self._registry._call(lib.fo_group_detach, self._ptr, slot_number(slot),
                             FORCE if force else 0)

    def check_switch(self, slot, force=False):
        """None if switch(slot) would be allowed now, else the Error it would
        raise (fo_op_check(); nothing changes)."""
        op = _lib.Op()
        check(lib.fo_op_init(ctypes.byref(op), 1, 4))  # FO_OP_SWITCH
        op.group = self._ptr
        op.slot = slot_number(slot)
        op.flags = FORCE if force else 0
        rc = lib.fo_op_check(ctypes.byref(op))
        return Error(rc) if rc < 0 else None

    def switch(self, slot, force=False, **switchover):
        """Make `slot` ('primary', 'backup', 0 or 1) active.

        On a registry without an agent this is the model's switch only: the
        group is 'switching' until settle(). On a registry an Agent serves,
        it is the whole switchover (published, verified on every server,
        settled): the model switch happens now (refusals raise now) and the
        returned Switchover is awaited for its report:

            report = await group.switch("backup")

        Keyword arguments (until_ms, interval_ms, check, verifier) go to
        Agent.switch(); workflow=False asks for the model switch alone.
        """
        agent = self._registry.agent
        if switchover.pop("workflow", True) and agent is not None:
            return agent.switch(self, slot, force=force, **switchover)
        if switchover:
            raise TypeError("switchover options need an Agent: %s"
                            % ", ".join(switchover))
        self._registry._call(lib.fo_group_switch, self._ptr, slot_number(slot),
                             FORCE if force else 0)
        return None

    def settle(self):
        self._registry._call(lib.fo_group_settle, self._ptr)

    def delete(self):
        self._registry._call(lib.fo_group_delete, self._ptr)

    def target(self):
        """What the name points at now, as a Target."""
        t = _lib.Target(version=1)
        check(lib.fo_group_target(self._ptr, ctypes.byref(t)))
        return _target(t)

    def rrset(self):
        """The desired records as a list of Record(owner, ttl, type, data)."""
        s = _lib.RRset(version=1)
        check(lib.fo_group_records(self._ptr, ctypes.byref(s)))
        return [Record(r.owner.decode(), r.ttl,
                       lib.fo_rr_type_name(r.type).decode(), r.data.decode())
                for r in s.records[:s.count]]

    def records(self):
        """The group's records as RFC 1035 presentation text ("" if none)."""
        rrset = _lib.RRset(version=1)
        check(lib.fo_group_records(self._ptr, ctypes.byref(rrset)))
        buf = ctypes.create_string_buffer(2048)
        check(lib.fo_rrset_format(ctypes.byref(rrset), buf, len(buf), None))
        return buf.value.decode()
