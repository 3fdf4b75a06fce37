"""The contract between the C++ fix and its Python side, checked without compiling or starting LAMMPS.

src/python_bridge.cpp calls five functions of lammps_quests.lammps.bridge: it builds their
arguments with ``Py_BuildValue`` and reads their results with ``PyArg_ParseTuple``,
``to_doubles`` or ``text_of``. The format strings are read here from the .cpp itself, the
Python functions are driven with a fake LAMMPS handle (:class:`FakeLammps`: one MPI rank holding
a small box, with the methods of the ``lammps`` module that the Python side uses), and every
returned value must have the type and shape the C++ side parses. A tuple that gains or loses an
entry on either side, or a type that changes, fails here rather than at the first LAMMPS run.
"""

from __future__ import annotations

import ctypes
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from crystals import thermal_fcc, thermal_inp
from lammps_quests.formats.reference import Reference

BRIDGE = Path(__file__).resolve().parents[2] / "src" / "python_bridge.cpp"
FUNCTIONS = ("open_fix", "evaluate", "finish", "report", "close_fix")
CUTOFF = 5.0  # Å, the reference's descriptor cutoff; ghosts reach this far beyond the box


# ---- the C++ side: format strings read from src/python_bridge.cpp -------------------------------

@dataclass
class BridgeCall:
    """One call from C++ into the session module, as src/python_bridge.cpp makes it."""

    name: str  # the Python function called
    arguments: list[str]  # after the capsule: "str", "int", "list[str]", "list[float]"
    result: str | list[str] | None  # "floats", "str", a tuple's units ["int", "float", ...], None


_BUILD_UNITS = {"s": "str", "i": "int", "L": "int"}
_PARSE_UNITS = {"i": "int", "d": "float", "U": "str", "O": "object"}
_CPP_ELEMENT = {"std::string": "str", "double": "float"}


def _parameter_types(signature: str) -> dict[str, str]:
    return {name: kind for kind, name in re.findall(r"(?:const )?([\w:<>]+) &?(\w+)", signature)}


def _call_arguments(text: str, function: str) -> list[str]:
    """The top-level comma-separated arguments of the first call ``function(...)`` in ``text``."""
    start = text.index(function + "(") + len(function) + 1
    arguments, depth, current = [], 0, ""
    for char in text[start:]:
        if char == ")" and depth == 0:
            return arguments + [current.strip()]
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            arguments.append(current.strip())
            current = ""
        else:
            current += char
    raise AssertionError(f"unbalanced {function}(")


def _build_arguments(body: str, parameters: dict[str, str]) -> list[str]:
    assert "Py_BuildValue(" in body, "a bridge call without Py_BuildValue"
    format_, *values = _call_arguments(body, "Py_BuildValue")
    units = re.fullmatch(r'"\((\w*)\)"', format_).group(1)
    assert len(units) == len(values), f"format ({units}) and arguments {values} differ in number"
    arguments = []
    for unit, value in zip(units, values):
        if unit == "N":  # to_list(X): a new list of X's elements
            source = re.fullmatch(r"to_list\((\w+)\)", value).group(1)
            element = re.fullmatch(r"std::vector<([\w:]+)>", parameters[source]).group(1)
            arguments.append(f"list[{_CPP_ELEMENT[element]}]")
        else:
            assert unit in _BUILD_UNITS, f"Py_BuildValue unit {unit!r}: teach this test its Python type"
            arguments.append(_BUILD_UNITS[unit])
    return arguments


def _result(body: str):
    if "PyArg_ParseTuple(" in body:
        source, format_, *targets = _call_arguments(body, "PyArg_ParseTuple")
        assert source == "result", f"PyArg_ParseTuple of {source}, not of the call's result"
        units = re.fullmatch(r'"(\w+)"', format_).group(1)
        targets = [t.lstrip("&") for t in targets]
        assert len(units) == len(targets), f"format {units} and targets {targets} differ in number"
        kinds = []
        for unit, target in zip(units, targets):
            assert unit in _PARSE_UNITS, f"PyArg_ParseTuple unit {unit!r}: teach this test its Python type"
            kind = _PARSE_UNITS[unit]
            if kind == "object" and f"to_doubles({target}," in body:
                kind = "floats"
            kinds.append(kind)
        return kinds
    if "to_doubles(result," in body:
        return "floats"
    if "text_of(result)" in body:
        return "str"
    # the result is dropped (close_fix): created and released, read nowhere
    assert body.count("result") == 2 and "Py_XDECREF(result)" in body, "teach this test how the result is read"
    return None


def bridge_calls() -> dict[str, BridgeCall]:
    """The calls of namespace QuestsPython in src/python_bridge.cpp, by Python function name."""
    text = BRIDGE.read_text()
    text = text[text.index("namespace QuestsPython {"):]
    calls = {}
    for match in re.finditer(r"^(?:std::string|void) \w+\((.*?)\)\n\{\n(.*?)^\}", text, re.S | re.M):
        signature, body = match.groups()
        name = re.search(r'call_bridge\(lmp, "(\w+)"', body).group(1)
        calls[name] = BridgeCall(name, _build_arguments(body, _parameter_types(signature)), _result(body))
    return calls


def conforms(value, kind: str) -> bool:
    """Whether the C++ side reads ``value`` as ``kind`` (as lenient as CPython's converters)."""
    if kind == "int":  # "i", "L": an integer or anything with __index__, never a float
        return isinstance(value, (int, np.integer))
    if kind == "float":  # "d": PyFloat_AsDouble, which takes ints and NumPy numbers too
        return isinstance(value, (float, int, np.floating, np.integer))
    if kind == "str":  # "U", text_of: a str (text_of reads anything else as "")
        return isinstance(value, str)
    if kind == "floats":  # to_doubles: PySequence_Fast, then PyFloat_AsDouble of every item
        return isinstance(value, (list, tuple, np.ndarray)) and all(conforms(v, "float") for v in value)
    if kind.startswith("list["):
        return isinstance(value, list) and all(conforms(v, kind[5:-1]) for v in value)
    raise AssertionError(f"unknown kind {kind}")


def check_result(call: BridgeCall, value) -> None:
    """Fail unless ``value`` parses the way src/python_bridge.cpp parses ``call``'s result."""
    if call.result is None:
        return
    if isinstance(call.result, list):  # PyArg_ParseTuple accepts a tuple only, of this length
        assert type(value) is tuple, f"{call.name} returned {type(value).__name__}, the C++ side parses a tuple"
        assert len(value) == len(call.result), \
            f"{call.name} returned {len(value)} values, the C++ side parses {len(call.result)} ({call.result})"
        for i, (item, kind) in enumerate(zip(value, call.result)):
            assert conforms(item, kind), f"{call.name}[{i}] = {item!r} is not the {kind} the C++ side parses"
    else:
        assert conforms(value, call.result), f"{call.name} returned {value!r}, the C++ side reads {call.result}"


# ---- the LAMMPS side, faked -----------------------------------------------------------------------

class Box:
    """The atoms of an orthogonal periodic box, split over ``size`` MPI ranks in slabs along x.

    Groups: ``all`` (bit 1), ``hot`` (bit 2, the first half of the atoms by id), ``nobody``
    (bit 4, no atom). ``ranks`` holds one :class:`FakeLammps` per rank.
    """

    def __init__(self, atoms, type_of_symbol: dict[str, int], masses: dict[int, float], size: int = 1):
        self.cell = np.asarray(atoms.cell)
        assert np.allclose(self.cell, np.diag(np.diag(self.cell))), "the fake box is orthogonal"
        self.positions = atoms.get_positions(wrap=True)
        n = len(atoms)
        self.id = np.arange(1, n + 1, dtype=np.int32)
        self.type = np.array([type_of_symbol[s] for s in atoms.get_chemical_symbols()], dtype=np.int32)
        self.mask = np.where(np.arange(n) < n // 2, 3, 1).astype(np.int32)
        self.ntypes = max(type_of_symbol.values())
        self.mass = np.zeros(self.ntypes + 1)
        for t, m in masses.items():
            self.mass[t] = m
        lengths = np.diag(self.cell)
        self.rank_of = np.minimum((self.positions[:, 0] / lengths[0] * size).astype(int), size - 1)
        self.size = size
        self.ranks = [FakeLammps(self, rank) for rank in range(size)]

    def images(self):
        """Periodic copies of the atoms within CUTOFF Å of the box: positions and atom indices."""
        lengths = np.diag(self.cell)
        positions, atoms = [], []
        for shift in np.ndindex(3, 3, 3):
            if shift == (1, 1, 1):
                continue
            moved = self.positions + (np.array(shift) - 1) @ self.cell
            near = np.all((moved > -CUTOFF) & (moved < lengths + CUTOFF), axis=1)
            positions.append(moved[near])
            atoms.append(np.flatnonzero(near))
        return np.concatenate(positions), np.concatenate(atoms)


class FakeLammps:
    """A ``lammps.lammps`` of one MPI rank of a :class:`Box`: owned atoms first, then ghosts (the
    other ranks' atoms and the periodic images near the box, more than LAMMPS keeps, which
    changes nothing within the cutoff).

    It subclasses the real class (so ``isinstance`` checks accept it) without starting LAMMPS:
    the base constructor is not called, and ``close()`` finds nothing to close.
    """

    GROUPS = ("all", "hot", "nobody")

    def __new__(cls, *args, **kwargs):
        from lammps import lammps

        real = type("FakeLammpsHandle", (FakeLammps, lammps), {})
        return object.__new__(real)

    def __init__(self, box: Box, rank: int):
        self.lmp, self.opened, self._numpy = None, 0, _FakeNumpy(self)
        self.box, self.rank = box, rank
        owned = np.flatnonzero(box.rank_of == rank)
        image_positions, image_atoms = box.images()
        rows = np.concatenate([owned, np.flatnonzero(box.rank_of != rank), image_atoms])
        self.x = np.vstack([box.positions[rows[: len(rows) - len(image_atoms)]], image_positions])
        self.id, self.type, self.mask = box.id[rows], box.type[rows], box.mask[rows]
        self.nlocal, self.nghost = len(owned), len(rows) - len(owned)
        self.mass = box.mass
        self.fix_vectors: dict[str, np.ndarray] = {}

    def extract_setting(self, name: str):
        settings = {"world_rank": self.rank, "world_size": self.box.size, "nlocal": self.nlocal,
                    "nghost": self.nghost, "nall": self.nlocal + self.nghost, "ntypes": self.box.ntypes,
                    "nthreads": 1, "dimension": 3}
        if name not in settings:
            raise KeyError(f"the fake LAMMPS has no setting {name!r}: add it to FakeLammps")
        return settings[name]

    def available_ids(self, category: str):
        assert category == "group", category
        return list(self.GROUPS)

    def get_natoms(self) -> int:
        return len(self.box.id)

    def extract_box(self):
        return [0.0, 0.0, 0.0], [float(v) for v in np.diag(self.box.cell)], 0.0, 0.0, 0.0, [1, 1, 1], 0

    def owned(self, name: str) -> np.ndarray:
        if name.startswith("f_"):
            return self.fix_vectors[name[2:]][: self.nlocal]
        return getattr(self, name)[: self.nlocal]

    def gather_concat(self, name: str, kind: int, count: int):
        """Every rank's owned values, rank by rank, as the library returns them: a ctypes array
        (kind 0 int, 1 double)."""
        values = np.concatenate([rank.owned(name) for rank in self.box.ranks])
        flat = np.ascontiguousarray(values, dtype=np.float64 if kind == 1 else np.int32).ravel()
        assert flat.size == len(self.box.id) * count, (name, count)
        return ((ctypes.c_double if kind == 1 else ctypes.c_int) * flat.size)(*flat.tolist())

    def close(self):
        pass


class _FakeNumpy:
    """``lmp.numpy``: views of the fake's per-atom arrays."""

    def __init__(self, lmp: FakeLammps):
        self.lmp = lmp

    def extract_atom(self, name: str, nelem=None, dim=None):
        lmp = self.lmp
        if name == "mass":
            return lmp.mass
        values = {"x": lmp.x, "type": lmp.type, "mask": lmp.mask, "id": lmp.id}[name]
        return values if nelem is None else values[:nelem]

    def extract_fix(self, fix_id: str, style: int, kind: int):
        from lammps import LMP_STYLE_ATOM, LMP_TYPE_VECTOR

        assert (style, kind) == (LMP_STYLE_ATOM, LMP_TYPE_VECTOR), "only a fix's per-atom vector is faked"
        return self.lmp.fix_vectors.setdefault(fix_id, np.zeros(self.lmp.nlocal))


# ---- driving the Python side as the C++ fix does --------------------------------------------------

@pytest.fixture(scope="module")
def calls():
    found = bridge_calls()
    assert sorted(found) == sorted(FUNCTIONS), f"src/python_bridge.cpp calls {sorted(found)}"
    return found


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """A species-agnostic Cu reference and a species-aware InP one (k = 8 keeps them small)."""
    directory = tmp_path_factory.mktemp("bridge")
    cu = Reference.build([thermal_fcc(0.05, seed=s) for s in range(2)], k=8, cutoff=CUTOFF)
    inp = Reference.build([thermal_inp(seed=s, repeat=2) for s in range(2)], k=8, cutoff=CUTOFF, species=["In", "P"])
    return {"cu": str(cu.save(directory / "cu.qref")), "inp": str(inp.save(directory / "inp.qref"))}


def call(calls, name: str, lmp, *arguments):
    """Call bridge.<name> as src/python_bridge.cpp does; check the arguments and the result."""
    from lammps_quests.lammps import bridge

    spec = calls[name]
    assert len(arguments) == len(spec.arguments)
    for value, kind in zip(arguments, spec.arguments):
        assert conforms(value, kind), f"test bug: {name} gets {kind} from C++, not {value!r}"
    function = getattr(bridge, name)
    inspect.signature(function).bind(lmp, *arguments)  # the C++ side passes exactly these
    result = function(lmp, *arguments)
    check_result(spec, result)
    return result


def run_fix(calls, box: Box, fix_id: str, group_bit: int, group: str, reference: str, words: list[str],
            steps=(0, 10)) -> list:
    """One fix's life as FixQuests drives it, on every rank of ``box`` in turn; each step's
    finish() result (the same on every rank)."""
    import numba

    ranks = box.ranks
    setups = [call(calls, "open_fix", lmp, fix_id, group, reference, words) for lmp in ranks]
    reductions, size_vector = setups[0][-3], setups[0][-2]  # where the C++ side reads them
    assert reductions and set(reductions) <= {"m", "s"}  # 'm' MPI_MAX, 's' MPI_SUM (fix_quests.cpp)
    assert all(setup[:-1] == setups[0][:-1] for setup in setups)  # the log line is rank 0's
    outcomes = []
    for step in steps:
        partials = [call(calls, "evaluate", lmp, fix_id, group_bit, numba.config.NUMBA_NUM_THREADS)
                    for lmp in ranks]
        assert all(len(p) == len(reductions) for p in partials)  # FixQuests::evaluate refuses others
        reduced = [float(max(column) if letter == "m" else sum(column))  # FixQuests::reduce
                   for letter, column in zip(reductions, zip(*partials))]
        finished = [call(calls, "finish", lmp, fix_id, step, reduced) for lmp in ranks]
        assert len(finished[0][0]) == size_vector and finished[0][1] in (0, 1, 2)
        assert all(f[:2] == finished[0][:2] for f in finished)  # every rank decides alike
        outcomes.append(finished[0])
    for lmp in ranks:
        call(calls, "report", lmp, fix_id)
        call(calls, "close_fix", lmp, fix_id)
    return outcomes


def dh_by_id(box: Box, fix_id: str) -> np.ndarray:
    """The fix's per-atom vector over all ranks, ordered by atom id."""
    ids = np.concatenate([lmp.owned("id") for lmp in box.ranks])
    return np.concatenate([lmp.owned(f"f_{fix_id}") for lmp in box.ranks])[np.argsort(ids)]


def cu_box(size: int = 1) -> Box:
    return Box(thermal_fcc(0.08, seed=7), {"Cu": 1}, {1: 63.546}, size)


def test_bridge_calls_are_read_from_the_cpp(calls):
    """The parse itself: what src/python_bridge.cpp passes and expects, call by call."""
    assert calls["open_fix"].arguments == ["str", "str", "str", "list[str]"]
    assert calls["evaluate"].result == "floats" and calls["report"].result == "str"
    assert calls["close_fix"].result is None
    assert calls["finish"].arguments[-1] == "list[float]" and calls["finish"].result[0] == "floats"
    assert all(isinstance(calls[n].result, list) for n in ("open_fix", "finish"))


def test_plain_fix_returns_what_the_cpp_parses(calls, references):
    box = cu_box()
    outcomes = run_fix(calls, box, "q", 1, "all", references["cu"], [])
    assert dh_by_id(box, "q").all()  # dH was written into the fix's per-atom vector, every atom
    assert all(o[1] == 0 for o in outcomes)


def test_two_ranks_reduce_to_the_one_rank_values(calls, references, tmp_path):
    """The reduction letters match the partials: split over two ranks, the reduced statistics give
    the one-rank global vector (max, mean, fraction, count, new) and the same per-atom dH."""
    words = ["threshold", "-2", "save", "-100", str(tmp_path / "saved.xyz")]
    one, two = cu_box(1), cu_box(2)
    assert 0 < two.ranks[0].nlocal < len(two.id)
    serial = run_fix(calls, one, "q", 2, "hot", references["cu"], words, steps=(0,))
    split = run_fix(calls, two, "q", 2, "hot", references["cu"], words, steps=(0,))
    assert np.allclose(split[0][0], serial[0][0], rtol=1e-12, atol=0)
    assert serial[0][0][3] > 0  # the count above the threshold is not trivially zero
    np.testing.assert_allclose(dh_by_id(two, "q"), dh_by_id(one, "q"), rtol=1e-12)


def test_group_threshold_save_and_soft_halt(calls, references, tmp_path):
    saved = tmp_path / "saved.xyz"
    words = ["threshold", "0.5", "save", "-100", str(saved), "halt", "-100", "soft"]
    outcomes = run_fix(calls, cu_box(2), "hot", 2, "hot", references["cu"], words)
    assert outcomes[0][1] == 1 and "halt soft" in outcomes[0][2]
    assert saved.exists()  # finish gathered the frame through gather_concat and wrote it


def test_hard_halt_and_an_empty_group(calls, references):
    outcome = run_fix(calls, cu_box(), "stop", 1, "all", references["cu"], ["halt", "-100", "hard"], steps=(0,))
    assert outcome[0][1] == 2 and "halt threshold" in outcome[0][4]  # the ERROR line, alone
    empty = run_fix(calls, cu_box(2), "none", 4, "nobody", references["cu"], [], steps=(0,))
    assert empty[0][3] and "no atoms" in empty[0][3]  # the warning string


def test_species_aware_fix_with_elements(calls, references):
    box = Box(thermal_inp(seed=3, repeat=2), {"In": 1, "P": 2}, {1: 114.818, 2: 30.974}, size=2)
    run_fix(calls, box, "s", 1, "all", references["inp"], ["elements", "In", "P"])
    assert dh_by_id(box, "s").all()


def test_a_changed_tuple_is_caught(calls):
    """What the check refuses: a missing entry, an extra one, a list for a tuple, a wrong type."""
    spec = calls["finish"]
    good = ([0.0] * 5, 0, "", "", "")
    check_result(spec, good)
    for bad in (good[:4], good + ("",), list(good), ([0.0] * 5, 0.5, "", "", ""), (None, 0, "", "", ""),
                ([0.0] * 5, 0, b"", "", "")):
        with pytest.raises(AssertionError):
            check_result(spec, bad)
    check_result(calls["evaluate"], np.zeros(5))  # to_doubles takes any sequence of numbers
    for bad in (["1.0"], 1.0, None):
        with pytest.raises(AssertionError):
            check_result(calls["evaluate"], bad)
