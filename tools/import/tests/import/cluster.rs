//! The throwaway cluster the importer's tests run on (scripts/postgres.sh) is set up as a
//! careful server is: SCRAM for every role but the one test role asking for a cleartext
//! password, no trust, readers that are not superusers, the socket's folder its owner's alone,
//! and no password in DATABASE_URL.

use std::os::unix::fs::PermissionsExt;

use crate::helpers::{admin, cluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_cluster_asks_every_role_for_scram() {
    let Some(cluster) = cluster() else {
        return;
    };
    let user_info = cluster
        .split_once("://")
        .unwrap()
        .1
        .split('@')
        .next()
        .unwrap();
    assert!(!user_info.contains(':'), "DATABASE_URL holds a password");
    // Without the password (PGPASSWORD), the server asks for one.
    let config: tokio_postgres::Config = cluster.parse().unwrap();
    assert!(
        config.connect(tokio_postgres::NoTls).await.is_err(),
        "connected without a password"
    );
    let admin = admin(&cluster).await;
    let rules = admin
        .query(
            "SELECT type, array_to_string(user_name, ','), auth_method FROM pg_hba_file_rules",
            &[],
        )
        .await
        .unwrap();
    assert!(!rules.is_empty());
    for rule in &rules {
        let (kind, users, method): (String, String, String) =
            (rule.get(0), rule.get(1), rule.get(2));
        let expected = match users.as_str() {
            "cleartext_reader" => "password",
            "tls_reader" if kind == "hostnossl" => "reject",
            _ => "scram-sha-256",
        };
        assert_eq!(method, expected, "{kind} {users}");
    }
    let superusers: Vec<String> = admin
        .query(
            "SELECT rolname::text FROM pg_roles WHERE rolsuper ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(superusers, ["postgres"]);
    let sockets: String = admin
        .query_one("SHOW unix_socket_directories", &[])
        .await
        .unwrap()
        .get(0);
    for dir in sockets.split(',') {
        let mode = std::fs::metadata(dir.trim()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{dir}");
    }
}
