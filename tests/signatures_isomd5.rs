//! `isolution verify` on images with implanted isomd5sum checksums (`implantisomd5`,
//! `checkisomd5`): reported as integrity, never as authenticity, and any byte changed after
//! implanting is an `isomd5-mismatch`.
//!
//! Every case signs a small Solution-like tree with the real tool, tampers with it, masters the
//! ISO and runs `isolution verify` (text and `--json`), judged against the tools' own verdict
//! (see `isolution_tests::sig_case`). Failure words (`digest-mismatch`, `signature-invalid`,
//! …) and exit codes (0 verified, 1 verification failed, 2 unreadable key) are the stable
//! interface checked here.
//!
//! Run with `--nocapture` to see, per case, what `isolution` reported and what the tools said.

use std::path::Path;
use std::process::Command;

use isolution_tests::sig::*;
use isolution_tests::sig_case::*;
use isolution_tests::tools;

// ---------------------------------------------------------------------------------------
// isomd5sum (integrity only)
// ---------------------------------------------------------------------------------------

/// A minisign-signed 4 MiB tree mastered and implanted; `checkisomd5` must pass first.
fn implanted() -> Option<Fixture> {
    if !tools(&["implantisomd5", "checkisomd5"]) {
        return None;
    }
    let fx = Fixture::new(Scheme::Minisign, true)?;
    fx.build_iso();
    must("implantisomd5", &[os(&fx.iso)], None);
    let r = run(Command::new("checkisomd5").arg(&fx.iso), None);
    assert!(r.ok(), "checkisomd5 fails on the fresh image: {}", r.show());
    Some(fx)
}

fn checkisomd5(iso: &Path) -> Reference {
    let r = run(Command::new("checkisomd5").arg(iso), None);
    Reference {
        ok: r.ok(),
        note: format!(
            "checkisomd5: {}",
            r.all()
                .lines()
                .find(|l| l.contains("result is"))
                .unwrap_or("?")
                .trim()
        ),
    }
}

#[test]
fn implanted_isomd5_is_reported_as_integrity_not_authenticity() {
    let mut report = Report::default();
    let Some(fx) = implanted() else {
        return;
    };
    let out = fx.verify(&fx.keys.verify_args(), &[]);
    let mut r = judge(
        "isomd5 / implanted",
        &out,
        &checkisomd5(&fx.iso),
        &Expect::ok(),
    );
    if r.is_ok() {
        let text = out.0.all();
        match text
            .lines()
            .find(|l| l.contains("isomd5") && l.contains("integrity ok"))
        {
            None => {
                r = Err(format!(
                    "FAIL isomd5 / implanted: no `isomd5 … integrity ok` line\n{}",
                    out.0.show()
                ))
            }
            Some(l) => {
                let lower = l.to_lowercase();
                if lower.contains("authentic")
                    && !(lower.contains("not authentic") || lower.contains("no authentic"))
                {
                    r = Err(format!(
                        "FAIL isomd5 / implanted: the isomd5 line speaks of authenticity: {l:?}"
                    ));
                }
            }
        }
    }
    report.add(r);
    report.finish();
}

/// Flips byte `at` of the implanted image `img` (outside the sectors isomd5 skips), runs
/// `isolution verify` and judges it an `isomd5-mismatch`.
fn flip_and_verify(
    fx: &Fixture,
    img: &[u8],
    at: usize,
    label: &str,
) -> ((Run, Run), Result<String, String>) {
    assert!(
        at < img.len() - 15 * 2048,
        "inside the sectors isomd5 skips"
    );
    flip_byte(&fx.iso, at);
    let out = fx.verify(&fx.keys.verify_args(), &[]);
    let r = judge(
        label,
        &out,
        &checkisomd5(&fx.iso),
        &Expect::fail(&["isomd5-mismatch"]),
    );
    (out, r)
}

#[test]
fn bytes_changed_after_implanting_are_an_isomd5_mismatch() {
    let mut report = Report::default();

    // A byte of big.bin's data: a content digest mismatch too.
    if let Some(fx) = implanted() {
        let img = std::fs::read(&fx.iso).unwrap();
        let at = find_unique(&img, BIG_MARKER) + (1 << 20);
        let (out, mut r) = flip_and_verify(&fx, &img, at, "isomd5 / big.bin data byte flipped");
        if r.is_ok() {
            // The content check must name the file as well.
            r = judge(
                "isomd5 / big.bin data byte flipped (content)",
                &out,
                &checkisomd5(&fx.iso),
                &Expect::fail(&["digest-mismatch"]).path("big.bin"),
            );
        }
        report.add(r);
    } else {
        report.finish();
        return;
    }

    // A padding byte after notes.txt's data: covered by isomd5 only.
    if let Some(fx) = implanted() {
        let img = std::fs::read(&fx.iso).unwrap();
        let start = find_unique(&img, NOTES);
        assert_eq!(start % 2048, 0, "notes.txt data not sector aligned");
        let at = start + NOTES.len() + 100;
        assert_eq!(img[at], 0, "not padding");
        let (out, mut r) = flip_and_verify(
            &fx,
            &img,
            at,
            "isomd5 / padding byte after notes.txt flipped",
        );
        if r.is_ok() {
            if let Ok(v) = json::parse(&out.1.stdout) {
                let kinds: Vec<String> = json_failures(&v)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, _)| k)
                    .collect();
                if kinds.iter().any(|k| k != "isomd5-mismatch") {
                    r = Err(format!(
                        "FAIL isomd5 / padding flipped: only isomd5-mismatch expected, got {kinds:?}"
                    ));
                }
            }
        }
        report.add(r);
    }
    report.finish();
}
