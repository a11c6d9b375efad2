"""The live terminal dashboard (``sound-monitor tui``), built with Textual.

Modules: ``messages`` (the typed updates every feed delivers), ``feed`` (the
:class:`~monitor.tui.feed.Feed` protocol), ``local_feed`` (runs the pipeline and the
rule engine in process), ``mqtt_feed`` (attaches to a running daemon over MQTT),
``spectrum`` (coarse band-energy columns for the spectrogram strip), ``widgets`` and
``screens`` (what is drawn; they only ever see messages) and ``app`` (the screen and
its keys). The widgets never know which feed they are fed by.
"""
