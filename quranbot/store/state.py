"""`StateStore`: the bot's state files, opened once by the one process allowed to write them.

Cold values (settings, quiz scores) are written when they change. Hot values (playback position,
listening time) are buffered in memory and written by `flush()`, which the bot calls on an interval
and at shutdown, so a position update every second costs no disk write and a crash loses at most one
interval. A file that does not parse at start is moved aside and restored from the newest backup that
holds a good copy, loudly.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.table import Document, Table

from quranbot.alerts.system_event import system_event
from quranbot.atomic_file import atomic_write_bytes, sweep_temporaries
from quranbot.store.layout import PLAYBACK, QUIZ, QUIZZES, SETTINGS, STATE_FILES, STATS
from quranbot.store.lock import StateLock
from quranbot.store.records import (
    DailyVerseState,
    GuildPlayback,
    GuildSettings,
    ListeningStats,
    OpenQuiz,
    QuizGuild,
    QuizScore,
    SurahAudience,
)
from quranbot.store.schema import SCHEMAS, Data, Schema
from quranbot.store.storage import (
    AtomicJSONStorage,
    CorruptStateFile,
    ReusingJSONStorage,
    parse_state_bytes,
)

log = logging.getLogger(__name__)

#: (backups_dir, file name) -> (archive, bytes) of the newest backup holding a good copy, or None.
BackupFinder = Callable[[Path, str], "tuple[Path, bytes] | None"]


class StoreUnavailable(RuntimeError):
    """The state directory cannot be used (permissions, a newer schema, ...); the message says why."""


class StateTable(Table):
    def upsert_many(self, documents: Mapping[int, Mapping[str, Any]]) -> None:
        """Insert or replace documents by id in ONE write (TinyDB rewrites the whole file per call)."""

        def updater(table: dict[int, Mapping[str, Any]]) -> None:
            for doc_id, document in documents.items():
                table[doc_id] = dict(document)

        self._update_table(updater)
        self._next_id = None


class StateDB(TinyDB):
    table_class = StateTable


def _guild_table(guild_id: int) -> str:
    return f"guild:{guild_id}"


class StateStore:
    """Open with `StateStore(state_dir, backups_dir).open()`; `close()` flushes and releases the lock."""

    def __init__(
        self,
        state_dir: Path,
        backups_dir: Path,
        schemas: Mapping[str, Schema] = SCHEMAS,
        find_backup: BackupFinder | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.backups_dir = backups_dir
        self._schemas = schemas
        self._find_backup = find_backup
        self._lock = StateLock(state_dir)
        self._dbs: dict[str, StateDB] = {}
        self._pending_playback: dict[int, GuildPlayback] = {}
        self._pending_listening: dict[tuple[int, int], ListeningStats] = {}
        #: Per guild, its listening records as loaded (and changed since): see `_guild_listening`.
        self._listening: dict[int, dict[int, ListeningStats]] = {}
        self._pending_open_quizzes: dict[int, OpenQuiz] = {}
        self._pending_audiences: dict[int, SurahAudience] = {}
        self.recovered: list[str] = []
        #: What config.toml says, for what Discord has not set (see `settings` and `playback`).
        self.guild_defaults: dict[int, GuildSettings] = {}
        self.default_reciter: str | None = None
        #: A shard's store holds only the guilds its shard owns (None: every guild, unsharded).
        self.owns_guild: Callable[[int], bool] | None = None
        self._refused_guilds: set[int] = set()

    # -- lifecycle ------------------------------------------------------------------------------------
    def open(self) -> StateStore:
        try:
            self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._lock.acquire()
        except OSError as exc:
            raise StoreUnavailable(
                f"Cannot write the state directory {self.state_dir}: {exc.strerror}"
            ) from None
        try:
            for leftover in sweep_temporaries(self.state_dir):
                log.info("Removed %s, left by a write that was interrupted", leftover.name)
            for name in STATE_FILES:
                self._dbs[name] = self._open_file(name)
        except BaseException:
            self._lock.release()
            raise
        return self

    def close(self) -> None:
        """Flush buffered values and release the lock (on clean shutdown: SIGTERM, SIGINT)."""
        if not self._lock.held:
            return
        try:
            self.flush()
        finally:
            for db in self._dbs.values():
                db.close()
            self._dbs.clear()
            self._listening.clear()
            self._lock.release()

    def __enter__(self) -> StateStore:
        return self.open()

    def __exit__(self, *_: object) -> None:
        self.close()

    def _open_file(self, name: str) -> StateDB:
        path = self.state_dir / name
        data: Data | None
        try:
            data = parse_state_bytes(path, path.read_bytes())
        except FileNotFoundError:
            data = None
        except CorruptStateFile as exc:
            data = self._recover(path, exc)
        upgraded, changed = self._schemas[name].upgrade(data)
        if changed:
            atomic_write_bytes(path, AtomicJSONStorage.encode(upgraded))
        if name != STATS:
            return StateDB(path, storage=AtomicJSONStorage)
        # stats.json is large and rewritten every statistics interval: its documents' bytes are reused
        db = StateDB(path, storage=ReusingJSONStorage)
        storage = db.storage
        assert isinstance(storage, ReusingJSONStorage)
        storage.prime()
        return db

    def _recover(self, path: Path, problem: CorruptStateFile) -> Data | None:
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = path.with_name(f"{path.name}.corrupt-{stamp}")
        os.replace(path, aside)
        self.recovered.append(path.name)
        found = self._find_backup(self.backups_dir, path.name) if self._find_backup else None
        if found is None:
            system_event(
                log, logging.CRITICAL,
                "%s was unreadable (%s): moved it to %s. No backup holds a good copy, so %s starts EMPTY; "
                "restore an older backup with `quranbot backup restore` if you have one elsewhere",
                path.name, problem.reason, aside.name, path.name,
            )  # fmt: skip
            return None
        archive, raw = found
        data = parse_state_bytes(path, raw)
        atomic_write_bytes(path, raw)
        system_event(
            log, logging.CRITICAL,
            "%s was unreadable (%s): moved it to %s and restored it from backup %s",
            path.name, problem.reason, aside.name, archive.name,
        )  # fmt: skip
        return data

    def _table(self, name: str, table: str) -> StateTable:
        if name not in self._dbs:
            raise RuntimeError("the state store is not open")
        result = self._dbs[name].table(table, cache_size=0)
        assert isinstance(result, StateTable)
        return result

    def _writable(self, guild_id: int) -> bool:
        """False for a guild another shard owns: its records are never written here, so they cannot fork
        from the owner's copy (Discord sends a shard only its own guilds; a slip must not cost data)."""
        if self.owns_guild is None or self.owns_guild(guild_id):
            return True
        if guild_id not in self._refused_guilds:
            self._refused_guilds.add(guild_id)
            log.warning("Guild %s belongs to another shard: nothing about it is saved here", guild_id)
        return False

    # -- hot values: buffered, written by flush() ---------------------------------------------------
    def playback(self, guild_id: int) -> GuildPlayback:
        pending = self._pending_playback.get(guild_id)
        if pending is not None:
            return GuildPlayback.from_document(pending.to_document())
        document = self._table(PLAYBACK, "guilds").get(doc_id=guild_id)
        if document:
            return GuildPlayback.from_document(dict(document))
        return GuildPlayback(guild_id, reciter=self.default_reciter)  # a new guild: config's reciter

    def set_playback(self, playback: GuildPlayback) -> None:
        if not self._writable(playback.guild_id):
            return
        self._pending_playback[playback.guild_id] = GuildPlayback.from_document(playback.to_document())

    def listening(self, guild_id: int, user_id: int) -> ListeningStats:
        """A copy of the member's record (buffered changes included), to read."""
        stats = self._guild_listening(guild_id).get(user_id) or ListeningStats(guild_id, user_id)
        return ListeningStats.from_document(stats.to_document())

    def buffered_listening(self, guild_id: int, user_id: int) -> ListeningStats:
        """The member's live record, to change in place: it is written at the next statistics flush.

        Live rather than copied: the tracker touches every listener's record on each tick, and a
        copy of a record with its daily, hourly and session figures costs more than the change."""
        if not self._writable(guild_id):
            return ListeningStats(guild_id, user_id)  # changed by the caller, kept nowhere
        records = self._guild_listening(guild_id)
        stats = records.get(user_id)
        if stats is None:
            stats = records[user_id] = ListeningStats(guild_id, user_id)
        self._pending_listening[(guild_id, user_id)] = stats
        return stats

    def _guild_listening(self, guild_id: int) -> dict[int, ListeningStats]:
        """A guild's records, read from the file once and kept: TinyDB reads the whole file on every
        lookup, which at 100,000 members would cost a second per listener per flush."""
        records = self._listening.get(guild_id)
        if records is None:
            table = self._table(STATS, _guild_table(guild_id))
            records = {int(d.doc_id): ListeningStats.from_document(dict(d)) for d in table.all()}
            self._listening[guild_id] = records
        return records

    def put_listening(self, stats: ListeningStats) -> None:
        """Replace a member's whole record (a migration between shards); written at the next flush."""
        if not self._writable(stats.guild_id):
            return
        record = ListeningStats.from_document(stats.to_document())
        self._guild_listening(stats.guild_id)[stats.user_id] = record
        self._pending_listening[(stats.guild_id, stats.user_id)] = record

    def all_listening(self, guild_id: int) -> list[ListeningStats]:
        """Every member's record in the guild as it is now; these are the live records: only read them."""
        return list(self._guild_listening(guild_id).values())

    def listening_guilds(self) -> list[int]:
        tables = self._dbs[STATS].tables()
        guilds = {int(name.partition(":")[2]) for name in tables if name.startswith("guild:")}
        return sorted(guilds | set(self._listening))

    def forget_listening(self, user_id: int, guild_id: int | None = None) -> list[int]:
        """Delete what was kept about a member's listening (in one guild, or all); the guilds it was in."""
        guilds = [guild_id] if guild_id is not None else self.listening_guilds()
        forgotten = []
        for guild in guilds:
            self._pending_listening.pop((guild, user_id), None)
            kept = self._guild_listening(guild).pop(user_id, None) is not None
            table = self._table(STATS, _guild_table(guild))
            stored = table.contains(doc_id=user_id)
            if stored:
                table.remove(doc_ids=[user_id])
            if kept or stored:
                forgotten.append(guild)
        return forgotten

    def listening_opt_outs(self, guild_id: int) -> set[int]:
        """Members who said `/stats privacy off`: nothing about their listening is kept."""
        document = self._table(SETTINGS, "listening_opt_out").get(doc_id=guild_id)
        return {int(u) for u in document.get("users", [])} if document else set()

    def set_listening_opt_out(self, guild_id: int, user_id: int, opted_out: bool) -> None:
        if not self._writable(guild_id):
            return
        users = self.listening_opt_outs(guild_id)
        users = users | {user_id} if opted_out else users - {user_id}
        self._table(SETTINGS, "listening_opt_out").upsert(Document({"users": sorted(users)}, doc_id=guild_id))

    def member_language(self, user_id: int) -> str | None:
        """The language a member chose with `/language` ("en", "ar"), in every server; None: not chosen."""
        document = self._table(SETTINGS, "member_language").get(doc_id=user_id)
        return str(document["language"]) if document and document.get("language") else None

    def set_member_language(self, user_id: int, language: str | None) -> None:
        """Save a member's choice; None forgets it (the server's language applies again)."""
        table = self._table(SETTINGS, "member_language")
        if language is None:
            if table.contains(doc_id=user_id):
                table.remove(doc_ids=[user_id])
            return
        table.upsert(Document({"language": language}, doc_id=user_id))

    def listener_role_holders(self, guild_id: int) -> tuple[int | None, set[int]]:
        """The listener role the bot last managed here, and whom it gave it to (to take it back)."""
        document = self._table(SETTINGS, "listener_role").get(doc_id=guild_id)
        if not document:
            return None, set()
        role = document.get("role_id")
        return (int(role) if role is not None else None), {int(u) for u in document.get("holders", [])}

    def save_listener_role_holders(self, guild_id: int, role_id: int | None, holders: set[int]) -> None:
        if not self._writable(guild_id):
            return
        self._table(SETTINGS, "listener_role").upsert(
            Document({"role_id": role_id, "holders": sorted(holders)}, doc_id=guild_id)
        )

    def surah_audience(self, guild_id: int) -> SurahAudience:
        pending = self._pending_audiences.get(guild_id)
        if pending is not None:
            return SurahAudience.from_document(pending.to_document())
        document = self._table(PLAYBACK, "audience").get(doc_id=guild_id)
        return SurahAudience.from_document(dict(document)) if document else SurahAudience(guild_id)

    def set_surah_audience(self, audience: SurahAudience) -> None:
        """Buffered and written with the position: the two must agree after a restart."""
        if not self._writable(audience.guild_id):
            return
        self._pending_audiences[audience.guild_id] = SurahAudience.from_document(audience.to_document())

    @property
    def dirty(self) -> bool:
        return bool(
            self._pending_playback
            or self._pending_audiences
            or self._pending_listening
            or self._pending_open_quizzes
        )

    def flush(self, statistics: bool = True) -> None:
        """Write buffered values: one write per file. On failure (a full disk) they stay buffered.

        `statistics=False` writes only the small playback file: the large statistics file is written
        less often, because encoding it holds the GIL that the audio thread needs every 20 ms.
        """
        if self._pending_playback:
            pending = dict(self._pending_playback)
            self._table(PLAYBACK, "guilds").upsert_many({g: p.to_document() for g, p in pending.items()})
            for guild_id, value in pending.items():
                if self._pending_playback.get(guild_id) is value:
                    del self._pending_playback[guild_id]
        if self._pending_audiences:
            audiences = dict(self._pending_audiences)
            self._table(PLAYBACK, "audience").upsert_many({g: a.to_document() for g, a in audiences.items()})
            for guild_id, audience in audiences.items():
                if self._pending_audiences.get(guild_id) is audience:
                    del self._pending_audiences[guild_id]
        if self._pending_open_quizzes:
            pending_quizzes = dict(self._pending_open_quizzes)
            self._table(QUIZZES, "open").upsert_many({q: o.to_document() for q, o in pending_quizzes.items()})
            for quiz_id, quiz in pending_quizzes.items():
                if self._pending_open_quizzes.get(quiz_id) is quiz:
                    del self._pending_open_quizzes[quiz_id]
        if statistics and self._pending_listening:
            by_guild: dict[int, dict[int, dict[str, Any]]] = {}
            for (guild_id, user_id), stats in self._pending_listening.items():
                by_guild.setdefault(guild_id, {})[user_id] = stats.to_document()
            for guild_id, documents in by_guild.items():
                self._table(STATS, _guild_table(guild_id)).upsert_many(documents)
                for user_id in documents:
                    self._pending_listening.pop((guild_id, user_id), None)

    def stored_guilds(self) -> dict[str, set[int]]:
        """Which guilds have records of each kind, buffered ones included: what a migration between
        shards must carry (`quranbot/shards/migrate.py`). The kinds name the getters and setters."""

        def doc_guilds(name: str, table: str) -> set[int]:
            return {int(doc.doc_id) for doc in self._table(name, table).all()}

        def table_guilds(name: str) -> set[int]:
            prefix = "guild:"
            return {int(t.removeprefix(prefix)) for t in self._dbs[name].tables() if t.startswith(prefix)}

        return {
            "playback": doc_guilds(PLAYBACK, "guilds") | set(self._pending_playback),
            "audience": doc_guilds(PLAYBACK, "audience") | set(self._pending_audiences),
            "settings": doc_guilds(SETTINGS, "guilds"),
            "daily_verse": doc_guilds(SETTINGS, "daily_verse"),
            "listening_opt_out": doc_guilds(SETTINGS, "listening_opt_out"),
            "listener_role": doc_guilds(SETTINGS, "listener_role"),
            "quiz_scores": table_guilds(QUIZ),
            "listening": set(self.listening_guilds()),
            "quiz_guild": doc_guilds(QUIZZES, "guilds"),
            "open_quizzes": {quiz.guild_id for quiz in self.open_quizzes()},
        }

    # -- cold values: written at once ---------------------------------------------------------------
    def settings(self, guild_id: int) -> GuildSettings:
        """The guild's settings in effect: what was saved from Discord (/setup, the panel), and for each
        value not saved there, config.toml's (`guild_defaults`). Editing config.toml therefore takes
        effect at the next start for everything Discord has not set."""
        saved = self.saved_settings(guild_id)
        default = self.guild_defaults.get(guild_id)
        if default is None:
            return saved
        return GuildSettings(
            guild_id=guild_id,
            voice_channel_id=saved.voice_channel_id or default.voice_channel_id,
            panel_channel_id=saved.panel_channel_id or default.panel_channel_id,
            panel_message_id=saved.panel_message_id,
            controller_role_id=saved.controller_role_id or default.controller_role_id,
            listener_role_id=saved.listener_role_id or default.listener_role_id,
            daily_verse_channel_id=saved.daily_verse_channel_id or default.daily_verse_channel_id,
            daily_verse_time=saved.daily_verse_time or default.daily_verse_time,
            log_channel_id=saved.log_channel_id,
            language=saved.language or default.language,
        )

    def saved_settings(self, guild_id: int) -> GuildSettings:
        """Only what was saved (to update one field without copying config.toml's values in)."""
        document = self._table(SETTINGS, "guilds").get(doc_id=guild_id)
        return GuildSettings.from_document(dict(document)) if document else GuildSettings(guild_id)

    def all_settings(self) -> list[GuildSettings]:
        return [GuildSettings.from_document(dict(d)) for d in self._table(SETTINGS, "guilds").all()]

    def save_settings(self, settings: GuildSettings) -> None:
        if not self._writable(settings.guild_id):
            return
        self._table(SETTINGS, "guilds").upsert(Document(settings.to_document(), doc_id=settings.guild_id))

    def daily_verse(self, guild_id: int) -> DailyVerseState:
        document = self._table(SETTINGS, "daily_verse").get(doc_id=guild_id)
        return DailyVerseState.from_document(dict(document)) if document else DailyVerseState(guild_id)

    def save_daily_verse(self, state: DailyVerseState) -> None:
        if not self._writable(state.guild_id):
            return
        self._table(SETTINGS, "daily_verse").upsert(Document(state.to_document(), doc_id=state.guild_id))

    def quiz_score(self, guild_id: int, user_id: int) -> QuizScore:
        document = self._table(QUIZ, _guild_table(guild_id)).get(doc_id=user_id)
        return QuizScore.from_document(dict(document)) if document else QuizScore(guild_id, user_id)

    def save_quiz_score(self, score: QuizScore) -> None:
        if not self._writable(score.guild_id):
            return
        self._table(QUIZ, _guild_table(score.guild_id)).upsert(
            Document(score.to_document(), doc_id=score.user_id)
        )

    def quiz_scores(self, guild_id: int) -> list[QuizScore]:
        return [QuizScore.from_document(dict(d)) for d in self._table(QUIZ, _guild_table(guild_id)).all()]

    def save_quiz_scores(self, guild_id: int, scores: list[QuizScore]) -> None:
        """Every member scored at one reveal, in one write."""
        if scores and self._writable(guild_id):
            self._table(QUIZ, _guild_table(guild_id)).upsert_many(
                {s.user_id: s.to_document() for s in scores}
            )

    # -- the quiz's open questions and per-guild settings ----------------------------------------------
    def open_quizzes(self) -> list[OpenQuiz]:
        """Questions posted and not yet revealed (with the answers buffered so far)."""
        stored = {int(d.doc_id): OpenQuiz.from_document(dict(d)) for d in self._table(QUIZZES, "open").all()}
        stored.update(
            {q: OpenQuiz.from_document(o.to_document()) for q, o in self._pending_open_quizzes.items()}
        )
        return sorted(stored.values(), key=lambda q: q.posted_at)

    def save_open_quiz(self, quiz: OpenQuiz) -> None:
        """Written at once: a question that was posted must be found again after any restart."""
        if not self._writable(quiz.guild_id):
            return
        self._pending_open_quizzes.pop(quiz.quiz_id, None)
        self._table(QUIZZES, "open").upsert(Document(quiz.to_document(), doc_id=quiz.quiz_id))

    def buffer_open_quiz(self, quiz: OpenQuiz) -> None:
        """A new answer: buffered, written with the playback position (a SIGKILL loses at most that).

        The live record is kept, not a copy, and written as it is at the next flush: a crowd of 1,000
        answering at once would otherwise copy 500,000 answers (2.3 s measured). Flushes run on the
        event loop, as answers do, so none can change it halfway through a write."""
        if not self._writable(quiz.guild_id):
            return
        self._pending_open_quizzes[quiz.quiz_id] = quiz

    def delete_open_quiz(self, quiz_id: int) -> None:
        self._pending_open_quizzes.pop(quiz_id, None)
        table = self._table(QUIZZES, "open")
        if table.contains(doc_id=quiz_id):
            table.remove(doc_ids=[quiz_id])

    def quiz_guild(self, guild_id: int) -> QuizGuild:
        document = self._table(QUIZZES, "guilds").get(doc_id=guild_id)
        return QuizGuild.from_document(dict(document)) if document else QuizGuild(guild_id)

    def all_quiz_guilds(self) -> list[QuizGuild]:
        return [QuizGuild.from_document(dict(d)) for d in self._table(QUIZZES, "guilds").all()]

    def save_quiz_guild(self, quiz_guild: QuizGuild) -> None:
        if not self._writable(quiz_guild.guild_id):
            return
        self._table(QUIZZES, "guilds").upsert(Document(quiz_guild.to_document(), doc_id=quiz_guild.guild_id))


def quiz_scores_on_disk(state_dir: Path) -> dict[int, list[QuizScore]]:
    """Every guild's quiz records as the file holds them, read without the lock (for `quranbot quiz
    stats` while the bot runs: scores are written at each reveal, atomically, so the file is current)."""
    path = state_dir / QUIZ
    try:
        data = parse_state_bytes(path, path.read_bytes())
    except (OSError, CorruptStateFile):
        return {}
    return {
        int(table.partition(":")[2]): [QuizScore.from_document(dict(doc)) for doc in docs.values()]
        for table, docs in data.items()
        if table.startswith("guild:") and isinstance(docs, dict)
    }


def reciters_in_use(state_dir: Path) -> dict[int, str]:
    """Which reciter each guild plays, read without taking the lock (for `quranbot reciter remove`).

    Atomic writes mean the file read is always a whole version; a missing or unreadable file means none.
    """
    path = state_dir / PLAYBACK
    try:
        data = parse_state_bytes(path, path.read_bytes())
    except (OSError, CorruptStateFile):
        return {}
    return {
        int(doc_id): str(doc["reciter"])
        for doc_id, doc in data.get("guilds", {}).items()
        if isinstance(doc, dict) and doc.get("reciter")
    }


def listening_on_disk(state_dir: Path) -> dict[int, list[ListeningStats]]:
    """Every guild's listening records as the file holds them, read without the lock (for `quranbot
    stats` while the bot is stopped; a running bot is asked over its socket instead, since it buffers
    statistics between writes). A missing file means none; an unreadable one raises CorruptStateFile,
    so the admin hears that it is broken rather than seeing no statistics."""
    path = state_dir / STATS
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    guilds: dict[int, list[ListeningStats]] = {}
    for table, docs in parse_state_bytes(path, raw).items():
        prefix, _, guild = table.partition(":")
        if prefix == "guild" and guild.isdigit():
            guilds[int(guild)] = [
                ListeningStats.from_document(dict(doc)) for doc in docs.values() if isinstance(doc, dict)
            ]
    return guilds
