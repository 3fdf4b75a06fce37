"""lammps-quests commands on saved structures: ``saved`` (what a de-duplicating save added)
and ``select`` (greedy choice of the most informative structures for labelling)."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from lammps_quests.cli import main
from lammps_quests.errors import QuestsInputError
from lammps_quests.cli._options import (EXTXYZ_NAMES, bandwidth_option, check_outputs, force_option, frame_options,
                                       json_option, reference_option)


def _load_reference(path):
    from lammps_quests.formats._reference import Reference

    try:
        return Reference.load(path, mmap=True)
    except QuestsInputError as error:
        raise click.UsageError(str(error)) from None


@main.command(name="saved")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@reference_option("The reference file the run used (.qref).")
@bandwidth_option(None, help="Kernel bandwidth h in Å^-1 [default: the reference's; give the fix's if it set one].")
@json_option
def saved_command(files, reference_path, h, as_json):
    """Recount what `fix quests ... save` added: structures, atoms, new environments, entropy.

    Reads the saved extended-XYZ FILES, recomputes the descriptors of the atoms flagged new
    (the environments the fix added to its in-memory extension of the reference) and prints
    the entropy they add to the reference, in nats, with the numbers the fix logged at the
    end of its run.

    \b
    Example:
      lammps-quests saved extrapolated.xyz -r ta_bcc.qref
    """
    from lammps_quests.active._saving import describe_saved, saved_summary
    from lammps_quests.formats._structures import read_frames
    from lammps_quests.active._extension import cached_entropy

    reference = _load_reference(reference_path)
    bandwidth = reference.bandwidth if h is None else float(h)
    try:
        frames, _ = read_frames(files, format="extxyz")
        _check_judged_by(files, reference, reference_path)
        counts, gain = saved_summary(frames, reference, bandwidth, cached_entropy(reference, bandwidth))
    except QuestsInputError as error:
        raise click.UsageError(str(error)) from None
    names = " ".join(str(f) for f in files)
    if as_json:
        added = gain is not None and counts.new > 0
        _print_json({"files": [str(f) for f in files], "reference": str(reference_path), "bandwidth": bandwidth,
                     "structures": counts.structures, "atoms": counts.atoms, "new_environments": counts.new,
                     "entropy_reference": gain.reference if added else None,
                     "entropy_union": gain.union if added else None,
                     "entropy_added": gain.added if added else 0.0})
        return
    click.echo(describe_saved("saved", counts, gain, bandwidth, names))


def _print_json(data) -> None:
    import json

    click.echo(json.dumps(data, indent=2, allow_nan=False))


def _check_judged_by(files, reference, reference_path) -> None:
    """Each saved structure records the sha256 of the reference that judged it: refuse a
    reference other than the run's (the entropy it added would mean nothing)."""
    from lammps_quests.active._save_target import check_judged_by
    from lammps_quests.formats._structures import read_frames

    for path in files:
        try:
            check_judged_by(read_frames([path], format="extxyz")[0], reference.sha256, path, what="saved file")
        except QuestsInputError as error:
            raise click.ClickException(f"{error} (-r {reference_path})") from None


@main.command(name="select")
@click.argument("pool", nargs=-1, required=True, type=click.Path(path_type=Path))
@reference_option("The reference (.qref) the picks add information to.")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Extended-XYZ file receiving the picked structures, in pick order.")
@click.option("--max", "max_picks", type=click.IntRange(min=1), default=None,
              help="Stop after this many picks [default: no limit].")
@click.option("--until", "until", type=float, default=0.0, show_default=True,
              help="Stop when no atom of the pool has dH > this (nats) against reference ∪ picked "
                   "outside what the picks already cover (dH > 0 against them alone); structures "
                   "with no such atom are never picked.")
@bandwidth_option(None)
@force_option
@frame_options
@json_option
def select_command(pool, reference_path, output, max_picks, until, h, index, fmt, force, as_json):
    """Pick the structures of POOL that add the most information to the reference.

    Greedy: each step picks the structure whose atoms raise the entropy of reference ∪
    picked the most (nats, printed per pick), among those with an atom whose dH against
    reference ∪ picked exceeds --until and that the picks do not already cover (dH against
    them alone above 0, which follows for --until >= 0); it stops after --max picks, when no
    such atom is left, or when no structure would raise the entropy (best gain <= 0 nats).
    With a species-aware reference every atom is compared with environments
    centred on its own element (the elements come from the structures' symbols). Cut-outs
    written by `fix quests ... save t FILE cut R` count only their
    atoms with exact = 1 (the others' environments were cut). Deterministic; under
    `mpirun -np P` the passes over the reference are split over the ranks.

    \b
    Example:
      lammps-quests select extrapolated.xyz -r ta_bcc.qref --max 5 -o to_label.xyz
    """
    from lammps_quests.active._extension import cached_entropy
    from lammps_quests.active._structure import Structure
    from lammps_quests.analysis._parallel import world
    from lammps_quests.dh._reference_dh import ReferenceDh
    from lammps_quests.analysis._selection import select
    from lammps_quests.formats._structures import read_frames

    check_outputs([output], [*pool, reference_path], force, names=EXTXYZ_NAMES)
    comm = world()
    root = comm is None or comm.Get_rank() == 0
    reference = _load_reference(reference_path)
    bandwidth = reference.bandwidth if h is None else float(h)
    try:
        frames, sources = read_frames(pool, index=index, format=fmt,
                                      elements="auto" if reference.species_aware else None)
        structures = [Structure.from_atoms(atoms) for atoms in frames]
        candidates, candidate_labels = _candidates(structures, ReferenceDh(reference, bandwidth))
    except QuestsInputError as error:
        raise click.UsageError(str(error)) from None
    labels = [f"{name}:{number}" for name, source in zip(pool, sources)
              for number in _frame_numbers(source)]
    aware = reference.species_aware
    from lammps_quests.analysis._progress import progress_bar

    with progress_bar(len(candidates), "select: pool against the reference", enabled=None if root else False,
                      unit="structure") as bar:
        result = select(candidates, reference.descriptors, bandwidth, max_picks=max_picks, until=until,
                        reference_entropy=None if aware else cached_entropy(reference, bandwidth), comm=comm,
                        candidate_labels=candidate_labels if aware else None,
                        reference_labels=reference.species_labels if aware else None,
                        n_species=len(reference.elements) if aware else None, progress=bar.update)
    if not root:
        return
    if result.picks and output.exists():  # --force: replaced (check_outputs refused it otherwise)
        output.unlink()
    text = not as_json
    if text:
        click.echo(f"reference: H = {result.reference_entropy:.9g} nats, {reference.n_environments} "
                   f"environments, h = {bandwidth:g} Å^-1; pool: {len(frames)} structure(s)")
        click.echo(f"{'pick':>4} {'structure':<40} {'atoms':>6} {'dH>t':>6} {'max dH':>9} "
                   f"{'gain (nats)':>13} {'H after':>13}")
    for rank, pick in enumerate(result.picks, start=1):
        if text:
            click.echo(f"{rank:>4} {_short(labels[pick.candidate]):<40} {pick.atoms:>6} {pick.above:>6} "
                       f"{pick.max_dh:>9.4g} {pick.gain:>13.9g} {pick.entropy:>13.9g}")
        structure = structures[pick.candidate]
        structure.info = {**_plain(structure.info), "select_rank": rank, "entropy_gain": pick.gain,
                          "selected_from": labels[pick.candidate].replace(" ", "_")}
        structure.write(output)
    total = sum(p.gain for p in result.picks)
    if as_json:
        _print_json({"reference": str(reference_path), "bandwidth": bandwidth,
                     "reference_entropy": result.reference_entropy, "pool_structures": len(frames),
                     "picks": [{"rank": rank, "structure": labels[p.candidate], "atoms": p.atoms, "above": p.above,
                                "max_dh": p.max_dh, "gain": p.gain, "entropy": p.entropy}
                               for rank, p in enumerate(result.picks, start=1)],
                     "entropy_gained": total, "stopped": result.stopped,
                     "output": str(output) if result.picks else None})
        return
    where = f"written to {output}" if result.picks else f"nothing written ({output} not created or changed)"
    click.echo(f"{len(result.picks)} pick(s), entropy gained {total:.9g} nats; stopped: {result.stopped}; "
               f"{where}")


def _candidates(structures, reference_dh) -> tuple[list, list]:
    """Descriptors (Å^-1) and centre species (None when species-agnostic) of each structure's
    atoms, as the saver computes them; cut-outs (an ``exact`` column) only of their atoms with
    exact = 1."""
    from lammps_quests.active._saving import environments

    candidates, candidate_labels = [], []
    for structure in structures:
        rows = np.arange(len(structure))
        if "exact" in structure.columns:
            rows = np.flatnonzero(np.asarray(structure.columns["exact"]) == 1)
        Y, row_labels = environments(structure, rows, reference_dh)
        candidates.append(Y)
        candidate_labels.append(row_labels)
    return candidates, candidate_labels


def _frame_numbers(source) -> list[int]:
    frames = source["frames"]
    return list(range(frames["start"], frames["stop"], frames["step"])) if isinstance(frames, dict) \
        else list(range(source["n_frames"]))


def _short(label: str) -> str:
    return label if len(label) <= 40 else "..." + label[-37:]


def _plain(info: dict) -> dict:
    """Info entries an extended-XYZ comment line can hold (numbers, strings without spaces)."""
    return {k: v for k, v in info.items()
            if isinstance(v, (int, float, np.integer, np.floating)) or (isinstance(v, str) and " " not in v)}
