#!/usr/bin/env python3
"""Fills a running local API with a few dozen realistic companies: valid CNPJs (some in the
2026 alphanumeric form), Brazilian phones and addresses, accounts at real banks of the registry.
Each company is posted with its own Idempotency-Key, so running it twice adds nothing.

    scripts/seed.py [BASE_URL]        default http://127.0.0.1:${PORT:-3000}
    scripts/seed.py --wait BASE_URL   first waits (up to 60 s) for the API to answer
"""
import json
import os
import random
import sys
import time
import urllib.error
import urllib.request

NAMES = [
    "Padaria São João Ltda", "Açougue Bom Preço", "Transportes São José", "Farmácia Paulista",
    "Mercadinho Boa Esperança", "Oficina Mecânica Irmãos Souza", "Clínica Odontológica Sorriso",
    "Construtora Horizonte", "Papelaria Estrela do Norte", "Restaurante Sabor Mineiro",
    "Auto Peças Central", "Escola Infantil Pequeno Príncipe", "Distribuidora de Bebidas Gaúcha",
    "Hotel Pousada do Sol", "Laboratório Vida & Saúde", "Imobiliária Atlântico",
    "Confecções Maré Alta", "Tecnologia Cerrado Sistemas", "Pet Shop Amigo Fiel",
    "Sorveteria Polar", "Floricultura Jardim Secreto", "Ótica Visão Clara",
    "Academia Corpo em Movimento", "Livraria Saraiva do Bairro", "Marcenaria São Benedito",
    "Café Colonial Serra Gaúcha", "Agropecuária Vale Verde", "Gráfica Rápida Impressão",
    "Contabilidade Exata Associados", "Lavanderia Branca Neve", "Churrascaria Fogo de Chão Mineiro",
    "Eletrônica Curto Circuito", "Vidraçaria Cristal", "Doceria Brigadeiro & Cia",
    "Transportadora Rota Sul", "Cooperativa Agrícola Paraná",
]
PLACES = [  # (city, UF, CEP prefix, area code, street)
    ("São Paulo", "SP", "01310", "11", "Avenida Paulista"),
    ("Rio de Janeiro", "RJ", "20040", "21", "Rua da Assembleia"),
    ("Belo Horizonte", "MG", "30130", "31", "Avenida Afonso Pena"),
    ("Porto Alegre", "RS", "90010", "51", "Rua dos Andradas"),
    ("Recife", "PE", "50050", "81", "Rua da Aurora"),
    ("Salvador", "BA", "40020", "71", "Avenida Sete de Setembro"),
    ("Curitiba", "PR", "80010", "41", "Rua XV de Novembro"),
    ("Fortaleza", "CE", "60060", "85", "Avenida Dom Manuel"),
    ("Goiânia", "GO", "74015", "62", "Avenida Goiás"),
    ("Manaus", "AM", "69005", "92", "Avenida Eduardo Ribeiro"),
    ("Belém", "PA", "66010", "91", "Avenida Presidente Vargas"),
    ("Florianópolis", "SC", "88010", "48", "Rua Felipe Schmidt"),
]
BANKS = ["001", "033", "104", "237", "341", "260", "336", "077", "212", "756", "748", "422"]
DISTRICTS = ["Centro", "Boa Vista", "Jardim América", "Vila Nova", "Santa Cecília", None]


def check_digit(chars, weights):
    total = sum((ord(c) - 48) * w for c, w in zip(chars, weights))
    rest = total % 11
    return "0" if rest < 2 else str(11 - rest)


def cnpj(rng, alphanumeric):
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" if alphanumeric else "0123456789"
    body = "".join(rng.choice(alphabet) for _ in range(8)) + "0001"
    first = check_digit(body, [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    second = check_digit(body + first, [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    full = body + first + second
    return f"{full[:2]}.{full[2:5]}.{full[5:8]}/{full[8:12]}-{full[12:]}"


def company(rng, i, name):
    city, uf, cep, ddd, street = PLACES[i % len(PLACES)]
    doc = {
        "company_name": name,
        "phone": f"({ddd}) 9{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
        "declared_billing": f"{rng.randint(5_000, 2_500_000)}.{rng.randint(0, 99):02d}",
        "address": {
            "street": street, "number": str(rng.randint(1, 3000)), "city": city, "state": uf,
            "postal_code": f"{cep}-{rng.randint(0, 999):03d}",
        },
        "bank_accounts": [
            {"bank_code": code, "agency": f"{rng.randint(1, 9999):04d}",
             "account_number": f"{rng.randint(10000, 99999999)}-{rng.randint(0, 9)}"}
            for code in rng.sample(BANKS, rng.randint(0, 3))
        ],
    }
    district = rng.choice(DISTRICTS)
    if district:
        doc["address"]["district"] = district
    if i % 6 != 5:  # most companies have a CNPJ; every fourth of those the 2026 form
        doc["tax_id"] = cnpj(rng, alphanumeric=i % 4 == 3)
    return doc


def post(base, body, key):
    req = urllib.request.Request(
        f"{base}/companies", data=json.dumps(body).encode(), method="POST",
        headers={"content-type": "application/json", "idempotency-key": key})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("idempotent-replayed") == "true"
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_for(base):
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{base}/banks/001", timeout=2)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    sys.exit(f"seed: no API answered at {base}")


def main():
    args = sys.argv[1:]
    wait = "--wait" in args
    args = [a for a in args if a != "--wait"]
    base = (args[0] if args else f"http://127.0.0.1:{os.environ.get('PORT', '3000')}").rstrip("/")
    if wait:
        wait_for(base)
    rng = random.Random(20261126)
    created = replayed = 0
    for i, name in enumerate(NAMES):
        status, detail = post(base, company(rng, i, name), f"seed-{i}")
        if status != 201:
            sys.exit(f"seed: {name}: {status} {detail}")
        replayed += detail is True
        created += detail is not True
    print(f"seed: {created} companies created, {replayed} already there, at {base}")


if __name__ == "__main__":
    main()
