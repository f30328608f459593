"""Mermaid diagrams checked by Mermaid's own parser (npm `mermaid` on jsdom, run on the project's Node 22)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

from tests.harness.app import PROJECT_ROOT

NODE = PROJECT_ROOT / "node_modules" / ".bin" / "node"
SCRIPT = PROJECT_ROOT / "tests" / "harness" / "mermaid_parse.mjs"


@dataclass(frozen=True)
class MermaidResult:
    ok: bool
    diagram_type: str | None
    error: str | None


def parse_mermaid(diagrams: list[str]) -> list[MermaidResult]:
    """One result per diagram: its type when Mermaid parses it, else the parser's error."""
    completed = subprocess.run(
        [str(NODE), str(SCRIPT)],
        input=json.dumps(diagrams),
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the Mermaid parser did not run: {completed.stderr.strip()[-2000:]}")
    return [MermaidResult(r["ok"], r.get("type"), r.get("error")) for r in json.loads(completed.stdout)]
