"""Reference for the ASE Cu melt example: a short EMT run of the FCC crystal at zero pressure.

108 Cu atoms (3 x 3 x 3 FCC cells), Langevin dynamics with a barostat (ASE's LangevinBAOAB,
0 GPa), heated from 300 to 900 K over 3 ps; one frame every 30 steps (150 fs), 21 frames ->
cu_emt.qref with 2,268 environments (k = 32, cutoff 5 Å, h = 0.015 Å^-1).
"""

import numpy as np
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.md.langevinbaoab import LangevinBAOAB
from ase.md.velocitydistribution import thermalize_momenta

from lammps_quests import Reference

STEPS, EVERY = 600, 30
T_START, T_END = 300.0, 900.0  # K

rng = np.random.default_rng(2026)
atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(3)
atoms.calc = EMT()
thermalize_momenta(atoms, temperature_K=T_START, rng=rng)
P_TAU = 1000 * units.fs
# the barostat mass ASE's heuristic picks for this P_tau (its formula, given explicitly so that ASE
# does not warn that it is using a heuristic): ((P_tau / 4) / 1.66 fs * N^(1/6))^2
P_MASS = (((P_TAU / 4.0) / (1.66 * units.fs)) * (len(atoms) ** (1.0 / 6.0))) ** 2
dyn = LangevinBAOAB(atoms, 5 * units.fs, temperature_K=T_START, externalstress=0.0, hydrostatic=True,
                    T_tau=100 * units.fs, P_tau=P_TAU, P_mass=P_MASS, rng=rng)
dyn.attach(lambda: dyn.set_temperature(T_START + (T_END - T_START) * dyn.nsteps / STEPS), interval=10)
frames = []
dyn.attach(lambda: frames.append(atoms.copy()), interval=EVERY)
dyn.run(STEPS)

reference = Reference.build(frames)  # the reference's defaults: k = 32, cutoff 5 Å, h = 0.015 Å^-1
reference.save("cu_emt.qref")
print(f"{len(frames)} frames, {reference.n_environments} environments -> cu_emt.qref "
      f"(last frame {atoms.get_temperature():.0f} K, {atoms.get_volume() / len(atoms):.3f} Å^3/atom)")
