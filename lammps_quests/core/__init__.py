"""Numerical core: periodic images, the neighbour kernel, QUESTS descriptors and the kernel sums
behind entropy, dH, diversity and overlap. numpy and numba only; imports nothing above it."""
