"""dH inside OVITO: :class:`QuestsModifier`, a pipeline modifier (needs the ``ovito`` module).

The only part of the package that imports ``ovito``; ``import lammps_quests`` does not import
this subpackage. Installing the package registers the modifier with OVITO under the entry-point
group ``OVITO.Modifier`` as "QUESTS dH". Its input errors are
:class:`lammps_quests.errors.QuestsModifierError`.
"""

from ._modifier import QuestsModifier

__all__ = ["QuestsModifier"]
