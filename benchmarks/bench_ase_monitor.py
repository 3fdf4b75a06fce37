"""Cost of a QuestsMonitor evaluation next to the MD step it watches (the ASE Cu melt example).

The system of ``examples/ase_cu_melt``: 108 Cu atoms, EMT (the calculator shipped with ASE),
LangevinBAOAB at zero pressure, 5 fs steps. A reference like the example's is built first
(an EMT run of the crystal, 21 frames, 2,268 environments). Then, in one process and
alternating so that a shared machine's drifts hit both:

* MD: wall time per step of ``dyn.run(steps)`` with no monitor attached;
* monitor: wall time per call of ``monitor()`` (descriptors with k = 32 and a 5 Å cutoff,
  exact dH against the reference, the per-atom array and the history; no save) on the frame
  the MD left, i.e. a thermal crystal.

Prints both, their ratio and the overhead at the example's interval (one evaluation every
``--interval`` steps). Numba kernels are compiled before timing.

    python benchmarks/bench_ase_monitor.py
    python benchmarks/bench_ase_monitor.py --rounds 5 --steps 100 --calls 20 --interval 50
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.md.langevinbaoab import LangevinBAOAB
from ase.md.velocitydistribution import thermalize_momenta

from lammps_quests import Reference
from lammps_quests.ase import QuestsMonitor


def crystal_md(temperature: float, seed: int):
    """108-atom FCC Cu with EMT under LangevinBAOAB at 0 GPa (the example's settings)."""
    rng = np.random.default_rng(seed)
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(3)
    atoms.calc = EMT()
    thermalize_momenta(atoms, temperature_K=temperature, rng=rng)
    dyn = LangevinBAOAB(atoms, 5 * units.fs, temperature_K=temperature, externalstress=0.0,
                        hydrostatic=True, T_tau=100 * units.fs, P_tau=1000 * units.fs, rng=rng)
    return atoms, dyn


def build_reference() -> Reference:
    atoms, dyn = crystal_md(600.0, seed=2026)
    frames = []
    dyn.attach(lambda: frames.append(atoms.copy()), interval=30)
    dyn.run(600)
    return Reference.build(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating MD / monitor rounds")
    parser.add_argument("--steps", type=int, default=100, help="MD steps per round")
    parser.add_argument("--calls", type=int, default=20, help="monitor calls per round")
    parser.add_argument("--interval", type=int, default=50, help="steps between evaluations")
    args = parser.parse_args()

    reference = build_reference()
    atoms, dyn = crystal_md(900.0, seed=7)
    monitor = QuestsMonitor(atoms, reference)
    monitor()  # compile / load the kernels
    dyn.run(10)
    step_times, call_times = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        dyn.run(args.steps)
        step_times.append((time.perf_counter() - start) / args.steps)
        start = time.perf_counter()
        for _ in range(args.calls):
            monitor()
        call_times.append((time.perf_counter() - start) / args.calls)
    step, call = statistics.median(step_times), statistics.median(call_times)
    print(f"system: {len(atoms)} Cu atoms, EMT, LangevinBAOAB 5 fs; reference {reference.n_environments} "
          f"environments (k = {reference.k}, cutoff {reference.cutoff:g} Å)")
    print(f"MD step (EMT):          {step * 1e3:8.2f} ms   (median of {args.rounds} rounds x {args.steps} steps)")
    print(f"monitor evaluation:     {call * 1e3:8.2f} ms   (median of {args.rounds} rounds x {args.calls} calls)")
    print(f"evaluation / MD step:   {call / step:8.3f}")
    print(f"overhead every {args.interval} steps: {100 * call / (args.interval * step):6.2f} %")


if __name__ == "__main__":
    main()
