"""Mutations: each takes a plausible request and returns the body to send, named by what it broke.

Field mutations pick one field of the right kind anywhere in the request (through submessages, the
first element of repeated fields and a value of message-valued maps) and set it to a hostile value.
Raw mutations produce bodies no protobuf library would serialize: invalid UTF-8 in a string field,
truncations, garbage, deep group nesting, wrong wire types, lying length prefixes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from tests.fuzz.values import Filler, is_map, is_timestamp

Path = tuple[str, ...]
MAX_SLOT_DEPTH = 4
HUGE_COUNT = 10_000

INT_BOUNDS = {
    "int32": {"zero": 0, "neg1": -1, "max": 2**31 - 1, "min": -(2**31)},
    "int64": {"zero": 0, "neg1": -1, "max": 2**63 - 1, "min": -(2**63)},
    "uint32": {"zero": 0, "neg1": 1, "max": 2**32 - 1, "min": 0},
    "uint64": {"zero": 0, "neg1": 1, "max": 2**64 - 1, "min": 0},
}
DOUBLES = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf"), "huge": 1e308, "neg": -1.0}
YEAR_1 = -62_135_596_800  # 0001-01-01T00:00:00Z, the smallest valid Timestamp
YEAR_10000 = 253_402_300_800  # 10000-01-01T00:00:00Z, one past the largest valid Timestamp
TIMESTAMPS = {
    "nanos=-1": (None, -1),
    "nanos=1e9": (None, 1_000_000_000),
    "nanos=max32": (None, 2**31 - 1),
    "after-9999": (YEAR_10000 + 86_400, 0),
    "before-year1": (YEAR_1 - 86_400, 0),
    "int64-max": (2**63 - 1, 0),
    "int64-min": (-(2**63), 0),
    "year1": (YEAR_1, 0),
    "year9999": (YEAR_10000 - 1, 999_999_999),
    "epoch": (0, 0),
}
CONTROL = "".join(map(chr, [*range(1, 32), 0x7F, 0x85, 0x2028, 0x202E, 0xFEFF, 0x200B]))
STRINGS: dict[str, Callable[[random.Random, str], str]] = {
    "empty": lambda rng, base: "",
    "100KB": lambda rng, base: "x" * 100_000,
    "1MB": lambda rng, base: "y" * 1_000_000,
    "nul": lambda rng, base: f"{base}\x00{base}",
    "control": lambda rng, base: base + "".join(rng.choice(CONTROL) for _ in range(8)),
    "unicode": lambda rng, base: "零\u0301😀\U0010ffff" * rng.randint(1, 40),
    "whitespace": lambda rng, base: " \t\u3000 ",
    "sql": lambda rng, base: "' OR 1=1; -- %_\\ \"",
}
INVALID_UTF8 = b"\xff\xfe\xc0\xaf\xed\xa0\x80\x80"  # bad lead bytes, overlong, a UTF-8 surrogate


@dataclass(frozen=True)
class Call:
    body: bytes
    mutation: str
    where: str = ""


@dataclass(frozen=True)
class Slot:
    path: Path
    fd: FieldDescriptor

    @property
    def where(self) -> str:
        return ".".join(self.path)


def kind_of(fd: FieldDescriptor) -> str:
    """The mutation family a field belongs to."""
    if is_map(fd):
        return "map"
    if fd.is_repeated:
        return "repeated"
    if is_timestamp(fd):
        return "timestamp"
    if fd.message_type is not None:
        return "message"
    return _SCALAR_KINDS.get(fd.type, "other")


def element_kinds(fd: FieldDescriptor) -> set[str]:
    """Scalar kinds reachable as an element: a repeated scalar's items, a map's string keys and scalar values."""
    if is_map(fd):
        key_fd, value_fd = fd.message_type.fields_by_name["key"], fd.message_type.fields_by_name["value"]
        kinds = {"string"} if key_fd.type == key_fd.TYPE_STRING else set()
        return kinds | ({_SCALAR_KINDS.get(value_fd.type, "other")} if value_fd.message_type is None else set())
    if fd.is_repeated and fd.message_type is None:
        return {_SCALAR_KINDS.get(fd.type, "other")}
    return set()


def scalar_kind(fd: FieldDescriptor) -> str:
    """The kind of the value a mutation writes: a map's value type, a repeated field's item type."""
    if is_map(fd):
        return scalar_kind(fd.message_type.fields_by_name["value"])
    return _SCALAR_KINDS.get(fd.type, "other")


def assign(holder: Message, fd: FieldDescriptor, value: Any, rng: random.Random) -> None:
    """Writes a hostile scalar into a field, an appended item of a repeated field, or a map key or value."""
    if not is_map(fd):
        if fd.is_repeated:
            getattr(holder, fd.name).append(value)
        else:
            setattr(holder, fd.name, value)
        return
    container = getattr(holder, fd.name)
    key_fd, value_fd = fd.message_type.fields_by_name["key"], fd.message_type.fields_by_name["value"]
    as_key = isinstance(value, str) and key_fd.type == key_fd.TYPE_STRING
    if as_key and (value_fd.type != value_fd.TYPE_STRING or rng.random() < 0.5):
        if value_fd.message_type is not None:
            container[value].SetInParent()
        else:
            container[value] = value_fd.default_value
    elif scalar_kind(fd) == _kind_of_value(value):
        container["fz"] = value


def _kind_of_value(value: Any) -> str:
    if isinstance(value, str):
        return "string"
    return "double" if isinstance(value, float) else "int"


_SCALAR_KINDS = {
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_SINT32: "int32",
    FieldDescriptor.TYPE_SFIXED32: "int32",
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_SINT64: "int64",
    FieldDescriptor.TYPE_SFIXED64: "int64",
    FieldDescriptor.TYPE_UINT32: "uint32",
    FieldDescriptor.TYPE_FIXED32: "uint32",
    FieldDescriptor.TYPE_UINT64: "uint64",
    FieldDescriptor.TYPE_FIXED64: "uint64",
    FieldDescriptor.TYPE_DOUBLE: "double",
    FieldDescriptor.TYPE_FLOAT: "double",
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_ENUM: "enum",
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_BYTES: "bytes",
}


def slots(descriptor: Descriptor, prefix: Path = (), depth: int = 0) -> Iterator[Slot]:
    """Every field reachable in a request; timestamps are leaves (their own mutations cover them)."""
    for fd in descriptor.fields:
        path = (*prefix, fd.name)
        yield Slot(path, fd)
        if fd.message_type is None or is_timestamp(fd) or depth >= MAX_SLOT_DEPTH:
            continue
        inner = fd.message_type.fields_by_name["value"].message_type if is_map(fd) else fd.message_type
        if inner is not None and not (is_map(fd) and is_timestamp(fd.message_type.fields_by_name["value"])):
            yield from slots(inner, path, depth + 1)


def resolve(message: Message, path: Path) -> tuple[Message, FieldDescriptor]:
    """The message holding the last field of `path`, creating submessages, elements and map values."""
    for name in path[:-1]:
        fd = message.DESCRIPTOR.fields_by_name[name]
        value = getattr(message, name)
        if is_map(fd):
            message = value["fuzz"]
        elif fd.is_repeated:
            message = value[0] if len(value) else value.add()
        else:
            message = value
    return message, message.DESCRIPTOR.fields_by_name[path[-1]]


# --- field mutations --------------------------------------------------------------------------------

Mutator = Callable[[random.Random, Message, Slot, Filler], None]


def _set_int(which: str) -> Mutator:
    def mutate(rng: random.Random, request: Message, slot: Slot, filler: Filler) -> None:
        holder, fd = resolve(request, slot.path)
        kind = scalar_kind(fd)
        if kind in INT_BOUNDS:  # a map with string keys and int values is reached through its keys too
            assign(holder, fd, INT_BOUNDS[kind][which], rng)

    return mutate


def _set_double(value: float) -> Mutator:
    def mutate(rng: random.Random, request: Message, slot: Slot, filler: Filler) -> None:
        holder, fd = resolve(request, slot.path)
        assign(holder, fd, value, rng)

    return mutate


def _set_string(make: Callable[[random.Random, str], str]) -> Mutator:
    def mutate(rng: random.Random, request: Message, slot: Slot, filler: Filler) -> None:
        holder, fd = resolve(request, slot.path)
        current = "" if fd.is_repeated else getattr(holder, fd.name)
        assign(holder, fd, make(rng, current or "fz"), rng)

    return mutate


def _set_timestamp(seconds: int | None, nanos: int) -> Mutator:
    def mutate(rng: random.Random, request: Message, slot: Slot, filler: Filler) -> None:
        holder, fd = resolve(request, slot.path)
        stamp = getattr(holder, fd.name)
        if seconds is not None:
            stamp.seconds = seconds
        stamp.nanos = nanos

    return mutate


def _unknown_enum(rng: random.Random, request: Message, slot: Slot, filler: Filler) -> None:
    holder, fd = resolve(request, slot.path)
    enum_type = fd.message_type.fields_by_name["value"].enum_type if is_map(fd) else fd.enum_type
    known = max(v.number for v in enum_type.values)
    assign(holder, fd, rng.choice([known + 1, 99, -1, 2**31 - 1, -(2**31)]), rng)


def _huge_repeated(rng: random.Random, request: Message, slot: Slot, filler: Filler) -> None:
    holder, fd = resolve(request, slot.path)
    container = getattr(holder, fd.name)
    if fd.message_type is None:
        container.extend(filler.scalar(fd, holder.DESCRIPTOR) for _ in range(HUGE_COUNT))
        return
    template = container.add()
    if is_timestamp(fd):
        template.FromDatetime(filler.timestamp(fd.name))
    else:
        filler.fill(template, depth=3)
    for _ in range(HUGE_COUNT - 1):
        container.add().CopyFrom(template)


def _huge_map(rng: random.Random, request: Message, slot: Slot, filler: Filler) -> None:
    holder, fd = resolve(request, slot.path)
    filler.fill_map(holder, fd, depth=3, entries=HUGE_COUNT)


def _unset(rng: random.Random, request: Message, slot: Slot, filler: Filler) -> None:
    holder, fd = resolve(request, slot.path)
    holder.ClearField(fd.name)


@dataclass(frozen=True)
class FieldMutation:
    name: str
    kinds: frozenset[str]
    apply: Mutator


def _field_mutations() -> list[FieldMutation]:
    ints = frozenset({"int32", "int64", "uint32", "uint64"})
    out = [FieldMutation(f"int.{which}", ints, _set_int(which)) for which in ("zero", "neg1", "max", "min")]
    out += [FieldMutation(f"double.{name}", frozenset({"double"}), _set_double(v)) for name, v in DOUBLES.items()]
    out += [FieldMutation(f"str.{name}", frozenset({"string"}), _set_string(make)) for name, make in STRINGS.items()]
    out += [
        FieldMutation(f"ts.{name}", frozenset({"timestamp"}), _set_timestamp(*value))
        for name, value in TIMESTAMPS.items()
    ]
    out += [
        FieldMutation("enum.unknown", frozenset({"enum"}), _unknown_enum),
        FieldMutation("repeated.10k", frozenset({"repeated"}), _huge_repeated),
        FieldMutation("map.10k", frozenset({"map"}), _huge_map),
        FieldMutation("msg.unset", frozenset({"message", "timestamp"}), _unset),
    ]
    return out


FIELD_MUTATIONS = _field_mutations()


# --- raw mutations -----------------------------------------------------------------------------------


def varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


RawMaker = Callable[[random.Random, Message, list[Slot]], tuple[bytes, str] | None]


def _raw_random(rng: random.Random, request: Message, slots_: list[Slot]) -> tuple[bytes, str]:
    return rng.randbytes(rng.choice([1, 2, 7, 64, 1_024, 4_096])), ""


def _raw_truncated(rng: random.Random, request: Message, slots_: list[Slot]) -> tuple[bytes, str] | None:
    body = request.SerializeToString()
    return (body[: rng.randrange(1, len(body))], "") if len(body) > 1 else None


def _raw_trailing(rng: random.Random, request: Message, slots_: list[Slot]) -> tuple[bytes, str]:
    return request.SerializeToString() + rng.randbytes(rng.randint(1, 32)), ""


def _raw_bad_utf8(rng: random.Random, request: Message, slots_: list[Slot]) -> tuple[bytes, str] | None:
    strings = [s for s in slots_ if kind_of(s.fd) == "string"]
    if not strings:
        return None
    slot = rng.choice(strings)
    marker = f"Q{rng.getrandbits(28):07x}"  # 8 bytes, as long as INVALID_UTF8: the length prefix stays right
    holder, fd = resolve(request, slot.path)
    setattr(holder, fd.name, marker)
    return request.SerializeToString().replace(marker.encode(), INVALID_UTF8), slot.where


def _raw_deep_groups(rng: random.Random, request: Message, slots_: list[Slot]) -> tuple[bytes, str]:
    depth = rng.choice([200, 10_000, 100_000])
    return request.SerializeToString() + tag(999, 3) * depth + tag(999, 4) * depth, ""


def _raw_wrong_wire_type(rng: random.Random, request: Message, slots_: list[Slot]) -> tuple[bytes, str] | None:
    top = [s for s in slots_ if len(s.path) == 1]
    if not top:
        return None
    slot = rng.choice(top)
    wrong = 0 if slot.fd.message_type is not None or kind_of(slot.fd) == "string" else 2
    value = varint(2**64 - 1) if wrong == 0 else varint(3) + b"abc"
    return request.SerializeToString() + tag(slot.fd.number, wrong) + value, slot.where


def _raw_lying_length(rng: random.Random, request: Message, slots_: list[Slot]) -> tuple[bytes, str] | None:
    top = [s for s in slots_ if len(s.path) == 1 and (s.fd.message_type is not None or kind_of(s.fd) == "string")]
    if not top:
        return None
    slot = rng.choice(top)
    return tag(slot.fd.number, 2) + varint(2**31 - 1) + b"short", slot.where


def _raw_unknown_fields(rng: random.Random, request: Message, slots_: list[Slot]) -> tuple[bytes, str]:
    extra = b"".join(tag(rng.randint(1000, 2**29 - 1), 0) + varint(rng.getrandbits(64)) for _ in range(1_000))
    return request.SerializeToString() + extra, ""


def _raw_repeated_body(rng: random.Random, request: Message, slots_: list[Slot]) -> tuple[bytes, str] | None:
    # Concatenated bodies merge: last scalar wins, repeated fields and maps grow on every copy.
    body = request.SerializeToString()
    return (body * 2_000, "") if body else None


RAW_MUTATIONS: dict[str, RawMaker] = {
    "raw.random": _raw_random,
    "raw.truncated": _raw_truncated,
    "raw.trailing-garbage": _raw_trailing,
    "raw.bad-utf8": _raw_bad_utf8,
    "raw.deep-groups": _raw_deep_groups,
    "raw.wrong-wire-type": _raw_wrong_wire_type,
    "raw.lying-length": _raw_lying_length,
    "raw.unknown-fields": _raw_unknown_fields,
    "raw.concatenated": _raw_repeated_body,
}
WHOLE = ("valid", "msg.empty")


class Mutations:
    """The mutations that apply to one request type, and how to apply them."""

    def __init__(self, descriptor: Descriptor) -> None:
        self.slots = list(slots(descriptor))
        self.by_kind: dict[str, list[Slot]] = {}
        for slot in self.slots:
            for kind in {kind_of(slot.fd), *element_kinds(slot.fd)}:
                self.by_kind.setdefault(kind, []).append(slot)
        fields = [m for m in FIELD_MUTATIONS if any(kind in self.by_kind for kind in m.kinds)]
        self.field = {m.name: m for m in fields}
        raw_needs_fields = {"raw.bad-utf8", "raw.wrong-wire-type", "raw.lying-length", "raw.truncated"}
        self.raw = [name for name in RAW_MUTATIONS if self.slots or name not in raw_needs_fields]

    @property
    def names(self) -> list[str]:
        return [*WHOLE, *self.field, *self.raw]

    def apply(self, name: str, request: Message, filler: Filler, rng: random.Random) -> Call:
        if name == "msg.empty":
            return Call(b"", name)
        if name in self.field:
            return self._apply_field(self.field[name], request, filler, rng)
        if name in RAW_MUTATIONS:
            made = RAW_MUTATIONS[name](rng, request, self.slots)
            if made is not None:
                return Call(made[0], name, made[1])
        return Call(request.SerializeToString(), "valid")

    def _apply_field(self, mutation: FieldMutation, request: Message, filler: Filler, rng: random.Random) -> Call:
        candidates = [slot for kind in sorted(mutation.kinds) for slot in self.by_kind.get(kind, [])]
        slot = rng.choice(candidates)
        mutation.apply(rng, request, slot, filler)
        return Call(request.SerializeToString(), mutation.name, slot.where)
