"""Approximate dH with an approximate nearest-neighbour index (PyNNDescent; paper SI A.5, A.12).

dH(y | X) = -log sum_i K(y, x_i) is dominated by the reference points nearest to y. Summing
only over the M nearest ones found by the index drops positive terms, so the result is an
upper bound of the exact dH: conservative for uncertainty.

The index is built once per reference and kept in the user's cache directory
(``$XDG_CACHE_HOME/lammps-quests``, else ``~/.cache/lammps-quests``; created with mode 0700),
named by the sha256 of the reference's descriptors and the settings (M, seed). It is a pickle,
and unpickling runs code: so nothing is ever loaded from beside a reference (a shared or
downloaded training-set directory could plant a file there), and a kept file is loaded only
if it and its directory belong to the user and no one else can write them; otherwise it is
rebuilt. An index that cannot be read is rebuilt as well. A species-aware reference gets one index per centre
element (:class:`ElementIndexes`), and each atom's M neighbours are searched among the rows
centred on its own element, so the result is an upper bound of the exact species-aware dH.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lammps_quests.core._information import delta_entropy_of_neighbours, species_groups
from lammps_quests.core._species_index import missing_species_error

INDEX_FORMAT = "lammps-quests nndescent index"
INDEX_VERSION = 1
DEFAULT_EPSILON = 0.1  # search breadth of PyNNDescent queries (the paper's value)
_BLOCK_ROWS = 2048  # (rows x M x width) float64 temporaries stay ~30 MB


CACHE_NAME = "lammps-quests"


def cache_directory() -> Path:
    """The user's cache directory of this package (not created here)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / CACHE_NAME


def index_path(reference, n_neighbors: int, seed: int = 0) -> Path:
    """Where the index of ``reference`` (its descriptors' sha256) with M neighbours is kept."""
    return cache_directory() / f"nnd-{reference.sha256}-M{int(n_neighbors)}-seed{int(seed)}.pkl"


def _private(path: Path) -> bool:
    """True if ``path`` belongs to this user and no one else can write it."""
    try:
        info = path.stat()
    except OSError:
        return False
    return info.st_uid == os.getuid() and not info.st_mode & 0o022


def safe_to_load(path: Path) -> bool:
    """A pickle may be loaded only from a private file in a private directory."""
    return _private(path) and _private(path.parent)


def check_neighbors(n_neighbors: int, n_reference: int) -> int:
    """M must be an integer >= 1 and at most the number of reference environments."""
    if isinstance(n_neighbors, bool) or int(n_neighbors) != n_neighbors or n_neighbors < 1:
        raise ValueError(f"--approx M must be an integer >= 1 (neighbours summed per atom), got {n_neighbors!r}")
    if n_neighbors > n_reference:
        raise ValueError(
            f"--approx {n_neighbors} asks for more neighbours than the reference has environments "
            f"({n_reference}); use a smaller M or the exact dH (no --approx)"
        )
    return int(n_neighbors)


@dataclass(frozen=True)
class ElementIndexes:
    """One PyNNDescent index per centre element of a species-aware reference (None: no rows);
    rows row_offsets[s]:row_offsets[s + 1] of the reference are centred on element s."""

    indexes: tuple
    row_offsets: np.ndarray


def check_element_neighbors(n_neighbors: int, reference) -> int:
    """M must also be at most the environments of each element of a species-aware reference."""
    n_neighbors = check_neighbors(n_neighbors, reference.n_environments)
    for name, count in zip(reference.species, reference.species_counts):
        if 0 < count < n_neighbors:
            raise ValueError(f"--approx {n_neighbors} asks for more neighbours than the reference has "
                             f"environments centred on {name} ({count}); use M <= {count} or the exact dH")
    return n_neighbors


def build_reference_index(reference, n_neighbors: int, seed: int = 0):
    """The index of a reference: one for all rows, or :class:`ElementIndexes` when species-aware."""
    if not reference.species_aware:
        return build_index(reference.descriptors, n_neighbors, seed)
    offsets = np.concatenate([[0], np.cumsum(reference.species_counts)]).astype(np.int64)
    X = reference.descriptors
    return ElementIndexes(
        indexes=tuple(build_index(X[offsets[s]:offsets[s + 1]], n_neighbors, seed) if offsets[s + 1] > offsets[s]
                      else None for s in range(len(reference.species))),
        row_offsets=offsets,
    )


def build_index(X: np.ndarray, n_neighbors: int, seed: int = 0):
    """A PyNNDescent index over reference descriptors ``X`` (Å^-1), Euclidean metric."""
    from pynndescent import NNDescent

    index = NNDescent(np.asarray(X, dtype=np.float32), n_neighbors=max(int(n_neighbors), 2), random_state=seed)
    index.prepare()
    return index


def load_or_build_index(reference, n_neighbors: int, path=None, seed: int = 0, comm=None):
    """The index for ``reference`` (a Reference), read from ``path`` or built and saved there.

    ``path`` defaults to :func:`index_path` in the user's cache directory (see the module
    docstring); a ``path`` in the reference's own directory is refused. A file whose recorded
    sha256 or M differs from the reference, that cannot be unpickled, or that others could
    have written is rebuilt (and overwritten). Under MPI rank 0 builds and saves, the other
    ranks then read the file.
    """
    n_neighbors = check_element_neighbors(n_neighbors, reference)
    if path is None:
        path = index_path(reference, n_neighbors, seed)
        _make_private_directory(path.parent)
    path = Path(path)
    if reference.path is not None and path.resolve().parent == Path(reference.path).resolve().parent:
        raise ValueError(f"the neighbour index {path} would sit beside the reference {reference.path}; "
                         "an index is a pickle, never loaded from a data directory: leave --index-file "
                         f"out (the index is kept in {cache_directory()}) or name a private directory")
    if comm is None:
        return _read_or_build(path, reference, n_neighbors, seed)
    from ._parallel import first_error

    # Rank 0 builds and saves; the others read the file afterwards. Errors are shared with
    # first_error (a collective), so no rank is left waiting for one that failed.
    index, error = None, None
    if comm.Get_rank() == 0:
        try:
            index = _read_or_build(path, reference, n_neighbors, seed)
        except Exception as caught:
            error = caught
    first_error(error, comm)
    if comm.Get_rank() != 0:
        try:
            index = _read_index(path, reference.sha256, n_neighbors, reference.species_aware)
            if index is None:
                raise ValueError(f"{path} changed while it was being read; run again")
        except Exception as caught:
            error = caught
    first_error(error, comm)
    return index


def _read_or_build(path: Path, reference, n_neighbors: int, seed: int):
    index = _read_index(path, reference.sha256, n_neighbors, reference.species_aware)
    if index is None:
        index = build_reference_index(reference, n_neighbors, seed)
        try:
            _write_index(path, index, reference.sha256, n_neighbors)
        except OSError as error:  # e.g. a read-only reference directory: still usable, unsaved
            warnings.warn(f"could not store the neighbour index as {path} ({error}); it will be "
                          "rebuilt on the next run", stacklevel=2)
    return index


def _make_private_directory(directory: Path) -> None:
    """Create the cache directory with mode 0700 (an existing one is left as it is)."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        warnings.warn(f"cannot create the cache directory {directory} ({error}); the neighbour "
                      "index is rebuilt at every run", stacklevel=3)


def _read_index(path: Path, sha256: str, n_neighbors: int, species_aware: bool = False):
    """The stored index if it matches the reference, None if absent, stale (including one
    index over all elements of a species-aware reference, as older versions stored),
    unreadable or not private (see :func:`safe_to_load`): it is then rebuilt."""
    if not path.exists():
        return None
    if not safe_to_load(path):
        warnings.warn(f"not loading the neighbour index {path}: it or its directory can be written "
                      "by other users (unpickling runs code); rebuilding it", stacklevel=3)
        return None
    try:
        with open(path, "rb") as stream:
            stored = pickle.load(stream)  # a private file in a private directory (checked above)
    except Exception:
        return None  # a damaged cache entry: rebuilt and overwritten
    if not isinstance(stored, dict) or stored.get("format") != INDEX_FORMAT:
        return None
    if stored.get("sha256") != sha256 or stored.get("n_neighbors") != n_neighbors:
        return None  # built for another reference or M: rebuild
    if isinstance(stored["index"], ElementIndexes) != species_aware:
        return None  # not one index per element (or the reverse): rebuild
    return stored["index"]


def _write_index(path: Path, index, sha256: str, n_neighbors: int) -> None:
    """Pickle atomically (temporary file renamed), so readers never see half a file."""
    payload = {
        "format": INDEX_FORMAT,
        "version": INDEX_VERSION,
        "sha256": sha256,
        "n_neighbors": n_neighbors,
        "index": index,
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as stream:
            pickle.dump(payload, stream, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def approx_delta_entropy(
    Y: np.ndarray, X: np.ndarray, h: float, index, n_neighbors: int, epsilon: float = DEFAULT_EPSILON,
    labels=None, species=None,
) -> np.ndarray:
    """Upper bound of dH(y | X) in nats: the kernel sum over the ``n_neighbors`` found by ``index``.

    The index searches in float32; distances of the neighbours it returns are recomputed in
    float64 from ``Y`` and ``X`` (Å^-1), so only the choice of neighbours is approximate. With
    :class:`ElementIndexes` (species-aware X), ``labels`` gives the centre species of every row
    of Y and each row is searched among its own element's rows (``species``: names for errors).
    """
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    if not isinstance(index, ElementIndexes):
        return _approx_rows(Y, X, h, index, n_neighbors, epsilon, 0)
    if labels is None:
        raise ValueError("a species-aware reference needs the centre species of every row")
    labels = np.asarray(labels)
    result = np.empty(len(Y), dtype=np.float64)
    for s, rows in enumerate(species_groups(labels, len(index.indexes))):
        if len(Y[rows]) == 0:
            continue
        if index.indexes[s] is None:
            raise missing_species_error(s, species)
        result[rows] = _approx_rows(Y[rows], X, h, index.indexes[s], n_neighbors, epsilon, index.row_offsets[s])
    return result


def _approx_rows(Y, X, h, index, n_neighbors, epsilon, first_row) -> np.ndarray:
    """Rows of Y against X through ``index``, whose row 0 is row ``first_row`` of X."""
    result = np.empty(len(Y), dtype=np.float64)
    for start in range(0, len(Y), _BLOCK_ROWS):
        block = Y[start : start + _BLOCK_ROWS]
        neighbours, _ = index.query(block.astype(np.float32), k=n_neighbors, epsilon=epsilon)
        neighbours = np.where(neighbours >= 0, neighbours + first_row, -1)
        result[start : start + len(block)] = delta_entropy_of_neighbours(block, X, neighbours, h)
    return result
