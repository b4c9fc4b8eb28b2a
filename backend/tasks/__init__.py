"""Periodic work: index, expire orders, SLA watchdog, price index, settlement keeper. The jobs are
plain functions (jobs.py; the keeper in keeper.py); Celery runs them on Redis (celery_app.py), and
with no Redis the same jobs run in-process (inprocess.py)."""
