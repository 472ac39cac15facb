//! Reading the Flask service's PostgreSQL database: one read-only, repeatable-read transaction
//! (a consistent snapshot while the import runs), streamed through server-side portals a batch
//! at a time, so memory does not grow with the source.

use std::collections::HashSet;

use tokio_postgres::{Client, Portal, Transaction};

use crate::legacy::{LegacyAccount, LegacyCompany};

/// Rows fetched per round trip.
pub const FETCH: i32 = 1000;

/// Companies with their accounts, by id (the join is ordered by company, then account).
const COMPANIES: &str = "
    SELECT c.id, c.company_name, c.phone, c.created, c.declared_billing::text,
           a.id, a.agency, a.account_number, a.bank_code
    FROM client_company c
    LEFT JOIN company_bank_account a ON a.company_id = c.id
    ORDER BY c.id, a.id";

/// Accounts that belong to no company.
const ORPHANS: &str = "SELECT id FROM company_bank_account WHERE company_id IS NULL ORDER BY id";

/// Connects as libpq would (TLS as `sslmode` says, the password from the URL, `PGPASSWORD` or
/// the password file): see [`crate::pg`].
pub async fn connect(url: &str) -> Result<Client, String> {
    crate::pg::Settings::new(url, &crate::pg::ProcessEnv)?
        .connect()
        .await
}

/// A consistent, read-only view of the source.
pub async fn snapshot(client: &mut Client) -> Result<Transaction<'_>, String> {
    client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(|e| format!("cannot start a read-only transaction: {e}"))
}

/// How many companies and accounts the source holds.
pub async fn counts(tx: &Transaction<'_>) -> Result<(u64, u64), String> {
    let row = tx
        .query_one(
            "SELECT (SELECT count(*) FROM client_company), (SELECT count(*) FROM company_bank_account)",
            &[],
        )
        .await
        .map_err(|e| format!("cannot count the source rows: {e}"))?;
    let count = |i: usize| u64::try_from(row.get::<_, i64>(i)).unwrap_or(0);
    Ok((count(0), count(1)))
}

/// Streams the companies, each with its accounts, a batch at a time.
pub struct Companies<'a> {
    tx: &'a Transaction<'a>,
    portal: Portal,
    /// The company being assembled (its accounts may continue in the next batch).
    pending: Option<LegacyCompany>,
    done: bool,
}

impl<'a> Companies<'a> {
    pub async fn open(tx: &'a Transaction<'a>) -> Result<Self, String> {
        let portal = tx
            .bind(COMPANIES, &[])
            .await
            .map_err(|e| format!("cannot read client_company: {e}"))?;
        Ok(Companies {
            tx,
            portal,
            pending: None,
            done: false,
        })
    }

    /// The next complete companies (empty at the end).
    pub async fn next_batch(&mut self) -> Result<Vec<LegacyCompany>, String> {
        let mut out = Vec::new();
        while out.is_empty() && !self.done {
            let rows = self
                .tx
                .query_portal(&self.portal, FETCH)
                .await
                .map_err(|e| format!("cannot read client_company: {e}"))?;
            if rows.is_empty() {
                self.done = true;
                out.extend(self.pending.take());
                break;
            }
            for row in rows {
                let id: i32 = row.get(0);
                if self.pending.as_ref().is_some_and(|c| c.id != id) {
                    out.extend(self.pending.take());
                }
                let company = self.pending.get_or_insert_with(|| LegacyCompany {
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
        Ok(out)
    }
}

/// Streams the ids of accounts that belong to no company, a batch at a time.
pub struct Orphans<'a> {
    tx: &'a Transaction<'a>,
    portal: Portal,
}

impl<'a> Orphans<'a> {
    pub async fn open(tx: &'a Transaction<'a>) -> Result<Self, String> {
        let portal = tx
            .bind(ORPHANS, &[])
            .await
            .map_err(|e| format!("cannot read company_bank_account: {e}"))?;
        Ok(Orphans { tx, portal })
    }

    pub async fn next_batch(&mut self) -> Result<Vec<i32>, String> {
        let rows = self
            .tx
            .query_portal(&self.portal, FETCH)
            .await
            .map_err(|e| format!("cannot read company_bank_account: {e}"))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}

/// Which of the company rows `ids` the source holds.
pub async fn existing(tx: &Transaction<'_>, ids: &[i32]) -> Result<HashSet<i32>, String> {
    let rows = tx
        .query("SELECT id FROM client_company WHERE id = ANY($1)", &[&ids])
        .await
        .map_err(|e| format!("cannot read client_company: {e}"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
