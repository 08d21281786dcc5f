"""knotd.py - a real Knot DNS primary on loopback for Python tests.

Stdlib only. Each server gets a fresh temporary directory with its
configuration, zone file, TSIG key (a Knot key file, which libfailover reads
too) and log; it runs in the foreground as a child of the test and is ready
when its SOA answers with the serial chosen here (a random serial per
instance, so a foreign server on the same port is never mistaken for ours).

    with Knotd(records=["web1.shop 60 IN A 192.0.2.10"]) as ns:
        ns.server          # "127.0.0.1:PORT"
        ns.key_file        # path of the TSIG key file
        ns.query("x", "CNAME")  # ["target.example.net."]
"""

import os
import random
import shutil
import signal
import subprocess
import tempfile
import time

ZONE = "failover.example.net"
KEY_NAME = "failover-key"


def _which(name):
    for d in ("/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin"):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return shutil.which(name)


def available():
    """Whether knotd, keymgr and kdig are installed."""
    return all(_which(n) for n in ("knotd", "keymgr", "kdig"))


class Knotd:
    def __init__(self, zone=ZONE, records=(), key_name=KEY_NAME,
                 log_level="notice"):
        self.zone = zone
        # "info" logs every DDNS and its outcome (refused prerequisites too)
        self.log_level = log_level
        self.records = list(records)
        self.key_name = key_name
        self.dir = None
        self.proc = None
        self.port = None

    # ---- life cycle ------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="fo-knotd.")
        self.key_file = os.path.join(self.dir, "tsig.key")
        with open(self.key_file, "w") as f:
            subprocess.run([_which("keymgr"), "-t", self.key_name,
                            "hmac-sha256"], stdout=f, check=True)
        self.serial = random.randint(1000000, 2000000000)
        self._write_zone()
        for _ in range(8):
            self.port = random.randint(20000, 59999)
            self._write_conf()
            log = open(os.path.join(self.dir, "knotd.log"), "w")
            self.proc = subprocess.Popen(
                [_which("knotd"), "-c", os.path.join(self.dir, "knot.conf")],
                stdout=log, stderr=subprocess.STDOUT)
            log.close()
            if self._wait_ready():
                return
            self._kill()
        raise RuntimeError("knotd did not start; see " + self.dir)

    def stop(self):
        self._kill()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def _kill(self):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    # ---- what tests use --------------------------------------------------

    @property
    def server(self):
        return "127.0.0.1:%d" % self.port

    def query(self, name, rtype="CNAME"):
        """The rdata of `name` (relative to the zone unless it ends in a
        dot or in the zone) asked over UDP, as kdig +short prints it; []
        when none."""
        if name.endswith("."):
            fqdn = name
        elif name == self.zone or name.endswith("." + self.zone):
            fqdn = name + "."
        else:
            fqdn = "%s.%s." % (name, self.zone)
        out = subprocess.run(
            [_which("kdig"), "+short", "+time=2", "+retry=1",
             "@127.0.0.1", "-p", str(self.port), fqdn, rtype],
            capture_output=True, text=True, check=False).stdout
        return [l.strip() for l in out.splitlines() if l.strip()]

    @property
    def log_path(self):
        return os.path.join(self.dir, "knotd.log")

    def axfr(self):
        """Every record of the zone as (owner, type, rdata) tuples, owners
        lowercase with their trailing dot."""
        out = subprocess.run(
            [_which("kdig"), "+noall", "+answer", "+time=5", "@127.0.0.1",
             "-p", str(self.port), self.zone + ".", "AXFR"],
            capture_output=True, text=True, check=True).stdout
        recs = []
        for line in out.splitlines():
            f = line.split(None, 4)
            if len(f) == 5:
                recs.append((f[0].lower(), f[3], f[4].strip()))
        return recs

    def soa_serial(self):
        got = self.query(self.zone + ".", "SOA")
        return int(got[0].split()[2]) if got else None

    # ---- files -----------------------------------------------------------

    def _write_zone(self):
        z = self.zone
        lines = [
            "$ORIGIN %s." % z,
            "$TTL 60",
            "@ 3600 IN SOA ns.%s. hostmaster.%s. %d 3600 900 604800 60"
            % (z, z, self.serial),
            "@ 3600 IN NS ns.%s." % z,
            "ns 3600 IN A 127.0.0.1",
        ] + self.records
        with open(os.path.join(self.dir, "%s.zone" % z), "w") as f:
            f.write("\n".join(lines) + "\n")

    def _write_conf(self):
        with open(self.key_file) as f:
            key = f.read()
        d = self.dir
        conf = (
            "server:\n"
            '    rundir: "%s"\n'
            '    pidfile: "%s/knot.pid"\n'
            "    listen: 127.0.0.1@%d\n"
            "control:\n"
            '    listen: "%s/knot.sock"\n'
            "log:\n"
            "  - target: stderr\n"
            "    any: %s\n"
            "database:\n"
            '    storage: "%s"\n'
            "%s"
            "acl:\n"
            "  - id: update\n"
            "    key: %s\n"
            "    action: [update, transfer]\n"
            "  - id: local\n"
            "    address: 127.0.0.0/8\n"
            "    action: transfer\n"
            "template:\n"
            "  - id: default\n"
            '    storage: "%s"\n'
            '    file: "%%s.zone"\n'
            "    zonefile-sync: -1\n"
            "    journal-content: changes\n"
            "zone:\n"
            "  - domain: %s\n"
            "    acl: [update, local]\n"
        ) % (d, d, self.port, d, self.log_level, d, key, self.key_name, d,
               self.zone)
        with open(os.path.join(d, "knot.conf"), "w") as f:
            f.write(conf)

    def _wait_ready(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self.soa_serial() == self.serial:
                return True
            time.sleep(0.05)
        return False
