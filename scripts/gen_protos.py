"""Regenerate the Python modules under skylane/ from protos/.

The generated package is named after the proto packages (``skylane.router.v1`` ...), so protoc's own
absolute imports resolve without rewriting.  Run after any change to protos/:

    python scripts/gen_protos.py            # write skylane/
    python scripts/gen_protos.py --check    # exit 1 when skylane/ is stale (used by the test suite)
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT / "skylane"
HEADER = '"""Generated from protos/ by scripts/gen_protos.py; do not edit."""\n'


def generate(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"-I{well_known}",
        f"--python_out={out.parent}",
        f"--pyi_out={out.parent}",
        f"--grpc_python_out={out.parent}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for directory in [out, *[p for p in out.rglob("*") if p.is_dir()]]:
        if directory.name != "__pycache__":
            (directory / "__init__.py").write_text(HEADER)
    (out / "py.typed").write_text("")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 if stale")
    args = parser.parse_args()
    if not args.check:
        shutil.rmtree(OUT, ignore_errors=True)
        generate(OUT)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "skylane"
        generate(fresh)
        stale = _differences(fresh, OUT)
    if stale:
        print("generated code is stale; run: python scripts/gen_protos.py", *stale, sep="\n  ")
        return 1
    return 0


def _differences(fresh: Path, committed: Path) -> list[str]:
    def files(root: Path) -> set[str]:
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}

    new, old = files(fresh), files(committed) if committed.exists() else set()
    diffs = [f"missing: {f}" for f in sorted(new - old)] + [f"extra: {f}" for f in sorted(old - new)]
    diffs += [f"differs: {f}" for f in sorted(new & old) if not filecmp.cmp(fresh / f, committed / f, shallow=False)]
    return diffs


if __name__ == "__main__":
    sys.exit(main())
