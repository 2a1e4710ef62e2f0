"""The wire contracts: generated code is fresh, and every RPC and field is documented."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_generated_modules_match_protos() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/gen_protos.py", "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rpc_message_and_field_has_a_comment() -> None:
    undocumented = []
    for proto in sorted((REPO / "protos").rglob("*.proto")):
        lines = proto.read_text().splitlines()
        for number, line in enumerate(lines):
            stripped = line.strip()
            is_decl = re.match(r"^(rpc|message|enum|service)\s", stripped) or re.match(
                r"^(repeated\s+|optional\s+|map<[^>]+>\s+)?[\w.]+\s+\w+\s*=\s*\d+", stripped
            )
            if not is_decl:
                continue
            previous = lines[number - 1].strip() if number else ""
            if not (previous.startswith("//") or "//" in stripped):
                undocumented.append(f"{proto.relative_to(REPO)}:{number + 1}: {stripped}")
    assert not undocumented, "\n".join(undocumented)


def test_every_mutating_rpc_takes_an_idempotency_key() -> None:
    read_only = re.compile(r"^(Get|List|Check|Validate|Probe|Ping|Explain|Watch|Stream|Simulate|WhatIf|Preview|Quote)")
    missing = []
    for proto in sorted((REPO / "protos").rglob("*.proto")):
        text = proto.read_text()
        if "partner/v1" in str(proto):
            continue  # partners implement that service; the lead id is their idempotency key
        for name, request in re.findall(r"rpc\s+(\w+)\s*\(\s*(\w+)\s*\)", text):
            if read_only.match(name):
                continue
            body = re.search(rf"message\s+{request}\s*\{{(.*?)\n\}}", text, re.S)
            if body is None or "IdempotencyKey idempotency_key" not in body.group(1):
                missing.append(f"{proto.name}: {name}({request})")
    assert not missing, missing
