//! Datanets: versioned collections of labelled samples from named contributors, the data whose
//! influence on an output Proof of Attribution measures.
//!
//! - [`types`]: addresses, ids, hashes, roots, entry references.
//! - [`record`]: the [`Datanet`] record and its rules — add (validated, de-duplicated), seal.
//! - [`fingerprint`]: the content hash (exact duplicates) and quantized sample (near duplicates).
//! - [`validate`]: per-contribution checks and the duplicate index.
//! - [`store`]: the [`DatanetStore`] trait; [`file_store`]: [`FileStore`], one JSON file each.
//! - [`import`](mod@import): adding a whole file of contributions.
//!
//! Versions: version 1 is open at creation; sealing freezes the open version under a Merkle
//! root the caller computes over [`Version::leaves`] (in poa-circuits, which this crate must not
//! depend on) and opens the next version. Sealed versions never change.

pub mod error;
pub mod file_store;
pub mod fingerprint;
pub mod import;
pub mod record;
pub mod store;
pub mod types;
pub mod validate;

pub use error::{DatanetError, Result};
pub use file_store::{FileStore, FILE_STORE_FORMAT};
pub use fingerprint::{content_hash, leaves_digest, quantize, NEAR_DUPLICATE_BITS};
pub use import::{import, Accepted, DatanetFile, ImportReport, Rejected, SpecSource};
pub use record::{
    Contribution, Datanet, DatanetSpec, NewContribution, Seal, SealedVersion, Version,
};
pub use store::{unix_now, DatanetStore};
pub use types::{Address, ContentHash, DatanetId, EntryRef, Leaf, Root};
