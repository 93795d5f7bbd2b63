//! Report verification (billing/src/report/sign.rs, R-BIL-02) must never panic and never
//! accept a tampered report. The target signs a real report once (the fixture, with a
//! fixed key) and then, per input, either
//! - tampers with the bundle as the input says (flip, insert, delete, truncate bytes of
//!   any file, or remove a file) and asserts that verification succeeds only when every
//!   artifact and the manifest are byte for byte the signed ones and the signature file
//!   decodes to the same signature (it is hex: case and surrounding whitespace do not
//!   change it), and that the untouched bundle verifies; or
//! - signs the input itself as a manifest (what a signer with the key could publish)
//!   and asserts that verification reads only plain file names and accepts only
//!   artifacts whose SHA-256 is the manifest's.
#![no_main]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use akp_billing::report::ReportDocument;
use akp_billing::report::sign::{self, MANIFEST, SIGNATURE, VerifyError};
use ed25519_dalek::{Signer, SigningKey};
use libfuzzer_sys::fuzz_target;

type Files = BTreeMap<String, Vec<u8>>;

struct Signed {
    key: SigningKey,
    files: Files,
}

fn signed() -> &'static Signed {
    static SIGNED: OnceLock<Signed> = OnceLock::new();
    SIGNED.get_or_init(|| {
        let doc: ReportDocument = serde_json::from_str(include_str!("../fixtures/report.json"))
            .expect("the fixture is a report document");
        let key = SigningKey::from_bytes(&[7; 32]);
        let bundle = sign::sign(&doc, &key).expect("the fixture signs");
        let files = bundle
            .files()
            .into_iter()
            .map(|(name, bytes)| (name.to_string(), bytes.to_vec()))
            .collect();
        Signed { key, files }
    })
}

fn reader(files: &Files) -> impl Fn(&str) -> Result<Vec<u8>, VerifyError> + '_ {
    |name| {
        files.get(name).cloned().ok_or_else(|| VerifyError::Io {
            path: name.to_string(),
            source: std::io::ErrorKind::NotFound.into(),
        })
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, edits)) = data.split_first() else {
        return;
    };
    if mode % 4 == 3 {
        signed_manifest(edits);
    } else {
        tamper(edits);
    }
});

fn tamper(edits: &[u8]) {
    let signed = signed();
    let public = signed.key.verifying_key();
    let mut files = signed.files.clone();
    let names: Vec<String> = files.keys().cloned().collect();
    for edit in edits.chunks_exact(5) {
        let name = &names[usize::from(edit[0]) % names.len()];
        let at = usize::from(u16::from_le_bytes([edit[2], edit[3]]));
        let value = edit[4];
        match edit[1] % 6 {
            0 => {
                if let Some(file) = files.get_mut(name)
                    && !file.is_empty()
                {
                    let i = at % file.len();
                    file[i] ^= value.max(1);
                }
            }
            1 => {
                if let Some(file) = files.get_mut(name) {
                    let i = at % (file.len() + 1);
                    file.insert(i, value);
                }
            }
            2 => {
                if let Some(file) = files.get_mut(name)
                    && !file.is_empty()
                {
                    let i = at % file.len();
                    file.remove(i);
                }
            }
            3 => {
                if let Some(file) = files.get_mut(name) {
                    let keep = at % (file.len() + 1);
                    file.truncate(keep);
                }
            }
            4 => {
                if let Some(file) = files.get_mut(name) {
                    file.push(value);
                }
            }
            _ => {
                files.remove(name);
            }
        }
    }
    let result = sign::verify_with(reader(&files), &public);
    let same = |name: &str| files.get(name) == signed.files.get(name);
    let intact = names
        .iter()
        .filter(|n| n.as_str() != SIGNATURE)
        .all(|n| same(n))
        && files.get(SIGNATURE).and_then(|f| decode_signature(f))
            == signed
                .files
                .get(SIGNATURE)
                .and_then(|f| decode_signature(f));
    match result {
        Ok(_) => assert!(intact, "a tampered report verified"),
        Err(e) => assert!(!intact, "the signed report does not verify: {e}"),
    }
}

/// The 64 signature bytes a signature file denotes, as verification reads it.
fn decode_signature(file: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(file).ok()?.trim();
    if text.len() != 128 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..64)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
        .collect()
}

fn signed_manifest(manifest: &[u8]) {
    let signed = signed();
    let public = signed.key.verifying_key();
    let mut files = signed.files.clone();
    let signature = signed.key.sign(manifest);
    let mut sig: String = signature
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    sig.push('\n');
    files.insert(MANIFEST.to_string(), manifest.to_vec());
    files.insert(SIGNATURE.to_string(), sig.into_bytes());
    let requested = RefCell::new(Vec::new());
    let read = reader(&files);
    let result = sign::verify_with(
        |name| {
            requested.borrow_mut().push(name.to_string());
            read(name)
        },
        &public,
    );
    for name in requested.borrow().iter() {
        let plain = !name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != "..";
        assert!(plain, "verification read {name:?}");
    }
    if let Ok(m) = result {
        for a in &m.artifacts {
            let bytes = files.get(&a.path).expect("a verified artifact exists");
            assert_eq!(sign::sha256_hex(bytes), a.sha256, "{}", a.path);
        }
    }
}
