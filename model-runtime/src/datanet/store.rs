//! The storage interface for datanets, so the CLI's file store and the node's database store
//! are interchangeable. Implementations apply the rules of [`Datanet`] and persist the result
//! only when it succeeded: a rejected contribution or a failed write changes nothing.

use super::error::Result;
use super::record::{Contribution, Datanet, DatanetSpec, NewContribution, SealedVersion};
use super::types::{DatanetId, EntryRef, Root};

/// Unix seconds from the system clock (0 if the clock is before 1970).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A place that keeps datanets.
pub trait DatanetStore {
    /// Creates a datanet with version 1 open. The id is [`DatanetId::slug_of`] the name, with
    /// `-2`, `-3`, … appended when that id is taken.
    fn create(&mut self, spec: DatanetSpec) -> Result<Datanet>;

    /// The datanet `id`, or [`super::DatanetError::UnknownDatanet`].
    fn get(&self, id: &DatanetId) -> Result<Datanet>;

    /// Ids of every datanet in the store, sorted.
    fn list(&self) -> Result<Vec<DatanetId>>;

    /// Validates one contribution and adds it to the open version, stamped with the current
    /// time. `version`, when given, must be the open version (a sealed one is
    /// [`super::DatanetError::VersionSealed`]).
    fn add(
        &mut self,
        id: &DatanetId,
        version: Option<u32>,
        contribution: NewContribution,
    ) -> Result<EntryRef>;

    /// Adds many contributions in one write; each is accepted or rejected on its own (see
    /// [`Datanet::add_all`]). The outer error is a failure of the whole batch.
    fn add_all(
        &mut self,
        id: &DatanetId,
        version: Option<u32>,
        contributions: Vec<NewContribution>,
    ) -> Result<Vec<Result<EntryRef>>>;

    /// Seals the open version under `root` (see [`Datanet::seal`]) and opens the next one.
    fn seal(&mut self, id: &DatanetId, root: Root) -> Result<SealedVersion>;

    /// The contributions of version `version`, in order.
    fn entries(&self, id: &DatanetId, version: u32) -> Result<Vec<Contribution>> {
        Ok(self.get(id)?.version(version)?.contributions.clone())
    }
}
