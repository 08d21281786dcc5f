"""Tests of the Python binding against the real shared library."""

import os
import re
import tempfile
import unittest

import failover


class BindingTest(unittest.TestCase):
    def setUp(self):
        self.reg = failover.Registry("failover.example.net")

    def tearDown(self):
        self.reg.close()

    def test_story(self):
        shop = self.reg.stack("shop")
        shop.add_server("web1")
        dr = self.reg.stack("shop-dr")
        dr.add_server("web1")
        group = self.reg.group(shop, dr)
        self.assertRegex(group.address, r"^\d{3}-\d{3}-\d{3}\.failover\.example\.net$")
        self.assertIn("CNAME web1.shop.failover.example.net.", group.records())
        shop.add_server("lb1", load_balancer=True)
        self.assertIn("CNAME lb1.shop.failover.example.net.", group.records())
        group.switch(failover.SLOT_BACKUP)
        self.assertEqual(group.state, "switching")
        group.settle()
        self.assertIn("CNAME web1.shop-dr.failover.example.net.", group.records())

    def test_errors_carry_codes(self):
        with self.assertRaises(failover.FailoverError) as cm:
            self.reg.stack("-bad-")
        self.assertEqual(cm.exception.name, "FO_EBADNAME")
        shop = self.reg.stack("shop")
        group = self.reg.group(shop)
        with self.assertRaises(failover.FailoverError) as cm:
            group.delete()
        self.assertEqual(cm.exception.name, "FO_EATTACHED")

    def test_deleted_handles_stay_safe(self):
        group = self.reg.group()
        address = group.address
        group.delete()
        self.assertEqual(group.state, "deleted")
        for call in (group.settle, group.delete, lambda: group.switch(0)):
            with self.assertRaises(failover.FailoverError) as cm:
                call()
            self.assertEqual(cm.exception.name, "FO_EDELETED")
        with self.assertRaises(failover.FailoverError) as cm:
            self.reg.find_group(address)
        self.assertEqual(cm.exception.name, "FO_EDELETED")
        self.assertEqual(self.reg.group_count(), 0)

    def test_version(self):
        self.assertTrue(re.match(r"^\d+\.\d+\.\d+", failover.version()))


ZONE = "failover.example.net"


class DurableTest(unittest.TestCase):
    """Registries on an SQLite store file."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.tmp.name, "failover.db")

    def tearDown(self):
        self.tmp.cleanup()

    def populate(self):
        with failover.Store.sqlite(self.path, create=True) as store:
            reg = failover.Registry.open(store, ZONE)
            self.assertEqual(reg.revision, 1)  # the settings, written at creation
            shop = reg.stack("shop")
            shop.add_server("web1")
            dr = reg.stack("shop-dr")
            dr.add_server("web1")
            serving = reg.group(shop, dr)
            switching = reg.group(shop, dr)
            switching.switch(failover.SLOT_BACKUP)
            reserved = reg.group()
            gone = reg.group()
            gone.delete()
            ids = {"shop": shop.id, "shop-dr": dr.id}
            shop.rename("shop2")
            self.assertEqual(shop.id, ids["shop"])
            states = {g.address: (g.state, g.records())
                      for g in (serving, switching, reserved)}
            self.assertFalse(reg.poisoned)
            revision = reg.revision
            self.assertGreater(revision, 1)
        return states, ids, gone.address, revision

    def test_reopen_keeps_state(self):
        states, ids, gone, revision = self.populate()
        with failover.Store.sqlite(self.path) as store:
            reg = failover.Registry.open(store)  # zone=None: the stored one
            self.assertEqual(reg.revision, revision)
            self.assertEqual(reg.group_count(), len(states))
            for address, (state, records) in states.items():
                group = reg.find_group(address)
                self.assertEqual(group.state, state)
                self.assertEqual(group.records(), records)
            self.assertEqual(reg.find_stack("shop2").id, ids["shop"])
            self.assertEqual(reg.find_stack("shop-dr").id, ids["shop-dr"])
            with self.assertRaises(failover.FailoverError) as cm:
                reg.find_group(gone)
            self.assertEqual(cm.exception.name, "FO_EDELETED")  # tombstone kept
            # A new stack gets a new id: ids are never reused.
            self.assertGreater(reg.stack("other").id, max(ids.values()))

    def test_open_errors(self):
        with self.assertRaises(failover.FailoverError) as cm:
            failover.Store.sqlite(self.path)
        self.assertEqual(cm.exception.name, "FO_ENOENT")
        self.populate()
        with failover.Store.sqlite(self.path) as store:
            with self.assertRaises(failover.FailoverError) as cm:
                failover.Registry.open(store, "other.example.net")
            self.assertEqual(cm.exception.name, "FO_EZONE")

    def test_stale_write_then_refresh(self):
        states, _, _, _ = self.populate()
        with failover.Store.sqlite(self.path) as one, \
                failover.Store.sqlite(self.path) as two:
            a = failover.Registry.open(one, ZONE)
            b = failover.Registry.open(two, ZONE)
            group = a.group(a.find_stack("shop2"))
            with self.assertRaises(failover.FailoverError) as cm:
                b.stack("late")
            self.assertEqual(cm.exception.name, "FO_ESTALE")
            self.assertEqual(cm.exception.code, -39)
            with self.assertRaises(failover.FailoverError):
                b.find_stack("late")  # the refused call changed nothing
            b.refresh()
            self.assertEqual(b.revision, a.revision)
            self.assertEqual(b.find_group(group.address).state, "serving")
            b.stack("late").add_server("web1")
            a.refresh()
            self.assertEqual(a.find_stack("late").id, b.find_stack("late").id)
            self.assertEqual(a.group_count(), len(states) + 1)

    def test_batch_is_one_commit(self):
        self.populate()
        with failover.Store.sqlite(self.path) as store:
            reg = failover.Registry.open(store)
            before = reg.revision
            shop = reg.find_stack("shop2")
            with reg.batch():
                groups = [reg.group(shop) for _ in range(5)]
                shop.add_server("lb1", load_balancer=True)
            self.assertEqual(reg.revision, before + 1)
            for group in groups:
                self.assertIn("CNAME lb1.shop2.failover.example.net.", group.records())
            # A second registry behind the batch is stale when its batch begins.
            with failover.Store.sqlite(self.path) as other_store:
                other = failover.Registry.open(other_store)
                reg.group()
                with self.assertRaises(failover.FailoverError) as cm:
                    with other.batch():
                        self.fail("a stale batch must not begin")
                self.assertEqual(cm.exception.name, "FO_ESTALE")
                other.refresh()
                with other.batch():
                    other.group()
                self.assertEqual(other.group_count(), reg.group_count() + 1)

    def test_read_only(self):
        states, _, _, _ = self.populate()
        with failover.Store.sqlite(self.path, readonly=True) as store:
            reg = failover.Registry.open(store)
            self.assertEqual(reg.group_count(), len(states))
            with self.assertRaises(failover.FailoverError) as cm:
                reg.stack("new")
            self.assertEqual(cm.exception.name, "FO_EREADONLY")

    def test_in_memory_registry_is_revision_zero(self):
        reg = failover.Registry(ZONE)
        self.assertEqual(reg.revision, 0)
        reg.refresh()  # nothing to follow
        with reg.batch():
            reg.group()
        self.assertEqual(reg.group_count(), 1)
        self.assertEqual(reg.stack("s").id, 1)
        reg.close()


if __name__ == "__main__":
    unittest.main()
