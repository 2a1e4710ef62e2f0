"""What the random-market scripts (rewards_markets.py, router_markets.py) share: one YAML file per kind,
every kind drawn in turn from one stream seeded on the command line."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

D = TypeVar("D")
Market = dict[str, Any]


def write_markets(
    draw: D, kinds: Sequence[Callable[[D], Market]], out: Path, names: Callable[[str, Market], str]
) -> list[Path]:
    """Draws one market per kind from `draw` (in order: the same seed gives the same files) and writes each
    to out/<names(kind, market)>.yaml."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in kinds:
        market = kind(draw)
        path = out / f"{names(kind.__name__, market)}.yaml"
        path.write_text(yaml.safe_dump(market, sort_keys=False), encoding="utf-8")
        written.append(path)
    return written


def main(doc: str | None, write: Callable[[int, Path], list[Path]]) -> None:
    """`--seed N --out DIR`: writes the markets of seed N into DIR and prints their paths."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    for path in write(args.seed, args.out):
        print(path)
