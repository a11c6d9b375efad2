"""The dashboard's widgets. Each gets its data through a method the app calls with the
contents of a message; none knows where the data comes from.

Gives :class:`LevelMeter`, :class:`Spectrogram`, :class:`LabelBars`,
:class:`LabelHistory`, :class:`RulesPanel`, :class:`AlertTable` and
:class:`StatusBar`. Every history they keep is bounded, so a dashboard left running
for weeks does not grow.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from functools import lru_cache

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import DataTable

from monitor.alerts import Alert, Severity, position
from monitor.tui.messages import HealthReport, RuleInfo, RuleState

FLOOR_DBFS = -80.0
PEAK_HOLD_SECONDS = 2.0
SPARKS = " ▁▂▃▄▅▆▇█"
EIGHTHS = " ▏▎▍▌▋▊▉█"
MAX_COLUMNS = 400  # spectrogram columns kept (wider than any terminal)
HISTORY = 240  # sparkline points kept per label
MAX_ALERTS = 200
SEVERITY_STYLE = {Severity.INFO: "cyan", Severity.WARNING: "yellow", Severity.CRITICAL: "bold red"}
STATE_STYLE = {"idle": "dim", "pending": "yellow", "active": "bold red", "cooling down": "blue"}
MODE_STYLE = {"home": "bold black on green", "away": "bold white on red", "night": "bold white on blue"}


def _append_cells(text: Text, cells: list[tuple[str, str]]) -> None:
    """Append (character, style) cells, one span per run of equal style (fewer spans draw faster)."""
    run, run_style = "", None
    for char, style in cells:
        if style != run_style and run:
            text.append(run, style=run_style or "")
            run = ""
        run, run_style = run + char, style
    if run:
        text.append(run, style=run_style or "")


def short_source(source: str) -> str:
    """A file source's id is its path; its name is enough on a crowded status line."""
    return source if "://" in source else source.rsplit("/", 1)[-1]


def _fit(name: str, width: int) -> str:
    return name if len(name) <= width else name[: max(1, width - 1)] + "…"


class LevelMeter(Widget):
    """The input level in dBFS as a bar, with the peak held for a couple of seconds of stream time."""

    DEFAULT_CSS = "LevelMeter { height: 5; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.level: float | None = None
        self.peak: float | None = None
        self._peak_time = 0.0

    def show(self, level: float, time: float) -> None:
        if self.peak is None or level >= self.peak or time - self._peak_time > PEAK_HOLD_SECONDS:
            self.peak, self._peak_time = level, time
        self.level = level
        self.refresh()

    def render(self) -> Text:
        width = max(10, self.size.width)
        if self.level is None or self.peak is None:
            return Text("no signal yet", style="dim")

        def column(db: float) -> int:
            return int(round((min(0.0, max(FLOOR_DBFS, db)) - FLOOR_DBFS) / -FLOOR_DBFS * (width - 1)))

        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{self.level:6.1f} dBFS", style="bold")
        text.append(f"   peak {self.peak:6.1f}\n", style="dim")
        filled, peak = column(self.level), column(self.peak)
        cells = []
        for x in range(width):
            db = FLOOR_DBFS + x / (width - 1) * -FLOOR_DBFS
            colour = "green" if db < -20 else "yellow" if db < -6 else "red"
            if x == peak:
                cells.append(("│", f"bold {colour}"))
            elif x < filled:
                cells.append(("█", colour))
            else:
                cells.append(("·", "bright_black"))
        _append_cells(text, cells)
        text.append("\n")
        scale = [" "] * width
        for db in (-80, -60, -40, -20, 0):
            label = str(db)
            at = min(width - len(label), max(0, column(db) - len(label) // 2))
            scale[at : at + len(label)] = label
        text.append("".join(scale), style="dim")
        return text


@lru_cache(maxsize=64)
def _heat(level: int) -> Color:
    """One of 32 colours from black through blue, magenta and red to yellow."""
    stops = [(0, 0, 0), (20, 30, 120), (140, 30, 140), (220, 50, 40), (250, 200, 40), (255, 255, 220)]
    pos = level / 31 * (len(stops) - 1)
    i = min(int(pos), len(stops) - 2)
    f = pos - i
    rgb = tuple(int(a + (b - a) * f) for a, b in zip(stops[i], stops[i + 1]))
    return Color.from_rgb(*rgb)


@lru_cache(maxsize=2048)
def _cell(upper: int, lower: int) -> Style:
    return Style(color=_heat(upper), bgcolor=_heat(lower))


class Spectrogram(Widget):
    """A scrolling strip of band energies, newest on the right, high bands on top (half-block cells)."""

    DEFAULT_CSS = "Spectrogram { height: 5; }"
    LOW_DB, HIGH_DB = -50.0, 30.0

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.columns: deque[np.ndarray] = deque(maxlen=MAX_COLUMNS)
        self.note = ""
        self._grid: np.ndarray | None = None

    def push(self, bands: np.ndarray) -> None:
        """``bands``: (n_bands, n_columns) dB, lowest band first."""
        levels = np.clip((bands - self.LOW_DB) / (self.HIGH_DB - self.LOW_DB) * 31, 0, 31).astype(np.int8)
        self.columns.extend(levels.T)
        self._grid = None
        self.refresh()

    def on_resize(self) -> None:
        self._grid = None

    def render_line(self, y: int) -> Strip:
        # The line API with cached styles: a full strip redrawn every hop costs next to nothing.
        width, height = self.size.width, self.size.height
        if not self.columns:
            message = (self.note or "waiting for audio…") if y == 0 else ""
            return Strip([Segment(message[:width], Style(dim=True))]).extend_cell_length(width)
        grid = self._cells(width, height)
        upper, lower = grid[2 * height - 1 - 2 * y], grid[2 * height - 2 - 2 * y]
        segments = [Segment(" " * (width - grid.shape[1]))]
        run, style = 0, None
        for top, bottom in zip(upper.tolist(), lower.tolist()):
            cell = _cell(top, bottom)
            if cell is not style and run:
                segments.append(Segment("▀" * run, style))
                run = 0
            run, style = run + 1, cell
        if run:
            segments.append(Segment("▀" * run, style))
        return Strip(segments, width)

    def _cells(self, width: int, height: int) -> np.ndarray:
        """(2 * height, columns) heat levels of the newest ``width`` columns, lowest band first."""
        if self._grid is None or self._grid.shape[0] != 2 * height:
            shown = list(self.columns)[-width:]
            self._grid = np.stack([_pool(c, 2 * height) for c in shown], axis=1).astype(np.int64)
        return self._grid


def _pool(column: np.ndarray, rows: int) -> np.ndarray:
    """A band column resized to ``rows`` cells (averaging or repeating bands)."""
    index = (np.arange(rows) * len(column)) // rows
    if rows >= len(column):
        return column[index]
    return np.array([column[a:b].max() for a, b in zip(index, list(index[1:]) + [len(column)])])


class LabelBars(Widget):
    """The latest window's top labels as bars; a rule's threshold is the ┃ mark in the track."""

    DEFAULT_CSS = "LabelBars { height: 1fr; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.thresholds: dict[str, float] = {}
        self.scores: dict[str, float] = {}
        self.skipped = False

    def configure(self, thresholds: dict[str, float]) -> None:
        self.thresholds = dict(thresholds)
        self.refresh()

    def show(self, scores: dict[str, float], skipped: bool) -> None:
        self.skipped = skipped
        if not skipped:
            self.scores = dict(scores)
        self.refresh()

    def top(self) -> list[tuple[str, float]]:
        rows = max(1, self.size.height - (1 if self.skipped else 0))
        return sorted(self.scores.items(), key=lambda kv: kv[1], reverse=True)[:rows]

    def render(self) -> Text:
        if not self.scores:
            return Text("quiet: below the rules' level gate" if self.skipped else "waiting for the first window…",
                        style="dim")
        top = self.top()
        name_width = min(18, max(len(label) for label, _ in top))
        track = max(4, self.size.width - name_width - 7)
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.skipped:
            text.append("quiet (below level gate); last scores:\n", style="dim italic")
        for i, (label, score) in enumerate(top):
            threshold = self.thresholds.get(label)
            hot = threshold is not None and score >= threshold
            text.append(f"{_fit(label, name_width):<{name_width}} ", style="bold" if hot else "")
            text.append_text(_bar(score, threshold, track, "red" if hot else "green"))
            text.append(f" {score:4.2f}", style="bold red" if hot else "")
            if i < len(top) - 1:
                text.append("\n")
        return text


def _bar(score: float, threshold: float | None, width: int, colour: str) -> Text:
    eighths = int(round(min(1.0, max(0.0, score)) * width * 8))
    cells = [EIGHTHS[8]] * (eighths // 8) + ([EIGHTHS[eighths % 8]] if eighths % 8 else [])
    cells += [" "] * (width - len(cells))
    mark = None if threshold is None else min(width - 1, int(threshold * width))
    bar = Text()
    _append_cells(bar, [("┃", "bold yellow on grey23") if x == mark else (cell, f"{colour} on grey23")
                        for x, cell in enumerate(cells)])
    return bar


class LabelHistory(Widget):
    """A sparkline of recent scores per watched label (or, with none, per label that has topped a window)."""

    DEFAULT_CSS = "LabelHistory { height: 1fr; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.watched: tuple[str, ...] = ()
        self.history: dict[str, deque[float]] = {}
        self._dynamic: deque[str] = deque(maxlen=16)  # labels that topped a window, newest first

    def configure(self, watched: tuple[str, ...]) -> None:
        self.watched = watched
        self.refresh()

    def push(self, scores: dict[str, float]) -> None:
        if not self.watched and scores:
            best = max(scores, key=scores.__getitem__)
            if best in self._dynamic:
                self._dynamic.remove(best)
            self._dynamic.appendleft(best)
        labels = self.labels()
        for label in labels:
            self.history.setdefault(label, deque(maxlen=HISTORY)).append(scores.get(label, 0.0))
        for label in [name for name in self.history if name not in labels]:
            del self.history[label]  # keeps memory bounded when labels come and go
        self.refresh()

    def labels(self) -> tuple[str, ...]:
        return self.watched or tuple(self._dynamic)

    def render(self) -> Text:
        labels = [label for label in self.labels() if label in self.history][: max(1, self.size.height)]
        if not labels:
            return Text("no history yet", style="dim")
        name_width = min(18, max(len(label) for label in labels))
        points = max(4, self.size.width - name_width - 6)
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, label in enumerate(labels):
            values = list(self.history[label])[-points:]
            spark = "".join(SPARKS[int(round(min(1.0, max(0.0, v)) * 8))] for v in values)
            text.append(f"{_fit(label, name_width):<{name_width}} ")
            text.append(f"{spark:>{points}}", style="cyan")
            text.append(f" {values[-1]:4.2f}")
            if i < len(labels) - 1:
                text.append("\n")
        return text


class RulesPanel(Widget):
    """Each rule with its state (idle / pending n of m / active / cooling down) and when it applies."""

    DEFAULT_CSS = "RulesPanel { height: 1fr; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.rules: tuple[RuleInfo, ...] = ()
        self.states: dict[str, RuleState] = {}
        self.note = ""

    def configure(self, rules: tuple[RuleInfo, ...], note: str = "") -> None:
        self.rules, self.note = rules, note
        self.refresh()

    def show(self, states: tuple[RuleState, ...]) -> None:
        self.states = {s.rule: s for s in states}
        self.refresh()

    def render(self) -> Text:
        if not self.rules:
            return Text(self.note or "no rules", style="dim")
        width = self.size.width
        name_width = min(18, max(len(rule.name) for rule in self.rules))
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, rule in enumerate(self.rules):
            state = self.states.get(rule.name, RuleState(rule.name, "idle"))
            shown = f"{state.state} {state.detail}".strip()
            if not state.enabled and state.state == "idle":
                shown = "off now"
            shown = _fit(shown, max(4, width - name_width - 1))
            text.append(f"{_fit(rule.name, name_width):<{name_width}} ", style="" if state.enabled else "dim")
            text.append(f"{shown:<16}", style=STATE_STYLE.get(state.state, "") if state.enabled else "dim italic")
            room = width - name_width - 1 - max(16, len(shown)) - 1
            if rule.when and room > 4:
                text.append(f" {_fit(rule.when, room)}", style="dim")
            if i < len(self.rules) - 1:
                text.append("\n")
        return text


class AlertTable(DataTable):  # type: ignore[type-arg]
    """Recent alerts, newest first, coloured by severity; cleared alerts are dimmed."""

    DEFAULT_CSS = "AlertTable { height: 1fr; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self.alerts: deque[Alert] = deque(maxlen=MAX_ALERTS)
        self.cleared: set[str] = set()

    def on_mount(self) -> None:
        # Severity before the names, so a narrow terminal cuts a long rule name, not the severity.
        self.add_columns("time", "severity", "rule", "label", "score")

    def add_alert(self, alert: Alert) -> bool:
        """Show ``alert`` in its place, newest raised first (an alert held for its clip's post-roll or
        replayed late arrives after newer ones); False if it is a duplicate (QoS 1 may deliver twice)."""
        if any(a.id == alert.id for a in self.alerts):
            return False
        ordered = sorted([*self.alerts, alert], key=_raised_at, reverse=True)
        self.alerts = deque(ordered, maxlen=MAX_ALERTS)
        known = {a.id for a in self.alerts}
        self.cleared &= known
        self._rebuild()
        return True

    def mark_cleared(self, alert_id: str) -> None:
        if any(a.id == alert_id for a in self.alerts):
            self.cleared.add(alert_id)
            self._rebuild()

    def alert(self, alert_id: str) -> Alert | None:
        return next((a for a in self.alerts if a.id == alert_id), None)

    def _rebuild(self) -> None:
        self.clear()
        for alert in self.alerts:
            style = "dim" if alert.id in self.cleared else SEVERITY_STYLE.get(alert.severity, "")
            when = position(alert.stream_time) if alert.recording else (
                datetime.fromtimestamp(_raised_at(alert)).strftime("%H:%M:%S"))
            cells = (when, alert.severity.value, alert.rule, alert.label, f"{alert.score:.2f}")
            self.add_row(*(Text(cell, style=style) for cell in cells), key=alert.id)


def _raised_at(alert: Alert) -> float:
    """When the alert was raised: its onset's time plus the stream seconds until it fired."""
    return alert.wall_time + (alert.stream_time - alert.onset)


class StatusBar(Widget):
    """One line: mode, sources and their health, MQTT, pipeline CPU, model, live/paused/ended."""

    DEFAULT_CSS = "StatusBar { height: 1; background: $panel; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.mode: str | None = None
        self.reason = ""
        self.requested: str | None = None
        self.health = HealthReport()
        self.model: str | None = None
        self.origin = ""
        self.paused = False
        self.ended: tuple[str, bool] | None = None

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.mode is None:
            text.append(" mode ? ", style="reverse")
        else:
            text.append(f" {self.mode.upper()} ", style=MODE_STYLE.get(self.mode, "reverse"))
            if self.reason:
                text.append(f" {self.reason}", style="dim")
        if self.requested and self.requested != self.mode:
            text.append(f" →{self.requested}?", style="yellow")
        if self.ended is not None:
            reason, error = self.ended
            text.append(" │ ")
            text.append(f"ended: {reason}", style="bold red" if error else "bold")
        elif self.paused:
            text.append(" │ ")
            text.append("PAUSED", style="bold reverse")
        h = self.health
        text.append(" │ ")
        if h.sources:
            for i, source in enumerate(h.sources):
                text.append(("" if i == 0 else ", ") + f"{short_source(source.source)} ")
                text.append(source.status or ("ok" if source.ok else "failing"), style="green" if source.ok else "bold red")
        else:
            text.append(self.origin or "no source yet", style="dim")
        text.append(" │ MQTT ")
        style = "green" if h.mqtt.startswith("connected") else "dim" if h.mqtt == "off" else "yellow"
        text.append(h.mqtt, style=style)
        if h.backlog:
            text.append(f" backlog {h.backlog}", style="bold yellow")
        text.append(" │ CPU ")
        text.append("—" if h.cpu is None else f"{h.cpu * 100:.0f}%")
        text.append(" │ ")
        text.append(h.model or self.model or "model ?", style="dim")
        return text
