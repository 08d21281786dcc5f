"""harness.py - several failover agents on one etcd store, for the chaos
tests (test_chaos.py) and the takeover benchmark (bench/bench_ha.py).

Real processes on loopback only: a 3-member etcd cluster (etcd.py), a knotd
primary (knotd.py), the failover-agent example (FAILOVER_AGENT), failoverctl
(FAILOVERCTL), and the Python binding (FO_LIBRARY) for bulk set-up and for
the clients whose every operation is recorded (History) and checked.

    with Cluster(groups=1000) as c:
        leader = c.leader()
        ...
"""

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))

import etcd  # noqa: E402
import knotd  # noqa: E402

AGENT = os.environ.get("FAILOVER_AGENT", "failover-agent")
CTL = os.environ.get("FAILOVERCTL", "failoverctl")
# A prefix for every agent, e.g. "valgrind -q --error-exitcode=99 ...".
WRAPPER = os.environ.get("FO_AGENT_WRAPPER", "").split()
ZONE = knotd.ZONE
RECORDS = [
    "web1.shop 60 IN A 192.0.2.10",
    "web1.shop-dr 60 IN A 192.0.2.20",
    "web1.blue 60 IN A 192.0.2.30",
    "web1.green 60 IN A 192.0.2.40",
]


def skip_reason():
    """Why these tests cannot run here, or None."""
    if not etcd.available():
        return "etcd not installed"
    if not knotd.available():
        return "knotd, keymgr or kdig not installed"
    return None


def wall_ms():
    return time.time() * 1000.0


# ---- one agent process -------------------------------------------------------

class Agent:
    """A failover-agent child; its event lines are parsed as they come."""

    LINE = re.compile(r"^failover-agent: (.*)$")

    def __init__(self, cluster, name):
        self.cluster = cluster
        self.name = name
        self.proc = None
        self.events = []
        self.cond = threading.Condition()
        self.log = os.path.join(cluster.dir, "agent-%s.log" % name)
        self.stopped = False  # SIGSTOPped

    def start(self):
        self.events = []
        err = open(self.log, "a")
        self.proc = subprocess.Popen(
            WRAPPER + [AGENT, "--store", self.cluster.url, "--name", self.name,
             "--lease-ms", str(self.cluster.lease_ms), "--follow-ms", "50"],
            stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1)
        err.close()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        proc = self.proc
        with open(self.log, "a") as log:
            for line in proc.stdout:
                log.write(line)
                log.flush()
                m = self.LINE.match(line.strip())
                if not m:
                    continue
                ev = dict(f.split("=", 1) for f in m.group(1).split()
                          if "=" in f)
                ev["t"] = float(ev.get("t", "0"))
                with self.cond:
                    self.events.append(ev)
                    self.cond.notify_all()

    def wait(self, event, after=0.0, timeout=60.0, **match):
        """The first event `event` with t > after (wall ms) whose fields
        match; None on timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for ev in self.events:
                    if ev.get("event") == event and ev["t"] > after and all(
                            ev.get(k) == str(v) for k, v in match.items()):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 0.2))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)
        self.stopped = True

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)
        self.stopped = False

    def terminate(self, timeout=30):
        """SIGTERM; returns the exit code (None if it had to be killed)."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        if self.stopped:
            self.resume()
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


# ---- the whole set-up ----------------------------------------------------------

class Cluster:
    """etcd x3, knotd, the store (stacks and `groups` groups of shop /
    shop-dr, `registers` groups of blue / green for the recorded clients),
    and `agents` agents."""

    def __init__(self, groups=1000, registers=20, agents=3, lease_ms=5000,
                 prefix="failover", etcd_members=3):
        self.etcd_members = etcd_members
        self.groups = groups
        self.registers = registers
        self.n_agents = agents
        self.lease_ms = lease_ms
        self.prefix = prefix
        self.etcd = None
        self.knot = None
        self.agents = []
        self.dir = None
        self.url = None

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        import tempfile
        self.dir = tempfile.mkdtemp(prefix="fo-ha.")
        self.etcd = etcd.EtcdCluster(self.etcd_members)
        self.etcd.start()
        self.url = self.etcd.url(self.prefix)
        self.knot = knotd.Knotd(records=RECORDS, log_level="info")
        self.knot.start()
        self.ctl("init", "--zone", ZONE, "--server", self.knot.server,
                 "--key", self.knot.key_file)
        for stack in ("shop", "shop-dr", "blue", "green"):
            self.ctl("stack", "add", stack)
            self.ctl("server", "add", stack, "web1", "--web")
        self._create_groups()
        for i in range(self.n_agents):
            a = Agent(self, "a%d" % i)
            a.start()
            self.agents.append(a)
        lead = self.wait_leader(after=0, timeout=60)
        if lead is None or lead[0].wait("caught-up", timeout=120) is None:
            raise RuntimeError("no agent published the first state; see "
                               + self.dir)

    def stop(self):
        for a in self.agents:
            a.terminate(10)
        if self.knot:
            self.knot.stop()
        if self.etcd:
            self.etcd.stop()
        if self.dir and not os.environ.get("FO_HA_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def ctl(self, *args, check=True, timeout=600):
        r = subprocess.run([CTL, "--db", self.url, "--no-color"] + list(args),
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("failoverctl %s: exit %d\n%s%s" % (
                " ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def _create_groups(self):
        import failover
        store = failover.Store.open(self.url)
        reg = failover.Registry.open(store)
        shop, dr = reg.find_stack("shop"), reg.find_stack("shop-dr")
        blue, green = reg.find_stack("blue"), reg.find_stack("green")
        made = 0
        while made < self.groups:  # batches of 2,000: one commit each
            with reg.batch():
                for _ in range(min(2000, self.groups - made)):
                    reg.group(primary=shop, backup=dr)
                    made += 1
        with reg.batch():
            for _ in range(self.registers):
                reg.group(primary=blue, backup=green)
        reg.close()
        store.close()

    # ---- leadership ------------------------------------------------------

    def wait_leader(self, after, timeout=60, exclude=()):
        """(agent, event) of the first `leader` event after `after` by an
        agent not in `exclude`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            best = None
            for a in self.agents:
                if a in exclude:
                    continue
                ev = a.wait("leader", after=after, timeout=0)
                if ev and (best is None or ev["t"] < best[1]["t"]):
                    best = (a, ev)
            if best:
                return best
            time.sleep(0.05)
        return None

    def current_leader(self):
        """The agent whose last leader event is not followed by a lost,
        fenced or stop; None if none."""
        found = None
        for a in self.agents:
            if not a.alive() or a.stopped:
                continue
            state = None
            with a.cond:
                for ev in a.events:
                    if ev.get("event") == "leader":
                        state = ev
                    elif ev.get("event") in ("lost", "fenced", "stopped"):
                        state = None
            if state and (found is None or state["t"] > found[1]["t"]):
                found = (a, state)
        return found

    # ---- truth: the store and the zone -----------------------------------

    def store_state(self):
        """{address: expected CNAME target} for every live group with
        records, from a fresh registry on the store."""
        import failover
        store = failover.Store.open(self.url, readonly=True)
        reg = failover.Registry.open(store)
        want = {}
        for g in reg.groups():
            for r in g.rrset():
                if r.type == "CNAME":
                    want[r.owner.rstrip(".").lower() + "."] = (
                        r.data.rstrip(".").lower() + ".")
        reg.close()
        store.close()
        return want

    def zone_state(self):
        """{owner: CNAME target} of the zone's group names."""
        have = {}
        for owner, rtype, data in self.knot.axfr():
            if rtype == "CNAME":
                have[owner] = data.rstrip(".").lower() + "."
        return have

    def wait_settled(self, timeout=120):
        """Until no group is SWITCHING (the leader verified and settled
        every switch). True on success."""
        import json
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.ctl("--json", "status", check=False)
            try:
                if json.loads(r.stdout)["groups"]["switching"] == 0:
                    return True
            except (ValueError, KeyError):
                pass
            time.sleep(0.2)
        return False

    def fence(self):
        got = self.knot.query("_failover-epoch", "TXT")
        return int(got[0].strip('"')) if got else None

    def mismatches(self):
        """Names whose zone records differ from the store's."""
        want, have = self.store_state(), self.zone_state()
        return sorted(n for n in set(want) | set(have)
                      if want.get(n) != have.get(n))

    def wait_in_step(self, timeout=60):
        """Wait until the zone holds exactly what the store says; returns
        the remaining mismatches (empty on success)."""
        deadline = time.monotonic() + timeout
        while True:
            bad = self.mismatches()
            if not bad or time.monotonic() > deadline:
                return bad
            time.sleep(0.2)

    def refused_updates(self):
        """UPDATEs knotd refused for an unmet prerequisite (the fence)."""
        with open(self.knot.log_path) as f:
            return sum(1 for line in f if "prerequisites not met" in line)


# ---- recorded clients and the history check ---------------------------------

class History:
    """Operations of concurrent clients with their outcome: 'ok' (the store
    acknowledged the commit, at `revision`), 'fail' (refused, nothing
    written) or 'unknown' (the commit's outcome is not known: etcd lost
    during it). Checked for lost and duplicated writes and for real-time
    order, in the spirit of Jepsen's register and set checks."""

    def __init__(self, initial_registers=0):
        self.ops = []
        self.lock = threading.Lock()
        self.initial_registers = initial_registers

    def add(self, op):
        with self.lock:
            self.ops.append(op)

    def check(self, store_url):
        """Returns a dict of findings: lost, duplicated, order, counts."""
        import failover
        store = failover.Store.open(store_url, readonly=True)
        reg = failover.Registry.open(store)
        live = {}
        for g in reg.groups():
            p = g.stack("primary")
            if p is not None and p.name in ("blue", "green"):
                live[g.address] = g.active_slot
        reg.close()
        store.close()
        ok = [o for o in self.ops if o["outcome"] == "ok"]
        unknown = [o for o in self.ops if o["outcome"] == "unknown"]
        lost, order = [], []
        # Set check: every acknowledged create is there; no more groups than
        # creates that may have been applied.
        creates_ok = [o for o in ok if o["kind"] == "create"]
        creates_unknown = [o for o in unknown if o["kind"] == "create"]
        for o in creates_ok:
            if o["group"] not in live:
                lost.append(o)
        made = len(live) - self.initial_registers
        duplicated = max(0, made - len(creates_ok) - len(creates_unknown))
        # Register check: each group's slot is that of its last acknowledged
        # switch (by revision), unless a later unknown one may have won.
        last = {}
        for o in ok:
            if o["kind"] == "switch":
                if o["group"] not in last or o["revision"] > last[o["group"]]["revision"]:
                    last[o["group"]] = o
        for g, o in last.items():
            later_unknown = any(u["kind"] == "switch" and u["group"] == g and
                                u["start"] > o["start"] for u in unknown)
            if live.get(g) != o["slot"] and not later_unknown:
                lost.append(o)
        # Revisions: unique among acknowledged writes, and in real-time
        # order (an operation that ended before another began has the
        # lower revision).
        revs = [o["revision"] for o in ok]
        if len(set(revs)) != len(revs):
            duplicated += len(revs) - len(set(revs))
        by_end = sorted(ok, key=lambda o: o["end"])
        for i, a in enumerate(by_end):
            for b in by_end[i + 1:]:
                if a["end"] < b["start"] and a["revision"] >= b["revision"]:
                    order.append((a, b))
        return {"ops": len(self.ops), "ok": len(ok), "unknown": len(unknown),
                "fail": len(self.ops) - len(ok) - len(unknown),
                "lost": lost, "duplicated": duplicated, "order": order}


# Failures after which a commit may or may not be in the store: the request
# reached etcd and its answer was lost. (Every other code is a refusal that
# wrote nothing; see <failover/store.h>.)
UNKNOWN_OUTCOME = ("FO_ESTOREIO", "FO_EIO", "FO_ETIMEDOUT")


class Client(threading.Thread):
    """Creates groups on blue/green and switches them, one commit per
    operation, through its own store and registry; records everything."""

    def __init__(self, url, history, seed, stop_event):
        super().__init__(daemon=True)
        self.url = url
        self.history = history
        self.rng = random.Random(seed)
        self.stop_event = stop_event
        self.reg = self.store = None

    def _open(self):
        import failover
        self._close()
        self.store = failover.Store.open(self.url)
        self.reg = failover.Registry.open(self.store)

    def _close(self):
        if self.reg is not None:
            self.reg.close()
        if self.store is not None:
            self.store.close()
        self.reg = self.store = None

    def _registers(self):
        blue = self.reg.find_stack("blue")
        return [g for g in blue.groups()] if blue else []

    def _one(self):
        import failover
        kind = "create" if self.rng.random() < 0.3 else "switch"
        op = {"kind": kind, "start": time.monotonic(), "group": None,
              "slot": None, "revision": None}
        try:
            if kind == "create":
                g = self.reg.group(primary=self.reg.find_stack("blue"),
                                   backup=self.reg.find_stack("green"))
                op["group"] = g.address
            else:
                groups = self._registers()
                g = self.rng.choice(groups)
                op["group"] = g.address
                slot = "backup" if g.active_slot == "primary" else "primary"
                op["slot"] = slot
                with self.reg.batch():
                    g.switch(slot, workflow=False)
                    g.settle()
            op["revision"] = self.reg.revision
            op["outcome"] = "ok"
        except failover.Error as e:
            op["error"] = e.name
            if e.name in UNKNOWN_OUTCOME:
                op["outcome"] = "unknown"  # the commit may or may not be in
                self._reopen_quietly()
            else:
                # Refused before anything was written: by the store (stale,
                # locked), by a rule, or by a registry a failed commit had
                # poisoned.
                op["outcome"] = "fail"
                try:
                    if e.name == "FO_EPOISONED":
                        self._open()
                    else:
                        self.reg.refresh()
                except failover.Error:
                    self._reopen_quietly()
        op["end"] = time.monotonic()
        self.history.add(op)

    def _reopen_quietly(self):
        import failover
        try:
            self._open()
        except failover.Error:
            self._close()

    def run(self):
        import failover
        while not self.stop_event.is_set():
            if self.reg is None:
                self._reopen_quietly()
                if self.reg is None:
                    time.sleep(0.1)
                    continue
            try:
                self._one()
            except failover.Error:
                self._reopen_quietly()
            time.sleep(self.rng.uniform(0.005, 0.03))
        self._close()


class Clients:
    """`n` recorded clients running until stopped."""

    def __init__(self, cluster, n=2, seed=1):
        self.history = History(cluster.registers)
        self.stop_event = threading.Event()
        self.threads = [Client(cluster.url, self.history, seed + i,
                               self.stop_event) for i in range(n)]

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(60)
