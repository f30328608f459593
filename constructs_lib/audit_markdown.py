"""The audit as Markdown: per stack, a table of every function's failure handling and a Mermaid flowchart of
each failure path (source -> retries / bisect -> destination or DLQ -> alarm), ready for a pull request or a CI
job summary (GitHub renders Mermaid natively).

The flowcharts use a small subset of Mermaid: `flowchart LR`, nodes `id["label"]` (and the shapes below),
edges `-->|"label"|` and `-.->`, and `classDef` / `class`. Labels are always quoted, with `"`, `#`, `<`, `>`
written as Mermaid entity codes, so no text from a template can break the diagram.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from constructs_lib.audit import FunctionReport, TemplateReport, _title, _totals
from constructs_lib.checks import RULES, Level

# Shapes by role: ([stadium]) triggers, [rectangle] the function, [(cylinder)] where failures are kept,
# [/parallelogram/] where failures are lost, {{hexagon}} alarms.
SHAPES = {
    "trigger": ('(["', '"])'),
    "function": ('["', '"]'),
    "home": ('[("', '")]'),
    "lost": ('[/"', '"/]'),
    "alarm": ('{{"', '"}}'),
    "success": ('[("', '")]'),
}
CLASS_DEFINITIONS = (
    "classDef lost fill:#fde2e2,stroke:#c62828,color:#000",
    "classDef alarm fill:#fff4d6,stroke:#b26a00,color:#000",
    "classDef noalarm fill:#eeeeee,stroke:#9e9e9e,color:#000,stroke-dasharray:4 3",
)
_ENTITIES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;"}


def mermaid_label(text: str) -> str:
    """Text as a quoted Mermaid label: one line, entity codes for what the grammar reserves."""
    flat = " ".join(str(text).split())
    return "".join(_ENTITIES.get(character, character) for character in flat)


def _cell(text: str) -> str:
    """Text for a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|") or " "


class _Chart:
    def __init__(self) -> None:
        self.lines = ["flowchart LR"]
        self.ids: dict[tuple[str, str], str] = {}
        self.classes: dict[str, list[str]] = {}

    def node(self, role: str, key: str, label: str, css: str | None = None) -> str:
        if (role, key) not in self.ids:
            node_id = f"n{len(self.ids) + 1}"
            self.ids[(role, key)] = node_id
            opening, closing = SHAPES[role]
            self.lines.append(f"    {node_id}{opening}{mermaid_label(label)}{closing}")
            if css:
                self.classes.setdefault(css, []).append(node_id)
        return self.ids[(role, key)]

    def edge(self, source: str, target: str, label: str | None = None, dotted: bool = False) -> None:
        arrow = "-.->" if dotted else "-->"
        text = f'|"{mermaid_label(label)}"|' if label else ""
        line = f"    {source} {arrow}{text} {target}"
        if line not in self.lines:
            self.lines.append(line)

    def text(self) -> str:
        lines = self.lines + [f"    {definition}" for definition in CLASS_DEFINITIONS]
        lines += [f"    class {','.join(ids)} {css}" for css, ids in self.classes.items()]
        return "\n".join(lines)


def flowchart(function: FunctionReport, alarms: dict[str, list[str]]) -> str:
    """A Mermaid flowchart of every failure path of one function."""
    chart = _Chart()
    function_node = chart.node("function", function.logical_id, f"λ {function.path}")
    for alarm in function.alarms:
        chart.edge(function_node, chart.node("alarm", alarm, f"alarm {alarm}", "alarm"), dotted=True)
    for index, path in enumerate(function.paths):
        trigger = chart.node("trigger", path.trigger_id or f"{path.trigger}#{index}", path.trigger)
        chart.edge(trigger, function_node)
        if path.failure_from_source:
            origin, label = trigger, f"a message fails: {path.handling}"
        else:
            origin, label = function_node, f"fails: {path.handling}"
        if path.on_failure:
            home = chart.node("home", path.on_failure_id or path.on_failure, path.on_failure)
            chart.edge(origin, home, label)
            watched = alarms.get(path.on_failure_id or "", [])
            for alarm in watched:
                chart.edge(home, chart.node("alarm", alarm, f"alarm {alarm}", "alarm"), dotted=True)
            if not watched and path.on_failure_id:
                chart.edge(home, chart.node("alarm", f"none#{home}", "no alarm on it", "noalarm"), dotted=True)
        else:
            lost = "records dropped" if not path.trigger.startswith("asynchronous") else "events dropped"
            chart.edge(origin, chart.node("lost", f"lost#{index}", lost, "lost"), label)
        if path.on_success:
            chart.edge(function_node, chart.node("success", path.on_success, path.on_success), "succeeds")
    return chart.text()


def _function_rows(report: TemplateReport) -> list[str]:
    rows = [
        "| function | triggered by | on failure | handling | findings |",
        "|---|---|---|---|---|",
    ]
    for function in report.functions:
        count = sum(finding.resource in function.related for finding in report.findings)
        if not function.paths:
            rows.append(f"| {_cell(function.path)} | nothing in this template | — | — | {count or ''} |")
        for path in function.paths:
            on_failure = path.on_failure or "**dropped**"
            rows.append(
                f"| {_cell(function.path)} | {_cell(path.trigger)} | {_cell(on_failure)} | {_cell(path.handling)} "
                f"| {count or ''} |"
            )
    return rows


def render_markdown(reports: Sequence[TemplateReport], problems: Sequence[str] = (), skipped: int = 0) -> str:
    errors, warnings = _totals(reports)
    lines = [
        "# Failure handling audit",
        "",
        f"{len(reports)} template(s): **{errors} error(s), {warnings} warning(s)**"
        + (f", {skipped} file(s) that are not templates skipped" if skipped else "")
        + (f", **{len(problems)} input(s) could not be read**" if problems else ""),
        "",
    ]
    if problems:
        lines += ["## Not read", ""] + [f"- {_cell(problem)}" for problem in problems] + [""]
    for report in reports:
        lines += [f"## {_cell(_title(report))}", ""]
        lines += [f"_{_cell(note)}_" for note in report.notes] + ([""] if report.notes else [])
        if not report.functions:
            lines += ["No Lambda functions.", ""]
        else:
            lines += [*_function_rows(report), ""]
        if report.findings:
            lines += ["| level | rule | resource | finding |", "|---|---|---|---|"]
            for finding in report.findings:
                resource = report.names.get(finding.resource, finding.resource)
                level = "**error**" if finding.level is Level.ERROR else "warning"
                lines.append(
                    f"| {level} | `{finding.rule_id}` | {_cell(resource)} | {_cell(finding.message)}. "
                    f"Fix: {_cell(RULES[finding.rule_id].fix)} |"
                )
            lines.append("")
        for function in report.functions:
            if function.paths or function.alarms:
                lines += [
                    f"### {_cell(function.path)}",
                    "",
                    "```mermaid",
                    flowchart(function, report.alarms),
                    "```",
                    "",
                ]
    return "\n".join(lines).rstrip() + "\n"


MERMAID_BLOCK = re.compile(r"^```mermaid\n(.*?)\n```$", re.MULTILINE | re.DOTALL)


def mermaid_blocks(markdown: str) -> list[str]:
    """The Mermaid diagrams of a Markdown text."""
    return MERMAID_BLOCK.findall(markdown)
