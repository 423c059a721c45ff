"""The citizen satisfaction survey (SKM) and its index (IKM): the app.

Pure logic, no I/O:

- `instrument`: the PermenPAN-RB 14/2017 questionnaire and a site's versions of it;
- `response`: a visitor's answers, parsed with stable error codes (`errors`);
- `index`: NRR, IKM, converted IKM and grade, in exact fractions;
- `sample`: the respondents a period needs (Krejcie & Morgan);
- `aggregate`: the index per group, with small groups hidden.

Its HTTP routes: `routes` (answers, results, exports), `routes_plan` (the
follow-up plan), `routes_walkup` (QR per service), `routes_tablet` (the counter
tablet).

See docs/survey.md.
"""
