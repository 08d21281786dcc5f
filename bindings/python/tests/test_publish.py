"""The publisher on a durable registry against a real knotd: changes
published and confirmed in DNS, reconcile (dry run and applied), group
status, and a publisher that stops on a bad key."""

import asyncio
import ctypes
import unittest

import failover
from failover import _lib
from fixtures import EngineCase, fqdn


class PublishTest(EngineCase):
    async def test_changes_are_published(self):
        shop, dr = self.stacks()
        published = []
        agent = self.agent(publisher_options=dict(
            on_published=lambda g, gen: published.append(
                (g, gen, agent.loop._in_turn))))
        group = self.reg.group(shop, dr)
        generation = await agent.published(group)
        self.assertEqual(generation, group.generation)
        self.assertEqual(await self.answer(group.address), [fqdn("web1.shop") + "."])
        status = agent.status(group)
        self.assertEqual(status.state, "published")
        self.assertEqual(status.published_generation, group.generation)
        self.assertEqual(status.error_name, "FO_OK")
        # The on_published callback ran from asyncio, not inside uv_run().
        await asyncio.sleep(0)
        self.assertIn((group, generation, False), published)

        shop.add_server("lb1", load_balancer=True, host_name=fqdn("web1.shop-dr"))
        await agent.published(group)
        self.assertEqual(await self.answer(group.address), [fqdn("web1.shop-dr") + "."])
        self.assertEqual(agent.publisher.pending, 0)

        # The store has it: another process's registry sees the same records.
        with failover.Store.sqlite(self.db, readonly=True) as other:
            copy = failover.Registry.open(other)
            self.assertEqual(copy.find_group(group.address).records(), group.records())

    async def test_reconcile_dry_run_then_applied(self):
        shop, dr = self.stacks()
        groups = [self.reg.group(shop, dr) for _ in range(3)]  # before any publisher
        empty = self.reg.group()
        agent = self.agent()
        plan = await agent.reconcile(apply=False)
        self.assertIsInstance(plan, failover.Plan)
        self.assertFalse(plan.applied)
        self.assertEqual(plan.error, 0)
        self.assertEqual(sorted(e.name for e in plan),
                         sorted(g.address for g in groups))
        for entry in plan:
            self.assertEqual(entry.action, "create")
            self.assertIn(entry.group, groups)
            self.assertEqual(entry.current, "")
            self.assertIn("CNAME web1.shop.", entry.desired)
        self.assertEqual(await self.answer(groups[0].address), [])  # a dry run
        self.assertEqual(agent.status(groups[0]).state, "pending")

        plan = await agent.reconcile(apply=True)
        self.assertTrue(plan.applied)
        self.assertEqual(len(plan), 3)
        for g in groups:
            await agent.published(g)
            self.assertEqual(await self.answer(g.address), [fqdn("web1.shop") + "."])
        self.assertEqual(await self.answer(empty.address), [])

        plan = await agent.reconcile(apply=False)
        self.assertEqual(len(plan), 0)
        self.assertEqual(plan.owned_names, 3)

    async def test_reconcile_is_one_at_a_time(self):
        agent = self.agent()
        first = agent.reconcile(apply=False)
        with self.assertRaises(failover.Error) as cm:
            agent.reconcile(apply=False)
        self.assertEqual(cm.exception.name, "FO_EBUSY")
        await first

    async def test_status_fills_version_1_only(self):
        shop, _ = self.stacks()
        agent = self.agent()
        group = self.reg.group(shop)
        size = ctypes.sizeof(_lib.PublishStatus)
        buf = (ctypes.c_ubyte * (size + 16))(*([0xA5] * (size + 16)))
        ctypes.memmove(buf, ctypes.byref(ctypes.c_uint(1)), 4)
        self.assertEqual(_lib.lib.fo_publisher_group_status(
            agent.publisher._ptr, group._ptr, ctypes.cast(buf, ctypes.POINTER(
                _lib.PublishStatus))), 0)
        end = _lib.PublishStatus.error.offset + 4
        self.assertEqual(set(buf[end:]), {0xA5})
        status = _lib.PublishStatus.from_buffer(buf)
        self.assertEqual(status.generation, group.generation)
        await agent.published(group)

    async def test_bad_key_stops_the_publisher(self):
        shop, _ = self.stacks()
        errors = []
        wrong = failover.TsigKey("failover-key", "hmac-sha256",
                                 "d3Jvbmd3cm9uZ3dyb25nd3Jvbmd3cm9uZw==")
        loop = failover.Loop()
        self.addAsyncCleanup(loop.close)
        pub = failover.Publisher(loop, self.reg, self.ns.server, wrong,
                                 retry_min_ms=10, retry_max_ms=50,
                                 on_error=errors.append)
        wrong.close()  # the publisher has its own copy
        group = self.reg.group(shop)
        with self.assertRaises(failover.Error) as cm:
            await pub.published(group)
        self.assertIn(cm.exception.name, ("FO_EBADSIG", "FO_EBADKEY"))
        self.assertEqual(pub.error, cm.exception.code)
        self.assertEqual(pub.status(group).state, "failed")
        self.assertEqual(pub.status(group).error_name, cm.exception.name)
        await asyncio.sleep(0)
        self.assertEqual([e.name for e in errors], [cm.exception.name])
        # The right key, resume, watch again.
        pub.set_key(self.ns.key_file)
        pub.resume()
        await pub.published(group)
        self.assertEqual(await self.answer(group.address), [fqdn("web1.shop") + "."])
        await pub.close()
        with self.assertRaises(failover.Error) as cm:
            pub.published(group)
        self.assertEqual(cm.exception.name, "FO_ECLOSING")

    async def test_agent_errors_carry_names(self):
        for server, key, name in [
                ("not-an-address", self.ns.key_file, "FO_EBADADDR"),
                (self.ns.server, self.ns.key_file + ".missing", "FO_ENOENT")]:
            with self.assertRaises(failover.Error) as cm:
                failover.Agent(self.reg, server, key)
            self.assertEqual(cm.exception.name, name)
        with self.assertRaises(failover.Error) as cm:
            failover.Agent(self.reg, self.ns.server, self.ns.key_file,
                           ["192.0.2.1:99999"])
        self.assertEqual(cm.exception.name, "FO_EBADADDR")
        self.assertIsNone(self.reg.agent)
        agent = self.agent()  # the registry is free for a working one
        with self.assertRaises(RuntimeError):
            failover.Agent(self.reg, self.ns.server, self.ns.key_file)
        shop, _ = self.stacks()
        await agent.published(self.reg.group(shop))

    async def test_registry_outlives_its_publisher(self):
        agent = self.agent()
        with self.assertRaises(RuntimeError):
            self.reg.close()
        await agent.close()
        self.assertIsNone(self.reg.agent)


if __name__ == "__main__":
    unittest.main()
