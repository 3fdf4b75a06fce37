"""lammps-quests reference commands (registered on lammps_quests.cli.main).

``lammps-quests reference build OUT FILES...`` computes the descriptors of every atom in the
given structure files and saves them as a reference file for ``fix quests``;
``lammps-quests reference info FILE`` checks a reference file and prints what it holds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from lammps_quests.cli import main
from lammps_quests.errors import QuestsInputError
from lammps_quests.cli._options import (REFERENCE_NAMES, TYPES_HELP, bandwidth_option, check_outputs, check_writable,
                                       descriptor_options, frame_options)


@main.group(name="reference")
def reference() -> None:
    """Build and inspect reference sets (the training environments dH is measured against).

    \b
    Example:
      lmp -in in.crystal                       # dumps frames of a short crystal MD
      lammps-quests reference build cu_fcc.qref dump.crystal.lammpstrj --index '5:'
      lammps-quests reference info cu_fcc.qref
    """


@reference.command(name="build")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@frame_options
@descriptor_options
@bandwidth_option(dest="bandwidth", help="Default kernel bandwidth in Å^-1 stored with the reference.")
@click.option("--elements", "elements", default=None, metavar="auto|El1,El2,...",
              help="Species-aware descriptors: 'auto' takes the elements of FILES (sorted), or "
                   "give the ordered list, e.g. In,P. Without it the descriptors see geometry only. "
                   + TYPES_HELP)
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
@click.option("--fast-index/--no-fast-index", "fast_index", default=None,
              help="Also build OUT.qidx, the cluster index of `dh --fast` and `fix quests ... fast` "
                   "(default: from 100,000 environments on).")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON (the file's header, the threshold guidance, the fast index) instead of text.")
def build(out: Path, files: tuple[Path, ...], index: str, fmt: str | None, k: int,
          cutoff: float, bandwidth: float, elements: str | None, force: bool,
          fast_index: bool | None, as_json: bool) -> None:
    """Compute descriptors of all atoms in FILES and save them to OUT.

    FILES may be anything ASE reads (extended XYZ, LAMMPS text dumps and data files, VASP
    POSCAR/OUTCAR/XDATCAR, ASE trajectories, ...). Positions must be in Å (LAMMPS units
    metal or real). Every atom of every selected frame becomes one reference environment.

    \b
    Example: frames 5, 10, 15, ... of a 300 K crystal run, default descriptor settings:
      lammps-quests reference build cu_fcc.qref dump.cu_300K.lammpstrj --index '5::5'
    \b
    then in the LAMMPS deck:
      fix q all quests 100 cu_fcc.qref threshold 0.0
    \b
    A compound, species-aware (the fix then maps atom types to elements):
      lammps-quests reference build inp.qref dump.inp_300K.lammpstrj --elements auto
    """
    from lammps_quests.formats._reference import Reference
    from lammps_quests.formats._structures import read_frames

    check_outputs([out], files, force, names=REFERENCE_NAMES)
    try:
        frames, sources = read_frames(files, index=index, format=fmt, elements=elements)
    except QuestsInputError as error:
        raise click.UsageError(str(error)) from None
    n_atoms = sum(len(frame) for frame in frames)
    mode = "species-aware" if elements else "species-agnostic"
    click.echo(f"read {len(frames)} frame(s), {n_atoms} atoms from {len(files)} file(s); "
               f"computing {mode} descriptors (k = {k}, cutoff {cutoff:g} Å)", err=True)
    from lammps_quests.analysis._progress import progress_bar

    if not elements:
        click.echo("then the threshold guidance: leave-one-out dH of the environments (cached in OUT)", err=True)
    try:
        with progress_bar(n_atoms, "descriptors", unit="atom") as bar, \
                progress_bar(_guidance_rows(frames, elements), "threshold guidance", unit="env") as guidance:
            ref = Reference.build(frames, k=k, cutoff=cutoff, bandwidth=bandwidth, sources=sources,
                                  elements=elements, progress=bar.update, guidance_progress=guidance.update)
    except QuestsInputError as error:
        raise click.UsageError(str(error)) from None
    ref.save(out)  # Reference.build cached the threshold guidance in the header
    if not as_json:
        click.echo(ref.summary())
        click.echo(_threshold_guidance(ref))
    from lammps_quests.formats._fast_index import AUTO_INDEX_ENVIRONMENTS

    built = None
    if fast_index or (fast_index is None and ref.n_environments >= AUTO_INDEX_ENVIRONMENTS):
        built = _build_fast_index(ref, as_json=as_json)
    else:
        _remove_stale_index(out, as_json)
    if as_json:
        _print_json({"reference": str(out), "frames": len(frames), "atoms": n_atoms, "header": ref.header(),
                     "threshold_guidance": _guidance_data(ref), "fast_index": built})


def _guidance_rows(frames, elements) -> int:
    """Rows the threshold guidance of Reference.build computes: per element when species-aware."""
    from collections import Counter

    from lammps_quests.core._threshold import rows_used

    if not elements:
        return rows_used(sum(len(frame) for frame in frames))
    counts = Counter(symbol for frame in frames for symbol in frame.get_chemical_symbols())
    return sum(rows_used(n) for n in counts.values())


def _print_json(data) -> None:
    click.echo(json.dumps(data, indent=1, allow_nan=False))


def _remove_stale_index(out: Path, quiet_stdout: bool = False) -> None:
    """An index beside a rebuilt reference (--force) belongs to the old one: remove it."""
    from lammps_quests.formats._fast_index import fast_index_path

    stale = fast_index_path(out)
    if stale.exists():
        stale.unlink()
        click.echo(f"removed {stale}: the fast index of the replaced {out.name} (rebuild it with "
                   f"`lammps-quests reference index {out}`)", err=quiet_stdout)


def _build_fast_index(ref, cluster_size=None, as_json: bool = False) -> dict:
    """Build and save REF.qidx; prints one line (to stderr with ``as_json``) and returns
    {"path", "clusters", "seconds"}."""
    import time

    from lammps_quests.core._cluster_index import default_cluster_size
    from lammps_quests.formats._fast_index import build_fast_index, save_fast_index

    size = f"~{cluster_size}" if cluster_size is not None else \
        f"~{default_cluster_size(ref.n_environments)}" if not ref.species_aware else "~1.5 sqrt(n) per element"
    click.echo(f"building the fast index of {ref.n_environments} environments (clusters of {size})...",
               err=True)
    from lammps_quests.analysis._progress import progress_bar
    from lammps_quests.core._cluster_index import KMEANS_ITERATIONS

    start = time.perf_counter()
    with progress_bar(ref.n_environments * (KMEANS_ITERATIONS + 1), "fast index: k-means", unit="row") as bar:
        index = build_fast_index(ref, cluster_size=cluster_size, progress=bar.update)
    path = save_fast_index(index, ref, cluster_size=cluster_size)
    seconds = time.perf_counter() - start
    click.echo(f"fast index:        {path} ({index.n_clusters} clusters, {seconds:.1f} s)", err=as_json)
    return {"path": str(path), "clusters": int(index.n_clusters), "seconds": round(seconds, 3)}


@reference.command(name="index")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--cluster-size", type=int, default=None,
              help="Mean reference environments per cluster (default ~1.5 sqrt(n), 32 to 1024); "
                   "only speed depends on it.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (path, clusters, seconds) instead of text.")
def index_command(file: Path, cluster_size: int | None, as_json: bool) -> None:
    """Build FILE.qidx, the cluster index that `dh --fast` and `fix quests ... fast` use.

    The index is tied to the reference's descriptors (sha256): rebuild it whenever the
    reference is rebuilt. It holds a cluster-ordered copy of the descriptors (about the size of
    FILE), memory-mapped and shared by the MPI ranks of a node.

    \b
    Example:
      lammps-quests reference index train.qref
    """
    from lammps_quests.formats._fast_index import fast_index_path
    from lammps_quests.formats._reference import Reference

    check_writable(fast_index_path(file))  # before the work, which can take minutes
    try:
        ref = Reference.load(file, mmap=True)
        built = _build_fast_index(ref, cluster_size, as_json=as_json)
    except QuestsInputError as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        _print_json({"reference": str(file), "fast_index": built})


@reference.command(name="info")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Check the sha256 of the descriptors against the header (reads the whole file).")
@click.option("--json", "as_json", is_flag=True, help="Print the file's JSON header instead of a summary.")
def info(file: Path, verify: bool, as_json: bool) -> None:
    """Check a reference file and print its settings, size, hash and sources.

    \b
    Example:
      lammps-quests reference info cu_fcc.qref
    """
    from lammps_quests.formats._reference import Reference

    try:
        ref = Reference.load(file, mmap=True, verify_hash=verify)
    except QuestsInputError as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        json.dump(ref.header(), sys.stdout, indent=1)
        click.echo()
    else:
        click.echo(ref.summary())
        click.echo(f"check:             header, size, finite values{', sha256' if verify else ''}: OK")
        click.echo(_threshold_guidance(ref))


def _guidance_data(ref):
    """The threshold guidance as data: the summary dict, or {element: summary} (species-aware)."""
    from lammps_quests.core._threshold import cached_self_information, element_self_information, self_information

    if ref.species_aware:
        return dict(element_self_information(ref, ref.bandwidth)[0])
    return cached_self_information(ref, ref.bandwidth) or self_information(ref.descriptors, ref.bandwidth)


def _threshold_guidance(ref) -> str:
    """The leave-one-out dH distribution: from the header, or computed now (bounded sample);
    for a species-aware reference one per centre element (dH against that element's rows)."""
    from lammps_quests.core._threshold import (cached_self_information, describe, describe_elements,
                                                element_self_information, self_information)

    if ref.species_aware:
        summaries, cached = element_self_information(ref, ref.bandwidth)
        note = "" if cached else " (computed now: not cached in this file, which predates the cache)"
        return "threshold guidance, per centre element" + note + ":\n" + describe_elements(summaries)
    info = cached_self_information(ref, ref.bandwidth)
    note = ""
    if info is None:
        info = self_information(ref.descriptors, ref.bandwidth)
        note = " (computed now: not cached in this file for this bandwidth)"
    return "threshold guidance" + note + ":\n" + describe(info, indent="  ")
