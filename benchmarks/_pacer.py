"""Open-loop pacing on a Linux timerfd: each send at its scheduled time, without polling.

An event loop's timers wake through ``epoll_wait``, whose timeout is whole milliseconds, so
a send scheduled with ``loop.call_at`` can go out up to a millisecond late (more when the CPU
is busy); polling the clock instead takes CPU from the servers on a small machine. A timerfd
armed with an absolute ``CLOCK_MONOTONIC`` time (``time.perf_counter``'s clock on Linux)
becomes readable at that time to the microsecond, and the loop's ``epoll`` wakes for it like
for a socket. ``pace`` arms it for the next send, fires every send that is due when it wakes,
and arms it again. Python 3.11 has no ``os.timerfd_create`` (3.13 does), hence ctypes.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import sys
import time
from collections.abc import Callable, Sequence

__all__ = ["available", "pace"]

_CLOCK_MONOTONIC = 1
_TFD_NONBLOCK = 0o4000
_TFD_CLOEXEC = 0o2000000
_TFD_TIMER_ABSTIME = 1


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


_LIBC = _libc()


def available() -> bool:
    """Whether this platform has timerfd and ``perf_counter`` reads ``CLOCK_MONOTONIC``."""
    clock = time.get_clock_info("perf_counter").implementation
    return _LIBC is not None and "CLOCK_MONOTONIC" in clock


class _TimerFd:
    def __init__(self) -> None:
        assert _LIBC is not None
        fd = _LIBC.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self.fd = fd

    def arm(self, at: float) -> None:
        """Readable at ``at`` (perf_counter seconds); at once if that time has passed."""
        assert _LIBC is not None
        sec = int(at)
        nsec = max(int((at - sec) * 1e9), 1)  # an all-zero time would disarm the timer
        spec = _Itimerspec(_Timespec(0, 0), _Timespec(sec, nsec))
        if _LIBC.timerfd_settime(self.fd, _TFD_TIMER_ABSTIME, ctypes.byref(spec), None) != 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")


def pace(
    loop: asyncio.AbstractEventLoop, times: Sequence[float], fire: Callable[[int, float], None]
) -> Callable[[], None]:
    """Call ``fire(i, times[i])`` at each ``times[i]`` (ascending perf_counter seconds), from
    ``loop``; returns a function that stops pacing (idempotent)."""
    timer = _TimerFd()
    nxt = 0
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            loop.remove_reader(timer.fd)
            os.close(timer.fd)

    def on_ready() -> None:
        nonlocal nxt
        try:
            os.read(timer.fd, 8)
        except BlockingIOError:
            return
        now = time.perf_counter()
        while nxt < len(times) and times[nxt] <= now:
            fire(nxt, times[nxt])
            nxt += 1
        if nxt < len(times):
            timer.arm(times[nxt])
        else:
            stop()

    loop.add_reader(timer.fd, on_ready)
    if times:
        timer.arm(times[0])
    else:
        stop()
    return stop
