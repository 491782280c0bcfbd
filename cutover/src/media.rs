//! The legacy media folder: files live flat in `<media>/uploads/`, a row's
//! `file_path` being the absolute path on the legacy server (only its base name
//! is trusted here, so a row cannot point the tool outside the folder).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::state::Known;

pub fn uploads(media: &Path) -> PathBuf {
    media.join("uploads")
}

/// Where a row's bytes are: `<media>/uploads/<base name of file_path>` (the file
/// name when the path has none).
pub fn locate(media: &Path, file_path: &str, file_name: &str) -> PathBuf {
    let base = file_path
        .rsplit(['/', '\\'])
        .next()
        .filter(|b| !b.is_empty() && *b != ".." && *b != ".")
        .unwrap_or(file_name);
    uploads(media).join(base)
}

/// Size and modification time of a file.
pub fn stat(path: &Path) -> io::Result<(u64, i128)> {
    let meta = fs::metadata(path)?;
    if !meta.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    let mtime = meta
        .modified()?
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    Ok((meta.len(), mtime))
}

/// Hex SHA-256 of everything `reader` yields, and how many bytes that was.
pub fn sha256_of(mut reader: impl Read, mut sink: impl Write) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        sink.write_all(&buf[..n])?;
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// The file's size, time and SHA-256: from `known` when size and time still match
/// (the file was not touched since it was hashed), else read and hashed now.
pub fn fingerprint(path: &Path, known: Option<&Known>) -> io::Result<Known> {
    let (size, mtime_ns) = stat(path)?;
    if let Some(k) = known.filter(|k| k.size == size && k.mtime_ns == mtime_ns) {
        return Ok(k.clone());
    }
    let (sha256, read) = sha256_of(File::open(path)?, io::sink())?;
    if read != size {
        return Err(io::Error::other("the file changed while it was read"));
    }
    Ok(Known {
        size,
        mtime_ns,
        sha256,
    })
}

/// `name`, else `base_1.ext`, `base_2.ext`, ... (legacy `set_file_name`).
fn candidate(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_string();
    }
    match name.rsplit_once('.') {
        Some((base, ext)) if !base.is_empty() => format!("{base}_{n}.{ext}"),
        _ => format!("{name}_{n}"),
    }
}

/// Writes `reader` into the uploads folder under the first free name of `name`
/// (legacy's names are global to the folder), only if its SHA-256 is `expected`.
/// The bytes go to a temporary file first and are linked under the final name, so
/// no half-written file and no overwrite of another file can happen.
pub fn store(media: &Path, name: &str, reader: impl Read, expected: &str) -> Result<PathBuf> {
    let dir = uploads(media);
    fs::create_dir_all(&dir).map_err(|source| Error::Io {
        role: None,
        path: dir.clone(),
        source,
    })?;
    // Several files are stored at once: each writes its own part file.
    static PART: AtomicU64 = AtomicU64::new(0);
    let n = PART.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".cutover-{}-{n}.part", std::process::id()));
    let written = (|| {
        let mut out = File::create(&tmp)?;
        let (sha, _) = sha256_of(reader, &mut out)?;
        out.sync_all()?;
        Ok::<_, io::Error>(sha)
    })();
    let outcome = match written {
        Err(source) => Err(Error::Io {
            role: Some("writing"),
            path: tmp.clone(),
            source,
        }),
        Ok(sha) if sha != expected => Err(Error::Check(format!(
            "checksum mismatch: the app recorded {expected}, received {sha}"
        ))),
        Ok(_) => (0..10_000)
            .map(|n| dir.join(candidate(name, n)))
            .find(|path| fs::hard_link(&tmp, path).is_ok())
            .ok_or_else(|| Error::Check(format!("no free name for {name} in {}", dir.display()))),
    };
    let _ = fs::remove_file(&tmp);
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_base_name_of_a_row_s_path_is_trusted() {
        let media = Path::new("/srv/media");
        let at = |path: &str| locate(media, path, "fallback.csv");
        assert_eq!(
            at("/var/www/media/uploads/a.csv"),
            Path::new("/srv/media/uploads/a.csv")
        );
        assert_eq!(
            at("C:\\uploads\\b.csv"),
            Path::new("/srv/media/uploads/b.csv")
        );
        for escape in ["/etc/..", "uploads/", "", "."] {
            assert_eq!(at(escape), Path::new("/srv/media/uploads/fallback.csv"));
        }
    }

    #[test]
    fn a_taken_name_gets_a_number_before_its_extension() {
        assert_eq!(candidate("cut.csv", 0), "cut.csv");
        assert_eq!(candidate("cut.csv", 2), "cut_2.csv");
        assert_eq!(candidate("a.b.csv", 1), "a.b_1.csv");
        assert_eq!(candidate("README", 1), "README_1");
        assert_eq!(candidate(".hidden", 1), ".hidden_1");
    }

    #[test]
    fn a_hash_is_of_every_byte_read_and_copied() {
        let mut copy = Vec::new();
        let (sha, n) = sha256_of(&b"abc"[..], &mut copy).unwrap();
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!((n, copy.as_slice()), (3, &b"abc"[..]));
    }
}
