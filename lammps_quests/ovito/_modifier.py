"""``QuestsModifier``: an OVITO pipeline modifier giving every particle its dH (nats).

Registered under the entry-point group ``OVITO.Modifier`` as "QUESTS dH", so OVITO Pro lists it
beside its built-in modifiers once this package is installed into its Python; in the ``ovito``
Python module it is inserted like any modifier::

    pipeline = import_file("dump.lammpstrj")
    pipeline.modifiers.append(QuestsModifier(reference="train.qref", colour_coding=True))
    data = pipeline.compute(0)   # data.particles["dH"], data.attributes["QUESTS.max"]

Per frame it adds the particle property ``dH`` and the global attributes ``QUESTS.max``,
``QUESTS.mean``, ``QUESTS.fraction``, ``QUESTS.count`` and ``QUESTS.new`` (the statistics of
every host, :data:`lammps_quests.monitor.QUANTITIES`: ``fix quests``'s f_ID[1..5],
python/invoke's v_ID_max ... v_ID_new); optionally the ``Selection`` of the particles with
dH > threshold, and the ``Color`` of the diverging palette of ``lammps-quests render``, white at
dH = 0. Bad input raises :class:`QuestsModifierError` with one message naming the problem and
its fix (a bad setting: the :class:`~lammps_quests.errors.OptionError` the fix and the ASE
monitor raise for the same value), and the pipeline stops there: the ``ovito`` module (3.17)
raises it unchanged from ``pipeline.compute()`` (checked by the tests); OVITO Pro shows a
Python modifier's exception as its error status.
"""

from __future__ import annotations

import numpy as np
from ovito.pipeline import ModifierInterface
from ovito.traits import FilePath
from traits.api import Bool, Float, Instance, Int, Str

from lammps_quests.errors import QuestsInputError, QuestsInternalError, bug_message
from lammps_quests.monitor._options import MonitorOptions
from lammps_quests.core._defaults import DEFAULT_FAST_TOLERANCE
from lammps_quests.errors import OptionError
from lammps_quests.render._render import DEFAULT_RANGE, dh_colour_coding

from ._compute import frame_dh, summary
from ._frames import check_length_unit, frame_arrays
from lammps_quests.errors import QuestsModifierError
from ._loading import ReferenceCache, Settings

PROPERTY = "dH"


class ElementsStr(Str):
    """A text trait that also takes a list of element symbols (``["In", "P"]`` is ``"In P"``),
    as the fix's ``elements`` keyword and ``--elements`` do; the GUI shows a text field."""

    fast_validate = None  # Str's C-level check would refuse a list before validate sees it

    def validate(self, obj, name, value):
        if isinstance(value, (list, tuple)):
            value = " ".join(str(symbol) for symbol in value)
        return super().validate(obj, name, value)


class QuestsModifier(ModifierInterface):
    """QUESTS differential entropy dH (nats) of every particle against a reference file.

    Its parameters are traits, shown as input fields in OVITO Pro.

    Attributes:
        reference: the reference file (.qref) built with ``lammps-quests reference build``.
        bandwidth: Å^-1; 0 takes the reference's.
        threshold: dH above it (nats) counts as extrapolating (``QUESTS.fraction``/``count``,
            ``Selection``).
        fast: the tolerance in nats of the reference's fast index (``REF.qidx``): each value at
            most ``fast`` nats above the exact dH; 0 computes the exact dH.
        decide: with ``fast``, certify only the decisions dH > threshold: values above the
            threshold stay within ``fast`` of exact, values at or below it are upper bounds.
        elements: for species-aware references, the element of particle types 1, 2, ... (e.g.
            ``"In P"`` or ``["In", "P"]``); blank uses the particle type names.
        k, cutoff: when not 0, the k and cutoff (Å) the reference must have been built with.
        select: set ``Selection`` to the particles with dH > threshold.
        colour_coding: colour particles blue (dH <= -colour_range) - white (0) - red
            (>= +colour_range).
        colour_range: half-width of the colour scale, nats.
    """

    reference = FilePath("", label="Reference file (.qref)")
    bandwidth = Float(0.0, label="Bandwidth (1/Å, 0 = reference's)")
    threshold = Float(0.0, label="Threshold (nats)")
    fast = Float(0.0, label=f"Fast index tolerance (nats, e.g. {DEFAULT_FAST_TOLERANCE:g}; 0 = exact)")
    decide = Bool(False, label="Fast: certify only dH > threshold")
    elements = ElementsStr("", label="Elements of types 1, 2, ... (blank = type names)")
    k = Int(0, label="Check k (0 = no check)")
    cutoff = Float(0.0, label="Check cutoff (Å, 0 = no check)")
    select = Bool(False, label="Select particles with dH > threshold")
    colour_coding = Bool(False, label="Colour by dH (blue-white-red)")
    colour_range = Float(float(DEFAULT_RANGE[1]), label="Colour scale ± (nats)")
    # loaded reference: per modifier, not a parameter (hidden from the GUI, never saved)
    _cache = Instance(ReferenceCache, (), transient=True, visible=False)

    def modify(self, data, *, frame: int, **kwargs):
        """Add dH and its summary to ``data`` (OVITO calls this once per frame).

        Yields progress for OVITO: a status text, then the fraction of particles done.
        Raises QuestsModifierError for bad input, with the problem and its fix; any other
        failure is a bug, raised as QuestsInternalError naming its type and line.
        """
        try:
            yield "QUESTS dH: loading the reference"
            rdh = self._cache.get(self.settings())
            check_length_unit(data, frame)
            arrays = frame_arrays(data, frame)
            yield f"QUESTS dH of {len(arrays.positions)} particles"
            values = yield from frame_dh(rdh, arrays, self.elements, frame)
        except (QuestsModifierError, OptionError):
            raise
        except QuestsInputError as error:  # a problem found deeper down (cell, fast index, ...)
            raise QuestsModifierError(f"QUESTS dH, frame {frame}: {error}") from None
        except Exception as error:  # a bug: OVITO shows its type, line and where to report it
            raise QuestsInternalError(f"QUESTS dH, frame {frame}: {bug_message(error)}") from error
        self._write(data, values)

    def settings(self) -> Settings:
        """The reference settings of the current trait values, checked by
        :class:`MonitorOptions` (0 stands for "not set" in the number fields)."""
        if self.colour_coding and not self.colour_range > 0:
            raise QuestsModifierError(f"colour scale must be > 0 nats, got {self.colour_range}")
        options = MonitorOptions(bandwidth=self.bandwidth or None, threshold=self.threshold,
                                 fast=self.fast or None, decide=self.decide, k=self.k or None,
                                 cutoff=self.cutoff or None)
        return Settings(path=str(self.reference), options=options)

    def _write(self, data, values: np.ndarray) -> None:
        particles = data.particles_
        particles.create_property(PROPERTY, data=values)
        for name, value in summary(values, self.threshold).items():
            data.attributes[name] = value
        if self.select:
            particles.create_property("Selection", data=(values > self.threshold).astype(np.int32))
        if self.colour_coding:
            import ovito.modifiers

            data.apply(dh_colour_coding(ovito.modifiers, PROPERTY, (-self.colour_range, self.colour_range)))

