"""Switchovers end to end against a real knotd: `await group.switch()`,
a lost stack, refusals, cancellation by the awaiting task, a deadline, and
resuming what was left switching."""

import asyncio
import unittest

import failover
from fixtures import EngineCase, fqdn


class SwitchTest(EngineCase):
    async def test_group_switch_end_to_end(self):
        shop, dr = self.stacks()
        agent = self.agent()
        group = self.reg.group(shop, dr)
        await agent.published(group)
        self.assertEqual(await self.answer(group.address), [fqdn("web1.shop") + "."])

        report = await group.switch("backup")
        self.assertIsInstance(report, failover.SwitchoverReport)
        self.assertTrue(report.ok)
        self.assertEqual((report.groups, report.failed, report.ttl), (1, 0, 60))
        [result] = report.results
        self.assertEqual(result.group, group)
        self.assertEqual(result.error_name, "FO_OK")
        self.assertGreaterEqual(result.published_ms, 0)
        self.assertGreaterEqual(result.all_matched_ms, result.published_ms)
        # all matched + TTL + 1 s of resolver rounding, or more when an
        # earlier version or an NXDOMAIN may still sit in caches.
        self.assertGreaterEqual(report.resolvers_follow_ms,
                                report.all_matched_ms + 61000 - 1)
        self.assertEqual(group.state, "serving")
        self.assertEqual(group.active_slot, "backup")
        self.assertEqual(await self.answer(group.address),
                         [fqdn("web1.shop-dr") + "."])
        # Committed: a fresh registry on the file agrees.
        with failover.Store.sqlite(self.db, readonly=True) as other:
            copy = failover.Registry.open(other).find_group(group.address)
            self.assertEqual((copy.state, copy.active_slot), ("serving", "backup"))

        # And back, through the agent, with the slot as a number.
        report = await agent.switch(group, failover.SLOT_PRIMARY)
        self.assertTrue(report.ok)
        self.assertEqual(await self.answer(group.address), [fqdn("web1.shop") + "."])

    async def test_refusals_raise_at_once(self):
        shop, dr = self.stacks()
        self.agent()
        group = self.reg.group(shop, dr)
        with self.assertRaises(failover.Error) as cm:
            group.switch("primary")
        self.assertEqual((cm.exception.name, cm.exception.code), ("FO_EALREADY", -16))
        lonely = self.reg.group(shop)
        with self.assertRaises(failover.Error) as cm:
            lonely.switch("backup")
        self.assertEqual(cm.exception.name, "FO_ESLOTEMPTY")
        with self.assertRaises(failover.Error) as cm:
            group.switch("backup", until_ms=25 * 3600 * 1000)
        self.assertEqual(cm.exception.name, "FO_ERANGE")
        self.assertEqual(group.state, "serving")  # nothing changed
        # The model's switch alone, on request.
        self.assertIsNone(group.switch("backup", workflow=False))
        self.assertEqual(group.state, "switching")
        with self.assertRaises(failover.Error) as cm:
            group.switch("primary")
        self.assertEqual(cm.exception.name, "FO_ESWITCHING")

    async def test_lost_stack(self):
        east, west = self.stacks("east", "west")
        agent = self.agent()
        with self.reg.batch():
            groups = [self.reg.group(east, west) for _ in range(6)]
            alone = self.reg.group(east)  # nowhere to go
            other = self.reg.group(west, east)  # east is not active here
        for g in groups + [alone, other]:
            await agent.published(g)

        report = await agent.switch_stack(east)
        self.assertEqual(report.groups, 6)
        self.assertEqual(report.failed, 1)
        self.assertEqual(report.error_name, "FO_ESLOTEMPTY")
        self.assertEqual({r.group for r in report.results}, set(groups))
        for r in report.results:
            self.assertEqual(r.error, 0)
            self.assertEqual(r.group.state, "serving")
            self.assertEqual(await self.answer(r.group.address),
                             [fqdn("web1.west") + "."])
        self.assertEqual(alone.active_slot, "primary")
        self.assertEqual(await self.answer(other.address), [fqdn("web1.west") + "."])

        # check=True makes a failed member an exception carrying the report.
        with self.assertRaises(failover.SwitchoverError) as cm:
            await agent.switch_stack(east, check=True)
        self.assertEqual(cm.exception.name, "FO_ESLOTEMPTY")
        self.assertEqual(cm.exception.report.failed, 1)

    async def test_cancel_by_task_then_resume(self):
        shop, dr = self.stacks()
        # Verified on knotd and on a server that never answers: it can never
        # be confirmed everywhere, so it waits until cancelled.
        agent = self.agent([self.ns.server, self.black_hole()],
                           verifier_options=dict(timeout_ms=100))
        group = self.reg.group(shop, dr)
        await agent.published(group)
        switchover = group.switch("backup")
        self.assertEqual(group.state, "switching")  # the model switched at once
        task = asyncio.ensure_future(switchover)
        await agent.published(group)  # the new target is in DNS
        await asyncio.sleep(0.1)
        self.assertFalse(switchover.done())
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task
        report = switchover.report
        self.assertEqual(report.error_name, "FO_ECANCELED")
        self.assertEqual(report.results[0].error_name, "FO_ECANCELED")
        self.assertGreaterEqual(report.results[0].published_ms, 0)
        self.assertEqual(report.results[0].all_matched_ms, -1)
        self.assertEqual(group.state, "switching")
        self.assertFalse(switchover.cancel())  # already over
        self.assertEqual(await self.answer(group.address),
                         [fqdn("web1.shop-dr") + "."])

        # Verified where it can be, resume() settles it.
        good = failover.Verifier(agent.loop, [self.ns.server])
        report = await agent.resume(verifier=good)
        self.assertTrue(report.ok)
        self.assertEqual([r.group for r in report.results], [group])
        self.assertEqual(group.state, "serving")
        report = await agent.resume(verifier=good)  # nothing left
        self.assertEqual(report.groups, 0)

    async def test_deadline_raises_with_the_report(self):
        shop, dr = self.stacks()
        agent = self.agent([self.ns.server, self.black_hole()],
                           verifier_options=dict(timeout_ms=100))
        group = self.reg.group(shop, dr)
        with self.assertRaises(failover.SwitchoverError) as cm:
            await group.switch("backup", until_ms=400)
        e = cm.exception
        self.assertIsInstance(e, failover.Error)
        self.assertEqual((e.name, e.code), ("FO_ETIMEDOUT", -29))
        self.assertEqual(e.report.results[0].error_name, "FO_ETIMEDOUT")
        self.assertEqual(group.state, "switching")

    async def test_closing_the_agent_cancels_switchovers(self):
        shop, dr = self.stacks()
        agent = self.agent([self.ns.server, self.black_hole()])
        group = self.reg.group(shop, dr)
        switchover = group.switch("backup")
        await agent.close()
        with self.assertRaises(failover.SwitchoverError) as cm:
            await switchover
        self.assertEqual(cm.exception.name, "FO_ECANCELED")
        # Without an agent, switch() is the model's again.
        self.assertIsNone(group.switch("primary", force=True))


class RestartTest(EngineCase):
    async def test_start_finishes_what_a_previous_process_left(self):
        shop, dr = self.stacks()
        group = self.reg.group(shop, dr)
        other = self.reg.group(shop, dr)
        group.switch("backup")  # committed, never published: then a "crash"
        address = group.address
        self.reg.close()

        reg = failover.Registry.open(self.store)
        agent = failover.Agent(reg, self.ns.server, self.ns.key_file)
        self.addAsyncCleanup(agent.close)
        plan, report = await agent.start()
        self.assertEqual(len(plan), 2)  # neither name was in the zone
        self.assertEqual(report.groups, 1)
        self.assertTrue(report.ok)
        group = reg.find_group(address)
        self.assertEqual(report.results[0].group, group)
        self.assertEqual(group.state, "serving")
        self.assertEqual(await self.answer(address), [fqdn("web1.shop-dr") + "."])
        await agent.published(reg.find_group(other.address))
        self.assertEqual(await self.answer(other.address), [fqdn("web1.shop") + "."])


class InMemorySwitchTest(EngineCase):
    durable = False

    async def test_switch_in_memory(self):
        shop, dr = self.stacks()
        agent = self.agent()
        group = self.reg.group(shop, dr)
        report = await group.switch("backup")
        self.assertTrue(report.ok)
        self.assertEqual(await self.answer(group.address),
                         [fqdn("web1.shop-dr") + "."])
        self.assertEqual(agent.status(group).state, "published")


if __name__ == "__main__":
    unittest.main()
