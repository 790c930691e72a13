//! Importing a whole file of contributions (the format of `fixtures/datanet/digits.json`):
//!
//! ```json
//! {"name": "digits", "curator": "0x…",
//!  "input_shape": [64], "classes": 10,            (optional)
//!  "contributors": [{"address": "0x…", "role": "honest"}, …],   (informational)
//!  "entries": [{"contributor": "0x…", "sample": [0.0, …], "label": 8}, …]}
//! ```
//!
//! A file that is not this JSON aborts the import; otherwise each entry is validated on its own:
//! valid ones are added (in one write), rejected ones are reported with their reason.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::{DatanetError, Result};
use super::record::{DatanetSpec, NewContribution};
use super::store::DatanetStore;
use super::types::{Address, DatanetId, EntryRef};

/// One contributor listed in a datanet file (informational; entries name their own contributor).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileContributor {
    /// Address as written.
    pub address: String,
    /// Free-form role (the fixture marks `honest`, `mislabeler`, `duplicator`).
    #[serde(default)]
    pub role: Option<String>,
}

/// One entry of a datanet file. The contributor stays text so a malformed address rejects only
/// its entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Contributor address as written.
    pub contributor: String,
    /// The sample.
    pub sample: Vec<f32>,
    /// Its class.
    pub label: u32,
}

/// A datanet file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatanetFile {
    /// Display name.
    pub name: String,
    /// Curator.
    pub curator: Address,
    /// Shape of one sample, if the file states it.
    #[serde(default)]
    pub input_shape: Option<Vec<usize>>,
    /// Number of classes, if the file states it.
    #[serde(default)]
    pub classes: Option<u32>,
    /// Contributors and their roles.
    #[serde(default)]
    pub contributors: Vec<FileContributor>,
    /// The contributions, in order.
    pub entries: Vec<FileEntry>,
}

/// Where each field of a [`DatanetSpec`] built by [`DatanetFile::spec`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecSource {
    /// Given by the caller.
    Given,
    /// Stated in the file.
    File,
    /// Inferred from the entries (input length of the first entry; largest label + 1).
    Inferred,
}

impl DatanetFile {
    /// Parses a datanet file from text; `what` names it in the error (e.g. the path).
    pub fn parse(text: &str, what: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| DatanetError::Malformed {
            what: format!("datanet file {what}"),
            detail: e.to_string(),
        })
    }

    /// Reads and parses a datanet file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| DatanetError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The spec to create this file's datanet with. Input shape and classes come from the
    /// arguments, else the file, else the entries; the sources are returned alongside
    /// (shape, classes) so a caller can say what was inferred.
    pub fn spec(
        &self,
        input_shape: Option<Vec<usize>>,
        classes: Option<u32>,
    ) -> Result<(DatanetSpec, [SpecSource; 2])> {
        let empty = |what: &str| {
            DatanetError::InvalidSpec(format!(
                "datanet file `{}` has no entries to infer the {what} from; give it explicitly",
                self.name
            ))
        };
        let (input_shape, shape_src) = match (input_shape, &self.input_shape) {
            (Some(s), _) => (s, SpecSource::Given),
            (None, Some(s)) => (s.clone(), SpecSource::File),
            (None, None) => {
                let first = self.entries.first().ok_or_else(|| empty("input length"))?;
                (vec![first.sample.len()], SpecSource::Inferred)
            }
        };
        let (classes, classes_src) = match (classes, self.classes) {
            (Some(c), _) => (c, SpecSource::Given),
            (None, Some(c)) => (c, SpecSource::File),
            (None, None) => {
                let max = self
                    .entries
                    .iter()
                    .map(|e| e.label)
                    .max()
                    .ok_or_else(|| empty("number of classes"))?;
                (max.saturating_add(1), SpecSource::Inferred)
            }
        };
        let spec = DatanetSpec {
            name: self.name.clone(),
            curator: self.curator,
            input_shape,
            classes,
        };
        spec.validate()?;
        Ok((spec, [shape_src, classes_src]))
    }
}

/// An entry that was added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// Index in the file's `entries`.
    pub entry: usize,
    /// Where it is now.
    pub at: EntryRef,
}

/// An entry that was not added, and why.
#[derive(Debug)]
pub struct Rejected {
    /// Index in the file's `entries`.
    pub entry: usize,
    /// Contributor as written in the file.
    pub contributor: String,
    /// The reason.
    pub error: DatanetError,
}

/// The outcome of an import.
#[derive(Debug)]
pub struct ImportReport {
    /// The datanet imported into.
    pub datanet: DatanetId,
    /// Added entries, in file order.
    pub accepted: Vec<Accepted>,
    /// Rejected entries, in file order.
    pub rejected: Vec<Rejected>,
}

/// Adds every valid entry of `file` to the open version of datanet `id` (in one store write)
/// and reports the rest. Fails as a whole only when the store does (unknown datanet, sealed
/// target, I/O).
pub fn import<S: DatanetStore + ?Sized>(
    store: &mut S,
    id: &DatanetId,
    file: &DatanetFile,
) -> Result<ImportReport> {
    let mut rejected = Vec::new();
    let mut batch = Vec::with_capacity(file.entries.len());
    let mut batch_entries = Vec::with_capacity(file.entries.len());
    for (i, e) in file.entries.iter().enumerate() {
        match e.contributor.parse::<Address>() {
            Ok(contributor) => {
                batch.push(NewContribution {
                    contributor,
                    sample: e.sample.clone(),
                    label: e.label,
                });
                batch_entries.push(i);
            }
            Err(error) => rejected.push(Rejected {
                entry: i,
                contributor: e.contributor.clone(),
                error,
            }),
        }
    }
    let results = store.add_all(id, None, batch)?;
    let mut accepted = Vec::with_capacity(results.len());
    for (entry, result) in batch_entries.into_iter().zip(results) {
        match result {
            Ok(at) => accepted.push(Accepted { entry, at }),
            Err(error) => rejected.push(Rejected {
                entry,
                contributor: file.entries[entry].contributor.clone(),
                error,
            }),
        }
    }
    rejected.sort_by_key(|r| r.entry);
    Ok(ImportReport {
        datanet: id.clone(),
        accepted,
        rejected,
    })
}
