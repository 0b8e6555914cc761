//! Tests of the request-signature profile: the RFC's own examples reproduce
//! byte for byte (so the base construction and structured-field serialisation
//! are right), a seednet vector pins the profile, and every way a request can
//! be wrong is refused with its own error.

use super::*;
use crate::testing::test_key;

fn base64url_decode(text: &str) -> Vec<u8> {
    let mut standard: String = text
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            other => other,
        })
        .collect();
    while !standard.len().is_multiple_of(4) {
        standard.push('=');
    }
    base64::decode(&standard).unwrap()
}

/// RFC 9421 appendix B.2.6 (ed25519 over the B.2 test request) with the key of
/// appendix B.1.4: our base construction and serialisation of the inner list
/// produce the RFC's signature exactly.
#[test]
fn rfc9421_b26_ed25519_example_reproduces() {
    let seed: [u8; 32] = base64url_decode("n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU")
        .try_into()
        .unwrap();
    let public = base64url_decode("JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs");
    let key = NodeKey::from_seed(seed);
    assert_eq!(key.node_id().as_bytes().as_slice(), public.as_slice());

    let input = r#"sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519""#;
    let members = parse_dictionary(input, HEADER_SIGNATURE_INPUT).unwrap();
    let Some(Member::InnerList(list)) = members.get("sig-b26") else {
        panic!("inner list expected");
    };
    let base = signature_base(
        &[
            ("date", "Tue, 20 Apr 2021 02:07:55 GMT"),
            ("@method", "POST"),
            ("@path", "/foo"),
            ("@authority", "example.com"),
            ("content-type", "application/json"),
            ("content-length", "18"),
        ],
        None,
        &list.serialize(),
    );
    let expected_base = "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n\
\"@method\": POST\n\
\"@path\": /foo\n\
\"@authority\": example.com\n\
\"content-type\": application/json\n\
\"content-length\": 18\n\
\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-ed25519\"";
    assert_eq!(base, expected_base);
    let signature = key.sign_message(base.as_bytes());
    assert_eq!(
        base64::encode(&signature.0),
        "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw=="
    );
    assert!(verify_base(&key.node_id(), &base, &signature));
}

/// RFC 9530 appendix B.1 example body.
#[test]
fn rfc9530_content_digest_example() {
    assert_eq!(
        content_digest(br#"{"hello": "world"}"#),
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
    );
}

const NOTIFY_URI: &str = "https://gr.example/federation/v1/notify";
const NOTIFY_BODY: &[u8] = br#"{"head_seq":42}"#;
const CREATED: i64 = 1_767_225_600;
const NONCE: &str = "0123456789abcdef0123456789abcdef";

fn notify_request() -> RequestParts<'static> {
    RequestParts {
        method: "POST",
        target_uri: NOTIFY_URI,
        body: NOTIFY_BODY,
    }
}

fn params() -> SignatureParams {
    SignatureParams::new(CREATED, NONCE)
}

/// The seednet vector documented in `docs/PROTOCOL.md`: key `test_key(1)`
/// (seed = 32 bytes 0x01) signs a notify. The base and header values are the
/// profile; the signature is deterministic (ed25519) and was computed
/// independently with Python (hashlib + PyNaCl) from the same base.
#[test]
fn seednet_notify_vector() {
    let key = test_key(1);
    let node = key.node_id().to_hex();
    let headers = sign_request(&key, &notify_request(), &params()).unwrap();
    let expected_input = format!(
        "seednet=(\"@method\" \"@target-uri\" \"content-digest\");created=1767225600;expires=1767225660;nonce=\"{NONCE}\";alg=\"ed25519\";keyid=\"{node}\""
    );
    assert_eq!(headers.signature_input, expected_input);
    assert_eq!(
        headers.content_digest.as_deref(),
        Some("sha-256=:w+oI0mK3n3cPVRDnz85uXd7gISo+q8D56soJuEEPW2c=:")
    );
    let base = signature_base_for(&notify_request(), &headers.signature_input).unwrap();
    let expected_base = format!(
        "\"@method\": POST\n\"@target-uri\": {NOTIFY_URI}\n\"content-digest\": sha-256=:w+oI0mK3n3cPVRDnz85uXd7gISo+q8D56soJuEEPW2c=:\n\"@signature-params\": {}",
        &expected_input["seednet=".len()..]
    );
    assert_eq!(base, expected_base);
    assert_eq!(headers.signature, SEEDNET_VECTOR_SIGNATURE);
}

const SEEDNET_VECTOR_SIGNATURE: &str = "seednet=:Ax4d/PVg51pkdRpsMcGCxiytm40ZGiNEmvWSkUmKanUFYd/rdrcuw5uzK4fbQ99L7vHNW+PVGEx2zI5aT2JYCw==:";

fn received(headers: &SignatureHeaders) -> ReceivedHeaders<'_> {
    ReceivedHeaders {
        signature_input: Some(&headers.signature_input),
        signature: Some(&headers.signature),
        content_digest: headers.content_digest.as_deref(),
    }
}

/// Verifies `headers` for `request` at `now` against a fresh cache that accepts
/// key 1 only.
fn check(
    request: &RequestParts<'_>,
    headers: &ReceivedHeaders<'_>,
    now: i64,
) -> Result<VerifiedRequest, SignatureError> {
    let known = test_key(1).node_id();
    let mut cache = MemoryNonceCache::new(16);
    verify_request(
        request,
        headers,
        now,
        &VerifyPolicy::default(),
        &|node| *node == known,
        &mut cache,
    )
}

#[test]
fn signed_requests_verify_with_and_without_body() {
    let key = test_key(1);
    let headers = sign_request(&key, &notify_request(), &params()).unwrap();
    let verified = check(&notify_request(), &received(&headers), CREATED + 1).unwrap();
    assert_eq!(verified.signer, key.node_id());
    assert_eq!(verified.nonce, NONCE);

    let get = RequestParts {
        method: "GET",
        target_uri: "https://gr.example/federation/v1/changes?since=10&limit=500",
        body: b"",
    };
    let headers = sign_request(&key, &get, &params()).unwrap();
    assert_eq!(headers.content_digest, None);
    assert!(headers
        .signature_input
        .starts_with("seednet=(\"@method\" \"@target-uri\");created="));
    check(&get, &received(&headers), CREATED).unwrap();
}

#[test]
fn replayed_nonce_is_refused_and_cache_is_bounded() {
    let key = test_key(1);
    let headers = sign_request(&key, &notify_request(), &params()).unwrap();
    let mut cache = MemoryNonceCache::new(2);
    let verify = |cache: &mut MemoryNonceCache, headers: &SignatureHeaders| {
        verify_request(
            &notify_request(),
            &received(headers),
            CREATED,
            &VerifyPolicy::default(),
            &|_| true,
            cache,
        )
    };
    verify(&mut cache, &headers).unwrap();
    assert_eq!(
        verify(&mut cache, &headers),
        Err(SignatureError::ReplayedNonce)
    );
    let second = sign_request(
        &key,
        &notify_request(),
        &SignatureParams::new(CREATED, "second-nonce-0000"),
    )
    .unwrap();
    verify(&mut cache, &second).unwrap();
    let third = sign_request(
        &key,
        &notify_request(),
        &SignatureParams::new(CREATED, "third-nonce-00000"),
    )
    .unwrap();
    assert!(matches!(
        verify(&mut cache, &third),
        Err(SignatureError::NonceCache(_))
    ));
    // Once the first two have expired, the cache accepts new nonces again.
    cache.set_now(CREATED + 60 + SIGNATURE_SKEW_SECONDS_DEFAULT + 1);
    assert!(cache
        .insert_if_fresh(&key.node_id(), "fourth-nonce-0000", CREATED + 1000)
        .unwrap());
    assert_eq!(cache.len(), 1);
}

/// One case per failure: a change to a correctly signed request and the error
/// it must produce.
#[test]
fn each_failure_has_its_error() {
    let key = test_key(1);
    let good = sign_request(&key, &notify_request(), &params()).unwrap();
    let other_key = test_key(2);
    let other = sign_request(&other_key, &notify_request(), &params()).unwrap();
    let replace_input = |from: &str, to: &str| good.signature_input.replace(from, to);

    struct Case {
        name: &'static str,
        request: RequestParts<'static>,
        input: Option<String>,
        signature: Option<String>,
        digest: Option<String>,
        now: i64,
        expect: fn(&SignatureError) -> bool,
    }
    let base = |name| Case {
        name,
        request: notify_request(),
        input: Some(good.signature_input.clone()),
        signature: Some(good.signature.clone()),
        digest: good.content_digest.clone(),
        now: CREATED,
        expect: |_| false,
    };
    let cases = vec![
        Case {
            input: None,
            expect: |e| matches!(e, SignatureError::MissingHeader(HEADER_SIGNATURE_INPUT)),
            ..base("no signature-input")
        },
        Case {
            signature: None,
            expect: |e| matches!(e, SignatureError::MissingHeader(HEADER_SIGNATURE)),
            ..base("no signature")
        },
        Case {
            input: Some("seednet=(\"@method\"".into()),
            expect: |e| matches!(e, SignatureError::MalformedHeader { .. }),
            ..base("unterminated inner list")
        },
        Case {
            input: Some(good.signature_input.replace("seednet=", "other=")),
            expect: |e| matches!(e, SignatureError::MissingLabel),
            ..base("other label")
        },
        Case {
            input: Some(replace_input(" \"content-digest\"", "")),
            expect: |e| matches!(e, SignatureError::WrongComponents { .. }),
            ..base("digest not covered")
        },
        Case {
            input: Some(replace_input(";alg=\"ed25519\"", ";alg=\"rsa-pss-sha512\"")),
            expect: |e| matches!(e, SignatureError::UnsupportedAlgorithm(_)),
            ..base("other algorithm")
        },
        Case {
            input: Some(replace_input(";alg=\"ed25519\"", "")),
            expect: |e| matches!(e, SignatureError::MissingParameter("alg")),
            ..base("no alg")
        },
        Case {
            input: Some(format!("{};tag=\"x\"", good.signature_input)),
            expect: |e| matches!(e, SignatureError::BadParameter { .. }),
            ..base("extra parameter")
        },
        Case {
            input: Some(replace_input(
                &format!("nonce=\"{NONCE}\""),
                "nonce=\"short\"",
            )),
            expect: |e| matches!(e, SignatureError::BadNonce),
            ..base("short nonce")
        },
        Case {
            digest: None,
            expect: |e| matches!(e, SignatureError::MissingDigest),
            ..base("no digest header")
        },
        Case {
            request: RequestParts {
                body: br#"{"head_seq":43}"#,
                ..notify_request()
            },
            expect: |e| matches!(e, SignatureError::BadDigest),
            ..base("tampered body")
        },
        Case {
            digest: Some("sha-512=:AAAA:".into()),
            expect: |e| matches!(e, SignatureError::BadDigest),
            ..base("no sha-256 digest")
        },
        Case {
            now: CREATED + 60 + SIGNATURE_SKEW_SECONDS_DEFAULT + 1,
            expect: |e| matches!(e, SignatureError::Expired { .. }),
            ..base("expired")
        },
        Case {
            now: CREATED - SIGNATURE_SKEW_SECONDS_DEFAULT - 1,
            expect: |e| matches!(e, SignatureError::FromTheFuture { .. }),
            ..base("from the future")
        },
        Case {
            input: Some(replace_input("expires=1767225660", "expires=1767235660")),
            expect: |e| matches!(e, SignatureError::BadLifetime { .. }),
            ..base("lifetime too long")
        },
        Case {
            input: Some(other.signature_input.clone()),
            signature: Some(other.signature.clone()),
            expect: |e| matches!(e, SignatureError::UnknownKey(_)),
            ..base("unknown key")
        },
        Case {
            request: RequestParts {
                target_uri: "https://ro.example/federation/v1/notify",
                ..notify_request()
            },
            expect: |e| matches!(e, SignatureError::BadSignature),
            ..base("signed for another node")
        },
        Case {
            request: RequestParts {
                method: "PUT",
                ..notify_request()
            },
            expect: |e| matches!(e, SignatureError::BadSignature),
            ..base("other method")
        },
        Case {
            input: Some(replace_input("created=1767225600", "created=1767225601")),
            expect: |e| matches!(e, SignatureError::BadSignature),
            ..base("parameters changed after signing")
        },
        Case {
            signature: Some(other.signature.clone()),
            expect: |e| matches!(e, SignatureError::BadSignature),
            ..base("signature of another key")
        },
        Case {
            signature: Some("seednet=:AAAA:".into()),
            expect: |e| matches!(e, SignatureError::MalformedHeader { .. }),
            ..base("short signature")
        },
        Case {
            input: Some(replace_input(&key.node_id().to_hex(), "abc")),
            expect: |e| matches!(e, SignatureError::BadKeyId(_)),
            ..base("keyid not a node id")
        },
    ];
    for case in cases {
        let headers = ReceivedHeaders {
            signature_input: case.input.as_deref(),
            signature: case.signature.as_deref(),
            content_digest: case.digest.as_deref(),
        };
        let result = check(&case.request, &headers, case.now);
        match result {
            Err(error) => {
                assert!(
                    (case.expect)(&error),
                    "{}: unexpected error {error:?}",
                    case.name
                );
                assert_eq!(error.http_status(), 401, "{}", case.name);
                assert!(error.code().starts_with("signature_"), "{}", case.name);
            }
            Ok(_) => panic!("{}: accepted", case.name),
        }
    }
}

#[test]
fn signer_refuses_bad_parameters() {
    let key = test_key(1);
    let bad_nonce = SignatureParams::new(CREATED, "has space in it!!");
    assert_eq!(
        sign_request(&key, &notify_request(), &bad_nonce),
        Err(SignatureError::BadNonce)
    );
    let mut too_long = params();
    too_long.expires_unix_seconds = CREATED + SIGNATURE_LIFETIME_SECONDS_MAX + 1;
    assert!(matches!(
        sign_request(&key, &notify_request(), &too_long),
        Err(SignatureError::BadLifetime { .. })
    ));
    let relative = RequestParts {
        target_uri: "/federation/v1/notify",
        ..notify_request()
    };
    assert_eq!(
        sign_request(&key, &relative, &params()),
        Err(SignatureError::BadTargetUri)
    );
}

/// Parsing accepts what RFC 8941 allows (spaces after commas, other members)
/// and the base uses the received parameter order.
#[test]
fn verifier_accepts_other_members_and_parameter_order() {
    let key = test_key(1);
    let node = key.node_id().to_hex();
    let input = format!(
        "other=(\"@method\");created=1, seednet=(\"@method\" \"@target-uri\" \"content-digest\");keyid=\"{node}\";alg=\"ed25519\";nonce=\"{NONCE}\";expires=1767225660;created=1767225600"
    );
    let base = signature_base_for(&notify_request(), &input).unwrap();
    let signature = key.sign_message(base.as_bytes());
    let signature_header = format!("other=:AAAA:, seednet=:{}:", base64::encode(&signature.0));
    let digest = content_digest(NOTIFY_BODY);
    let headers = ReceivedHeaders {
        signature_input: Some(&input),
        signature: Some(&signature_header),
        content_digest: Some(&digest),
    };
    check(&notify_request(), &headers, CREATED).unwrap();
}

mod properties {
    //! Any request the profile can sign verifies, and changing any single
    //! byte of the signature headers, the body or the target makes it fail.
    use proptest::prelude::*;

    use super::*;

    fn check_any(
        request: &RequestParts<'_>,
        headers: &ReceivedHeaders<'_>,
    ) -> Result<VerifiedRequest, SignatureError> {
        let mut cache = MemoryNonceCache::new(4);
        verify_request(
            request,
            headers,
            CREATED,
            &VerifyPolicy::default(),
            &|_| true,
            &mut cache,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn signed_requests_verify_and_single_changes_fail(
            path in "/[a-z0-9/._~-]{0,40}",
            query in proptest::option::of("[a-z0-9=&%]{1,30}"),
            nonce in "[A-Za-z0-9_-]{16,64}",
            body in proptest::collection::vec(any::<u8>(), 0..200),
            post in any::<bool>(),
            position in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let target_uri = match &query {
                Some(query) => format!("https://ro.example{path}?{query}"),
                None => format!("https://ro.example{path}"),
            };
            let request = RequestParts {
                method: if post { "POST" } else { "GET" },
                target_uri: &target_uri,
                body: &body,
            };
            let key = test_key(3);
            let headers = sign_request(&key, &request, &SignatureParams::new(CREATED, nonce.as_str())).unwrap();
            let verified = check_any(&request, &received(&headers)).unwrap();
            prop_assert_eq!(verified.signer, key.node_id());

            // One changed byte in Signature-Input: refused (whatever the reason).
            let mut input = headers.signature_input.clone().into_bytes();
            let at = position.index(input.len());
            input[at] ^= flip;
            if let Ok(input) = String::from_utf8(input) {
                let changed = ReceivedHeaders {
                    signature_input: Some(&input),
                    ..received(&headers)
                };
                prop_assert!(check_any(&request, &changed).is_err());
            }
            // One changed byte in the body: refused.
            if !body.is_empty() {
                let mut other_body = body.clone();
                let at = position.index(other_body.len());
                other_body[at] ^= flip;
                let changed = RequestParts { body: &other_body, ..request };
                prop_assert!(check_any(&changed, &received(&headers)).is_err());
            }
            // Another target: refused.
            let other_uri = format!("{target_uri}x");
            let changed = RequestParts { target_uri: &other_uri, ..request };
            prop_assert!(check_any(&changed, &received(&headers)).is_err());
        }
    }
}
