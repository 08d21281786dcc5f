"""etcd.py - a real etcd cluster (Debian's etcd-server) on loopback for
Python tests.

Stdlib only. Every member gets its own data directory under one temporary
directory and its own client and peer ports; members run as children of
the test. The cluster is ready when every running member answers /health.
The limits a libfailover store needs for large batches are raised here as
docs/operating-several-agents.md tells operators to.

    with EtcdCluster(3) as etcd:
        etcd.url("failover")      # "etcd://127.0.0.1:P1,127.0.0.1:P2,.../failover"
        etcd.kill(0)              # SIGKILL member 0
        etcd.restart(0)           # start it again on its data
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

# What a 10,000-group batch needs (one key per row; see <failover/store.h>).
MAX_TXN_OPS = 50000
MAX_REQUEST_BYTES = 32 * 1024 * 1024


def available():
    return shutil.which("etcd") is not None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EtcdCluster:
    def __init__(self, members=1):
        self.n = members
        self.dir = None
        self.procs = []
        self.client_ports = []
        self.peer_ports = []

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # ---- life cycle -------------------------------------------------------

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="fo-etcd.")
        self.client_ports = [_free_port() for _ in range(self.n)]
        self.peer_ports = [_free_port() for _ in range(self.n)]
        self.procs = [None] * self.n
        for i in range(self.n):
            self._spawn(i, "new")
        self.wait_healthy(range(self.n))

    def stop(self):
        for i in range(self.n):
            self._signal(i, signal.SIGTERM)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def kill(self, i):
        """SIGKILL member i (its data stays)."""
        self._signal(i, signal.SIGKILL)

    def restart(self, i):
        self._spawn(i, "existing")
        self.wait_healthy([i])

    def _name(self, i):
        return "m%d" % i

    def _spawn(self, i, state):
        cluster = ",".join("%s=http://127.0.0.1:%d" % (self._name(j),
                                                       self.peer_ports[j])
                           for j in range(self.n))
        log = open(os.path.join(self.dir, "%s.log" % self._name(i)), "a")
        self.procs[i] = subprocess.Popen(
            ["etcd", "--name", self._name(i),
             "--data-dir", os.path.join(self.dir, self._name(i)),
             "--listen-client-urls", "http://127.0.0.1:%d" % self.client_ports[i],
             "--advertise-client-urls", "http://127.0.0.1:%d" % self.client_ports[i],
             "--listen-peer-urls", "http://127.0.0.1:%d" % self.peer_ports[i],
             "--initial-advertise-peer-urls",
             "http://127.0.0.1:%d" % self.peer_ports[i],
             "--initial-cluster", cluster,
             "--initial-cluster-state", state,
             "--initial-cluster-token", os.path.basename(self.dir),
             "--max-txn-ops", str(MAX_TXN_OPS),
             "--max-request-bytes", str(MAX_REQUEST_BYTES),
             "--log-level", "warn"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def _signal(self, i, sig):
        p = self.procs[i] if i < len(self.procs) else None
        if p is None:
            return
        p.send_signal(sig)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        self.procs[i] = None

    # ---- what tests use ---------------------------------------------------

    def endpoints(self, members=None):
        idx = range(self.n) if members is None else members
        return ["127.0.0.1:%d" % self.client_ports[i] for i in idx]

    def url(self, prefix, members=None):
        return "etcd://%s/%s" % (",".join(self.endpoints(members)), prefix)

    def healthy(self, i):
        try:
            with urllib.request.urlopen(
                    "http://127.0.0.1:%d/health" % self.client_ports[i],
                    timeout=1) as r:
                return json.loads(r.read().decode()).get("health") == "true"
        except (OSError, ValueError):
            return False

    def wait_healthy(self, members, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.procs[i] is not None and self.procs[i].poll() is None
                   and self.healthy(i) for i in members):
                return
            time.sleep(0.1)
        raise RuntimeError("etcd did not become healthy; see " + self.dir)
