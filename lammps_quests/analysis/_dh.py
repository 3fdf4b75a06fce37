"""Per-atom differential entropy dH of frames against a reference file (paper Eq. 8).

dH > 0: the environment brings information the reference lacks (extrapolation); dH <= 0: it
is covered. Exact dH uses the core's kernel sums; ``approx=M`` sums only over the M nearest
reference environments found by PyNNDescent (an upper bound, see :mod:`._approx`); ``fast=True``
uses the reference's cluster index (``<reference>.qidx``) and skips clusters that provably
do not matter: exact to ``tol`` nats, or certified decisions with ``decide`` thresholds (see
:mod:`lammps_quests.core._pruned_sums`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lammps_quests.errors import QuestsInputError

from ._approx import (
    DEFAULT_EPSILON,
    approx_delta_entropy,
    check_neighbors,
    load_or_build_ann_index,
)
from lammps_quests.dh._reference_dh import ReferenceDh
from ._rows import map_rows

DH_COLUMN = "dH"


def dh_against_reference(
    Y: np.ndarray,
    reference,
    bandwidth: float | None = None,
    approx: int | None = None,
    epsilon: float = DEFAULT_EPSILON,
    ann_index_file=None,
    comm=None,
    progress: bool | None = None,
    fast: float | None = None,
    decide: bool = False,
    thresholds=(0.0,),
    fast_index=None,
    y_labels: np.ndarray | None = None,
) -> np.ndarray:
    """dH(y | reference) in nats for every row of ``Y`` (descriptors, Å^-1).

    Exact and fast dH go through :class:`~lammps_quests.dh.ReferenceDh`, the
    one computation every route shares; species-aware references compare each row with the
    reference rows centred on its own element, in every mode.

    Args:
        Y: descriptors computed with the reference's k, cutoff (and species).
        reference: a :class:`lammps_quests.formats.Reference`.
        bandwidth: Å^-1; None takes the reference's.
        approx: None for exact dH, or M >= 1 nearest neighbours (upper bound of dH; per element
            for a species-aware reference).
        epsilon: PyNNDescent search breadth for ``approx``.
        ann_index_file: where the approximate (PyNNDescent) index lives (default: the user's
            cache directory, see :mod:`._approx`; never beside the reference).
        comm: MPI communicator splitting the rows, or None.
        progress: show a progress bar (None: on a terminal, rank 0 only).
        fast: None for the exact dH, else the tolerance in nats of the reference's fast index:
            exact dH <= result <= exact dH + ``fast``.
        decide: with ``fast``, certify only the decisions dH > t for t in ``thresholds``
            (nats); with t0 the smallest, values > t0 are within ``fast`` of exact, values <= t0
            upper bounds (:func:`~lammps_quests.dh._reference_dh.bound_mask` tells them apart).
        thresholds: the t of ``decide``, nats.
        fast_index: the loaded index, or None to read ``<reference>.qidx`` (refused if stale).
        y_labels: for a species-aware reference, the species number (in ``reference.elements``)
            of each row's centre atom.

    Returns:
        (n,) dH in nats.
    """
    X = reference.descriptors
    if Y.shape[1] != X.shape[1]:
        raise QuestsInputError(
            f"descriptor width {Y.shape[1]} does not match the reference's {X.shape[1]} "
            f"(k = {reference.k}); compute the test descriptors with the reference's k"
        )
    if reference.species_aware and y_labels is None:
        raise QuestsInputError("a species-aware reference needs the centre species of every row (y_labels)")
    labels = y_labels if reference.species_aware else None

    def rows_of(first, last):
        return None if labels is None else labels[first:last]

    if fast is not None and approx is not None:
        raise QuestsInputError("choose one of --fast and --approx")
    if approx is None:
        dh = ReferenceDh(reference, bandwidth, fast=fast, decide=decide, thresholds=thresholds, fast_index=fast_index)
        return map_rows(lambda first, last: dh(Y[first:last], rows_of(first, last)), len(Y), comm, progress,
                        "fast dH" if fast is not None else "dH")
    bandwidth = reference.bandwidth if bandwidth is None else float(bandwidth)
    m = check_neighbors(approx, reference.n_environments)
    ann_index = load_or_build_ann_index(reference, m, path=ann_index_file, comm=comm)
    return map_rows(
        lambda first, last: approx_delta_entropy(Y[first:last], X, bandwidth, ann_index, m, epsilon,
                                                 rows_of(first, last), reference.elements or None),
        len(Y),
        comm,
        progress,
        f"approximate dH (M={m})",
    )


def dh_summary(values: np.ndarray, bandwidth: float, approx: int | None = None, labels=None, elements=()) -> dict:
    """Summary of per-atom dH (nats): n, max, mean, min, fraction with dH > 0; with ``elements``
    and ``labels`` (centre species of each atom) also one summary per centre element."""
    values = np.asarray(values, dtype=float)
    summary = _summary(values, bandwidth, approx)
    if elements:
        summary["per_species"] = {symbol: _summary(values[labels == s], bandwidth, approx)
                                  for s, symbol in enumerate(elements) if np.any(labels == s)}
    return summary


def _summary(values: np.ndarray, h: float, approx: int | None) -> dict:
    return {
        "n": int(values.size),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "min": float(values.min()),
        "fraction_positive": float(np.mean(values > 0.0)),
        "bandwidth": float(h),
        "approx_neighbors": approx,
    }


def split_per_frame(values: np.ndarray, frames) -> list[np.ndarray]:
    """Cut one per-atom array (frames concatenated) into one array per frame."""
    sizes = np.array([len(frame) for frame in frames])
    return np.split(np.asarray(values), np.cumsum(sizes)[:-1])


def write_frames_with_dh(path, frames, values: np.ndarray, column: str = DH_COLUMN) -> Path:
    """Write ``frames`` with a per-atom dH column (see :func:`write_frames_with_columns`)."""
    return write_frames_with_columns(path, frames, {column: values})


#: per-atom arrays of ase.Atoms that the dump writer writes itself or that are not one number per atom
_NOT_CARRIED = ("numbers", "positions", "type", "id")


def carried_columns(frames, new: dict) -> dict:
    """{name: [one array per frame]} of the numeric one-value-per-atom arrays that every frame
    carries (columns of the input file), except those in ``new`` and those a dump has anyway."""
    names = set.intersection(*(set(frame.arrays) for frame in frames)) if frames else set()
    carried = {}
    for name in sorted(names - set(_NOT_CARRIED) - set(new)):
        arrays = [np.asarray(frame.arrays[name]) for frame in frames]
        if all(a.ndim == 1 and a.dtype.kind in "iuf" for a in arrays):
            carried[name] = arrays
    return carried


def write_frames_with_columns(path, frames, columns: dict) -> Path:
    """Write ``frames`` with per-atom columns ``{name: array over all atoms of all frames}``.

    A LAMMPS dump for ``*.lammpstrj``/``*.dump``/``dump.*`` names, extended XYZ otherwise.
    The frames get ``frame.arrays[name]`` set. The per-atom columns the input carried (a dump's
    ``f_q``, ``c_pe``, ...) are written too, in both formats (a new column of the same name wins).
    """
    from lammps_quests.formats._lammps_dump import write_lammps_dump

    path = Path(path)
    per_frame = {name: split_per_frame(values, frames) for name, values in columns.items()}
    name = path.name.lower()
    if name.endswith((".lammpstrj", ".dump")) or name.startswith("dump."):
        return write_lammps_dump(path, frames, {**carried_columns(frames, per_frame), **per_frame})
    import ase.io

    # The columns are added to the frames themselves (not copies) so that energies and forces
    # the input carried stay attached to them and are written too.
    for number, frame in enumerate(frames):
        for column, values in per_frame.items():
            frame.arrays[column] = np.asarray(values[number])
    ase.io.write(path, frames, format="extxyz")
    return path
