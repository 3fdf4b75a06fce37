"""The contract between the C++ fix and its Python side, checked without compiling or starting LAMMPS.

src/python_bridge.cpp calls six functions of lammps_quests.lammps._bridge: it builds their
arguments with ``Py_BuildValue`` (the LAMMPS's address first, then this rank's atoms as buffers
over LAMMPS's arrays: ``atoms_tuple``; the gathered frame: ``frame_tuple``) and reads their
results with ``PyArg_ParseTuple``, ``to_doubles``, ``PyLong_AsLong`` or ``text_of``. The format
strings are read here from the .cpp itself, the Python functions are driven with buffers built
the way the C++ fix builds them (:class:`Box`: one or more MPI ranks of a small box, owned atoms
first, then ghosts), and every returned value must have the type and shape the C++ side parses.
A tuple that gains or loses an entry on either side, or a type that changes, fails here rather
than at the first LAMMPS run. The plugin route must not import the ``lammps`` Python module.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import re
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from crystals import thermal_fcc, thermal_inp
from inp_support import offline_species_dh
from lammps_quests.formats._reference import Reference
from lammps_quests.lammps._handoff import ATOM_FIELDS, FRAME_FIELDS

BRIDGE = Path(__file__).resolve().parents[2] / "src" / "python_bridge.cpp"
FUNCTIONS = ("open_fix", "evaluate", "wants_frame", "finish", "report", "close_fix")
CUTOFF = 5.0  # Å, the reference's descriptor cutoff; ghosts reach this far beyond the box


# ---- the C++ side: format strings read from src/python_bridge.cpp -------------------------------

@dataclass
class BridgeCall:
    """One call from C++ into the session module, as src/python_bridge.cpp makes it."""

    name: str  # the Python function called
    arguments: list[str]  # after the address: "str", "int", "list[str]", "list[float]", "buffer",
    #                        "atoms" (handoff.ATOM_FIELDS), "frame" (handoff.FRAME_FIELDS or None)
    result: str | list[str] | None  # "floats", "str", "int", a tuple's units ["int", ...], None


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


_BUILT_OBJECTS = {"view": "buffer", "atoms_tuple": "atoms", "frame_tuple": "frame"}


def format_units(format_: str) -> list[str]:
    """The top-level units of a Py_BuildValue tuple format: "(iN(ddd)s)" -> ["i", "N", "(ddd)", "s"]."""
    inner = re.fullmatch(r'"\((.*)\)"', format_).group(1)
    return re.findall(r"\([^()]*\)|\w", inner)


def _build_arguments(body: str, parameters: dict[str, str]) -> list[str]:
    assert "Py_BuildValue(" in body, "a bridge call without Py_BuildValue"
    format_, *values = _call_arguments(body, "Py_BuildValue")
    units = format_units(format_)
    assert len(units) == len(values), f"format ({units}) and arguments {values} differ in number"
    arguments = []
    for unit, value in zip(units, values):
        if unit == "N" and value.startswith("to_list("):  # a new list of X's elements
            source = re.fullmatch(r"to_list\((\w+)\)", value).group(1)
            element = re.fullmatch(r"std::vector<([\w:]+)>", parameters[source]).group(1)
            arguments.append(f"list[{_CPP_ELEMENT[element]}]")
        elif unit == "N":  # view(...), atoms_tuple(...), frame_tuple(...)
            arguments.append(_BUILT_OBJECTS[value.split("(")[0]])
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
    if "PyLong_AsLong(result)" in body:
        return "int"
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
    if kind == "buffer":  # view(): a writable byte memoryview
        return isinstance(value, memoryview) and value.format == "B" and not value.readonly
    if kind == "atoms":
        return isinstance(value, tuple) and len(value) == len(ATOM_FIELDS)
    if kind == "frame":
        return value is None or (isinstance(value, tuple) and len(value) == len(FRAME_FIELDS)
                                 and all(conforms(v, "buffer") for v in value))
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


# ---- the LAMMPS side: buffers built as FixQuests builds them ---------------------------------------

def buffer(array: np.ndarray) -> memoryview:
    """A writable byte buffer over ``array``'s memory, as view() in src/python_bridge.cpp."""
    return memoryview(np.ascontiguousarray(array)).cast("B")


class Box:
    """The atoms of an orthogonal periodic box, split over ``size`` MPI ranks in slabs along x.

    Groups: ``all`` (bit 1), ``hot`` (bit 2, the first half of the atoms by id), ``nobody``
    (bit 4, no atom). ``ranks`` holds one :class:`Rank` per rank.
    """

    def __init__(self, atoms, type_of_symbol: dict[str, int], masses: dict[int, float], size: int = 1):
        self.cell = np.asarray(atoms.cell)
        assert np.allclose(self.cell, np.diag(np.diag(self.cell))), "the fake box is orthogonal"
        self.positions = atoms.get_positions(wrap=True)
        n = len(atoms)
        self.id = np.arange(1, n + 1, dtype=np.int32)  # tagint of LAMMPS_SMALLBIG
        self.type = np.array([type_of_symbol[s] for s in atoms.get_chemical_symbols()], dtype=np.int32)
        self.mask = np.where(np.arange(n) < n // 2, 3, 1).astype(np.int32)
        self.ntypes = max(type_of_symbol.values())
        self.mass = np.zeros(self.ntypes + 1)
        for t, m in masses.items():
            self.mass[t] = m
        lengths = np.diag(self.cell)
        self.rank_of = np.minimum((self.positions[:, 0] / lengths[0] * size).astype(int), size - 1)
        self.size = size
        self.ranks = [Rank(self, rank) for rank in range(size)]

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

    def frame(self) -> tuple:
        """The tuple of handoff.FRAME_FIELDS: every rank's owned atoms, rank by rank, as
        FixQuests::gather_frame builds it (ids as long long)."""
        def owned(name):
            return np.concatenate([getattr(r, name)[: r.nlocal] for r in self.ranks])
        return (buffer(owned("id").astype(np.int64)), buffer(owned("type")), buffer(owned("mask")),
                buffer(owned("x")), buffer(np.concatenate([r.dh for r in self.ranks])))


class Rank:
    """One MPI rank of a :class:`Box` as LAMMPS holds it: owned atoms first, then ghosts (the
    other ranks' atoms and the periodic images near the box, more than LAMMPS keeps, which
    changes nothing within the cutoff), and the fix's per-atom vector ``dh``."""

    def __init__(self, box: Box, rank: int):
        self.box, self.rank = box, rank
        owned = np.flatnonzero(box.rank_of == rank)
        image_positions, image_atoms = box.images()
        rows = np.concatenate([owned, np.flatnonzero(box.rank_of != rank), image_atoms])
        self.x = np.vstack([box.positions[rows[: len(rows) - len(image_atoms)]], image_positions])
        self.id, self.type, self.mask = box.id[rows], box.type[rows], box.mask[rows]
        self.nlocal, self.nghost = len(owned), len(rows) - len(owned)
        self.dh = np.zeros(self.nlocal)
        self.address = 0x7F00DEAD0000 + 4096 * rank  # this rank's LAMMPS*: the sessions' key only

    def atoms(self, step: int) -> tuple:
        """The tuple of handoff.ATOM_FIELDS, as atoms_tuple() in src/python_bridge.cpp."""
        box = self.box
        return (self.nlocal, self.nghost, buffer(self.x), buffer(self.type), buffer(self.id), 4,
                buffer(self.mask[: self.nlocal]), memoryview(self.dh).cast("B"), (0.0, 0.0, 0.0),
                tuple(float(v) for v in np.diag(box.cell)), (0.0, 0.0, 0.0), (1, 1, 1), step, "metal",
                box.ntypes, buffer(box.mass))


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
    inp = Reference.build([thermal_inp(seed=s, repeat=2) for s in range(2)], k=8, cutoff=CUTOFF, elements=["In", "P"])
    return {"cu": str(cu.save(directory / "cu.qref")), "inp": str(inp.save(directory / "inp.qref"))}


def call(calls, name: str, address: int, *arguments):
    """Call bridge.<name> as src/python_bridge.cpp does; check the arguments and the result."""
    import lammps_quests.lammps._bridge as bridge

    spec = calls[name]
    assert len(arguments) == len(spec.arguments)
    for value, kind in zip(arguments, spec.arguments):
        assert conforms(value, kind), f"test bug: {name} gets {kind} from C++, not {value!r}"
    function = getattr(bridge, name)
    inspect.signature(function).bind(address, *arguments)  # the C++ side passes exactly these
    result = function(address, *arguments)
    check_result(spec, result)
    return result


def run_fix(calls, box: Box, fix_id: str, group_bit: int, group: str, reference: str, words: list[str],
            steps=(0, 10)) -> list:
    """One fix's life as FixQuests drives it, on every rank of ``box`` in turn; each step's
    finish() result (the same on every rank)."""
    import numba

    ranks = box.ranks
    setups = [call(calls, "open_fix", r.address, fix_id, group, reference, words, r.rank, box.ntypes,
                   buffer(box.mass)) for r in ranks]
    reductions, size_vector = setups[0][-3], setups[0][-2]  # where the C++ side reads them
    assert reductions and set(reductions) <= {"m", "s"}  # 'm' MPI_MAX, 's' MPI_SUM (fix_quests.cpp)
    assert all(setup[:-1] == setups[0][:-1] for setup in setups)  # the log line is rank 0's
    outcomes = []
    for step in steps:
        partials = [call(calls, "evaluate", r.address, fix_id, group_bit, numba.config.NUMBA_NUM_THREADS,
                         r.atoms(step)) for r in ranks]
        assert all(len(p) == len(reductions) for p in partials)  # FixQuests::evaluate refuses others
        reduced = [float(max(column) if letter == "m" else sum(column))  # FixQuests::reduce
                   for letter, column in zip(reductions, zip(*partials))]
        wanted = [call(calls, "wants_frame", r.address, fix_id, step, reduced) for r in ranks]
        assert len(set(wanted)) == 1  # the same on every rank: all gather or none
        frame = box.frame() if wanted[0] else None  # FixQuests::gather_frame, collective
        finished = [call(calls, "finish", r.address, fix_id, step, reduced, frame) for r in ranks]
        assert len(finished[0][0]) == size_vector and finished[0][1] in (0, 1, 2)
        assert all(f[:2] == finished[0][:2] for f in finished)  # every rank decides alike
        outcomes.append(finished[0])
    for r in ranks:
        call(calls, "report", r.address, fix_id)
        call(calls, "close_fix", r.address, fix_id)
    return outcomes


def dh_by_id(box: Box, fix_id: str) -> np.ndarray:
    """The fix's per-atom vector over all ranks, ordered by atom id."""
    ids = np.concatenate([r.id[: r.nlocal] for r in box.ranks])
    return np.concatenate([r.dh for r in box.ranks])[np.argsort(ids)]


def offline_dh(box: Box, reference: str, symbols_of_type=("X", "In", "P")) -> np.ndarray:
    """dH (nats) of the box's atoms, ordered by id, by the Python API (not through the fix)."""
    frame = SimpleNamespace(positions=box.positions, cell=box.cell, pbc=np.ones(3, bool), columns={"type": box.type})
    return offline_species_dh(frame, Reference.load(reference), symbols_of_type)


def cu_box(size: int = 1) -> Box:
    return Box(thermal_fcc(0.08, seed=7), {"Cu": 1}, {1: 63.546}, size)


def test_bridge_calls_are_read_from_the_cpp(calls):
    """The parse itself: what src/python_bridge.cpp passes and expects, call by call."""
    assert calls["open_fix"].arguments == ["str", "str", "str", "list[str]", "int", "int", "buffer"]
    assert calls["evaluate"].arguments[-1] == "atoms" and calls["finish"].arguments[-1] == "frame"
    assert calls["wants_frame"].result == "int"
    assert calls["evaluate"].result == "floats" and calls["report"].result == "str"
    assert calls["close_fix"].result is None
    assert calls["finish"].arguments[-2] == "list[float]" and calls["finish"].result[0] == "floats"
    assert all(isinstance(calls[n].result, list) for n in ("open_fix", "finish"))


def built_tuple(function: str) -> list[str]:
    """The top-level units of the tuple that ``function`` of src/python_bridge.cpp builds."""
    text = BRIDGE.read_text()
    body = text[text.index(f"PyObject *{function}("):]
    format_ = _call_arguments(body, "Py_BuildValue")[0]
    return format_units(format_)


def test_handed_over_tuples_match_the_python_fields():
    """atoms_tuple() and frame_tuple() build as many entries as handoff names, buffers where
    handoff expects arrays (N: view), and the scalars and triples in between."""
    atoms = built_tuple("atoms_tuple")
    assert len(atoms) == len(ATOM_FIELDS), (atoms, ATOM_FIELDS)
    kinds = dict(zip(ATOM_FIELDS, atoms))
    for name in ("x", "type", "tag", "mask", "dh", "masses"):
        assert kinds[name] == "N", name
    for name in ("boxlo", "boxhi", "tilt"):
        assert kinds[name] == "(ddd)", name
    assert kinds["periodic"] == "(iii)" and kinds["step"] == "L" and kinds["units"] == "s"
    assert built_tuple("frame_tuple") == ["N"] * len(FRAME_FIELDS)


def test_the_plugin_route_imports_no_lammps_module(references, tmp_path):
    """A whole fix life (setup, evaluations, a save, a halt) through the bridge, in a fresh
    interpreter, leaves no ``lammps`` module in sys.modules: the plugin runs in any LAMMPS."""
    script = f"""
import sys
sys.path[:0] = {[str(Path(__file__).parent), str(Path(__file__).parents[1])]!r}
import test_bridge_contract as t
calls = t.bridge_calls()
words = ["save", "-100", {str(tmp_path / "saved.xyz")!r}, "halt", "-100", "soft"]
outcomes = t.run_fix(calls, t.cu_box(2), "q", 1, "all", {references["cu"]!r}, words)
assert outcomes[0][1] == 1, outcomes
print(sorted(m for m in sys.modules if m == "lammps" or m.startswith("lammps.")))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "saved.xyz").exists()


def test_plain_fix_returns_what_the_cpp_parses(calls, references):
    box = cu_box()
    outcomes = run_fix(calls, box, "q", 1, "all", references["cu"], [])
    # dH was written into the fix's per-atom vector, every atom
    np.testing.assert_allclose(dh_by_id(box, "q"), offline_dh(box, references["cu"], ("X", "Cu")), rtol=0, atol=1e-9)
    assert all(o[1] == 0 for o in outcomes)


def test_two_ranks_reduce_to_the_one_rank_values(calls, references, tmp_path):
    """The reduction letters match the partials: split over two ranks, the reduced statistics give
    the one-rank global vector (max, mean, fraction, count, new) and the same per-atom dH."""
    # one save file per run: a run seeded from the other's saves would find nothing new
    words = ["threshold", "-2", "save", "-100"]
    one, two = cu_box(1), cu_box(2)
    assert 0 < two.ranks[0].nlocal < len(two.id)
    serial = run_fix(calls, one, "q", 2, "hot", references["cu"], words + [str(tmp_path / "one.xyz")], steps=(0,))
    split = run_fix(calls, two, "q", 2, "hot", references["cu"], words + [str(tmp_path / "two.xyz")], steps=(0,))
    assert np.allclose(split[0][0], serial[0][0], rtol=1e-12, atol=0)
    assert serial[0][0][3] > 0 and serial[0][0][4] > 0  # the count above t and the new count are not trivially zero
    np.testing.assert_allclose(dh_by_id(two, "q"), dh_by_id(one, "q"), rtol=1e-12)


def test_group_threshold_save_and_soft_halt(calls, references, tmp_path):
    saved = tmp_path / "saved.xyz"
    words = ["threshold", "0.5", "save", "-100", str(saved), "halt", "-100", "soft"]
    outcomes = run_fix(calls, cu_box(2), "hot", 2, "hot", references["cu"], words)
    assert outcomes[0][1] == 1 and "halt soft" in outcomes[0][2]
    assert saved.exists()  # finish got the gathered frame and wrote it


def test_hard_halt_and_an_empty_group(calls, references):
    outcome = run_fix(calls, cu_box(), "stop", 1, "all", references["cu"], ["halt", "-100", "hard"], steps=(0,))
    assert outcome[0][1] == 2 and "halt threshold" in outcome[0][4]  # the ERROR line, alone
    empty = run_fix(calls, cu_box(2), "none", 4, "nobody", references["cu"], [], steps=(0,))
    assert empty[0][3] and "no atoms" in empty[0][3]  # the warning string


def test_species_aware_fix_with_elements(calls, references):
    box = Box(thermal_inp(seed=3, repeat=2), {"In": 1, "P": 2}, {1: 114.818, 2: 30.974}, size=2)
    run_fix(calls, box, "s", 1, "all", references["inp"], ["elements", "In", "P"])
    np.testing.assert_allclose(dh_by_id(box, "s"), offline_dh(box, references["inp"]), rtol=0, atol=1e-9)


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
