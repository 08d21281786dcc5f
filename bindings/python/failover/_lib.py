"""The shared library, the C structs mirrored in ctypes, and errors.

Every struct the caller allocates starts with `unsigned int version`: the
mirrors below are version 1 of each, field for field, and the library is told
so (version=1). Structs the library allocates and hands to callbacks (verify
results, plans, switchover reports) are read through pointers and their
arrays through the accessor functions, never by indexing.
"""

import ctypes
import ctypes.util
import os

_path = os.environ.get("FO_LIBRARY") or ctypes.util.find_library("failover")
if not _path:
    raise ImportError("libfailover not found: set FO_LIBRARY to libfailover.so")
lib = ctypes.CDLL(_path)

P = ctypes.c_void_p
PP = ctypes.POINTER(ctypes.c_void_p)
c_int, c_uint, c_u32, c_u64, c_size, c_char_p, c_double = (
    ctypes.c_int, ctypes.c_uint, ctypes.c_uint32, ctypes.c_uint64,
    ctypes.c_size_t, ctypes.c_char_p, ctypes.c_double)
c_str_array = ctypes.POINTER(ctypes.c_char_p)

NAME_BUFSIZE = 256
RRSET_MAX = 2


class Error(Exception):
    """A negative FO_E* code from libfailover.

    .code is the number (FO_ESTALE is -39), .name the symbolic name
    ("FO_ESTALE", from fo_err_name()) and .message fo_strerror()'s text.
    """

    def __init__(self, code, message=None):
        self.code = code
        self.name = lib.fo_err_name(code).decode()
        self.message = lib.fo_strerror(code).decode()
        text = "%s: %s" % (self.name, self.message)
        if message:
            text = "%s (%s)" % (text, message)
        super().__init__(text)


def check(code):
    if code < 0:
        raise Error(code)
    return code


def to_bytes(value):
    """str (or bytes) to bytes for a const char * argument; None stays NULL."""
    if value is None or isinstance(value, bytes):
        return value
    return value.encode()


def text(b):
    return None if b is None else b.decode()


# ---- structs the caller allocates (version 1 of each) ------------------------

# Allocator and random-source hooks are always NULL here (P fields).
class RegistryOptions(ctypes.Structure):
    _fields_ = [
        ("version", c_uint),
        ("zone", c_char_p),
        ("default_ttl", c_u32),
        ("host_name_template", c_char_p),
        ("random", P),
        ("random_userdata", P),
        ("allocator", P),
    ]


class ServerInfo(ctypes.Structure):
    _fields_ = [
        ("version", c_uint),
        ("kind", c_int),
        ("name", c_char_p),
        ("host_name", c_char_p),
        ("host_name_explicit", c_int),
        ("ipv4", c_char_p),
        ("ipv6", c_char_p),
    ]


class Op(ctypes.Structure):
    _fields_ = [
        ("version", c_uint),
        ("kind", c_int),
        ("registry", P),
        ("group", P),
        ("stack", P),
        ("primary", P),
        ("backup", P),
        ("slot", c_int),
        ("flags", c_uint),
    ]


class Target(ctypes.Structure):
    _fields_ = [
        ("version", c_uint),
        ("none", c_int),
        ("mode", c_int),
        ("ttl", c_u32),
        ("host_name", c_char_p),
        ("ipv4", c_char_p),
        ("ipv6", c_char_p),
    ]


class Record(ctypes.Structure):  # part of fo_rrset's version-1 layout
    _fields_ = [
        ("type", c_int),
        ("ttl", c_u32),
        ("owner", ctypes.c_char * NAME_BUFSIZE),
        ("data", ctypes.c_char * NAME_BUFSIZE),
    ]


class RRset(ctypes.Structure):
    _fields_ = [
        ("version", c_uint),
        ("count", c_size),
        ("none", c_int),
        ("records", Record * RRSET_MAX),
    ]


class Expectation(ctypes.Structure):
    _fields_ = [
        ("version", c_uint),
        ("kind", c_int),
        ("target", c_char_p),
        ("addresses", c_str_array),
        ("address_count", c_size),
    ]


class VerifierOptions(ctypes.Structure):
    _fields_ = [
        ("version", c_uint),
        ("servers", c_str_array),
        ("server_count", c_size),
        ("timeout_ms", c_u32),
        ("tries", c_u32),
        ("max_in_flight", c_u32),
        ("recursion_desired", c_int),
        ("use_tcp", c_int),
        ("allocator", P),
    ]


class VerifyParams(ctypes.Structure):
    _fields_ = [
        ("version", c_uint),
        ("until_ms", c_u32),
        ("interval_ms", c_u32),
    ]


class PublishStatus(ctypes.Structure):
    _fields_ = [
        ("version", c_uint),
        ("state", c_int),
        ("generation", c_u64),
        ("published_generation", c_u64),
        ("error", c_int),
    ]


# Callback types (userdata last, as a void * that carries a token).
CLOSED_FN = ctypes.CFUNCTYPE(None, P)
PUBLISHED_FN = ctypes.CFUNCTYPE(None, P, c_u64, P)
PUBLISH_ERROR_FN = ctypes.CFUNCTYPE(None, c_int, P)


class PublisherOptions(ctypes.Structure):
    _fields_ = [
        ("version", c_uint),
        ("server", c_char_p),
        ("key", P),
        ("timeout_ms", c_u32),
        ("batch_groups", c_u32),
        ("max_in_flight", c_u32),
        ("retry_min_ms", c_u32),
        ("retry_max_ms", c_u32),
        ("on_published", PUBLISHED_FN),
        ("on_error", PUBLISH_ERROR_FN),
        ("userdata", P),
        ("allocator", P),
        # version 2
        ("secondaries", ctypes.POINTER(c_char_p)),
        ("secondary_count", c_size),
        ("notify_key", P),
        ("tcp_wait_ms", c_u32),
        # version 3
        ("fence_epoch", c_u64),
        ("fence_name", c_char_p),
    ]


class SwitchoverOptions(ctypes.Structure):
    _fields_ = [
        ("version", c_uint),
        ("flags", c_uint),
        ("until_ms", c_u32),
        ("interval_ms", c_u32),
    ]


class StoreLease(ctypes.Structure):
    _fields_ = [
        ("holder", ctypes.c_char * 64),
        ("epoch", c_u64),
        ("expires_ms", ctypes.c_int64),
    ]


# ---- structs the library allocates (read through pointers) -------------------

class Change(ctypes.Structure):
    _fields_ = [
        ("group", P),
        ("reason", c_int),
        ("generation", c_u64),
        ("old_target", ctypes.POINTER(Target)),
        ("new_target", ctypes.POINTER(Target)),
    ]


class ServerAnswer(ctypes.Structure):
    _fields_ = [
        ("server", c_char_p),
        ("status", c_int),
        ("rcode", c_int),
        ("authoritative", c_int),
        ("chain_length", c_size),
        ("chain", c_str_array),
        ("chain_ttls", ctypes.POINTER(c_u32)),
        ("address_count", c_size),
        ("addresses", c_str_array),
        ("ttl", c_u32),
        ("rtt_ms", c_double),
        ("first_match_ms", c_double),
        ("rounds", c_u32),
    ]


class VerifyResult(ctypes.Structure):
    _fields_ = [
        ("name", c_char_p),
        ("error", c_int),
        ("status", c_int),
        ("elapsed_ms", c_double),
        ("converged_ms", c_double),
        ("server_count", c_size),
    ]


class PlanEntry(ctypes.Structure):
    _fields_ = [
        ("action", c_int),
        ("name", c_char_p),
        ("group", P),
        ("current", c_char_p),
        ("desired", c_char_p),
    ]


class Plan(ctypes.Structure):
    _fields_ = [
        ("error", c_int),
        ("zone_records", c_size),
        ("owned_names", c_size),
        ("count", c_size),
    ]


class SwitchoverGroupResult(ctypes.Structure):
    _fields_ = [
        ("group", P),
        ("error", c_int),
        ("published_ms", c_double),
        ("all_matched_ms", c_double),
    ]


class SwitchoverReport(ctypes.Structure):
    _fields_ = [
        ("error", c_int),
        ("groups", c_size),
        ("failed", c_size),
        ("ttl", c_u32),
        ("published_ms", c_double),
        ("first_match_ms", c_double),
        ("all_matched_ms", c_double),
        ("resolvers_follow_ms", c_double),
    ]


CHANGE_FN = ctypes.CFUNCTYPE(None, ctypes.POINTER(Change), P)
WRITE_FN = ctypes.CFUNCTYPE(c_int, ctypes.POINTER(ctypes.c_char), c_size, P)
VERIFY_FN = ctypes.CFUNCTYPE(None, ctypes.POINTER(VerifyResult), P)
PLAN_FN = ctypes.CFUNCTYPE(None, ctypes.POINTER(Plan), P)
WATCH_FN = ctypes.CFUNCTYPE(None, P, c_u64, c_int, P)
SWITCHOVER_FN = ctypes.CFUNCTYPE(None, ctypes.POINTER(SwitchoverReport), P)

# ---- prototypes ---------------------------------------------------------------

_ptr = ctypes.POINTER
_INT = {
    # registry
    "fo_registry_options_init": [_ptr(RegistryOptions), c_uint],
    "fo_registry_new": [PP, _ptr(RegistryOptions)],
    "fo_registry_zone": [P, _ptr(c_char_p)],
    "fo_registry_default_ttl": [P, _ptr(c_u32)],
    "fo_registry_group_count": [P, _ptr(c_size)],
    "fo_registry_stack_count": [P, _ptr(c_size)],
    "fo_registry_find_group": [P, c_char_p, PP],
    "fo_registry_find_stack": [P, c_char_p, PP],
    # stacks
    "fo_stack_new": [PP, P, c_char_p],
    "fo_stack_remove": [P],
    "fo_stack_check_remove": [P],
    "fo_stack_rename": [P, c_char_p],
    "fo_stack_name": [P, _ptr(c_char_p)],
    "fo_stack_add_server": [P, c_int, c_char_p, c_char_p],
    "fo_stack_remove_server": [P, c_char_p],
    "fo_stack_rename_server": [P, c_char_p, c_char_p],
    "fo_stack_set_server_host_name": [P, c_char_p, c_char_p],
    "fo_stack_set_server_addresses": [P, c_char_p, c_char_p, c_char_p],
    "fo_stack_server_count": [P, c_int, _ptr(c_size)],
    "fo_stack_server_at": [P, c_int, c_size, _ptr(ServerInfo)],
    "fo_stack_find_server": [P, c_char_p, _ptr(ServerInfo)],
    "fo_stack_web_head": [P, _ptr(ServerInfo), _ptr(c_int)],
    "fo_stack_group_count": [P, _ptr(c_size)],
    # groups
    "fo_op_init": [_ptr(Op), c_uint, c_int],
    "fo_op_check": [_ptr(Op)],
    "fo_op_apply": [_ptr(Op), PP],
    "fo_group_create": [PP, P, P, P],
    "fo_group_attach": [P, c_int, P],
    "fo_group_detach": [P, c_int, c_uint],
    "fo_group_switch": [P, c_int, c_uint],
    "fo_group_settle": [P],
    "fo_group_delete": [P],
    "fo_group_set_ttl": [P, c_u32],
    "fo_group_set_mode": [P, c_int],
    "fo_group_state": [P, _ptr(c_int)],
    "fo_group_address": [P, c_char_p, c_size],
    "fo_group_stack": [P, c_int, PP],
    "fo_group_active_slot": [P, _ptr(c_int)],
    "fo_group_ttl": [P, _ptr(c_u32)],
    "fo_group_mode": [P, _ptr(c_int)],
    "fo_group_generation": [P, _ptr(c_u64)],
    # records, feed
    "fo_group_target": [P, _ptr(Target)],
    "fo_group_records": [P, _ptr(RRset)],
    "fo_rrset_format": [_ptr(RRset), c_char_p, c_size, _ptr(c_size)],
    "fo_registry_export_zone": [P, WRITE_FN, P],
    "fo_registry_subscribe": [P, CHANGE_FN, P, _ptr(c_u32)],
    "fo_registry_unsubscribe": [P, c_u32],
    # store
    "fo_store_sqlite_open": [PP, c_char_p, c_uint],
    "fo_store_etcd_open": [PP, c_char_p, c_uint],
    "fo_store_open": [PP, c_char_p, c_uint],
    "fo_store_revision": [P, _ptr(c_u64)],
    "fo_registry_open": [PP, _ptr(RegistryOptions), P],
    "fo_registry_refresh": [P],
    "fo_registry_revision": [P, _ptr(c_u64)],
    "fo_registry_poisoned": [P],
    "fo_registry_batch_begin": [P],
    "fo_registry_batch_commit": [P],
    "fo_stack_id": [P, _ptr(c_u32)],
    "fo_stack_server_id": [P, c_char_p, _ptr(c_u32)],
    "fo_registry_find_stack_id": [P, c_u32, PP],
    "fo_store_lease_acquire": [P, c_char_p, c_u32, _ptr(StoreLease)],
    "fo_store_lease_release": [P, c_char_p],
    "fo_store_lease_read": [P, _ptr(StoreLease)],
    # TSIG
    "fo_tsig_key_new": [PP, c_char_p, c_char_p, c_char_p],
    "fo_tsig_key_load": [PP, c_char_p, c_char_p],
    "fo_tsig_key_name": [P, _ptr(c_char_p)],
    # verifier
    "fo_verifier_options_init": [_ptr(VerifierOptions), c_uint],
    "fo_verifier_new": [PP, P, _ptr(VerifierOptions)],
    "fo_verify_name": [PP, P, c_char_p, _ptr(Expectation), _ptr(VerifyParams),
                       VERIFY_FN, P],
    "fo_verify_group": [PP, P, P, _ptr(VerifyParams), VERIFY_FN, P],
    "fo_check_cancel": [P],
    "fo_verifier_pending": [P, _ptr(c_size)],
    # publisher
    "fo_publisher_options_init": [_ptr(PublisherOptions), c_uint],
    "fo_publisher_new": [PP, P, P, _ptr(PublisherOptions)],
    "fo_publisher_publish_all": [P],
    "fo_publisher_group_status": [P, P, _ptr(PublishStatus)],
    "fo_publisher_pending": [P, _ptr(c_size)],
    "fo_publisher_error": [P],
    "fo_publisher_set_key": [P, P],
    "fo_publisher_resume": [P],
    "fo_publisher_watch": [PP, P, P, c_u64, WATCH_FN, P],
    "fo_publish_watch_cancel": [P],
    "fo_publisher_reconcile": [P, c_int, PLAN_FN, P],
    # switchovers
    "fo_switchover_options_init": [_ptr(SwitchoverOptions), c_uint],
    "fo_switchover_group": [PP, P, P, P, c_int, _ptr(SwitchoverOptions),
                            SWITCHOVER_FN, P],
    "fo_switchover_stack": [PP, P, P, P, _ptr(SwitchoverOptions),
                            SWITCHOVER_FN, P],
    "fo_switchover_resume": [PP, P, P, _ptr(SwitchoverOptions),
                             SWITCHOVER_FN, P],
    "fo_switchover_cancel": [P],
}
for _name, _args in _INT.items():
    _f = getattr(lib, _name)
    _f.argtypes = _args
    _f.restype = c_int

_OTHER = {
    "fo_strerror": ([c_int], c_char_p),
    "fo_err_name": ([c_int], c_char_p),
    "fo_version": ([], c_uint),
    "fo_version_string": ([], c_char_p),
    "fo_registry_free": ([P], None),
    "fo_registry_next_group": ([P, P], P),
    "fo_registry_next_stack": ([P, P], P),
    "fo_stack_next_group": ([P, P], P),
    "fo_state_name": ([c_int], c_char_p),
    "fo_none_reason_name": ([c_int], c_char_p),
    "fo_rr_type_name": ([c_int], c_char_p),
    "fo_change_reason_name": ([c_int], c_char_p),
    "fo_store_close": ([P], None),
    "fo_tsig_key_free": ([P], None),
    "fo_verifier_close": ([P, CLOSED_FN, P], None),
    "fo_verify_status_name": ([c_int], c_char_p),
    "fo_verify_result_server": ([_ptr(VerifyResult), c_size],
                                _ptr(ServerAnswer)),
    "fo_publisher_close": ([P, CLOSED_FN, P], None),
    "fo_publisher_registry": ([P], P),
    "fo_publisher_loop": ([P], P),
    "fo_plan_entry_at": ([_ptr(Plan), c_size], _ptr(PlanEntry)),
    "fo_switchover_report_group": ([_ptr(SwitchoverReport), c_size],
                                   _ptr(SwitchoverGroupResult)),
}
for _name, (_args, _res) in _OTHER.items():
    _f = getattr(lib, _name)
    _f.argtypes = _args
    _f.restype = _res

del _name, _args, _f


def version():
    """The running library's version string ("0.2.0")."""
    return lib.fo_version_string().decode()


# ---- tokens for C callbacks -----------------------------------------------------
#
# C is handed module-level CFUNCTYPE trampolines (alive as long as the module)
# and, as userdata, a small integer token naming the Python object that waits.
# The object stays in `pending` until its callback can no longer fire.

pending = {}
_next_token = [0]


def hold(obj):
    _next_token[0] += 1
    token = _next_token[0]
    pending[token] = obj
    return token


def release(token):
    return pending.pop(token, None)


def lookup(token):
    return pending.get(token)
