"""Render the last frame of dump.antisite.lammpstrj twice, atoms coloured by species-aware dH
(f_qs) and by species-agnostic dH (f_qa), as one side-by-side PNG.

    python picture.py [OUT.png]        (after lmp -in in.inp_antisite; needs OVITO)

A slab 6 Å thick through the middle of the box, seen from the top, holds the four exchanged
atoms; colours run blue-white-red over [-5, 5] nats.
"""

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lammps_quests.render import RenderStyle, render_dump  # noqa: E402

PANELS = (("f_qs", "species-aware dH"), ("f_qa", "species-agnostic dH"))


def main(output: str) -> None:
    figure, axes = plt.subplots(1, 2, figsize=(8.0, 4.3), dpi=100)
    with tempfile.TemporaryDirectory() as scratch:
        for axis, (column, title) in zip(axes, PANELS):
            png = Path(scratch) / f"{column}.png"
            style = RenderStyle(property=column, size=(440, 360), view="top", slab=6.0, radius=0.9)
            frame = render_dump("dump.antisite.lammpstrj", png, style=style)
            axis.imshow(plt.imread(png))
            axis.set_title(f"{title}: {frame.n_positive} of {frame.natoms} atoms > 0", fontsize=10)
            axis.axis("off")
    figure.suptitle(f"InP at 300 K, two In/P antisite pairs, step {frame.timestep}", fontsize=11)
    figure.tight_layout()
    figure.savefig(output)
    plt.close(figure)
    _shrink(output)
    print(f"wrote {output}")


def _shrink(path: str) -> None:
    """Fewer colours, same look: a few tens of kB instead of a few hundred."""
    from PIL import Image

    Image.open(path).convert("RGB").quantize(colors=96).save(path, optimize=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "inp_antisite_dh.png")
