//! The crate layering of design §2, checked from the manifests: a lower crate never
//! names a higher one, and the pure crates pull in no runtime, database or HTTP crate.

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Crates in layer order; each may depend only on crates before it.
    const LAYERS: &[(&str, &[&str])] = &[
        ("schema-model", &[]),
        ("policy", &["schema-model"]),
        ("ddl-gen", &["schema-model"]),
        ("registry-store", &["schema-model", "policy", "ddl-gen"]),
        ("registry-server", &["schema-model", "policy", "ddl-gen", "registry-store"]),
    ];
    const INTERNAL: &[&str] = &["schema-model", "policy", "ddl-gen", "registry-store", "registry-server"];
    const IO_CRATES: &[&str] = &["tokio", "tokio-postgres", "deadpool-postgres", "axum", "hyper", "reqwest"];

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

    #[test]
    fn lower_crates_never_name_higher_ones_and_pure_crates_do_no_io() {
        let root = crate::workspace_root();
        for (krate, allowed) in LAYERS {
            let manifest = std::fs::read_to_string(Path::new(&root).join("crates").join(krate).join("Cargo.toml"))
                .unwrap_or_else(|e| panic!("{krate}: {e}"));
            for dependency in dependencies(&manifest) {
                if INTERNAL.contains(&dependency.as_str()) {
                    assert!(allowed.contains(&dependency.as_str()), "{krate} must not depend on {dependency}");
                }
                if ["schema-model", "policy", "ddl-gen"].contains(krate) {
                    assert!(
                        !IO_CRATES.contains(&dependency.as_str()),
                        "pure crate {krate} must not depend on {dependency}"
                    );
                }
            }
        }
        let xtask = std::fs::read_to_string(Path::new(&root).join("xtask/Cargo.toml")).expect("xtask manifest");
        for dependency in dependencies(&xtask) {
            assert!(
                !["registry-store", "registry-server"].contains(&dependency.as_str()),
                "xtask uses only the pure crates"
            );
        }
    }
}
