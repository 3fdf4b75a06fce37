"""lammps-quests analysis commands (registered on lammps_quests.cli.main).

``entropy``, ``dh``, ``overlap``, ``learning-curve``, ``compress``, ``clusters`` and
``bandwidth``: thin click wrappers around :mod:`lammps_quests.analysis`, which holds the
documented Python API. ``entropy``, ``dh`` and ``overlap`` split their rows over MPI ranks when
started with ``mpirun -np P``; only rank 0 prints and writes files.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
from click.core import ParameterSource

from lammps_quests.cli import main
from lammps_quests.cli._options import (CSV_NAMES, FRAMES_WITH_COLUMNS, PNG_NAMES, bandwidth_option, check_ase_output,
                                       check_outputs, descriptor_options, dh_species_option, force_option,
                                       frame_options, json_option, reference_option, species_option, user_errors)
from lammps_quests.core._defaults import DEFAULT_FAST_TOLERANCE


def _comm():
    from lammps_quests.analysis._parallel import world

    return world()


def _serial_only(name: str) -> None:
    """Commands without an MPI split refuse mpirun: P copies would write the same files."""
    from lammps_quests.analysis._parallel import launched_with_mpi

    if launched_with_mpi():
        raise click.UsageError(f"{name} does not run under MPI (only entropy, dh and overlap do); "
                               "start it without mpirun")


def _is_root(comm) -> bool:
    return comm is None or comm.Get_rank() == 0


def _ranks(comm) -> int:
    return 1 if comm is None else comm.Get_size()


def _print_json(data) -> None:
    click.echo(json.dumps(data, indent=2, allow_nan=False))


def _check_output_dir(*paths) -> None:
    for path in paths:
        if path is not None and not Path(path).resolve().parent.is_dir():
            raise click.UsageError(f"cannot write {path}: its directory does not exist; create it first")


# --------------------------------------------------------------------------------- entropy
@main.command(name="entropy")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@frame_options
@descriptor_options
@bandwidth_option()
@click.option("--together", is_flag=True, help="Pool all FILES into one dataset instead of one row per file.")
@species_option
@json_option
@user_errors
def entropy_command(files, index, fmt, k, cutoff, species, h, together, as_json):
    """Information entropy H, log n, efficiency H/log n and diversity D of datasets.

    One row per file (or one for all with --together); all values in nats. n is the number of
    atomic environments. Under `mpirun -np P` the rows of the kernel sums are split over ranks.

    \b
    Examples:
      lammps-quests entropy train.xyz test.xyz
      lammps-quests entropy dump.melt.lammpstrj --index '::10' --json
      mpirun -np 2 lammps-quests entropy big.xyz
      lammps-quests entropy inp.xyz --species auto     # plus one row per centre element
    """
    from lammps_quests.analysis import entropy_summary, read_datasets

    comm = _comm()
    groups = [list(files)] if together else [[path] for path in files]
    rows = []
    for data in read_datasets(groups, index=index, k=k, cutoff=cutoff, format=fmt, comm=comm, species=species):
        rows.append(entropy_summary(data.descriptors, h, name=data.name, comm=comm,
                                    labels=data.labels, species=data.species))
    if not _is_root(comm):
        return
    if as_json:
        _print_json({"mpi_ranks": _ranks(comm), "datasets": [row.as_dict() for row in rows]})
        return
    click.echo(f"{'dataset':<30} {'n':>9} {'H (nats)':>10} {'log n':>9} {'H/log n':>8} {'D (nats)':>10}")
    for row in rows:
        for line, name in [(row, row.name)] + [(part, f"  centred on {part.name}") for part in row.per_species]:
            efficiency = "-" if line.efficiency is None else f"{line.efficiency:.4f}"
            click.echo(f"{name:<30} {line.n:>9d} {line.entropy:>10.4f} {line.log_n:>9.4f} "
                       f"{efficiency:>8} {line.diversity:>10.4f}")


# --------------------------------------------------------------------------------- dh
@main.command(name="dh")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@reference_option()
@frame_options
@bandwidth_option(None)
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the frames with a per-atom dH column: a LAMMPS dump for *.lammpstrj, "
                   "*.dump or dump.* names, extended XYZ otherwise.")
@click.option("--approx", "approx", type=int, default=None, metavar="M",
              help="Approximate dH from the M nearest reference environments (PyNNDescent); an "
                   "upper bound of the exact dH. The index is kept in the user's cache directory "
                   "(~/.cache/lammps-quests), never beside the reference.")
@click.option("--epsilon", type=float, default=0.1, show_default=True,
              help="Search breadth of the approximate neighbour queries (with --approx).")
@click.option("--index-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to store/read the --approx index instead of the user's cache directory "
                   "(never the reference's directory; loaded only if private to you).")
@click.option("--fast", is_flag=True,
              help="Use the reference's fast index (REF.qidx, from `lammps-quests reference index "
                   "REF`): skips reference clusters that provably do not matter; exact dH <= "
                   "result <= exact dH + TOL.")
@force_option
@click.option("--tol", type=float, default=DEFAULT_FAST_TOLERANCE, show_default=True,
              help="With --fast: largest excess over the exact dH, nats.")
@click.option("--decide", "decide", type=float, multiple=True, metavar="T",
              help="With --fast: certify only the decisions dH > T (repeatable; 0 is always "
                   "included, for the fraction dH>0): values above the smallest T stay within "
                   "TOL of exact, values at or below it become upper bounds (column dH_bound = 1 "
                   "in --out); much faster where most atoms are below every T.")
@dh_species_option
@json_option
@user_errors
def dh_command(files, reference_path, index, fmt, h, out, approx, epsilon, index_file, fast, tol, decide,
               species, as_json, force):
    """Per-atom differential entropy dH of FILES against a reference (nats).

    dH > 0: the environment lies outside the reference (extrapolation). Prints the number of
    atoms, max, mean, min and the fraction with dH > 0; --out writes the per-atom values.
    Descriptors use the reference's k and cutoff.

    \b
    Examples:
      lammps-quests dh dump.melt.lammpstrj -r cu_fcc.qref -o dh.lammpstrj
      lammps-quests dh test.xyz -r train.qref --approx 10 --json
      lammps-quests dh test.xyz -r big.qref --fast --decide 0
      mpirun -np 2 lammps-quests dh big.xyz -r train.qref
    """
    from lammps_quests.analysis import dh_against_reference, dh_summary, load_reference, read_dataset

    _check_output_dir(out, index_file)
    check_outputs([out], [*files, reference_path], force, names=FRAMES_WITH_COLUMNS)
    comm = _comm()
    reference = load_reference(reference_path)
    data = read_dataset(files, index=index, k=reference.k, cutoff=reference.cutoff, format=fmt, comm=comm,
                        species=reference.species or None, elements=_elements(reference, species))
    h = reference.bandwidth if h is None else h
    if decide and not fast:
        raise click.UsageError("--decide needs --fast")
    if not fast and click.get_current_context().get_parameter_source("tol") != ParameterSource.DEFAULT:
        raise click.UsageError("--tol needs --fast (exact dH has no tolerance)")
    thresholds = sorted({0.0, *decide}) if decide else None
    values = dh_against_reference(data.descriptors, reference, h=h, approx=approx, epsilon=epsilon,
                                  index_file=index_file, comm=comm, fast=fast, tol=tol, decide=thresholds,
                                  y_labels=data.labels)
    if not _is_root(comm):
        return
    summary = {"files": [str(p) for p in files], "reference": str(reference_path),
               **dh_summary(values, h, approx, data.labels, data.species), "mpi_ranks": _ranks(comm)}
    if fast:
        summary.update(fast=True, tol=tol, decide=thresholds)
    if out is not None:
        _write_values(out, data.frames, values, tol if fast else None, thresholds)
        summary["out"] = str(out)
    if as_json:
        _print_json(summary)
        return
    kind = "exact" if approx is None else f"approximate, M = {approx} (upper bound)"
    if fast:
        kind = (f"fast, within {tol:g} nats of exact" if not decide else
                f"fast, decisions dH > {', '.join(f'{t:g}' for t in thresholds)} certified; within "
                f"{tol:g} nats of exact above {min(thresholds):g}, upper bounds at or below")
    click.echo(f"dH against {reference_path} ({kind}, h = {h:g} Å^-1)")
    click.echo(f"  atoms:          {summary['n']}")
    click.echo(f"  max dH:         {summary['max']:.6f} nats")
    click.echo(f"  mean dH:        {summary['mean']:.6f} nats")
    click.echo(f"  min dH:         {summary['min']:.6f} nats")
    click.echo(f"  fraction dH>0:  {summary['fraction_positive']:.6f}")
    for symbol, part in summary.get("per_species", {}).items():
        click.echo(f"  centred on {symbol}: {part['n']} atoms, max dH {part['max']:.6f}, mean "
                   f"{part['mean']:.6f} nats, fraction dH>0 {part['fraction_positive']:.6f}")
    if out is not None:
        bounds = "; column dH_bound: 1 where dH is an upper bound" if decide else ""
        click.echo(f"  per-atom dH written to {out} (column dH{bounds})")


def _write_values(out, frames, values, fast_tol, thresholds) -> None:
    """Write the frames with column dH and, in decide mode, dH_bound (1: upper bound only);
    extended-XYZ frames also get the info ``dH_values`` saying what the values are."""
    from lammps_quests.analysis import write_frames_with_columns
    from lammps_quests.dh._reference_dh import bound_mask, values_note

    columns = {"dH": values}
    bound = bound_mask(values, thresholds) if fast_tol is not None else None
    if bound is not None:
        columns["dH_bound"] = bound.astype(np.int64)
    if fast_tol is not None:
        for frame in frames:
            frame.info["dH_values"] = values_note(fast_tol, thresholds)
    write_frames_with_columns(out, frames, columns)


def _elements(reference, species):
    """What names the atom types of the inputs against ``reference``: for a species-aware one
    the user's --species, else 'auto' (the files' elements, never the reference's species order);
    None (elements do not matter) for a species-agnostic one."""
    if not reference.species:
        return None
    return species or "auto"


# --------------------------------------------------------------------------------- overlap
@main.command(name="overlap")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@frame_options
@descriptor_options
@bandwidth_option()
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the matrix as CSV.")
@click.option("--png", "png_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a heatmap (640 x 480 PNG).")
@force_option
@species_option
@json_option
@user_errors
def overlap_command(files, index, fmt, k, cutoff, species, h, csv_path, png_path, as_json, force):
    """Overlap matrix of datasets: entry (row A, column B) = fraction of A with dH(a | B) <= 0.

    The diagonal is 1 (a set covers itself); disjoint sets give 0. Needs two or more FILES.

    \b
    Example:
      lammps-quests overlap fcc.xyz bcc.xyz liquid.xyz --csv overlap.csv --png overlap.png
    """
    from lammps_quests.analysis import overlap_matrix, read_datasets
    from lammps_quests.analysis._overlap import write_overlap_csv
    from lammps_quests.analysis._plots import overlap_heatmap

    if len(files) < 2:
        raise click.UsageError("overlap needs at least two files (the sets to compare)")
    _check_output_dir(csv_path, png_path)
    check_outputs([csv_path, png_path], files, force, names={csv_path: CSV_NAMES, png_path: PNG_NAMES})
    comm = _comm()
    datasets = read_datasets([[path] for path in files], index=index, k=k, cutoff=cutoff, format=fmt, comm=comm,
                             species=species)
    names = [data.name for data in datasets]
    matrix = overlap_matrix([data.descriptors for data in datasets], h, names=names, comm=comm,
                            labels=[data.labels for data in datasets], species=datasets[0].species)
    if not _is_root(comm):
        return
    if csv_path:
        write_overlap_csv(csv_path, matrix, names)
    if png_path:
        overlap_heatmap(png_path, matrix, names)
    if as_json:
        _print_json({"names": names, "bandwidth": h, "overlap": matrix.tolist(), "mpi_ranks": _ranks(comm)})
        return
    width = max(12, max(len(name) for name in names) + 1)
    click.echo(f"{'rows vs columns':<{width}}" + "".join(f"{name:>{width}}" for name in names))
    for name, row in zip(names, matrix):
        click.echo(f"{name:<{width}}" + "".join(f"{value:>{width}.4f}" for value in row))


# --------------------------------------------------------------------------------- learning curve
@main.command(name="learning-curve")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@frame_options
@descriptor_options
@bandwidth_option()
@click.option("--points", type=int, default=16, show_default=True,
              help="Number of subset sizes, log-spaced from --smallest to all environments.")
@click.option("--smallest", type=int, default=10, show_default=True, help="Smallest subset size.")
@click.option("--repeats", type=int, default=3, show_default=True, help="Random subsets per size.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the subsets.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write sizes, mean and std of H, and the fitted curve as CSV.")
@click.option("--png", "png_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a plot of H against N with the fit (640 x 480 PNG).")
@force_option
@species_option
@json_option
@user_errors
def learning_curve_command(files, index, fmt, k, cutoff, species, h, points, smallest, repeats, seed,
                           csv_path, png_path, as_json, force):
    """Entropy against number of environments and its asymptote (paper Eq. 9).

    Fits f(N) = a - b exp(-c (log N)^2), a, b, c >= 0, dropping the first and last three
    points; a is the asymptotic entropy and the information gap is a - H(all environments).

    \b
    Example:
      lammps-quests learning-curve train.xyz --repeats 5 --csv lc.csv --png lc.png
    """
    from lammps_quests.analysis import entropy_curve, fit_eq9, read_dataset
    from lammps_quests.analysis._learning_curve import DISCARD, default_sizes, write_curve_csv
    from lammps_quests.analysis._plots import learning_curve_plot

    _serial_only("learning-curve")
    _check_output_dir(csv_path, png_path)
    check_outputs([csv_path, png_path], files, force, names={csv_path: CSV_NAMES, png_path: PNG_NAMES})
    data = read_dataset(files, index=index, k=k, cutoff=cutoff, format=fmt, species=species)
    sizes = default_sizes(len(data.descriptors), points, smallest)
    needed = 2 * DISCARD + 3
    if sizes.size < needed:
        raise click.UsageError(
            f"{data.name} gives only {sizes.size} distinct subset sizes between {sizes[0]} and "
            f"{len(data.descriptors)} environments; the Eq. 9 fit drops {DISCARD} at each end and needs "
            f"{needed}: raise --points, lower --smallest, or use more frames")
    curve = entropy_curve(data.descriptors, sizes, repeats=repeats, seed=seed, h=h, labels=data.labels,
                          n_species=len(data.species))
    try:
        fit = fit_eq9(curve.sizes, curve.mean)
    except RuntimeError as error:  # curve_fit did not converge
        raise click.ClickException(f"the Eq. 9 fit did not converge ({error}); try more --points") from None
    gap = fit.gap(curve.mean[-1])
    if csv_path:
        write_curve_csv(csv_path, curve, fit)
    if png_path:
        learning_curve_plot(png_path, curve, fit)
    result = {
        "dataset": data.name, "n_environments": int(len(data.descriptors)), "bandwidth": h,
        "sizes": curve.sizes.tolist(), "entropy_mean": curve.mean.tolist(), "entropy_std": curve.std.tolist(),
        "fit": fit.as_dict(), "asymptote": fit.a, "information_gap": gap,
    }
    if as_json:
        _print_json(result)
        return
    click.echo(f"{'N':>10} {'H mean':>10} {'H std':>9}")
    for size, mean, std in zip(curve.sizes, curve.mean, curve.std):
        click.echo(f"{size:>10d} {mean:>10.4f} {std:>9.4f}")
    click.echo(f"Eq. 9 fit ({fit.n_points} points): a = {fit.a:.4f}, b = {fit.b:.4f}, c = {fit.c:.5f}")
    click.echo(f"asymptote {fit.a:.4f} nats; information gap at N = {curve.sizes[-1]}: {gap:.4f} nats")


# --------------------------------------------------------------------------------- compress
@main.command(name="compress")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--fraction", "-f", type=float, required=True, help="Fraction of frames to keep, in (0, 1].")
@click.option("--method", type=click.Choice(["random", "fps", "novelty"]), default="random", show_default=True,
              help="random: uniform; fps: farthest-point sampling of frame-mean descriptors; "
                   "novelty: greedy, each step keeps the frame with the largest mean dH.")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where the kept frames go (format from the suffix, e.g. .xyz).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (first pick for fps/novelty).")
@force_option
@frame_options
@descriptor_options
@bandwidth_option()
@species_option
@json_option
@user_errors
def compress_command(files, fraction, method, out, seed, index, fmt, k, cutoff, species, h, as_json, force):
    """Keep a fraction of the frames of FILES and report the entropy kept.

    \b
    Example:
      lammps-quests compress train.xyz --fraction 0.2 --method novelty -o train_20.xyz
    """
    import ase.io

    from lammps_quests.analysis import compress, read_dataset

    _serial_only("compress")
    _check_output_dir(out)
    check_ase_output(out)
    check_outputs([out], files, force)
    data = read_dataset(files, index=index, k=k, cutoff=cutoff, format=fmt, species=species)
    result = compress(data.descriptors, data.frame_sizes, fraction, method=method, h=h, seed=seed,
                      labels=data.labels, n_species=len(data.species))
    ase.io.write(out, [data.frames[i] for i in result.selected])
    report = {"dataset": data.name, "out": str(out), "bandwidth": h, **result.as_dict()}
    if as_json:
        _print_json(report)
        return
    click.echo(f"kept {result.selected.size} of {result.n_frames} frames ({method}), "
               f"{result.n_environments_subset} of {result.n_environments_full} environments -> {out}")
    kept = (f"kept H(subset)/H(full) = {result.entropy_kept:.4f}"
            + (" (above 1: the dropped frames were redundant)" if result.entropy_kept > 1 else "")
            if result.entropy_kept is not None
            else "kept: not defined, the full set has zero entropy (its environments are all alike)")
    click.echo(f"entropy: subset {result.entropy_subset:.4f} nats, full {result.entropy_full:.4f} nats, {kept}")


# --------------------------------------------------------------------------------- clusters
@main.command(name="clusters")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@reference_option("Reference file of the solid (.qref).")
@frame_options
@bandwidth_option(None)
@click.option("--edge", type=float, default=3.0, show_default=True,
              help="Largest distance in Å joining two solid-like atoms.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Per-frame CSV: solid-like atoms, number of clusters, largest cluster.")
@click.option("--distribution-csv", "dist_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="CSV of the cluster size distribution over all frames.")
@click.option("--png", "png_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Largest cluster per frame and size distribution (960 x 480 PNG).")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the frames with per-atom dH and cluster (-1: not solid-like, 0: the "
                   "largest, 1: the next, ...): a LAMMPS dump for *.lammpstrj names, else extended XYZ.")
@force_option
@json_option
@user_errors
def clusters_command(files, reference_path, index, fmt, h, edge, csv_path, dist_path, png_path, out, as_json,
                     force):
    """Solid-like clusters per frame: atoms with dH <= 0 against a solid reference,
    joined when at most --edge Å apart (periodic), as connected components.

    \b
    Example:
      lammps-quests reference build solid.qref dump.fcc_400K.lammpstrj
      lammps-quests clusters dump.quench.lammpstrj -r solid.qref --csv clusters.csv --png clusters.png
    \b
    then colour the atoms by cluster (e.g. in OVITO):
      lammps-quests clusters dump.quench.lammpstrj -r solid.qref -o clusters.lammpstrj
    """
    from lammps_quests.analysis import (dh_against_reference, frame_clusters, load_reference, read_dataset,
                                        size_distribution, split_per_frame)
    from lammps_quests.analysis._clusters import write_clusters_csv, write_distribution_csv
    from lammps_quests.analysis._plots import clusters_plot

    _serial_only("clusters")
    if not edge > 0:
        raise click.UsageError(f"--edge must be a distance > 0 in Å, got {edge}")
    _check_output_dir(csv_path, dist_path, png_path, out)
    check_outputs([csv_path, dist_path, png_path, out], [*files, reference_path], force,
                  names={out: FRAMES_WITH_COLUMNS, csv_path: CSV_NAMES, dist_path: CSV_NAMES, png_path: PNG_NAMES})
    reference = load_reference(reference_path)
    data = read_dataset(files, index=index, k=reference.k, cutoff=reference.cutoff, format=fmt,
                        species=reference.species or None, elements=_elements(reference, None))
    h = reference.bandwidth if h is None else h
    values = dh_against_reference(data.descriptors, reference, h=h, y_labels=data.labels)
    clusters = [frame_clusters(frame, frame_values, cutoff=edge)
                for frame, frame_values in zip(data.frames, split_per_frame(values, data.frames))]
    sizes, counts = size_distribution(clusters)
    largest = [c.largest for c in clusters]
    if csv_path:
        write_clusters_csv(csv_path, clusters)
    if dist_path:
        write_distribution_csv(dist_path, sizes, counts)
    if png_path:
        clusters_plot(png_path, largest, sizes, counts)
    if out:
        from lammps_quests.analysis import write_frames_with_columns

        labels = np.concatenate([c.labels for c in clusters])
        write_frames_with_columns(out, data.frames, {"dH": values, "cluster": labels})
    if as_json:
        _print_json({
            "reference": str(reference_path), "bandwidth": h, "edge": edge,
            "frames": [{"frame": i, "n_solid_like": c.n_solid_like, "n_clusters": int(c.sizes.size),
                        "largest": c.largest} for i, c in enumerate(clusters)],
            "distribution": {"size": sizes.tolist(), "count": counts.tolist()},
        })
        return
    click.echo(f"{'frame':>6} {'solid-like':>11} {'clusters':>9} {'largest':>8}")
    for i, c in enumerate(clusters):
        click.echo(f"{i:>6d} {c.n_solid_like:>11d} {c.sizes.size:>9d} {c.largest:>8d}")


# --------------------------------------------------------------------------------- bandwidth
@main.command(name="bandwidth")
@click.option("--volume", "-V", type=float, default=None, help="Volume per atom in Å^3/atom.")
@click.option("--structure", type=click.Path(path_type=Path), default=None,
              help="Take the volume per atom from this periodic structure file (its first frame).")
@json_option
@user_errors
def bandwidth_command(volume, structure, as_json):
    """Volume-dependent bandwidth h(V) of the paper (SI A.11.2), in Å^-1.

    h(V) = 0.0897141 exp(-0.5 (V / 10.896)^2) + 0.0119417, V in Å^3/atom.

    \b
    Examples:
      lammps-quests bandwidth --volume 11.81          # FCC Cu, a = 3.615 Å
      lammps-quests bandwidth --structure POSCAR --json
    """
    from lammps_quests.analysis import bandwidth_for_volume, volume_per_atom

    if (volume is None) == (structure is None):
        raise click.UsageError("give exactly one of --volume V (Å^3/atom) or --structure FILE")
    if structure is not None:
        from lammps_quests.formats._structures import read_frames

        frames, _ = read_frames([structure], index="0")
        try:
            volume = volume_per_atom(frames[0])
        except ValueError as error:
            raise ValueError(f"{structure}: {error}") from None
    h = bandwidth_for_volume(volume)
    if as_json:
        _print_json({"volume_per_atom": float(volume), "bandwidth": h})
    else:
        click.echo(f"V = {volume:.4f} Å^3/atom -> h = {h:.6f} Å^-1")
