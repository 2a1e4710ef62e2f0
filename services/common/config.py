"""Typed, versioned, hot-reloadable YAML configuration.

One YAML file per service, validated by a pydantic schema that forbids unknown keys. Environment
variables ``<PREFIX>__a__b=value`` override nested keys; inside a list, a part names an item by its
``id`` or its index, so ``SKYLANE_ROUTER__partners__lenders__quickcash__endpoint=partner-sim:50061``
sets one lender's endpoint (how a deployment gives every address from the environment). Overrides apply
at every reload, over whatever the file says. The version is a hash of the effective
content, recorded by every decision. A reload that fails validation is refused and logged; the
running version stays.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from services.common.yaml_booleans import booleans_for_numbers

log = structlog.get_logger("skylane.config")

# libyaml's loader where PyYAML was built with it: a config sent over the Admin or router ops RPCs is
# parsed on the event loop, and the pure-Python loader would stall the service on a large document.
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Schema(BaseModel):
    """Base for config schemas: unknown keys are errors, values are immutable once loaded, and NaN and
    infinity are refused where a number is expected: a NaN passes every range check (an external score's
    weight of NaN failed every RouteApplicant; a simulator scenario's NaN rate poisons the yardsticks), and an
    infinite interval, price or rate stops what it paces or draws."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def duplicated(ids: Sequence[str]) -> list[str]:
    """The ids listed more than once, sorted."""
    return sorted({i for i in ids if ids.count(i) > 1})


class ConfigProblems(ValueError):
    """What a model validator refuses, one "path: reason" per problem, the path relative to that model.

    The loader reports each on its own line under the model's own path, so a check made on a whole file
    (which needs the tiers and the partners at once) still names the field it is about."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def refuse(problems: Sequence[str]) -> None:
    """Raises the problems a model validator found, if it found any."""
    if problems:
        raise ConfigProblems(problems)


def unknown_names(where: str, names: Iterable[str], known: Sequence[str], kind: str) -> list[str]:
    """One problem per name that is not known, naming what is: "where: unknown tier 'gold' (tiers are: a, b)"."""
    allowed = ", ".join(dict.fromkeys(known))
    listed = f"{kind}s are: {allowed}" if allowed else f"no {kind}s are configured"
    return [f"{where}: unknown {kind} {name!r} ({listed})" for name in names if name not in known]


def duplicate_ids(where: str, ids: Sequence[str], kind: str, field: str | None = "id") -> list[str]:
    """One problem per repeated id of the list at `where` ("" for the validated list itself), each item's
    id in `field` (None: the item is the id): "lenders.3.id: duplicate partner id 'a1' (also item 1)"."""
    first: dict[str, int] = {}
    problems: list[str] = []
    for index, value in enumerate(ids):
        if value not in first:
            first[value] = index
            continue
        path = ".".join(part for part in (where, str(index), field) if part)
        what = kind if field is None else f"{kind} {field}"
        problems.append(f"{path}: duplicate {what} {value!r} (also item {first[value]})")
    return problems


def above(field: str, value: float, limit_field: str, limit: float, why: str) -> list[str]:
    """A problem when a setting exceeds the one that bounds it: "field: 9 is above limit_field (5); why"."""
    return [f"{field}: {value} is above {limit_field} ({limit}); {why}"] if value > limit else []


def read_text(path: Path) -> str:
    """A config-like file's text; unreadable, a ConfigError naming the file."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read file: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), [f"not UTF-8 text (byte {exc.start})"]) from None


def load_file(path: Path, schema: type[M]) -> M:
    """A file read and validated as the config loader does: each refusal "field.path: reason"."""
    return parse_document(read_text(path), schema, str(path)).model


# Files of the zone database that name no place: `localtime` is whatever the host is set to (replicas on
# differently set hosts would count a customer's day differently), the others are not for use.
_NOT_PLACES = frozenset({"localtime", "posixrules", "Factory"})


def is_zone_name(name: str) -> bool:
    """An IANA time zone name of a place (or UTC), as the zone database knows it."""
    if name in _NOT_PLACES:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _known_zone(value: str) -> str:
    if not is_zone_name(value):
        raise ValueError(f"unknown time zone {value!r}")
    return value


# An IANA time zone name, checked at load (days, weeks and caps are counted in it).
TimeZoneName = Annotated[str, AfterValidator(_known_zone)]

M = TypeVar("M", bound=BaseModel)


class ConfigError(Exception):
    def __init__(self, source: str, errors: list[str]) -> None:
        self.source, self.errors = source, errors
        super().__init__(f"invalid config {source}: " + "; ".join(errors))


@dataclass(frozen=True)
class LoadedConfig(Generic[M]):
    model: M
    version: str
    source: str
    loaded_at: datetime
    document: dict[str, Any]


def content_version(document: Mapping[str, Any]) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def parse_document(
    text: str,
    schema: type[M],
    source: str,
    overrides: Mapping[str, str] | None = None,
    env_prefix: str = "",
) -> LoadedConfig[M]:
    if not text.strip():
        # A file caught half-written (or truncated) would otherwise load as every default: a service with
        # no tasks, levels, campaigns or partners, reloaded without a word. A config says what it means.
        raise ConfigError(source, ["the file is empty: nothing is loaded from it"])
    try:
        document = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise ConfigError(source, [f"not valid YAML: {exc}"]) from None
    if not isinstance(document, dict):
        raise ConfigError(source, ["top level must be a mapping of keys to values"])
    document = _apply_overrides(document, overrides or {}, env_prefix)
    booleans = booleans_for_numbers(document, schema)
    if booleans:
        raise ConfigError(source, booleans)
    try:
        model = schema.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(source, describe(exc)) from None
    return LoadedConfig(model, content_version(document), source, datetime.now(UTC), document)


def describe(exc: ValidationError) -> list[str]:
    """A validation failure as refusals, each "field.path: reason"."""
    return [line for err in exc.errors() for line in _describe(err)]


def _describe(err: Any) -> list[str]:
    where = ".".join(str(p) for p in err["loc"])
    error = err.get("ctx", {}).get("error")
    if isinstance(error, ConfigProblems):
        return [f"{where}.{problem}" if where else problem for problem in error.problems]
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    return [f"{where or '(top level)'}: {message}"]


def _apply_overrides(document: dict[str, Any], env: Mapping[str, str], prefix: str) -> dict[str, Any]:
    if not prefix:
        return document
    marker = prefix.upper() + "__"
    result = json.loads(json.dumps(document, default=str))
    for name, raw in sorted(env.items()):
        if not name.upper().startswith(marker):
            continue
        path = [p.lower() for p in name[len(marker) :].split("__") if p]
        target: Any = result
        for part in path[:-1]:
            if isinstance(target, list):
                target = target[_list_index(target, part, name, path)]
            else:
                target = target.setdefault(part, {})
            if not isinstance(target, dict | list):
                raise ConfigError(f"${name}", [f"{'.'.join(path)}: cannot override inside a non-mapping"])
        value = yaml.safe_load(raw)
        if isinstance(target, list):
            target[_list_index(target, path[-1], name, path)] = value
        else:
            target[path[-1]] = value
    return result


def _list_index(items: list[Any], part: str, variable: str, path: list[str]) -> int:
    """The list item a path part names: the one whose `id` is part, else part as an index."""
    for index, item in enumerate(items):
        if isinstance(item, dict) and str(item.get("id", "")).lower() == part:
            return index
    if part.isdigit() and int(part) < len(items):
        return int(part)
    ids = [str(item["id"]) for item in items if isinstance(item, dict) and "id" in item]
    known = f"ids: {', '.join(ids)}" if ids else f"indexes 0-{len(items) - 1}" if items else "the list is empty"
    raise ConfigError(f"${variable}", [f"{'.'.join(path)}: no list item {part!r} ({known})"])


class ConfigStore(Generic[M]):
    """Holds the running config of one service and swaps it atomically on a valid reload."""

    def __init__(
        self,
        path: Path,
        schema: type[M],
        *,
        env_prefix: str = "",
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.path, self.schema, self.env_prefix = path, schema, env_prefix
        self._environ = dict(environ or {})
        self._listeners: list[Callable[[LoadedConfig[M]], None]] = []
        self._current = self.parse(self._read())

    @property
    def current(self) -> LoadedConfig[M]:
        return self._current

    @property
    def model(self) -> M:
        return self._current.model

    def parse(self, text: str, source: str | None = None) -> LoadedConfig[M]:
        return parse_document(text, self.schema, source or str(self.path), self._environ, self.env_prefix)

    def subscribe(self, listener: Callable[[LoadedConfig[M]], None]) -> None:
        self._listeners.append(listener)

    def reload(self) -> tuple[bool, str, str]:
        """Returns (changed, previous_version, version); raises ConfigError and keeps running config."""
        previous = self._current.version
        try:
            candidate = self.parse(self._read())
        except ConfigError as exc:
            log.error("config_reload_refused", source=exc.source, errors=exc.errors, running_version=previous)
            raise
        if candidate.version == previous:
            return False, previous, previous
        self._current = candidate
        for listener in self._listeners:
            listener(candidate)
        log.info("config_reloaded", source=str(self.path), previous_version=previous, version=candidate.version)
        return True, previous, candidate.version

    def _read(self) -> str:
        return read_text(self.path)

    async def watch(self, interval: float = 1.0) -> None:
        """Poll the file and reload once a change has settled; invalid edits are logged and ignored.

        A change is loaded only when two polls in a row read the same new content: a file an editor or a
        copy is still writing (cut anywhere, often still valid YAML: a policy without its partners, a
        campaign list without its last campaigns) is not loaded half-written. SIGHUP and ReloadConfig load
        at once."""
        loaded = seen = self._fingerprint()
        while True:
            await asyncio.sleep(interval)
            current = self._fingerprint()
            settled, seen = current == seen, current
            if settled and current != loaded:
                loaded = current
                try:
                    self.reload()
                except ConfigError:
                    pass

    def _fingerprint(self) -> bytes:
        try:
            return hashlib.sha256(self.path.read_bytes()).digest()
        except OSError:
            return b""
