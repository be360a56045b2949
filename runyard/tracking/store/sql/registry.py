"""The model registry of the SQL store: registered models, versions, tags and aliases."""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa

from runyard.entities import Page
from runyard.entities.registry import ModelVersion, RegisteredModel
from runyard.errors import AlreadyExists, InvalidArgument, NotFound
from runyard.tracking.filter import decode_page_token, encode_page_token
from runyard.tracking.store.sql.registry_schema import (
    model_aliases,
    model_version_tags,
    model_versions,
    registered_model_tags,
    registered_models,
)
from runyard.tracking.store.sql.statements import upsert
from runyard.tracking.store.sql.validation import check_key, check_tag_value, check_tags

__all__ = ["STAGES", "SqlRegistryMixin"]

STAGES = ("None", "Staging", "Production", "Archived")
_M, _V = registered_models.c, model_versions.c


def _now() -> int:
    return int(time.time() * 1000)


def _offset(page_token: str | None) -> int:
    if not page_token:
        return 0
    offset = decode_page_token(page_token).get("o", 0)
    if not isinstance(offset, int) or offset < 0:
        raise InvalidArgument(f"invalid page token {page_token[:40]!r}")
    return offset


def _model_id(conn: sa.Connection, name: str) -> int:
    found = conn.execute(sa.select(_M.model_id).where(_M.name == name)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"registered model {name!r} does not exist")
    return int(found)


def _version_exists(conn: sa.Connection, model_id: int, name: str, version: int) -> None:
    found = conn.execute(
        sa.select(_V.version).where(_V.model_id == model_id, _V.version == int(version))
    ).first()
    if found is None:
        raise NotFound(f"registered model {name!r} has no version {version}")


def _load_models(conn: sa.Connection, rows: list[Any]) -> list[RegisteredModel]:
    ids = [r.model_id for r in rows]
    tags: dict[int, dict[str, str]] = {i: {} for i in ids}
    aliases: dict[int, dict[str, int]] = {i: {} for i in ids}
    if ids:
        t = registered_model_tags.c
        for r in conn.execute(sa.select(t.model_id, t.key, t.value).where(t.model_id.in_(ids))):
            tags[r.model_id][r.key] = r.value
        a = model_aliases.c
        for r in conn.execute(sa.select(a.model_id, a.alias, a.version).where(a.model_id.in_(ids))):
            aliases[r.model_id][r.alias] = int(r.version)
    return [
        RegisteredModel(
            r.name,
            r.description,
            int(r.creation_time),
            int(r.last_updated_time),
            MappingProxyType(tags[r.model_id]),
            MappingProxyType(aliases[r.model_id]),
        )
        for r in rows
    ]


def _load_versions(conn: sa.Connection, rows: list[Any]) -> list[ModelVersion]:
    keys = {(r.model_id, r.version) for r in rows}
    model_ids = {r.model_id for r in rows}
    tags: dict[tuple[int, int], dict[str, str]] = {k: {} for k in keys}
    aliases: dict[tuple[int, int], list[str]] = {k: [] for k in keys}
    if model_ids:
        t = model_version_tags.c
        query = sa.select(t.model_id, t.version, t.key, t.value).where(t.model_id.in_(model_ids))
        for r in conn.execute(query):
            if (r.model_id, r.version) in tags:
                tags[(r.model_id, r.version)][r.key] = r.value
        a = model_aliases.c
        alias_query = sa.select(a.model_id, a.version, a.alias).where(a.model_id.in_(model_ids))
        for row in conn.execute(alias_query.order_by(a.alias)):
            if (row.model_id, row.version) in aliases:
                aliases[(row.model_id, row.version)].append(row.alias)
    return [
        ModelVersion(
            r.name,
            int(r.version),
            r.source,
            r.run_id,
            r.description,
            r.status,
            r.stage,
            int(r.creation_time),
            int(r.last_updated_time),
            MappingProxyType(tags[(r.model_id, r.version)]),
            tuple(aliases[(r.model_id, r.version)]),
        )
        for r in rows
    ]


_VERSION_COLUMNS = (_M.name, *model_versions.c)


class SqlRegistryMixin:
    """The registry methods of :class:`~runyard.tracking.store.sql.SqlTrackingStore`."""

    def _tx(self, what: str, write: bool = False) -> AbstractContextManager[sa.Connection]:
        raise NotImplementedError  # pragma: no cover - provided by SqlTrackingStore

    @property
    def supports_registry(self) -> bool:
        """The SQL store keeps the model registry."""
        return True

    # -- registered models ----------------------------------------------------------------

    def create_registered_model(
        self, name: str, description: str = "", tags: Mapping[str, str] | None = None
    ) -> RegisteredModel:
        """Create a registered model. Raises AlreadyExists, InvalidArgument."""
        check_key(name, "registered model name")
        tag_values = check_tags(tags)
        now = _now()
        try:
            with self._tx("create_registered_model", write=True) as conn:
                model_id = conn.execute(
                    registered_models.insert()
                    .values(
                        name=name,
                        description=description or "",
                        creation_time=now,
                        last_updated_time=now,
                        next_version=1,
                    )
                    .returning(_M.model_id)
                ).scalar_one()
                if tag_values:
                    conn.execute(
                        registered_model_tags.insert(),
                        [
                            {"model_id": model_id, "key": k, "value": v}
                            for k, v in tag_values.items()
                        ],
                    )
                return self._get_model(conn, name)
        except AlreadyExists as e:
            raise AlreadyExists(f"a registered model named {name!r} exists already") from e

    def _get_model(self, conn: sa.Connection, name: str) -> RegisteredModel:
        rows = conn.execute(sa.select(registered_models).where(_M.name == name)).all()
        if not rows:
            raise NotFound(f"registered model {name!r} does not exist")
        return _load_models(conn, list(rows))[0]

    def get_registered_model(self, name: str) -> RegisteredModel:
        """A registered model with its tags and aliases. Raises NotFound."""
        with self._tx("get_registered_model") as conn:
            return self._get_model(conn, name)

    def search_registered_models(
        self, name_like: str | None = None, max_results: int = 100, page_token: str | None = None
    ) -> Page[RegisteredModel]:
        """Registered models ordered by name; ``name_like`` is a SQL LIKE pattern."""
        if not 1 <= max_results <= 50_000:
            raise InvalidArgument("max_results must be from 1 to 50000")
        offset = _offset(page_token)
        query = sa.select(registered_models).order_by(_M.name)
        if name_like:
            query = query.where(_M.name.like(name_like))
        with self._tx("search_registered_models") as conn:
            rows = conn.execute(query.offset(offset).limit(max_results + 1)).all()
            found = _load_models(conn, list(rows[:max_results]))
        token = encode_page_token({"o": offset + max_results}) if len(rows) > max_results else None
        return Page(tuple(found), token)

    def update_registered_model(
        self, name: str, new_name: str | None = None, description: str | None = None
    ) -> RegisteredModel:
        """Rename and/or re-describe a model. Raises NotFound, AlreadyExists."""
        values: dict[str, object] = {"last_updated_time": _now()}
        if new_name is not None:
            values["name"] = check_key(new_name, "registered model name")
        if description is not None:
            values["description"] = description
        try:
            with self._tx("update_registered_model", write=True) as conn:
                done = conn.execute(
                    registered_models.update().where(_M.name == name).values(**values)
                )
                if done.rowcount == 0:
                    raise NotFound(f"registered model {name!r} does not exist")
                return self._get_model(conn, new_name or name)
        except AlreadyExists as e:
            raise AlreadyExists(f"a registered model named {new_name!r} exists already") from e

    def delete_registered_model(self, name: str) -> None:
        """Delete a model with its versions, tags and aliases. Raises NotFound."""
        with self._tx("delete_registered_model", write=True) as conn:
            model_id = _model_id(conn, name)
            for table in (model_aliases, model_version_tags, model_versions, registered_model_tags):
                conn.execute(table.delete().where(table.c.model_id == model_id))
            conn.execute(registered_models.delete().where(_M.model_id == model_id))

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        """Set a tag on a registered model."""
        check_key(key, "tag")
        check_tag_value(key, value)
        with self._tx("set_registered_model_tag", write=True) as conn:
            model_id = _model_id(conn, name)
            conn.execute(
                upsert(conn, registered_model_tags, ["model_id", "key"], ["value"]).values(
                    model_id=model_id, key=key, value=value
                )
            )

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Remove a tag from a registered model. Raises NotFound."""
        t = registered_model_tags.c
        with self._tx("delete_registered_model_tag", write=True) as conn:
            model_id = _model_id(conn, name)
            done = conn.execute(
                registered_model_tags.delete().where(t.model_id == model_id, t.key == key)
            )
            if done.rowcount == 0:
                raise NotFound(f"registered model {name!r} has no tag {key!r}")

    # -- versions -------------------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> ModelVersion:
        """Add the next version of a model (numbers are never reused). Raises NotFound."""
        tag_values = check_tags(tags)
        if not source:
            raise InvalidArgument("a model version needs a source")
        now = _now()
        with self._tx("create_model_version", write=True) as conn:
            model_id = _model_id(conn, name)
            version = (
                conn.execute(
                    registered_models.update()
                    .where(_M.model_id == model_id)
                    .values(next_version=_M.next_version + 1, last_updated_time=now)
                    .returning(_M.next_version)
                ).scalar_one()
                - 1
            )
            conn.execute(
                model_versions.insert().values(
                    model_id=model_id,
                    version=version,
                    source=source,
                    run_id=run_id,
                    description=description or "",
                    status="READY",
                    stage="None",
                    creation_time=now,
                    last_updated_time=now,
                )
            )
            if tag_values:
                conn.execute(
                    model_version_tags.insert(),
                    [
                        {"model_id": model_id, "version": version, "key": k, "value": v}
                        for k, v in tag_values.items()
                    ],
                )
            return self._get_version(conn, name, version)

    def _get_version(self, conn: sa.Connection, name: str, version: int) -> ModelVersion:
        rows = conn.execute(
            sa.select(*_VERSION_COLUMNS)
            .join(registered_models, _M.model_id == _V.model_id)
            .where(_M.name == name, _V.version == int(version))
        ).all()
        if not rows:
            _model_id(conn, name)
            raise NotFound(f"registered model {name!r} has no version {version}")
        return _load_versions(conn, list(rows))[0]

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        """One version. Raises NotFound."""
        with self._tx("get_model_version") as conn:
            return self._get_version(conn, name, version)

    def search_model_versions(
        self,
        name: str | None = None,
        run_id: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        """Versions, newest first, optionally of one model and/or from one run."""
        if not 1 <= max_results <= 50_000:
            raise InvalidArgument("max_results must be from 1 to 50000")
        offset = _offset(page_token)
        query = (
            sa.select(*_VERSION_COLUMNS)
            .join(registered_models, _M.model_id == _V.model_id)
            .order_by(_M.name, _V.version.desc())
        )
        if name is not None:
            query = query.where(_M.name == name)
        if run_id is not None:
            query = query.where(_V.run_id == run_id)
        with self._tx("search_model_versions") as conn:
            rows = conn.execute(query.offset(offset).limit(max_results + 1)).all()
            found = _load_versions(conn, list(rows[:max_results]))
        token = encode_page_token({"o": offset + max_results}) if len(rows) > max_results else None
        return Page(tuple(found), token)

    def update_model_version(
        self, name: str, version: int, description: str | None = None, stage: str | None = None
    ) -> ModelVersion:
        """Change a version's description or legacy stage. Raises NotFound."""
        values: dict[str, object] = {"last_updated_time": _now()}
        if description is not None:
            values["description"] = description
        if stage is not None:
            canonical = {s.lower(): s for s in STAGES}.get(stage.lower())
            if canonical is None:
                raise InvalidArgument(f"stage must be one of {', '.join(STAGES)}, not {stage!r}")
            values["stage"] = canonical
        with self._tx("update_model_version", write=True) as conn:
            model_id = _model_id(conn, name)
            _version_exists(conn, model_id, name, version)
            conn.execute(
                model_versions.update()
                .where(_V.model_id == model_id, _V.version == int(version))
                .values(**values)
            )
            return self._get_version(conn, name, version)

    def delete_model_version(self, name: str, version: int) -> None:
        """Delete a version with its tags and aliases. Raises NotFound."""
        with self._tx("delete_model_version", write=True) as conn:
            model_id = _model_id(conn, name)
            _version_exists(conn, model_id, name, version)
            for table in (model_aliases, model_version_tags, model_versions):
                conn.execute(
                    table.delete().where(
                        table.c.model_id == model_id, table.c.version == int(version)
                    )
                )

    def set_model_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        """Set a tag on a version."""
        check_key(key, "tag")
        check_tag_value(key, value)
        with self._tx("set_model_version_tag", write=True) as conn:
            model_id = _model_id(conn, name)
            _version_exists(conn, model_id, name, version)
            conn.execute(
                upsert(conn, model_version_tags, ["model_id", "version", "key"], ["value"]).values(
                    model_id=model_id, version=int(version), key=key, value=value
                )
            )

    def delete_model_version_tag(self, name: str, version: int, key: str) -> None:
        """Remove a tag from a version. Raises NotFound."""
        t = model_version_tags.c
        with self._tx("delete_model_version_tag", write=True) as conn:
            model_id = _model_id(conn, name)
            _version_exists(conn, model_id, name, version)
            done = conn.execute(
                model_version_tags.delete().where(
                    t.model_id == model_id, t.version == int(version), t.key == key
                )
            )
            if done.rowcount == 0:
                raise NotFound(f"{name!r} version {version} has no tag {key!r}")

    # -- aliases --------------------------------------------------------------------------

    def set_model_alias(self, name: str, alias: str, version: int) -> None:
        """Point ``alias`` at a version, moving it if it points elsewhere."""
        check_key(alias, "alias")
        if alias.lower() == "latest" or alias.isdigit():
            raise InvalidArgument(f"alias {alias!r} is reserved (it would shadow a version)")
        with self._tx("set_model_alias", write=True) as conn:
            model_id = _model_id(conn, name)
            _version_exists(conn, model_id, name, version)
            conn.execute(
                upsert(conn, model_aliases, ["model_id", "alias"], ["version"]).values(
                    model_id=model_id, alias=alias, version=int(version)
                )
            )

    def delete_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias. Raises NotFound."""
        a = model_aliases.c
        with self._tx("delete_model_alias", write=True) as conn:
            model_id = _model_id(conn, name)
            done = conn.execute(
                model_aliases.delete().where(a.model_id == model_id, a.alias == alias)
            )
            if done.rowcount == 0:
                raise NotFound(f"registered model {name!r} has no alias {alias!r}")

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points at. Raises NotFound."""
        a = model_aliases.c
        with self._tx("get_model_version_by_alias") as conn:
            model_id = _model_id(conn, name)
            version = conn.execute(
                sa.select(a.version).where(a.model_id == model_id, a.alias == alias)
            ).scalar_one_or_none()
            if version is None:
                raise NotFound(f"registered model {name!r} has no alias {alias!r}")
            return self._get_version(conn, name, int(version))
