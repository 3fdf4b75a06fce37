"""File formats: structures (via ASE), ``.qref`` references and their ``.qidx`` fast indexes,
LAMMPS dumps, extended-XYZ frames. Lengths in Å, descriptors and bandwidths in Å^-1.

* :class:`Reference`: a reference set (build from structures, save, load, check);
  :func:`read_header` reads a ``.qref`` header without the data;
* :func:`read_frames`: structures from files (ASE formats, LAMMPS dumps and data files), with
  a frame selection (:func:`parse_index`);
* :func:`build_fast_index`, :func:`save_fast_index`, :func:`load_fast_index`, :func:`fast_index_path`:
  the cluster index behind ``delta_entropy_fast`` and ``fix quests ... fast``.
"""

from ._fast_index import build_fast_index, fast_index_path, load_fast_index, save_fast_index
from ._qref import read_header
from ._reference import Reference
from ._structures import parse_index, read_frames

__all__ = ["Reference", "build_fast_index", "fast_index_path", "load_fast_index", "parse_index", "read_frames",
           "read_header", "save_fast_index"]
