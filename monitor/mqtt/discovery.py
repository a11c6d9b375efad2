"""Home Assistant MQTT discovery: the retained config messages that create our entities.

Takes the settings, the topic layout and the rules (name, label, severity); gives
``{config topic: payload}`` for one device with:

- an ``event`` entity fed by ``<prefix>/alert`` (``event_types`` = the rule names;
  the alert's fields become the event's attributes),
- a ``binary_sensor`` per rule on ``<prefix>/rule/<rule>/state`` (``device_class``
  ``safety`` for critical rules, else ``sound``; ``off_delay`` as a safety net),
- ``sensor``s for the input level and the top label (from ``<prefix>/state``) and for
  the journal backlog (from ``<prefix>/health``, diagnostic),
- a ``select`` for the mode (``<prefix>/mode`` / ``<prefix>/mode/set``).

Every entity carries the device block, the origin, availability on
``<prefix>/availability`` and a unique id ``sound_monitor_<node_id>_<object>``.
Config topics follow ``<discovery_prefix>/<component>/<node_id>/<object>/config``;
publishing an empty retained payload there removes the entity.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.alerts import Severity
from monitor.rules.schema import RuleSet, SimpleRule
from monitor.mqtt.settings import MqttSettings
from monitor.mqtt.topics import MODES, Topics, rule_id

# The alert's own fields become attributes of the HA event; ``event_type`` is the rule.
_EVENT_TEMPLATE = (
    "{{ {'event_type': value_json.rule, 'id': value_json.id, 'label': value_json.label, "
    "'score': value_json.score, 'severity': value_json.severity, 'mode': value_json.mode, "
    "'source': value_json.source, 'message': value_json.message, "
    "'clip_path': value_json.clip_path, 'wall_time': value_json.wall_time, 'replayed': value_json.replayed, "
    "'stale': value_json.stale} | to_json }}"
)


@dataclass(frozen=True)
class RuleInfo:
    """What discovery needs to know about one rule."""

    name: str
    label: str
    severity: Severity

    @classmethod
    def of(cls, rule: "RuleInfo | tuple[str, str, Severity | str]") -> "RuleInfo":
        if isinstance(rule, RuleInfo):
            return rule
        name, label, severity = rule
        return cls(name, label, Severity(severity))


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


def rule_infos(rules: RuleSet) -> list[RuleInfo]:
    """The rules that raise alerts, as discovery sees them: the first label (compound
    rules: their parts joined by '+') and the highest severity over all modes."""
    infos = []
    for rule in rules.rules:
        if not rule.timing.alert:
            continue  # evidence for compound rules only: never an alert, so no entity
        label = rule.labels[0] if isinstance(rule, SimpleRule) else "+".join(rule.parts)
        severity = max(rule.timing.severity.values(), key=_RANK.__getitem__, default=Severity.WARNING)
        infos.append(RuleInfo(rule.name, label, severity))
    return infos


def rule_object(rule: str) -> str:
    return f"rule_{rule_id(rule)}"


def config_topic(settings: MqttSettings, component: str, object_id: str) -> str:
    return f"{settings.discovery_prefix}/{component}/{settings.node_id}/{object_id}/config"


def rule_config_topic(settings: MqttSettings, rule: str) -> str:
    return config_topic(settings, "binary_sensor", rule_object(rule))


def rule_config_filter(settings: MqttSettings) -> str:
    """Subscription that returns every rule sensor config retained at the broker."""
    return config_topic(settings, "binary_sensor", "+")


def rule_id_from_config_topic(settings: MqttSettings, topic: str) -> str | None:
    """The rule id in a rule sensor's config topic, or None if ``topic`` is not one."""
    head = f"{settings.discovery_prefix}/binary_sensor/{settings.node_id}/rule_"
    if topic.startswith(head) and topic.endswith("/config"):
        return topic[len(head) : -len("/config")] or None
    return None


def device_block(settings: MqttSettings, version: str) -> dict[str, object]:
    return {
        "identifiers": [f"sound_monitor_{settings.node_id}"],
        "name": f"Sound monitor {settings.node_id}",
        "manufacturer": "sound-monitor",
        "model": "Sound event monitor",
        "sw_version": version,
    }


def origin_block(version: str) -> dict[str, object]:
    return {"name": "sound-monitor", "sw_version": version}


def discovery_configs(
    settings: MqttSettings, topics: Topics, rules: list[RuleInfo], version: str
) -> dict[str, dict[str, object]]:
    """Every config message for this device, by config topic."""
    common = {
        "device": device_block(settings, version),
        "origin": origin_block(version),
        "availability_topic": topics.availability,
        "payload_available": "online",
        "payload_not_available": "offline",
    }

    def entity(object_id: str, **config: object) -> dict[str, object]:
        return {"unique_id": f"sound_monitor_{settings.node_id}_{object_id}", **config, **common}

    configs = {
        config_topic(settings, "event", "alert"): entity(
            "alert",
            name="Alert",
            state_topic=topics.alert,
            event_types=[rule.name for rule in rules],
            value_template=_EVENT_TEMPLATE,
            qos=1,
            icon="mdi:bullhorn",
        ),
        config_topic(settings, "sensor", "level"): entity(
            "level",
            name="Level",
            state_topic=topics.state,
            value_template="{{ value_json.level_dbfs }}",
            unit_of_measurement="dBFS",
            state_class="measurement",
            suggested_display_precision=1,
            icon="mdi:volume-high",
        ),
        config_topic(settings, "sensor", "top_label"): entity(
            "top_label",
            name="Top label",
            state_topic=topics.state,
            value_template="{{ value_json.top[0].label if value_json.top else 'none' }}",
            json_attributes_topic=topics.state,
            json_attributes_template="{{ {'top': value_json.top, 'source': value_json.source} | to_json }}",
            icon="mdi:ear-hearing",
        ),
        config_topic(settings, "sensor", "backlog"): entity(
            "backlog",
            name="Undelivered alerts",
            state_topic=topics.health,
            value_template="{{ value_json.backlog }}",
            state_class="measurement",
            entity_category="diagnostic",
            icon="mdi:tray-full",
        ),
        config_topic(settings, "select", "mode"): entity(
            "mode",
            name="Mode",
            state_topic=topics.mode,
            command_topic=topics.mode_set,
            options=list(MODES),
            qos=1,
            icon="mdi:shield-home",
        ),
    }
    for rule in rules:
        configs[rule_config_topic(settings, rule.name)] = entity(
            rule_object(rule.name),
            name=rule.name.replace("_", " ").capitalize(),
            state_topic=topics.rule_state(rule.name),
            payload_on="ON",
            payload_off="OFF",
            device_class="safety" if rule.severity is Severity.CRITICAL else "sound",
            off_delay=settings.rule_off_delay,
            qos=1,
        )
    return configs
