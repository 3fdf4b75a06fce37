"""Heat FCC Cu (EMT) at zero pressure until it melts, with QUESTS dH watched on the fly.

108 atoms, ASE's LangevinBAOAB (Langevin thermostat and barostat, 0 GPa), 5 fs steps, the
thermostat raised by 1 K per step from 600 K. A QuestsMonitor evaluates dH against
cu_emt.qref (make_reference.py) every 50 steps, appends what is new with dH > 5 nats to
new.xyz, and stops the run once max dH exceeds 80 nats.
"""

import numpy as np
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.md.langevinbaoab import LangevinBAOAB
from ase.md.velocitydistribution import thermalize_momenta

from lammps_quests.ase import QuestsMonitor
from lammps_quests.errors import QuestsHalt

T_START, RAMP = 600.0, 1.0  # K, K per step
INTERVAL, SAVE, HALT = 50, 5.0, 80.0  # steps, nats, nats

rng = np.random.default_rng(7)
atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(3)
atoms.calc = EMT()
thermalize_momenta(atoms, temperature_K=T_START, rng=rng)
P_TAU = 1000 * units.fs
# the barostat mass ASE's heuristic picks for this P_tau (its formula, given explicitly so that ASE
# does not warn that it is using a heuristic): ((P_tau / 4) / 1.66 fs * N^(1/6))^2
P_MASS = (((P_TAU / 4.0) / (1.66 * units.fs)) * (len(atoms) ** (1.0 / 6.0))) ** 2
dyn = LangevinBAOAB(atoms, 5 * units.fs, temperature_K=T_START, externalstress=0.0, hydrostatic=True,
                    T_tau=100 * units.fs, P_tau=P_TAU, P_mass=P_MASS, rng=rng)
dyn.attach(lambda: dyn.set_temperature(T_START + RAMP * dyn.nsteps), interval=10)

monitor = QuestsMonitor(atoms, "cu_emt.qref", threshold=0.0, halt=HALT, save=(SAVE, "new.xyz"))
monitor.attach(dyn, interval=INTERVAL)


def report():
    """One line per evaluation: the thermodynamic state next to the monitor's statistics."""
    r = monitor.last
    print(f"{dyn.nsteps:>6d} {atoms.get_temperature():>7.0f} {atoms.get_volume() / len(atoms):>8.3f} "
          f"{atoms.get_potential_energy() / len(atoms):>8.4f} {r.max_dh:>8.3f} {r.mean_dh:>8.3f} "
          f"{r.fraction_above:>7.3f} {r.count_above:>4d} {r.new:>4d}", flush=True)


print(f"{'step':>6} {'T (K)':>7} {'V/atom':>8} {'E/atom':>8} {'max dH':>8} {'mean dH':>8} "
      f"{'frac>0':>7} {'n>0':>4} {'new':>4}")
dyn.attach(report, interval=INTERVAL)  # attached after the monitor: sees this step's values
try:
    dyn.run(3000)
except QuestsHalt as stop:
    report()  # the halting evaluation (the exception skipped the observers after the monitor)
    print(stop)
print(monitor.report())
