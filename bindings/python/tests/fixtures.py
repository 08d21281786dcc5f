"""Shared by the engine tests: one real knotd for the whole run (the fixture
tests/support/knotd.py, imported by path), and a test case with a durable
registry and agents closed after each test."""

import asyncio
import atexit
import importlib.util
import os
import socket
import tempfile
import unittest

import failover

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.environ.get("FO_KNOTD_FIXTURE") or os.path.normpath(
    os.path.join(HERE, "..", "..", "..", "tests", "support", "knotd.py"))


def _load(path):
    spec = importlib.util.spec_from_file_location("fo_knotd_fixture", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


knotd = _load(FIXTURE)
ZONE = knotd.ZONE
# The web heads' host names resolve: a CNAME into a missing name dangles
# and never verifies.
RECORDS = [
    "web1.shop 60 IN A 192.0.2.10",
    "web1.shop-dr 60 IN A 192.0.2.20",
    "web1.east 60 IN A 192.0.2.30",
    "web1.west 60 IN A 192.0.2.40",
    "alias 60 IN CNAME web1.shop",
]

_server = None


def knot():
    """The run's knotd, started on first use and stopped at exit."""
    global _server
    if not knotd.available():
        raise unittest.SkipTest("knotd, keymgr or kdig not installed")
    if _server is None:
        server = knotd.Knotd(records=RECORDS)
        server.start()
        atexit.register(server.stop)
        _server = server
    return _server


def fqdn(name):
    return "%s.%s" % (name, ZONE)


class BlackHole:
    """A UDP socket on loopback that reads nothing and answers nothing: a
    server that never answers the verifier."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.server = "127.0.0.1:%d" % self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


class EngineCase(unittest.IsolatedAsyncioTestCase):
    """A durable registry in a scratch store (durable = False: in memory),
    the run's knotd, and helpers that close what a test opened."""

    durable = True

    def setUp(self):
        self.ns = knot()
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.db = os.path.join(tmp.name, "failover.db")
        if self.durable:
            self.store = failover.Store.sqlite(self.db, create=True)
            self.addCleanup(self.store.close)  # closes the registry first
            self.reg = failover.Registry.open(self.store, ZONE)
        else:
            self.reg = failover.Registry(ZONE)
            self.addCleanup(self.reg.close)

    def stacks(self, primary="shop", backup="shop-dr"):
        a = self.reg.stack(primary)
        a.add_server("web1")
        b = self.reg.stack(backup)
        b.add_server("web1")
        return a, b

    def agent(self, verify_servers=None, **kw):
        """An Agent on the registry, closed when the test ends (before the
        registry: cleanups run last-in first-out)."""
        agent = failover.Agent(self.reg, self.ns.server, self.ns.key_file,
                               verify_servers, **kw)
        self.addAsyncCleanup(agent.close)
        return agent

    def black_hole(self):
        hole = BlackHole()
        self.addCleanup(hole.close)
        return hole.server

    async def answer(self, name, rtype="CNAME"):
        """What knotd answers (kdig in a thread: the loop keeps running)."""
        if not name.endswith("."):
            name += "."
        return await asyncio.to_thread(self.ns.query, name, rtype)
