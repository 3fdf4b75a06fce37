"""Click options and error handling shared by the ``lammps-quests`` commands, defined once."""

from __future__ import annotations

import functools
from pathlib import Path

import click

from lammps_quests.core._defaults import DEFAULT_BANDWIDTH, DEFAULT_CUTOFF, DEFAULT_K

_INDEX_HELP = ("Frames taken from each file, Python slice syntax (0-based): ':' all, '-1' the last, "
               "'::10' every tenth, '20:' from frame 20 on.")
_FORMAT_HELP = ("ASE format name for all input files (default: detect; LAMMPS dumps and data files are "
                "recognised), e.g. extxyz, lammps-dump-text, lammps-data, vasp.")


def frame_options(function):
    """--index and --format, for every command that reads structure files."""
    function = click.option("--format", "fmt", default=None, metavar="FMT", help=_FORMAT_HELP)(function)
    return click.option("--index", default=":", show_default=True, metavar="SLICE", help=_INDEX_HELP)(function)


def descriptor_options(function):
    """--k and --cutoff (Å), for commands that compute descriptors without a reference."""
    function = click.option("--cutoff", type=float, default=DEFAULT_CUTOFF, show_default=True,
                            help="Descriptor cutoff radius in Å.")(function)
    return click.option("--k", type=int, default=DEFAULT_K, show_default=True,
                        help="Neighbours per descriptor (descriptor width 2k-1).")(function)


def elements_option(function):
    """--elements auto|El1,El2,...: species-aware descriptors (None: species-agnostic)."""
    return click.option(
        "--elements", default=None, metavar="auto|El1,El2,...",
        help="Species-aware descriptors: 'auto' takes the elements of the inputs (sorted), or give the "
             "ordered list, e.g. In,P; environments are then compared only with environments centred on "
             "the same element. " + TYPES_HELP,
    )(function)


#: how --elements treats a LAMMPS dump without an element column (the rule of formats.type_symbols)
TYPES_HELP = ("A LAMMPS dump without an element column numbers its atom types: the list then names "
              "types 1, 2, ... in type-id order (as fix quests's elements keyword), and 'auto' is an "
              "error (or dump with dump_modify ID element In P).")


def dh_elements_option(function):
    """dh's --elements: the elements of numbered atom types; the elements list is the reference's."""
    return click.option(
        "--elements", default=None, metavar="auto|El1,El2,...",
        help="With a species-aware reference: where the atoms' elements come from. 'auto' (default): "
             "from the files. " + TYPES_HELP.replace("A LAMMPS dump", "For a LAMMPS dump", 1)
             + " Ignored with a species-agnostic reference.",
    )(function)


def bandwidth_option(default: float | None = DEFAULT_BANDWIDTH, dest: str = "h", help: str | None = None):
    """--bandwidth h in Å^-1; ``default=None`` means the reference's."""
    if help is None:
        help = ("Kernel bandwidth h in Å^-1." if default is not None
                else "Kernel bandwidth h in Å^-1 [default: the reference's].")
    return click.option("--bandwidth", dest, type=float, default=default, show_default=default is not None,
                        help=help)


def reference_option(help: str = "Reference file (.qref) built with `lammps-quests reference build`."):
    """--reference / -r FILE (required), passed as ``reference_path``."""
    return click.option("--reference", "-r", "reference_path", required=True, type=click.Path(path_type=Path),
                        help=help)


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def user_errors(function):
    """Turn ValueError into a click error: message, no traceback. A problem with a file
    (reference, fast index) exits 1 like every other file error; bad settings exit 2 with the
    usage line."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except ValueError as error:
            if _is_file_error(error):
                raise click.ClickException(str(error)) from None
            raise click.UsageError(str(error)) from None
    return wrapper


def _is_file_error(error: ValueError) -> bool:
    from lammps_quests.errors import FastIndexError
    from lammps_quests.errors import ReferenceFileError

    return isinstance(error, (FastIndexError, ReferenceFileError))


force_option = click.option("--force", is_flag=True,
                            help="Overwrite output files that exist (never one of the inputs).")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def check_outputs(outputs, inputs=(), force: bool = False, names: OutputNames | dict | None = None) -> None:
    """Refuse output paths before any work: a directory, a missing directory, one of the
    command's inputs (even with --force), a name that does not say the format written
    (``names``: one :class:`OutputNames` for every output, or ``{output: OutputNames}``), an
    existing file without --force, a place that cannot be written (a read-only file system,
    no permission).

    Every command that writes files calls this one function with all its outputs and inputs.
    """
    inputs = [Path(path) for path in inputs if path is not None]
    for output in outputs:
        if output is None:
            continue
        named = names.get(output) if isinstance(names, dict) else names
        output = Path(output)
        if output.is_dir():
            raise click.UsageError(f"cannot write {output}: it is a directory; give a file name")
        if not output.resolve().parent.is_dir():
            raise click.UsageError(f"cannot write {output}: its directory does not exist; create it first")
        for source in inputs:
            if _same_file(output, source):
                raise click.UsageError(f"{output} is also an input of this command ({source}); "
                                       "write to another file (--force never overwrites an input)")
        if named is not None:
            named.check(output)
        if output.exists() and not force:
            raise click.UsageError(f"{output} exists; pass --force to overwrite it or choose another name")
        check_writable(output)
        register_output(output)


def register_output(output) -> None:
    """Remember an output of the running command and its state now, so that a write that fails
    (a full disk) removes what it left (:func:`remove_incomplete_outputs`)."""
    context = click.get_current_context(silent=True)
    if context is None:
        return
    path = Path(output)
    context.find_root().meta.setdefault("lammps_quests.outputs", {})[path] = _state(path)


def _state(path: Path):
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_size, stat.st_mtime_ns, stat.st_ino)


def remove_incomplete_outputs(context) -> list[Path]:
    """Remove the registered outputs that the failed command created or changed; returns them."""
    removed = []
    for path, before in context.meta.get("lammps_quests.outputs", {}).items():
        now = _state(path)
        if now is not None and now != before:
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed


def check_writable(output) -> None:
    """Refuse a file that cannot be created or replaced, naming the cause (read-only file
    system vs. permission denied)."""
    from lammps_quests.formats._writable import READ_ONLY_FS, why_unwritable

    reason = why_unwritable(output)
    if reason is None:
        return
    where = output if Path(output).exists() else Path(output).resolve().parent
    hint = ("write it to another file system" if reason == READ_ONLY_FS
            else f"change the permissions of {where} or write elsewhere")
    raise click.UsageError(f"cannot write {output}: {reason} ({where}); {hint}")


class OutputNames:
    """Which names an output may have: suffixes (".qref") and name prefixes ("dump."),
    with what the command writes there, for the message."""

    def __init__(self, what: str, suffixes=(), prefixes=()):
        self.what = what
        self.suffixes = tuple(suffixes)
        self.prefixes = tuple(prefixes)

    def accepts(self, path: Path) -> bool:
        name = path.name.lower()
        return name.endswith(self.suffixes) or name.startswith(self.prefixes)

    def check(self, path: Path) -> None:
        if self.accepts(path):
            return
        accepted = [f"*{suffix}" for suffix in self.suffixes] + [f"{prefix}*" for prefix in self.prefixes]
        raise click.UsageError(f"cannot write {path}: {self.what}; name it {' or '.join(accepted)} "
                               f"(got {path.suffix or 'no suffix'})")


#: the names of the outputs with a fixed format
REFERENCE_NAMES = OutputNames("the output is a reference file (the structure files come after it)",
                              (".qref",))
EXTXYZ_NAMES = OutputNames("the output is extended XYZ", (".xyz", ".extxyz"))
FRAMES_WITH_COLUMNS = OutputNames("the output holds frames with per-atom columns, as extended XYZ or a "
                                  "LAMMPS dump", (".xyz", ".extxyz", ".lammpstrj", ".dump"), ("dump.",))
PYTHON_NAMES = OutputNames("the output is a Python file for `python ... file`", (".py",))
CSV_NAMES = OutputNames("the output is a CSV table", (".csv",))
PNG_NAMES = OutputNames("the output is a PNG image", (".png",))


def check_ase_output(output) -> None:
    """Refuse an output name from which ASE cannot tell a format it writes with several frames."""
    from ase.io.formats import UnknownFileTypeError, filetype, ioformats

    output = Path(output)
    hint = "name it *.xyz or *.extxyz (extended XYZ) or *.traj (ASE trajectory)"
    if output.suffix.lower() == ".qref":
        raise click.UsageError(f"cannot write {output}: a .qref is a reference file, built with "
                               f"`lammps-quests reference build`; this output holds structures: {hint}")
    try:
        kind = filetype(str(output), read=False)
        io = ioformats[kind]
    except (UnknownFileTypeError, KeyError):
        raise click.UsageError(f"cannot write {output}: no structure format is named by "
                               f"'{output.suffix or output.name}'; {hint}") from None
    if not io.can_write or io.single:
        raise click.UsageError(f"cannot write {output}: ASE's {kind} format "
                               f"{'cannot be written' if not io.can_write else 'holds one structure'}; {hint}")
