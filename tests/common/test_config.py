"""Config loading: typed schema, file/key/reason on refusal, env overrides, content-hash versions."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import BaseModel, Field, model_validator

from services.common.config import ConfigError, ConfigStore, Schema, duplicate_ids, load_file, refuse, unknown_names
from services.growth.config import GrowthConfig
from services.rewards.config import RewardsConfig
from services.router.config import RouterConfig

REPO = Path(__file__).resolve().parents[2]


class Limits(Schema):
    daily_cap: int = Field(ge=1, le=1000)
    regions: list[str] = Field(default_factory=list)


class Example(Schema):
    timezone: str = "Asia/Shanghai"
    limits: Limits
    ratio: float = 1.0


def _store(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> ConfigStore[Example]:
    path = tmp_path / "example.yaml"
    path.write_text(text)
    return ConfigStore(path, Example, env_prefix="SKYLANE_EXAMPLE", environ=environ)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("limits: {daily_cap: 5}\nextra_key: 1\n", "extra_key: unknown key"),
        ("limits: {daily_cap: lots}\n", "limits.daily_cap: Input should be a valid integer"),
        ("limits: {daily_cap: 0}\n", "limits.daily_cap: Input should be greater than or equal to 1"),
        ("limits: {daily_cap: 5, regions: north}\n", "limits.regions: Input should be a valid list"),
        ("timezone: [\n", "not valid YAML"),
        ("- a\n- b\n", "top level must be a mapping"),
        # A truncated file loaded as every default: a service with no tasks, levels or campaigns.
        ("", "the file is empty: nothing is loaded from it"),
        ("  \n\n", "the file is empty: nothing is loaded from it"),
        # NaN passes every range check, and infinity stops what an interval or a price paces.
        ("limits: {daily_cap: 5}\nratio: .nan\n", "ratio: Input should be a finite number"),
        ("limits: {daily_cap: 5}\nratio: .inf\n", "ratio: Input should be a finite number"),
        # YAML's booleans read as 1 or 0 where a number is expected: a cap of one, a ratio of zero.
        ("limits: {daily_cap: yes}\n", "limits.daily_cap: expected a number, got true"),
        ("limits: {daily_cap: 5}\nratio: false\n", "ratio: expected a number, got false"),
    ],
)
def test_bad_file_is_refused_with_file_key_and_reason(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        _store(tmp_path, text)
    assert err.value.source == str(tmp_path / "example.yaml")
    assert any(expected in line for line in err.value.errors), err.value.errors
    assert str(tmp_path / "example.yaml") in str(err.value)


def test_env_overrides_nested_keys_and_change_the_version(tmp_path: Path) -> None:
    plain = _store(tmp_path, "limits: {daily_cap: 5}\n")
    overridden = _store(tmp_path, "limits: {daily_cap: 5}\n", {"SKYLANE_EXAMPLE__LIMITS__DAILY_CAP": "7"})
    assert plain.model.limits.daily_cap == 5 and overridden.model.limits.daily_cap == 7
    assert plain.current.version != overridden.current.version
    with pytest.raises(ConfigError) as err:
        _store(tmp_path, "limits: {daily_cap: 5}\n", {"SKYLANE_EXAMPLE__LIMITS__DAILY_CAP": "5000"})
    assert any(e.startswith("limits.daily_cap:") for e in err.value.errors)
    with pytest.raises(ConfigError) as boolean:
        _store(tmp_path, "limits: {daily_cap: 5}\n", {"SKYLANE_EXAMPLE__LIMITS__DAILY_CAP": "true"})
    assert boolean.value.errors == ["limits.daily_cap: expected a number, got true"]
    assert _store(tmp_path, "limits: {daily_cap: 5}\nratio: 2\n").model.ratio == 2.0  # a whole number stays one


def test_a_boolean_where_a_service_config_expects_a_number_is_refused(tmp_path: Path) -> None:
    shipped = (REPO / "config" / "rewards.yaml").read_text(encoding="utf-8")
    assert "per_day: 3" in shipped
    path = tmp_path / "rewards.yaml"
    path.write_text(shipped.replace("per_day: 3", "per_day: true", 1), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_file(path, RewardsConfig)
    assert err.value.errors == ["contact.per_day: expected a number, got true"]


def test_version_is_a_content_hash_independent_of_formatting(tmp_path: Path) -> None:
    a = _store(tmp_path, "limits: {daily_cap: 5}\n")
    b = _store(tmp_path, "# a comment\nlimits:\n  daily_cap: 5\n")
    c = _store(tmp_path, "limits: {daily_cap: 6}\n")
    assert a.current.version == b.current.version != c.current.version


def test_reload_keeps_running_version_on_invalid_file_and_notifies_on_valid(tmp_path: Path) -> None:
    store = _store(tmp_path, "limits: {daily_cap: 5}\n")
    seen: list[int] = []
    store.subscribe(lambda loaded: seen.append(loaded.model.limits.daily_cap))
    store.path.write_text("limits: {daily_cap: -1}\n")
    with pytest.raises(ConfigError):
        store.reload()
    assert store.model.limits.daily_cap == 5 and seen == []
    store.path.write_text("limits: {daily_cap: 9}\n")
    changed, _, _ = store.reload()
    assert changed and store.model.limits.daily_cap == 9 and seen == [9]
    assert store.reload()[0] is False


async def test_file_watch_picks_up_valid_edits_and_ignores_invalid_ones(tmp_path: Path) -> None:
    store = _store(tmp_path, "limits: {daily_cap: 5}\n")
    watcher = asyncio.create_task(store.watch(interval=0.05))
    try:
        store.path.write_text("limits: {daily_cap: oops}\n")
        await asyncio.sleep(0.3)
        assert store.model.limits.daily_cap == 5
        store.path.write_text("limits: {daily_cap: 11}\n")
        for _ in range(100):
            if store.model.limits.daily_cap == 11:
                break
            await asyncio.sleep(0.05)
        assert store.model.limits.daily_cap == 11
    finally:
        watcher.cancel()


class Shelf(Schema):
    kinds: list[str]
    items: list[str]

    @model_validator(mode="after")
    def _known(self) -> Shelf:
        refuse(
            duplicate_ids("kinds", self.kinds, "kind", None) + unknown_names("items", self.items, self.kinds, "kind")
        )
        return self


class Store(Schema):
    shelves: list[Shelf]


def test_cross_reference_problems_are_each_refused_under_the_path_of_the_model_that_found_them(tmp_path: Path) -> None:
    path = tmp_path / "store.yaml"
    path.write_text("shelves:\n  - {kinds: [a, b], items: [a]}\n  - {kinds: [a, a], items: [c, a, d]}\n")
    with pytest.raises(ConfigError) as err:
        ConfigStore(path, Store)
    assert err.value.errors == [
        "shelves.1.kinds.1: duplicate kind 'a' (also item 0)",
        "shelves.1.items: unknown kind 'c' (kinds are: a)",
        "shelves.1.items: unknown kind 'd' (kinds are: a)",
    ]


@pytest.mark.parametrize(
    ("name", "schema"), [("router", RouterConfig), ("growth", GrowthConfig), ("rewards", RewardsConfig)]
)
def test_the_shipped_configs_load(name: str, schema: type[BaseModel]) -> None:
    assert isinstance(load_file(REPO / "config" / f"{name}.yaml", schema), schema)


async def test_the_file_watch_loads_a_change_only_once_it_has_settled(tmp_path: Path) -> None:
    """A file caught half-written is often still valid YAML: loading it would run a policy without its rest."""
    store = _store(tmp_path, "limits: {daily_cap: 5}\nratio: 1.0\n")
    watcher = asyncio.create_task(store.watch(interval=0.25))
    try:
        for step in range(12):  # a writer still at work: the content changes between any two polls
            store.path.write_text(f"limits: {{daily_cap: {20 + step}}}\n")
            await asyncio.sleep(0.1)
        assert store.model.limits.daily_cap == 5  # none of the passing contents was loaded
        for _ in range(40):
            if store.model.limits.daily_cap == 31:
                break
            await asyncio.sleep(0.05)
        assert store.model.limits.daily_cap == 31  # the last one, once it stayed
    finally:
        watcher.cancel()
