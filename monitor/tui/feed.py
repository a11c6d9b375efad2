"""The one interface between the dashboard and where its data comes from.

Takes nothing; gives the :class:`Feed` protocol. A feed is started with a ``post``
callable (the app's thread-safe ``post_message``) and from then on posts the
messages of :mod:`monitor.tui.messages` from its own thread; ``set_mode`` asks for
a mode change (the feed answers with a ``ModeChanged`` once it is in effect) and
``stop`` ends it. Implementations: :class:`~monitor.tui.local_feed.LocalFeed`
(pipeline in process) and :class:`~monitor.tui.mqtt_feed.MqttFeed` (attached).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from textual.message import Message

Post = Callable[[Message], object]


class Feed(Protocol):
    def start(self, post: Post) -> None:
        """Begin delivering messages through ``post``; returns at once."""

    def set_mode(self, mode: str) -> None:
        """Ask for ``mode`` (home, away or night); thread-safe, returns at once."""

    def stop(self) -> None:
        """Stop delivering and release everything; safe to call more than once."""
