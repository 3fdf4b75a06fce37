"""Hand-worked rows for the novelty rule of de-duplicated saves and select
(lammps_quests.core._novelty.new_atoms): descriptors of width 3 (k = 2) at a bandwidth of 1 Å^-1,
their dH against a one-row reference X and a two-row saved set S worked out by hand, and which
rows are new at each threshold."""

from __future__ import annotations

import numpy as np

#: a bandwidth of 1 Å^-1 makes the kernel exp(-d^2 / 2): weights worked out by hand below
UNIT_H = 1.0
#: sqrt(2 log 2): a distance at which the kernel weight is exactly 1/2
HALF = np.sqrt(2.0 * np.log(2.0))

# Descriptors of width 3 (k = 2). Reference X = {x0}, saved S = {s1, s2}.
X0 = [0.0, 0.0, 0.0]
S1, S2 = [10.0, 0.0, 0.0], [0.0, 0.0, 2.0]
ROWS = {
    # row: (descriptor, dH(y | X), dH(y | S), dH(y | X ∪ S)) worked out by hand, nats
    # a copy of s1: S gives it weight 1, X e^-50
    "copy": ([10.0, 0.0, 0.0], 50.0, 0.0, -np.log1p(np.exp(-50.0))),
    # x0 itself: X gives it weight 1, S e^-50 + e^-2
    "x0": ([0.0, 0.0, 0.0], 0.0, -np.log(np.exp(-50.0) + np.exp(-2.0)),
           -np.log(1.0 + np.exp(-50.0) + np.exp(-2.0))),
    # HALF from s1: S gives 1/2, X nothing that counts (e^-61.8)
    "half": ([10.0 + HALF, 0.0, 0.0], (10.0 + HALF) ** 2 / 2.0, np.log(2.0), np.log(2.0)),
    # 1 Å from x0 and from s2: weights e^-0.5 from each
    "between": ([0.0, 0.0, 1.0], 0.5, 0.5, 0.5 - np.log(2.0)),
    # 2 Å from x0 along y, sqrt(8) Å from s2: e^-2 and e^-4
    "aside": ([0.0, 2.0, 0.0], 2.0, 4.0, -np.log(np.exp(-2.0) + np.exp(-4.0))),
}
# The rule on these rows (new: dH(X ∪ S) > t and dH(S) > 0):
EXPECTED = {
    # t = -1: every row is a candidate (dH(X) > -1); the copy of s1 is covered by S (dH(S) = 0),
    # although dH(X ∪ S) = -e^-50 > -1; all others have dH(S) > 0 and dH(X ∪ S) > -1
    -1.0: {"copy": False, "x0": True, "half": True, "between": True, "aside": True},
    # t = -0.1: "between" has dH(X ∪ S) = 0.5 - log 2 = -0.193 <= -0.1; x0 has -0.127 <= -0.1
    -0.1: {"copy": False, "x0": False, "half": True, "between": False, "aside": True},
    # t = 0: the copy is not above 0 against the union either (dH(X ∪ S) < 0)
    0.0: {"copy": False, "x0": False, "half": True, "between": False, "aside": True},
    # t = 1: only "aside" (dH(X ∪ S) = 1.87) is above 1
    1.0: {"copy": False, "x0": False, "half": False, "between": False, "aside": True},
}
