"""Schemathesis hooks for scripts/fuzz.sh.

openapi.yaml states every rule of the API; JSON Schema can express all but the cross-field ones
(a window that must not reach before 1970, `from` before `to`, an interval that must fit its range)
and the one across requests (an `Idempotency-Key` already used with another body), which the spec
states in prose. A schema-valid request that breaks one of them is refused with a
422 naming the field; this hook accepts exactly those refusals from the positive-data check, and
nothing else.
"""

import json

import schemathesis

# (field, part of the message) of every documented cross-field refusal.
CROSS_FIELD_RULES = [
    ("end", "would start before 1970-01-01"),
    ("step_seconds", "would reach before 1970-01-01"),
    ("end", "would reach before 1970-01-01"),
    ("from", "must be earlier than to"),
    ("to", "must be later than from"),
    ("interval", "this range is"),
    ("interval", "buckets; ask for a larger interval"),
    ("Idempotency-Key", "already used with another request"),
]


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if type(failure).__name__ != "RejectedPositiveData" or response.status_code != 422:
        return True
    try:
        error = json.loads(response.content)["error"]
    except (ValueError, KeyError, TypeError):
        return True
    field, message = error.get("field"), error.get("message", "")
    return not any(field == f and part in message for f, part in CROSS_FIELD_RULES)
