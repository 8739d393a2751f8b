"""Configuration for ``rq cron app/jobs/cron.py``: registers every job of PERIODIC.
Run exactly one cron process, with TZ=Asia/Taipei."""
from rq import cron

from app.jobs import _resolve
from app.jobs.schedule import PERIODIC

for _p in PERIODIC:
    cron.register(_resolve(_p.func), _p.queue, cron=_p.cron, name=_p.id)
