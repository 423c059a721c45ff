"""The access log line written without the logging machinery (qms.server.access_log)
is the line uvicorn's logger writes, redaction included."""

from __future__ import annotations

import io
import logging

import pytest
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter

from qms.server.access_log import AccessLine, fast_access_logger
from qms.server.process import RedactTokens

FMT = LOGGING_CONFIG["formatters"]["access"]["fmt"]
CALLS = [
    ("127.0.0.1:50123", "POST", "/api/v1/sites/s/counters/L1/call-next", "1.1", 200),
    ("10.0.0.7:1", "GET", "/t/hall.s3cr3tref", "1.1", 200),
    ("", "GET", "/api/v1/tickets/hall.s3cr3tref?x=1", "1.0", 404),
    ("[::1]:8", "GET", "/display?tok%65n=abc&zone=A&Token=def", "1.1", 101),
    ("1.2.3.4:5", "HEAD", "/healthz", "1.1", 599),  # a status without a phrase
    ("1.2.3.4:5", "DELETE", "/api/v1/session", "1.1", 401),
]


def _logger(name: str, *, colours: bool = False, redact: bool = True) -> io.StringIO:
    logger = logging.getLogger(name)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(AccessFormatter(fmt=FMT, use_colors=colours))
    logger.handlers, logger.filters = [handler], []
    logger.propagate = False
    logger.setLevel(logging.INFO)
    if redact:
        logger.addFilter(RedactTokens())
    return stream


@pytest.mark.parametrize("redact", [True, False])
def test_the_line_is_uvicorns(redact: bool) -> None:
    slow, fast = _logger("qms.test.slow", redact=redact), _logger("qms.test.fast", redact=redact)
    line = fast_access_logger(logging.getLogger("qms.test.fast"))
    assert isinstance(line, AccessLine)
    for args in CALLS:
        logging.getLogger("qms.test.slow").info('%s - "%s %s HTTP/%s" %d', *args)
        line.info('%s - "%s %s HTTP/%s" %d', *args)
    assert fast.getvalue() == slow.getvalue()
    assert ("s3cr3tref" in fast.getvalue()) is not redact
    assert fast.getvalue().splitlines()[0] == (
        'INFO:     127.0.0.1:50123 - "POST /api/v1/sites/s/counters/L1/call-next HTTP/1.1" 200 OK'
    )


def test_a_level_above_info_writes_nothing() -> None:
    stream = _logger("qms.test.quiet")
    line = fast_access_logger(logging.getLogger("qms.test.quiet"))
    logging.getLogger("qms.test.quiet").setLevel(logging.WARNING)
    line.info('%s - "%s %s HTTP/%s" %d', *CALLS[0])
    assert stream.getvalue() == ""


def test_any_other_set_up_keeps_the_logger() -> None:
    _logger("qms.test.colours", colours=True)
    coloured = logging.getLogger("qms.test.colours")
    assert fast_access_logger(coloured) is coloured
    _logger("qms.test.two")
    two = logging.getLogger("qms.test.two")
    two.addHandler(logging.StreamHandler(io.StringIO()))
    assert fast_access_logger(two) is two
    _logger("qms.test.filtered")
    filtered = logging.getLogger("qms.test.filtered")
    filtered.addFilter(logging.Filter("x"))
    assert fast_access_logger(filtered) is filtered
