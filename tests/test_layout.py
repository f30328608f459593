"""The README's layout section names every module and folder there is, and nothing that is gone."""

import re
import subprocess

from tests.harness import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()
LAYOUT = README[README.index("## Layout\n") :].split("```")[1]
PACKAGE = PROJECT_ROOT / "constructs_lib"


def _tracked() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    return listed.stdout.split()


def test_every_module_and_package_of_the_library_is_in_the_layout():
    names = {path.name for path in PACKAGE.glob("*.py") if path.name != "__init__.py"}
    names |= {f"{path.name}/" for path in PACKAGE.iterdir() if path.is_dir() and (path / "__init__.py").exists()}
    names |= {f"{path.stem}.py" for path in (PACKAGE / "checks").glob("*.py") if path.name != "__init__.py"}
    missing = sorted(name for name in names if not re.search(rf"(?<![\w/]){re.escape(name)}", LAYOUT))
    assert missing == []


def test_every_top_level_folder_and_tests_folder_is_in_the_layout():
    tracked = _tracked()
    folders = {f"{path.split('/')[0]}/" for path in tracked if "/" in path}
    folders |= {f"{path.split('/')[1]}/" for path in tracked if path.startswith("tests/") and path.count("/") >= 2}
    assert sorted(folder for folder in folders if folder not in LAYOUT) == []


def test_every_module_the_layout_names_exists():
    named = set(re.findall(r"\b(\w+\.py)\b", LAYOUT))
    existing = {path.name for path in PROJECT_ROOT.rglob("*.py") if ".venv" not in path.parts}
    assert sorted(named - existing) == []
