//! The binary container every OpenPoA key and SRS file uses — defined here and nowhere else.
//!
//! ```text
//! offset size
//!   0     8   magic            (per kind: POASRS01, POAPK001, POAVK001)
//!   8     4   format version   u32 LE (FORMAT_VERSION)
//!  12     4   flags            u32 LE (bit 0: made with the insecure dev SRS)
//!  16     4   k                u32 LE
//!  20     4   public instances u32 LE (0 for an SRS)
//!  24    32   model digest     (QModel::digest; zero for an SRS)
//!  56    32   circuit digest   (crate::digest; zero for an SRS)
//!  88     8   payload length   u64 LE
//!  96    32   checksum         SHA-256 over bytes 0..96 and the payload
//! 128     …   payload          halo2's serialization
//! ```
//! The checksum covers the header fields as well as the payload, so a flipped flag (say, clearing
//! the insecure bit) is caught like a flipped payload byte. Fields are checked in the order
//! magic → version → flags → length → checksum, so each fault gets the most specific error.

use sha2::{Digest, Sha256};

use crate::error::{ProverError, Result};

/// Version of the container and of the payload encodings inside it.
pub const FORMAT_VERSION: u32 = 1;
/// Flag: the artifact was made with the insecure, seed-generated dev SRS.
pub const FLAG_INSECURE: u32 = 1;
/// Key flag: the circuit's input is `hashed` (its commitment is public).
pub const FLAG_INPUT_HASHED: u32 = 2;
/// Key flag: the circuit's input is `private`.
pub const FLAG_INPUT_PRIVATE: u32 = 4;
/// Key flag: the circuit proves top-k attribution on top of the inference.
pub const FLAG_ATTRIBUTION: u32 = 8;
/// Key flag: an inference circuit with its range checks split over two bands (its plan chose it
/// to lower k; attribution circuits always have two).
pub const FLAG_SPLIT_RANGE: u32 = 16;
/// Key flag: the circuit's weights are `hashed` (private, their commitment public); the
/// header's model digest is then the model's shape digest (`poa_circuits::weights::shape_digest`).
pub const FLAG_WEIGHTS_HASHED: u32 = 32;
/// Key flag: the narrow layout (`poa_circuits::narrow`); the payload starts with the circuit's
/// shape (`u64 LE` length, then JSON `[params, break_points]`) before halo2's bytes.
pub const FLAG_NARROW: u32 = 64;
/// Keys of the dense layout ([`poa_circuits::dense`]).
pub const FLAG_DENSE: u32 = 128;
/// Key flag: a dense-layout circuit with the activation-table lookup
/// (`poa_circuits::dense::DenseParams::tables`), which halo2 must configure to read the key.
pub const FLAG_DENSE_TABLES: u32 = 256;
const KNOWN_FLAGS: u32 = FLAG_INSECURE
    | FLAG_NARROW
    | FLAG_DENSE
    | FLAG_DENSE_TABLES
    | FLAG_INPUT_HASHED
    | FLAG_INPUT_PRIVATE
    | FLAG_ATTRIBUTION
    | FLAG_SPLIT_RANGE
    | FLAG_WEIGHTS_HASHED;
/// Size of the header in bytes.
pub const HEADER_LEN: usize = 128;

/// Which artifact a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// KZG parameters.
    Srs,
    /// Proving key.
    ProvingKey,
    /// Verifying key.
    VerifyingKey,
}

impl Kind {
    /// The file's magic bytes.
    pub fn magic(self) -> &'static [u8; 8] {
        match self {
            Kind::Srs => b"POASRS01",
            Kind::ProvingKey => b"POAPK001",
            Kind::VerifyingKey => b"POAVK001",
        }
    }

    /// Name used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Srs => "SRS",
            Kind::ProvingKey => "proving key",
            Kind::VerifyingKey => "verifying key",
        }
    }
}

/// The header fields (everything but magic, version, length and checksum, which are derived).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Artifact kind.
    pub kind: Kind,
    /// Flag bits ([`FLAG_INSECURE`]).
    pub flags: u32,
    /// Circuit size exponent.
    pub k: u32,
    /// Number of public instances of the circuit (0 for an SRS).
    pub instances: u32,
    /// Model digest (zero for an SRS).
    pub model_digest: [u8; 32],
    /// Circuit digest (zero for an SRS).
    pub circuit_digest: [u8; 32],
}

impl Header {
    /// True when the insecure-SRS flag is set.
    pub fn insecure(&self) -> bool {
        self.flags & FLAG_INSECURE != 0
    }

    /// Header followed by `payload`, checksummed.
    pub fn seal(&self, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(self.kind.magic());
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.extend_from_slice(&self.k.to_le_bytes());
        out.extend_from_slice(&self.instances.to_le_bytes());
        out.extend_from_slice(&self.model_digest);
        out.extend_from_slice(&self.circuit_digest);
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        let sum = checksum(&out, payload);
        out.extend_from_slice(&sum);
        out.extend_from_slice(payload);
        out
    }

    /// Checks a file of kind `kind` and returns its header and payload.
    pub fn open(kind: Kind, bytes: &[u8]) -> Result<(Header, &[u8])> {
        let what = kind.name();
        let short = || ProverError::Length {
            what,
            expected: HEADER_LEN as u64,
            found: bytes.len() as u64,
        };
        let magic = bytes.get(..8).ok_or_else(short)?;
        if magic != kind.magic() {
            return Err(ProverError::BadMagic {
                what,
                expected: String::from_utf8_lossy(kind.magic()).into_owned(),
                found: String::from_utf8_lossy(magic).into_owned(),
            });
        }
        if bytes.len() < HEADER_LEN {
            return Err(short());
        }
        let u32_at =
            |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
        let version = u32_at(8);
        if version != FORMAT_VERSION {
            return Err(ProverError::UnsupportedVersion {
                what,
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let flags = u32_at(12);
        if flags & !KNOWN_FLAGS != 0 {
            return Err(ProverError::UnknownFlags { what, flags });
        }
        let mut len = [0u8; 8];
        len.copy_from_slice(&bytes[88..96]);
        let payload_len = u64::from_le_bytes(len);
        let found = bytes.len() as u64;
        if Some(found) != payload_len.checked_add(HEADER_LEN as u64) {
            return Err(ProverError::Length {
                what,
                expected: payload_len.saturating_add(HEADER_LEN as u64),
                found,
            });
        }
        let payload = &bytes[HEADER_LEN..];
        if checksum(&bytes[..96], payload)[..] != bytes[96..HEADER_LEN] {
            return Err(ProverError::Checksum { what });
        }
        let digest = |o: usize| {
            let mut d = [0u8; 32];
            d.copy_from_slice(&bytes[o..o + 32]);
            d
        };
        Ok((
            Header {
                kind,
                flags,
                k: u32_at(16),
                instances: u32_at(20),
                model_digest: digest(24),
                circuit_digest: digest(56),
            },
            payload,
        ))
    }
}

fn checksum(header: &[u8], payload: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(header);
    h.update(payload);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            kind: Kind::VerifyingKey,
            flags: FLAG_INSECURE,
            k: 11,
            instances: 65,
            model_digest: [7; 32],
            circuit_digest: [9; 32],
        }
    }

    #[test]
    fn round_trips_and_rejects_each_fault() {
        let file = sample().seal(b"payload");
        let (h, p) = Header::open(Kind::VerifyingKey, &file).expect("opens");
        assert_eq!((h, p), (sample(), &b"payload"[..]));

        assert!(matches!(
            Header::open(Kind::ProvingKey, &file),
            Err(ProverError::BadMagic { .. })
        ));
        let mut v = file.clone();
        v[8] = 2;
        assert!(matches!(
            Header::open(Kind::VerifyingKey, &v),
            Err(ProverError::UnsupportedVersion { found: 2, .. })
        ));
        let mut f = file.clone();
        f[13] |= 2; // flag 512: no layout or visibility has it

        assert!(matches!(
            Header::open(Kind::VerifyingKey, &f),
            Err(ProverError::UnknownFlags { .. })
        ));
        // Clearing the insecure bit is a checksum error, not a silent upgrade to "secure".
        let mut f = file.clone();
        f[12] = 0;
        assert!(matches!(
            Header::open(Kind::VerifyingKey, &f),
            Err(ProverError::Checksum { .. })
        ));
        let mut p = file.clone();
        *p.last_mut().expect("non-empty") ^= 1;
        assert!(matches!(
            Header::open(Kind::VerifyingKey, &p),
            Err(ProverError::Checksum { .. })
        ));
        assert!(matches!(
            Header::open(Kind::VerifyingKey, &file[..file.len() - 1]),
            Err(ProverError::Length { .. })
        ));
        assert!(matches!(
            Header::open(Kind::VerifyingKey, &file[..20]),
            Err(ProverError::Length { .. })
        ));
    }
}
