"""sd_notify over a real unix datagram socket: path and abstract addresses, the messages systemd expects."""

from __future__ import annotations

import os
import time

import pytest

from monitor.daemon.sdnotify import Notifier
from notify_socket import NotifySocket


@pytest.fixture(params=["path", "abstract"])
def notify_socket(request, tmp_path):
    if request.param == "path":
        sock = NotifySocket(tmp_path / "notify")
    else:
        sock = NotifySocket(abstract=f"sound-monitor-test-{os.getpid()}-{time.monotonic_ns()}")
    yield sock
    sock.close()


def test_ready_status_reloading_and_stopping_arrive_as_systemd_expects(notify_socket):
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": notify_socket.address})
    assert notifier.ready("monitoring 2 sources\nmode away")
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert notifier.reloading()
    assert notifier.status("reloaded")
    assert notifier.stopping()
    notify_socket.poll(0.3)
    fields = [m.fields for m in notify_socket.messages]
    assert fields[0] == {"READY": "1", "STATUS": "monitoring 2 sources mode away"}  # one line
    assert fields[1]["RELOADING"] == "1"
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert before <= int(fields[1]["MONOTONIC_USEC"]) <= after  # CLOCK_MONOTONIC in microseconds
    assert fields[2:] == [{"STATUS": "reloaded"}, {"STOPPING": "1"}]


def test_watchdog_pings_at_most_twice_per_timeout(notify_socket):
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": notify_socket.address, "WATCHDOG_USEC": "2000000"})
    assert notifier.watchdog_seconds == 2.0
    sent = [notifier.watchdog(now=t / 10) for t in range(40)]  # every 0.1 s for 4 s
    assert sum(sent) == 4  # at 0, 1, 2 and 3 s: half the timeout apart
    notify_socket.poll(0.3)
    assert [m.fields for m in notify_socket.messages] == [{"WATCHDOG": "1"}] * 4


def test_no_watchdog_without_watchdog_usec_or_for_another_pid(notify_socket):
    assert Notifier.from_environ({"NOTIFY_SOCKET": notify_socket.address}).watchdog() is False
    other = {"NOTIFY_SOCKET": notify_socket.address, "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}
    assert Notifier.from_environ(other).watchdog_seconds is None
    mine = {**other, "WATCHDOG_PID": str(os.getpid())}
    assert Notifier.from_environ(mine).watchdog_seconds == 1.0


def test_without_notify_socket_everything_is_a_quiet_no_op():
    notifier = Notifier.from_environ({})
    assert not notifier.enabled
    assert notifier.ready() is False and notifier.watchdog() is False and notifier.stopping() is False


def test_a_vanished_socket_never_raises(tmp_path):
    sock = NotifySocket(tmp_path / "notify")
    notifier = Notifier(sock.address)
    sock.close()
    (tmp_path / "notify").unlink()
    assert notifier.ready() is False


def test_a_receiver_that_stops_reading_never_blocks_the_sender(tmp_path):
    sock = NotifySocket(tmp_path / "notify")  # bound, but never read below
    notifier = Notifier(sock.address)
    start = time.monotonic()
    sent = [notifier.status(f"message {i}") for i in range(5000)]
    assert time.monotonic() - start < 2.0
    assert sent[0] and not all(sent)  # the queue filled up; the rest were dropped, not waited for
    sock.close()
