"""Ends a read from a client socket when its deadline passes, on the wall clock.

A socket timeout bounds one recv(), not a read: gunicorn's `wsgi.input.read(n)` calls recv()
until it holds n bytes, so a client that sends one byte every 5 s never trips a timeout of any
length and keeps the thread for as long as it likes. Here one thread per process keeps the
deadlines of the reads in progress and, when one passes, shuts that socket's read side
(shutdown(SHUT_RD)): a recv() blocked on it returns b"" at once (end of stream), and so does
every later one that finds nothing buffered, so the reader stops whatever the size of its calls.
The write side stays open for the answer.
"""
import heapq
import itertools
import os
import socket
import threading
import time


class Ticket:
    """One read being watched; `cut` once the watchdog shut the socket's read side. With a
    checkpoint, `may_go_on()` is asked there whether the read may run on to its deadline
    (`went_on`); if not, it is cut then."""

    __slots__ = ("sock", "deadline", "checkpoint", "may_go_on", "armed", "cut", "went_on")

    def __init__(self, sock, deadline: float, checkpoint: float | None, may_go_on):
        self.sock, self.deadline, self.checkpoint, self.may_go_on = sock, deadline, checkpoint, may_go_on
        self.armed, self.cut, self.went_on = True, False, False


def refuse_rest(sock) -> None:
    """Shut the read side: what the client still sends is never read, and no read waits for it."""
    try:
        sock.shutdown(socket.SHUT_RD)
    except OSError:  # already closed or reset by the client: nothing left to refuse
        pass


def end_after_answer(sock) -> None:
    """Nothing more on this connection once the answer is written: bytes of a body we never read
    may still sit on it (a shut read side does not discard what the client sends later), and
    gunicorn would parse them as the client's next request. Shutting the write side after the
    answer sends its FIN, so the client opens a new connection for its next request."""
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:  # the client is gone already
        pass


class Watchdog:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._pid = None
        self._start = threading.Lock()

    def _running(self) -> threading.Condition:
        # Started on first use in each process: gunicorn forks its workers from a master that
        # imported this module, and a thread does not survive a fork.
        if self._pid != os.getpid():
            with self._start:
                if self._pid != os.getpid():
                    self._cond, self._heap, self._seq = threading.Condition(), [], itertools.count()
                    threading.Thread(target=self._run, name="body-deadlines", daemon=True).start()
                    self._pid = os.getpid()
        return self._cond

    def arm(self, sock, deadline: float, *, checkpoint: float | None = None, may_go_on=None) -> Ticket:
        """Watch `sock` until disarm(): at `deadline` (this watchdog's clock) its read side is shut."""
        cond = self._running()
        ticket = Ticket(sock, deadline, checkpoint if checkpoint is not None and checkpoint < deadline else None,
                        may_go_on)
        with cond:
            heapq.heappush(self._heap, (ticket.checkpoint or deadline, next(self._seq), ticket))
            cond.notify()
        return ticket

    def disarm(self, ticket: Ticket) -> bool:
        """Stop watching; True when the deadline had already cut the read."""
        with self._cond:
            ticket.armed = False
            return ticket.cut

    def _run(self) -> None:
        cond, heap = self._cond, self._heap
        with cond:
            while True:
                while heap and not heap[0][2].armed:
                    heapq.heappop(heap)
                if not heap:
                    cond.wait()
                    continue
                wait = heap[0][0] - self.clock()
                if wait > 0:
                    cond.wait(wait)
                    continue
                ticket = heapq.heappop(heap)[2]
                if ticket.checkpoint is not None and not ticket.went_on and ticket.may_go_on():
                    ticket.went_on = True
                    heapq.heappush(heap, (ticket.deadline, next(self._seq), ticket))
                    continue
                ticket.armed, ticket.cut = False, True
                refuse_rest(ticket.sock)
