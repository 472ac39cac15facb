"""The functions in Python 3 + boto3: the peer each Rust function is measured against. Same
table, same item shape, same requests to DynamoDB (a create writes the company, its history entry
and its name-index entries in one transaction; an update or a delete reads the company, then
writes it at the version read with its history entry, and moves or removes its name index in the
same transaction; an account write reads the company and writes it back with its history entry),
as the Rust functions do; written the way a Python team would write a Lambda: clients built at
import (reused while the instance is warm), exact Decimal money, validation before any write,
conditional writes. Not a second implementation of the API: fewer checks (no idempotency keys,
no If-Match, no address validation, no CNPJ markers: a PATCH applies the name, phone and billing,
which is what the benchmark's events change) and answers of the same shape, not byte for byte.

Run under the Lambda runtime interface client:  python -m awslambdaric handlers.get_company
"""

import base64
import csv
import hashlib
import hmac
import json
import os
import re
import time
import unicodedata
import uuid
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

import boto3

TABLE = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
CLIENT = TABLE.meta.client  # the resource's client: it converts Python values to DynamoDB's types
HISTORY_DAYS = 5 * 365
MAX_PREFIX_CHARS = 10

_HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(_HERE, "..", "..", "shared", "data", "banks.csv"), encoding="utf-8") as f:
    REGISTRY = {row["compe"]: row for row in csv.DictReader(f)}
BANKS = {code: row["long_name"] for code, row in REGISTRY.items()}
CURSOR_SECRET = os.environ.get("CURSOR_SECRET", "").encode()

JSON = {"content-type": "application/json"}
ALLOWED = {"company_name", "phone", "tax_id", "address", "declared_billing", "bank_accounts"}


def _now():
    """UTC, RFC 3339 to the millisecond, as the Rust functions write it."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _problem(status, title, detail, errors=None):
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    return {"statusCode": status, "headers": {"content-type": "application/problem+json"}, "body": json.dumps(body)}


def _company_json(item):
    return {
        "id": item["id"],
        "company_name": item["company_name"],
        "phone": item["phone"],
        "tax_id": item.get("tax_id"),
        "address": item.get("address"),
        "declared_billing": f"{Decimal(item['declared_billing']):.2f}",
        "bank_accounts": [
            {
                "id": a["id"],
                "agency": a["agency"],
                "account_number": a["account_number"],
                "bank": {"code": a["bank_code"], "name": BANKS.get(a["bank_code"], "")},
            }
            for a in item.get("bank_accounts", [])
        ],
        "created": item["created"],
        "updated": item["updated"],
        "version": int(item["version"]),
    }


def get_company(event, context):
    item = _existing(event)
    if item is None:
        return _problem(404, "Not Found", "No company with that id.")
    headers = dict(JSON, etag=f'"{int(item["version"])}"')
    return {"statusCode": 200, "headers": headers, "body": json.dumps(_company_json(item))}


def _cnpj(value):
    chars = re.sub(r"[./ -]", "", value).upper()
    if not re.fullmatch(r"[0-9A-Z]{12}[0-9]{2}", chars) or len(set(chars)) == 1:
        return None
    values = [ord(c) - 48 for c in chars]

    def digit(n, weights):
        rest = sum(v * w for v, w in zip(values[:n], weights)) % 11
        return 0 if rest < 2 else 11 - rest

    first = digit(12, [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    second = digit(13, [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    return chars if values[12] == first and values[13] == second else None


def _phone(value):
    text = str(value).strip()
    digits = re.sub(r"[ ().-]", "", text.lstrip("+"))
    if not digits.isdigit():
        return None
    if text.startswith("+"):
        e164 = digits
    elif len(digits) in (10, 11):
        e164 = "55" + digits
    else:
        return None
    return "+" + e164 if 8 <= len(e164) <= 15 else None


def _money(value):
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or amount >= Decimal(10) ** 10 or amount != amount.quantize(Decimal("0.01")):
        return None
    return amount.quantize(Decimal("0.01"))


def _validate(doc):
    errors = [{"field": k, "message": "is not a writable field"} for k in doc if k not in ALLOWED]
    name = doc.get("company_name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 150:
        errors.append({"field": "company_name", "message": "must be 1 to 150 characters"})
    phone = _phone(doc.get("phone")) if isinstance(doc.get("phone"), (str, int)) else None
    if phone is None:
        errors.append({"field": "phone", "message": "must be a valid phone number"})
    billing = _money(doc.get("declared_billing"))
    if billing is None:
        errors.append({"field": "declared_billing", "message": "must be an amount with at most 2 decimals"})
    tax_id = None
    if doc.get("tax_id") is not None:
        tax_id = _cnpj(doc["tax_id"]) if isinstance(doc["tax_id"], str) else None
        if tax_id is None:
            errors.append({"field": "tax_id", "message": "must be a valid CNPJ"})
    accounts = doc.get("bank_accounts") or []
    if not isinstance(accounts, list) or len(accounts) > 20:
        errors.append({"field": "bank_accounts", "message": "must be a list of at most 20 accounts"})
        accounts = []
    clean_accounts = []
    for i, a in enumerate(accounts):
        ok = (
            isinstance(a, dict)
            and set(a) == {"bank_code", "agency", "account_number"}
            and a["bank_code"] in BANKS
            and isinstance(a["agency"], str) and re.fullmatch(r"[0-9]{1,5}(-[0-9Xx])?", a["agency"])
            and isinstance(a["account_number"], str) and re.fullmatch(r"[0-9]{1,20}(-[0-9Xx])?", a["account_number"])
        )
        if not ok:
            errors.append({"field": f"bank_accounts[{i}]", "message": "is not a valid bank account"})
        else:
            clean_accounts.append({"id": str(uuid.uuid4()), **{k: a[k].upper() for k in ("bank_code", "agency", "account_number")}})
    return errors, name, phone, billing, tax_id, clean_accounts


def _body(event, media_type):
    """The request's JSON object, or the problem to answer instead."""
    if media_type not in (event.get("headers") or {}).get("content-type", ""):
        return None, _problem(415, "Unsupported Media Type", f"Send the body as {media_type}.")
    try:
        doc = json.loads(event.get("body") or "", parse_float=Decimal)
    except ValueError:
        return None, _problem(400, "Malformed JSON", "The request body is not valid JSON.")
    if not isinstance(doc, dict):
        return None, _problem(400, "Bad Request", "The request body must be a JSON object.")
    return doc, None


def create_company(event, context):
    doc, problem = _body(event, "application/json")
    if problem:
        return problem
    errors, name, phone, billing, tax_id, accounts = _validate(doc)
    if errors:
        return _problem(400, "Invalid request", "One or more fields are invalid; see errors.", errors)
    company_id = str(uuid.uuid4())  # Python 3.11 has no uuid7; time order would need a library
    now = _now()
    item = {
        "pk": f"COMPANY#{company_id}", "sk": "COMPANY", "gsi1pk": "COMPANY", "gsi1sk": company_id,
        "id": company_id, "company_name": name.strip(), "phone": phone, "declared_billing": billing,
        "bank_accounts": accounts, "created": now, "updated": now, "version": 1,
    }
    if tax_id:
        item["tax_id"] = tax_id
    if doc.get("address"):
        item["address"] = doc["address"]  # the peer keeps address validation out of scope
    _create(item, now)
    headers = dict(JSON, location=f"/companies/{company_id}", etag='"1"')
    return {"statusCode": 201, "headers": headers, "body": json.dumps(_company_json(item))}


def _words(name):
    folded = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).lower()
    return re.findall(r"[^\W_]+", folded)


def _index_terms(words):
    terms = {""}
    for word in words:
        terms.update(word[:n] for n in range(1, min(len(word), MAX_PREFIX_CHARS) + 1))
    return sorted(terms)


def _put(item, condition=True):
    put = {"TableName": TABLE.name, "Item": item}
    if condition:
        put["ConditionExpression"] = "attribute_not_exists(pk)"
    return {"Put": put}


def _create(item, now):
    """The company, its history entry and its name-index entries, in one transaction."""
    company_id, token = item["id"], str(uuid.uuid4())
    parts = [_put(dict(item, write_token=token)),
             _history(company_id, 1, now, "create", _company_json(item), token)]
    parts += _name_moves(company_id, None, item["company_name"])
    CLIENT.transact_write_items(TransactItems=parts)


def _name_entry_key(term, name_key, company_id):
    return {"pk": f"NAME#{term}", "sk": f"{name_key} {company_id}"}


def _history(company_id, version, now, operation, changes, token):
    entry = {"version": version, "at": now, "operation": operation, "actor": "anonymous",
             "request_id": "", "changes": changes}
    return _put({"pk": f"COMPANY#{company_id}", "sk": f"HISTORY#{version:020}", "entry": json.dumps(entry),
                 "write_token": token, "expires_at": int(time.time()) + HISTORY_DAYS * 86400})


def _existing(event):
    """The company the path names (strongly consistent read), or None."""
    company_id = (event.get("pathParameters") or {}).get("id", "")
    try:
        uuid.UUID(company_id)
    except ValueError:
        return None
    return TABLE.get_item(Key={"pk": f"COMPANY#{company_id}", "sk": "COMPANY"}, ConsistentRead=True).get("Item")


def _at_version(item):
    return {"ConditionExpression": "#v = :v", "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {":v": item["version"]}}


def _name_moves(company_id, old_name, new_name):
    """The name-index entries of a company going from `old_name` to `new_name` (None: created,
    or deleted); all of them move when the name does, since every entry's key holds it."""
    old, new = (None if n is None else _words(n) for n in (old_name, new_name))
    if old == new:
        return []
    parts = []
    if new is not None:
        key = ".".join(new)
        parts += [_put({**_name_entry_key(t, key, company_id), "name_key": key, "company_id": company_id},
                       condition=False) for t in _index_terms(new)]
    if old is not None:
        key = ".".join(old)
        parts += [{"Delete": {"TableName": TABLE.name, "Key": _name_entry_key(t, key, company_id)}}
                  for t in _index_terms(old)]
    return parts


def update_company(event, context):
    """PATCH (JSON merge patch): read, merge, validate the result, then one transaction: the
    company at the version read, its history entry, and its name index when the name changed
    (nothing when the patch changes nothing)."""
    patch, problem = _body(event, "application/merge-patch+json")
    if problem:
        return problem
    current = _existing(event)
    if current is None:
        return _problem(404, "Not Found", "No company with that id.")
    doc = {k: v for k, v in _company_json(current).items() if k in ALLOWED}
    doc["bank_accounts"] = [{"bank_code": a["bank"]["code"], "agency": a["agency"], "account_number": a["account_number"]}
                            for a in doc["bank_accounts"]]
    for k, v in patch.items():
        if v is None:
            doc.pop(k, None)
        else:
            doc[k] = v
    errors, name, phone, billing, tax_id, _ = _validate(doc)
    if errors:
        return _problem(400, "Invalid request", "One or more fields are invalid; see errors.", errors)
    now = _now()
    version = int(current["version"]) + 1
    item = dict(current, company_name=name.strip(), phone=phone, declared_billing=billing, updated=now,
                version=version)
    state = lambda c: {k: v for k, v in _company_json(c).items() if k not in ("updated", "version")}
    if state(item) == state(current):  # a patch that changes nothing writes nothing
        return {"statusCode": 200, "headers": dict(JSON, etag=f'"{int(current["version"])}"'),
                "body": json.dumps(_company_json(current))}
    token = str(uuid.uuid4())
    company = {"Put": {"TableName": TABLE.name, "Item": dict(item, write_token=token), **_at_version(current)}}
    changes = {k: v for k, v in _company_json(item).items() if k in patch}
    parts = [company, _history(item["id"], version, now, "update", changes, token)]
    parts += _name_moves(item["id"], current["company_name"], item["company_name"])
    CLIENT.transact_write_items(TransactItems=parts)
    headers = dict(JSON, etag=f'"{version}"')
    return {"statusCode": 200, "headers": headers, "body": json.dumps(_company_json(item))}


def delete_company(event, context):
    """DELETE: read, then one transaction: the company at the version read goes, with its name
    index, and its history records the delete."""
    current = _existing(event)
    if current is None:
        return _problem(404, "Not Found", "No company with that id.")
    now = _now()
    token = str(uuid.uuid4())
    company = {"Delete": {"TableName": TABLE.name, "Key": {"pk": current["pk"], "sk": "COMPANY"},
                          **_at_version(current)}}
    parts = [company, _history(current["id"], int(current["version"]) + 1, now, "delete", None, token)]
    parts += _name_moves(current["id"], current["company_name"], None)
    CLIENT.transact_write_items(TransactItems=parts)
    return {"statusCode": 204, "headers": {}, "body": ""}


def _query(event):
    return event.get("queryStringParameters") or {}


def _limit(event):
    try:
        limit = int(_query(event).get("limit", 20))
    except ValueError:
        return None
    return limit if 1 <= limit <= 100 else None


def _cursor(value):
    """A signed cursor (HMAC-SHA256 with the instance's secret), as the Rust functions sign theirs."""
    body = json.dumps(value).encode()
    mac = hmac.new(CURSOR_SECRET, body, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(body + mac).decode().rstrip("=")


def list_companies(event, context):
    """The default listing: newest first through the gsi1 index, one page and whether more follow."""
    limit = _limit(event)
    if limit is None:
        return _problem(400, "Invalid request", "limit must be 1 to 100.")
    out = TABLE.query(IndexName="gsi1", KeyConditionExpression="gsi1pk = :pk",
                      ExpressionAttributeValues={":pk": "COMPANY"}, ScanIndexForward=False, Limit=limit + 1)
    items = out.get("Items", [])
    page, more = items[:limit], len(items) > limit
    body = {"items": [_company_json(i) for i in page], "next_cursor": _cursor(page[-1]["id"]) if more else None}
    return {"statusCode": 200, "headers": JSON, "body": json.dumps(body)}


def get_company_history(event, context):
    """The company's versions, newest first (strongly consistent); 404 when it has none."""
    company_id = (event.get("pathParameters") or {}).get("id", "")
    limit = _limit(event)
    if limit is None:
        return _problem(400, "Invalid request", "limit must be 1 to 100.")
    out = TABLE.query(KeyConditionExpression="pk = :pk AND begins_with(sk, :h)",
                      ExpressionAttributeValues={":pk": f"COMPANY#{company_id}", ":h": "HISTORY#"},
                      ScanIndexForward=False, Limit=limit + 1, ConsistentRead=True)
    now = int(time.time())
    items = [i for i in out.get("Items", []) if int(i.get("expires_at", now + 1)) > now]
    if not items:
        return _problem(404, "Not Found", "No company with that id.")
    page, more = items[:limit], len(items) > limit
    entries = [json.loads(i["entry"]) for i in page]
    body = {"items": entries, "next_cursor": _cursor([company_id, entries[-1]["version"]]) if more else None}
    return {"statusCode": 200, "headers": JSON, "body": json.dumps(body)}


def get_banks(event, context):
    """One bank of the registry by its COMPE code (the registry is read at import)."""
    row = REGISTRY.get((event.get("pathParameters") or {}).get("code", ""))
    if row is None:
        return _problem(404, "Not Found", "No bank with that COMPE code.")
    body = {"code": row["compe"], "ispb": row["ispb"], "name": row["long_name"], "short_name": row["short_name"]}
    return {"statusCode": 200, "headers": JSON, "body": json.dumps(body)}


def _account_write(event, operation, change):
    """Reads the company, applies `change` to its accounts (it returns the status and body to
    answer, or a problem), then writes the company at the version read with its history entry."""
    current = _existing(event)
    if current is None:
        return _problem(404, "Not Found", "No company with that id.")
    accounts = [dict(a) for a in current.get("bank_accounts", [])]
    answer = change(accounts)
    if "statusCode" in answer:
        return answer
    now = _now()
    version = int(current["version"]) + 1
    item = dict(current, bank_accounts=accounts, updated=now, version=version)
    token = str(uuid.uuid4())
    company = {"Put": {"TableName": TABLE.name, "Item": dict(item, write_token=token), **_at_version(current)}}
    changes = {"bank_accounts": _company_json(item)["bank_accounts"]}
    CLIENT.transact_write_items(TransactItems=[company, _history(item["id"], version, now, operation, changes, token)])
    body = answer["body"]
    return {"statusCode": answer["status"], "headers": dict(JSON, etag=f'"{version}"'),
            "body": json.dumps(body) if body is not None else ""}


def _account_json(a):
    return {"id": a["id"], "agency": a["agency"], "account_number": a["account_number"],
            "bank": {"code": a["bank_code"], "name": BANKS.get(a["bank_code"], "")}}


def _account_errors(a):
    _, *_, clean = _validate({"company_name": "x", "phone": "+5511999999999", "declared_billing": "0",
                              "bank_accounts": [a]})
    return None if clean else [{"field": "bank_account", "message": "is not a valid bank account"}]


def add_bank_account(event, context):
    doc, problem = _body(event, "application/json")
    if problem:
        return problem
    errors = _account_errors(doc)
    if errors:
        return _problem(400, "Invalid request", "One or more fields are invalid; see errors.", errors)
    added = {"id": str(uuid.uuid4()), **{k: doc[k].upper() for k in ("bank_code", "agency", "account_number")}}

    def change(accounts):
        if len(accounts) >= 20:
            return _problem(409, "Conflict", "The company has 20 bank accounts already.")
        accounts.append(added)
        return {"status": 201, "body": _account_json(added)}
    return _account_write(event, "add_bank_account", change)


def update_bank_account(event, context):
    patch, problem = _body(event, "application/merge-patch+json")
    if problem:
        return problem
    account_id = (event.get("pathParameters") or {}).get("account_id", "")

    def change(accounts):
        found = next((a for a in accounts if a["id"] == account_id), None)
        if found is None:
            return _problem(404, "Not Found", "No bank account with that id.")
        merged = {k: found[k] for k in ("bank_code", "agency", "account_number")}
        merged.update({k: v for k, v in patch.items()})
        errors = _account_errors(merged)
        if errors:
            return _problem(400, "Invalid request", "One or more fields are invalid; see errors.", errors)
        found.update({k: str(merged[k]).upper() for k in ("bank_code", "agency", "account_number")})
        return {"status": 200, "body": _account_json(found)}
    return _account_write(event, "update_bank_account", change)


def delete_bank_account(event, context):
    account_id = (event.get("pathParameters") or {}).get("account_id", "")

    def change(accounts):
        kept = [a for a in accounts if a["id"] != account_id]
        if len(kept) == len(accounts):
            return _problem(404, "Not Found", "No bank account with that id.")
        accounts[:] = kept
        return {"status": 204, "body": None}
    return _account_write(event, "delete_bank_account", change)
