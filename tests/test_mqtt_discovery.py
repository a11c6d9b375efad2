"""Home Assistant MQTT discovery against a real broker, checked against HA's documented schema.

Home Assistant itself cannot be installed here, so each config is checked against the
options its MQTT integration documents (required keys, known keys, value rules), and
the templates are rendered with Jinja2 the way HA renders them.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from monitor.alerts import Severity
from monitor.journal import Journal
from monitor.mqtt import MqttSink, Topics
from monitor.mqtt.delivery import alert_payload
from monitor.mqtt.discovery import RuleInfo, discovery_configs
from tests.mqtt_fixtures import Subscriber, broker, fast_settings, retained, wait_until  # noqa: F401
from tests.test_mqtt import make_alert

PREFIX = "sound-monitor/testnode"
T = Topics(PREFIX)
RULES = [("glass_break", "glass", Severity.CRITICAL), ("door knock", "knock", Severity.WARNING)]

# From the HA docs of each MQTT platform (event, binary_sensor, sensor, select) and of discovery.
_COMMON = {
    "availability_topic", "payload_available", "payload_not_available", "device", "origin", "unique_id",
    "name", "icon", "qos", "entity_category", "json_attributes_topic", "json_attributes_template",
    "value_template", "state_topic",
}
_SCHEMA = {
    "event": (_COMMON | {"event_types", "device_class"}, {"state_topic", "event_types"}),
    "binary_sensor": (
        _COMMON | {"payload_on", "payload_off", "device_class", "off_delay", "expire_after", "force_update"},
        {"state_topic"},
    ),
    "sensor": (
        _COMMON | {"unit_of_measurement", "state_class", "device_class", "suggested_display_precision", "expire_after"},
        {"state_topic"},
    ),
    "select": (
        _COMMON | {"command_topic", "command_template", "options", "optimistic", "retain"},
        {"command_topic", "options"},
    ),
}
_BINARY_SENSOR_CLASSES = {"sound", "safety", "problem", "tamper", "smoke", "moisture", "motion", "occupancy"}
_CONFIG_TOPIC = re.compile(r"homeassistant/(event|binary_sensor|sensor|select)/testnode/[A-Za-z0-9_-]+/config")


@pytest.fixture
def configs(broker, tmp_path):
    watcher = Subscriber(broker, "homeassistant/#")
    with Journal(tmp_path / "j.sqlite3") as journal, MqttSink(fast_settings(broker), journal) as sink:
        assert wait_until(lambda: sink.connected)
        sink.announce_rules(RULES)
        assert watcher.wait_for(lambda s: len(s.messages) >= 7)
    watcher.close()
    return {m.topic: m.json() for m in watcher.messages}


def test_every_config_follows_the_documented_schema(configs):
    assert len(configs) == 7  # event, level, top label, backlog, mode, two rules
    for topic, config in configs.items():
        match = _CONFIG_TOPIC.fullmatch(topic)
        assert match, topic
        allowed, required = _SCHEMA[match.group(1)]
        assert required <= config.keys(), (topic, required - config.keys())
        assert config.keys() <= allowed, (topic, config.keys() - allowed)
        assert config["availability_topic"] == T.availability
        assert config["device"]["identifiers"] == ["sound_monitor_testnode"]
        assert config["origin"]["name"] == "sound-monitor"
    unique_ids = [c["unique_id"] for c in configs.values()]
    assert len(set(unique_ids)) == len(unique_ids)


def test_event_entity_lists_the_rules_and_reads_the_alert_topic(configs):
    event = configs["homeassistant/event/testnode/alert/config"]
    assert event["event_types"] == ["glass_break", "door knock"]
    assert event["state_topic"] == T.alert


def test_one_binary_sensor_per_rule_with_class_and_auto_off(configs):
    glass = configs["homeassistant/binary_sensor/testnode/rule_glass_break/config"]
    door = configs["homeassistant/binary_sensor/testnode/rule_door_knock/config"]
    assert glass["device_class"] == "safety" and door["device_class"] == "sound"
    assert {glass["device_class"], door["device_class"]} <= _BINARY_SENSOR_CLASSES
    assert glass["state_topic"] == f"{PREFIX}/rule/glass_break/state"
    assert door["state_topic"] == f"{PREFIX}/rule/door_knock/state"
    for sensor in (glass, door):
        assert (sensor["payload_on"], sensor["payload_off"]) == ("ON", "OFF")
        assert isinstance(sensor["off_delay"], int) and sensor["off_delay"] > 0


def test_mode_select_commands_the_mode_set_topic(configs):
    select = configs["homeassistant/select/testnode/mode/config"]
    assert select["options"] == ["home", "away", "night"]
    assert (select["state_topic"], select["command_topic"]) == (T.mode, T.mode_set)


def test_templates_render_as_home_assistant_would():
    jinja2 = pytest.importorskip("jinja2", reason="Jinja2 renders the templates as Home Assistant does")
    from monitor.mqtt import MqttSettings

    env = jinja2.Environment()
    env.filters["to_json"] = json.dumps
    configs = discovery_configs(MqttSettings("h", node_id="testnode"), T, [RuleInfo.of(r) for r in RULES], "1.0")

    def render(topic: str, key: str, value_json: object) -> str:
        return env.from_string(configs[topic][key]).render(value_json=value_json)

    alert = make_alert(rule="glass_break", severity=Severity.CRITICAL)
    sent = json.loads(alert_payload(alert, raised_at=0.0, connected_at=1.0, now=alert.wall_time + 7200, stale_after=3600))
    event = json.loads(render("homeassistant/event/testnode/alert/config", "value_template", sent))
    assert event["event_type"] == "glass_break" and event["id"] == alert.id and event["score"] == alert.score
    assert event["replayed"] is True and event["stale"] is True  # an automation can skip late alerts
    state = {"level_dbfs": -31.5, "top": [{"label": "glass", "score": 0.9}], "source": "mic"}
    assert render("homeassistant/sensor/testnode/level/config", "value_template", state) == "-31.5"
    assert render("homeassistant/sensor/testnode/top_label/config", "value_template", state) == "glass"
    assert render("homeassistant/sensor/testnode/top_label/config", "value_template", {**state, "top": []}) == "none"
    assert render("homeassistant/sensor/testnode/backlog/config", "value_template", {"backlog": 4}) == "4"


def test_discovery_is_republished_when_home_assistant_comes_online(broker, tmp_path):
    watcher = Subscriber(broker, "homeassistant/+/testnode/#")
    with Journal(tmp_path / "j.sqlite3") as journal, MqttSink(fast_settings(broker), journal) as sink:
        assert wait_until(lambda: sink.connected)
        sink.announce_rules(RULES)
        assert watcher.wait_for(lambda s: len(s.messages) == 7)
        watcher.client.publish("homeassistant/status", "offline", qos=1)
        watcher.client.publish("homeassistant/status", "online", qos=1)
        assert watcher.wait_for(lambda s: len(s.messages) == 14)
        time.sleep(0.3)
        assert len(watcher.messages) == 14  # "offline" re-announced nothing
        assert not any(m.retain for m in watcher.messages[7:])  # live re-announcements, not retained replays
    watcher.close()


def test_entities_of_deleted_rules_are_removed_across_a_restart(broker, tmp_path):
    glass_config = "homeassistant/binary_sensor/testnode/rule_glass_break/config"
    door_config = "homeassistant/binary_sensor/testnode/rule_door_knock/config"
    with Journal(tmp_path / "j.sqlite3") as journal:
        with MqttSink(fast_settings(broker), journal) as sink:
            assert wait_until(lambda: sink.connected)
            sink.announce_rules(RULES)
            assert wait_until(lambda: retained(broker, door_config, 1) is not None)
        # the monitor restarts with the door rule deleted from its config
        with MqttSink(fast_settings(broker), journal) as sink:
            assert wait_until(lambda: sink.connected)
            sink.announce_rules(RULES[:1])
            assert wait_until(lambda: retained(broker, door_config, 0.5) is None)
            assert retained(broker, T.rule_state("door knock"), 0.5) is None
            assert retained(broker, glass_config) is not None
            # and within one run
            sink.announce_rules([])
            assert wait_until(lambda: retained(broker, glass_config, 0.5) is None)


def test_rules_whose_names_collide_as_topics_are_refused(broker, tmp_path):
    from monitor.errors import UserError

    with Journal(tmp_path / "j.sqlite3") as journal:
        sink = MqttSink(fast_settings(broker), journal)
        with pytest.raises(UserError, match="same MQTT topic"):
            sink.announce_rules([("door knock", "knock", "warning"), ("door/knock", "knock", "warning")])


def test_a_rule_set_becomes_one_entity_per_alerting_rule():
    from monitor.mqtt.discovery import rule_infos
    from tests.rules_support import ruleset

    rules = ruleset(
        """
        version: 1
        rules:
          - name: glass_break
            sound: glass_breaking
            severity: critical
          - name: scream
            sound: scream_or_shout
            severity: {home: info, away: critical, night: warning}
          - name: steps
            sound: footsteps
            alert: false
          - name: intruder
            sequence: [glass_break, steps]
            within: 30s
            severity: warning
          - name: dog
            sound: dog_bark
        """
    )
    infos = {info.name: info for info in rule_infos(rules)}
    assert list(infos) == ["glass_break", "scream", "intruder", "dog"]  # evidence-only 'steps' has no entity
    assert infos["glass_break"] == RuleInfo("glass_break", "glass_breaking", Severity.CRITICAL)
    assert infos["scream"].severity is Severity.CRITICAL  # the highest over all modes
    assert infos["intruder"].label == "glass_break+steps"
    assert infos["dog"].severity is Severity.WARNING
