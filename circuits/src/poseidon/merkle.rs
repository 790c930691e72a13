//! The Merkle root of [`super::merkle_root`] in the circuit, node by node with the Poseidon chip.

use halo2_proofs::circuit::Region;
use halo2_proofs::plonk::Error;
use halo2curves::bn256::Fr;

use super::chip::{rows_for, PoseidonChip};
use crate::chips::FVar;

/// Rows [`root`] uses for `n ≥ 1` leaves: one two-element hash per node, plus the count hash.
pub fn rows(n: usize) -> usize {
    let mut nodes = 0;
    let mut level = n.max(1);
    loop {
        level = level.div_ceil(2);
        nodes += level;
        if level == 1 {
            break;
        }
    }
    (nodes + 1) * rows_for(2)
}

/// Lays out [`super::merkle_root`] of `leaves` (at least one) from `offset`. `zero` and `count`
/// must be cells pinned to 0 and `leaves.len()` (the odd-node sibling and the count hashed in
/// at the top). Returns the root and the rows used.
pub fn root(
    chip: &PoseidonChip,
    region: &mut Region<'_, Fr>,
    offset: usize,
    leaves: &[FVar],
    zero: FVar,
    count: FVar,
) -> Result<(FVar, usize), Error> {
    if leaves.is_empty() {
        return Err(Error::Synthesis);
    }
    let mut row = offset;
    let mut level: Vec<FVar> = leaves.to_vec();
    loop {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            let (h, used) = chip.hash(
                region,
                row,
                &[pair[0], *pair.get(1).unwrap_or(&zero)],
                false,
            )?;
            row += used;
            next.push(h);
        }
        level = next;
        if level.len() == 1 {
            break;
        }
    }
    let (r, used) = chip.hash(region, row, &[level[0], count], false)?;
    row += used;
    debug_assert_eq!(row - offset, rows(leaves.len()));
    Ok((r, row - offset))
}
