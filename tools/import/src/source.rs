//! Reading the Flask service's PostgreSQL database: one read-only, repeatable-read transaction
//! (a consistent snapshot while the import runs), streamed through server-side portals a batch
//! at a time, so memory does not grow with the source.

use anyhow::Context as _;
use tokio_postgres::{Client, Portal, Row, Transaction};

use crate::legacy::{LegacyAccount, LegacyCompany};

/// Rows fetched per round trip.
pub const ROWS_PER_FETCH: i32 = 1000;

/// The companies with their accounts, joined (see [`assemble`]).
macro_rules! companies_with_accounts {
    () => {
        "SELECT c.id, c.company_name, c.phone, c.created, c.declared_billing::text,
                a.id, a.agency, a.account_number, a.bank_code
         FROM client_company c
         LEFT JOIN company_bank_account a ON a.company_id = c.id"
    };
}

/// Every company with its accounts, by id (ordered by company, then account).
const COMPANIES_QUERY: &str = concat!(companies_with_accounts!(), " ORDER BY c.id, a.id");

/// The companies of some ids with their accounts, as [`COMPANIES_QUERY`] reads them.
const COMPANIES_BY_ID_QUERY: &str = concat!(
    companies_with_accounts!(),
    " WHERE c.id = ANY($1) ORDER BY c.id, a.id"
);

/// Accounts that belong to no company.
const ORPHAN_ACCOUNTS_QUERY: &str =
    "SELECT id FROM company_bank_account WHERE company_id IS NULL ORDER BY id";

/// Connects as a careful libpq client would (TLS as `sslmode` says, verified by default; the
/// password from `PGPASSWORD` or the password file, sent only as the server may have it):
/// see [`crate::pg`]. Without `url`, the source is libpq's variables (`PGHOST`, …).
pub async fn connect(url: Option<&str>) -> anyhow::Result<Client> {
    crate::pg::ConnectionSettings::new(url, &crate::pg::ProcessEnv)?
        .connect()
        .await
}

/// A consistent, read-only view of the source.
pub async fn snapshot(client: &mut Client) -> anyhow::Result<Transaction<'_>> {
    client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .context("cannot start a read-only transaction")
}

/// How many companies and accounts the source holds.
pub async fn counts(tx: &Transaction<'_>) -> anyhow::Result<(u64, u64)> {
    let row = tx
        .query_one(
            "SELECT (SELECT count(*) FROM client_company), (SELECT count(*) FROM company_bank_account)",
            &[],
        )
        .await
        .context("cannot count the source rows")?;
    let count = |i: usize| u64::try_from(row.get::<_, i64>(i)).unwrap_or(0);
    Ok((count(0), count(1)))
}

/// Streams the companies, each with its accounts, a batch at a time.
pub struct CompanyRows<'a> {
    tx: &'a Transaction<'a>,
    portal: Portal,
    /// The company being assembled (its accounts may continue in the next batch).
    pending: Option<LegacyCompany>,
    done: bool,
}

impl<'a> CompanyRows<'a> {
    pub async fn open(tx: &'a Transaction<'a>) -> anyhow::Result<Self> {
        let portal = tx
            .bind(COMPANIES_QUERY, &[])
            .await
            .context("cannot read client_company")?;
        Ok(CompanyRows {
            tx,
            portal,
            pending: None,
            done: false,
        })
    }

    /// The next complete companies (empty at the end).
    pub async fn next_batch(&mut self) -> anyhow::Result<Vec<LegacyCompany>> {
        let mut out = Vec::new();
        while out.is_empty() && !self.done {
            let rows = self
                .tx
                .query_portal(&self.portal, ROWS_PER_FETCH)
                .await
                .context("cannot read client_company")?;
            if rows.is_empty() {
                self.done = true;
                out.extend(self.pending.take());
                break;
            }
            assemble(&rows, &mut self.pending, &mut out);
        }
        Ok(out)
    }
}

/// Adds the joined `rows` (ordered by company, then account) to the company being assembled
/// (`pending`), moving each company to `out` once a row of the next one comes.
fn assemble(rows: &[Row], pending: &mut Option<LegacyCompany>, out: &mut Vec<LegacyCompany>) {
    for row in rows {
        let id: i32 = row.get(0);
        if pending.as_ref().is_some_and(|c| c.id != id) {
            out.extend(pending.take());
        }
        let company = pending.get_or_insert_with(|| LegacyCompany {
            id,
            company_name: row.get(1),
            phone: row.get(2),
            created: row.get(3),
            declared_billing: row.get(4),
            accounts: Vec::new(),
        });
        if let Some(account_id) = row.get::<_, Option<i32>>(5) {
            company.accounts.push(LegacyAccount {
                id: account_id,
                agency: row.get(6),
                account_number: row.get(7),
                bank_code: row.get(8),
            });
        }
    }
}

/// Streams the ids of accounts that belong to no company, a batch at a time.
pub struct OrphanAccountIds<'a> {
    tx: &'a Transaction<'a>,
    portal: Portal,
}

impl<'a> OrphanAccountIds<'a> {
    pub async fn open(tx: &'a Transaction<'a>) -> anyhow::Result<Self> {
        let portal = tx
            .bind(ORPHAN_ACCOUNTS_QUERY, &[])
            .await
            .context("cannot read company_bank_account")?;
        Ok(OrphanAccountIds { tx, portal })
    }

    /// The next ids (empty at the end).
    pub async fn next_batch(&mut self) -> anyhow::Result<Vec<i32>> {
        let rows = self
            .tx
            .query_portal(&self.portal, ROWS_PER_FETCH)
            .await
            .context("cannot read company_bank_account")?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}

/// The company rows of `ids` the source holds, each with its accounts, by id.
pub async fn companies_by_id(
    tx: &Transaction<'_>,
    ids: &[i32],
) -> anyhow::Result<Vec<LegacyCompany>> {
    let rows = tx
        .query(COMPANIES_BY_ID_QUERY, &[&ids])
        .await
        .context("cannot read client_company")?;
    let (mut pending, mut out) = (None, Vec::new());
    assemble(&rows, &mut pending, &mut out);
    out.extend(pending);
    Ok(out)
}
