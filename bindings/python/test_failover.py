"""Tests of the Python binding against the real shared library."""

import re
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


if __name__ == "__main__":
    unittest.main()
