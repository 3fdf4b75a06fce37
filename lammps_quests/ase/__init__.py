"""On-the-fly dH for ASE molecular dynamics: :class:`QuestsMonitor`.

::

    from lammps_quests.ase import QuestsMonitor
    from lammps_quests.errors import QuestsHalt

    monitor = QuestsMonitor(atoms, "reference.qref", threshold=0.0, halt=5.0,
                            save=(1.0, "extrapolated.xyz"), dynamics=dyn)
    dyn.attach(monitor, interval=10)
    try:
        dyn.run(5000)
    except QuestsHalt as stop:
        print(stop.step, stop.max_dh)

Nothing here imports LAMMPS.
"""

from ._monitor import Evaluation, QuestsMonitor, check_structure

__all__ = ["Evaluation", "QuestsMonitor", "check_structure"]
