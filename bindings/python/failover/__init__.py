"""Python bindings for libfailover (ctypes, standard library only).

- the model and durable registries: Registry, Stack, Group, Store
  (synchronous, no loop);
- TSIG keys: TsigKey;
- the engines on a libuv loop driven by asyncio: Loop, Verifier, Publisher,
  switchovers, and Agent, which holds them together so that

      async with failover.Agent(registry, server, key_file) as agent:
          report = await group.switch("backup")

  runs a whole switchover (published, verified on every server, settled)
  inside an ordinary asyncio program.

Every negative FO_E* code becomes failover.Error with .code, .name
("FO_ESTALE") and .message. The shared library is found through the
FO_LIBRARY environment variable, or else the system's library search path;
libuv through FO_LIBUV, or else libuv.so.1.
"""

from ._lib import Error, version
from .model import (
    FORCE, MODE_ADDRESS, MODE_CNAME, SERVER_LOAD_BALANCER, SERVER_WEB,
    SLOT_BACKUP, SLOT_PRIMARY, STATES, STORE_CREATE, STORE_READONLY,
    STORE_SYNC_NORMAL, Change, Group, Record, Registry, Server, Stack, Store,
    Target)
from .tsig import TsigKey
from .uv import Loop, Operation, libuv_version
from .verifier import (
    VERIFY_PROMISE_MS, Check, ServerAnswer, Verifier, VerifyResult, verify)
from .publish import (
    Plan, PlanEntry, Publisher, PublishStatus, Reconcile, Watch)
from .switch import (
    GroupResult, Switchover, SwitchoverError, SwitchoverReport,
    switchover_group, switchover_resume, switchover_stack)
from .agent import Agent

FailoverError = Error  # the 0.1 name
NAME_BUFSIZE = 256

__all__ = [
    "Error", "FailoverError", "version", "libuv_version",
    # the model
    "Registry", "Stack", "Group", "Store", "Server", "Target", "Record",
    "Change", "FORCE", "MODE_ADDRESS", "MODE_CNAME", "NAME_BUFSIZE",
    "SERVER_LOAD_BALANCER", "SERVER_WEB", "SLOT_BACKUP", "SLOT_PRIMARY",
    "STATES", "STORE_CREATE", "STORE_READONLY", "STORE_SYNC_NORMAL",
    "TsigKey",
    # engines
    "Loop", "Operation", "Verifier", "Check", "VerifyResult", "ServerAnswer",
    "verify", "VERIFY_PROMISE_MS", "Publisher", "PublishStatus", "Plan",
    "PlanEntry", "Reconcile", "Watch", "Switchover", "SwitchoverReport",
    "SwitchoverError", "GroupResult", "switchover_group", "switchover_stack",
    "switchover_resume", "Agent",
]
