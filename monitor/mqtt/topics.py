"""The MQTT topic layout under ``<prefix>`` (default ``sound-monitor/<node_id>``).

Takes a prefix; gives every topic the sink publishes or subscribes to, so the layout
is written down once:

=============================  =========================================  ==========
topic                          payload                                    retained
=============================  =========================================  ==========
``<prefix>/availability``      ``online`` / ``offline`` (birth and will)  yes
``<prefix>/alert``             alert JSON (QoS 1)                         no
``<prefix>/alert/<rule>``      the same, per rule                         no
``<prefix>/rule/<rule>/state`` ``ON`` / ``OFF``                           yes
``<prefix>/state``             level and top labels JSON                  no
``<prefix>/health``            health JSON                                no
``<prefix>/mode``              ``home`` / ``away`` / ``night``            yes
``<prefix>/mode/set``          (subscribed) requested mode                --
=============================  =========================================  ==========

``<rule>`` is the rule name reduced to ``[A-Za-z0-9_-]`` (:func:`rule_id`).
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.mqtt.settings import slug
from monitor.rules.schema import MODES  # the payloads of <prefix>/mode and <prefix>/mode/set

__all__ = ["MODES", "Topics", "parse_mode", "rule_id"]


def parse_mode(payload: bytes) -> str | None:
    """The mode a ``<prefix>/mode/set`` payload asks for: exactly ``home``, ``away`` or
    ``night`` (no case folding, whitespace or JSON: an automation sending anything else
    has a bug worth a warning), else None."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text in MODES else None


def rule_id(rule: str) -> str:
    """The topic level and Home Assistant object id for a rule name."""
    return slug(rule) or "rule"


@dataclass(frozen=True)
class Topics:
    prefix: str

    @property
    def availability(self) -> str:
        return f"{self.prefix}/availability"

    @property
    def alert(self) -> str:
        return f"{self.prefix}/alert"

    @property
    def state(self) -> str:
        return f"{self.prefix}/state"

    @property
    def health(self) -> str:
        return f"{self.prefix}/health"

    @property
    def mode(self) -> str:
        return f"{self.prefix}/mode"

    @property
    def mode_set(self) -> str:
        return f"{self.prefix}/mode/set"

    def rule_alert(self, rule: str) -> str:
        return f"{self.prefix}/alert/{rule_id(rule)}"

    def rule_state(self, rule: str) -> str:
        return f"{self.prefix}/rule/{rule_id(rule)}/state"
