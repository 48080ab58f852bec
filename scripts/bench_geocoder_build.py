"""The address index build (the geocoder stage of `lds build`) of this tree beside a baseline revision's, on one
extract in the same run: wall seconds and peak resident memory of each (a child process each, run one after the
other), their ratios, and whether the two indexes are byte-identical.

The baseline is ``git archive REV lds`` unpacked in a temporary dir with this tree's compiled extensions copied in
(the build of the index is pure Python), run with that dir first on PYTHONPATH. Prints figures, asserts nothing.

    nice -n 10 .venv/bin/python scripts/bench_geocoder_build.py /work/scale/country-1000000-1.osm.pbf --baseline HEAD
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from compare_geocoder_indexes import differing_files

CHILD = """
import sys
from pathlib import Path
from lds.geocoding.build import build_index
build_index(Path(sys.argv[1]), Path(sys.argv[2]), lambda step, message="": None)
"""


def export_revision(rev: str, into: Path) -> Path:
    """``lds`` as of ``rev`` under ``into``, with this tree's compiled extensions."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "lds"], check=True, capture_output=True).stdout
    into.mkdir(parents=True)
    tar_path = into / "lds.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter="data")
    for ext in (REPO / "lds").rglob("*.so"):
        target = into / ext.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ext, target)
    return into


def timed_build(extract: Path, out: Path, pythonpath: Path | None) -> dict:
    """Seconds and peak resident memory (MiB) of one index build in a child process."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(extract), str(out)], env=env, cwd=tempfile.gettempdir())
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the build of {extract} failed ({'baseline' if pythonpath else 'this tree'})")
    return {"seconds": round(seconds, 1), "peak_mb": round(usage.ru_maxrss / 1024)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("extract", type=Path)
    ap.add_argument("--baseline", default="HEAD", help="git revision to compare with")
    ap.add_argument("--work", type=Path, help="where the two indexes are written (default: a temporary dir)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-geocoder-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        base_src = export_revision(args.baseline, Path(tmp) / "baseline")
        base = timed_build(args.extract, work / "baseline", base_src)
        ours = timed_build(args.extract, work / "tree", None)
        same = not differing_files(work / "baseline", work / "tree")
    print(f"{'':>10}  {'seconds':>8}  {'peak MB':>8}")
    print(f"{args.baseline:>10}  {base['seconds']:>8}  {base['peak_mb']:>8}")
    print(f"{'tree':>10}  {ours['seconds']:>8}  {ours['peak_mb']:>8}")
    ratio = {k: round(ours[k] / base[k], 2) if base[k] else None for k in ("seconds", "peak_mb")}
    print(f"{'ratio':>10}  {ratio['seconds']!s:>8}  {ratio['peak_mb']!s:>8}")
    print(f"indexes byte-identical: {same}")
    print(json.dumps({"extract": str(args.extract), "baseline": base, "tree": ours, "ratio": ratio, "identical": same}))


if __name__ == "__main__":
    main()
