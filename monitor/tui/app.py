"""The dashboard: one screen, fed by any :class:`~monitor.tui.feed.Feed`.

Takes a feed; gives the Textual app. It starts the feed on mount and stops it on
exit, passes every message's contents to the widget that shows it, and turns keys
(h/a/n mode, p pause, ? help, q quit) and clicks into actions.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer

from monitor.tui.feed import Feed
from monitor.tui.messages import (
    AlertEnded,
    AlertRaised,
    FeedEnded,
    FeedInfo,
    HealthChanged,
    Heard,
    ModeChanged,
    RulesChanged,
)
from monitor.tui.screens import AlertDetail, HelpScreen
from monitor.tui.widgets import AlertTable, LabelBars, LabelHistory, LevelMeter, RulesPanel, Spectrogram, StatusBar


class MonitorApp(App[None]):
    TITLE = "sound-monitor"
    ENABLE_COMMAND_PALETTE = False  # every action has its own key; ^p would only add noise to the footer
    CSS = """
    #input { height: 5; }
    #middle, #bottom { height: 1fr; }
    LevelMeter, Spectrogram, LabelBars, LabelHistory, RulesPanel, AlertTable {
        border: round $primary-darken-1; border-title-color: $text; padding: 0 0;
    }
    LevelMeter { width: 36; height: 5; }
    Spectrogram { width: 1fr; height: 5; }
    LabelBars, LabelHistory { width: 1fr; height: 1fr; }
    RulesPanel { width: 2fr; height: 1fr; }
    AlertTable { width: 3fr; height: 1fr; }
    AlertTable:focus { border: round $accent; }
    """
    BINDINGS = [
        Binding("h", "mode('home')", "home"),
        Binding("a", "mode('away')", "away"),
        Binding("n", "mode('night')", "night"),
        Binding("p", "pause", "pause"),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, feed: Feed) -> None:
        super().__init__()
        self.feed = feed
        self.paused = False
        self.failure: str | None = None  # why the feed gave up, for the exit status

        # Held directly: messages keep arriving while a pop-up screen is on top (where a query
        # would find nothing) and while the app shuts down.
        self.status = StatusBar(id="status")
        self.level = LevelMeter(id="level")
        self.spectrogram = Spectrogram(id="spectrum")
        self.bars = LabelBars(id="labels")
        self.history = LabelHistory(id="history")
        self.rules = RulesPanel(id="rules")
        self.alerts = AlertTable(id="alerts")

    def compose(self) -> ComposeResult:
        yield self.status
        with Horizontal(id="input"):
            yield self.level
            yield self.spectrogram
        with Horizontal(id="middle"):
            yield self.bars
            yield self.history
        with Horizontal(id="bottom"):
            yield self.rules
            yield self.alerts
        yield Footer()

    def on_mount(self) -> None:
        titles = {"level": "Level", "spectrum": "Spectrogram", "labels": "Heard", "history": "History",
                  "rules": "Rules", "alerts": "Alerts (newest first)"}
        for widget in (self.level, self.spectrogram, self.bars, self.history, self.rules, self.alerts):
            widget.border_title = titles[str(widget.id)]
        self.alerts.focus()
        self.feed.start(self.post_message)

    def on_unmount(self) -> None:
        self.feed.stop()

    async def action_quit(self) -> None:
        self.feed.stop()  # first, so no update races the screen's teardown
        self.exit()

    # -- feed messages -------------------------------------------------------------
    def on_feed_info(self, message: FeedInfo) -> None:
        self.bars.configure(message.thresholds)
        self.history.configure(message.watched)
        self.rules.configure(message.rules, message.note)
        spectrogram = self.spectrogram
        spectrogram.note = "" if message.spectrum else f"no spectrogram ({message.note})"
        spectrogram.refresh()
        status = self.status
        status.model, status.origin = message.model, message.origin
        status.refresh()
        self.level.border_subtitle = message.origin

    def on_heard(self, message: Heard) -> None:
        if self.paused:
            return
        self.level.show(message.level_dbfs, message.end)
        if message.bands is not None:
            self.spectrogram.push(message.bands)
        self.bars.show(message.scores, message.skipped)
        if not message.skipped:
            self.history.push(message.scores)

    def on_rules_changed(self, message: RulesChanged) -> None:
        if not self.paused:
            self.rules.show(message.states)

    def on_alert_raised(self, message: AlertRaised) -> None:
        self.alerts.add_alert(message.alert)

    def on_alert_ended(self, message: AlertEnded) -> None:
        self.alerts.mark_cleared(message.cleared.alert_id)

    def on_mode_changed(self, message: ModeChanged) -> None:
        status = self.status
        status.mode, status.reason = message.mode, message.reason
        if status.requested == message.mode:
            status.requested = None
        status.refresh()

    def on_health_changed(self, message: HealthChanged) -> None:
        status = self.status
        status.health = message.health
        status.refresh()

    def on_feed_ended(self, message: FeedEnded) -> None:
        status = self.status
        status.ended = (message.reason, message.error)
        if message.error:
            self.failure = message.reason
        status.refresh()

    # -- user actions --------------------------------------------------------------
    def action_mode(self, mode: str) -> None:
        status = self.status
        status.requested = mode
        status.refresh()
        self.feed.set_mode(mode)

    def action_pause(self) -> None:
        self.paused = not self.paused
        status = self.status
        status.paused = self.paused
        status.refresh()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        table = self.alerts
        alert = table.alert(str(event.row_key.value))
        if alert is not None:
            self.push_screen(AlertDetail(alert, alert.id in table.cleared))
