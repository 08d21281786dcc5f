"""Agent: a registry served by a publisher and a verifier on one loop; the
object that makes `await group.switch("backup")` the whole switchover."""

from .publish import Publisher
from .switch import switchover_group, switchover_resume, switchover_stack
from .uv import Loop
from .verifier import Verifier


class Agent:
    """Publishes `registry` to the zone's primary `server` (signed with
    `key`, a TsigKey or key file path) and verifies on `verify_servers`
    (default: the primary alone; list the secondaries too so that a switch
    is confirmed everywhere). Made inside a running asyncio loop; it makes
    its own libuv Loop unless given one.

        async with failover.Agent(reg, "192.0.2.53", "/etc/knot/failover.key",
                                  ["192.0.2.53", "192.0.2.54"]) as agent:
            await agent.start()                    # reconcile, resume
            report = await group.switch("backup")  # the whole switchover

    While it is open, Group.switch() of the registry runs switchovers.
    publisher_options and verifier_options go to Publisher and Verifier.
    """

    def __init__(self, registry, server, key, verify_servers=None, *, loop=None,
                 publisher_options=None, verifier_options=None):
        if registry.agent is not None:
            raise RuntimeError("the registry already has an agent")
        self.registry = registry
        self._own_loop = loop is None
        self.loop = loop or Loop()
        self.publisher = self.verifier = None
        try:
            self.publisher = Publisher(self.loop, registry, server, key,
                                       **(publisher_options or {}))
            self.verifier = Verifier(self.loop, verify_servers or [server],
                                     **(verifier_options or {}))
        except BaseException:
            self._abandon()
            raise
        registry.agent = self

    def _abandon(self):
        # A failed start: close what was made, from the loop (a task kept
        # here, as asyncio holds its tasks weakly).
        self._abandoned = self.loop.aio.create_task(self._close_engines())

    async def _close_engines(self):
        for engine in (self.verifier, self.publisher):
            if engine is not None:
                await engine.close()
        if self._own_loop:
            await self.loop.close()

    async def start(self, reconcile=True, resume=True):
        """What an agent runs after opening a durable registry: reconcile
        the zone (applied), then finish the switches a previous process
        left. Returns (plan, report); either is None when not asked for."""
        plan = await self.reconcile(apply=True) if reconcile else None
        report = await self.resume() if resume else None
        return plan, report

    def reconcile(self, apply=True):
        return self.publisher.reconcile(apply)

    def published(self, group, generation=None):
        return self.publisher.published(group, generation)

    def status(self, group):
        return self.publisher.status(group)

    def verify(self, name, **expectation):
        return self.verifier.verify(name, **expectation)

    def verify_group(self, group, **params):
        return self.verifier.verify_group(group, **params)

    def switch(self, group, slot, force=False, until_ms=0, interval_ms=0,
               check=True, verifier=None):
        """The switchover of one group (what Group.switch() calls)."""
        return switchover_group(self.publisher, verifier or self.verifier, group,
                                slot, force, until_ms, interval_ms, check)

    def switch_stack(self, stack, until_ms=0, interval_ms=0, check=False,
                     verifier=None):
        """A lost stack: every group it serves moves to its other slot."""
        return switchover_stack(self.publisher, verifier or self.verifier, stack,
                                until_ms, interval_ms, check)

    def resume(self, until_ms=0, interval_ms=0, check=False, verifier=None):
        """Finish every group left 'switching'."""
        return switchover_resume(self.publisher, verifier or self.verifier,
                                 until_ms, interval_ms, check)

    async def close(self):
        """Close the publisher and verifier (switchovers in flight end with
        FO_ECANCELED), then the loop if the agent made it."""
        if self.registry.agent is self:
            self.registry.agent = None
        await self._close_engines()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()
