"""pyproject.toml and environment.yml must offer the same packages."""

import re
import tomllib
from pathlib import Path

import yaml

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


def pyproject_names() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return {name_of(r) for r in requirements}


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
