"""pyproject.toml and environment.yml must offer the same packages."""

import re
import sys
from pathlib import Path

import yaml
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI (declared in the test extra)
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
# conda-forge and PyPI names that differ, and packages that are conda's own plumbing.
CONDA_ONLY = {"python", "pip"}
SAME_PACKAGE = {"tensorflow-cpu": "tensorflow"}


def name_of(requirement: str) -> str:
    name = (
        re.match(r"\s*([A-Za-z0-9_.\-]+)", requirement)
        .group(1)
        .lower()
        .replace("_", "-")
    )
    return SAME_PACKAGE.get(name, name)


def conda_python() -> str:
    """The Python version environment.yml asks for, e.g. "3.11"."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = [
        d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")
    ]
    return re.search(r"(\d+\.\d+)", pins[0]).group(1)


def applies_to_conda(requirement: str) -> bool:
    """Whether a requirement's marker holds for the conda environment's Python.

    Only the Python version is the conda file's own; the platform is fixed (Linux
    x86_64, as on Binder) so that the answer is the same on every machine, and both
    TensorFlow lines count (SAME_PACKAGE maps tensorflow-cpu to tensorflow).
    """
    marker = Requirement(requirement).marker
    if marker is None:
        return True
    version = conda_python()
    return marker.evaluate(
        {
            "python_version": version,
            "python_full_version": version + ".0",
            "sys_platform": "linux",
            "platform_system": "Linux",
            "platform_machine": "x86_64",
            "os_name": "posix",
        }
    ) or "python_version" not in str(marker)


def pyproject_names() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return {name_of(r) for r in requirements if applies_to_conda(r)}


def environment_names() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = set()
    for dependency in env["dependencies"]:
        if isinstance(dependency, dict):
            names |= {name_of(r) for r in dependency["pip"] if not r.startswith("-e")}
        else:
            names.add(name_of(dependency))
    return names - CONDA_ONLY


def test_environment_yml_matches_pyproject():
    ours, conda = pyproject_names(), environment_names()
    assert conda == ours, (
        f"only in pyproject.toml: {sorted(ours - conda)}; only in environment.yml: {sorted(conda - ours)}"
    )


def test_lower_bounds_agree():
    """Where both files pin a lower bound, it is the same bound."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    py = {
        name_of(r): re.search(r">=\s*([\w.]+)", r)
        for r in project["dependencies"]
        + sum(project["optional-dependencies"].values(), [])
    }
    env = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    pip = next(d["pip"] for d in env if isinstance(d, dict))
    flat = [d for d in env if isinstance(d, str)] + [
        r for r in pip if not r.startswith("-e")
    ]
    for requirement in flat:
        name = name_of(requirement)
        ours, theirs = py.get(name), re.search(r">=\s*([\w.]+)", requirement)
        if ours and theirs:
            assert ours.group(1) == theirs.group(1), (
                f"{name}: >={ours.group(1)} vs >={theirs.group(1)}"
            )


def test_environment_yml_installs_the_package():
    """Binder and conda users get cnnguide itself, not only its dependencies."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip


def lock_pins() -> dict[str, list[Requirement]]:
    """constraints.txt (``make lock``): every pin, by package name."""
    pins: dict[str, list[Requirement]] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            pin = Requirement(line)
            pins.setdefault(pin.name.lower().replace("_", "-"), []).append(pin)
    return pins


def test_lock_pins_every_requirement_within_its_bounds():
    """The lock is in step with pyproject.toml: run `make lock` after changing it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = lock_pins()
    for text in project["dependencies"] + sum(
        project["optional-dependencies"].values(), []
    ):
        requirement = Requirement(text)
        name = requirement.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not in constraints.txt; run `make lock`"
        for pin in pins[name]:
            (version,) = [s.version for s in pin.specifier]
            assert requirement.specifier.contains(version, prereleases=True), (
                f"constraints.txt pins {name}=={version}, outside {text!r}; "
                "run `make lock`"
            )


def test_lock_keeps_the_platform_markers():
    """A universal lock: macOS and Windows get tensorflow, Linux x86_64 tensorflow-cpu."""
    pins = lock_pins()
    linux = {"sys_platform": "linux", "platform_machine": "x86_64"}
    for platform, machine, wanted, other in [
        ("linux", "x86_64", "tensorflow-cpu", "tensorflow"),
        ("darwin", "arm64", "tensorflow", "tensorflow-cpu"),
        ("win32", "AMD64", "tensorflow", "tensorflow-cpu"),
    ]:
        env = {**linux, "sys_platform": platform, "platform_machine": machine}
        assert any(p.marker is None or p.marker.evaluate(env) for p in pins[wanted])
        assert not any(p.marker is None or p.marker.evaluate(env) for p in pins[other])
