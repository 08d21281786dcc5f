"""The libuv loop inside an ordinary asyncio program: never blocked, idle
when there is nothing to do, closed cleanly; user code runs from asyncio,
never inside C."""

import asyncio
import time
import unittest

import failover
from fixtures import EngineCase, fqdn


class Ticker:
    """A task that ticks every 10 ms and remembers the longest gap."""

    def __init__(self):
        self.ticks = 0
        self.longest = 0.0
        self.task = asyncio.ensure_future(self.run())

    async def run(self):
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            self.ticks += 1
            self.longest = max(self.longest, now - last)
            last = now

    async def stop(self):
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass


class LoopTest(EngineCase):
    async def test_never_blocks_the_asyncio_loop(self):
        shop, dr = self.stacks()
        agent = self.agent([self.ns.server, self.black_hole()],
                           verifier_options=dict(timeout_ms=100))
        quick = failover.Verifier(agent.loop, [self.ns.server])
        slow = self.reg.group(shop, dr)
        fast = [self.reg.group(shop, dr) for _ in range(3)]
        ticker = Ticker()
        t0 = time.monotonic()
        # A switchover that waits for a server that never answers (until its
        # deadline), next to quick ones and verifications, all on one loop.
        slow_switch = asyncio.ensure_future(slow.switch("backup", until_ms=1000))
        reports = await asyncio.gather(*[
            agent.switch(g, "backup", verifier=quick) for g in fast])
        checks = await asyncio.gather(*[
            quick.verify(g.address, cname=fqdn("web1.shop-dr")) for g in fast])
        with self.assertRaises(failover.SwitchoverError) as cm:
            await slow_switch
        elapsed = time.monotonic() - t0
        await ticker.stop()
        self.assertEqual(cm.exception.name, "FO_ETIMEDOUT")
        self.assertTrue(all(r.ok for r in reports))
        self.assertTrue(all(c.ok for c in checks))
        self.assertGreaterEqual(elapsed, 1.0)
        # Ticking all along: about one tick per 10 ms, no long gap.
        self.assertGreater(ticker.ticks, elapsed / 0.01 * 0.5)
        self.assertLess(ticker.longest, 0.25)

    async def test_idle_loop_sleeps(self):
        shop, _ = self.stacks()
        agent = self.agent()
        await agent.published(self.reg.group(shop))
        await asyncio.sleep(0.05)
        before = agent.loop.turns
        await asyncio.sleep(0.5)
        # Nothing pending: no busy turns (a few for timers at most).
        self.assertLess(agent.loop.turns - before, 10)
        # A change made from Python wakes it at once.
        group = self.reg.group(shop)
        t0 = time.monotonic()
        await agent.published(group)
        self.assertLess(time.monotonic() - t0, 0.5)

    async def test_user_code_runs_outside_c(self):
        shop, dr = self.stacks()
        agent = self.agent()
        seen = []

        def on_change(change):
            # From asyncio or after the changing call: never inside uv_run()
            # and free to change the registry (FO_EBUSY inside C).
            seen.append((change.reason, agent.loop._in_turn))
            if change.reason == "create":
                change.group.ttl = 30

        self.reg.subscribe(on_change)
        group = self.reg.group(shop, dr)
        self.assertEqual(group.ttl, 30)
        await agent.published(group)
        self.assertEqual(await self.answer(group.address), [fqdn("web1.shop") + "."])
        await group.switch("backup")
        self.assertEqual([r for r, _ in seen], ["create", "ttl", "switch"])
        self.assertFalse(any(inside for _, inside in seen))

    async def test_close(self):
        shop, _ = self.stacks()
        loop = failover.Loop()
        v = failover.Verifier(loop, [self.black_hole()], timeout_ms=100)
        pub = failover.Publisher(loop, self.reg, self.ns.server, self.ns.key_file)
        check = v.verify(fqdn("alias"), none=True, until_ms=10000)
        group = self.reg.group(shop)
        watch = pub.published(group, group.generation)
        await loop.close()  # closes both engines first
        self.assertTrue(loop.closed and v.closed and pub.closed)
        for op in (check, watch):
            with self.assertRaises(failover.Error) as cm:
                await op
            self.assertEqual(cm.exception.name, "FO_ECANCELED")
        await asyncio.gather(loop.close(), loop.close())  # again is fine
        with self.assertRaises(RuntimeError):
            failover.Verifier(loop, [self.ns.server])

    async def test_many_loops(self):
        loops = [failover.Loop() for _ in range(3)]
        results = await asyncio.gather(*[
            failover.Verifier(l, [self.ns.server]).verify(
                fqdn("alias"), cname=fqdn("web1.shop")) for l in loops])
        self.assertTrue(all(r.ok for r in results))
        await asyncio.gather(*[l.close() for l in loops])


class PlainAsyncioTest(unittest.TestCase):
    """asyncio.run() of a program of its own, no test-case machinery."""

    def test_asyncio_run(self):
        from fixtures import knot, ZONE
        ns = knot()

        async def program():
            reg = failover.Registry(ZONE)
            shop = reg.stack("shop")
            shop.add_server("web1")
            dr = reg.stack("shop-dr")
            dr.add_server("web1")
            group = reg.group(shop, dr)
            async with failover.Agent(reg, ns.server, ns.key_file) as agent:
                await agent.published(group)
                report = await group.switch("backup")
                result = await agent.verify(group.address, cname=fqdn("web1.shop-dr"))
            reg.close()
            return report, result

        report, result = asyncio.run(program())
        self.assertTrue(report.ok and result.ok)


if __name__ == "__main__":
    unittest.main()
