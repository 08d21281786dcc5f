"""test_agent.py - the failover-agent example on an etcd store, end to end:
two agents, one leads and publishes what failoverctl commits (a bulk
switch with the lease held elsewhere: committed, then published, verified
and settled by the agent); SIGTERM makes the leader give the lease up and
exit 0, and the other takes over at once (no lease to wait out), claims the
fence and publishes the next switch.

FO_AGENT_WRAPPER runs every agent under a wrapper (.ci/test: valgrind
memcheck, whose error exit code then fails the test).
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Cluster, wall_ms  # noqa: E402

SLOW = 10 if harness.WRAPPER else 1  # valgrind


@unittest.skipIf(harness.skip_reason(), harness.skip_reason() or "")
class Agent(unittest.TestCase):

    def test_lead_publish_hand_over_on_sigterm(self):
        with Cluster(groups=20, registers=2, agents=2, lease_ms=2000,
                     etcd_members=1) as c:
            first, ev = c.current_leader()
            second = [a for a in c.agents if a is not first][0]
            self.assertIsNotNone(second.wait("standby", timeout=30 * SLOW))
            self.assertEqual(c.fence(), int(ev["epoch"]))

            # Committed by failoverctl, published and settled by the agent.
            r = c.ctl("--json", "switch", "--stack", "shop")
            self.assertIn('"groups":20', r.stdout)
            self.assertEqual(c.wait_in_step(30 * SLOW), [])
            self.assertIsNotNone(first.wait("resumed", after=ev["t"],
                                            timeout=30 * SLOW, groups=20))
            status = c.ctl("--json", "status").stdout
            self.assertIn('"switching":0', status)

            # SIGTERM: the lease is given up, the process exits 0.
            t0 = wall_ms()
            self.assertEqual(first.terminate(60 * SLOW), 0)
            self.assertIsNotNone(first.wait("stopped", after=t0, timeout=1))
            lead = second.wait("leader", after=t0, timeout=30 * SLOW)
            self.assertIsNotNone(lead, "the standby did not take over")
            took = lead["t"] - t0
            self.assertGreater(int(lead["epoch"]), int(ev["epoch"]))
            self.assertIsNotNone(second.wait("caught-up", after=lead["t"] - 1,
                                             timeout=30 * SLOW))
            self.assertEqual(c.fence(), int(lead["epoch"]))

            c.ctl("switch", "--stack", "shop-dr")
            self.assertEqual(c.wait_in_step(30 * SLOW), [])
            t1 = wall_ms()
            self.assertEqual(second.terminate(60 * SLOW), 0)
            self.assertIsNotNone(second.wait("stopped", after=t1, timeout=1))
            print("agent: handed over %.0f ms after SIGTERM (lease 2000 ms)"
                  % took, flush=True)
            if not harness.WRAPPER:
                # Released, not run out: far less than the lease.
                self.assertLess(took, 2000)


if __name__ == "__main__":
    unittest.main()
