"""Schemathesis hooks for scripts/fuzz.sh.

openapi.yaml states every rule of the API; JSON Schema can express all but the cross-field ones
(a window that must not reach before 1970, `from` before `to`, an interval that must fit its range)
and the one across requests (an `Idempotency-Key` already used with another body), which the spec
states in prose. A schema-valid request that breaks one of them is refused with a
422 naming the field; this hook accepts exactly those refusals from the positive-data check, and
nothing else. A second hook keeps fuzzed live runs to a few hosts (see LIVE_MAX_HOSTS).
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
    ("calls_per_second", "a live run needs calls"),
    ("scenario.host", "must be between 1 and"),
    ("scenario.area_code", "is not an area code of the zone table"),
    # Call models (see CallModel in openapi.yaml).
    ("model.calls.status", "weights must not all be 0"),
    ("model.calls.call_type", "weights must not all be 0"),
    ("model.calls.hour_weights", "weights must not all be 0"),
    ("model.calls.weekday_weights", "weights must not all be 0"),
    ("model.calls.duration.max_seconds", "must be between"),
    ("model.calls.duration.median_seconds", "must be between"),
    ("model.calls.duration.sigma", "unknown field"),
    ("model.calls.duration.shape", "unknown field"),
    ("model.calls.hub_share", "needs hubs"),
    ("model.calls.time_zone", "is not an IANA time zone"),
    ("model.calls.time_zone", "not whole hours"),
    ("model", "expected a preset name or a JSON object"),
    # Texts (POST /generate/sms, its preview and export): a model without mobile phones, and a
    # count left out whose default (subscribers × days × the daily texts) passes MAX_COUNT.
    ("model", "a mobile network's records"),
    ("count", "more than the largest count"),
    # GET /cells: a box's ranges and order, an ECI's 28 bits, and a box holding more cells than an
    # answer does (what the database holds, not the request).
    ("bbox", "is outside ±"),
    ("bbox", "is east of east"),
    ("bbox", "is north of north"),
    ("bbox", "give a smaller bbox"),
    ("ecgi", "is above 268435455"),
    # GET /stats/cells: a range of more than 93 whole days, or one whose last day's end would be in
    # year 10000 (stated in the operation's description).
    ("to", "at most 93"),
    ("to", "the range must end by 9999-12-31T00:00:00Z"),
] + [
    (f"model.metrics.{c}.{field}", part)
    for c in ("cpu", "memory", "disk", "latency", "network")
    for field, part in (("base", "must not be above"), ("typical", "must be between"))
]

# Hosts a fuzzed live run may have: a run goes on writing every second until stopped, and one with
# thousands of hosts ticking every second would load the shared test server for the rest of the run.
LIVE_MAX_HOSTS = 3


@schemathesis.hook
def map_body(context, body):
    """Keeps fuzzed live runs small: a valid `hosts` of `POST /live` is lowered to at most
    LIVE_MAX_HOSTS (still valid, so no case changes class); every other body is left alone."""
    operation = getattr(context, "operation", None)
    if getattr(operation, "path", None) != "/live" or not isinstance(body, dict):
        return body
    hosts = body.get("hosts")
    if isinstance(hosts, int) and not isinstance(hosts, bool) and 1 <= hosts <= 10000:
        body["hosts"] = min(hosts, LIVE_MAX_HOSTS)
    return body


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
