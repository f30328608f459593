"""Every Python example in the README runs as written, and prints what the README shows after it."""

import contextlib
import io
import re

import pytest

from tests.harness import PROJECT_ROOT

# A python block, optionally followed by a plain block holding the output it prints.
EXAMPLE = re.compile(r"```python\n(?P<code>.*?)```(?:\n\n```\n(?P<output>.*?)```)?", flags=re.DOTALL)
EXAMPLES = [(m["code"], m["output"]) for m in EXAMPLE.finditer((PROJECT_ROOT / "README.md").read_text())]


def test_the_readme_has_examples():
    assert len(EXAMPLES) >= 2
    assert any(output for _, output in EXAMPLES)


@pytest.mark.parametrize(("code", "output"), EXAMPLES, ids=[f"example-{n}" for n in range(1, len(EXAMPLES) + 1)])
def test_readme_example_runs(code, output, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # any cdk.out an example writes stays out of the project
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})
    if output is not None:
        assert printed.getvalue() == output
