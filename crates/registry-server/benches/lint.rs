//! `registry-server lint` against Squawk (`squawk --reporter json`), whole processes on the
//! same files in the same run: lago's 534 KB dump, lemmy's 684 migration files and
//! PostgreSQL 15's regression DDL, from a third-party corpus folder named by
//! `REGISTRY_CORPUS` (never part of the project; a relative path is taken from the workspace root). Reports wall time (median of runs taken in
//! turn), bytes/s and statements/s for both, the ratio, and peak RSS.
//!
//! Run: `REGISTRY_CORPUS=<folder> cargo bench -p registry-server --bench lint`. Squawk 2.70 (`squawk-cli` on PyPI) is
//! installed into `target/bench-venv` when missing (needs `python3` with `venv`). Bounded:
//! 11 runs of each tool per input, each at most 60 s.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 11;
const SQUAWK: &str = "squawk-cli==2.70.0";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corpus() -> PathBuf {
    let Some(path) = std::env::var_os("REGISTRY_CORPUS").map(PathBuf::from) else {
        panic!("this benchmark needs the third-party corpus: set REGISTRY_CORPUS=<folder holding dump-lago-api, ...>")
    };
    // cargo runs benchmarks in the package's folder; a relative path is the workspace's.
    let path = if path.is_relative() { workspace().join(path) } else { path };
    assert!(path.join("dump-lago-api").is_dir(), "REGISTRY_CORPUS={} holds no dump-lago-api", path.display());
    path
}

/// Squawk in a bench-local virtual environment, installed when missing.
fn squawk() -> PathBuf {
    let venv = workspace().join("target/bench-venv");
    let binary = venv.join("bin/squawk");
    if !binary.is_file() {
        eprintln!("installing {SQUAWK} into {}", venv.display());
        let created = Command::new("python3").args(["-m", "venv"]).arg(&venv).status();
        assert!(
            created.is_ok_and(|s| s.success()),
            "install python3 with venv (Debian: python3-venv) to compare with Squawk"
        );
        let installed = Command::new(venv.join("bin/pip")).args(["install", "--quiet", SQUAWK]).status();
        assert!(installed.is_ok_and(|s| s.success()), "pip could not install {SQUAWK}");
    }
    binary
}

fn sql_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).expect("corpus folder").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            sql_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "sql") {
            out.push(path);
        }
    }
}

/// One run: wall time and peak RSS in KB (from `/usr/bin/time` when the machine has it).
fn run(program: &Path, args: &[String]) -> (Duration, Option<u64>) {
    let timed = Path::new("/usr/bin/time").is_file();
    let mut command = if timed {
        let mut command = Command::new("/usr/bin/time");
        command.args(["-f", "%M"]).arg(program);
        command
    } else {
        Command::new(program)
    };
    command.args(args).stdout(Stdio::null()).stderr(Stdio::piped());
    let started = Instant::now();
    let output = command.output().expect("the tool runs");
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_mins(1), "{} took over a minute", program.display());
    let rss = timed
        .then(|| String::from_utf8_lossy(&output.stderr).lines().last().and_then(|l| l.trim().parse().ok()))
        .flatten();
    (elapsed, rss)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("lint: benchmark");
        return;
    }
    let corpus = corpus();
    let squawk = squawk();
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_registry-server"));
    let inputs: Vec<(&str, PathBuf)> = vec![
        ("lago dump (1 file)", corpus.join("dump-lago-api")),
        ("lemmy migrations (684 files)", corpus.join("migrations-lemmy")),
        ("PostgreSQL 15 regression DDL (15 files)", corpus.join("pg-regress-15")),
    ];
    println!(
        "| input | bytes | statements | registry-server lint | Squawk | ratio (Squawk time / ours) | peak RSS ours / Squawk |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, dir) in inputs {
        let mut files = Vec::new();
        sql_files(&dir, &mut files);
        let bytes: u64 = files.iter().map(|f| std::fs::metadata(f).map_or(0, |m| m.len())).sum();
        let file_args: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        // Ours reads the folder as its tool orders it (lemmy is diesel); Squawk gets every file.
        let our_args = vec!["lint".to_owned(), dir.display().to_string(), "--format".to_owned(), "json".to_owned()];
        let mut squawk_args = vec!["--reporter".to_owned(), "json".to_owned()];
        squawk_args.extend(file_args);
        let report = Command::new(&ours).args(&our_args).output().expect("registry-server runs");
        let report: serde_json::Value = serde_json::from_slice(&report.stdout).expect("a JSON report");
        let statements = report["statements"].as_u64().unwrap_or(0);
        let (mut our_times, mut squawk_times) = (Vec::new(), Vec::new());
        let (mut our_rss, mut squawk_rss) = (0, 0);
        for _ in 0..RUNS {
            let (time, rss) = run(&ours, &our_args);
            our_times.push(time);
            our_rss = our_rss.max(rss.unwrap_or(0));
            let (time, rss) = run(&squawk, &squawk_args);
            squawk_times.push(time);
            squawk_rss = squawk_rss.max(rss.unwrap_or(0));
        }
        let (ours_time, squawk_time) = (median(our_times), median(squawk_times));
        #[expect(clippy::cast_precision_loss, reason = "sizes of a few megabytes")]
        let rate = |time: Duration| {
            let seconds = time.as_secs_f64();
            format!("{:.1} MB/s, {:.0} statements/s", bytes as f64 / seconds / 1e6, statements as f64 / seconds)
        };
        println!(
            "| {name} | {bytes} | {statements} | {:.0} ms ({}) | {:.0} ms ({}) | {:.2}x | {} / {} MB |",
            ours_time.as_secs_f64() * 1000.0,
            rate(ours_time),
            squawk_time.as_secs_f64() * 1000.0,
            rate(squawk_time),
            squawk_time.as_secs_f64() / ours_time.as_secs_f64(),
            our_rss / 1024,
            squawk_rss / 1024
        );
    }
}
