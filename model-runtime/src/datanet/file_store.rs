//! [`FileStore`]: one JSON file per datanet under a folder, written atomically.
//!
//! ```text
//! <root>/<id>.json     {"format": 1, "datanet": Datanet}
//! ```
//!
//! Every change loads the file, applies one rule of [`Datanet`] in memory and, only if it
//! succeeded, writes the whole record to a temporary file in the same folder, syncs it, and
//! renames it over `<id>.json` (a new datanet is hard-linked into place instead, so two creates
//! never claim the same id). A rejected contribution, a crash or a failed write leaves the
//! previous file untouched. One writer per datanet at a time: concurrent writers in different
//! processes can lose each other's updates (the node's database store is for that).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{DatanetError, Result};
use super::record::{Datanet, DatanetSpec, NewContribution, SealedVersion};
use super::store::{unix_now, DatanetStore};
use super::types::{DatanetId, EntryRef, Root, MAX_ID_LEN};

/// Version of the store-file layout.
pub const FILE_STORE_FORMAT: u32 = 1;

/// The on-disk envelope of one datanet.
#[derive(Serialize, Deserialize)]
struct StoredFile {
    format: u32,
    datanet: Datanet,
}

/// Datanets as JSON files in a folder (created on the first write).
#[derive(Clone, Debug)]
pub struct FileStore {
    root: PathBuf,
    clock: fn() -> u64,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DatanetError + '_ {
    move |source| DatanetError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl FileStore {
    /// A store over the folder `root`; nothing is read or created until it is used.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            clock: unix_now,
        }
    }

    /// The same store with another clock for contribution and seal times (tests use a fixed
    /// one to compare stored bytes).
    pub fn with_clock(mut self, clock: fn() -> u64) -> Self {
        self.clock = clock;
        self
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of datanet `id`.
    pub fn path_of(&self, id: &DatanetId) -> PathBuf {
        self.root.join(format!("{id}.json"))
    }

    /// Where a write of datanet `id` is staged before it is renamed into place.
    pub fn temp_path_of(&self, id: &DatanetId) -> PathBuf {
        self.root
            .join(format!(".{id}.json.tmp-{}", std::process::id()))
    }

    fn load(&self, id: &DatanetId) -> Result<Datanet> {
        let path = self.path_of(id);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DatanetError::UnknownDatanet {
                    id: id.to_string(),
                    store: self.root.display().to_string(),
                })
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        let corrupt = |detail: String| DatanetError::Corrupt {
            path: path.display().to_string(),
            detail,
        };
        let file: StoredFile =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        if file.format != FILE_STORE_FORMAT {
            return Err(corrupt(format!(
                "format {} (this version reads {FILE_STORE_FORMAT})",
                file.format
            )));
        }
        if &file.datanet.id != id {
            return Err(corrupt(format!(
                "holds datanet `{}`, not `{id}`",
                file.datanet.id
            )));
        }
        file.datanet.check_consistency().map_err(corrupt)?;
        Ok(file.datanet)
    }

    /// Serializes `datanet` into its temporary file and syncs it; removes it on failure.
    fn stage(&self, datanet: &Datanet) -> Result<PathBuf> {
        std::fs::create_dir_all(&self.root).map_err(io_err(&self.root))?;
        let tmp = self.temp_path_of(&datanet.id);
        let bytes = serde_json::to_vec(&StoredFile {
            format: FILE_STORE_FORMAT,
            datanet: datanet.clone(),
        })
        .map_err(|e| DatanetError::Malformed {
            what: format!("datanet `{}` for storage", datanet.id),
            detail: e.to_string(),
        })?;
        let written = std::fs::File::create(&tmp).and_then(|mut f| {
            f.write_all(&bytes)?;
            f.sync_all()
        });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_err(&tmp)(e));
        }
        Ok(tmp)
    }

    /// Replaces the file of an existing datanet.
    fn replace(&self, datanet: &Datanet) -> Result<()> {
        let tmp = self.stage(datanet)?;
        let path = self.path_of(&datanet.id);
        std::fs::rename(&tmp, &path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io_err(&path)(e)
        })
    }

    /// Writes a new datanet; `Ok(false)` when its id is taken (nothing written).
    fn create_new(&self, datanet: &Datanet) -> Result<bool> {
        let tmp = self.stage(datanet)?;
        let path = self.path_of(&datanet.id);
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    /// Loads `id`, applies `change`, and writes the result only if `change` succeeded.
    fn update<T>(
        &mut self,
        id: &DatanetId,
        change: impl FnOnce(&mut Datanet, u64) -> Result<T>,
    ) -> Result<T> {
        let mut datanet = self.load(id)?;
        let out = change(&mut datanet, (self.clock)())?;
        self.replace(&datanet)?;
        Ok(out)
    }
}

/// `base` with `-n` appended (n ≥ 2), shortened so the whole id fits [`MAX_ID_LEN`].
fn suffixed(base: &DatanetId, n: u32) -> Result<DatanetId> {
    if n < 2 {
        return Ok(base.clone());
    }
    let suffix = format!("-{n}");
    let mut stem = base.as_str().to_string();
    stem.truncate(MAX_ID_LEN - suffix.len());
    format!("{}{suffix}", stem.trim_end_matches('-')).parse()
}

impl DatanetStore for FileStore {
    fn create(&mut self, spec: DatanetSpec) -> Result<Datanet> {
        spec.validate()?;
        let base = DatanetId::slug_of(&spec.name);
        let now = (self.clock)();
        for n in 1..=10_000 {
            let datanet = Datanet::new(suffixed(&base, n)?, spec.clone(), now)?;
            if self.create_new(&datanet)? {
                return Ok(datanet);
            }
        }
        Err(DatanetError::InvalidSpec(format!(
            "every id from `{base}` to `{base}-10000` is taken in {}",
            self.root.display()
        )))
    }

    fn get(&self, id: &DatanetId) -> Result<Datanet> {
        self.load(id)
    }

    fn list(&self) -> Result<Vec<DatanetId>> {
        let dir = match std::fs::read_dir(&self.root) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&self.root)(e)),
        };
        let mut ids = Vec::new();
        for entry in dir {
            let entry = entry.map_err(io_err(&self.root))?;
            let name = entry.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if let Ok(id) = stem.parse::<DatanetId>() {
                ids.push(id);
            }
        }
        ids.sort();
        Ok(ids)
    }

    fn add(
        &mut self,
        id: &DatanetId,
        version: Option<u32>,
        contribution: NewContribution,
    ) -> Result<EntryRef> {
        self.update(id, |d, now| d.add(version, contribution, now))
    }

    fn add_all(
        &mut self,
        id: &DatanetId,
        version: Option<u32>,
        contributions: Vec<NewContribution>,
    ) -> Result<Vec<Result<EntryRef>>> {
        self.update(id, |d, now| d.add_all(version, contributions, now))
    }

    fn seal(&mut self, id: &DatanetId, root: Root) -> Result<SealedVersion> {
        self.update(id, |d, now| d.seal(root, now))
    }
}
