#!/usr/bin/env python3
"""bench_ha.py - leader loss -> the standby has published everything pending.

    python3 bench/bench_ha.py [--trials 20] [--groups 10000] [--lease-ms 5000]
                              [--build build/release]

Real processes on loopback (tests/ha/harness.py): a 3-member etcd cluster,
3 failover-agent processes on one etcd store, a knotd primary. Each trial
commits a bulk switch of every group (alternating stacks) with failoverctl
--no-wait, waits until the commit is in the store, then takes the leader
away at once, before or while it publishes:
  - even trials: kill -9;
  - odd trials: SIGSTOP past its lease; once a successor caught up, every
    group is moved again, then the old leader gets SIGCONT and runs with
    its stale view until it steps down.
takeover_ms is from taking the leader away to the successor's `caught-up`
event (the zone reconciled, every pending change confirmed by the primary).
lost_acks counts names whose records in the zone differ from the store once
the successor caught up (the acknowledged switch not published), summed over
trials; stale_updates_applied counts names that differ after a paused old
leader resumed and stepped down (one of its stale UPDATEs applied), summed.
The fenced UPDATEs knotd refused are printed on their own line before the
summary. Last line:

  ha: trials=N takeover_ms_median=T takeover_ms_max=M lease_ms=L stale_updates_applied=S lost_acks=A
"""

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "ha"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--groups", type=int, default=10000)
    ap.add_argument("--lease-ms", type=int, default=5000)
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    os.environ.setdefault("FAILOVER_AGENT",
                          os.path.join(build, "examples", "failover-agent"))
    os.environ.setdefault("FAILOVERCTL", os.path.join(
        build, "tools", "failoverctl", "failoverctl"))
    os.environ.setdefault("FO_LIBRARY", os.path.join(build, "libfailover.so"))

    from harness import Cluster, wall_ms  # after the environment is set

    takeovers, lost, stale = [], 0, 0
    other = {"shop": "shop-dr", "shop-dr": "shop"}
    with Cluster(groups=args.groups, registers=0,
                 lease_ms=args.lease_ms) as c:
        import failover
        refused0 = c.refused_updates()
        on = "shop"  # the stack every group serves from
        for trial in range(args.trials):
            old, _ = c.current_leader()
            store = failover.Store.open(c.url)
            rev = store.revision
            c.ctl("--no-wait", "switch", "--stack", on)
            on = other[on]
            while store.revision <= rev:
                time.sleep(0.001)
            store.close()
            paused = trial % 2 == 1
            if paused:
                old.pause()
            else:
                old.kill9()
            t0 = wall_ms()
            new, ev = c.wait_leader(after=t0, exclude=(old,),
                                    timeout=args.lease_ms / 1000 + 30)
            caught = new.wait("caught-up", after=ev["t"] - 1, timeout=120)
            if caught is None:
                for a in c.agents:
                    print(a.name, [(e.get("event"), e.get("epoch"),
                                    e.get("error")) for e in a.events][-12:])
                sys.exit("trial %d: the successor (%s) never caught up; logs in %s"
                         % (trial, new.name, c.dir))
            takeovers.append(caught["t"] - t0)
            lost += len(c.mismatches())
            # The switches left SWITCHING are verified and settled.
            if new.wait("resumed", after=ev["t"] - 1, timeout=120) is None:
                sys.exit("trial %d: the successor did not resume" % trial)
            if paused:
                # Move everything again while the old leader sleeps, then
                # let it run with what it still holds.
                c.ctl("switch", "--stack", on, "--timeout", "120")
                on = other[on]
                old.resume()
                t1 = wall_ms()
                if (old.wait("fenced", after=t1,
                             timeout=args.lease_ms / 1000 + 10)
                        or old.wait("lost", after=t1, timeout=1)) is None:
                    sys.exit("trial %d: the paused leader never stepped down"
                             % trial)
                time.sleep(0.5)
                stale += len(c.mismatches())
                old.terminate()
            old.start()
            if c.wait_in_step(60):
                sys.exit("trial %d: the zone never came in step" % trial)
            print("trial %d: %s takeover_ms=%.0f" % (
                trial, "sigstop" if paused else "kill-9", takeovers[-1]),
                flush=True)
        refused = c.refused_updates() - refused0
    print("ha-detail: groups=%d fenced_updates_refused=%d" % (
        args.groups, refused))
    print("ha: trials=%d takeover_ms_median=%.0f takeover_ms_max=%.0f "
          "lease_ms=%d stale_updates_applied=%d lost_acks=%d" % (
              len(takeovers), statistics.median(takeovers), max(takeovers),
              args.lease_ms, stale, lost))


if __name__ == "__main__":
    main()
