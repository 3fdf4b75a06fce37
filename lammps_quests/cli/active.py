"""lammps-quests commands on saved structures: ``saved`` (what a de-duplicating save added)
and ``select`` (greedy choice of the most informative structures for labelling)."""

from __future__ import annotations

from pathlib import Path

import click

from lammps_quests.cli import main


def _load_reference(path):
    from lammps_quests.formats.reference import Reference

    try:
        return Reference.load(path, mmap=True)
    except ValueError as error:
        raise click.UsageError(str(error)) from None


@main.command(name="saved")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-r", "--reference", "reference_path", required=True, type=click.Path(path_type=Path),
              help="The reference file the run used (.qref).")
@click.option("--bandwidth", "h", type=float, default=None,
              help="Kernel bandwidth h in Å^-1 [default: the reference's; give the fix's if it set one].")
def saved_command(files, reference_path, h):
    """Recount what `fix quests ... save` added: structures, atoms, new environments, entropy.

    Reads the saved extended-XYZ FILES, recomputes the descriptors of the atoms flagged new
    (the environments the fix added to its in-memory extension of the reference) and prints
    the entropy they add to the reference, in nats, with the numbers the fix logged at the
    end of its run.

    \b
    Example:
      lammps-quests saved extrapolated.xyz -r ta_bcc.qref
    """
    from lammps_quests.active.saving import describe_saved, saved_summary
    from lammps_quests.formats.structures import read_frames
    from lammps_quests.active.extension import cached_entropy

    reference = _load_reference(reference_path)
    bandwidth = reference.bandwidth if h is None else float(h)
    try:
        frames, _ = read_frames(files, format="extxyz")
        counts, gain = saved_summary(frames, reference, bandwidth, cached_entropy(reference, bandwidth))
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    names = " ".join(str(f) for f in files)
    click.echo(describe_saved("saved", counts, gain, bandwidth, names))
