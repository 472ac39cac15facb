"""Runs inside scripts/postgres.sh and scripts/dynamodb-local.sh (DATABASE_URL and
AWS_ENDPOINT_URL_DYNAMODB set): see bench/scale.sh. Writes SCALE_OUT (markdown)."""

import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import time
import urllib.parse

SIZES = [int(n) for n in os.environ["SCALE_SIZES"].split()]
REPEAT = int(os.environ["SCALE_REPEAT"])
OUT = os.environ["SCALE_OUT"]
CLUSTER = os.environ["DATABASE_URL"]
IMPORTER = os.path.join(os.environ.get("SCALE_BIN", "target/release"), "companies-import")
API = os.path.join(os.environ.get("SCALE_BIN", "target/release"), "local-api")

# The Flask service's schema, as the importer's tests use it.
with open("tools/import/tests/fixtures/schema.sql") as f:
    SCHEMA = f.read() + """
INSERT INTO bank (code, name) VALUES ('001','BB'),('237','Bradesco'),('341','Itau'),('104','Caixa'),('260','Nu');
"""

# Names like a Brazilian registry's: a trade, a place or family name, a legal suffix and a
# number; "Padaria" is in one company in twelve (a common word), and "Jabuticabeira" in exactly
# five companies at every size (a rare word).
DATA = """
INSERT INTO client_company (company_name, phone, created, declared_billing)
SELECT CASE WHEN g % ({n} / 5) = 3 THEN 'Quitanda Jabuticabeira ' || g
       ELSE (ARRAY['Padaria','Mercado','Açougue','Farmácia','Oficina','Transportes','Comércio',
                   'Construtora','Restaurante','Auto Peças','Papelaria','Distribuidora'])[1 + g % 12]
            || ' ' ||
            (ARRAY['São João','Paulista','Central','Bom Preço','Santa Maria','Nova Esperança',
                   'Oliveira','Souza','Pereira','Ribeirão','Irmãos Costa','do Vale','Alvorada',
                   'Silva & Filhos','Boa Vista','Primavera','Aliança','Estrela'])[1 + (g / 12) % 18]
            || ' ' || (ARRAY['Ltda','ME','EIRELI','S.A.',''])[1 + (g / 216) % 5] || ' ' || g
       END,
       '119' || lpad((g % 100000000)::text, 8, '0'),
       timestamp '2012-01-01' + g * interval '7 minutes',
       (g * 13.37 % 10000000)::numeric(12,2)
FROM generate_series(1, {n}) g;
INSERT INTO company_bank_account (agency, account_number, bank_code, company_id)
SELECT lpad((c.id % 9999)::text, 4, '0'), (c.id * 10 + k)::text,
       (ARRAY['001','237','341','104','260'])[1 + (c.id + k) % 5], c.id
FROM client_company c, generate_series(1, 3) k WHERE k <= c.id % 4;
"""


def psql(url, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url], input=sql, text=True, check=True,
                   stdout=subprocess.DEVNULL)


def legacy_database(n):
    name = f"scale_{n}"
    psql(CLUSTER, f"DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name};")
    url = CLUSTER.rsplit("/", 1)[0] + "/" + name
    psql(url, SCHEMA + DATA.format(n=n))
    return url


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Api:
    def __init__(self, table):
        self.port = free_port()
        env = dict(os.environ, TABLE_NAME=table, PORT=str(self.port), LOG_LEVEL="warn")
        # Its stderr is kept, to say why if it does not come up.
        self.log = os.path.join("target", f"scale-api-{table}.log")
        started = time.monotonic()
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen([API], env=env, stdout=subprocess.DEVNULL, stderr=err)
        # Up to ~100 s: its start-up DescribeTable may take 3 attempts of 30 s on a large table.
        for _ in range(1000):
            if self.proc.poll() is not None:
                break
            try:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                self.get("/banks/001")
                # Start to first answer; it includes the start-up DescribeTable, which DynamoDB
                # Local answers by counting the table's items.
                self.ready_s = time.monotonic() - started
                return
            except OSError:
                time.sleep(0.1)
        self.proc.kill()
        with open(self.log, errors="replace") as f:
            tail = f.read()[-2000:]
        raise SystemExit(f"local API did not start on table {table}:\n{tail}")

    def get(self, path):
        self.conn.request("GET", path)
        r = self.conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise SystemExit(f"GET {path}: {r.status} {body[:200]}")
        return json.loads(body)

    def time(self, path):
        samples = []
        for _ in range(REPEAT):
            t = time.perf_counter()
            self.get(path)
            samples.append((time.perf_counter() - t) * 1000)
        samples.sort()
        return samples[len(samples) // 2], samples[min(len(samples) - 1, int(len(samples) * 0.99))]

    def last_page(self, query, limit):
        path = f"/companies?{query}&limit={limit}"
        while True:
            page = self.get(path)
            if page["next_cursor"] is None:
                return path, len(page["items"])
            path = f"/companies?{query}&limit={limit}&cursor={urllib.parse.quote(page['next_cursor'])}"

    def close(self):
        self.proc.terminate()
        self.proc.wait()


def main():
    imports, searches = [], {}
    for n in SIZES:
        table = f"scale-{n}"
        url = legacy_database(n)
        started = time.monotonic()
        proc = subprocess.Popen([IMPORTER, "--from", url, "--table", table, "--create-table", "--quiet",
                                 "--history-retention-days", "30",
                                 "--rejects", f"target/{table}-rejects.jsonl"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.monotonic() - started
        stdout, stderr = proc.stdout.read(), proc.stderr.read()
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"import of {n} failed: {stderr}")
        summary = json.loads(stdout)
        rows = summary["companies_read"] + summary["accounts_read"]
        imports.append((n, summary["companies_written"], summary["accounts_written"], elapsed,
                        summary["companies_written"] / elapsed, rows / elapsed, usage.ru_maxrss / 1024))
        print(f"bench: imported {n} companies in {elapsed:.1f} s, peak RSS {usage.ru_maxrss / 1024:.1f} MiB",
              flush=True)
        api = Api(table)
        try:
            rare = api.get("/companies?q=jabuticabeira")
            common = api.get("/companies?q=padaria")
            last_path, last_items = api.last_page("sort=name", 20)
            searches[n] = {
                "rare": (api.time("/companies?q=jabuticabeira"), len(rare["items"])),
                "common": (api.time("/companies?q=padaria"), len(common["items"])),
                "two words": (api.time("/companies?q=padaria+sao+jo"), len(api.get("/companies?q=padaria+sao+jo")["items"])),
                "sort first": (api.time("/companies?sort=name"), 20),
                "sort last": (api.time(last_path), last_items),
                "newest first": (api.time("/companies"), 20),
                "ready": api.ready_s,
            }
        finally:
            api.close()
    write(imports, searches)


def write(imports, searches):
    cores = os.cpu_count()
    lines = []
    w = lines.append
    w("## Import and search at scale")
    w("")
    w(f"`bench/scale.sh` (part of `make bench`) on this {cores}-core {platform.machine()} machine, DynamoDB "
      "Local 3.3.1 in memory and PostgreSQL from the machine, both local; release builds of "
      "`companies-import` and the local API (without fat LTO). The legacy database is generated "
      "(realistic names; 0-3 bank accounts per company).")
    w("")
    w("**Import** (`companies-import`, 16 writes at a time; every company is one transaction with "
      "its accounts, its name index entries, its history entry and its legacy marker):")
    w("")
    w("| companies | written (companies / accounts) | wall time (s) | companies/s | source rows/s | peak RSS (MiB) |")
    w("|---:|---:|---:|---:|---:|---:|")
    for n, c, a, t, cps, rps, rss in imports:
        w(f"| {n:,} | {c:,} / {a:,} | {t:.1f} | {cps:.0f} | {rps:.0f} | {rss:.1f} |")
    w("")
    w("Peak memory does not grow with the source: rows stream through a server-side portal, "
      "1,000 at a time, and at most 16 companies are in flight.")
    w("")
    w(f"**Search and `sort=name`** through the local API on each imported table (HTTP keep-alive, "
      f"{REPEAT} sequential requests each, milliseconds; the first page of 20 unless said):")
    w("")
    sizes = sorted(searches)
    w("| request | " + " | ".join(f"{n:,} companies p50 / p99" for n in sizes) + " | items |")
    w("|---|" + "---:|" * len(sizes) + "---|")
    labels = {
        "rare": "`q=jabuticabeira` (a rare word: 5 companies)",
        "common": "`q=padaria` (a common word: 1 in 12), first page",
        "two words": "`q=padaria sao jo` (two words filter the first)",
        "sort first": "`sort=name`, first page",
        "sort last": "`sort=name`, last page (cursor)",
        "newest first": "default listing (newest first), for reference",
    }
    for key, label in labels.items():
        cells = []
        for n in sizes:
            (p50, p99), _ = searches[n][key]
            cells.append(f"{p50:.2f} / {p99:.2f}")
        items = "/".join(str(searches[n][key][1]) for n in sizes)
        w(f"| {label} | " + " | ".join(cells) + f" | {items} |")
    w("")
    w("A request reads one index term's entries (Query, `limit + 1`) and the page's companies "
      "(one BatchGetItem): its time follows the page, not the table. The two-word search reads "
      "`padaria` entries until 21 also hold a word starting with `sao` and one with `jo`, at most "
      "1,000 per request: where the first 1,000 hold fewer, the page is shorter (possibly empty, with a "
      "`next_cursor` that continues the reading), so a request's cost stays bounded whatever the words.")
    w("")
    ready = ", ".join(f"{searches[n]['ready']:.2f} s on {n:,} companies" for n in sizes)
    w(f"The local API answered its first request {ready} after it was started (its start-up "
      "includes a `DescribeTable`, which DynamoDB Local answers by counting the table's items).")
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
