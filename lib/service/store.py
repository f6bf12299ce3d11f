"""Our jobs table: the one source of truth for uids, jobs, their progress and losses (SQLite in the data folder).

The queue (huey) only carries job ids; whatever a worker, the gRPC front end or the dashboard knows about a job
it reads here. Every change is one short transaction, so several processes (serve, workers, job children) share
the file safely. WAL mode lets readers (the dashboard) run while a job writes; with workers on other machines the
data folder is shared over the network, where WAL does not work, so there the classic rollback journal is used.

A job moves queued -> running -> done | failed | cancelled. A running job whose worker stops sending heartbeats
goes back to queued (:meth:`Store.reap`), up to ``max_attempts`` times.
"""
from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from pathlib import Path

from lib.errors import FaceswapError

DB_FILE = "jobs.db"
SCHEMA_VERSION = 1
FINAL = ("done", "failed", "cancelled")
ACTIVE = ("queued", "running")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS uids (
    uid TEXT PRIMARY KEY, token_hash TEXT NOT NULL, created REAL NOT NULL, last_used REAL NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    uid TEXT,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    stage TEXT NOT NULL DEFAULT '',
    progress TEXT NOT NULL DEFAULT '{}',
    result TEXT,
    error TEXT,
    worker TEXT,
    heartbeat REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    cancel INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS jobs_by_uid ON jobs(uid, seq);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state, seq);
CREATE TABLE IF NOT EXISTS losses (
    job TEXT NOT NULL, iteration INTEGER NOT NULL, loss_a REAL, loss_b REAL, at REAL NOT NULL,
    PRIMARY KEY (job, iteration));
"""


class QuotaExceeded(FaceswapError):
    """Too many jobs queued or running (for one uid, or in all)."""


class Store:
    """The jobs table in ``data_dir/jobs.db``. One instance per process; each thread gets its own connection."""

    def __init__(self, data_dir, wal: bool = True):
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DB_FILE
        self.wal = wal
        self._local = threading.local()
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise FaceswapError(f"cannot create the data folder {self.data_dir}: {err.strerror}") from None
        self._db().executescript(_SCHEMA)     # idempotent; executescript runs outside our transactions
        with self._tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise FaceswapError(f"{self.path} was written by a newer faceswap (schema {row[0]}): update faceswap")

    # -------------------------------------------------------------------------------------------- plumbing
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
                db.row_factory = sqlite3.Row
                db.execute(f"PRAGMA journal_mode={'WAL' if self.wal else 'DELETE'}")
                db.execute("PRAGMA synchronous=NORMAL" if self.wal else "PRAGMA synchronous=FULL")
                db.execute("PRAGMA busy_timeout=60000")
            except sqlite3.Error as err:
                raise FaceswapError(f"cannot open the jobs table {self.path}: {err}") from None
            self._local.db = db
        return db

    class _Tx:
        def __init__(self, db):
            self.db = db

        def __enter__(self):
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, kind, value, tb):
            self.db.execute("COMMIT" if kind is None else "ROLLBACK")
            return False

    def _tx(self):
        """A write transaction taken at once (BEGIN IMMEDIATE), so check-then-write steps are atomic."""
        return self._Tx(self._db())

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -------------------------------------------------------------------------------------------- uids
    def add_uid(self, uid: str, token_hash: str) -> None:
        now = time.time()
        with self._tx() as db:
            db.execute("INSERT INTO uids VALUES (?, ?, ?, ?)", (uid, token_hash, now, now))

    def get_uid(self, uid: str) -> dict | None:
        row = self._db().execute("SELECT * FROM uids WHERE uid=?", (uid,)).fetchone()
        return dict(row) if row else None

    def touch_uid(self, uid: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE uids SET last_used=? WHERE uid=?", (time.time(), uid))

    def idle_uids(self, before: float) -> list[str]:
        """Uids last used before ``before`` with no job queued or running."""
        rows = self._db().execute(
            "SELECT uid FROM uids WHERE last_used < ? AND uid NOT IN "
            "(SELECT uid FROM jobs WHERE uid IS NOT NULL AND state IN ('queued', 'running'))", (before,)).fetchall()
        return [r[0] for r in rows]

    def delete_uid(self, uid: str) -> None:
        with self._tx() as db:
            ids = [r[0] for r in db.execute("SELECT id FROM jobs WHERE uid=?", (uid,))]
            db.executemany("DELETE FROM losses WHERE job=?", [(i,) for i in ids])
            db.execute("DELETE FROM jobs WHERE uid=?", (uid,))
            db.execute("DELETE FROM uids WHERE uid=?", (uid,))

    # -------------------------------------------------------------------------------------------- jobs
    def add_job(self, kind: str, target: str, payload: dict, uid: str | None = None, title: str = "",
                max_per_uid: int | None = None, max_queued: int | None = None, job_id: str | None = None) -> str:
        """Record a new queued job and return its id; :class:`QuotaExceeded` when a limit is reached."""
        job_id = job_id or secrets.token_hex(16)
        now = time.time()
        with self._tx() as db:
            if uid is not None and max_per_uid is not None:
                active = db.execute("SELECT COUNT(*) FROM jobs WHERE uid=? AND state IN ('queued', 'running')",
                                    (uid,)).fetchone()[0]
                if active >= max_per_uid:
                    raise QuotaExceeded(f"uid {uid} already has {active} job(s) queued or running (the limit is "
                                        f"{max_per_uid}): wait for one to finish or cancel it")
            if max_queued is not None:
                queued = db.execute("SELECT COUNT(*) FROM jobs WHERE state='queued'").fetchone()[0]
                if queued >= max_queued:
                    raise QuotaExceeded(f"the queue is full ({queued} jobs waiting): try again later")
            db.execute("INSERT INTO jobs (id, uid, kind, target, title, payload, state, created, updated) "
                       "VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?)",
                       (job_id, uid, kind, target, title, json.dumps(payload), now, now))
        return job_id

    def claim(self, job_id: str, worker: str) -> dict | None:
        """Take a queued job for ``worker``; None if it is not queued, or another job of its uid must go first."""
        now = time.time()
        with self._tx() as db:
            row = db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
            if row is None or row["state"] != "queued":
                return None
            if row["uid"] is not None:
                ahead = db.execute("SELECT COUNT(*) FROM jobs WHERE uid=? AND (state='running' OR "
                                   "(state='queued' AND seq < ?))", (row["uid"], row["seq"])).fetchone()[0]
                if ahead:
                    return None
            db.execute("UPDATE jobs SET state='running', worker=?, heartbeat=?, started=COALESCE(started, ?), "
                       "attempts=attempts+1, updated=? WHERE id=?", (worker, now, now, now, job_id))
        return self.get(job_id)

    def heartbeat(self, job_id: str, worker: str) -> bool | None:
        """Mark the job alive; returns whether a cancel was asked, or None when the job is no longer ours."""
        with self._tx() as db:
            cur = db.execute("UPDATE jobs SET heartbeat=? WHERE id=? AND state='running' AND worker=?",
                             (time.time(), job_id, worker))
            if cur.rowcount != 1:
                return None
            return bool(db.execute("SELECT cancel FROM jobs WHERE id=?", (job_id,)).fetchone()[0])

    def set_progress(self, job_id: str, progress: dict) -> None:
        """Record the latest progress snapshot (and a loss point when it carries an iteration and losses)."""
        now = time.time()
        with self._tx() as db:
            db.execute("UPDATE jobs SET stage=?, progress=?, updated=? WHERE id=? AND state='running'",
                       (progress.get("stage", ""), json.dumps(progress), now, job_id))
            if progress.get("iteration") is not None and (progress.get("loss_a") is not None
                                                          or progress.get("loss_b") is not None):
                db.execute("INSERT OR REPLACE INTO losses VALUES (?, ?, ?, ?, ?)",
                           (job_id, int(progress["iteration"]), progress.get("loss_a"), progress.get("loss_b"), now))

    def finish(self, job_id: str, state: str, result: dict | None = None, error: str | None = None,
               worker: str | None = None) -> bool:
        """End a running job (done, failed or cancelled); False if it was not running (for ``worker``)."""
        if state not in FINAL:
            raise ValueError(state)
        now = time.time()
        query = ("UPDATE jobs SET state=?, result=?, error=?, finished=?, updated=?, heartbeat=NULL "
                 "WHERE id=? AND state='running'")
        args = [state, json.dumps(result) if result is not None else None, error, now, now, job_id]
        if worker is not None:
            query += " AND worker=?"
            args.append(worker)
        with self._tx() as db:
            return db.execute(query, args).rowcount == 1

    def requeue(self, job_id: str, worker: str) -> bool:
        """Put a running job back in the queue (its worker is shutting down); it resumes from its last save."""
        with self._tx() as db:
            cur = db.execute("UPDATE jobs SET state='queued', worker=NULL, heartbeat=NULL, updated=? "
                             "WHERE id=? AND state='running' AND worker=?", (time.time(), job_id, worker))
            return cur.rowcount == 1

    def request_cancel(self, job_id: str) -> str | None:
        """Ask a job to stop: a queued one is cancelled at once, a running one is flagged for its worker.

        Returns the job's state after the request (None: no such job)."""
        now = time.time()
        with self._tx() as db:
            row = db.execute("SELECT state FROM jobs WHERE id=?", (job_id,)).fetchone()
            if row is None:
                return None
            if row["state"] == "queued":
                db.execute("UPDATE jobs SET state='cancelled', cancel=1, error='cancelled before it started', "
                           "finished=?, updated=? WHERE id=?", (now, now, job_id))
                return "cancelled"
            if row["state"] == "running":
                db.execute("UPDATE jobs SET cancel=1, updated=? WHERE id=?", (now, job_id))
            return row["state"]

    def reap(self, stale_after: float, max_attempts: int) -> list[str]:
        """Running jobs whose worker stopped sending heartbeats: back to queued (their ids are returned, to be
        enqueued again), or failed after ``max_attempts`` tries, or cancelled if a cancel was asked."""
        now = time.time()
        requeued = []
        with self._tx() as db:
            rows = db.execute("SELECT id, attempts, cancel, worker FROM jobs WHERE state='running' AND "
                              "(heartbeat IS NULL OR heartbeat < ?)", (now - stale_after,)).fetchall()
            for row in rows:
                if row["cancel"]:
                    db.execute("UPDATE jobs SET state='cancelled', error='cancelled (its worker stopped)', "
                               "finished=?, updated=?, heartbeat=NULL WHERE id=?", (now, now, row["id"]))
                elif row["attempts"] >= max_attempts:
                    db.execute("UPDATE jobs SET state='failed', finished=?, updated=?, heartbeat=NULL, error=? "
                               "WHERE id=?", (now, now, f"its worker stopped responding {row['attempts']} times "
                                                        f"(last: {row['worker']}); not retried again", row["id"]))
                else:
                    db.execute("UPDATE jobs SET state='queued', worker=NULL, heartbeat=NULL, updated=? WHERE id=?",
                               (now, row["id"]))
                    requeued.append(row["id"])
        return requeued

    def queued_ids(self) -> list[str]:
        return [r[0] for r in self._db().execute("SELECT id FROM jobs WHERE state='queued' ORDER BY seq")]

    def queued_since(self, before: float) -> list[tuple[str, float]]:
        """Queued jobs unchanged since ``before`` (id, last change)."""
        return [tuple(r) for r in self._db().execute(
            "SELECT id, updated FROM jobs WHERE state='queued' AND updated < ? ORDER BY seq", (before,))]

    def next_queued(self, uid: str) -> str | None:
        """The uid's oldest queued job (it may start now that the uid's previous job ended)."""
        row = self._db().execute("SELECT id FROM jobs WHERE uid=? AND state='queued' ORDER BY seq LIMIT 1",
                                 (uid,)).fetchone()
        return row[0] if row else None

    def get(self, job_id: str) -> dict | None:
        row = self._db().execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        return self._job(row) if row else None

    def jobs(self, uid: str | None = None, limit: int = 50, all_uids: bool = False) -> list[dict]:
        """The newest jobs first: of one uid, of no uid (local jobs), or of everyone (``all_uids``)."""
        db = self._db()
        if all_uids:
            rows = db.execute("SELECT * FROM jobs ORDER BY seq DESC LIMIT ?", (limit,))
        elif uid is None:
            rows = db.execute("SELECT * FROM jobs WHERE uid IS NULL ORDER BY seq DESC LIMIT ?", (limit,))
        else:
            rows = db.execute("SELECT * FROM jobs WHERE uid=? ORDER BY seq DESC LIMIT ?", (uid, limit))
        return [self._job(r) for r in rows.fetchall()]

    def losses(self, job_id: str) -> list[tuple[int, float | None, float | None]]:
        return [tuple(r) for r in self._db().execute(
            "SELECT iteration, loss_a, loss_b FROM losses WHERE job=? ORDER BY iteration", (job_id,))]

    def last_change(self) -> float:
        """When any job last changed (the dashboard's live view polls this cheaply; a job ahead starting moves
        the queue position of the others, so one stamp over all jobs is what tells a view to look again)."""
        row = self._db().execute("SELECT MAX(updated) FROM jobs").fetchone()
        return row[0] or 0.0

    def finished_before(self, before: float) -> list[dict]:
        """Jobs that ended before ``before`` and still have results (for the retention sweep)."""
        rows = self._db().execute("SELECT * FROM jobs WHERE state IN ('done', 'failed', 'cancelled') AND "
                                  "finished < ? AND result IS NOT NULL", (before,)).fetchall()
        return [self._job(r) for r in rows]

    def drop_result(self, job_id: str, note: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE jobs SET result=NULL, error=COALESCE(error, ?), updated=? WHERE id=?",
                       (note, time.time(), job_id))

    def _job(self, row: sqlite3.Row) -> dict:
        job = dict(row)
        job["payload"] = json.loads(job["payload"])
        job["progress"] = json.loads(job["progress"] or "{}")
        job["result"] = json.loads(job["result"]) if job["result"] else None
        job["cancel"] = bool(job["cancel"])
        job["position"] = None
        if job["state"] == "queued":
            job["position"] = 1 + self._db().execute(
                "SELECT COUNT(*) FROM jobs WHERE state='queued' AND seq < ?", (job["seq"],)).fetchone()[0]
        return job
