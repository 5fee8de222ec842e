//! NumPy `.npz` archives: a zip of `.npy` files, one per named array.
//!
//! The zip container is read through `npyz`'s `NpzArchive`; each member's bytes go through
//! this crate's own [`crate::npy::parse`], so an array inside an archive is checked exactly
//! like a lone `.npy`. A member is read into memory only up to [`crate::MAX_ARRAY_BYTES`]
//! (a corrupt size field or a zip bomb is refused, not allocated). Errors about a member
//! name it as the pseudo-path `archive.npz[name]`.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::{npy, Array, ArrayError, MAX_ARRAY_BYTES};

/// An open `.npz` archive.
pub struct Archive {
    path: PathBuf,
    zip: npyz::npz::NpzArchive<BufReader<File>>,
    names: Vec<String>,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("path", &self.path)
            .field("names", &self.names)
            .finish()
    }
}

impl Archive {
    /// Opens the archive and lists its arrays. Errors: [`ArrayError::NotFound`],
    /// [`ArrayError::Io`], [`ArrayError::NpzUnreadable`] (not a zip, truncated).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ArrayError> {
        let path = path.as_ref();
        let mut zip = npyz::npz::NpzArchive::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ArrayError::NotFound {
                path: path.to_path_buf(),
            },
            _ => ArrayError::NpzUnreadable {
                path: path.to_path_buf(),
                reason: e.to_string(),
            },
        })?;
        let names = array_names(&mut zip).map_err(|reason| ArrayError::NpzUnreadable {
            path: path.to_path_buf(),
            reason,
        })?;
        Ok(Archive {
            path: path.to_path_buf(),
            zip,
            names,
        })
    }

    /// The archive's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Names of the arrays, in archive order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// True when the archive holds an array called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// Reads array `name`. Errors: [`ArrayError::NpzMissing`] (listing the arrays
    /// present), [`ArrayError::NpzUnreadable`] (corrupt member), [`ArrayError::TooLarge`],
    /// and the `.npy` errors of [`crate::npy::parse`] for the member.
    pub fn read(&mut self, name: &str) -> Result<Array, ArrayError> {
        if !self.contains(name) {
            return Err(ArrayError::NpzMissing {
                path: self.path.clone(),
                name: name.to_string(),
                available: self.names.clone(),
            });
        }
        let bytes = self.member_bytes(name)?;
        npy::parse(&self.member_path(name), &bytes)
    }

    /// `archive.npz[name]`, the pseudo-path errors about a member carry.
    pub fn member_path(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("{}[{name}]", self.path.display()))
    }

    /// The decompressed `.npy` bytes of member `name`, at most [`MAX_ARRAY_BYTES`].
    fn member_bytes(&mut self, name: &str) -> Result<Vec<u8>, ArrayError> {
        let unreadable = |path: &Path, e: &dyn std::fmt::Display| ArrayError::NpzUnreadable {
            path: path.to_path_buf(),
            reason: format!("array {name:?}: {e}"),
        };
        let too_large = |path: &Path, size: u64| ArrayError::TooLarge {
            path: path.to_path_buf(),
            what: format!("array {name:?}"),
            size,
            cap: MAX_ARRAY_BYTES,
        };
        let file_name = npyz::npz::file_name_from_array_name(name);
        let path = self.path.clone();
        let mut member = self
            .zip
            .zip_archive()
            .by_name(&file_name)
            .map_err(|e| unreadable(&path, &e))?;
        let declared = member.size();
        if declared > MAX_ARRAY_BYTES {
            return Err(too_large(&path, declared));
        }
        let mut bytes = Vec::with_capacity(declared as usize);
        member
            .by_ref()
            .take(MAX_ARRAY_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| unreadable(&path, &e))?;
        if bytes.len() as u64 > MAX_ARRAY_BYTES {
            return Err(too_large(&path, bytes.len() as u64));
        }
        Ok(bytes)
    }
}

/// The arrays' names in archive order (`NpzArchive::array_names` follows a hash map).
fn array_names(zip: &mut npyz::npz::NpzArchive<BufReader<File>>) -> Result<Vec<String>, String> {
    let archive = zip.zip_archive();
    let mut names = Vec::new();
    for i in 0..archive.len() {
        let member = archive.by_index_raw(i).map_err(|e| e.to_string())?;
        if let Some(name) = npyz::npz::array_name_from_file_name(member.name()) {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{write_spikes_and_other_npz, TempDir};
    use crate::Dtype;

    #[test]
    fn reads_arrays_by_name_and_lists_them() {
        let dir = TempDir::new("npz-read");
        let p = dir.path().join("r.npz");
        write_spikes_and_other_npz(&p);
        let mut z = Archive::open(&p).unwrap();
        assert_eq!(z.names(), &["spikes".to_string(), "other".to_string()]);
        let a = z.read("spikes").unwrap();
        assert_eq!((a.shape, a.dtype), (vec![2, 3], Dtype::Float(4)));
        assert_eq!(a.values, vec![0.0, 1.0, 0.0, 1.0, 1.0, 0.0]);
        let a = z.read("other").unwrap();
        assert_eq!((a.dtype, a.values), (Dtype::Int(8), vec![5.0]));
        let err = z.read("nope").unwrap_err();
        assert!(matches!(err, ArrayError::NpzMissing { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("r.npz") && msg.contains("no array named \"nope\""),
            "{msg}"
        );
    }

    #[test]
    fn missing_garbage_and_truncated_archives_are_clean_errors() {
        let dir = TempDir::new("npz-bad");
        let err = Archive::open(dir.path().join("none.npz")).unwrap_err();
        assert!(matches!(err, ArrayError::NotFound { .. }), "{err:?}");
        let g = dir.path().join("garbage.npz");
        std::fs::write(&g, b"PK\x03\x04 truncated zip archive").unwrap();
        let err = Archive::open(&g).unwrap_err();
        assert!(matches!(err, ArrayError::NpzUnreadable { .. }), "{err:?}");
        assert!(err.to_string().contains("garbage.npz"), "{err}");

        let good = dir.path().join("good.npz");
        write_spikes_and_other_npz(&good);
        let bytes = std::fs::read(&good).unwrap();
        let t = dir.path().join("trunc.npz");
        for cut in (0..bytes.len()).step_by(7) {
            std::fs::write(&t, &bytes[..cut]).unwrap();
            // Either the archive or one of its arrays is refused, naming the file.
            let result = Archive::open(&t).and_then(|mut z| {
                z.read("spikes")?;
                z.read("other")
            });
            let err = result.expect_err("a truncated archive cannot be read whole");
            assert!(err.to_string().contains("trunc.npz"), "{err}");
        }
    }

    #[test]
    fn a_damaged_member_names_the_archive_and_the_array() {
        let dir = TempDir::new("npz-member");
        let p = dir.path().join("m.npz");
        {
            // A member that is not an .npy at all (stored uncompressed).
            let f = File::create(&p).unwrap();
            let mut npz = npyz::npz::NpzWriter::new(std::io::BufWriter::new(f));
            let zip = npz.zip_writer();
            zip.start_file("junk.npy", Default::default()).unwrap();
            std::io::Write::write_all(zip, b"not numpy").unwrap();
            zip.finish().unwrap();
        }
        let mut z = Archive::open(&p).unwrap();
        let err = z.read("junk").unwrap_err();
        assert!(matches!(err, ArrayError::NpyUnreadable { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with(&format!("{}[junk]:", p.display())),
            "{err}"
        );
    }
}
