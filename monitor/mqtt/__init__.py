"""MQTT and Home Assistant: alerts that are never lost, live state, discovery and mode.

Takes alerts, clears, predictions and health from the daemon; gives them to an MQTT
broker (topic layout in :mod:`monitor.mqtt.topics`, Home Assistant discovery in
:mod:`monitor.mqtt.discovery`), backed by the durable :class:`monitor.outbox.Outbox`
(the journal, kept going through storage faults).

The API the daemon and the TUI use::

    settings = resolve_credentials(MqttSettings(host="broker.lan"), os.environ)  # at the edge
    outbox = Outbox.open(journal_path(state_dir))   # or a bare Journal
    sink = MqttSink(settings, outbox, mode="home", on_mode_set=modes.put)
    sink.start()                          # connects in the background, reconnects with backoff
    sink.announce_rules(rule_infos(ruleset))  # again after every rules reload
    sink.publish_alert(alert)             # journaled first; QoS 1 on <prefix>/alert(/<rule>), rule ON
    sink.publish_alert(alert, deliver=False)  # the demo, a recording: published now if connected, never replayed
    sink.publish_cleared(cleared)         # rule OFF (retained)
    sink.publish_state(prediction)        # level + top labels, throttled to state_interval
    sink.publish_health({"source_ok": True, "overruns": 0, "model": "..."})  # + backlog, throttled
    sink.set_mode("away")                 # the owner changed the mode: <prefix>/mode (retained)
    sink.connected, sink.backlog, sink.last_error, sink.mode
    sink.close()                          # offline (retained), waits for PUBACKs, disconnects

``on_mode_set(mode)`` is called on the sink's worker thread for every valid, non-retained
request on ``<prefix>/mode/set`` (``home``, ``away`` or ``night``, even the current one: the
owner's mode logic decides what it means); anything else is ignored with a warning
and the current mode is re-published. The owner reports every mode change it makes
itself (schedule, TUI, ``--mode``) with ``set_mode`` so ``<prefix>/mode`` stays true.

Without a broker the daemon keeps only the outbox: construct no sink, and
``outbox.append(alert, deliver=False)`` each alert (no later run owes it to a broker).
"""

from monitor.mqtt.discovery import RuleInfo, rule_infos
from monitor.mqtt.publisher import MqttSink
from monitor.mqtt.settings import MqttSettings, parse_broker, resolve_credentials
from monitor.mqtt.topics import MODES, Topics

__all__ = [
    "MODES",
    "MqttSettings",
    "MqttSink",
    "RuleInfo",
    "Topics",
    "parse_broker",
    "resolve_credentials",
    "rule_infos",
]
