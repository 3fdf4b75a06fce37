"""Render LAMMPS dumps with atoms coloured by their QUESTS dH, headless, through OVITO.

``fix quests`` stores each atom's differential entropy dH (nats) in its per-atom vector,
which ``dump custom ... f_<fixID>`` writes as a column; OVITO reads that column as a particle
property of the same name (``f_q`` for a fix with ID ``q``). Atoms are coloured on OVITO's
blue-white-red gradient over a fixed range, [-5, 5] nats by default: dH <= -5 blue (well
inside the training domain), 0 white, >= +5 red (extrapolation); values outside the range
take the end colours. A colour legend titled "dH (nats)" is drawn into the picture.

The ``ovito`` module is an optional extra (``pip install "lammps-quests[ovito]"``) and is
imported only when a picture is rendered, so the rest of the package works without it.
OVITO renders through Vulkan even with its CPU ray tracer (Tachyon); a machine without a
GPU needs the Vulkan loader and Mesa's software driver (Debian/Ubuntu:
``apt-get install libvulkan1 mesa-vulkan-drivers``).

Every picture is written to a temporary file first and then renamed over the output, so a
viewer never sees a half-written image (:mod:`._follow` re-renders a dump LAMMPS is still
writing through the same path).
"""

from __future__ import annotations

import collections
import contextlib
import math
import os
import tempfile
import types
from dataclasses import dataclass

import numpy as np

from lammps_quests.errors import RenderUnavailable
from lammps_quests.formats._growing_dump import (
    FrameSpan,
    complete_frames,
    dump_kind,
    gzip_frames,
    newest_complete_frame,
    read_frame,
)

DEFAULT_PROPERTY = "f_q"
DEFAULT_RANGE = (-5.0, 5.0)  # nats
LEGEND_TITLE = "dH (nats)"
VIEWS = ("perspective", "top", "front", "left")
RENDERERS = ("tachyon", "opengl")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

INSTALL_HINT = (
    'install the OVITO extra with `pip install "lammps-quests[ovito]"`; for headless '
    "rendering without a GPU also install the Vulkan loader and Mesa's software driver "
    "(Debian/Ubuntu: `apt-get install libvulkan1 mesa-vulkan-drivers`)"
)

# Camera direction (pointing from the eye into the scene) for each --view choice; the
# slab of --slab is cut normal to it.
_VIEW_DIRECTIONS = {
    "perspective": (-1.0, -1.0, -1.0),
    "top": (0.0, 0.0, -1.0),
    "front": (0.0, 1.0, 0.0),
    "left": (1.0, 0.0, 0.0),
}


@dataclass(frozen=True)
class RenderStyle:
    """How a frame is drawn.

    property: name of the per-atom dH column in the dump (``f_<fixID>``).
    value_range: (low, high) in nats mapped to blue and red; white sits at the midpoint.
    size: image (width, height) in pixels.
    view: one of VIEWS; ``top`` looks down the z axis, ``front`` along +y, ``left`` along +x.
    renderer: ``tachyon`` (CPU ray tracer) or ``opengl`` (OVITO's rasteriser).
    legend: draw the colour legend.
    slab: if set, keep only atoms in a slab this thick (Å) through the cell centre, normal
        to the view direction, to see inside a bulk sample.
    radius: atom radius in Å; None keeps OVITO's choice.
    background: RGB in [0, 1].
    """

    property: str = DEFAULT_PROPERTY
    value_range: tuple[float, float] = DEFAULT_RANGE
    size: tuple[int, int] = (800, 600)
    view: str = "perspective"
    renderer: str = "tachyon"
    legend: bool = True
    slab: float | None = None
    radius: float | None = None
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        low, high = self.value_range
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(
                f"colour range must be two finite numbers low < high (nats), got {low} {high}"
            )
        width, height = self.size
        if width < 16 or height < 16 or width > 16384 or height > 16384:
            raise ValueError(
                f"image size must be 16..16384 pixels per side, got {width} x {height}"
            )
        if self.view not in VIEWS:
            raise ValueError(f"view must be one of {', '.join(VIEWS)}, got {self.view!r}")
        if self.renderer not in RENDERERS:
            raise ValueError(
                f"renderer must be one of {', '.join(RENDERERS)}, got {self.renderer!r}"
            )
        if self.slab is not None and not self.slab > 0:
            raise ValueError(f"slab thickness must be > 0 Å, got {self.slab}")
        if self.radius is not None and not self.radius > 0:
            raise ValueError(f"atom radius must be > 0 Å, got {self.radius}")


@dataclass(frozen=True)
class RenderedFrame:
    """What went into one picture: the frame and a summary of its dH values (nats)."""

    timestep: int | None
    natoms: int
    dh_min: float
    dh_max: float
    n_positive: int  # atoms with dH > 0: outside the reference's domain
    output: str


def render_dump(
    dump: str | os.PathLike,
    output: str | os.PathLike,
    frame: int = -1,
    style: RenderStyle | None = None,
) -> RenderedFrame:
    """Render frame ``frame`` of a LAMMPS dump (negative counts from the end) to an image.

    The dump is a LAMMPS text dump, plain or gzip-compressed. Frames are located by this
    package (a partly written last frame, as in a dump LAMMPS is still writing, is not
    counted) and handed to OVITO one at a time. The image is written atomically (temporary
    file, then rename). Raises ValueError for a missing or unreadable
    dump, a frame out of range, or a missing dH column, and RenderUnavailable when OVITO
    or Vulkan is missing.
    """
    style = style or RenderStyle()
    output = check_output(output)
    ovito = import_ovito()
    with _one_frame(dump, frame) as path:
        return render_file(ovito, path, output, style, os.fspath(dump))


def atom_colours(
    dump: str | os.PathLike,
    frame: int = -1,
    style: RenderStyle | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """dH (nats, shape (n,)) and the RGB colour in [0, 1] (shape (n, 3)) given to each atom.

    The same OVITO colour coding as the pictures, without rendering (no Vulkan needed), for
    use in other plots. Atoms are in the order of the dump (only those in the slab if
    ``style.slab`` is set).
    """
    style = style or RenderStyle()
    ovito = import_ovito()
    with _one_frame(dump, frame) as path:
        pipeline = _load(ovito, path, os.fspath(dump))
        data = pipeline.compute(0)
        name = _property_name(data, style.property, os.fspath(dump))
        _add_modifiers(ovito, pipeline, data, name, style)
        coloured = pipeline.compute(0)  # after --slab only the atoms in the slab remain
        particles = coloured.particles
        return np.array(particles[name][...]), np.array(particles["Color"][...])


@contextlib.contextmanager
def _one_frame(dump: str | os.PathLike, frame: int):
    """Yield the path of a temporary one-frame dump holding frame ``frame`` of ``dump``.

    Frames are located here, not by OVITO: a partly written last frame is not counted, and
    OVITO 3.17.2 was seen to report too few frames for a multi-frame file it had read
    before in the same process (after a render), so OVITO only ever gets one frame.
    """
    dump = os.fspath(dump)
    if not os.path.isfile(dump):
        raise ValueError(f"dump file {dump!r} does not exist")
    kind = dump_kind(dump)
    if kind == "other":
        raise ValueError(
            f"{dump!r} is not a LAMMPS text dump (plain or gzip-compressed); write it with "
            "`dump ID all custom N file.lammpstrj id type x y z f_q` (binary dumps are not read)"
        )
    with tempfile.TemporaryDirectory(prefix="lammps-quests-render-") as scratch:
        if kind == "gzip":
            yield _copy_bytes(_gzip_frame(dump, frame), scratch, "frame")
            return
        if frame == -1:
            span = newest_complete_frame(dump)
            nframes = 0 if span is None else None
        else:
            spans = complete_frames(dump)
            nframes = len(spans)
            span = spans[frame] if -nframes <= frame < nframes else None
        if span is None:
            _raise_no_frame(dump, frame, nframes)
        yield copy_frame(dump, span, scratch)


def _gzip_frame(dump: str, frame: int) -> bytes:
    """Bytes of frame ``frame`` (negative: from the end) of a gzip-compressed text dump."""
    last: collections.deque[bytes] = collections.deque(maxlen=max(1, -frame))
    nframes = 0
    for nframes, (_, data) in enumerate(gzip_frames(dump), start=1):
        if nframes == frame + 1:
            return data
        last.append(data)
    if frame < 0 and nframes >= -frame:
        return last[0]
    _raise_no_frame(dump, frame, nframes)


def copy_frame(dump: str, span: FrameSpan, directory: str) -> str:
    """Write one frame of ``dump`` as a single-frame dump file in ``directory``; its path."""
    return _copy_bytes(read_frame(dump, span), directory, f"timestep-{span.timestep}")


def _copy_bytes(data: bytes, directory: str, name: str) -> str:
    """Write ``data`` to a new file in ``directory``; its path.

    Every copy gets a new name so that no file cache can hand back an older frame.
    """
    handle, path = tempfile.mkstemp(prefix=f"{name}-", suffix=".dump", dir=directory)
    with os.fdopen(handle, "wb") as copy:
        copy.write(data)
    return path


def _raise_no_frame(dump: str, frame: int, nframes: int | None) -> None:
    if not nframes:
        raise ValueError(
            f"{dump!r} has no complete frame yet (is LAMMPS still writing the first one? "
            "use --follow to wait for it)"
        )
    raise ValueError(
        f"frame {frame} does not exist: {dump!r} has {nframes} complete frame(s) "
        f"(valid: 0..{nframes - 1}, or negative counting from the end, -1 = last)"
    )


def render_file(ovito, path: str, output: str, style: RenderStyle,
                 label: str) -> RenderedFrame:
    """Render the one-frame dump at ``path``; ``label`` names the user's dump in errors."""
    pipeline = _load(ovito, path, label)
    data = pipeline.compute(0)
    name = _property_name(data, style.property, label)
    values = data.particles[name][...]
    _add_modifiers(ovito, pipeline, data, name, style)
    _render_atomically(ovito, pipeline, output, style)
    return RenderedFrame(
        timestep=data.attributes.get("Timestep"),
        natoms=int(data.particles.count),
        dh_min=float(values.min()) if len(values) else math.nan,
        dh_max=float(values.max()) if len(values) else math.nan,
        n_positive=int((values > 0).sum()),
        output=output,
    )


def check_output(output: str | os.PathLike) -> str:
    output = os.fspath(output)
    if not output.lower().endswith(IMAGE_SUFFIXES):
        raise ValueError(
            f"output {output!r} must end in one of {', '.join(IMAGE_SUFFIXES)} (the image format "
            "is chosen from the name)"
        )
    directory = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(directory):
        raise ValueError(f"output directory {directory!r} does not exist")
    from lammps_quests.formats._writable import why_directory_unwritable

    reason = why_directory_unwritable(directory)  # the image is renamed into place
    if reason is not None:
        raise ValueError(f"cannot write {output}: {reason} ({directory}); write the image elsewhere")
    return output


def import_ovito():
    """The OVITO modules used here (.io, .modifiers, .vis, .QtCore); RenderUnavailable if absent."""
    try:
        import ovito.io
        import ovito.modifiers
        import ovito.vis
        from ovito.qt_compat import QtCore
    except ImportError as error:
        raise RenderUnavailable(
            f"the `ovito` Python module is not available ({error}): {INSTALL_HINT}"
        ) from error
    return types.SimpleNamespace(
        io=ovito.io, modifiers=ovito.modifiers, vis=ovito.vis, QtCore=QtCore
    )


def _load(ovito, path: str, label: str):
    try:
        return ovito.io.import_file(path)
    except (RuntimeError, ValueError) as error:
        raise ValueError(f"OVITO could not read {label!r} as a LAMMPS dump: {error}") from error


def _property_name(data, name: str, dump: str) -> str:
    """OVITO's name of the dump column ``name``; ValueError naming the columns that exist.

    OVITO lowercases the names of non-standard LAMMPS columns (``f_dH`` becomes ``f_dh``),
    so a name that matches only up to case is accepted.
    """
    if name in data.particles:
        return name
    if name.lower() in data.particles:
        return name.lower()
    available = [key for key in data.particles.keys() if key not in _STANDARD_PROPERTIES]
    raise ValueError(
        f"{dump!r} has no per-atom column {name!r}; extra columns found: "
        f"{', '.join(available) or 'none'}. Write dH with `dump ID all custom N file "
        "id type x y z f_<fixID>` (the fix quests ID, e.g. f_q for `fix q all quests ...`) "
        "and pass that name with --property"
    )


_STANDARD_PROPERTIES = {"Particle Identifier", "Particle Type", "Position", "Color", "Radius"}


def _add_modifiers(ovito, pipeline, data, property_name: str, style: RenderStyle) -> None:
    """Optional radius and slab, then the colour coding of ``property_name`` (added last)."""
    modifiers = ovito.modifiers
    if style.radius is not None:
        pipeline.modifiers.append(
            modifiers.ComputePropertyModifier(
                output_property="Radius", expressions=[repr(float(style.radius))]
            )
        )
    if style.slab is not None:
        normal = _unit(_VIEW_DIRECTIONS[style.view])
        cell = data.cell[...]  # 3 cell vectors as columns, then the origin
        centre = cell[:, 3] + 0.5 * (cell[:, 0] + cell[:, 1] + cell[:, 2])
        pipeline.modifiers.append(
            modifiers.SliceModifier(
                normal=normal,
                distance=float(sum(n * c for n, c in zip(normal, centre))),
                slab_width=float(style.slab),
            )
        )
    pipeline.modifiers.append(dh_colour_coding(modifiers, property_name, style.value_range))


def dh_colour_coding(modifiers, property_name: str, value_range=DEFAULT_RANGE):
    """The diverging palette of the pictures: OVITO's blue-white-red colour coding of a dH property.

    Args:
        modifiers: the ``ovito.modifiers`` module (imported by the caller, so this module does
            not import OVITO).
        property_name: the per-particle dH property (nats).
        value_range: (low, high) in nats mapped to blue and red, white at the midpoint; values
            beyond take the end colours.

    Returns:
        An ``ovito.modifiers.ColorCodingModifier`` writing the ``Color`` property.
    """
    low, high = value_range
    return modifiers.ColorCodingModifier(
        property=property_name,
        start_value=float(low),
        end_value=float(high),
        gradient=modifiers.ColorCodingModifier.BlueWhiteRed(),
        auto_adjust_range=False,  # a fixed scale makes frames and runs comparable
    )


def _unit(vector: tuple[float, float, float]) -> tuple[float, float, float]:
    norm = math.sqrt(sum(v * v for v in vector))
    return tuple(v / norm for v in vector)


def _render_atomically(ovito, pipeline, output: str, style: RenderStyle) -> None:
    """Render to a temporary file beside ``output``, then rename it over ``output``."""
    vis = ovito.vis
    suffix = os.path.splitext(output)[1]
    directory = os.path.dirname(os.path.abspath(output))
    handle, temporary = tempfile.mkstemp(
        prefix=f".{os.path.basename(output)}.", suffix=suffix, dir=directory
    )
    os.close(handle)
    pipeline.add_to_scene()
    try:
        viewport = _make_viewport(ovito, pipeline, style)
        renderer = vis.TachyonRenderer() if style.renderer == "tachyon" else vis.OpenGLRenderer()
        try:
            viewport.render_image(
                size=style.size,
                filename=temporary,
                background=style.background,
                renderer=renderer,
            )
        except RuntimeError as error:
            if "vulkan" in str(error).lower():
                raise RenderUnavailable(
                    f"OVITO could not start its Vulkan graphics backend: {INSTALL_HINT}. "
                    f"OVITO said: {str(error).splitlines()[0]}"
                ) from error
            raise
        os.chmod(temporary, _new_file_mode(output))  # mkstemp made it private (0600)
        os.replace(temporary, output)
    finally:
        pipeline.remove_from_scene()
        if os.path.exists(temporary):
            os.unlink(temporary)


def _new_file_mode(path: str) -> int:
    """Permissions for the picture: those of the file it replaces, else as open() would."""
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _make_viewport(ovito, pipeline, style: RenderStyle):
    vis = ovito.vis
    kind = {
        "perspective": vis.Viewport.Type.Perspective,
        "top": vis.Viewport.Type.Top,
        "front": vis.Viewport.Type.Front,
        "left": vis.Viewport.Type.Left,
    }[style.view]
    viewport = vis.Viewport(type=kind, camera_dir=_VIEW_DIRECTIONS[style.view])
    viewport.zoom_all(size=style.size)
    if style.legend:
        qt = ovito.QtCore.Qt
        viewport.overlays.append(
            vis.ColorLegendOverlay(
                modifier=pipeline.modifiers[-1],  # the ColorCodingModifier, added last
                title=LEGEND_TITLE,
                alignment=qt.AlignmentFlag.AlignRight | qt.AlignmentFlag.AlignVCenter,
                orientation=qt.Orientation.Vertical,
                # end labels say that values beyond the range take the end colours
                label1=f"\u2265 {style.value_range[1]:g}",
                label2=f"\u2264 {style.value_range[0]:g}",
                text_color=_contrasting(style.background),
                legend_size=0.5,  # fraction of the image height
                offset_x=-0.02,
                font_size=0.08,
            )
        )
    return viewport


def _contrasting(background: tuple[float, float, float]) -> tuple[float, float, float]:
    """Black text on light backgrounds, white on dark ones."""
    luminance = 0.2126 * background[0] + 0.7152 * background[1] + 0.0722 * background[2]
    return (0.0, 0.0, 0.0) if luminance > 0.5 else (1.0, 1.0, 1.0)
