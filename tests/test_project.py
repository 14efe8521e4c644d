"""The project's own files: anaconda-project.yml, run.sh, constraints and CLI start-up."""

import re
import shlex
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _constraints():
    """Direct dependencies pinned in constraints.txt (the lines before the transitive ones)."""
    text = (ROOT / "constraints.txt").read_text().split("# What they pull in")[0]
    pins = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


@pytest.fixture(scope="module")
def project():
    return yaml.safe_load((ROOT / "anaconda-project.yml").read_text())


class TestAnacondaProject:
    def test_has_the_four_commands(self, project):
        assert {"demo", "dashboard", "train", "test"} <= set(project["commands"])

    def test_every_command_names_something_that_exists(self, project):
        scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
        for name, command in project["commands"].items():
            for part in re.split(r"&&", command["unix"]):
                words = shlex.split(part)
                program = words[0]
                assert program in scripts or (Path(sys.executable).parent / program).exists(), (
                    f"command {name!r} runs {program!r}, which is not installed"
                )
                files = [w for w in words[1:] if w.endswith(".py")]
                assert all((ROOT / f).is_file() for f in files), f"{name}: {files} missing"

    def test_galcore_commands_parse(self, project):
        from galcore.cli.main import build_parser

        parser = build_parser()
        for command in project["commands"].values():
            for part in re.split(r"&&", command["unix"]):
                words = shlex.split(part)
                if words[0] == "galcore":
                    assert parser.parse_args(words[1:]).func

    def test_every_dependency_is_pinned(self):
        metadata = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
        wanted = metadata["dependencies"] + metadata["optional-dependencies"]["test"]
        names = {re.split(r"[<>=\[]", requirement)[0].lower() for requirement in wanted}
        assert names <= set(_constraints())

    def test_packages_match_the_constraints(self, project):
        pip = next(p["pip"] for p in project["packages"] if isinstance(p, dict))
        pinned = dict(p.lower().split("==") for p in pip if "==" in p)
        assert pinned == {k: v for k, v in _constraints().items() if k != "horovod"}
        assert (
            "horovod==" + _constraints()["horovod"] in project["commands"]["setup-horovod"]["unix"]
        )


class TestStartUp:
    def test_help_answers_fast_without_heavy_imports(self):
        code = (
            "import sys, time; t = time.perf_counter();"
            "from galcore.cli.main import build_parser; build_parser().format_help();"
            "print(time.perf_counter() - t);"
            "print(sorted(m for m in ('tensorflow', 'horovod', 'panel', 'astropy', 'zarr')"
            " if m in sys.modules))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        seconds, heavy = out.stdout.splitlines()
        assert heavy == "[]"
        assert float(seconds) < 2.0

    def test_galcore_without_a_command_prints_help_and_fails(self):
        galcore = Path(sys.executable).parent / "galcore"
        began = time.perf_counter()
        result = subprocess.run([galcore], capture_output=True, text=True, check=False)
        assert time.perf_counter() - began < 5
        assert result.returncode == 1
        assert "curate" in result.stdout
        assert "train" in result.stdout

    def test_ci_runs_the_readme_test_command(self):
        readme = (ROOT / "README.md").read_text()
        ci = (ROOT / ".ci" / "run").read_text()
        assert "./run.sh test" in readme
        assert "./run.sh demo" in readme
        assert ci.strip().endswith("./run.sh test")
