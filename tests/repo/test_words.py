"""One word per concept (docs/glossary.md) on every public surface: the Python API, the CLI, the
fix keywords, the ASE monitor and the OVITO modifier."""

from __future__ import annotations

import importlib
import inspect

import click

from lammps_quests.cli import main

PACKAGES = ["lammps_quests", "lammps_quests.core", "lammps_quests.formats", "lammps_quests.dh",
            "lammps_quests.analysis", "lammps_quests.active", "lammps_quests.monitor", "lammps_quests.ase",
            "lammps_quests.lammps", "lammps_quests.render"]
#: words the glossary replaced, with the word that names the concept now
RETIRED = {"h": "bandwidth", "tol": "fast (or tolerance for the mixed kernel)", "fast_tol": "fast",
           "fast_decide": "decide", "species": "elements (ordered) or symbols (per atom)",
           "species_names": "elements", "index": "fast_index or ann_index (index: frame slices only)"}
#: functions whose ``index`` is the frame slice of ASE (the convention users know)
FRAME_SLICES = {"read_dataset", "read_datasets", "read_frames"}


def _callables(obj, name):
    if inspect.isclass(obj):
        yield name, obj
        for attribute, member in vars(obj).items():
            function = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
            if not attribute.startswith("_") and inspect.isfunction(function):
                yield f"{name}.{attribute}", function
    elif callable(obj):
        yield name, obj


def _public_names():
    for package in PACKAGES:
        module = importlib.import_module(package)
        names = getattr(module, "__all__", None)
        if names is None:  # a package without __all__: its names that are not modules
            names = [n for n in dir(module) if not n.startswith("_") and not inspect.ismodule(getattr(module, n))]
        for name in names:
            yield package, name, getattr(module, name)


def test_no_public_parameter_or_field_uses_a_retired_word():
    found = []
    for package, name, obj in _public_names():
        for label, function in _callables(obj, name):
            try:
                parameters = inspect.signature(function).parameters
            except (TypeError, ValueError):
                continue
            for parameter in parameters:
                if parameter in RETIRED and not (parameter == "index" and label in FRAME_SLICES):
                    found.append(f"{package}.{label}({parameter}=): use {RETIRED[parameter]}")
        for field in getattr(obj, "__dataclass_fields__", {}):
            if field in RETIRED:
                found.append(f"{package}.{name}.{field}: use {RETIRED[field]}")
    assert not found, "\n".join(found)


def test_the_fast_index_and_the_approximate_index_have_their_own_words():
    import lammps_quests as lq
    from lammps_quests.analysis import approx_delta_entropy
    from lammps_quests.dh import ReferenceDh

    assert "fast_index" in inspect.signature(lq.delta_entropy_fast).parameters
    assert "ann_index" in inspect.signature(approx_delta_entropy).parameters
    assert "fast_index" in inspect.signature(ReferenceDh).parameters


def _options(command, path=()):
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _options(sub, path + (name,))
        return
    for parameter in command.params:
        if isinstance(parameter, click.Option):
            yield " ".join(path), parameter


def test_cli_options_use_the_same_words():
    options = {(path, flag): parameter for path, parameter in _options(main) for flag in parameter.opts}
    flags = {flag for _, flag in options}
    assert not flags & {"--species", "--tol", "--index-file", "-h"}
    assert {"--elements", "--bandwidth", "--fast", "--decide", "--ann-index-file"} <= flags
    fast = options[("dh", "--fast")]
    assert not fast.is_flag and fast.type is click.FLOAT  # --fast TOL: the tolerance in nats, as the fix
    assert options[("dh", "--decide")].is_flag


def test_fix_keywords_ase_and_ovito_share_the_option_words():
    from lammps_quests.ase import QuestsMonitor
    from lammps_quests.lammps._keywords import PARSERS
    from lammps_quests.monitor import MonitorOptions

    shared = {"bandwidth", "threshold", "k", "cutoff", "fast", "decide"}
    assert shared <= set(MonitorOptions.__dataclass_fields__)
    assert shared <= set(inspect.signature(QuestsMonitor).parameters)
    assert shared - {"decide"} <= set(PARSERS) and "elements" in PARSERS  # decide: after fast TOL
    try:
        from lammps_quests.ovito import QuestsModifier
    except ImportError:  # the OVITO tests require OVITO; this checks the other hosts without it
        return
    assert shared <= set(QuestsModifier.class_visible_traits())


def test_benchmark_flags_use_the_same_words():
    """The benchmarks' own command-line flags (argparse) avoid the retired words too."""
    import ast
    from pathlib import Path

    benchmarks = Path(__file__).resolve().parents[2] / "benchmarks"
    flags = {}
    for path in sorted(benchmarks.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and str(arg.value).startswith("-"):
                        flags[arg.value] = path.name
    assert "--fast" in flags and "--sizes" in flags  # the walk finds the flags
    retired = {flag: name for flag, name in flags.items() if flag.lstrip("-").replace("-", "_") in RETIRED}
    assert not retired, retired
