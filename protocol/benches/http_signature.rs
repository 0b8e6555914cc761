//! Cost of the request-signature profile: signing and verifying one request
//! (ed25519 plus SHA-256 of a 64 KiB body), measured over many requests.
//! Run with `cargo bench -p seednet-protocol --bench http_signature`.

use std::time::Instant;

use seednet_protocol::federation::http_signature::{
    sign_request, verify_request, MemoryNonceCache, ReceivedHeaders, RequestParts, SignatureParams,
    VerifyPolicy,
};
use seednet_protocol::testing::test_key;

const REQUESTS: usize = 5_000;
const NOW: i64 = 1_767_225_600;

fn main() {
    let key = test_key(1);
    let body = vec![b'x'; 64 * 1024];
    println!("| operation | body | µs per request |");
    println!("|---|---:|---:|");
    for body in [&b""[..], &body[..]] {
        let request = RequestParts {
            method: "POST",
            target_uri: "https://gr.example/federation/v1/reconcile",
            body,
        };
        let nonces: Vec<String> = (0..REQUESTS).map(|n| format!("{n:032x}")).collect();
        let started = Instant::now();
        let signed: Vec<_> = nonces
            .iter()
            .map(|nonce| {
                sign_request(&key, &request, &SignatureParams::new(NOW, nonce.as_str())).unwrap()
            })
            .collect();
        let sign_us = started.elapsed().as_secs_f64() * 1e6 / REQUESTS as f64;
        let mut cache = MemoryNonceCache::new(REQUESTS);
        let started = Instant::now();
        for headers in &signed {
            let received = ReceivedHeaders {
                signature_input: Some(&headers.signature_input),
                signature: Some(&headers.signature),
                content_digest: headers.content_digest.as_deref(),
            };
            verify_request(
                &request,
                &received,
                NOW,
                &VerifyPolicy::default(),
                &|_| true,
                &mut cache,
            )
            .unwrap();
        }
        let verify_us = started.elapsed().as_secs_f64() * 1e6 / REQUESTS as f64;
        println!("| sign | {} B | {sign_us:.1} |", body.len());
        println!(
            "| verify (incl. nonce cache) | {} B | {verify_us:.1} |",
            body.len()
        );
        assert_eq!(cache.len(), REQUESTS, "every nonce recorded once");
    }
}
