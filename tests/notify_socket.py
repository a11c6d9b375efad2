"""A stand-in for systemd's notification socket: bind it, point $NOTIFY_SOCKET at it, read what arrives."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Message:
    time: float  # monotonic arrival time
    fields: dict[str, str]


class NotifySocket:
    def __init__(self, path: Path | None = None, abstract: str | None = None) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract is not None:
            self.sock.bind("\0" + abstract)
            self.address = "@" + abstract
        else:
            assert path is not None
            self.sock.bind(str(path))
            self.address = str(path)
        self.sock.settimeout(0.1)
        self.messages: list[Message] = []

    def poll(self, seconds: float) -> list[Message]:
        """Collect messages for ``seconds``; returns the new ones."""
        new: list[Message] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            new.append(Message(time.monotonic(), fields))
        self.messages += new
        return new

    def wait_for(self, key: str, value: str | None = None, timeout: float = 30.0, after: Message | None = None) -> Message:
        """The first message carrying ``key`` (= ``value``) that arrived after ``after`` (default: any)."""
        deadline = time.monotonic() + timeout
        seen = self.messages.index(after) + 1 if after is not None else 0
        while True:
            for message in self.messages[seen:]:
                if key in message.fields and (value is None or message.fields[key] == value):
                    return message
            seen = len(self.messages)
            if time.monotonic() > deadline:
                raise AssertionError(f"no {key}={value or '*'} within {timeout} s; got {[m.fields for m in self.messages]}")
            self.poll(0.1)

    def close(self) -> None:
        self.sock.close()
