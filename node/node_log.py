"""The node log (`nodes/nodeN/node.log`): structured, one JSON object per line, one line per event.

Lines carry what the host knows: event names, sizes, seqnos, node ids, and the enclave's `Log` texts
(which the enclave promises hold no secrets). Never payload bytes: the host could not tell a private one.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

EVENT_LOGGER = "sealchain.node"


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_node_log(path: Path, level: int = logging.INFO) -> None:
    """Sends every logger of the process to `path` (appending: a restarted node continues its log)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.Formatter.converter = time.gmtime


def log_event(level: int, event: str, **fields: object) -> None:
    logging.getLogger(EVENT_LOGGER).log(level, event, extra={"fields": fields})
