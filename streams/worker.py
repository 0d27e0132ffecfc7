"""Running a Faust worker for a set of roles, used by ``worker`` and ``demo``."""

from __future__ import annotations

import gc
import logging

from streams.app import ROLES, create_app
from streams.settings import Settings
from streams.topics import ensure_topics

log = logging.getLogger(__name__)


def run_worker(settings: Settings, roles: tuple[str, ...] = ROLES) -> int:
    """Create the topics, build the app and run it until SIGINT/SIGTERM."""
    from faust.worker import Worker

    (settings.data_dir / "faust").mkdir(parents=True, exist_ok=True)
    ensure_topics(settings)
    handle = create_app(settings, roles)
    if settings.gc_threshold > 0:  # docs/performance.md "Round 9"
        gc.freeze()  # what startup built (modules, registry, zones) is never garbage
        gc.set_threshold(settings.gc_threshold, *gc.get_threshold()[1:])
    worker = Worker(handle.app, loglevel=settings.log_level.lower(), quiet=True,
                    redirect_stdouts=False, override_logging=False)
    log.info("worker starting", extra={"roles": list(roles), "bootstrap": settings.kafka_bootstrap,
                                       "web": f"{settings.web_scheme}://{settings.web_host}:"
                                              f"{settings.web_port}"
                                       if "web" in roles else None})
    worker.execute_from_commandline()
    return 0
