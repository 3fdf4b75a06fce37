"""Pictures of LAMMPS dumps with atoms coloured by dH (OVITO; imported only when rendering)."""

from .dump import (  # noqa: F401
    RenderedFrame,
    RenderStyle,
    RenderUnavailable,
    atom_colours,
    dh_colour_coding,
    follow_dump,
    render_dump,
)
