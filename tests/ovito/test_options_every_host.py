"""One options record for every host: the same bad value gives the same error class and message
from the fix keywords, the ASE monitor and the OVITO modifier; the statistics every host reports
are named after the one table, QUANTITIES."""

from __future__ import annotations

import numpy as np
import pytest

try:
    import ovito  # noqa: F401
except ImportError:
    pytest.fail('the OVITO modifier tests need OVITO: pip install ".[test]"', pytrace=False)

from crystals import thermal_fcc  # noqa: E402
from ovito_support import cu_triclinic, pipeline_with, write_xyz  # noqa: E402

from lammps_quests.monitor._monitor import QUANTITIES, Statistics  # noqa: E402
from lammps_quests.formats._reference import Reference  # noqa: E402

#: (fix keyword words, the same value as a keyword argument of the ASE monitor and the modifier)
BAD = [
    (["bandwidth", "-0.01"], {"bandwidth": -0.01}),
    (["bandwidth", "50"], {"bandwidth": 50.0}),
    (["fast", "2"], {"fast": 2.0}),
    (["fast", "-1e-6"], {"fast": -1e-6}),
    (["threshold", "inf"], {"threshold": float("inf")}),
    (["k", "1"], {"k": 1}),
    (["cutoff", "-5"], {"cutoff": -5.0}),
]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    directory = tmp_path_factory.mktemp("options")
    frames = [thermal_fcc(0.05, (2, 2, 2), seed=s) for s in range(2)]
    reference = Reference.build(frames, k=8, cutoff=4.0)
    path = reference.save(directory / "cu.qref")
    return reference, path, write_xyz(directory / "cu.xyz", [cu_triclinic(2)]), frames[0]


def _error(call):
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the class is what is compared
        return type(error), str(error)
    return None


def _fix(words):
    from lammps_quests.lammps._keywords import parse_keywords

    return _error(lambda: parse_keywords(words))


def _ase(reference, atoms, values):
    from lammps_quests.ase import QuestsMonitor

    return _error(lambda: QuestsMonitor(atoms.copy(), reference, **values))


def _ovito(path, xyz, values):
    pipeline, _ = pipeline_with(xyz, reference=str(path), **values)
    return _error(lambda: pipeline.compute(0))


@pytest.mark.parametrize("words, values", BAD, ids=[" ".join(words) for words, _ in BAD])
def test_same_bad_value_same_error_on_every_host(small, words, values):
    from lammps_quests.errors import OptionError

    reference, path, xyz, atoms = small
    fix, ase, modifier = _fix(words), _ase(reference, atoms, values), _ovito(path, xyz, values)
    assert fix is not None and fix[0] is OptionError, fix
    assert ase == fix
    assert modifier == fix


def test_statistics_names_come_from_quantities(small):
    """OVITO's global attributes, the ASE Evaluation's fields and the python/invoke variables are
    the QUANTITIES table's names, and OVITO's values are the monitor core's statistics."""
    from lammps_quests.ase._monitor import Evaluation
    from lammps_quests.lammps._invoke import SUFFIXES
    from lammps_quests.ovito._compute import attribute

    reference, path, xyz, _ = small
    pipeline, _ = pipeline_with(xyz, reference=str(path), threshold=-3.0)
    data = pipeline.compute(0)
    values = np.asarray(data.particles["dH"][...])
    names = [attribute(q) for q in QUANTITIES]
    assert names == [f"QUESTS.{q.suffix}" for q in QUANTITIES]
    assert sorted(name for name in data.attributes if name.startswith("QUESTS.")) == sorted(names)
    expected = Statistics.of(values, -3.0).values
    assert [data.attributes[name] for name in names] == pytest.approx(expected, rel=1e-12)
    assert 0 < data.attributes["QUESTS.count"] <= len(values)
    fields = list(Evaluation.__dataclass_fields__)
    assert [q.field for q in QUANTITIES] == [name for name in fields if name in {q.field for q in QUANTITIES}]
    assert SUFFIXES == tuple(q.suffix for q in QUANTITIES)
