"""Cost per frame of the OVITO modifier against `lammps-quests dh` on the same trajectory.

The trajectory: a Cu(001) slab, 6 x 6 x 6 cubic FCC cells (864 atoms, periodic in x and y,
10 Å of vacuum above and below), 10 frames with thermal displacements (Gaussian, 0.05 Å), as
extended XYZ. The reference: a thermal bulk crystal (4 x 4 x 4 cells, 8 frames, 2,048
environments). Surface atoms extrapolate, bulk atoms do not. Exact dH, k = 32, 5 Å cutoff.

Timed, alternating so that a shared machine's drifts hit all of them (medians over rounds):

* modifier: a new pipeline per round (so OVITO caches nothing), ``pipeline.compute(frame)`` for
  every frame: OVITO reads the frame, the modifier computes descriptors and dH (its reference
  is loaded at the first frame and counted in);
* dh in-process: ``read_dataset`` + ``dh_against_reference``, the code of ``lammps-quests dh``,
  on all frames, divided by the frames;
* dh CLI: the command ``lammps-quests dh TRAJ -r REF --json`` as a user runs it (a new process:
  interpreter start-up and imports included), divided by the frames.

The modifier's dH is first checked equal to that of the code of ``lammps-quests dh``.
``--picture PNG`` also renders frame 0 through the modifier (the README's picture).
Threads: ``--threads`` (default 1) for numba and BLAS, in every route.

    python benchmarks/bench_ovito_modifier.py
    python benchmarks/bench_ovito_modifier.py --rounds 5 --picture docs/images/ovito_modifier.png
"""

from __future__ import annotations

import argparse
import os
import sys

if __name__ == "__main__":  # threads must be fixed before numpy and numba load
    _threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"
    for _name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_name] = _threads

import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

FRAMES = 10


def thermal(atoms, count: int, amplitude: float, seed: int) -> list:
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        frame = atoms.copy()
        frame.positions += rng.normal(scale=amplitude, size=frame.positions.shape)
        frames.append(frame)
    return frames


def make_inputs(directory: Path) -> tuple[Path, Path]:
    """(trajectory .xyz, reference .qref) in ``directory``."""
    import ase.io
    from ase.build import bulk

    from lammps_quests.formats._reference import Reference

    crystal = bulk("Cu", "fcc", a=3.615, cubic=True)
    reference = directory / "cu_bulk.qref"
    Reference.build(thermal(crystal.repeat(4), 8, 0.05, seed=1)).save(reference)
    slab = crystal.repeat(6)
    slab.center(vacuum=10.0, axis=2)
    slab.pbc = (True, True, False)
    trajectory = directory / "cu_slab.xyz"
    ase.io.write(trajectory, thermal(slab, FRAMES, 0.05, seed=2), format="extxyz")
    return trajectory, reference


def modifier_values(trajectory: Path, reference: Path) -> tuple[list[np.ndarray], float]:
    """dH of every frame through a new pipeline with the modifier, and the seconds it took."""
    from ovito.io import import_file

    from lammps_quests.ovito import QuestsModifier

    # a copy with a new name per round, so that no file cache of OVITO serves the frames
    copy = trajectory.with_name(f"{trajectory.stem}-{time.monotonic_ns()}{trajectory.suffix}")
    shutil.copy(trajectory, copy)
    start = time.perf_counter()
    pipeline = import_file(str(copy))
    pipeline.modifiers.append(QuestsModifier(reference=str(reference)))
    values = [np.array(pipeline.compute(frame).particles["dH"][...]) for frame in range(pipeline.num_frames)]
    seconds = time.perf_counter() - start
    copy.unlink()
    if len(values) != FRAMES:
        raise SystemExit(f"OVITO read {len(values)} frames of {copy}, not {FRAMES}")
    return values, seconds


def in_process(trajectory: Path, reference_path: Path) -> tuple[np.ndarray, float]:
    """dH of all frames by the code of `lammps-quests dh`, and the seconds it took."""
    from lammps_quests.analysis import dh_against_reference, load_reference, read_dataset

    start = time.perf_counter()
    reference = load_reference(reference_path)
    data = read_dataset([trajectory], k=reference.k, cutoff=reference.cutoff)
    values = dh_against_reference(data.descriptors, reference, progress=False)
    return values, time.perf_counter() - start


def cli(trajectory: Path, reference: Path) -> float:
    """Seconds of one `lammps-quests dh` process."""
    command = [str(Path(sys.executable).parent / "lammps-quests"), "dh", str(trajectory), "-r", str(reference),
               "--json"]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(result.stdout + result.stderr)
    json.loads(result.stdout)
    return seconds


def check_equal(trajectory: Path, reference: Path) -> None:
    """The modifier's dH equals that of the code of `lammps-quests dh`."""
    expected, _ = in_process(trajectory, reference)
    values, _ = modifier_values(trajectory, reference)
    got = np.concatenate(values)
    error = float(np.max(np.abs(got - expected) / np.maximum(np.abs(expected), 1.0)))
    if error > 1e-9:
        raise SystemExit(f"modifier and lammps-quests dh disagree: largest relative difference {error:.3g}")
    print(f"check: modifier dH = lammps-quests dh on {len(got)} atoms (largest relative difference "
          f"{error:.2g}); {np.mean(got > 0):.3f} of them with dH > 0")


def picture(trajectory: Path, reference: Path, output: str) -> None:
    """Frame 0 rendered through the modifier (blue-white-red over [-5, 5] nats)."""
    from ovito.io import import_file
    from ovito.vis import TachyonRenderer, TextLabelOverlay, Viewport

    from lammps_quests.ovito import QuestsModifier

    pipeline = import_file(str(trajectory))
    pipeline.modifiers.append(QuestsModifier(reference=str(reference), colour_coding=True))
    data = pipeline.compute(0)
    pipeline.add_to_scene()
    viewport = Viewport(type=Viewport.Type.Perspective, camera_dir=(-1.0, -0.6, -0.35))
    viewport.zoom_all(size=(800, 600))
    attributes = data.attributes
    for number, text in enumerate([
            "QUESTS dH modifier, frame 0: blue <= -5, white 0, red >= 5 nats",
            f"max dH {attributes['QUESTS.max_dH']:.1f} nats; {attributes['QUESTS.count']} of "
            f"{data.particles.count} atoms with dH > 0"]):
        viewport.overlays.append(TextLabelOverlay(text=text, font_size=0.032, text_color=(0.0, 0.0, 0.0),
                                                  offset_y=-0.01 - 0.045 * number))
    viewport.render_image(size=(800, 600), filename=output, background=(1.0, 1.0, 1.0), renderer=TachyonRenderer())
    pipeline.remove_from_scene()
    print(f"picture: {output}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of the three routes")
    parser.add_argument("--threads", type=int, default=1, help="numba/BLAS threads (set before imports)")
    parser.add_argument("--picture", default=None, help="also render frame 0 through the modifier to this PNG")
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())} "
          f"({os.cpu_count()} cores, shared); threads {args.threads}")
    with tempfile.TemporaryDirectory(prefix="bench-ovito-") as scratch:
        directory = Path(scratch)
        trajectory, reference = make_inputs(directory)
        check_equal(trajectory, reference)  # also compiles/loads every kernel
        times = {"modifier": [], "dh in-process": [], "dh CLI (new process)": []}
        for _ in range(args.rounds):
            times["modifier"].append(modifier_values(trajectory, reference)[1] / FRAMES)
            times["dh in-process"].append(in_process(trajectory, reference)[1] / FRAMES)
            times["dh CLI (new process)"].append(cli(trajectory, reference) / FRAMES)
        if args.picture:  # after the timing: once OVITO has rendered, later imports of a multi-frame
            # file in the process were seen to report 1 frame (OVITO 3.17.2)
            picture(trajectory, reference, args.picture)
    base = statistics.median(times["dh in-process"])
    print(f"{FRAMES} frames of 864 atoms, medians over {args.rounds} rounds, ms per frame:")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:22s} {1e3 * median:8.1f}  (x{median / base:.2f} of in-process dh; "
              f"range {1e3 * min(values):.1f}-{1e3 * max(values):.1f})")
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
