//! The crate layering of design §2, checked from the manifests: a lower crate never names a
//! higher one, the pure crates pull in no runtime, database or HTTP crate, and every crate
//! under `crates/` has a place in the layering (a new crate fails here until it is given
//! one).

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every crate in layer order, with the internal crates it may depend on.
    const LAYERS: &[(&str, &[&str])] = &[
        ("schema-model", &[]),
        ("policy", &["schema-model"]),
        ("ddl-gen", &["schema-model"]),
        ("schema-diff", &["schema-model"]),
        ("ddl-parse", &["schema-model"]),
        ("registry-core", &["schema-model", "policy", "ddl-gen", "schema-diff", "ddl-parse"]),
        ("pg-cluster", &[]),
        ("pg-introspect", &["schema-model"]),
        (
            "registry-store",
            &[
                "schema-model",
                "policy",
                "ddl-gen",
                "schema-diff",
                "ddl-parse",
                "registry-core",
                "pg-cluster",
                "pg-introspect",
            ],
        ),
        (
            "registry-server",
            &[
                "schema-model",
                "policy",
                "ddl-gen",
                "schema-diff",
                "ddl-parse",
                "registry-core",
                "pg-cluster",
                "pg-introspect",
                "registry-store",
            ],
        ),
    ];
    /// Crates that do no I/O.
    const PURE: &[&str] = &["schema-model", "policy", "ddl-gen", "schema-diff", "ddl-parse", "registry-core"];
    /// Crates a pure crate must not use.
    const IO_CRATES: &[&str] = &["tokio", "tokio-postgres", "deadpool-postgres", "axum", "hyper", "reqwest", "ureq"];
    /// What xtask may use.
    const XTASK_ALLOWED: &[&str] = &["schema-model", "policy", "ddl-gen", "ddl-parse", "registry-core", "pg-cluster"];

    /// Names under `[dependencies]` (not dev-dependencies) of a manifest.
    fn dependencies(manifest: &str) -> Vec<String> {
        let mut in_dependencies = false;
        let mut names = Vec::new();
        for line in manifest.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                in_dependencies = line == "[dependencies]";
                continue;
            }
            if in_dependencies && let Some((name, _)) = line.split_once(['=', '.']) {
                let name = name.trim();
                if !name.is_empty() && !name.starts_with('#') {
                    names.push(name.to_owned());
                }
            }
        }
        names
    }

    fn internal(name: &str) -> bool {
        LAYERS.iter().any(|(krate, _)| *krate == name)
    }

    #[test]
    fn every_crate_has_a_layer() {
        let root = crate::workspace_root();
        let crates = std::fs::read_dir(Path::new(&root).join("crates")).expect("crates/");
        for entry in crates {
            let entry = entry.expect("entry");
            if !entry.path().join("Cargo.toml").is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(
                internal(&name),
                "crates/{name} is not in the layering of xtask/src/layers.rs (and design §2); give it a layer"
            );
        }
    }

    #[test]
    fn lower_crates_never_name_higher_ones_and_pure_crates_do_no_io() {
        let root = crate::workspace_root();
        for (krate, allowed) in LAYERS {
            let manifest = std::fs::read_to_string(Path::new(&root).join("crates").join(krate).join("Cargo.toml"))
                .unwrap_or_else(|e| panic!("{krate}: {e}"));
            for dependency in dependencies(&manifest) {
                if internal(&dependency) {
                    assert!(allowed.contains(&dependency.as_str()), "{krate} must not depend on {dependency}");
                }
                if PURE.contains(krate) {
                    assert!(
                        !IO_CRATES.contains(&dependency.as_str()),
                        "pure crate {krate} must not depend on {dependency}"
                    );
                }
            }
        }
        let xtask = std::fs::read_to_string(Path::new(&root).join("xtask/Cargo.toml")).expect("xtask manifest");
        for dependency in dependencies(&xtask) {
            if internal(&dependency) {
                assert!(XTASK_ALLOWED.contains(&dependency.as_str()), "xtask must not depend on {dependency}");
            }
        }
    }

    /// Modules of `registry-server` on the server's side and on the command line's side:
    /// neither names the other (settings shared by both live in `settings`).
    const SERVER_SIDE: &[&str] = &["serve.rs", "server"];
    const COMMAND_LINE_SIDE: &[&str] = &["cli.rs", "tables.rs", "admin.rs", "client.rs", "report.rs"];

    fn module_name(file: &str) -> &str {
        file.trim_end_matches(".rs")
    }

    fn sources(root: &Path, entry: &str) -> Vec<(String, String)> {
        let path = root.join("crates/registry-server/src").join(entry);
        let mut files = Vec::new();
        if path.is_dir() {
            for file in std::fs::read_dir(&path).expect("module directory") {
                let file = file.expect("entry").path();
                files.push((file.display().to_string(), std::fs::read_to_string(&file).expect("source")));
            }
        } else {
            files.push((path.display().to_string(), std::fs::read_to_string(&path).expect("source")));
        }
        files
    }

    fn names_module(source: &str, module: &str) -> bool {
        source.contains(&format!("crate::{module}::"))
            || source.contains(&format!("crate::{module};"))
            || source.contains(&format!("registry_server::{module}::"))
            || (source.contains("use crate::{") && source.contains(&format!(" {module}::")))
    }

    #[test]
    fn server_and_command_line_do_not_import_each_other() {
        let root = crate::workspace_root();
        let root = Path::new(&root);
        for (sides, others) in [(SERVER_SIDE, COMMAND_LINE_SIDE), (COMMAND_LINE_SIDE, SERVER_SIDE)] {
            for entry in sides {
                for (file, source) in sources(root, entry) {
                    for other in others {
                        assert!(
                            !names_module(&source, module_name(other)),
                            "{file} names the module {other} of the other side"
                        );
                    }
                }
            }
        }
    }
}
