"""Default settings of the method, written once; every module and command imports them.

* ``DEFAULT_K``: neighbours per descriptor (descriptor width 2k - 1).
* ``DEFAULT_CUTOFF``: descriptor cutoff radius, Å.
* ``DEFAULT_BANDWIDTH``: Gaussian kernel bandwidth h, Å^-1 (the paper's choice).
* ``DEFAULT_FAST_TOLERANCE``: largest excess of the fast dH over the exact dH, nats.
"""

DEFAULT_K = 32
DEFAULT_CUTOFF = 5.0  # Å
DEFAULT_BANDWIDTH = 0.015  # Å^-1
DEFAULT_FAST_TOLERANCE = 1e-6  # nats: the fast dH is at most this far above the exact dH
