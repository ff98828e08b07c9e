//! Embeds the demo corpus — the project's own ADRs and book chapters — into the binary, so the
//! showcase can ingest it on first start from any working directory.

use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "md") && p.file_name().is_some_and(|n| n != "SUMMARY.md") {
            out.push(p);
        }
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for sub in ["adr", "book/src"] {
        let dir = root.join(sub);
        println!("cargo:rerun-if-changed={}", dir.display());
        collect(&dir, &mut files);
    }
    let mut code = String::from(
        "/// (name, contents) of every demo document.\npub(crate) const DEMO_FILES: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        let abs = f.canonicalize().expect("demo file path");
        let rel = abs.strip_prefix(root.canonicalize().expect("repository root")).expect("inside the repository");
        code.push_str(&format!(
            "    ({:?}, include_str!({:?})),\n",
            rel.display().to_string(),
            abs.display().to_string()
        ));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("demo_files.rs");
    std::fs::write(out, code).expect("write demo_files.rs");
}
