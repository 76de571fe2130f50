"""Publishing: pick up content changes while the bot runs, and record each version served.

The watcher polls the content folder's file names, sizes and modification times
(cheap, portable, no extra dependency). When they change it loads the whole tree
again: a valid tree replaces the live one at once, an invalid one is refused with
its reasons in the log and the previous version keeps serving. Every version
that goes live is recorded in ``content_versions`` with who or what published it.

Content published from the console is a release kept in the database
(:mod:`bot.content.releases`): before each look at the folder, the watcher brings the
files a release wrote to their published text, so every replica on one database serves
the same published version, whether or not they share a folder.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from bot.content.catalog import Catalog
from bot.content.editing import write_atomic, write_atomic_bytes
from bot.content.store import ContentStore
from bot.store import drafts as draft_store
from bot.store import repositories as repo
from bot.store.db import Database

logger = logging.getLogger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]
Listener = Callable[[Catalog], Awaitable[None]]


def fingerprint(root: Path) -> Fingerprint:
    """(path, size, mtime) of every file under ``root``, skipping editors' hidden files."""
    entries: list[tuple[str, int, int]] = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        try:
            stat = path.stat()
        except OSError:
            continue  # removed while listing; the next poll sees the result
        if path.is_file():
            entries.append((relative.as_posix(), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(entries))


def summary(catalog: Catalog) -> dict[str, object]:
    return {
        "messages": {code: len(entries) for code, entries in catalog.messages.items()},
        "topics": len(catalog.topics),
        "voice_notes": sum(
            1 for entries in catalog.messages.values() for e in entries.values() if e.voice
        ),
    }


class ContentPublisher:
    """Watches ``store.directory`` and records published versions in the database."""

    def __init__(self, store: ContentStore, database: Database, *, interval: float = 2.0) -> None:
        self.store = store
        self.database = database
        self.interval = interval
        self.listeners: list[Listener] = []
        self._lock = asyncio.Lock()
        self._seen = fingerprint(store.directory)
        #: The latest release whose files this folder holds (None: not looked yet).
        self.release: int | None = None
        self._unwritable = False

    async def record(self, published_by: str) -> bool:
        """Record the live version (once); True when it was new to the database."""
        catalog = self.store.current()
        async with self.database.transaction() as session:
            return await repo.record_content_version(
                session,
                version=catalog.version,
                published_by=published_by[:64],
                summary=summary(catalog),
            )

    async def publish(self, published_by: str) -> bool:
        """Load the folder now; True when a new valid version went live."""
        async with self._lock:
            return await self._publish(published_by)

    @asynccontextmanager
    async def editing(self, published_by: str) -> AsyncIterator[None]:
        """Change files inside this block; the result is published under ``published_by``.

        The watcher waits meanwhile, so it neither loads half-written changes nor
        takes the credit for them.
        """
        async with self._lock:
            before = self.store.current().version
            try:
                yield
            finally:
                await self._publish(published_by, before=before)

    async def _publish(self, published_by: str, *, before: str | None = None) -> bool:
        self._seen = fingerprint(self.store.directory)
        if before is None:
            before = self.store.current().version
        # Loading and checking a tree takes a moment: keep the event loop free meanwhile.
        valid = await asyncio.to_thread(self.store.reload)
        catalog = self.store.current()
        if not valid or catalog.version == before:
            return False
        await self.record(published_by)
        for listener in self.listeners:
            try:
                await listener(catalog)
            except Exception:  # one failing listener must not stop publishing
                logger.exception("A content listener failed for version %s", catalog.version)
        return True

    async def settled(self) -> None:
        """Return once no publication is in progress (its version recorded)."""
        async with self._lock:
            return

    async def sync(self) -> bool:
        """Bring the folder to the latest release; True when a new version went live."""
        async with self._lock:
            published_by = await self.sync_files()
            if published_by is None:
                return False
            return await self._publish(published_by)

    async def sync_files(self) -> str | None:
        """Write the files of releases this folder has not seen (call with the lock held).

        Returns who published the release when a file changed, else None. A folder that
        cannot be written (mounted read-only beside a replica that writes it) is left as
        it is: the replica that writes it publishes the change for everyone sharing it.
        """
        async with self.database.reading() as session:
            latest = await draft_store.latest_release_id(session)
            if latest == (self.release or 0):
                self.release = latest
                return None
            files = await draft_store.published_files(session, since=self.release or 0)
            release = await draft_store.release(session, latest) if files else None
        changed = False
        root = self.store.directory
        for published in files:
            path = root / published.path
            wanted: str | bytes | None
            if published.removed:
                wanted = None
            elif published.data is not None:
                wanted = published.data
            else:
                wanted = published.text
            try:
                if not path.exists():
                    current: str | bytes | None = None
                elif isinstance(wanted, bytes):
                    current = path.read_bytes()
                else:
                    current = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                current = b"" if isinstance(wanted, bytes) else ""
            if current == wanted:
                continue
            try:
                if wanted is None:
                    path.unlink(missing_ok=True)
                elif isinstance(wanted, bytes):
                    write_atomic_bytes(path, wanted)
                else:
                    write_atomic(path, wanted)
            except OSError as exc:
                if not self._unwritable:
                    logger.warning(
                        "Cannot write release %d into the content folder (%s); serving the"
                        " files as they are",
                        latest,
                        exc.strerror,
                    )
                self._unwritable = True
                continue
            changed = True
        self.release = latest
        if not changed:
            return None
        logger.info("Content folder brought to release %d", latest)
        return release.published_by if release is not None else f"release {latest}"

    async def poll(self) -> bool:
        """One look at the folder; publish when something changed since the last look."""
        if self._lock.locked():
            return False
        if await self.sync():
            return True
        current = fingerprint(self.store.directory)
        if current == self._seen:
            return False
        return await self.publish("reload")

    async def watch(self) -> None:
        """Poll forever (run as a task; cancel it to stop)."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.poll()
            except Exception:
                logger.exception("Content watcher failed; still serving the current version")
