"""dvc.yaml declares, for every stage, exactly the shared modules its script imports (and the files they read exist)."""
import ast
from pathlib import Path

import yaml

from conftest import ROOT

PACKAGE = "mnist_pipeline"


def imported_modules(path, seen=None):
    """Files of the package imported by `path`, directly or through other package modules."""
    seen = set() if seen is None else seen
    for node in ast.walk(ast.parse(Path(path).read_text())):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
        names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module == PACKAGE:
            names += [f"{PACKAGE}.{alias.name}" for alias in node.names]
        for file in [file for name in names if name.startswith(PACKAGE + ".") for file in module_files(name)]:
            if file not in seen:
                seen.add(file)
                imported_modules(file, seen)
    return seen


def module_files(name):
    """The files of the package that importing module `name` runs: each enclosing package's __init__.py, its own."""
    parts = name.split(".")
    files = [ROOT.joinpath(*parts[:end], "__init__.py") for end in range(2, len(parts) + 1)]
    return [file for file in [*files, ROOT.joinpath(*parts[:-1], f"{parts[-1]}.py")] if file.is_file()]


def test_each_stage_depends_on_its_script_and_the_modules_it_imports():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        script = f"stages/{name}.py"
        assert stage["cmd"] == f"python -m stages.{name}"
        deps = {d for d in stage["deps"] if d.startswith(f"{PACKAGE}/") and d.endswith(".py")}
        assert all((ROOT / d).exists() for d in stage["deps"] if d.startswith(f"{PACKAGE}/")), name  # templates, ...
        expected = {str(f.relative_to(ROOT)) for f in imported_modules(ROOT / script)} | {f"{PACKAGE}/__init__.py"}
        assert script in stage["deps"], name
        assert deps == expected, f"{name}: missing {sorted(expected - deps)}, extra {sorted(deps - expected)}"
