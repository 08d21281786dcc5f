"""Python bindings for libfailover through ctypes.

A thin layer over the C API: every call that returns a negative FO_E* code
raises FailoverError carrying the code and its symbolic name. Handles of
deleted groups and removed stacks stay safe to use (the C library keeps them
as tombstones until the registry is freed); they raise FO_EDELETED.

A registry is either in memory (Registry(zone)) or durable: opened on a
Store (Registry.open(Store.sqlite(path, create=True), zone)), where every
change is committed to the store before the call returns.

The shared library is found through the FO_LIBRARY environment variable, or
else the system's library search path.
"""

import contextlib
import ctypes
import ctypes.util
import os
import weakref

_path = os.environ.get("FO_LIBRARY") or ctypes.util.find_library("failover")
if not _path:
    raise ImportError("libfailover not found: set FO_LIBRARY to libfailover.so")
_lib = ctypes.CDLL(_path)

NAME_BUFSIZE = 256
SLOT_PRIMARY, SLOT_BACKUP = 0, 1
SERVER_WEB, SERVER_LOAD_BALANCER = 1, 2
MODE_CNAME, MODE_ADDRESS = 1, 2
FORCE = 1
STORE_CREATE, STORE_READONLY, STORE_SYNC_NORMAL = 1, 2, 4
STATES = {1: "reserved", 2: "serving", 3: "switching", 4: "deleted"}


class _Options(ctypes.Structure):
    _fields_ = [
        ("version", ctypes.c_uint),
        ("zone", ctypes.c_char_p),
        ("default_ttl", ctypes.c_uint32),
        ("host_name_template", ctypes.c_char_p),
        ("random", ctypes.c_void_p),
        ("random_userdata", ctypes.c_void_p),
        ("allocator", ctypes.c_void_p),
    ]


class _Record(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("ttl", ctypes.c_uint32),
        ("owner", ctypes.c_char * NAME_BUFSIZE),
        ("data", ctypes.c_char * NAME_BUFSIZE),
    ]


class _RRset(ctypes.Structure):
    _fields_ = [
        ("version", ctypes.c_uint),  # FO_RRSET_VERSION: the layout below
        ("count", ctypes.c_size_t),
        ("none", ctypes.c_int),
        ("records", _Record * 2),
    ]


_P = ctypes.c_void_p
_lib.fo_strerror.restype = ctypes.c_char_p
_lib.fo_err_name.restype = ctypes.c_char_p
_lib.fo_version_string.restype = ctypes.c_char_p
for _name, _args in {
    "fo_registry_options_init": [_P, ctypes.c_uint],
    "fo_registry_new": [ctypes.POINTER(_P), ctypes.POINTER(_Options)],
    "fo_registry_find_group": [_P, ctypes.c_char_p, ctypes.POINTER(_P)],
    "fo_registry_find_stack": [_P, ctypes.c_char_p, ctypes.POINTER(_P)],
    "fo_registry_group_count": [_P, ctypes.POINTER(ctypes.c_size_t)],
    "fo_stack_new": [ctypes.POINTER(_P), _P, ctypes.c_char_p],
    "fo_stack_remove": [_P],
    "fo_stack_rename": [_P, ctypes.c_char_p],
    "fo_stack_add_server": [_P, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p],
    "fo_group_create": [ctypes.POINTER(_P), _P, _P, _P],
    "fo_group_attach": [_P, ctypes.c_int, _P],
    "fo_group_detach": [_P, ctypes.c_int, ctypes.c_uint],
    "fo_group_switch": [_P, ctypes.c_int, ctypes.c_uint],
    "fo_group_settle": [_P],
    "fo_group_delete": [_P],
    "fo_group_state": [_P, ctypes.POINTER(ctypes.c_int)],
    "fo_group_address": [_P, ctypes.c_char_p, ctypes.c_size_t],
    "fo_group_records": [_P, ctypes.POINTER(_RRset)],
    "fo_rrset_format": [ctypes.POINTER(_RRset), ctypes.c_char_p, ctypes.c_size_t,
                        ctypes.POINTER(ctypes.c_size_t)],
    "fo_stack_id": [_P, ctypes.POINTER(ctypes.c_uint32)],
    "fo_store_sqlite_open": [ctypes.POINTER(_P), ctypes.c_char_p, ctypes.c_uint],
    "fo_registry_open": [ctypes.POINTER(_P), ctypes.POINTER(_Options), _P],
    "fo_registry_refresh": [_P],
    "fo_registry_revision": [_P, ctypes.POINTER(ctypes.c_uint64)],
    "fo_registry_poisoned": [_P],
    "fo_registry_batch_begin": [_P],
    "fo_registry_batch_commit": [_P],
}.items():
    getattr(_lib, _name).argtypes = _args
    getattr(_lib, _name).restype = ctypes.c_int
_lib.fo_registry_free.argtypes = [_P]
_lib.fo_registry_free.restype = None
_lib.fo_store_close.argtypes = [_P]
_lib.fo_store_close.restype = None


class FailoverError(Exception):
    """A negative FO_E* code returned by the library."""

    def __init__(self, code):
        self.code = code
        self.name = _lib.fo_err_name(code).decode()
        super().__init__("%s: %s" % (self.name, _lib.fo_strerror(code).decode()))


def _check(code):
    if code < 0:
        raise FailoverError(code)
    return code


def _bytes(text):
    return None if text is None else text.encode()


def version():
    return _lib.fo_version_string().decode()


def _options(zone, default_ttl, host_name_template):
    opts = _Options()
    _check(_lib.fo_registry_options_init(ctypes.byref(opts), 1))
    opts.zone = _bytes(zone)
    opts.default_ttl = default_ttl
    opts.host_name_template = _bytes(host_name_template)
    return opts


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
        ptr = _P()
        _check(_lib.fo_store_sqlite_open(ctypes.byref(ptr), os.fsencode(path), flags))
        return cls(ptr)

    def close(self):
        if self._ptr:
            for reg in list(self._registries):
                reg.close()
            _lib.fo_store_close(self._ptr)
            self._ptr = _P()

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Registry:
    """Owns every stack and group; freed by close() or when collected."""

    def __init__(self, zone, default_ttl=0, host_name_template=None):
        opts = _options(zone, default_ttl, host_name_template)
        self._store = None
        self._ptr = _P()
        _check(_lib.fo_registry_new(ctypes.byref(self._ptr), ctypes.byref(opts)))

    @classmethod
    def open(cls, store, zone=None, default_ttl=0, host_name_template=None):
        """A durable registry on `store` (fo_registry_open).

        An empty store (opened with create=True) is initialised from the
        arguments, and `zone` is then required. A store with state is loaded:
        `zone`, if given, must be its zone, and the stored TTL and host-name
        template win over the arguments.
        """
        opts = _options(zone, default_ttl, host_name_template)
        self = cls.__new__(cls)
        self._store = store  # the store must outlive the registry
        self._ptr = _P()
        _check(_lib.fo_registry_open(ctypes.byref(self._ptr), ctypes.byref(opts),
                                     store._ptr))
        store._registries.add(self)
        return self

    def close(self):
        if self._ptr:
            _lib.fo_registry_free(self._ptr)
            self._ptr = _P()

    def __del__(self):
        self.close()

    @property
    def revision(self):
        """The store revision this registry has seen (0 in memory)."""
        n = ctypes.c_uint64()
        _check(_lib.fo_registry_revision(self._ptr, ctypes.byref(n)))
        return n.value

    @property
    def poisoned(self):
        """True once a failed store commit made the registry refuse changes:
        close it and open it again from the store."""
        return _lib.fo_registry_poisoned(self._ptr) == 1

    def refresh(self):
        """Apply the commits other processes made since this registry's
        revision; a call that raised FO_ESTALE may then be retried."""
        _check(_lib.fo_registry_refresh(self._ptr))

    @contextlib.contextmanager
    def batch(self):
        """Make every change inside the block one store commit.

        FO_ESTALE comes on entering the block, before anything changed. A
        batch cannot be rolled back: leaving the block by an exception still
        commits what the block did.
        """
        _check(_lib.fo_registry_batch_begin(self._ptr))
        try:
            yield self
        finally:
            _check(_lib.fo_registry_batch_commit(self._ptr))

    def stack(self, name):
        out = _P()
        _check(_lib.fo_stack_new(ctypes.byref(out), self._ptr, _bytes(name)))
        return Stack(self, out)

    def group(self, primary=None, backup=None):
        out = _P()
        _check(_lib.fo_group_create(ctypes.byref(out), self._ptr,
                                    primary._ptr if primary else None,
                                    backup._ptr if backup else None))
        return Group(self, out)

    def find_group(self, address):
        out = _P()
        _check(_lib.fo_registry_find_group(self._ptr, _bytes(address), ctypes.byref(out)))
        return Group(self, out)

    def find_stack(self, name):
        out = _P()
        _check(_lib.fo_registry_find_stack(self._ptr, _bytes(name), ctypes.byref(out)))
        return Stack(self, out)

    def group_count(self):
        n = ctypes.c_size_t()
        _check(_lib.fo_registry_group_count(self._ptr, ctypes.byref(n)))
        return n.value


class Stack:
    def __init__(self, registry, ptr):
        self._registry = registry  # keeps the registry alive
        self._ptr = ptr

    @property
    def id(self):
        """The stack's stable id: kept across renames, never reused."""
        n = ctypes.c_uint32()
        _check(_lib.fo_stack_id(self._ptr, ctypes.byref(n)))
        return n.value

    def add_server(self, name, load_balancer=False, host_name=None):
        kind = SERVER_LOAD_BALANCER if load_balancer else SERVER_WEB
        _check(_lib.fo_stack_add_server(self._ptr, kind, _bytes(name), _bytes(host_name)))

    def rename(self, name):
        _check(_lib.fo_stack_rename(self._ptr, _bytes(name)))

    def remove(self):
        _check(_lib.fo_stack_remove(self._ptr))


class Group:
    def __init__(self, registry, ptr):
        self._registry = registry
        self._ptr = ptr

    @property
    def address(self):
        buf = ctypes.create_string_buffer(NAME_BUFSIZE)
        _check(_lib.fo_group_address(self._ptr, buf, NAME_BUFSIZE))
        return buf.value.decode()

    @property
    def state(self):
        s = ctypes.c_int()
        _check(_lib.fo_group_state(self._ptr, ctypes.byref(s)))
        return STATES[s.value]

    def attach(self, slot, stack):
        _check(_lib.fo_group_attach(self._ptr, slot, stack._ptr))

    def detach(self, slot, force=False):
        _check(_lib.fo_group_detach(self._ptr, slot, FORCE if force else 0))

    def switch(self, slot, force=False):
        _check(_lib.fo_group_switch(self._ptr, slot, FORCE if force else 0))

    def settle(self):
        _check(_lib.fo_group_settle(self._ptr))

    def delete(self):
        _check(_lib.fo_group_delete(self._ptr))

    def records(self):
        """The group's records as RFC 1035 presentation text ("" if none)."""
        rrset = _RRset(version=1)
        _check(_lib.fo_group_records(self._ptr, ctypes.byref(rrset)))
        buf = ctypes.create_string_buffer(2048)
        _check(_lib.fo_rrset_format(ctypes.byref(rrset), buf, len(buf), None))
        return buf.value.decode()
