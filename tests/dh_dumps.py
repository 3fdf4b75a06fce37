"""Real LAMMPS dumps with a per-atom ``f_q`` column of known values, for the render tests.

Until ``fix quests`` writes dH, the column comes from a stock LAMMPS fix with ID ``q``:
``fix q all store/state 0 v_dh`` stores an atom-style variable per atom, and
``dump custom ... f_q`` writes it exactly as it would write the per-atom vector of
``fix q all quests ...``. Each frame is written by LAMMPS itself (write_dump ... append).
"""

from __future__ import annotations

from pathlib import Path

from crystal_md import new_lammps

CELLS = 4  # FCC Cu, 4 x 4 x 4 cells = 256 atoms, 14.46 Å box
LATTICE = 3.615  # Å


def write_dh_dump(path: Path, frames: list[tuple[int, str]], extra: str = "",
                  dump_modify: str = "", fix_id: str = "q") -> Path:
    """Write a LAMMPS dump custom file ``id type x y z f_q``, one frame per (timestep, dh).

    ``dh`` is a LAMMPS atom-style expression of the atom position (Å), e.g.
    ``"8*(x>v_half) - 4"``; ``v_half`` is the box centre along x shifted half a lattice
    plane, so exactly half the atoms (128) have x > v_half. ``extra`` is run after the box is
    made (e.g. to make it triclinic); ``dump_modify`` is appended to each write_dump.
    With ``fix_id`` the column is ``f_<fix_id>`` instead of ``f_q``.
    """
    path = Path(path)
    path.unlink(missing_ok=True)
    lmp = new_lammps()
    try:
        lmp.commands_string(_box_deck(extra))
        for timestep, dh in frames:
            lmp.commands_string(f"""
reset_timestep {timestep}
variable dh atom "{dh}"
fix {fix_id} all store/state 0 v_dh
run 0
write_dump all custom {path} id type x y z f_{fix_id} modify sort id append yes {dump_modify}
unfix {fix_id}
""")
    finally:
        lmp.close()
    return path


def _box_deck(extra: str = "") -> str:
    """The FCC Cu box of these dumps, and v_half: the x of the plane halving its atoms."""
    return f"""
units metal
lattice fcc {LATTICE}
region box block 0 {CELLS} 0 {CELLS} 0 {CELLS}
create_box 1 box
create_atoms 1 box
mass 1 63.546
{extra}
variable half equal 0.5*(xlo+xhi)-0.25*{LATTICE}
"""


def run_dh_dump(path: Path, dh: str, steps: int, every: int) -> Path:
    """Write a dump with the ``dump`` command during a ``run`` (NVE, no forces, atoms at rest).

    ``dh`` may use ``step``; f_q is refreshed every ``every`` steps, the dump interval.
    A name ending in ``.gz`` makes LAMMPS write it gzip-compressed.
    """
    path = Path(path)
    path.unlink(missing_ok=True)
    lmp = new_lammps()
    try:
        lmp.commands_string(f"""
{_box_deck()}variable dh atom "{dh}"
fix q all store/state {every} v_dh
dump d all custom {every} {path} id type x y z f_q
dump_modify d sort id
fix nve all nve
run {steps}
""")
    finally:
        lmp.close()
    return path
