//! SCRAM channel binding (`tls-server-end-point`, RFC 5929 §4.1): the hash of the server's
//! certificate, which binds the SCRAM exchange to this TLS connection, so that a server in
//! the middle (one holding another certificate) cannot relay it. The hash function is the one
//! the certificate's signature uses, SHA-256 when that is MD5 or SHA-1; a certificate whose
//! signature names no hash (Ed25519) has no binding, as with the server's OpenSSL.

use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

/// The hash functions a certificate's signature can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

/// The `tls-server-end-point` binding of the server's (end-entity) certificate, DER.
pub fn tls_server_end_point(certificate: &[u8]) -> Option<Vec<u8>> {
    Some(match signature_hash(certificate)? {
        Hash::Sha224 => Sha224::digest(certificate).to_vec(),
        Hash::Sha256 => Sha256::digest(certificate).to_vec(),
        Hash::Sha384 => Sha384::digest(certificate).to_vec(),
        Hash::Sha512 => Sha512::digest(certificate).to_vec(),
    })
}

/// The arcs of the OIDs met below, as DER encodes them (after the tag and length).
const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
const ECDSA_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01];
const ECDSA_SHA2: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03];
const NIST_HASH: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02];
const SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];

/// The hash of the certificate's `signatureAlgorithm` (RFC 5280: `Certificate ::= SEQUENCE {
/// tbsCertificate, signatureAlgorithm AlgorithmIdentifier, signatureValue }`), by RFC 5929's
/// rule: MD5 and SHA-1 become SHA-256.
fn signature_hash(certificate: &[u8]) -> Option<Hash> {
    let (body, _) = der(certificate, SEQUENCE)?;
    let (_, after_tbs) = der(body, SEQUENCE)?;
    let (algorithm, _) = der(after_tbs, SEQUENCE)?;
    let (oid, parameters) = der(algorithm, OID)?;
    match oid {
        [arcs @ .., last] if arcs == RSA => match last {
            // md5WithRSAEncryption, sha1WithRSAEncryption (by RFC 5929), sha256WithRSAEncryption
            4 | 5 | 11 => Some(Hash::Sha256),
            12 => Some(Hash::Sha384),
            13 => Some(Hash::Sha512),
            14 => Some(Hash::Sha224),
            // RSASSA-PSS: the hash is a parameter.
            10 => pss_hash(parameters),
            _ => None,
        },
        _ if oid == ECDSA_SHA1 => Some(Hash::Sha256),
        [arcs @ .., last] if arcs == ECDSA_SHA2 => match last {
            1 => Some(Hash::Sha224),
            2 => Some(Hash::Sha256),
            3 => Some(Hash::Sha384),
            4 => Some(Hash::Sha512),
            _ => None,
        },
        _ => None,
    }
}

/// The hash of `RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] AlgorithmIdentifier
/// DEFAULT sha1, … }`.
fn pss_hash(parameters: &[u8]) -> Option<Hash> {
    let (fields, _) = der(parameters, SEQUENCE)?;
    let Some((explicit, _)) = der(fields, 0xa0) else {
        return Some(Hash::Sha256); // the default, SHA-1
    };
    let (algorithm, _) = der(explicit, SEQUENCE)?;
    let (oid, _) = der(algorithm, OID)?;
    match oid {
        [arcs @ .., last] if arcs == NIST_HASH => match last {
            1 => Some(Hash::Sha256),
            2 => Some(Hash::Sha384),
            3 => Some(Hash::Sha512),
            4 => Some(Hash::Sha224),
            _ => None,
        },
        _ if oid == SHA1 => Some(Hash::Sha256),
        _ => None,
    }
}

const SEQUENCE: u8 = 0x30;
const OID: u8 = 0x06;

/// The contents of the DER element with `tag` at the start of `input`, and what follows it.
fn der(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = input.split_first()?;
    if first != tag {
        return None;
    }
    let (&length, rest) = rest.split_first()?;
    let (length, rest) = if length < 0x80 {
        (usize::from(length), rest)
    } else {
        let octets = usize::from(length & 0x7f);
        if octets == 0 || octets > 4 || rest.len() < octets {
            return None;
        }
        let (digits, rest) = rest.split_at(octets);
        let length = digits
            .iter()
            .fold(0usize, |n, &d| (n << 8) | usize::from(d));
        (length, rest)
    };
    (rest.len() >= length).then(|| rest.split_at(length))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DER element.
    fn element(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match contents.len() {
            n if n < 0x80 => out.push(n as u8),
            n => {
                out.push(0x82);
                out.extend(u16::try_from(n).unwrap().to_be_bytes());
            }
        }
        out.extend(contents);
        out
    }

    /// The shape of a certificate signed with the algorithm `oid` (and its `parameters`),
    /// with a to-be-signed part of `tbs_len` bytes.
    fn certificate(oid: &[u8], parameters: &[u8], tbs_len: usize) -> Vec<u8> {
        let mut algorithm = element(OID, oid);
        algorithm.extend(parameters);
        let mut body = element(SEQUENCE, &vec![0x02; tbs_len]);
        body.extend(element(SEQUENCE, &algorithm));
        body.extend(element(0x03, &[0, 1, 2, 3]));
        element(SEQUENCE, &body)
    }

    fn oid(arcs: &[u8], last: u8) -> Vec<u8> {
        let mut oid = arcs.to_vec();
        oid.push(last);
        oid
    }

    #[test]
    fn the_hash_is_the_signatures_and_sha256_for_md5_and_sha1() {
        let cases = [
            (oid(ECDSA_SHA2, 2), Some(Hash::Sha256)),
            (oid(ECDSA_SHA2, 3), Some(Hash::Sha384)),
            (ECDSA_SHA1.to_vec(), Some(Hash::Sha256)),
            (oid(RSA, 11), Some(Hash::Sha256)),
            (oid(RSA, 13), Some(Hash::Sha512)),
            (oid(RSA, 5), Some(Hash::Sha256)),
            (oid(RSA, 4), Some(Hash::Sha256)),
            // Ed25519: no hash, no binding.
            (vec![0x2b, 0x65, 0x70], None),
        ];
        for (algorithm, hash) in cases {
            // A to-be-signed part long enough for a long-form length.
            let cert = certificate(&algorithm, &[0x05, 0x00], 300);
            assert_eq!(signature_hash(&cert), hash, "{algorithm:x?}");
        }
        let cert = certificate(&oid(ECDSA_SHA2, 2), &[], 10);
        assert_eq!(
            tls_server_end_point(&cert),
            Some(Sha256::digest(&cert).to_vec())
        );
        assert_eq!(signature_hash(&cert[..cert.len() - 3]), None, "truncated");
    }

    #[test]
    fn a_pss_signature_names_its_hash_in_its_parameters() {
        let sha384 = element(SEQUENCE, &element(OID, &oid(NIST_HASH, 2)));
        let parameters = element(SEQUENCE, &element(0xa0, &sha384));
        let cert = certificate(&oid(RSA, 10), &parameters, 20);
        assert_eq!(signature_hash(&cert), Some(Hash::Sha384));
        let defaults = element(SEQUENCE, &[]);
        let cert = certificate(&oid(RSA, 10), &defaults, 20);
        assert_eq!(signature_hash(&cert), Some(Hash::Sha256));
    }
}
