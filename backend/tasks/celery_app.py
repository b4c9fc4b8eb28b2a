"""Celery on Redis: the jobs as tasks, and beat's schedule of them.

    celery -A backend.tasks.celery_app worker --beat --loglevel INFO    # one process doing both
    celery -A backend.tasks.celery_app worker                           # more workers
    celery -A backend.tasks.celery_app beat                             # exactly one scheduler

Broker and result store are settings.redis_url. Overlapping index ticks are harmless: the indexer's
writer lock lets one write and the other return at once. Overlapping settlement ticks are too: the
contract settles each item once, and the keeper skips what is settled already.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, signals

from backend.config import TaskSettings, load_settings
from backend.tasks.context import TaskContext

log = logging.getLogger(__name__)


class CeleryNeedsRedis(RuntimeError):
    pass


def make_celery(settings: TaskSettings, context: TaskContext | None = None) -> Celery:
    if not settings.redis_url:
        raise CeleryNeedsRedis(
            "GPUHOURS_REDIS_URL is not set: Celery needs Redis. Without Redis, `gpuhours serve` runs the "
            "same tasks in-process"
        )
    ctx = context or TaskContext(settings)
    # shared=False: Celery would otherwise hand these tasks, bound to this context, to every app made
    # later in the process.
    app = Celery("gpuhours", broker=settings.redis_url, backend=settings.redis_url)
    queue = f"{settings.redis_namespace}.tasks"
    app.conf.update(
        task_default_queue=queue,
        result_expires=3600,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        timezone="UTC",
    )

    @app.task(name="gpuhours.index", shared=False)
    def index() -> dict:
        return ctx.index()

    @app.task(name="gpuhours.expire_orders", shared=False)
    def expire_orders() -> int:
        return ctx.expire_orders()

    @app.task(name="gpuhours.sla_watchdog", shared=False)
    def sla_watchdog() -> list[int]:
        return ctx.sla_watchdog()

    @app.task(name="gpuhours.price_index", shared=False)
    def price_index() -> int:
        return ctx.price_index()

    @app.task(name="gpuhours.settle", shared=False)
    def settle() -> dict:
        return ctx.settle()

    @app.task(name="gpuhours.lend_keep", shared=False)
    def lend_keep() -> dict:
        return ctx.lend_keep()

    # A tick that would run after the next one is due is dropped rather than queued up behind it.
    schedule = [
        ("index", settings.task_index_interval),
        ("expire_orders", settings.task_expire_interval),
        ("sla_watchdog", settings.task_watchdog_interval),
        ("price_index", settings.task_price_interval),
    ]
    if settings.keeper_enabled:
        schedule.append(("settle", settings.task_keeper_interval))
    if settings.lending_keeper_enabled:
        schedule.append(("lend_keep", settings.task_lending_keeper_interval))
    names = ", ".join(name for name, _ in schedule)

    # Each process says its role first: which of them runs the jobs, which one schedules them.
    @signals.worker_ready.connect(weak=False, dispatch_uid=f"gpuhours-worker-{queue}")
    def _worker_role(**_: Any) -> None:
        log.warning("role worker: runs %s from queue %s", names, queue)  # the URL may hold a password

    @signals.beat_init.connect(weak=False, dispatch_uid=f"gpuhours-beat-{queue}")
    def _beat_role(**_: Any) -> None:
        log.warning("role beat: schedules %s (run exactly one beat per deployment)", names)

    app.conf.beat_schedule = {
        name: {"task": f"gpuhours.{name}", "schedule": every, "options": {"expires": every}}
        for name, every in schedule
    }
    return app


def __getattr__(name: str) -> Celery:
    # `celery -A backend.tasks.celery_app` looks up `app`; build it only then, from the environment.
    if name == "app":
        return make_celery(load_settings(TaskSettings))
    raise AttributeError(name)
