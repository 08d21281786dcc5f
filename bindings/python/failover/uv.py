"""A libuv loop driven by an asyncio loop.

libfailover's engines (verifier, publisher, switchovers) run on a libuv loop.
Loop makes one (malloc(uv_loop_size()) + uv_loop_init()) and lets asyncio
drive it without ever blocking:

- asyncio watches the libuv loop's backend file descriptor (uv_backend_fd(),
  an epoll descriptor that becomes readable when any of libuv's sockets is)
  with add_reader();
- after every turn, uv_backend_timeout() says when libuv's next timer is due,
  and a call_later() (or call_soon() for 0) runs the next turn then;
- a turn is uv_run(loop, UV_RUN_NOWAIT): due timers, ready sockets and
  closing handles, then back to asyncio at once;
- anything started from Python (a check, a watch, a change the publisher
  hears through the change feed) may arm a libuv timer outside uv_run(), so
  every such call kicks the loop: a turn is scheduled with call_soon().

The loop holds one referenced uv_async_t of its own while it is open:
libfailover's sockets are unreferenced poll handles, and without a
referenced handle uv_run() would return without polling them while their
descriptor stays readable (asyncio would then wake us forever).

C callbacks never run user code: the engines' callbacks only record what
happened (C hands over pointers valid during the call only, so they are
copied) and schedule the rest with call_soon(); futures are resolved and
user code runs from the asyncio loop afterwards.
"""

import asyncio
import ctypes
import os
import warnings

from . import _lib
from ._lib import P

_uv = ctypes.CDLL(os.environ.get("FO_LIBUV") or "libuv.so.1")
_libc = ctypes.CDLL(None)

UV_RUN_DEFAULT, UV_RUN_ONCE, UV_RUN_NOWAIT = 0, 1, 2
UV_ASYNC = 1  # uv_handle_type

for _name, _args, _res in [
        ("uv_loop_size", [], ctypes.c_size_t),
        ("uv_handle_size", [ctypes.c_int], ctypes.c_size_t),
        ("uv_loop_init", [P], ctypes.c_int),
        ("uv_loop_close", [P], ctypes.c_int),
        ("uv_loop_alive", [P], ctypes.c_int),
        ("uv_run", [P, ctypes.c_int], ctypes.c_int),
        ("uv_backend_fd", [P], ctypes.c_int),
        ("uv_backend_timeout", [P], ctypes.c_int),
        ("uv_async_init", [P, P, P], ctypes.c_int),
        ("uv_close", [P, P], None),
        ("uv_strerror", [ctypes.c_int], ctypes.c_char_p),
        ("uv_err_name", [ctypes.c_int], ctypes.c_char_p),
        ("uv_version_string", [], ctypes.c_char_p)]:
    _f = getattr(_uv, _name)
    _f.argtypes = _args
    _f.restype = _res
_libc.malloc.argtypes = [ctypes.c_size_t]
_libc.malloc.restype = P
_libc.free.argtypes = [P]
_libc.free.restype = None


def libuv_version():
    return _uv.uv_version_string().decode()


def _uv_check(rc, what):
    if rc < 0:
        raise OSError(-rc, "%s: %s (%s)" % (what, _uv.uv_strerror(rc).decode(),
                                            _uv.uv_err_name(rc).decode()))
    return rc


class Loop:
    """A libuv loop bridged into an asyncio loop (the running one by
    default). Engines made on it (Verifier, Publisher) are closed by
    close(), which then closes the libuv loop:

        async with failover.Loop() as loop:
            ...
    """

    def __init__(self, aio=None):
        self.aio = aio or asyncio.get_running_loop()
        self._ptr = None
        self._keepalive = None
        self._timer = None      # asyncio handle of the next timed turn
        self._soon = None       # asyncio handle of a turn asked for by kick()
        self._in_turn = False
        self._closed = False
        self._closing = None    # the task of close()
        self.turns = 0          # uv_run() calls so far (a statistic)
        self.engines = set()    # open Verifiers and Publishers
        self.registries = set()  # registries whose change events a turn may record
        ptr = _libc.malloc(_uv.uv_loop_size())
        if not ptr:
            raise MemoryError("uv_loop_t")
        rc = _uv.uv_loop_init(ptr)
        if rc < 0:
            _libc.free(ptr)
            _uv_check(rc, "uv_loop_init")
        self._ptr = ptr
        self._keepalive = _libc.malloc(_uv.uv_handle_size(UV_ASYNC))
        rc = _uv.uv_async_init(ptr, self._keepalive, None) if self._keepalive \
            else -12  # UV_ENOMEM
        if rc < 0:
            _libc.free(self._keepalive)
            _uv.uv_loop_close(ptr)
            _libc.free(ptr)
            self._ptr = self._keepalive = None
            _uv_check(rc, "uv_async_init")
        self._fd = _uv.uv_backend_fd(ptr)
        self.aio.add_reader(self._fd, self._turn)

    @property
    def ptr(self):
        """The uv_loop_t * (an int) for C calls."""
        if self._closed:
            raise RuntimeError("the libuv loop is closed")
        return self._ptr

    @property
    def closed(self):
        return self._closed

    def kick(self):
        """Something may have armed a libuv timer or handle from outside
        uv_run(): run a turn soon (coalesced)."""
        if self._soon is None and not self._closed:
            self._soon = self.aio.call_soon(self._turn)

    def _turn(self):
        self._soon = None
        if self._in_turn or self._closed:
            return
        self._in_turn = True
        self.turns += 1
        try:
            _uv.uv_run(self._ptr, UV_RUN_NOWAIT)
        finally:
            self._in_turn = False
        for reg in list(self.registries):  # settles made by switchovers
            try:
                reg._deliver_events()
            except Exception as e:
                self.aio.call_exception_handler({
                    "message": "exception in a change-feed subscriber",
                    "exception": e})
        self._schedule()

    def _schedule(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._closed or not _uv.uv_loop_alive(self._ptr):
            return  # nothing timed; the descriptor (or a kick) wakes us
        timeout = _uv.uv_backend_timeout(self._ptr)
        if timeout == 0:
            self.kick()  # idle or closing handles: another turn right away
        elif timeout > 0:
            self._timer = self.aio.call_later(timeout / 1000.0, self._turn)

    async def close(self):
        """Close every engine made on the loop (waiting for their closed
        callbacks), then the libuv loop itself. Safe to call more than once,
        also concurrently."""
        if self._closing is None:
            self._closing = self.aio.create_task(self._close())
        await asyncio.shield(self._closing)

    async def _close(self):
        engines = [e.close() for e in list(self.engines)]
        if engines:
            await asyncio.gather(*engines)
        _uv.uv_close(self._keepalive, None)
        while _uv.uv_loop_alive(self._ptr):  # closing handles, to the last
            self._turn()
            await asyncio.sleep(0)
        self.aio.remove_reader(self._fd)
        for h in (self._timer, self._soon):
            if h is not None:
                h.cancel()
        self._timer = self._soon = None
        self._closed = True
        rc = _uv.uv_loop_close(self._ptr)
        if rc < 0:  # a handle left open: leak the loop rather than free it
            self._ptr = self._keepalive = None
            _uv_check(rc, "uv_loop_close")
        _libc.free(self._ptr)
        _libc.free(self._keepalive)
        self._ptr = self._keepalive = None

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    def __del__(self):
        if getattr(self, "_ptr", None) is not None and not self._closed:
            warnings.warn("failover.Loop was not closed: its libuv loop leaks",
                          ResourceWarning)


class Operation:
    """An engine request in flight (a check, a watch, a reconcile, a
    switchover). Await it for its outcome. Cancelling the task that awaits
    it cancels the request in C (when C can); cancel() does so directly.

    `outcome` holds what the C callback reported once it came (also after a
    cancellation), and done() says whether it came.
    """

    def __init__(self, loop):
        self._loop = loop
        self._future = loop.aio.create_future()
        self._handle = P()   # the C handle, valid until the callback fired
        self._token = None
        self._fired = False
        self.outcome = None

    # -- for subclasses ----------------------------------------------------------

    def _begin(self):
        """A token for the C call's userdata: the callback finds us by it."""
        self._token = _lib.hold(self)
        return self._token

    def _refused(self, rc):
        """The starting call failed: its callback will never come."""
        _lib.release(self._token)
        self._loop.kick()  # a refused start may still have closed handles
        raise _lib.Error(rc)

    def _fire(self, outcome):
        """From inside the C callback: record, and let asyncio do the rest."""
        self._fired = True
        self._handle = P()
        self.outcome = outcome
        _lib.release(self._token)
        try:
            self._loop.aio.call_soon(self._settle)
        except RuntimeError:  # the asyncio loop is closed: nobody waits
            pass

    def _result(self, outcome):  # the awaited value, or raise
        return outcome

    def _cancel_c(self):
        raise NotImplementedError

    # -- public ------------------------------------------------------------------

    def _settle(self):
        if self._future.done():  # the awaiting task was cancelled
            return
        try:
            value = self._result(self.outcome)
        except Exception as e:
            self._future.set_exception(e)
        else:
            self._future.set_result(value)

    def done(self):
        """True once the C callback came."""
        return self._fired

    def cancel(self):
        """Cancel the request in C; its callback runs now (recorded).
        Returns False when it had already completed."""
        if self._fired:
            return False
        self._cancel_c()
        self._loop.kick()
        return True

    def __await__(self):
        try:
            return (yield from self._future.__await__())
        except asyncio.CancelledError:
            self.cancel()
            raise

    async def wait(self):
        """The same as awaiting the operation, as a coroutine (for
        asyncio.create_task())."""
        return await self
