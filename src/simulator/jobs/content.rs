//! Synthetic content for job results: readable text, PNG-like bytes in base64, and job ids.

use rand::Rng;

/// A 40-character lowercase id like the ones Google gives batches.
pub(super) fn random_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..40)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Exactly `len` characters of readable text that differ per request.
pub(super) fn synthetic_text(index: usize, len: usize) -> String {
    let sentence = format!("Synthetic answer {index} from the batchprobe simulator. ");
    sentence.chars().cycle().take(len).collect()
}

/// Base64 of a `len`-byte blob that starts with the PNG signature.
pub(super) fn synthetic_png_base64(index: usize, len: usize) -> String {
    const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
    let bytes: Vec<u8> = (0..len)
        .map(|i| {
            SIGNATURE
                .get(i)
                .copied()
                .unwrap_or(((i * 31 + index * 7) % 251) as u8)
        })
        .collect();
    base64(&bytes)
}

/// Standard base64 with padding.
pub(super) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for position in 0..4 {
            if position <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * position) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
