"""Pictures of LAMMPS dumps with atoms coloured by dH (OVITO; imported only when rendering)."""

from ._follow import follow_dump
from ._render import RenderedFrame, RenderStyle, RenderUnavailable, atom_colours, dh_colour_coding, render_dump

__all__ = ["RenderStyle", "RenderUnavailable", "RenderedFrame", "atom_colours", "dh_colour_coding", "follow_dump",
           "render_dump"]
