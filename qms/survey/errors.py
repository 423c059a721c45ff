"""A survey answer, instrument or query refused: `SurveyError` with a stable code.

The codes are part of the public contract (the HTTP API passes them through
as `{"error": {"code", "message", "details"}}`); each maps to the HTTP status
that fits it best. Nothing is recorded when one of them is raised.
"""

from __future__ import annotations

from qms.eventsourcing.rejection import Rejection

CODES: dict[str, int] = {
    # the answer itself (qms.survey.response)
    "invalid_response": 422,  # not an object, an unknown field, or a field of the wrong type
    "missing_answer": 422,  # one of the nine elements (or a required question) unanswered
    "invalid_answer": 422,  # a score outside 1-4, or not a whole number
    "unknown_question": 422,  # an answer to a question the instrument does not have
    "invalid_profile": 422,  # a profile value not among the field's options
    "text_too_long": 422,  # the suggestion (saran) longer than allowed
    "invalid_text": 422,  # a control or bidi character in the suggestion
    "instrument_mismatch": 409,  # answered on an instrument version no longer in force
    # the instrument a site configures (qms.survey.instrument)
    "invalid_instrument": 422,
    # the follow-up plan an admin writes (qms.survey.plan)
    "invalid_plan": 422,  # no period label, no element, an empty text, or an unknown field
    # the walk-up survey of a service, without a ticket (qms.core.survey)
    "survey_unknown_service": 404,  # no such service at this site
    # the visit the answer belongs to (qms.survey.ledger and the server)
    "survey_off": 409,  # the site has switched the survey off
    "survey_not_open": 409,  # the ticket is not (yet) completed: nothing to rate
    "survey_expired": 410,  # the ticket was completed more than the stated days ago
    "survey_already_answered": 409,  # one response per served visit; never replaced
    "survey_unknown_ticket": 404,  # no such ticket at this site (or a wrong token)
    # a counter tablet's survey: the counter served someone else since, or its minutes passed
    "survey_closed": 409,
    # the figures (qms.survey.aggregate)
    "invalid_cut": 422,  # a cut the survey figures do not know
    "invalid_period": 422,  # unreadable days, last before first, or longer than allowed
    "invalid_group_size": 422,  # a minimum group size below the floor
}


class SurveyError(Rejection, ValueError):
    """An answer, instrument, plan or cut of the survey refused; nothing was changed."""

    CODES = CODES
