"""The headless daemon: ``sound-monitor run --config FILE`` under systemd.

Modules: ``sdnotify`` (the systemd notification protocol), ``logfmt`` (one-line
structured log events for journald), ``health`` (per-source health, its transitions
and the health file), ``service`` (wiring: config -> model, sources, rules, sinks,
clips; the processing loop; signals).
"""
