"""The demo in the terminal: a live panel on a terminal, one line per event anywhere else."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.live import Live as RichLive
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from paved_local.demo.display import Live

_VERDICT_STYLE = {"pass": "green", "breach": "bold red", "noData": "yellow"}
_PHASE_STYLE = {
    "Staging": "cyan",
    "Production": "green",
    "Held": "red",
    "Failed": "red",
    "Archived": "dim",
    "Succeeded": "green",
    "RolledBack": "red",
    "Paused": "yellow",
}


def _traffic_bar(baseline: int, candidate: int, shadow: bool, width: int = 40) -> Text:
    filled = round(width * candidate / 100)
    bar = Text("█" * (width - filled), style="blue") + Text("█" * filled, style="magenta")
    label = f"  baseline {baseline}% · candidate {candidate}%" + (" · shadow on" if shadow else "")
    return bar + Text(label)


def render(live: Live) -> RenderableType:
    parts: list[RenderableType] = [Text(live.stage, style="bold")]
    if live.models:
        models = Table(box=None, show_header=False, padding=(0, 2))
        for name, phase in live.models.items():
            models.add_row(name, Text(phase, style=_PHASE_STYLE.get(phase, "")))
        parts.append(models)
    if live.rollout is not None:
        phase = live.phase or "Pending"
        heading = Text(f"Rollout {live.rollout}: ") + Text(phase, style=_PHASE_STYLE.get(phase, ""))
        parts.append(heading + Text(f"  step: {live.step or '-'}"))
        if live.traffic is not None:
            parts.append(_traffic_bar(*live.traffic))
        if live.guardrails:
            guardrails = Table(box=None, padding=(0, 2))
            for column in ("guardrail", "value", "threshold", "verdict"):
                guardrails.add_column(column)
            for reading in live.guardrails:
                guardrails.add_row(
                    reading.guardrail,
                    "-" if reading.value is None else f"{reading.value:.4g}",
                    "-" if reading.threshold is None else f"{reading.threshold:.4g}",
                    Text(reading.verdict, style=_VERDICT_STYLE.get(reading.verdict, "")),
                )
            parts.append(guardrails)
        if live.experiment is not None:
            ab = live.experiment
            parts.append(
                Text(
                    f"A/B: {ab.outcome}  effect {ab.effect:+.3f} [{ab.low:+.3f}, {ab.high:+.3f}]  "
                    f"p {ab.p_value:.3g}  n {ab.samples_baseline}/{ab.samples_candidate} "
                    f"(≈{ab.required_per_arm} per arm for the MDE)"
                )
            )
    parts.append(Text("\n".join(live.events), style="dim"))
    return Panel(Group(*parts), title=f"paved demo · {live.elapsed:.0f}s", border_style="cyan")


class TerminalDisplay:
    """A live panel that redraws in place."""

    def __init__(self, console: Console) -> None:
        self._live = RichLive(console=console, refresh_per_second=4, transient=False)

    def __enter__(self) -> TerminalDisplay:
        self._live.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._live.__exit__(kind, error, trace)

    def show(self, live: Live) -> None:
        self._live.update(render(live))


class LineDisplay:
    """For logs and CI: each new event once, as a line."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._printed: list[str] = []

    def __enter__(self) -> LineDisplay:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def show(self, live: Live) -> None:
        fresh = [e for e in live.events if e not in self._printed]
        for line in fresh:
            self._console.print(line, highlight=False, soft_wrap=True)
        self._printed = (self._printed + fresh)[-50:]
