"""Schemathesis hooks of scripts/test.d/32-schemathesis.sh (SCHEMATHESIS_HOOKS=schemathesis_hooks).

A new request gets a new Idempotency-Key: the API answers 422 when a key is
sent again with a different request (draft-ietf-httpapi-idempotency-key-header,
section 2.7), which is a rule about the sequence of requests that no schema
can state. The generators reuse one well-formed key for every case of a phase,
so each call that sends a well-formed key gets a fresh one; a malformed key (a
negative case of the header itself) is sent as generated, to keep testing the
server's check of it.
"""

import re
import secrets

import schemathesis

# The header's schema in the OpenAPI document: printable ASCII, 1-255
# characters, no leading or trailing space, no '"' or '\'.
_WELL_FORMED = re.compile(r'^[!#-\[\]-~]([ !#-\[\]-~]*[!#-\[\]-~])?$')


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers or {}
    for name, value in list(headers.items()):
        if name.lower() == "idempotency-key" and isinstance(value, str) and len(value) <= 255 and _WELL_FORMED.match(value):
            headers[name] = "st-" + secrets.token_hex(16)
