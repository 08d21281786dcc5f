"""The verifier on a real knotd: match, mismatch, addresses, no records,
a deadline, cancellation and errors."""

import asyncio
import unittest

import failover
from fixtures import EngineCase, fqdn


class VerifyTest(EngineCase):
    durable = False

    async def asyncSetUp(self):
        self.loop = failover.Loop()
        self.addAsyncCleanup(self.loop.close)
        self.v = failover.Verifier(self.loop, [self.ns.server])

    async def test_match_and_mismatch(self):
        r = await self.v.verify(fqdn("alias"), cname=fqdn("web1.shop"))
        self.assertTrue(r.ok)
        self.assertEqual((r.error, r.status, r.error_name), (0, "match", "FO_OK"))
        [a] = r.servers
        self.assertEqual(a.server, self.ns.server)
        self.assertEqual(a.chain, [fqdn("alias"), fqdn("web1.shop")])
        self.assertEqual(a.chain_ttls, [60])
        self.assertEqual(a.addresses, ["192.0.2.10"])
        self.assertTrue(a.authoritative)
        self.assertGreaterEqual(a.first_match_ms, 0)

        r = await self.v.verify(fqdn("alias"), cname=fqdn("web1.shop-dr"))
        self.assertFalse(r.ok)
        self.assertEqual((r.error, r.status), (0, "mismatch"))
        self.assertEqual(r.servers[0].first_match_ms, -1)

    async def test_addresses_and_none(self):
        r = await self.v.verify(fqdn("web1.shop"), addresses=["192.0.2.10"])
        self.assertTrue(r.ok)
        r = await self.v.verify(fqdn("web1.shop"), addresses="192.0.2.99")
        self.assertEqual(r.status, "mismatch")
        r = await self.v.verify(fqdn("no-such-name"), none=True)
        self.assertTrue(r.ok)
        r = await self.v.verify(fqdn("no-such-name"), cname=fqdn("web1.shop"))
        self.assertEqual(r.status, "nxdomain")

    async def test_deadline_returns_the_last_answers(self):
        r = await self.v.verify(fqdn("alias"), cname=fqdn("elsewhere"),
                                until_ms=300, interval_ms=50)
        self.assertEqual(r.error_name, "FO_ETIMEDOUT")
        self.assertEqual(r.status, "mismatch")
        self.assertGreaterEqual(r.elapsed_ms, 300)
        self.assertGreater(r.servers[0].rounds, 1)

    async def test_group(self):
        shop, dr = self.stacks()
        group = self.reg.group(shop, dr)
        r = await self.v.verify_group(group)  # not published: nothing there
        self.assertEqual(r.status, "nxdomain")
        self.assertEqual(r.name, group.address)

    async def test_cancel_by_task(self):
        v = failover.Verifier(self.loop, [self.ns.server, self.black_hole()],
                              timeout_ms=100)
        check = v.verify(fqdn("alias"), cname=fqdn("web1.shop"), until_ms=20000)
        task = asyncio.ensure_future(check)
        await asyncio.sleep(0.2)
        self.assertEqual(v.pending, 1)
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task
        self.assertTrue(check.done())
        self.assertEqual(check.outcome.error_name, "FO_ECANCELED")
        self.assertEqual(v.pending, 0)
        # The same through asyncio.wait_for.
        with self.assertRaises(asyncio.TimeoutError):
            await asyncio.wait_for(
                v.verify(fqdn("alias"), cname=fqdn("web1.shop"), until_ms=20000), 0.2)
        self.assertEqual(v.pending, 0)

    async def test_close_cancels_pending_checks(self):
        v = failover.Verifier(self.loop, [self.black_hole()], timeout_ms=100)
        check = v.verify(fqdn("alias"), none=True, until_ms=20000)
        await v.close()
        self.assertTrue(v.closed)
        with self.assertRaises(failover.Error) as cm:
            await check
        self.assertEqual(cm.exception.name, "FO_ECANCELED")
        with self.assertRaises(failover.Error) as cm:
            v.verify(fqdn("alias"), none=True)
        self.assertEqual(cm.exception.name, "FO_ECLOSING")

    async def test_errors_carry_names(self):
        for kwargs, name in [
                (dict(servers=["not-an-address"]), "FO_EBADADDR"),
                (dict(servers=[]), "FO_EINVAL"),
                (dict(servers=[self.ns.server], timeout_ms=600001), "FO_ERANGE")]:
            with self.assertRaises(failover.Error) as cm:
                failover.Verifier(self.loop, **kwargs)
            self.assertEqual(cm.exception.name, name)
            self.assertLess(cm.exception.code, 0)
        with self.assertRaises(failover.Error) as cm:
            self.v.verify("bad..name", none=True)
        self.assertEqual(cm.exception.name, "FO_EBADNAME")
        with self.assertRaises(failover.Error) as cm:
            self.v.verify(fqdn("x"), addresses=["300.1.2.3"])
        self.assertEqual(cm.exception.name, "FO_EBADADDR")
        with self.assertRaises(ValueError):
            self.v.verify(fqdn("x"))
        self.assertEqual(self.v.pending, 0)

    async def test_module_level_verify(self):
        r = await failover.verify(fqdn("alias"), [self.ns.server],
                                  cname=fqdn("web1.shop"))
        self.assertTrue(r.ok)


if __name__ == "__main__":
    unittest.main()
