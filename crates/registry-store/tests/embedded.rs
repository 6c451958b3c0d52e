//! The embedded default: a persistent cluster in a data directory, created on first start
//! and reused on the next, with the registry database and the default target.

use registry_store::embedded::{Embedded, REGISTRY_DATABASE, TARGET_DATABASE};

#[test]
fn the_embedded_cluster_is_created_once_and_reused() {
    let dir = std::env::temp_dir().join(format!("schema-registry-embedded-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("data dir");
    {
        let embedded = Embedded::start(&dir).unwrap_or_else(|e| panic!("embedded start: {e}"));
        assert!(embedded.registry_url().ends_with(&format!("/{REGISTRY_DATABASE}")));
        assert!(embedded.target_url().ends_with(&format!("/{TARGET_DATABASE}")));
        embedded
            .cluster()
            .psql(REGISTRY_DATABASE, "CREATE TABLE kept (x integer); INSERT INTO kept VALUES (7)")
            .expect("write");
        embedded.cluster().psql(TARGET_DATABASE, "SELECT 1").expect("the target database exists");
        embedded.stop();
    }
    let again = Embedded::start(&dir).unwrap_or_else(|e| panic!("second start: {e}"));
    let kept = again.cluster().psql(REGISTRY_DATABASE, "SELECT x FROM kept").expect("read");
    assert_eq!(kept.trim(), "7", "data survives a restart");
    again.stop();
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
