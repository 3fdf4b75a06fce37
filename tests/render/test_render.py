"""`lammps-quests render`: real LAMMPS dumps rendered headless by OVITO, checked pixel by pixel.

The dumps hold 256 FCC Cu atoms in a 14.46 Å cube with a per-atom column ``f_q`` of known
values (tests/dh_dumps.py). With ``--view top`` the camera looks down -z with x to the right,
so the left half of the picture shows atoms with x < L/2 and the right half x > L/2.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

try:  # a silent skip would let CI pass without ever rendering
    import ovito  # noqa: F401
except ImportError:
    pytest.fail('the render tests need OVITO: pip install ".[test,ovito]"', pytrace=False)

from dh_dumps import run_dh_dump, write_dh_dump  # noqa: E402
from lammps_quests.cli import main  # noqa: E402
from lammps_quests.formats._growing_dump import complete_frames, read_frame  # noqa: E402

LEFT_LOW = "8*(x>v_half) - 4"  # dH -4 nats for x < L/2, +4 for x > L/2
LEFT_HIGH = "-8*(x>v_half) + 4"
SMALL = ["--size", "320", "240"]
REPO = Path(__file__).resolve().parents[2]

# the dumps rendered come from real LAMMPS runs (tests/dh_dumps.py)
pytestmark = pytest.mark.lammps


def read_rgb(path: Path) -> np.ndarray:
    """Image as (height, width, 3) floats in [0, 1]."""
    import matplotlib.image

    return matplotlib.image.imread(path)[..., :3].astype(float)


def reddish(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] - np.maximum(rgb[..., 1], rgb[..., 2]) > 0.25


def bluish(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 2] - np.maximum(rgb[..., 0], rgb[..., 1]) > 0.25


def drawn_columns(rgb: np.ndarray, background=(1.0, 1.0, 1.0)) -> tuple[int, int]:
    """First and last image column holding anything but background (atoms, cell lines)."""
    drawn = np.abs(rgb - np.asarray(background)).max(axis=-1) > 0.05
    columns = np.nonzero(drawn.any(axis=0))[0]
    return int(columns.min()), int(columns.max())


def left_right(mask: np.ndarray, rgb: np.ndarray) -> tuple[int, int]:
    """True pixels in the left and right 40 % of the drawn area (x < L/2 and x > L/2 atoms;
    the middle 20 % is left out because atoms at the boundary overlap it)."""
    first, last = drawn_columns(rgb)
    width = int(0.4 * (last - first))
    return int(mask[:, first:first + width].sum()), int(mask[:, last - width:last + 1].sum())


def render(*args: str) -> str:
    result = CliRunner().invoke(main, ["render", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def split_dump(tmp_path_factory) -> Path:
    """Two frames: dH low (-4) left and high (+4) right at step 0, the reverse at step 100."""
    path = tmp_path_factory.mktemp("render") / "split.dump"
    return write_dh_dump(path, [(0, LEFT_LOW), (100, LEFT_HIGH)])


def assert_left_low(rgb: np.ndarray) -> None:
    red_left, red_right = left_right(reddish(rgb), rgb)
    blue_left, blue_right = left_right(bluish(rgb), rgb)
    assert blue_left > 3000 and red_right > 3000, (blue_left, red_right)
    assert red_left < 0.01 * red_right and blue_right < 0.01 * blue_left, (red_left, blue_right)


def assert_left_high(rgb: np.ndarray) -> None:
    assert_left_low(rgb[:, ::-1])


def test_red_where_dh_high_blue_where_low(split_dump, tmp_path):
    out = tmp_path / "frame.png"
    report = render(str(split_dump), "-o", str(out), "--frame", "0", "--view", "top",
                    "--no-legend", *SMALL)
    assert "timestep 0: 256 atoms" in report and "128 with dH > 0" in report
    rgb = read_rgb(out)
    assert rgb.shape == (240, 320, 3)
    assert rgb.std() > 0.1  # not blank
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # as a plain open() would make it
    assert_left_low(rgb)
    # the default frame is the newest one, where the halves are swapped
    render(str(split_dump), "-o", str(out), "--view", "top", "--no-legend", *SMALL)
    assert_left_high(read_rgb(out))


def test_fixed_diverging_scale_white_at_zero_and_clipped(tmp_path):
    """Thirds of the box at dH = -20, 0, +2 nats on a grey background must come out blue,
    white and light red from left to right. With a range fitted to the data instead of the
    fixed [-5, 5], 0 would not be white and +2 would be full red."""
    from lammps_quests.render import RenderStyle, render_dump

    grey = (0.3, 0.3, 0.3)
    dump = write_dh_dump(tmp_path / "thirds.dump",
                         [(0, "-20*(x<xlo+(xhi-xlo)/3-0.5) + 2*(x>xlo+2*(xhi-xlo)/3-0.5)")])
    out = tmp_path / "thirds.png"
    rendered = render_dump(dump, out, style=RenderStyle(
        view="top", size=(360, 240), legend=False, background=grey))
    assert (rendered.dh_min, rendered.dh_max) == (-20.0, 2.0)
    rgb = read_rgb(out)
    blue, red = bluish(rgb), reddish(rgb)
    white = (rgb.min(axis=-1) > 0.6) & (np.ptp(rgb, axis=-1) < 0.08)
    assert blue.sum() > 3000 and white.sum() > 3000 and red.sum() > 2000
    blue_x, white_x, red_x = (np.nonzero(mask)[1] for mask in (blue, white, red))
    assert np.percentile(blue_x, 95) < np.percentile(white_x, 5)
    assert np.percentile(white_x, 95) < np.percentile(red_x, 5)
    # +2 nats lies 40 % of the way from white (0) to red (+5): red, but much paler than the
    # -20 atoms are blue (clipped to the full end colour of the scale)
    red_atoms, blue_atoms = rgb[red], rgb[blue]
    red_saturation = np.median(red_atoms[:, 0] - red_atoms[:, 1])
    blue_saturation = np.median(blue_atoms[:, 2] - blue_atoms[:, 0])
    assert red_saturation < 0.7 * blue_saturation, (red_saturation, blue_saturation)


def expected_colour(dh: np.ndarray, low: float = -5.0, high: float = 5.0) -> np.ndarray:
    """Blue (0,0,1) -> white -> red (1,0,0), linear, clipped outside [low, high] nats."""
    t = np.clip((dh - low) / (high - low), 0.0, 1.0)[:, None]
    blue, white, red = np.array([0.0, 0, 1]), np.ones(3), np.array([1.0, 0, 0])
    return np.where(t < 0.5, blue + 2 * t * (white - blue), white + (2 * t - 1) * (red - white))


def test_atom_colours_follow_the_diverging_map_exactly(tmp_path):
    """dH from -12.75 to +12.75 nats in steps of 0.1 (atom id 1..256): each atom's colour is
    the blue-white-red value of its dH, clipped beyond [-5, 5] and beyond a custom range."""
    from lammps_quests.render import RenderStyle, atom_colours

    dump = write_dh_dump(tmp_path / "ramp.dump", [(0, "(id - 128.5) * 0.1")])
    dh, rgb = atom_colours(dump)
    assert dh.shape == (256,) and rgb.shape == (256, 3)
    assert np.allclose(dh, (np.arange(1, 257) - 128.5) * 0.1)
    assert np.allclose(rgb, expected_colour(dh), atol=1e-6)
    assert (rgb[dh <= -5] == [0, 0, 1]).all() and (rgb[dh >= 5] == [1, 0, 0]).all()
    dh, rgb = atom_colours(dump, style=RenderStyle(value_range=(-1.0, 3.0)))
    assert np.allclose(rgb, expected_colour(dh, -1.0, 3.0), atol=1e-6)
    # a slab 4 Å thick across the top view keeps only atoms with |z - L/2| < 2 Å
    dh_slab, _ = atom_colours(dump, style=RenderStyle(view="top", slab=4.0))
    assert len(dh_slab) == 96  # 3 of the 8 (001) planes of 32 atoms: z = 5.42, 7.23, 9.04 Å


def test_property_name_of_another_fix_id_matches_despite_ovito_lowercasing(tmp_path):
    """`fix dH all quests` dumps column f_dH; OVITO calls the property f_dh."""
    from lammps_quests.render import RenderStyle, atom_colours

    dump = write_dh_dump(tmp_path / "dH.dump", [(0, LEFT_LOW)], fix_id="dH")
    assert "ITEM: ATOMS id type x y z f_dH" in dump.read_text()
    dh, rgb = atom_colours(dump, style=RenderStyle(property="f_dH"))
    assert sorted(set(dh)) == [-4.0, 4.0]
    assert np.allclose(rgb, expected_colour(dh), atol=1e-6)
    out = tmp_path / "dH.png"
    assert "128 with dH > 0" in render(str(dump), "-o", str(out), "--property", "f_dH",
                                       "--renderer", "opengl", *SMALL)
    result = CliRunner().invoke(main, ["render", str(dump), "-o", str(out)])
    assert result.exit_code == 2 and "extra columns found: f_dh" in result.output


def test_legend_draws_the_colour_scale(tmp_path):
    """All atoms at dH = 0 are white: any red or blue in the picture is the legend's."""
    dump = write_dh_dump(tmp_path / "zero.dump", [(0, "0")])
    bare, legend = tmp_path / "bare.png", tmp_path / "legend.png"
    render(str(dump), "-o", str(bare), "--no-legend", *SMALL)
    render(str(dump), "-o", str(legend), *SMALL)
    without, with_legend = read_rgb(bare), read_rgb(legend)
    assert reddish(without).sum() == 0 and bluish(without).sum() == 0
    red, blue = reddish(with_legend), bluish(with_legend)
    assert red.sum() > 100 and blue.sum() > 100
    # the colour bar stands at the right edge, red (high) above blue (low)
    columns = np.nonzero(red | blue)[1]
    assert columns.min() > 0.75 * with_legend.shape[1]
    assert np.nonzero(red)[0].mean() < np.nonzero(blue)[0].mean()


def test_gzipped_dump_written_by_lammps(tmp_path):
    """LAMMPS writes `dump ... file.gz` through gzip; frames are found by streaming."""
    packed = run_dh_dump(tmp_path / "run.dump.gz",
                         f"(step<50)*({LEFT_LOW}) + (step>=50)*({LEFT_HIGH})", steps=100, every=50)
    out = tmp_path / "gz.png"
    common = ["--view", "top", "--no-legend", "--renderer", "opengl", *SMALL]
    assert "timestep 0:" in render(str(packed), "-o", str(out), "--frame", "0", *common)
    assert_left_low(read_rgb(out))
    assert "timestep 100:" in render(str(packed), "-o", str(out), *common)
    assert_left_high(read_rgb(out))
    assert "timestep 0:" in render(str(packed), "-o", str(out), "--frame", "-3", *common)
    result = CliRunner().invoke(main, ["render", str(packed), "-o", str(out), "--frame", "3"])
    assert result.exit_code == 2 and "has 3 complete frame(s)" in result.output
    result = CliRunner().invoke(main, ["render", str(packed), "-o", str(out), "--follow"])
    assert result.exit_code == 2 and "cannot be followed" in result.output


def test_follow_renders_newest_complete_frame_of_a_growing_dump(split_dump, tmp_path):
    """A writer appends frames the way LAMMPS flushes them (in pieces) while `render --follow`
    polls. Frame 100 is published half-written, then completed together with frame 200
    and a few bytes of frame 300: the second picture must be frame 200, the newest complete."""
    frames = [read_frame(split_dump, span) for span in complete_frames(split_dump)]
    left_low, left_high = frames
    # timesteps 100 and 300 get left-low colours, 200 left-high
    frame_100 = left_low.replace(b"TIMESTEP\n0\n", b"TIMESTEP\n100\n", 1)
    frame_200 = left_high.replace(b"TIMESTEP\n100\n", b"TIMESTEP\n200\n", 1)
    frame_300 = left_low.replace(b"TIMESTEP\n0\n", b"TIMESTEP\n300\n", 1)
    growing, out = tmp_path / "growing.dump", tmp_path / "live.png"
    problems: list[str] = []

    def wait_for_picture(previous_inode):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                inode = os.stat(out).st_ino
            except FileNotFoundError:
                inode = None
            if inode is not None and inode != previous_inode:
                return inode
            time.sleep(0.02)
        problems.append("no picture appeared")
        return previous_inode

    def writer():
        with open(growing, "ab", buffering=0) as stream:
            stream.write(left_low)
            first = wait_for_picture(None)
            stream.write(frame_100[: len(frame_100) // 2])  # cut mid-line
            time.sleep(0.6)  # several polls see the half-written frame
            stream.write(frame_100[len(frame_100) // 2 :] + frame_200 + frame_300[:40])
            wait_for_picture(first)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        report = render(str(growing), "-o", str(out), "--follow", "--interval", "0.1",
                        "--max-updates", "2", "--timeout", "30", "--view", "top",
                        "--no-legend", "--renderer", "opengl", *SMALL)
    finally:
        thread.join(timeout=60)
    assert not problems
    steps = [line.split(":")[0] for line in report.splitlines() if line.startswith("timestep")]
    assert steps == ["timestep 0", "timestep 200"], report
    assert report.count("256 atoms") == 2
    assert_left_high(read_rgb(out))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".live")] == []


def test_follow_waits_for_the_dump_and_picks_up_a_new_run(split_dump, tmp_path):
    """Following starts before LAMMPS has created the dump; later a new run replaces the file
    with a frame of the same timestep but other values, which must be rendered too."""
    left_low, left_high = (read_frame(split_dump, span) for span in complete_frames(split_dump))
    left_high = left_high.replace(b"TIMESTEP\n100\n", b"TIMESTEP\n0\n", 1)
    growing, out = tmp_path / "run.dump", tmp_path / "live.png"
    problems: list[str] = []

    def writer():
        time.sleep(0.5)  # several polls find no file
        growing.write_bytes(left_low)
        deadline = time.monotonic() + 30
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not out.exists():
            problems.append("no first picture")
        replacement = tmp_path / "new_run.dump"
        replacement.write_bytes(left_high)
        os.replace(replacement, growing)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        report = render(str(growing), "-o", str(out), "--follow", "--interval", "0.1",
                        "--max-updates", "2", "--timeout", "30", "--view", "top",
                        "--no-legend", "--renderer", "opengl", *SMALL)
    finally:
        thread.join(timeout=60)
    assert not problems
    assert report.count("timestep 0: 256 atoms") == 2, report
    assert_left_high(read_rgb(out))


LIVE_RUN = """
import sys, time
sys.path.insert(0, {tests!r})
from crystal_md import new_lammps
from dh_dumps import CELLS, LATTICE
lmp = new_lammps()
lmp.commands_string(f'''
units metal
lattice fcc {{LATTICE}}
region box block 0 {{CELLS}} 0 {{CELLS}} 0 {{CELLS}}
create_box 1 box
create_atoms 1 box
mass 1 63.546
variable half equal 0.5*(xlo+xhi)-0.25*{{LATTICE}}
variable flip equal (step/100)%2
variable dh atom "(v_flip==0)*({low}) + (v_flip==1)*({high})"
fix q all store/state 100 v_dh
dump d all custom 100 {dump} id type x y z f_q
fix nve all nve
''')
for _ in range(5):
    lmp.command("run 100")
    time.sleep(0.4)  # a slower simulation: frames arrive while the renderer polls
lmp.close()
"""


def test_follow_keeps_up_with_a_running_lammps(tmp_path):
    """LAMMPS (another process) writes a frame every 100 steps, colours swapping each time;
    `render --follow` ends on the last one, step 500 (left half high)."""
    dump, out = tmp_path / "live.dump", tmp_path / "live.png"
    script = LIVE_RUN.format(tests=str(Path(__file__).parents[1]), low=LEFT_LOW, high=LEFT_HIGH,
                             dump=str(dump))
    lammps_run = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE,
                                  text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        report = render(str(dump), "-o", str(out), "--follow", "--interval", "0.1",
                        "--timeout", "4", "--view", "top", "--no-legend",
                        "--renderer", "opengl", *SMALL)
    finally:
        _, errors = lammps_run.communicate(timeout=120)
    assert lammps_run.returncode == 0, errors
    steps = [int(line.split()[1].rstrip(":")) for line in report.splitlines()
             if line.startswith("timestep")]
    assert len(steps) >= 2 and steps == sorted(set(steps)) and steps[-1] == 500, report
    assert report.count("256 atoms") == len(steps)
    assert_left_high(read_rgb(out))


def test_follow_stops_after_timeout_without_new_frames(split_dump, tmp_path):
    out = tmp_path / "idle.png"
    start = time.monotonic()
    report = render(str(split_dump), "-o", str(out), "--follow", "--interval", "0.1",
                    "--timeout", "1", "--renderer", "opengl", "--no-legend", *SMALL)
    assert 1.0 <= time.monotonic() - start < 20
    assert report.count("timestep 100:") == 1  # the newest frame, once
    assert out.exists()


def test_binary_file_is_refused_with_the_dump_command(tmp_path):
    junk = tmp_path / "run.bin"
    junk.write_bytes(bytes(range(256)) * 4)
    result = CliRunner().invoke(main, ["render", str(junk), "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 2 and "is not a LAMMPS text dump" in result.output


@pytest.mark.parametrize("args, message", [
    (["--property", "f_dh"], "no per-atom column 'f_dh'; extra columns found: f_q"),
    (["--frame", "2"], "frame 2 does not exist"),
    (["--range", "5", "-5"], "low < high"),
    (["--timeout", "3"], "--timeout only work with --follow"),
])
def test_bad_input_is_named(split_dump, tmp_path, args, message):
    result = CliRunner().invoke(
        main, ["render", str(split_dump), "-o", str(tmp_path / "x.png"), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "x.png").exists()


def run_isolated(code: str, env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), **env_extra}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)


def test_without_ovito_the_package_imports_and_render_names_the_install(split_dump, tmp_path):
    code = f"""
import sys
sys.modules["ovito"] = None  # as if the extra were not installed
import lammps_quests.render as r
from lammps_quests.errors import RenderUnavailable
assert "ovito" not in [m for m in sys.modules if sys.modules[m] is not None]
try:
    r.render_dump({str(split_dump)!r}, {str(tmp_path / "x.png")!r})
except RenderUnavailable as error:
    print(error)
"""
    result = run_isolated(code, {})
    assert result.returncode == 0, result.stderr
    assert 'pip install "lammps-quests[ovito]"' in result.stdout
    assert "apt-get install libvulkan1 mesa-vulkan-drivers" in result.stdout


@pytest.mark.parametrize("env", [
    {"VK_ICD_FILENAMES": "/nonexistent/icd.json"},  # loader present, no driver found
    {"LD_LIBRARY_PATH": "BROKEN"},  # a libvulkan.so.1 that cannot be loaded
], ids=["no-driver", "no-loader"])
def test_missing_vulkan_is_reported_with_the_debian_packages(split_dump, tmp_path, env):
    if env.get("LD_LIBRARY_PATH") == "BROKEN":
        broken = tmp_path / "lib"
        broken.mkdir()
        (broken / "libvulkan.so.1").write_text("not a library")
        env = {"LD_LIBRARY_PATH": str(broken)}
    out = tmp_path / "x.png"
    result = subprocess.run(
        [sys.executable, "-c", "from lammps_quests.cli import main; main()", "render",
         str(split_dump), "-o", str(out)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO), **env},
        timeout=120)
    assert result.returncode == 1, result.stderr
    assert "Vulkan" in result.stderr
    assert "apt-get install libvulkan1 mesa-vulkan-drivers" in result.stderr
    assert not out.exists() and not list(tmp_path.glob(".x.png*"))


def test_json_reports_the_picture_as_the_text_does(split_dump, tmp_path):
    import json

    text = render(str(split_dump), "-o", str(tmp_path / "a.png"), "--frame", "0", *SMALL)
    data = json.loads(render(str(split_dump), "-o", str(tmp_path / "b.png"), "--frame", "0", "--json", *SMALL))
    assert (data["timestep"], data["natoms"], data["n_positive"]) == (0, 256, 128)
    assert f"dH {data['dh_min']:.3g} .. {data['dh_max']:.3g} nats" in text
    assert data["output"] == str(tmp_path / "b.png") and data["range"] == [-5.0, 5.0]
