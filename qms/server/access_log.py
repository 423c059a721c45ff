"""uvicorn's access log line, written without the `logging` machinery per request.

uvicorn logs each response through ``logging.getLogger("uvicorn.access").info``:
a `LogRecord`, the logger's filters (`process.RedactTokens`), the handler's lock,
and uvicorn's `AccessFormatter`, which copies the record twice: a visible share of
an officer's press in the single process of the embedded default (measured in
bench/results/2026-12-06-performance-history.md).

`fast_access_logger` looks once per connection at how the logger is set up. In
uvicorn's own configuration (one `StreamHandler`, uvicorn's `AccessFormatter`
with its default format and without colours, no other filter than
`RedactTokens`, no propagation) it returns an `AccessLine`, which writes the
very same line (the same redaction of visitors' refs and tokens) straight to
the handler's stream, under the handler's lock. In any other set-up (a
``--log-config``, colours on a terminal, another handler or filter) it returns
the logger itself, and nothing changes.
"""

from __future__ import annotations

import http
import logging
from typing import Any

from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter

from qms.server.process import RedactTokens, redact

_UVICORN_FMT = LOGGING_CONFIG["formatters"]["access"]["fmt"]
_PREFIX = "INFO:" + " " * (8 - len("INFO"))  # ColourizedFormatter's levelprefix, no colours


def _status(code: int) -> str:
    try:
        return f"{code} {http.HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} "


_STATUS = {code: _status(code) for code in http.HTTPStatus}


class AccessLine:
    """Writes ``INFO:     <client> - "<method> <path> HTTP/<v>" <status> <phrase>``
    as uvicorn's `AccessFormatter` would, for the one `info` call uvicorn makes."""

    def __init__(self, logger: logging.Logger, handler: logging.StreamHandler[Any]) -> None:
        self.logger = logger
        self.handler = handler
        self.redacts = any(isinstance(f, RedactTokens) for f in logger.filters)

    def info(self, msg: str, *args: Any) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        try:
            client, method, path, version, code = args
            if self.redacts:  # as RedactTokens does: each string argument
                client, method, path, version = (
                    redact(client),
                    redact(method),
                    redact(path),
                    redact(version),
                )
            status = _STATUS.get(code) or _status(int(code))
            line = f'{_PREFIX} {client} - "{method} {path} HTTP/{version}" {status}\n'
        except Exception:  # not the call we know: the logger's own way
            self.logger.info(msg, *args)
            return
        handler = self.handler
        handler.acquire()
        try:
            handler.stream.write(line)
            handler.flush()
        except Exception:  # as StreamHandler.emit: the logging module's error report
            handler.handleError(
                self.logger.makeRecord(self.logger.name, logging.INFO, "", 0, msg, args, None)
            )
        finally:
            handler.release()


def fast_access_logger(logger: logging.Logger) -> AccessLine | logging.Logger:
    """An `AccessLine` for `logger` when it is set up as uvicorn sets it up, else `logger`."""
    handlers = logger.handlers
    if logger.propagate or logger.disabled or len(handlers) != 1:
        return logger
    handler = handlers[0]
    if type(handler) is not logging.StreamHandler:
        return logger
    formatter = handler.formatter
    plain = (
        handler.terminator == "\n"
        and not handler.filters
        and handler.level <= logging.INFO
        and type(formatter) is AccessFormatter
        and not formatter.use_colors
        and formatter._fmt == _UVICORN_FMT
        and all(type(f) is RedactTokens for f in logger.filters)
    )
    return AccessLine(logger, handler) if plain else logger
