"""get-company and create-company in Python 3 + boto3: the peer the Rust functions are measured
against. Same table, same item shape, same API answers, same writes (a create writes the company,
its history entry and its name-index entries in one transaction, as the Rust function does);
written the way a Python team would write a Lambda: clients built at import (reused while the
instance is warm), exact Decimal money, validation before any write, conditional writes.

Run under the Lambda runtime interface client:  python -m awslambdaric handlers.get_company
"""

import csv
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
    BANKS = {row["compe"]: row["long_name"] for row in csv.DictReader(f)}

JSON = {"content-type": "application/json"}
ALLOWED = {"company_name", "phone", "tax_id", "address", "declared_billing", "bank_accounts"}


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
    company_id = (event.get("pathParameters") or {}).get("id", "")
    try:
        uuid.UUID(company_id)
    except ValueError:
        return _problem(404, "Not Found", "No company with that id.")
    item = TABLE.get_item(Key={"pk": f"COMPANY#{company_id}", "sk": "COMPANY"}, ConsistentRead=True).get("Item")
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


def create_company(event, context):
    if "application/json" not in (event.get("headers") or {}).get("content-type", ""):
        return _problem(415, "Unsupported Media Type", "Send the body as application/json.")
    try:
        doc = json.loads(event.get("body") or "", parse_float=Decimal)
    except ValueError:
        return _problem(400, "Malformed JSON", "The request body is not valid JSON.")
    if not isinstance(doc, dict):
        return _problem(400, "Bad Request", "The request body must be a JSON object.")
    errors, name, phone, billing, tax_id, accounts = _validate(doc)
    if errors:
        return _problem(400, "Invalid request", "One or more fields are invalid; see errors.", errors)
    company_id = str(uuid.uuid4())  # Python 3.11 has no uuid7; time order would need a library
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
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
    folded = "".join(c for c in unicodedata.normalize("NFD", name) if not unicodedata.combining(c)).lower()
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
    entry = {"version": 1, "at": now, "operation": "create", "actor": "anonymous",
             "request_id": "", "changes": _company_json(item)}
    words = _words(item["company_name"])
    name_key = ".".join(words)
    parts = [
        _put(dict(item, write_token=token)),
        _put({"pk": item["pk"], "sk": f"HISTORY#{1:020}", "entry": json.dumps(entry), "write_token": token,
              "expires_at": int(time.time()) + HISTORY_DAYS * 86400}),
    ]
    parts += [
        _put({"pk": f"NAME#{term}", "sk": f"{name_key} {company_id}", "name_key": name_key, "company_id": company_id},
             condition=False)
        for term in _index_terms(words)
    ]
    CLIENT.transact_write_items(TransactItems=parts)
