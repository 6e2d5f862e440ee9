"""The demo's report: one HTML document drawn from the DemoRecord alone.

Self-contained so that it can be attached to a CI run and opened anywhere, offline: no
JavaScript, no external CSS or fonts, and plots drawn here as inline SVG rather than by a
plotting library the operator would otherwise not need.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from paved_local.demo.judgements import judgement, serving_reference
from paved_local.demo.record import (
    AbEstimate,
    DemoRecord,
    GateResult,
    GuardrailSample,
    Monitoring,
    TrafficSample,
)

_T = TypeVar("_T")
_K = TypeVar("_K")

_SVG_NAMESPACE = "http://www.w3.org/2000/svg"
_BLUE = "#1f6fb4"
_GREY = "#6b6b6b"
_LIGHT_GREY = "#e6e6e6"
_RED = "#c62828"
_GREEN = "#2e7d32"
_BAND = "#cfe0f1"
_OUTCOME_COLOURS = {"win": _GREEN, "loss": _RED}
_TIME_AXIS = "seconds since the demo started"
_AB_HEADERS = [
    "At",
    "Outcome",
    "Effect",
    "Interval",
    "p-value",
    "Samples baseline",
    "Samples candidate",
    "Required per arm",
]

# Margins leave room for the legend (top) and for tick and axis labels (left, bottom).
_WIDTH, _LEFT, _RIGHT, _TOP, _BOTTOM = 680, 64, 16, 28, 44
_PLOT_HEIGHT, _INTERVAL_HEIGHT = 240, 110

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222;
       padding: 0 1rem; line-height: 1.4; }
nav a { margin-right: 1rem; }
section { margin-top: 2.5rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
dt { font-weight: bold; float: left; clear: left; width: 8rem; }
dd { margin-left: 9rem; }
svg { display: block; max-width: 100%; height: auto; margin: 0.5rem 0 1rem; }
.empty { color: #777; font-style: italic; }
.pass { color: #2e7d32; font-weight: bold; }
.fail { color: #c62828; font-weight: bold; }
.inconclusive { color: #b26a00; font-weight: bold; }
.code { font-family: ui-monospace, monospace; font-size: 0.85rem; word-break: break-all; }
pre { font-size: 0.8rem; background: #f6f6f6; padding: 0.6rem; overflow-x: auto; }
"""


def render_report(record: DemoRecord) -> str:
    """The whole report as one HTML document, every section present even when it is empty."""
    sections = [
        ("summary", "Summary", _summary(record)),
        ("traffic", "Traffic over time", _traffic(record)),
        ("guardrails", "Guardrails vs thresholds", _guardrails(record)),
        ("ab-test", "A/B test", _ab_test(record)),
        ("gates", "Gates", _gates(record)),
        ("rollbacks", "Rollbacks and reverts", _rollbacks(record)),
        ("lineage", "What serves now: paved lineage", _lineage(record)),
        ("monitor", "The production model, watched: drift and retraining", _monitor(record)),
        ("timeline", "Timeline", _timeline(record)),
    ]
    nav = "".join(f'<a href="#{id_}">{_e(heading)}</a>' for id_, heading, _ in sections)
    body = "\n".join(
        f'<section id="{id_}"><h2>{_e(heading)}</h2>{content}</section>'
        for id_, heading, content in sections
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>paved demo report</title><style>{_STYLE}</style></head>\n"
        f"<body><h1>paved demo report</h1><nav>{nav}</nav>\n{body}\n</body></html>\n"
    )


def write_report(record: DemoRecord, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(record), encoding="utf-8")
    return path


# Sections


def _summary(record: DemoRecord) -> str:
    if record.finished_at is None:
        duration = "not finished"
    else:
        duration = _duration((record.finished_at - record.started_at).total_seconds())
    facts = [
        ("Started", record.started_at.isoformat()),
        ("Duration", duration),
        ("Time scale", f"{record.time_scale:g} s of demo for each minute of the real schedule"),
    ]
    listed = "".join(f"<dt>{_e(term)}</dt><dd>{_e(text)}</dd>" for term, text in facts)
    outcomes = (
        _table(
            ["Model version", "Result", "Detail"],
            [[o.model_version, o.result, o.detail] for o in record.outcomes],
        )
        if record.outcomes
        else _nothing("outcomes")
    )
    return f"<dl>{listed}</dl>{outcomes}"


def _traffic(record: DemoRecord) -> str:
    if not record.traffic:
        return _nothing("traffic")
    span = _span(record)
    by_rollout = _grouped(sorted(record.traffic, key=lambda s: s.at), lambda s: s.rollout)
    return "".join(
        f"<h3>{_e(rollout)}</h3>{_traffic_plot(rollout, samples, span)}"
        for rollout, samples in by_rollout.items()
    )


def _guardrails(record: DemoRecord) -> str:
    if not record.guardrails:
        return _nothing("guardrail samples")
    span = _span(record)
    by_guardrail = _grouped(
        sorted(record.guardrails, key=lambda s: s.at), lambda s: (s.rollout, s.guardrail)
    )
    return "".join(
        f"<h3>{_e(rollout)}: {_e(guardrail)}</h3>"
        f"{_guardrail_plot(rollout, guardrail, samples, span)}"
        for (rollout, guardrail), samples in by_guardrail.items()
    )


def _ab_test(record: DemoRecord) -> str:
    if not record.ab:
        return _nothing("A/B estimates")
    span = _span(record)
    by_rollout = _grouped(sorted(record.ab, key=lambda e: e.at), lambda e: e.rollout)
    return "".join(
        f"<h3>{_e(rollout)}</h3>{_ab_rollout(rollout, estimates, span)}"
        for rollout, estimates in by_rollout.items()
    )


def _ab_rollout(rollout: str, estimates: Sequence[AbEstimate], span: float) -> str:
    latest = estimates[-1]
    row = [
        _seconds(latest.at),
        latest.outcome,
        f"{latest.effect:+.4f}",
        f"[{latest.low:+.4f}, {latest.high:+.4f}]",
        f"{latest.p_value:.3g}",
        str(latest.samples_baseline),
        str(latest.samples_candidate),
        str(latest.required_per_arm),
    ]
    # One estimate is a point in time: there is no "over time" to draw.
    history = _interval_history_plot(rollout, estimates, span) if len(estimates) > 1 else ""
    return f"{_interval_plot(rollout, latest)}{_table(_AB_HEADERS, [row])}{history}"


def _gates(record: DemoRecord) -> str:
    if not record.gates:
        return _nothing("gate results")
    by_version = _grouped(record.gates, lambda g: g.model_version)
    return "".join(_version_gates(version, gates) for version, gates in by_version.items())


def _version_gates(version: str, gates: Sequence[GateResult]) -> str:
    """One ModelVersion's gates: each with what it judged against, the numbers, the bar."""
    serving = serving_reference(gates)
    against = (
        f"Judged against {serving}, the model serving when it trained, on its own holdout; "
        f"drift against the inputs {serving} is served."
        if serving
        else "No model served yet: judged on the absolute floors."
    )
    rows: list[list[str | _Styled]] = []
    for gate in gates:
        found = judgement(gate, serving)
        rows.append(
            [gate.gate, found.reference, found.compared, found.threshold, _gate_result(gate)]
        )
    headers = ["Gate", "Judged against", "Candidate vs reference", "Threshold", "Verdict"]
    return f"<h3>{_e(version)}</h3><p>{_e(against)}</p>{_table(headers, rows)}"


def _gate_result(gate: GateResult) -> _Styled:
    if gate.passed is None:
        return _Styled("inconclusive", "inconclusive")
    return _Styled("pass", "pass") if gate.passed else _Styled("fail", "fail")


def _rollbacks(record: DemoRecord) -> str:
    if not record.rollbacks and not record.reverts:
        return _nothing("rollbacks or reverts")
    rollbacks = (
        _table(
            ["Rollout", "Reason", "Message", "Breach → restore"],
            [
                [r.rollout, r.reason, r.message, _seconds(r.breach_to_restore_seconds)]
                for r in record.rollbacks
            ],
        )
        if record.rollbacks
        else _nothing("rollbacks")
    )
    return f"{rollbacks}<h3>Reverts after promotion</h3>{_reverts(record)}"


def _reverts(record: DemoRecord) -> str:
    if not record.reverts:
        return _nothing("reverts")
    return _table(
        ["Model", "Rollout", "Reason", "Message", "Command → traffic restored", "Command's count"],
        [
            [
                r.model,
                r.rollout,
                r.reason,
                r.message,
                _seconds(r.command_to_restored_seconds),
                _seconds(r.reported_seconds),
            ]
            for r in record.reverts
        ],
    )


def _lineage(record: DemoRecord) -> str:
    """What serves at the end, as `paved lineage` printed it, read live from the cluster and
    the registry."""
    production = record.production
    if production is None:
        return _nothing("production model")
    verdict = (
        _Styled("complete: every link is present", "pass")
        if production.complete
        else _Styled("INCOMPLETE: a link is missing", "fail")
    )
    return (
        f'<p class="{verdict.css_class}">{_e(verdict.text)}</p>'
        f'<p class="code">$ {_e(production.command)}</p><pre>{_e(production.text)}</pre>'
    )


def _monitor(record: DemoRecord) -> str:
    """The fourth act: live AUC over time against the AUC at training, the drift, and the
    retraining the monitor started."""
    monitoring = record.monitoring
    if monitoring is None:
        return _nothing("model monitor (it runs on the local platform)")
    facts = [
        ("Input drift", monitoring.input_drift or "not seen"),
        ("Live AUC", monitoring.performance or "no drop seen"),
        ("Retraining", monitoring.retraining or "none started"),
        ("Because", monitoring.because or "-"),
        ("Trained on", monitoring.labels or "-"),
        ("Its gates", f"{monitoring.retrained_gates or '-'} ({monitoring.retrained_phase or '-'})"),
    ]
    listed = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    return f"{_live_metric_plot(monitoring, _span(record))}<dl>{listed}</dl>"


def _live_metric_plot(monitoring: Monitoring, span: float) -> str:
    samples = [s for s in monitoring.samples if s.metric is not None]
    known = [monitoring.trained_metric, *(s.metric for s in samples if s.metric is not None)]
    frame = _Frame(0.0, span, *_extent(known))
    live = _broken_line(frame, [(s.at, s.metric) for s in samples], "value", _BLUE, dashed=False)
    trained = _broken_line(
        frame,
        [(0.0, monitoring.trained_metric), (span, monitoring.trained_metric)],
        "threshold",
        _GREY,
        dashed=True,
    )
    marks = []
    if monitoring.drifted_at is not None:
        marks.append(
            _point(
                frame, monitoring.drifted_at, monitoring.trained_metric, _RED, "the world drifts"
            )
        )
    legend = _legend([("live AUC", _BLUE, False), ("AUC at training", _GREY, True)])
    return _svg(
        frame,
        "Live AUC of the production model (outcomes joined to its predictions) over time",
        [_axes(frame, _TIME_AXIS, "AUC"), legend, *trained, *live, *marks],
    )


def _timeline(record: DemoRecord) -> str:
    if not record.events:
        return _nothing("events")
    events = sorted(record.events, key=lambda e: e.at)
    return _table(["At", "Event"], [[_seconds(e.at), e.text] for e in events])


# Plots


@dataclass(frozen=True)
class _Frame:
    """Data to pixels: x_lo..x_hi across the plot area, y_lo..y_hi up it."""

    x_lo: float
    x_hi: float
    y_lo: float
    y_hi: float
    height: int = _PLOT_HEIGHT

    def x(self, value: float) -> float:
        share = (value - self.x_lo) / (self.x_hi - self.x_lo)
        return _LEFT + share * (_WIDTH - _LEFT - _RIGHT)

    def y(self, value: float) -> float:
        share = (value - self.y_lo) / (self.y_hi - self.y_lo)
        return self.height - _BOTTOM - share * (self.height - _TOP - _BOTTOM)

    def xy(self, x: float, y: float) -> str:
        return f"{self.x(x):.1f},{self.y(y):.1f}"


def _traffic_plot(rollout: str, samples: Sequence[TrafficSample], span: float) -> str:
    frame = _Frame(0.0, span, 0.0, 100.0)
    # A traffic split holds until the next one, and the last one until the demo's end.
    holds = list(zip(samples, [s.at for s in samples[1:]] + [span], strict=True))
    shading = [
        f'<rect class="shadow" x="{frame.x(s.at):.1f}" y="{frame.y(100):.1f}" '
        f'width="{frame.x(end) - frame.x(s.at):.1f}" height="{frame.y(0) - frame.y(100):.1f}" '
        f'fill="{_LIGHT_GREY}"/>'
        for s, end in holds
        if s.shadow
    ]
    baseline = _step_path(frame, [(s.at, end, s.baseline) for s, end in holds], "baseline", _GREY)
    candidate = _step_path(
        frame, [(s.at, end, s.candidate) for s, end in holds], "candidate", _BLUE
    )
    points = [
        _point(frame, s.at, s.candidate, _BLUE, f"{s.at:g} s: {s.step}, candidate {s.candidate}%")
        for s in samples
    ]
    legend = _legend(
        [
            ("candidate %", _BLUE, False),
            ("baseline %", _GREY, False),
            ("shadow", _LIGHT_GREY, False),
        ]
    )
    return _svg(
        frame,
        f"Traffic of {rollout}: candidate and baseline % over time",
        [*shading, _axes(frame, _TIME_AXIS, "% of traffic"), legend, baseline, candidate, *points],
    )


def _step_path(
    frame: _Frame, holds: Sequence[tuple[float, float, float]], css_class: str, colour: str
) -> str:
    """One path through (start, end, level) holds, rising or falling where a level changes."""
    moves = " ".join(
        f"{'L' if i else 'M'}{frame.xy(start, level)} L{frame.xy(end, level)}"
        for i, (start, end, level) in enumerate(holds)
    )
    return f'<path class="{css_class}" d="{moves}" fill="none" stroke="{colour}" stroke-width="2"/>'


def _guardrail_plot(
    rollout: str, guardrail: str, samples: Sequence[GuardrailSample], span: float
) -> str:
    known = [v for s in samples for v in (s.value, s.threshold) if v is not None]
    frame = _Frame(0.0, span, *(_extent(known) if known else (0.0, 1.0)))
    values = _broken_line(frame, [(s.at, s.value) for s in samples], "value", _BLUE, dashed=False)
    thresholds = _broken_line(
        frame, [(s.at, s.threshold) for s in samples], "threshold", _GREY, dashed=True
    )
    points = [
        _point(
            frame,
            s.at,
            s.value,
            _RED if s.verdict == "breach" else _BLUE,
            f"{s.at:g} s: {s.value:g} ({s.verdict}, threshold {_optional(s.threshold)})",
        )
        for s in samples
        if s.value is not None
    ]
    legend = _legend([("value", _BLUE, False), ("threshold", _GREY, True), ("breach", _RED, False)])
    return _svg(
        frame,
        f"{guardrail} of {rollout} against its threshold over time",
        [_axes(frame, _TIME_AXIS, guardrail), legend, *thresholds, *values, *points],
    )


def _broken_line(
    frame: _Frame,
    points: Sequence[tuple[float, float | None]],
    css_class: str,
    colour: str,
    *,
    dashed: bool,
) -> list[str]:
    """A line through the points, broken where there is no value rather than bridged."""
    runs: list[list[str]] = [[]]
    for at, value in points:
        if value is None:
            runs.append([])
        else:
            runs[-1].append(frame.xy(at, value))
    dash = ' stroke-dasharray="6 4"' if dashed else ""
    return [
        f'<path class="{css_class}" d="M{" L".join(run)}" fill="none" stroke="{colour}" '
        f'stroke-width="2"{dash}/>'
        for run in runs
        if run
    ]


def _interval_plot(rollout: str, estimate: AbEstimate) -> str:
    frame = _Frame(*_extent([estimate.low, estimate.high, 0.0]), 0.0, 1.0, _INTERVAL_HEIGHT)
    colour = _OUTCOME_COLOURS.get(estimate.outcome, _GREY)
    middle = frame.y(0.5)
    low, high = frame.x(estimate.low), frame.x(estimate.high)
    body = [
        _axes(frame, "effect: candidate rate - baseline rate", None),
        f'<line class="zero" x1="{frame.x(0):.1f}" y1="{frame.y(1):.1f}" x2="{frame.x(0):.1f}" '
        f'y2="{frame.y(0):.1f}" stroke="{_GREY}" stroke-dasharray="4 3"/>',
        f'<path class="interval" d="M{low:.1f},{middle - 8:.1f} V{middle + 8:.1f} '
        f'M{low:.1f},{middle:.1f} H{high:.1f} M{high:.1f},{middle - 8:.1f} V{middle + 8:.1f}" '
        f'fill="none" stroke="{colour}" stroke-width="3"/>',
        _point(frame, estimate.effect, 0.5, colour, f"effect {estimate.effect:+.4f}"),
        *(
            f'<text x="{x:.1f}" y="{middle - 12:.1f}" text-anchor="middle">{bound:+.4f}</text>'
            for x, bound in ((low, estimate.low), (high, estimate.high))
        ),
    ]
    return _svg(
        frame,
        f"A/B effect for {rollout}: {estimate.effect:+.4f}, always-valid interval "
        f"[{estimate.low:+.4f}, {estimate.high:+.4f}] ({estimate.outcome})",
        body,
    )


def _interval_history_plot(rollout: str, estimates: Sequence[AbEstimate], span: float) -> str:
    bounds = [v for e in estimates for v in (e.low, e.high)]
    frame = _Frame(0.0, span, *_extent([*bounds, 0.0]))
    outline = [frame.xy(e.at, e.high) for e in estimates]
    outline += [frame.xy(e.at, e.low) for e in reversed(estimates)]
    effects = " L".join(frame.xy(e.at, e.effect) for e in estimates)
    body = [
        _axes(frame, _TIME_AXIS, "effect"),
        _legend([("effect", _BLUE, False), ("interval", _BAND, False), ("zero", _GREY, True)]),
        f'<polygon class="interval" points="{" ".join(outline)}" fill="{_BAND}"/>',
        f'<line class="zero" x1="{frame.x(0):.1f}" y1="{frame.y(0):.1f}" x2="{frame.x(span):.1f}" '
        f'y2="{frame.y(0):.1f}" stroke="{_GREY}" stroke-dasharray="4 3"/>',
        f'<path class="effect" d="M{effects}" fill="none" stroke="{_BLUE}" stroke-width="2"/>',
    ]
    return _svg(frame, f"A/B effect for {rollout} and its always-valid interval over time", body)


def _svg(frame: _Frame, title: str, body: Iterable[str]) -> str:
    label = _e(title)
    return (
        f'<svg xmlns="{_SVG_NAMESPACE}" viewBox="0 0 {_WIDTH} {frame.height}" '
        f'width="{_WIDTH}" height="{frame.height}" role="img" aria-label="{label}" '
        f'font-family="sans-serif" font-size="11"><title>{label}</title>{"".join(body)}</svg>'
    )


def _axes(frame: _Frame, x_label: str, y_label: str | None) -> str:
    """Ticks and labels; with no y label the plot has no y axis (it is a single row)."""
    bottom, right = frame.y(frame.y_lo), _WIDTH - _RIGHT
    parts = [f'<line x1="{_LEFT}" y1="{bottom:.1f}" x2="{right}" y2="{bottom:.1f}" stroke="#999"/>']
    for tick in _ticks(frame.x_lo, frame.x_hi):
        x = frame.x(tick)
        parts.append(
            f'<line x1="{x:.1f}" y1="{bottom:.1f}" x2="{x:.1f}" y2="{bottom + 4:.1f}" '
            f'stroke="#999"/><text x="{x:.1f}" y="{bottom + 16:.1f}" '
            f'text-anchor="middle">{_e(f"{tick:g}")}</text>'
        )
    parts.append(
        f'<text x="{(_LEFT + right) / 2:.1f}" y="{frame.height - 8}" '
        f'text-anchor="middle">{_e(x_label)}</text>'
    )
    if y_label is None:
        return "".join(parts)
    for tick in _ticks(frame.y_lo, frame.y_hi):
        y = frame.y(tick)
        parts.append(
            f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_e(f"{tick:g}")}</text>'
        )
    middle = (frame.y(frame.y_lo) + frame.y(frame.y_hi)) / 2
    parts.append(
        f'<text transform="translate(14,{middle:.1f}) rotate(-90)" '
        f'text-anchor="middle">{_e(y_label)}</text>'
    )
    return "".join(parts)


def _legend(entries: Sequence[tuple[str, str, bool]]) -> str:
    """(label, colour, dashed) swatches along the top margin."""
    parts = []
    for i, (label, colour, dashed) in enumerate(entries):
        x = _LEFT + i * 120
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        parts.append(
            f'<line x1="{x}" y1="12" x2="{x + 22}" y2="12" stroke="{colour}" '
            f'stroke-width="4"{dash}/><text x="{x + 28}" y="16">{_e(label)}</text>'
        )
    return "".join(parts)


def _point(frame: _Frame, x: float, y: float, colour: str, tooltip: str) -> str:
    # SVG's own <title> gives a hover text without any script.
    return (
        f'<circle cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="3.5" fill="{colour}">'
        f"<title>{_e(tooltip)}</title></circle>"
    )


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` round values (1, 2 or 5 times a power of ten apart) within lo..hi."""
    rough = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(rough))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough)
    first = math.ceil(lo / step) * step
    # The tolerance keeps a tick that lands on hi despite rounding in the division.
    return [first + i * step for i in range(math.floor((hi - first) / step + 1e-9) + 1)]


def _extent(values: Sequence[float]) -> tuple[float, float]:
    """The range of the values with headroom, never empty, so no point sits on the frame."""
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.1 or abs(hi) * 0.1 or 1.0
    return lo - pad, hi + pad


def _span(record: DemoRecord) -> float:
    """The end of the shared time axis, so plots of one demo line up with each other."""
    times = [s.at for s in record.traffic] + [s.at for s in record.guardrails]
    times += [e.at for e in record.ab] + [e.at for e in record.events]
    if record.monitoring is not None:
        times += [s.at for s in record.monitoring.samples]
    return max([1.0, *times])


# HTML


@dataclass(frozen=True)
class _Styled:
    """A table cell's text with a CSS class, e.g. a gate's result in its colour."""

    text: str
    css_class: str


def _table(headers: Sequence[str], rows: Iterable[Sequence[str | _Styled]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(f"<tr>{''.join(_cell(c) for c in row)}</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(cell: str | _Styled) -> str:
    if isinstance(cell, _Styled):
        return f'<td class="{_e(cell.css_class)}">{_e(cell.text)}</td>'
    return f"<td>{_e(cell)}</td>"


def _nothing(what: str) -> str:
    return f'<p class="empty">No {_e(what)} recorded.</p>'


def _grouped(items: Iterable[_T], key: Callable[[_T], _K]) -> dict[_K, list[_T]]:
    """Items by key, keys in order of first appearance, items in their given order."""
    groups: dict[_K, list[_T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return groups


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def _optional(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def _e(text: str) -> str:
    return html.escape(text)
