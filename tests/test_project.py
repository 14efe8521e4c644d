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
        assert "./run.sh test" in ci.splitlines()


def _check_horovod_gloo(horovodrun: Path | str) -> subprocess.CompletedProcess:
    """Run run.sh's own Horovod check, sourced the way `./run.sh setup` calls it."""
    script = f'source {shlex.quote(str(ROOT / "run.sh"))} && check_horovod_gloo "$1"'
    command = ["/bin/bash", "-c", script, "check", str(horovodrun)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def _fake_horovodrun(folder: Path, report: str, status: int = 0) -> Path:
    """Write an executable that prints `report` (a megabyte of it) for --check-build."""
    path = folder / "horovodrun"
    (folder / "report.txt").write_text(report + "\n" + "Available Tensor Operations:\n" * 40_000)
    path.write_text(f"#!/bin/sh\ncat {shlex.quote(str(folder / 'report.txt'))}\nexit {status}\n")
    path.chmod(0o755)
    return path


GLOO_REPORT = """Horovod v0.28.1:

Available Frameworks:
    [X] TensorFlow

Available Controllers:
    [ ] MPI
    [{}] Gloo"""


def _run_sh(function: str, *args: str, path: str = "/usr/bin:/bin") -> subprocess.CompletedProcess:
    """Call one of run.sh's functions, sourced the way `./run.sh setup` calls it."""
    script = f'source {shlex.quote(str(ROOT / "run.sh"))} && "$@"'
    command = ["/bin/bash", "-c", script, "run.sh", function, *args]
    environment = {"PATH": path}
    return subprocess.run(command, capture_output=True, text=True, check=False, env=environment)


class TestSetUpForGpus:
    def test_tensorflow_is_the_pinned_version_in_either_build(self):
        pinned = next(
            line.split("==")[1]
            for line in (ROOT / "constraints.txt").read_text().splitlines()
            if line.startswith("tensorflow-cpu==")
        )
        assert (
            _run_sh("tensorflow_requirement", "cpu").stdout.strip() == f"tensorflow-cpu=={pinned}"
        )
        gpu = _run_sh("tensorflow_requirement", "gpu").stdout.strip()
        assert gpu == f"tensorflow[and-cuda]=={pinned}"

    def test_horovod_on_the_cpu_is_built_with_gloo_only(self):
        settings = _run_sh("horovod_build_settings", "cpu", "/site").stdout.splitlines()
        assert "HOROVOD_WITH_GLOO=1" in settings
        assert not any(line.startswith("HOROVOD_GPU") for line in settings)

    def test_horovod_for_gpus_uses_nccl_where_nvcc_is(self, tmp_path):
        nvcc = tmp_path / "cuda" / "bin" / "nvcc"
        nvcc.parent.mkdir(parents=True)
        nvcc.write_text("#!/bin/sh\n")
        nvcc.chmod(0o755)
        result = _run_sh("horovod_build_settings", "gpu", "/site", path=f"{nvcc.parent}:/usr/bin")
        settings = result.stdout.splitlines()
        assert "HOROVOD_WITH_GLOO=1" in settings
        assert "HOROVOD_GPU_OPERATIONS=NCCL" in settings
        assert f"HOROVOD_CUDA_HOME={tmp_path / 'cuda'}" in settings
        assert "HOROVOD_NCCL_HOME=/site/nvidia/nccl" in settings

    def test_horovod_for_gpus_without_nvcc_says_so(self):
        result = _run_sh("horovod_build_settings", "gpu", "/site")
        assert "HOROVOD_WITH_GLOO=1" in result.stdout.splitlines()
        assert "HOROVOD_GPU_OPERATIONS" not in result.stdout
        assert "no nvcc on PATH" in result.stderr

    def test_setup_refuses_an_unknown_option(self):
        result = _run_sh("setup", "--tpu")
        assert result.returncode == 2
        assert "usage: ./run.sh setup [--gpu | --cpu]" in result.stderr


class TestSetUpHorovodCheck:
    def test_passes_for_a_gloo_build_however_long_the_report(self, tmp_path):
        # A reader that stops at the first match (grep -q) would kill this writer with SIGPIPE.
        horovodrun = _fake_horovodrun(tmp_path, GLOO_REPORT.format("X"))
        for _ in range(5):
            result = _check_horovod_gloo(horovodrun)
            assert result.returncode == 0, result.stderr

    def test_fails_clearly_without_gloo(self, tmp_path):
        result = _check_horovod_gloo(_fake_horovodrun(tmp_path, GLOO_REPORT.format(" ")))
        assert result.returncode == 1
        assert "Horovod was built without Gloo" in result.stderr
        assert "./run.sh setup" in result.stderr

    def test_fails_clearly_when_the_check_itself_fails(self, tmp_path):
        result = _check_horovod_gloo(_fake_horovodrun(tmp_path, GLOO_REPORT.format("X"), 3))
        assert result.returncode == 1
        assert "--check-build' failed" in result.stderr

    @pytest.mark.distributed
    def test_the_installed_horovod_passes_every_time(self):
        # The fake report above makes the old race certain; a few real runs show the real build.
        horovodrun = Path(sys.executable).parent / "horovodrun"
        for _ in range(3):
            result = _check_horovod_gloo(horovodrun)
            assert result.returncode == 0, result.stderr

    def test_no_pipeline_in_run_sh_ends_in_an_early_reader(self):
        script = (ROOT / "run.sh").read_text()
        pipes = re.findall(r"\|\s*(grep\s+-\w*q|head|sed\s+-n\s*\S*q)", script)
        assert pipes == []
