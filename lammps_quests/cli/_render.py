"""lammps-quests render commands (registered on lammps_quests.cli.main)."""

from __future__ import annotations

import click
from click.core import ParameterSource

from lammps_quests.cli import main

_VIEWS = ("perspective", "top", "front", "left")


@main.command()
@click.argument("dump", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Image to write (.png, .jpg); replaced atomically.")
@click.option("--frame", default=-1, show_default=True,
              help="Frame index, 0 = first; negative counts from the end (-1 = newest complete).")
@click.option("--range", "value_range", nargs=2, type=float, default=(-5.0, 5.0),
              show_default=True, metavar="LOW HIGH",
              help="dH (nats) drawn blue and red; white at the midpoint, values beyond clipped.")
@click.option("--property", "property_name", default="f_q", show_default=True,
              help="Dump column holding dH: f_<ID of fix quests>.")
@click.option("--follow", is_flag=True,
              help="Re-render the newest frame while LAMMPS appends to DUMP (Ctrl-C stops).")
@click.option("--interval", default=2.0, show_default=True, type=float,
              help="With --follow: seconds between checks of the dump.")
@click.option("--max-updates", type=click.IntRange(min=1), default=None,
              help="With --follow: stop after this many pictures.")
@click.option("--timeout", type=float, default=None,
              help="With --follow: stop after this many seconds without a new frame.")
@click.option("--size", nargs=2, type=int, default=(800, 600), show_default=True,
              metavar="W H", help="Image size in pixels.")
@click.option("--view", type=click.Choice(_VIEWS), default="perspective", show_default=True,
              help="Camera: perspective, or along -z (top), +y (front), +x (left).")
@click.option("--slab", type=float, default=None,
              help="Show only a slab this thick (Å) through the cell centre, across the view.")
@click.option("--radius", type=float, default=None, help="Atom radius in Å (default: OVITO's).")
@click.option("--renderer", type=click.Choice(("tachyon", "opengl")), default="tachyon",
              show_default=True, help="OVITO renderer (both run headless on Vulkan).")
@click.option("--no-legend", is_flag=True, help="Leave out the colour legend.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object per picture (timestep, atoms, dH range, output) instead of text.")
def render(dump, output, frame, value_range, property_name, follow, interval, max_updates,
           timeout, size, view, slab, radius, renderer, no_legend, as_json):
    """Render atoms of a LAMMPS DUMP coloured by dH (fix quests) to an image, via OVITO.

    Blue: dH <= LOW (inside the training domain), white: midpoint, red: dH >= HIGH
    (extrapolation). Needs the OVITO extra and, without a GPU, Vulkan's software driver:

    \b
      pip install "lammps-quests[ovito]"
      apt-get install libvulkan1 mesa-vulkan-drivers

    \b
    Examples:
      lammps-quests render run.dump -o frame.png
      lammps-quests render run.dump -o live.png --follow --interval 5
    """
    from lammps_quests import render as rendering  # keeps `lammps-quests --help` fast
    from lammps_quests.errors import RenderUnavailable

    if not follow:
        context = click.get_current_context()
        misplaced = [f"--{name.replace('_', '-')}"
                     for name in ("interval", "max_updates", "timeout")
                     if context.get_parameter_source(name) != ParameterSource.DEFAULT]
        if misplaced:
            raise click.UsageError(f"{', '.join(misplaced)} only work with --follow")
    elif frame != -1:
        raise click.UsageError(
            "--frame cannot be combined with --follow (it renders the newest frame)")
    try:
        style = rendering.RenderStyle(
            property=property_name, value_range=tuple(value_range), size=tuple(size), view=view,
            renderer=renderer, legend=not no_legend, slab=slab, radius=radius,
        )
        if not follow:
            _report(rendering.render_dump(dump, output, frame=frame, style=style), style, as_json)
            return
        click.echo(f"following {dump} -> {output} (Ctrl-C stops)", err=True)
        try:
            count = rendering.follow_dump(
                dump, output, style=style, interval=interval, max_updates=max_updates,
                timeout=timeout, on_update=lambda rendered: _report(rendered, style, as_json),
            )
        except KeyboardInterrupt:
            click.echo("stopped", err=True)
            return
        click.echo(f"wrote {count} picture(s)", err=True)
    except RenderUnavailable as error:
        raise click.ClickException(str(error)) from error
    except ValueError as error:
        raise click.UsageError(str(error)) from error


def _report(rendered, style, as_json: bool = False) -> None:
    low, high = style.value_range
    if as_json:  # one line per picture, so that --follow gives JSON lines
        import dataclasses
        import json

        click.echo(json.dumps({**dataclasses.asdict(rendered), "range": [low, high]}, allow_nan=False))
        return
    click.echo(
        f"timestep {rendered.timestep}: {rendered.natoms} atoms, dH {rendered.dh_min:.3g} .. "
        f"{rendered.dh_max:.3g} nats, {rendered.n_positive} with dH > 0 "
        f"(colour range {low:g} .. {high:g}) -> {rendered.output}"
    )
