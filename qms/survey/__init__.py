"""The citizen satisfaction survey (SKM) and its index (IKM): pure logic, no I/O.

- `instrument`: the PermenPAN-RB 14/2017 questionnaire and a site's versions of it;
- `response`: a visitor's answers, parsed with stable error codes (`errors`);
- `index`: NRR, IKM, converted IKM and grade, in exact fractions;
- `sample`: the respondents a period needs (Krejcie & Morgan);
- `aggregate`: the index per group, with small groups hidden.

See docs/survey.md.
"""
