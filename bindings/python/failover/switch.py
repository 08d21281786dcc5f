"""Switchovers: switch in the model, publish, verify on every server,
settle; for one group, every group of a lost stack, or the switches a
previous process left (fo_switchover_group/stack/resume)."""

import collections
import ctypes

from . import _lib
from ._lib import Error, lib
from ._lib import check as _check
from .model import FORCE, Group, slot_number
from .uv import Operation

GroupResult = collections.namedtuple(
    "GroupResult", "group error error_name published_ms all_matched_ms")
GroupResult.__doc__ = (
    "What happened to one group of a switchover: error 0 when it was "
    "switched, confirmed everywhere and settled; times in ms from the start "
    "(-1 when not reached).")


class SwitchoverReport:
    """The report of a switchover: error (0 or the first error met), the
    number of groups switched and of those that did not complete, the
    largest TTL, timings in ms (-1 when not reached) and `results`, one
    GroupResult per switched group in the order they were switched."""

    def __init__(self, r, results):
        self.error = r.error
        self.error_name = lib.fo_err_name(r.error).decode()
        self.groups = r.groups
        self.failed = r.failed
        self.ttl = r.ttl
        self.published_ms = r.published_ms
        self.first_match_ms = r.first_match_ms
        self.all_matched_ms = r.all_matched_ms
        self.resolvers_follow_ms = r.resolvers_follow_ms
        self.results = results

    @property
    def ok(self):
        return self.error == 0 and self.failed == 0

    def __repr__(self):
        return "<SwitchoverReport %s groups=%d failed=%d all_matched_ms=%.1f>" % (
            self.error_name, self.groups, self.failed, self.all_matched_ms)


class SwitchoverError(Error):
    """A switchover that did not complete; .report has the details."""

    def __init__(self, report):
        super().__init__(report.error, "switchover: %d failed" % report.failed)
        self.report = report


@_lib.SWITCHOVER_FN
def _on_report(report, userdata):
    op = _lib.lookup(userdata)
    if op is None:
        return
    try:
        r = report.contents
        results = []
        for i in range(r.groups):
            g = lib.fo_switchover_report_group(report, i).contents
            results.append(GroupResult(
                Group(op.registry, g.group), g.error,
                lib.fo_err_name(g.error).decode(), g.published_ms,
                g.all_matched_ms))
        outcome = SwitchoverReport(r, results)
    except Exception as e:
        outcome = e
    op._fire(outcome)


class Switchover(Operation):
    """A switchover in flight. Await it for its SwitchoverReport; with
    check=True a report with an error raises SwitchoverError instead.
    Cancelling the awaiting task (or cancel()) cancels it in C: groups not
    yet settled end with FO_ECANCELED and stay 'switching' (their change is
    still published; a resume() finishes them). `report` is the report once
    it came, cancelled or not."""

    def __init__(self, loop, registry, check_errors):
        super().__init__(loop)
        self.registry = registry
        self.check = check_errors

    @property
    def report(self):
        return self.outcome if isinstance(self.outcome, SwitchoverReport) else None

    def _cancel_c(self):
        # Groups verified already are settled by the cancel; their change
        # events are delivered with the next turn (cancel() kicks the loop).
        _check(lib.fo_switchover_cancel(self._handle))

    def _result(self, report):
        if isinstance(report, Exception):
            raise report
        if self.check and report.error:
            raise SwitchoverError(report)
        return report


def _options(force, until_ms, interval_ms):
    o = _lib.SwitchoverOptions()
    _check(lib.fo_switchover_options_init(ctypes.byref(o), 1))
    o.flags = FORCE if force else 0
    o.until_ms = until_ms
    o.interval_ms = interval_ms
    return o


def _start(publisher, verifier, call, check_errors, *args):
    if verifier.loop is not publisher.loop:
        raise ValueError("the publisher and the verifier must share a Loop")
    registry = publisher.registry
    op = Switchover(publisher.loop, registry, check_errors)
    token = op._begin()
    try:
        rc = call(ctypes.byref(op._handle), *args, _on_report, token)
    finally:
        registry._after_change()  # the model switched: events, publisher kick
    if rc < 0:
        op._refused(rc)
    publisher.loop.kick()
    return op


def switchover_group(publisher, verifier, group, slot, force=False,
                     until_ms=0, interval_ms=0, check=True):
    """Switch `group` to `slot`, publish, verify on every server of
    `verifier`, settle. The model switch is done now: a refusal
    (FO_EALREADY, FO_ESLOTEMPTY, ...) raises here."""
    opts = _options(force, until_ms, interval_ms)
    return _start(publisher, verifier, lib.fo_switchover_group, check, publisher._live(),
                  verifier._live(), group._ptr, slot_number(slot), ctypes.byref(opts))


def switchover_stack(publisher, verifier, stack, until_ms=0, interval_ms=0,
                     check=False):
    """A lost stack: switch every group it serves to the other slot (one
    store commit), publish, verify and settle them; groups that cannot
    switch count as failed."""
    opts = _options(False, until_ms, interval_ms)
    return _start(publisher, verifier, lib.fo_switchover_stack, check, publisher._live(),
                  verifier._live(), stack._ptr, ctypes.byref(opts))


def switchover_resume(publisher, verifier, until_ms=0, interval_ms=0, check=False):
    """Finish every group left 'switching' (by a previous process, or a
    cancelled switchover): publish, verify, settle."""
    opts = _options(False, until_ms, interval_ms)
    return _start(publisher, verifier, lib.fo_switchover_resume, check, publisher._live(),
                  verifier._live(), ctypes.byref(opts))
