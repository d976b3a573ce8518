"""Signals that end a command, raised only where Python can handle them.

A signal handler runs between two bytecodes of whatever the main thread is
doing. Raising KeyboardInterrupt there is how Ctrl-C unwinds a command, but
two places cannot take it:

* inside a ``__del__`` (Z3 runs one for every term it frees), where Python
  prints "Exception ignored" and carries on: the interrupt is lost and an
  endless placement runs on;
* inside ctypes' conversion of a call's arguments (Z3's bindings call C on
  every operation), where it comes out as ``ctypes.ArgumentError`` -- an
  internal error instead of an interrupt -- or half-builds an object whose
  own ``__del__`` then fails.

So the handler looks at the interrupted stack first. If any frame belongs
to the Z3 bindings or to ctypes, the interrupt is *deferred* to the next
line our own code runs: the handler turns on line tracing (``sys.settrace``
and the frames' ``f_trace``), and the trace function raises the
KeyboardInterrupt at the first line or return event in a frame whose stack
holds no Z3 frame, then turns tracing off again. Waiting for a later signal
check to find a safe frame does not work: Python checks for signals at
calls and loop jumps, and in Z3-heavy code nearly all of those are inside
the bindings. Each signal still raises exactly one KeyboardInterrupt (a
repeated raise would cut a drill's teardown short).

A signal that arrives while Z3 is inside a long C call is seen by Python
only when the call returns (a SIGTERM 25 s later, once minutes). So the
guard also listens on Python's wake-up fd (:func:`signal.set_wakeup_fd`:
the C-level handler writes the signal number there at once, whatever the
main thread is doing), and a watchdog thread interrupts the Z3 context of
every check under way (:func:`solving`, around each ``check``) through
``Context.interrupt()`` (``Z3_interrupt``, safe from another thread). Z3
then answers "unknown" (reason "canceled"; for SIGINT, which Z3 also
catches itself, "interrupted"), which ``placement_solver.check`` and
``cutsets._sat`` turn into an interrupt (:func:`was_interrupted`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed import TraceFunction

    # What signal.signal takes and returns (typeshed's signal._HANDLER).
    Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def _package_dir(name: str) -> str | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.origin:
        return None
    return os.path.dirname(os.path.abspath(spec.origin)) + os.sep


_UNSAFE_DIRS = tuple(d for d in (_package_dir("z3"), _package_dir("ctypes")) if d)


def _ours(frame: FrameType) -> bool:
    return not frame.f_code.co_filename.startswith(_UNSAFE_DIRS)


def unsafe(frame: FrameType | None) -> bool:
    """Whether a KeyboardInterrupt raised in ``frame`` could be lost or mangled."""
    while frame is not None:
        if not _ours(frame):
            return True
        frame = frame.f_back
    return False


_received: list[int] = []  # every signal any guard took, in order


def received() -> list[int]:
    """The signals taken by any guard in this process (so the CLI exits 143 for a
    SIGTERM that a drill's guard turned into the interrupt)."""
    return list(_received)


# -- waking Z3 up from a long check ----------------------------------------------

_running: dict[int, object] = {}  # id -> z3 context of each check under way
_lock = threading.Lock()
_seen = [0]  # guarded signals the watchdog saw (C level, at once)
_taken = [0]  # guarded signals Python's handler took (later: between two bytecodes)
_watched: set[int] = set()  # signals the watchdog acts on
_watchdog: threading.Thread | None = None


def _interrupt_running() -> None:
    with _lock:
        contexts = list(_running.values())
    for ctx in contexts:
        ctx.interrupt()  # type: ignore[attr-defined]


def _watch(sock) -> None:
    while True:
        try:
            data = sock.recv(64)
        except OSError:
            return
        if not data:
            return
        n = sum(1 for b in data if b in _watched)
        if n:
            with _lock:
                _seen[0] += n
            _interrupt_running()


def _start_watchdog(signals: Sequence[int]) -> None:
    """Listen on the wake-up fd (once per process; main thread only)."""
    global _watchdog
    _watched.update(int(s) for s in signals)
    if _watchdog is not None:
        return
    import socket

    r, w = socket.socketpair()
    w.setblocking(False)
    try:
        old = signal.set_wakeup_fd(w.fileno(), warn_on_full_buffer=False)
    except (ValueError, OSError):
        r.close()
        w.close()
        return
    if old != -1:  # someone else's (an event loop): leave it theirs
        signal.set_wakeup_fd(old)
        r.close()
        w.close()
        return
    _watchdog = threading.Thread(target=_watch, args=(r,), name="hamodel-interrupts", daemon=True)
    _watchdog._hamodel_sockets = (r, w)  # type: ignore[attr-defined]  # kept open for the process's life
    _watchdog.start()


class Solving:
    """One check under way (see :func:`solving`)."""

    def __init__(self) -> None:
        self.start = _seen[0]

    def signalled(self) -> bool:
        """A guarded signal came during the check, or was waiting for Python when it began."""
        return _seen[0] > self.start or _seen[0] > _taken[0]


@contextlib.contextmanager
def solving(ctx: object) -> Iterator[Solving]:
    """Around a Z3 ``check`` in context ``ctx``: a guarded signal interrupts it."""
    key = id(ctx)
    run = Solving()
    with _lock:
        _running[key] = ctx
    if _seen[0] > _taken[0]:  # a signal Python has not taken yet came before the check
        ctx.interrupt()  # type: ignore[attr-defined]
    try:
        yield run
    finally:
        with _lock:
            _running.pop(key, None)


def was_interrupted(reason: str, run: Solving | None = None) -> bool:
    """Whether a check that answered "unknown" for ``reason`` was stopped by a signal
    (Z3's own SIGINT handling says "interrupted"; ``Context.interrupt()`` says "canceled")."""
    return "interrupt" in reason or "keyboard" in reason or ("cancel" in reason and run is not None and run.signalled())


class SafeInterrupt:
    """Turn the given signals into one KeyboardInterrupt each, raised at a safe point.

    ``received`` lists the signals taken, so a caller can choose its exit code
    (130 for SIGINT, 143 for SIGTERM). Guards nest (the CLI's around a
    drill's)."""

    def __init__(self, signals: Sequence[int]):
        self.signals = tuple(signals)
        self.received: list[int] = []
        self._pending: int | None = None
        self._old: dict[int, Handler] = {}
        self._old_trace: TraceFunction | None = None
        self._traced: list[FrameType] = []

    # -- deferring to the next line of our own code ---------------------------
    def _local(self, frame: FrameType, event: str, arg: object) -> TraceFunction | None:
        if self._pending is not None and event in ("line", "return") and not unsafe(frame):
            self._fire()
        return self._local if self._pending is not None else None

    def _global(self, frame: FrameType, event: str, arg: object) -> TraceFunction | None:
        if self._pending is None or not _ours(frame):
            return None
        frame.f_trace_lines = True
        return self._local

    def _defer(self, frame: FrameType | None) -> None:
        self._old_trace = sys.gettrace()
        while frame is not None:  # the frames already running: trace the ones that are ours
            if _ours(frame):
                frame.f_trace = self._local
                frame.f_trace_lines = True
                self._traced.append(frame)
            frame = frame.f_back
        sys.settrace(self._global)

    def _untrace(self) -> None:
        if self._traced:
            for frame in self._traced:
                frame.f_trace = None
            self._traced.clear()
            sys.settrace(self._old_trace)
            self._old_trace = None

    def _fire(self) -> None:
        signum = self._pending
        self._pending = None
        self._untrace()
        raise KeyboardInterrupt(f"signal {signum}")

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        _received.append(signum)
        if _watchdog is not None:
            with _lock:
                _taken[0] += 1
        if self._pending is not None:
            return  # one interrupt already on its way
        self._pending = signum
        if unsafe(frame):
            self._defer(frame)
        else:
            self._fire()

    def install(self) -> bool:
        """Install the handlers (main thread only); False where signals cannot be set."""
        if threading.current_thread() is not threading.main_thread():
            return False
        for sig in self.signals:
            self._old[sig] = signal.signal(sig, self._on_signal)
        _start_watchdog(self.signals)
        return True

    def uninstall(self) -> None:
        self._pending = None
        self._untrace()
        for sig, h in self._old.items():
            signal.signal(sig, h)
        self._old.clear()


@contextlib.contextmanager
def interrupted_by(signals: Sequence[int]) -> Iterator[SafeInterrupt]:
    """Inside the block, each of ``signals`` raises KeyboardInterrupt at a safe point."""
    guard = SafeInterrupt(signals)
    guard.install()
    try:
        yield guard
    finally:
        guard.uninstall()
