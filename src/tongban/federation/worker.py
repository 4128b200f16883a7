"""The federation's worker: refresh peers' lists when due, send what the outbox owes, apply
what the inbox holds. Run as `tongban federation work` beside the web processes (several on
PostgreSQL share the outbox: each message is claimed by one), or as a thread in the demo."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.orm import Session

from tongban.federation import peers, service
from tongban.federation.peers import Federation, Sessions

log = logging.getLogger("tongban.federation")

# Set when a transaction of this process that wrote to the outbox commits, so a worker thread
# in the same process sends at once instead of at its next poll.
WAKE = threading.Event()


def wake_after_commit(session: Session) -> None:
    event.listen(session, "after_commit", lambda _s: WAKE.set(), once=True)


@dataclass
class PassReport:
    refreshed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    applied: int = 0

    def __bool__(self) -> bool:
        return any((self.refreshed, self.sent, self.retried, self.dead, self.applied))

    def line(self) -> str:
        return (
            f"{self.sent} sent, {self.retried} to retry, {self.dead} dead, "
            f"{self.applied} applied, {self.refreshed} peers refreshed"
        )


def run_pass(sessions: Sessions, fed: Federation) -> PassReport:
    """Refresh, send, apply: each on its own, so trouble with one (a peer's list that will
    not fetch, a message that will not sign) never stops the others."""
    report = PassReport()
    try:
        with sessions() as session:
            due = peers.due_for_refresh(session, fed)
        for region in due:
            peers.refresh_peer(sessions, fed, region)
            report.refreshed += 1
    except Exception:  # the database away a moment: the next pass tries again
        log.exception("refreshing peers failed")
    try:
        sent = service.send_pending(sessions, fed)
        report.sent, report.retried, report.dead = sent.sent, sent.retried, sent.dead
    except Exception:
        log.exception("sending failed")
    try:
        report.applied = service.apply_pending(sessions, fed)
    except Exception:
        log.exception("applying failed")
    return report


def run_forever(
    sessions: Sessions, fed: Federation, interval: float, stop: threading.Event | None = None
) -> None:
    """Passes until stopped; a pass that fails (the database away a moment) is logged and
    the next one tries again."""
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            report = run_pass(sessions, fed)
            if report:
                log.info("federation pass: %s", report.line())
        except Exception:  # the worker outlives a bad pass (the database away a moment)
            log.exception("federation pass failed")
        WAKE.wait(interval)
        WAKE.clear()


def start_thread(sessions: Sessions, fed: Federation, interval: float = 1.0) -> threading.Event:
    """The worker in a thread of this process (the demo); returns the event that stops it."""
    stop = threading.Event()
    threading.Thread(
        target=run_forever, args=(sessions, fed, interval, stop), name="federation", daemon=True
    ).start()
    return stop
