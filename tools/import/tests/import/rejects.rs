//! The rejects file: never written through a symbolic link planted where it goes.

use crate::helpers::{fixture, setup};

/// A symbolic link at the rejects path, to a file of someone's: a dry run (with or without a
/// table) and a run refuse to start, saying why, and the file is left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rejects_file_is_never_written_through_a_symbolic_link() {
    let Some(s) = setup(&fixture()).await else {
        return;
    };
    let precious = s.rejects.with_extension("precious");
    std::fs::write(&precious, "not the importer's\n").unwrap();
    std::os::unix::fs::symlink(&precious, &s.rejects).unwrap();
    for extra in [&["--dry-run"][..], &[]] {
        let out = s
            .command(&[&["--quiet"][..], extra].concat())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {stderr}");
        assert!(stderr.contains("is a symbolic link"), "{extra:?}: {stderr}");
        assert_eq!(
            std::fs::read_to_string(&precious).unwrap(),
            "not the importer's\n",
            "{extra:?}: written through the link"
        );
    }
    let mut alone = s.command(&["--quiet", "--dry-run"]);
    alone.env_remove("TABLE_NAME");
    let out = alone.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(&precious).unwrap(),
        "not the importer's\n"
    );
    assert!(s.all().await.is_empty(), "a run wrote");
    std::fs::remove_file(&s.rejects).unwrap();
    std::fs::remove_file(&precious).unwrap();
}
