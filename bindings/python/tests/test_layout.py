"""The ctypes mirrors have the C layouts: the library's _init() and fills
write exactly as far as version 1 of each struct reaches, and not a byte
past it (canaries behind it stay)."""

import ctypes
import unittest

import failover
from failover import _lib
from failover._lib import lib

CANARY = 0xA5


def _end(struct, last=None):
    """Where a version ends: the end of its last field (`last`, else the
    mirror's last; not sizeof, which may include trailing padding the
    library never writes)."""
    fields = dict((f[0], f[1]) for f in struct._fields_)
    name = last or struct._fields_[-1][0]
    return getattr(struct, name).offset + ctypes.sizeof(fields[name])


def _buffer(struct):
    buf = (ctypes.c_ubyte * (ctypes.sizeof(struct) + 32))()
    ctypes.memset(buf, CANARY, len(buf))
    return buf


class LayoutTest(unittest.TestCase):
    def assert_init_writes_v1(self, struct, init, version=1, last=None,
                              **fields):
        buf = _buffer(struct)
        self.assertEqual(init(ctypes.cast(buf, ctypes.POINTER(struct)),
                              version), 0)
        end = _end(struct, last)
        expected = bytes(struct(version=version, **fields))[:end]  # _INIT
        self.assertEqual(bytes(buf[:end]), expected, struct.__name__)
        self.assertEqual(set(buf[end:]), {CANARY}, struct.__name__)
        self.assertEqual(init(ctypes.cast(buf, ctypes.POINTER(struct)), 99), -25)

    def test_options_init_matches(self):
        self.assert_init_writes_v1(_lib.RegistryOptions, lib.fo_registry_options_init)
        self.assert_init_writes_v1(_lib.VerifierOptions, lib.fo_verifier_options_init)
        # The publisher's mirror is version 3; versions 1 and 3 both write
        # exactly as far as they reach.
        self.assert_init_writes_v1(_lib.PublisherOptions,
                                   lib.fo_publisher_options_init,
                                   last="allocator")
        self.assert_init_writes_v1(_lib.PublisherOptions,
                                   lib.fo_publisher_options_init, version=3)
        self.assert_init_writes_v1(_lib.SwitchoverOptions,
                                   lib.fo_switchover_options_init)
        self.assert_init_writes_v1(
            _lib.Op, lambda p, v: lib.fo_op_init(p, v, 4), kind=4)  # FO_OP_SWITCH

    def assert_fill_writes_v1(self, struct, fill):
        buf = _buffer(struct)
        ctypes.memmove(buf, ctypes.byref(ctypes.c_uint(1)), 4)
        self.assertEqual(fill(ctypes.cast(buf, ctypes.POINTER(struct))), 0)
        self.assertEqual(set(buf[_end(struct):]), {CANARY}, struct.__name__)
        return ctypes.cast(buf, ctypes.POINTER(struct)).contents

    def test_fills_match(self):
        reg = failover.Registry("failover.example.net")
        self.addCleanup(reg.close)
        shop = reg.stack("shop")
        shop.add_server("web1", ipv4="192.0.2.10")
        group = reg.group(shop)
        info = self.assert_fill_writes_v1(
            _lib.ServerInfo, lambda p: lib.fo_stack_server_at(shop._ptr, 1, 0, p))
        self.assertEqual((info.name, info.ipv4), (b"web1", b"192.0.2.10"))
        target = self.assert_fill_writes_v1(
            _lib.Target, lambda p: lib.fo_group_target(group._ptr, p))
        self.assertEqual(target.host_name, b"web1.shop.failover.example.net")
        self.assertEqual(target.ttl, 60)
        rrset = self.assert_fill_writes_v1(
            _lib.RRset, lambda p: lib.fo_group_records(group._ptr, p))
        self.assertEqual(rrset.count, 1)
        self.assertEqual(rrset.records[0].type, 5)  # CNAME
        self.assertEqual(rrset.records[0].data, b"web1.shop.failover.example.net")

    def test_unknown_version_is_refused(self):
        reg = failover.Registry("failover.example.net")
        self.addCleanup(reg.close)
        group = reg.group()
        t = _lib.Target(version=2)
        self.assertEqual(lib.fo_group_target(group._ptr, ctypes.byref(t)), -25)


if __name__ == "__main__":
    unittest.main()
