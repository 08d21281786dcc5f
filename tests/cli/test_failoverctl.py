"""test_failoverctl.py - the real failoverctl binary against a real knotd and
a durable store: the operator's story, every refusal with its message and
exit code, JSON checked against the schema of docs/failoverctl.md,
concurrent processes on one store, and bad input leaving the store as it
was.

Run by ctest: FAILOVERCTL names the binary. Stdlib only.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import knotd  # noqa: E402

BIN = os.environ.get("FAILOVERCTL", "failoverctl")
# A prefix for every invocation, e.g. "valgrind -q --error-exitcode=99".
WRAPPER = os.environ.get("FO_CTL_WRAPPER", "").split()
ZONE = knotd.ZONE
RECORDS = [
    "web1.shop 60 IN A 192.0.2.10",
    "lb1.shop 60 IN A 192.0.2.11",
    "web1.shop-dr 60 IN A 192.0.2.20",
    "lb1.shop-dr 60 IN A 192.0.2.21",
]

# ---- the documented JSON schema (docs/failoverctl.md) -------------------------

STR, INT, NUM, BOOL, LIST, OBJ, NULL = str, int, (int, float), bool, list, dict, type(None)

GROUP = {
    "address": STR, "state": STR, "active": (STR, NULL), "primary": (STR, NULL),
    "backup": (STR, NULL), "ttl": INT, "records": LIST,
}
PUBLISH = {"publisher": (STR, NULL), "published_here": BOOL}
STACK = {"name": STR, "id": INT, "groups": INT, "web_servers": INT,
         "load_balancers": INT, "web_head": (OBJ, NULL)}
SCHEMAS = {
    "init": {"store": STR, "created": BOOL, "zone": STR, "server": STR,
             "key_file": STR, "verify": LIST, "ttl": INT},
    "stack": {"stack": OBJ},
    "stacks": {"stacks": LIST},
    "done": {"done": STR},
    "group": {"group": OBJ},
    "groups": {"groups": LIST},
    "switch": {"group": OBJ, "switch": OBJ},
    "bulk": {"stack": STR, "groups": INT, "failed": INT, "error": (STR, NULL),
             "published_ms": (NUM, NULL), "all_matched_ms": (NUM, NULL),
             "resolvers_follow_ms": (NUM, NULL)},
    "verify": {"name": STR, "status": STR, "match": BOOL, "servers": LIST},
    "reconcile": {"applied": BOOL, "error": (STR, NULL), "zone_records": INT,
                  "owned_names": INT, "entries": LIST},
    "export": {"zone": STR, "records": LIST},
    "status": {"store": STR, "revision": INT, "zone": STR, "primary": STR,
               "verify": STR, "key_file": STR, "lease": OBJ, "groups": OBJ,
               "pending": LIST, "last_error": (STR, NULL)},
    "error": {"error": OBJ},
    "dry": {"allowed": BOOL, "operation": STR},
}


def check_schema(test, doc, schema, where):
    test.assertIsInstance(doc, dict, where)
    for key, kind in schema.items():
        test.assertIn(key, doc, "%s: key %r missing in %s" % (where, key, doc))
        test.assertIsInstance(doc[key], kind, "%s: %r is %r" % (where, key, doc[key]))


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@unittest.skipUnless(knotd.available(), "knotd, keymgr and kdig are needed")
class Base(unittest.TestCase):
    def setUp(self):
        self.ns = knotd.Knotd(records=RECORDS)
        self.ns.start()
        self.dir = tempfile.mkdtemp(prefix="fo-ctl.")
        self.db = os.path.join(self.dir, "store.db")

    def tearDown(self):
        self.ns.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def ctl(self, *args, code=0, env=None, db=True):
        cmd = WRAPPER + [BIN] + (["--db", self.db] if db else []) + ["--timeout", "20"]
        r = subprocess.run(cmd + list(args), capture_output=True, text=True,
                           timeout=120, env=env)
        if code is not None:
            self.assertEqual(r.returncode, code, "failoverctl %s\nstdout: %s\nstderr: %s"
                             % (" ".join(args), r.stdout, r.stderr))
        return r

    def js(self, *args, code=0, schema=None):
        r = self.ctl("--json", *args, code=code)
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            self.fail("not one JSON document: %r (stderr %r)" % (r.stdout, r.stderr))
        if schema:
            check_schema(self, doc, SCHEMAS[schema], " ".join(args))
        return doc

    def init(self):
        return self.js("init", "--zone", ZONE, "--server", self.ns.server,
                       "--key", self.ns.key_file, schema="init")

    def shop(self):
        self.init()
        self.ctl("stack", "add", "shop")
        self.ctl("server", "add", "shop", "web1", "--web")
        self.ctl("stack", "add", "shop-dr")
        self.ctl("server", "add", "shop-dr", "web1", "--web")

    def cname(self, address):
        return self.ns.query(address, "CNAME")


class Story(Base):
    def test_the_seed_story(self):
        """Reserve, attach, publish, flip the switch, follow a new load
        balancer, lose a data centre, detach and delete: each step seen by
        asking the server, as an operator would with dig."""
        doc = self.init()
        self.assertTrue(doc["created"])
        self.ctl("stack", "add", "shop")
        self.ctl("server", "add", "shop", "web1", "--web")
        self.ctl("stack", "add", "shop-dr")
        self.ctl("server", "add", "shop-dr", "web1", "--web")
        r = self.ctl("group", "create")
        g = r.stdout.splitlines()[0]
        self.assertRegex(g, r"^\d{3}-\d{3}-\d{3}\.%s$" % ZONE.replace(".", r"\."))
        self.assertEqual(self.cname(g), [], "a reserved address has no records")
        self.ctl("group", "attach", g, "--primary", "shop")
        self.ctl("group", "attach", g, "--backup", "shop-dr")
        self.assertEqual(self.cname(g), ["web1.shop.%s." % ZONE])

        doc = self.js("group", "switch", g, "--to", "backup", schema="switch")
        self.assertIsNone(doc["switch"]["error"])
        self.assertEqual(doc["group"]["state"], "serving", "settled")
        self.assertEqual(doc["group"]["active"], "backup")
        self.assertEqual(self.cname(g), ["web1.shop-dr.%s." % ZONE])
        self.assertEqual(self.ctl("verify", g).returncode, 0)

        self.ctl("server", "add", "shop-dr", "lb1", "--lb")
        self.assertEqual(self.cname(g), ["lb1.shop-dr.%s." % ZONE],
                         "the group follows its stack's new web head")

        doc = self.js("switch", "--stack", "shop-dr", schema="bulk")
        self.assertEqual((doc["groups"], doc["failed"]), (1, 0))
        self.assertEqual(self.cname(g), ["web1.shop.%s." % ZONE])

        self.ctl("group", "detach", g, "--backup")
        self.ctl("group", "detach", g, "--primary")
        self.assertEqual(self.cname(g), [], "a reserved group's records go away")
        self.ctl("group", "delete", g)
        self.assertEqual(self.js("group", "list", schema="groups")["groups"], [])
        self.ctl("group", "show", g, code=1)

    def test_reconcile_repairs_the_zone(self):
        self.shop()
        g = self.ctl("group", "create", "--primary", "shop").stdout.splitlines()[0]
        # Someone edits the zone by hand.
        subprocess.run(["knsupdate", "-y", self._key()], input=(
            "server 127.0.0.1 %d\nzone %s.\nupdate delete %s. CNAME\n"
            "update add %s. 60 CNAME wrong.example.net.\nsend\n"
            % (self.ns.port, ZONE, g, g)), text=True, check=True)
        self.assertEqual(self.cname(g), ["wrong.example.net."])
        doc = self.js("reconcile", "--dry-run", schema="reconcile")
        self.assertFalse(doc["applied"])
        self.assertEqual([(e["action"], e["name"]) for e in doc["entries"]],
                         [("change", g)])
        self.assertEqual(self.cname(g), ["wrong.example.net."], "a dry run sends nothing")
        doc = self.js("reconcile", schema="reconcile")
        self.assertTrue(doc["applied"])
        self.assertEqual(self.cname(g), ["web1.shop.%s." % ZONE])

    def _key(self):
        with open(self.ns.key_file) as f:
            return f.readline().lstrip("# ").strip()

    def test_json_of_every_command(self):
        self.shop()
        check_schema(self, self.js("stack", "show", "shop", schema="stack")["stack"],
                     STACK, "stack show")
        for s in self.js("stack", "list", schema="stacks")["stacks"]:
            check_schema(self, s, STACK, "stack list")
        doc = self.js("group", "create", "--primary", "shop", "--backup", "shop-dr",
                      schema="group")
        check_schema(self, doc["group"], GROUP, "group create")
        check_schema(self, doc["publish"], PUBLISH, "group create publish")
        g = doc["group"]["address"]
        for row in doc["publish"]["servers"]:
            self.assertEqual(row["status"], "match")
            self.assertGreaterEqual(row["first_match_ms"], 0)
        check_schema(self, self.js("group", "show", g, schema="group")["group"],
                     GROUP, "group show")
        self.js("verify", g, schema="verify")
        self.js("export", schema="export")
        doc = self.js("status", schema="status")
        self.assertIsNone(doc["lease"]["holder"], "the lease is given back")
        self.js("stack", "rename", "shop-dr", "dr", schema="done")
        self.js("group", "delete", g, "--dry-run", code=1, schema="dry")
        err = self.js("stack", "remove", "nosuch", code=1, schema="error")
        self.assertEqual(err["error"]["exit"], 1)


class Refusals(Base):
    """Every refusal: the rule in words, the exit code, the store unchanged."""

    def refused(self, args, words, code=1, name=None):
        before = sha(self.db)
        r = self.ctl(*args, code=code)
        self.assertIn(words, r.stderr, "failoverctl %s" % " ".join(args))
        self.assertEqual(sha(self.db), before, "a refusal changed the store")
        if name:
            doc = self.js(*args, code=code, schema="error")
            self.assertEqual(doc["error"]["code"], name)
        dry = self.js("--dry-run", *args, code=code)
        if "allowed" in dry:
            self.assertFalse(dry["allowed"])
        self.assertEqual(sha(self.db), before, "a dry run changed the store")

    def test_refusals(self):
        self.shop()
        g = self.ctl("group", "create", "--primary", "shop", "--backup",
                     "shop-dr").stdout.splitlines()[0]
        self.refused(["group", "delete", g],
                     "the primary slot still holds stack shop; detach it first",
                     name="FO_EATTACHED")
        self.refused(["group", "detach", g, "--primary"], "switch first",
                     name="FO_EACTIVE")
        self.refused(["group", "switch", g, "--to", "primary"],
                     "already the active one", name="FO_EALREADY")
        self.refused(["group", "attach", g, "--backup", "shop"], "already holds",
                     name="FO_ESLOTFULL")
        self.refused(["stack", "remove", "shop"], "detach it from them first",
                     name="FO_EINUSE")
        self.refused(["group", "settle", g], "no switch waiting",
                     name="FO_ENOTSWITCHING")
        self.refused(["stack", "add", "shop"], "taken already", name="FO_EEXIST")
        self.refused(["stack", "show", "nosuch"], "no stack named nosuch",
                     name="FO_ENOENT")
        self.refused(["group", "show", "123-456-789"], "no group", name="FO_ENOENT")

    def test_dry_run_allows_without_changing(self):
        self.shop()
        g = self.ctl("group", "create", "--primary", "shop", "--backup",
                     "shop-dr").stdout.splitlines()[0]
        before = sha(self.db)
        r = self.ctl("--dry-run", "group", "switch", g, "--to", "backup")
        self.assertIn("allowed", r.stdout)
        doc = self.js("--dry-run", "group", "detach", g, "--backup", schema="dry")
        self.assertTrue(doc["allowed"])
        self.js("--dry-run", "stack", "add", "new", schema="dry")
        self.js("--dry-run", "server", "add", "shop", "lb9", "--lb", schema="dry")
        self.assertEqual(sha(self.db), before)
        self.assertEqual(self.cname(g), ["web1.shop.%s." % ZONE])


class BadInput(Base):
    def test_usage_errors_change_nothing(self):
        self.shop()
        before = sha(self.db)
        for args, words in [
            (["group", "create", "--bogus"], "unknown option --bogus"),
            (["frobnicate"], "unknown command"),
            (["stack", "add", "not_a_label!"], "malformed"),
            (["server", "add", "shop", "x"], "say --lb or --web"),
            (["server", "add", "shop", "x", "--web", "--ip", "300.1.1.1"], "bad --ip"),
            (["group", "switch", "123-456-789"], "no group"),
            (["stack"], "usage"),
        ]:
            r = self.ctl(*args, code=None)
            self.assertIn(r.returncode, (1, 2), args)
            self.assertIn(words, r.stderr + r.stdout, args)
        self.ctl("group", "switch", "abc", "--to", "backup", code=2)
        self.assertEqual(sha(self.db), before)

    def test_missing_store_and_other_zone(self):
        r = self.ctl("stack", "list", code=4)
        self.assertIn("run `failoverctl init` first", r.stderr)
        self.assertFalse(os.path.exists(self.db), "a read created the store")
        r = self.ctl("stack", "list", code=2, db=False,
                     env={k: v for k, v in os.environ.items() if k != "FAILOVER_DB"})
        self.assertIn("no store", r.stderr)
        self.init()
        before = sha(self.db)
        r = self.ctl("init", "--zone", "other.example.org", "--server", self.ns.server,
                     "--key", self.ns.key_file, code=4)
        self.assertIn("belongs to another zone", r.stderr)
        self.assertEqual(sha(self.db), before)
        r = self.ctl("init", "--zone", ZONE, "--server", "not-an-ip", "--key",
                     self.ns.key_file, code=2)
        self.assertIn("bad --server", r.stderr)
        r = self.ctl("init", "--zone", ZONE, "--server", self.ns.server, "--key",
                     "/nonexistent.key", code=4)
        self.assertEqual(sha(self.db), before)
        with open(os.path.join(self.dir, "junk.db"), "wb") as f:
            f.write(b"not a database at all" * 100)
        r = subprocess.run(WRAPPER + [BIN, "--db", os.path.join(self.dir, "junk.db"), "status"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 4)
        self.assertIn("cannot open the store", r.stderr)


def agent_package():
    """The Python binding (an agent's view of the store), when this build
    can load it (FO_LIBRARY set: not under the sanitizers)."""
    if not os.environ.get("FO_LIBRARY"):
        return None
    sys.path.insert(0, os.path.join(HERE, "..", "..", "bindings", "python"))
    import failover
    return failover


class Concurrency(Base):
    def test_processes_on_one_store_lose_and_duplicate_nothing(self):
        """Eight failoverctl processes create groups at once while others
        add stacks and an agent (the Python binding, in this process) creates
        groups on the same store: every acknowledged create is in the store
        exactly once, and nothing else is."""
        self.shop()
        n = 48
        fo = agent_package()
        agent_made = []

        def agent():
            store = fo.Store.sqlite(self.db)
            reg = fo.Registry.open(store)
            try:
                for _ in range(16):
                    while True:
                        try:
                            agent_made.append(reg.group().address)
                            break
                        except fo.Error as e:
                            if e.name not in ("FO_ESTALE", "FO_ELOCKED"):
                                raise
                            reg.refresh()
            finally:
                store.close()

        def create(i):
            r = self.ctl("--no-wait", "group", "create", code=None)
            return r.returncode, r.stdout.splitlines()[0] if r.stdout else "", r.stderr

        def churn(i):
            r = self.ctl("--no-wait", "stack", "add", "s%d" % i, code=None)
            return r.returncode, "", r.stderr

        with ThreadPoolExecutor(max_workers=9) as pool:
            agent_done = pool.submit(agent) if fo else None
            made = list(pool.map(create, range(n)))
            churned = list(pool.map(churn, range(8)))
            if agent_done:
                agent_done.result()
                self.assertEqual(len(agent_made), 16, "the agent's creates")
        for code, addr, err in made + churned:
            self.assertEqual(code, 0, err)
        addresses = [a for _, a, _ in made] + agent_made
        n += len(agent_made)
        self.assertEqual(len(set(addresses)), n, "an address was handed out twice")
        listed = [g["address"] for g in self.js("group", "list")["groups"]]
        self.assertEqual(sorted(listed), sorted(addresses),
                         "the store holds exactly the acknowledged groups")
        stacks = {s["name"] for s in self.js("stack", "list")["stacks"]}
        self.assertTrue({"s%d" % i for i in range(8)} <= stacks)


if __name__ == "__main__":
    unittest.main(verbosity=2)
