//! Every image of `../shared/corpus/` either matches its reference listing or fails with a
//! clean error, as `../shared/corpus/README.md` says; adversarial images finish quickly.

use std::time::{Duration, Instant};

use iso_core::{Image, IsoFile};
use isolution_tests::{listing, shared_dir};

struct Case {
    image: String,
    expected: String,
    adversarial: bool,
    listing: Option<String>,
}

fn cases() -> Option<(std::path::PathBuf, Vec<Case>)> {
    let Some(shared) = shared_dir() else {
        eprintln!("SKIP: ../shared is absent (a user's clone); the corpus tests need it");
        return None;
    };
    let corpus = shared.join("corpus");
    let index = std::fs::read_to_string(corpus.join("expected/index.tsv")).expect("index.tsv");
    let mut lines = index.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (ci, ce, ca, cl) = (
        col("image"),
        col("expected"),
        col("adversarial"),
        col("listing"),
    );
    let cases = lines
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Case {
                image: f[ci].to_string(),
                expected: f[ce].to_string(),
                adversarial: f[ca] == "yes",
                listing: (f[cl] != "-").then(|| f[cl].to_string()),
            }
        })
        .collect();
    Some((corpus, cases))
}

fn read_listing(path: &std::path::Path) -> Vec<String> {
    let s = std::fs::read_to_string(path).unwrap();
    s.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn corpus_images_match_or_fail_cleanly() {
    let Some((corpus, cases)) = cases() else {
        return;
    };
    assert!(
        cases.len() >= 27,
        "expected the 27 corpus images, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let file = IsoFile::open(corpus.join(&case.image)).unwrap();
        let started = Instant::now();
        let result =
            Image::parse(file.bytes()).and_then(|img| listing(&img, img.default_namespace()));
        let took = started.elapsed();
        if case.adversarial && took > Duration::from_secs(2) {
            failures.push(format!("{}: took {took:?}", case.image));
        }
        let expected = case.listing.as_ref().map(|l| read_listing(&corpus.join(l)));
        match (case.expected.as_str(), result) {
            ("ok", Ok(got)) | ("ok-or-error", Ok(got)) => {
                let want = expected.expect("listing for an ok image");
                if got != want {
                    failures.push(format!(
                        "{}: listing differs\n--- got\n{}\n--- want\n{}",
                        case.image,
                        got.join("\n"),
                        want.join("\n")
                    ));
                }
            }
            ("ok", Err(e)) => failures.push(format!("{}: expected ok, got error: {e}", case.image)),
            ("error", Ok(got)) => failures.push(format!(
                "{}: expected a clean error, got a listing of {} entries",
                case.image,
                got.len()
            )),
            ("error", Err(e)) | ("ok-or-error", Err(e)) => {
                eprintln!("{}: clean error: {e}", case.image);
            }
            (other, _) => failures.push(format!("{}: unknown expectation {other}", case.image)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
