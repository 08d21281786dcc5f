"""The model beyond test_failover.py: servers, targets, the change feed
delivered after the changing call returned, zone export."""

import unittest

import failover

ZONE = "failover.example.net"


class ModelTest(unittest.TestCase):
    def setUp(self):
        self.reg = failover.Registry(ZONE)
        self.addCleanup(self.reg.close)

    def test_servers_and_targets(self):
        shop = self.reg.stack("shop")
        shop.add_server("web1", ipv4="192.0.2.10", ipv6="2001:db8::10")
        shop.add_server("lb1", load_balancer=True, host_name="lb.example.com")
        self.assertEqual([s.name for s in shop.servers()], ["lb1", "web1"])
        head = shop.web_head()
        self.assertEqual((head.kind, head.host_name, head.host_name_explicit),
                         ("load_balancer", "lb.example.com", True))
        self.assertEqual(shop.find_server("web1").ipv6, "2001:db8::10")
        group = self.reg.group(shop)
        self.assertEqual(group.target().host_name, "lb.example.com")
        shop.remove_server("lb1")
        group.mode = "address"
        self.assertEqual(group.target().none, None)
        self.assertEqual(sorted(r.type for r in group.rrset()), ["A", "AAAA"])
        group.ttl = 30
        self.assertEqual({r.ttl for r in group.rrset()}, {30})
        self.assertEqual(shop.groups(), [group])
        self.assertEqual(list(self.reg.groups()), [group])
        self.assertEqual(group.stack("primary"), shop)
        self.assertIsNone(group.stack("backup"))
        self.assertIn("192.0.2.10", self.reg.export_zone())
        with self.assertRaises(failover.Error) as cm:
            failover.Registry(ZONE).stack("s").web_head()
        self.assertEqual(cm.exception.name, "FO_ENOWEBHEAD")

    def test_check_switch(self):
        shop = self.reg.stack("shop")
        shop.add_server("web1")
        dr = self.reg.stack("dr")
        group = self.reg.group(shop, dr)
        self.assertEqual(group.check_switch("backup").name, "FO_ENOWEBHEAD")
        self.assertIsNone(group.check_switch("backup", force=True))
        self.assertEqual(group.check_switch("primary").name, "FO_EALREADY")
        self.assertEqual(group.state, "serving")  # nothing changed
        with self.assertRaises(ValueError):
            group.switch("sideways")

    def test_feed_delivered_after_the_call(self):
        shop = self.reg.stack("shop")
        shop.add_server("web1")
        dr = self.reg.stack("dr")
        dr.add_server("web1")
        seen = []

        def on_change(change):
            seen.append(change)
            # Outside C now: a change from here is allowed (inside the C
            # callback it would be FO_EBUSY).
            if change.reason == "switch":
                change.group.settle()

        key = self.reg.subscribe(on_change)
        group = self.reg.group(shop, dr)
        group.switch("backup")
        self.assertEqual(group.state, "serving")  # settled by the subscriber
        self.assertEqual([c.reason for c in seen], ["create", "switch"])
        self.assertEqual(seen[1].old_target.host_name, "web1.shop." + ZONE)
        self.assertEqual(seen[1].new_target.host_name, "web1.dr." + ZONE)
        self.assertEqual(seen[1].generation, group.generation)
        self.assertEqual(seen[0].group, group)
        self.reg.unsubscribe(key)
        group.switch("primary")
        self.assertEqual(len(seen), 2)

    def test_subscribed_registry_is_collected(self):
        import gc
        import weakref
        reg = failover.Registry(ZONE)
        reg.subscribe(lambda change: None)
        reg.group()
        ref = weakref.ref(reg)
        del reg
        gc.collect()
        self.assertIsNone(ref())

    def test_feed_errors_reach_the_caller_after_delivery(self):
        calls = []

        def bad(change):
            calls.append(change)
            raise KeyError("subscriber")

        self.reg.subscribe(bad)
        self.reg.subscribe(calls.append)
        with self.assertRaises(KeyError):
            self.reg.group()
        self.assertEqual(len(calls), 2)  # the second subscriber still heard it
        self.assertEqual(self.reg.group_count(), 1)


class TsigKeyTest(unittest.TestCase):
    def test_key_new_and_errors(self):
        key = failover.TsigKey("Failover-Key", "hmac-sha256",
                               "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0")
        self.assertEqual(key.name, "failover-key")
        key.close()
        with self.assertRaises(failover.Error) as cm:
            failover.TsigKey("k", "hmac-md4", "c2VjcmV0")
        self.assertEqual(cm.exception.name, "FO_EBADKEY")
        with self.assertRaises(failover.Error) as cm:
            failover.TsigKey.load("/nonexistent/key.conf")
        self.assertEqual(cm.exception.name, "FO_ENOENT")
        self.assertEqual(cm.exception.code, -8)
        self.assertIn("no such object", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
