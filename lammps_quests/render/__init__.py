"""Pictures of LAMMPS dumps with atoms coloured by dH (OVITO; imported only when rendering).

:func:`render_dump` renders one frame; :func:`follow_dump` keeps a picture of the newest frame
of a dump LAMMPS is still writing. Without OVITO or Vulkan both raise
:class:`lammps_quests.errors.RenderUnavailable`.
"""

from ._follow import follow_dump
from ._render import RenderedFrame, RenderStyle, atom_colours, dh_colour_coding, render_dump

__all__ = ["RenderStyle", "RenderedFrame", "atom_colours", "dh_colour_coding", "follow_dump", "render_dump"]
