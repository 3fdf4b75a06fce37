"""lammps-quests select: greedy picks by entropy gain; never a structure without an atom above
t; the reported gain equals the entropy difference computed directly; same picks on 1 and 2
MPI ranks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase.build import bulk

from cli_support import invoke
from lammps_quests.analysis._selection import select
from lammps_quests.core._descriptors import descriptors
from lammps_quests.core._information import delta_entropy, entropy
from lammps_quests.formats._reference import Reference
from crystals import rattled_frames

H = 0.015
BIN = Path(sys.executable).parent


def pool_frames():
    """Covered frames, two copies of one vacancy frame, a compressed and a sheared crystal."""
    covered = rattled_frames("fcc", 3.615, 2, 0.03, seed=100)
    vacancy = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(2)
    vacancy.rattle(0.03, seed=7)
    del vacancy[0]
    compressed = rattled_frames("fcc", 3.45, 1, 0.03, seed=8)[0]
    sheared = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(2)
    sheared.set_cell(sheared.cell[:] + [[0, 0, 0], [0.6, 0, 0], [0, 0, 0]], scale_atoms=True)
    sheared.rattle(0.03, seed=9)
    return [covered[0], vacancy, compressed, vacancy.copy(), sheared, covered[1]]


@pytest.fixture(scope="module")
def reference():
    return Reference.build(rattled_frames("fcc", 3.615, 4, 0.03, seed=1), bandwidth=H)


@pytest.mark.parametrize("until", [0.0, 3.0])
def test_picks_have_atoms_above_t_and_gains_equal_direct_entropy(reference, until):
    frames = pool_frames()
    blocks = [descriptors(atoms) for atoms in frames]
    result = select(blocks, reference.descriptors, H, until=until)
    assert result.stopped.startswith("no atom left") and len(result.picks) >= 2
    U = np.array(reference.descriptors)
    assert result.reference_entropy == pytest.approx(entropy(U, H), abs=1e-10)
    for pick in result.picks:
        dh = delta_entropy(blocks[pick.candidate], U, H)
        assert dh.max() > until and pick.max_dh == pytest.approx(dh.max(), abs=1e-9)
        after = np.vstack([U, blocks[pick.candidate]])
        assert pick.gain == pytest.approx(entropy(after, H) - entropy(U, H), abs=1e-9)
        assert pick.entropy == pytest.approx(entropy(after, H), abs=1e-9)
        U = after
    picked = [p.candidate for p in result.picks]
    assert 0 not in picked and 5 not in picked  # covered frames
    assert not {1, 3} <= set(picked)  # one copy of the vacancy frame is enough
    # nothing left above t once it stopped
    for c in set(range(len(frames))) - set(picked):
        assert delta_entropy(blocks[c], U, H).max() <= until
    capped = select(blocks, reference.descriptors, H, until=until, max_picks=1)
    assert [p.candidate for p in capped.picks] == picked[:1] and capped.stopped == "reached --max 1"


@pytest.mark.slow
def test_cli_serial_and_two_ranks_agree(reference, tmp_path):
    reference.save(tmp_path / "ref.qref")
    ase.io.write(tmp_path / "pool.xyz", pool_frames())
    select_into = ["select", "pool.xyz", "-r", "ref.qref", "--until", "1", "-o"]
    # one rank: this process, on one thread as each of the two ranks (click's CliRunner)
    one = invoke(*select_into, "picked0.xyz", cwd=tmp_path, threads_one=True)
    assert one.exit_code == 0, one.output
    two = subprocess.run([str(BIN / "mpirun"), "-np", "2", str(BIN / "lammps-quests"), *select_into, "picked1.xyz"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"})
    assert two.returncode == 0, two.stderr
    outputs = [one.stdout.replace("picked0.xyz", "OUT"), two.stdout.replace("picked1.xyz", "OUT")]
    for name in ("picked0.xyz", "picked1.xyz"):
        picked = ase.io.read(tmp_path / name, ":")
        assert [a.info["select_rank"] for a in picked] == list(range(1, len(picked) + 1))
    assert outputs[0] == outputs[1]
    assert "entropy gained" in outputs[0] and "stopped: no atom left with dH > 1 nats" in outputs[0]


def test_stops_when_the_best_gain_is_not_positive():
    """Ten copies of one reference point and one far point: an atom with dH > 0, yet the
    structure lowers H (log 61 - 11 log 11 / 61 < log 50): it is not picked, and the reason says so."""
    rng = np.random.default_rng(0)
    reference = rng.uniform(0.0, 10.0, (50, 5))  # isolated points at h = 0.015: H = log 50
    candidate = np.vstack([np.repeat(reference[:1], 10, axis=0), [[20.0, 20.0, 20.0, 20.0, 20.0]]])
    gain = entropy(np.vstack([reference, candidate]), H) - entropy(reference, H)
    assert gain < 0 and delta_entropy(candidate, reference, H).max() > 0
    result = select([candidate], reference, H)
    assert result.picks == []
    assert result.stopped.startswith("no structure adds information") and f"{gain:.3g}" in result.stopped
    # a structure that does add information (another far point) is picked, then the loop stops
    result = select([candidate, np.full((1, 5), 40.0)], reference, H)
    assert [p.candidate for p in result.picks] == [1] and result.picks[0].gain > 0
    assert result.stopped.startswith("no structure adds information")


def test_negative_until_never_picks_what_the_picks_already_cover(reference):
    """--until t < 0: a structure is eligible when it holds an atom new by the rule of saves
    (dH against reference ∪ picked > t, against the picked atoms alone > 0), so the second copy
    of the vacancy frame is never picked; every pick holds such an atom, checked directly."""
    frames = pool_frames()
    blocks = [descriptors(atoms) for atoms in frames]
    X = np.array(reference.descriptors)
    for until in (-1.0, -3.0):
        result = select(blocks, X, H, until=until)
        picked = [p.candidate for p in result.picks]
        assert 1 in picked and 3 not in picked, (until, picked)
        chosen = np.zeros((0, X.shape[1]))
        for c in picked:
            union = delta_entropy(blocks[c], np.vstack([X, chosen]), H)
            alone = delta_entropy(blocks[c], chosen, H) if len(chosen) else np.full(len(blocks[c]), np.inf)
            assert ((union > until) & (alone > 0)).any(), (until, c)
            chosen = np.vstack([chosen, blocks[c]])
        assert delta_entropy(blocks[3], chosen, H).max() <= 0  # the copy: covered by the picks
