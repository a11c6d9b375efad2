"""Pop-up screens: the key help, and one alert's details (with its evidence clip, if any)."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from monitor.alerts import Alert

HELP = """\
[b]Keys[/b]
  [b]h[/b] / [b]a[/b] / [b]n[/b]   mode home / away / night (lasts until the next
              schedule boundary; attached: asks the daemon)
  [b]p[/b]           pause the live display (alerts still arrive)
  [b]enter[/b]       details of the selected alert (or click it)
  [b]?[/b]           this help
  [b]q[/b]           quit

[b]Panels[/b]
  Level       window level in dBFS; │ is the peak, held 2 s
  Spectrogram newest on the right, high frequencies on top
  Heard       the latest window's top labels; ┃ marks a rule's threshold
  History     recent scores of the labels the rules listen for
  Rules       idle / pending n of m / active / cooling down, and when
  Alerts      newest first, coloured by severity, dimmed once cleared

[dim]escape, ? or q closes this help[/dim]"""


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: auto; max-width: 100%; height: auto; max-height: 100%;
                            border: round $accent; padding: 0 1; background: $surface; }
    #help-text { width: auto; height: auto; }
    """
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(HELP, id="help-text")

    def on_click(self) -> None:
        self.dismiss()


class AlertDetail(ModalScreen[None]):
    DEFAULT_CSS = """
    AlertDetail { align: center middle; }
    AlertDetail > Vertical { width: 80%; max-width: 100; height: auto; max-height: 90%;
                             border: round $warning; padding: 0 1; background: $surface; }
    """
    BINDINGS = [
        Binding("escape,q,enter", "dismiss", "close"),
        Binding("c", "copy_clip", "copy clip path"),
        Binding("s", "save_clip", "save clip here"),
    ]

    def __init__(self, alert: Alert, cleared: bool) -> None:
        super().__init__()
        self.alert = alert
        self.cleared = cleared

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._text(), id="alert-detail")

    def _text(self) -> Text:
        a = self.alert
        text = Text()

        def row(name: str, value: str, style: str = "") -> None:
            text.append(f"{name:<11}", style="bold")
            text.append(f"{value}\n", style=style)

        row("message", a.message)
        row("rule", a.rule)
        row("labels", ", ".join(a.labels) or a.label)
        row("score", f"{a.score:.2f}")
        row("severity", a.severity.value)
        row("mode", a.mode)
        row("source", a.source)
        row("heard at", datetime.fromtimestamp(a.wall_time).strftime("%Y-%m-%d %H:%M:%S"))
        windows = f"{len(a.windows)} windows" + (f" {a.windows[0].start:.2f}–{a.windows[-1].end:.2f} s" if a.windows else "")
        row("stream", f"sound began {a.onset:.2f} s, fired {a.stream_time:.2f} s, {windows}")
        row("state", "cleared" if self.cleared else "active")
        if a.clip_path:
            exists = Path(a.clip_path).exists()
            row("clip", a.clip_path + ("" if exists else "  (not on this machine)"))
            if exists:
                text.append("c copies the clip path, s saves a copy in the current directory; ", style="dim")
        else:
            row("clip", "none (evidence clips are off)", "dim")
        text.append("escape closes", style="dim")
        return text

    def action_copy_clip(self) -> None:
        if self.alert.clip_path:
            self.app.copy_to_clipboard(self.alert.clip_path)
            self.notify(f"copied {self.alert.clip_path}")

    def action_save_clip(self) -> None:
        """Evidence clips are pruned by age and size on the daemon: keep this one."""
        if not self.alert.clip_path or not Path(self.alert.clip_path).exists():
            self.notify("no clip on this machine", severity="warning")
            return
        source = Path(self.alert.clip_path)
        target = Path.cwd() / f"{self.alert.rule}-{self.alert.id[:8]}{source.suffix}"
        try:
            shutil.copy2(source, target)
        except OSError as exc:
            self.notify(f"cannot save the clip: {exc.strerror}", severity="error")
            return
        self.notify(f"saved {target}")

    def on_click(self) -> None:
        self.dismiss()
