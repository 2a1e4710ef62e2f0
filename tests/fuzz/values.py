"""Plausible requests: every field filled by its name and type, from the server's config and from what
earlier answers returned, so mutations land on requests that get past the first checks."""

from __future__ import annotations

import random
import re
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

TIMESTAMP = "google.protobuf.Timestamp"
MAX_DEPTH = 5
SEEN_PER_NAME = 200  # harvested values kept per field name; older ones are forgotten

# Field names whose values live in the config under another (singular) key name.
ALIASES: dict[str, tuple[str, ...]] = {
    "partner_id": ("lender",),
    "supplier_id": ("supplier",),
    "type": ("event_type",),
    "level": ("tier",),
    "override_level": ("tier",),
    "campaign_id": ("campaign",),
    "right_id": ("right",),
    "arm_id": ("arm",),
    "channel": ("channel",),
    "scene": ("scene",),
    "scenario": ("scenario",),
    "segment": ("segment",),
    "product": ("product_id",),
}

# (name fragment, low, high): integer ranges a caller would plausibly send.
_INT_RANGES: tuple[tuple[str, int, int], ...] = (
    ("hold_ms", 0, 20),
    ("fen", 100, 200_000),
    ("points", 1, 500),
    ("ttl_seconds", 60, 3_600),
    ("page_size", 1, 100),
    ("limit", 1, 100),
    ("max_samples", 1, 50),
    ("term_months", 3, 12),
    ("age", 18, 70),
    ("sequence", 0, 100),
    ("count", 0, 30),
)


def is_map(fd: FieldDescriptor) -> bool:
    return fd.message_type is not None and fd.message_type.GetOptions().map_entry


def is_timestamp(fd: FieldDescriptor) -> bool:
    return fd.message_type is not None and fd.message_type.full_name == TIMESTAMP


def singular(name: str) -> str:
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass
class Pools:
    """Candidate values per field name: from the server's config, and harvested from OK answers."""

    config_text: str
    now: datetime
    config: dict[str, list[str]] = field(default_factory=dict)
    seen: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(lambda: deque(maxlen=SEEN_PER_NAME)))
    customers: list[str] = field(default_factory=list)
    keys: deque[str] = field(default_factory=lambda: deque(maxlen=SEEN_PER_NAME))

    @classmethod
    def from_config(cls, document: Any, text: str, now: datetime, rng: random.Random) -> Pools:
        pools = cls(config_text=text, now=now)
        collected: dict[str, set[str]] = defaultdict(set)
        _walk_config(document, "", collected)
        pools.config = {name: sorted(values) for name, values in collected.items()}
        # A small customer population, so balances, caps and stickiness build up across calls.
        pools.customers = [f"fz_cust_{rng.getrandbits(48):012x}" for _ in range(8)]
        return pools

    def candidates(self, name: str) -> list[str]:
        names = (name, *ALIASES.get(name, ()))
        found: list[str] = []
        for key in names:
            found.extend(self.seen.get(key, ()))
            found.extend(self.config.get(key, ()))
        return found

    def harvest(self, message: Message, depth: int = 0) -> None:
        """Remembers the ids and names an answer returned (offer_id, hold id, lead id, ...)."""
        if depth > MAX_DEPTH:
            return
        for fd, value in message.ListFields():
            if fd.type == fd.TYPE_STRING and not fd.is_repeated and value:
                for name in _harvest_names(message.DESCRIPTOR, fd):
                    self.seen[name].append(value)
            elif fd.message_type is not None and not is_map(fd):
                for item in value if fd.is_repeated else (value,):
                    self.harvest(item, depth + 1)


def _harvest_names(owner: Descriptor, fd: FieldDescriptor) -> Iterable[str]:
    if fd.name != "id":
        return (fd.name,)
    # `Hold.id` is what a request calls `hold_id`; `LedgerTransaction.id` is `transaction_id`.
    words = snake(owner.name).split("_")
    return (f"{'_'.join(words)}_id", f"{words[-1]}_id")


def _walk_config(node: Any, key: str, out: dict[str, set[str]]) -> None:
    if isinstance(node, dict):
        if key == "extra_tags":  # the router's extra CDP tag names are map keys of RouteApplicant.tags
            out["attribute"].update(str(k) for k in node)
        for child_key, child in node.items():
            _walk_config(child, str(child_key), out)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                out[singular(key)].add(item["id"])
                out[f"{singular(key)}_id"].add(item["id"])
            _walk_config(item, key, out)
    elif isinstance(node, str) and node:
        out[singular(key)].add(node)


class Filler:
    """Builds plausible requests for one server."""

    def __init__(self, pools: Pools, rng: random.Random) -> None:
        self.pools, self.rng = pools, rng

    def fill(self, message: Message, depth: int = 0) -> Message:
        """Every field set (absence is a mutation of its own); one member of each oneof."""
        chosen = {oneof.name: self.rng.choice(oneof.fields) for oneof in message.DESCRIPTOR.oneofs}
        for fd in message.DESCRIPTOR.fields:
            oneof = fd.containing_oneof
            if oneof is None or chosen[oneof.name] is fd:
                self.fill_field(message, fd, depth)
        return message

    def fill_field(self, message: Message, fd: FieldDescriptor, depth: int) -> None:
        if is_map(fd):
            self.fill_map(message, fd, depth, self.rng.randint(0, 3))
        elif fd.is_repeated:
            for _ in range(self.rng.randint(0, 3)):
                self.append(message, fd, depth)
        elif is_timestamp(fd):
            getattr(message, fd.name).FromDatetime(self.timestamp(fd.name))
        elif fd.message_type is not None:
            if depth < MAX_DEPTH:
                self.fill(getattr(message, fd.name), depth + 1)
        else:
            setattr(message, fd.name, self.scalar(fd, message.DESCRIPTOR))

    def append(self, message: Message, fd: FieldDescriptor, depth: int) -> None:
        container = getattr(message, fd.name)
        if fd.message_type is None:
            container.append(self.scalar(fd, message.DESCRIPTOR))
        elif is_timestamp(fd):
            container.add().FromDatetime(self.timestamp(fd.name))
        else:
            self.fill(container.add(), depth + 1)

    def fill_map(self, message: Message, fd: FieldDescriptor, depth: int, entries: int) -> None:
        container = getattr(message, fd.name)
        key_fd = fd.message_type.fields_by_name["key"]
        value_fd = fd.message_type.fields_by_name["value"]
        for index in range(entries):
            key = self.map_key(fd, key_fd, index)
            if value_fd.message_type is not None:
                self.fill(container[key], depth + 1)
            else:
                container[key] = self.scalar(value_fd, message.DESCRIPTOR, hint=str(key))

    def map_key(self, fd: FieldDescriptor, key_fd: FieldDescriptor, index: int) -> Any:
        if key_fd.type != key_fd.TYPE_STRING:
            return index
        if index >= 3:  # a 10,000-entry map needs distinct keys, not more lookups
            return f"k{index}"
        names = self.pools.candidates(singular(fd.name)) or self.pools.candidates("attribute")
        return self.rng.choice(names) if names else f"k{index}"

    def timestamp(self, name: str) -> datetime:
        """A recent time; fields that name an end or an expiry get one in the near future."""
        if any(word in name for word in ("until", "end", "expires")):
            return self.pools.now + timedelta(days=self.rng.randint(1, 30))
        if any(word in name for word in ("start", "granted")):
            return self.pools.now - timedelta(days=self.rng.randint(1, 30))
        return self.pools.now - timedelta(seconds=self.rng.randint(0, 3_600))

    def scalar(self, fd: FieldDescriptor, owner: Descriptor, hint: str = "") -> Any:
        kind = fd.cpp_type
        if kind == fd.CPPTYPE_STRING:
            return self.string(fd, owner) if fd.type == fd.TYPE_STRING else self.rng.randbytes(8)
        if kind == fd.CPPTYPE_BOOL:
            return self.rng.random() < 0.5
        if kind == fd.CPPTYPE_ENUM:
            values = [v.number for v in fd.enum_type.values if v.number != 0]
            return self.rng.choice(values) if values and self.rng.random() < 0.9 else 0
        if kind in (fd.CPPTYPE_DOUBLE, fd.CPPTYPE_FLOAT):
            return round(self.rng.random(), 3)
        return self.integer(hint or fd.name)

    def integer(self, name: str) -> int:
        for fragment, low, high in _INT_RANGES:
            if fragment in name:
                return self.rng.randint(low, high)
        return self.rng.randint(0, 1_000)

    def string(self, fd: FieldDescriptor, owner: Descriptor) -> str:
        name = fd.name
        if owner.name == "CustomerRef":
            return self.rng.choice(self.pools.customers)
        if owner.name == "IdempotencyKey":
            return self.idempotency_key()
        if "yaml" in name:
            return self.pools.config_text
        if name.endswith("_hash"):  # e.g. phone_hash: a SHA-256 in hex
            return f"{self.rng.getrandbits(256):064x}"
        if name == "page_token":
            found = self.pools.candidates("next_page_token")
            return self.rng.choice(found) if found and self.rng.random() < 0.5 else ""
        found = self.pools.candidates(name)
        if found and self.rng.random() < 0.85:
            return self.rng.choice(found)
        return f"fz_{name}_{self.rng.getrandbits(32):08x}"

    def idempotency_key(self) -> str:
        # Now and then a key already used, so the replay and ALREADY_EXISTS paths are fuzzed too.
        if self.pools.keys and self.rng.random() < 0.05:
            return self.rng.choice(self.pools.keys)
        value = f"{self.rng.getrandbits(128):032x}"
        self.pools.keys.append(value)
        return value
