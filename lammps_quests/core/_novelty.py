"""Which environments are new against a reference and the environments already chosen.

One rule for every place that decides it: the de-duplicated saves of every host (``fix quests
... save``, the python/invoke route, the ASE monitor, through
:class:`lammps_quests.active.Saver`) and the eligibility of a structure in ``lammps-quests
select`` (:func:`lammps_quests.analysis.select`), where the chosen environments are the saved
ones or the picked ones. dH in nats throughout.
"""

from __future__ import annotations

import numpy as np

#: nats by which dH against reference ∪ chosen must exceed the threshold, and dH against the
#: chosen environments 0, for an environment to be new: a chosen environment has dH <= 0 against
#: both in exact arithmetic, but rounding in the kernel sums (or a descriptor recomputed from a
#: cut-out) can leave it at +1e-13
NEW_MARGIN = 1e-9


def new_atoms(dh_reference, dh_saved, threshold: float) -> np.ndarray:
    """Mask of new atoms, the one novelty rule of de-duplicated saves and of ``select``.

    With X the reference, S the environments already saved (or picked) and m = ``NEW_MARGIN``,
    an atom with environment y is new when::

        dH(y | X ∪ S) > t + m   and   dH(y | S) > m

    where dH(y | X ∪ S) = -log(exp(-dH(y | X)) + exp(-dH(y | S))) (the kernel sum over the
    union is the sum of the two sums).

    * The first condition: y is above the threshold t against everything a training set built
      from the saves would hold.
    * The second: S does not cover y. dH(y | S) <= 0 means the kernel weights of S sum to at
      least 1 at y, as much as a saved environment gets from itself (dH(s | S) <= 0 for s in
      S): y is already saved, or near enough to saved environments to get that much weight
      from them, and saving it again adds a copy, no information. This holds for every t.
    * For t >= 0 the second condition follows from the first, so the rule is dH(y | X ∪ S) > t
      alone there. Proof: K > 0, so the sum over S is at most the sum over X ∪ S, and
      dH(y | S) >= dH(y | X ∪ S) > t + m >= m. The same holds in floating point:
      ``np.logaddexp(a, b)`` is max(a, b) plus a non-negative term, and rounding to nearest
      never takes that below max(a, b), so the computed dH(y | X ∪ S) <= dH(y | S).
    * For t < 0 the first condition alone is not enough: a saved environment has
      dH(s | X ∪ S) <= 0, which may still be above t, and the same configuration evaluated
      twice (at the end of one LAMMPS run and the setup of the next) would be saved twice.

    Args:
        dh_reference: (n,) dH of the atoms against the reference, nats.
        dh_saved: (n,) dH against the saved (or picked) environments alone, nats (+inf while
            there are none; with a species-aware reference, those centred on each atom's element).
        threshold: the threshold t, nats (any real value).

    Returns:
        (n,) bool mask.
    """
    dh_reference = np.asarray(dh_reference, dtype=np.float64)
    dh_saved = np.asarray(dh_saved, dtype=np.float64)
    dh_union = -np.logaddexp(-dh_reference, -dh_saved)
    return (dh_union > threshold + NEW_MARGIN) & (dh_saved > NEW_MARGIN)
