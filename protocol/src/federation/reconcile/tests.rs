//! Tests of set reconciliation: for random sets over many seeds the initiator
//! finds exactly the symmetric difference, including version changes and
//! equivocations, with tiny and default tunings; malformed messages are
//! refused. Round trips and bytes are measured in the bench, not here.

use std::convert::Infallible;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

fn random_item(rng: &mut StdRng) -> Item {
    let item_id: [u8; 32] = rng.gen();
    Item::new(
        ItemKey::new(item_id, rng.gen_range(1..4)),
        VersionHash(rng.gen()),
    )
}

fn sorted(mut items: Vec<Item>) -> Vec<Item> {
    items.sort();
    items.dedup();
    items
}

/// Runs a full reconciliation between `ours` (initiator) and `theirs`.
fn run(ours: &[Item], theirs: &[Item], config: ReconcileConfig) -> Outcome {
    let mut reconciler = Reconciler::new(config);
    let mut message = reconciler.initiate(ours).unwrap();
    loop {
        let reply = respond(&config, theirs, &message).unwrap();
        match reconciler.reconcile(ours, &reply).unwrap() {
            Some(next) => message = next,
            None => break,
        }
    }
    reconciler.finish()
}

/// The expected outcome, computed by plain set difference.
fn check(ours: &[Item], theirs: &[Item], config: ReconcileConfig) {
    let outcome = run(ours, theirs, config);
    let their_set: BTreeSet<&Item> = theirs.iter().collect();
    let our_set: BTreeSet<&Item> = ours.iter().collect();
    let have: Vec<Item> = ours
        .iter()
        .filter(|i| !their_set.contains(i))
        .copied()
        .collect();
    let need: Vec<Item> = theirs
        .iter()
        .filter(|i| !our_set.contains(i))
        .copied()
        .collect();
    assert_eq!(outcome.have, have, "have differs");
    assert_eq!(outcome.need, need, "need differs");
}

/// Two sets sharing `common` items, each with its own extra items, some of
/// which are other versions (or equivocating copies) of shared records.
fn sets(
    rng: &mut StdRng,
    common: usize,
    only_ours: usize,
    only_theirs: usize,
) -> (Vec<Item>, Vec<Item>) {
    let shared: Vec<Item> = (0..common).map(|_| random_item(rng)).collect();
    let mut ours = shared.clone();
    let mut theirs = shared.clone();
    for (count, side) in [(only_ours, &mut ours), (only_theirs, &mut theirs)] {
        for _ in 0..count {
            let item = match rng.gen_range(0..4) {
                // Another version of a shared record.
                0 if !shared.is_empty() => {
                    let base = shared[rng.gen_range(0..shared.len())];
                    let version = base.key().version() + rng.gen_range(1..3);
                    Item::new(
                        ItemKey::new(base.key().item_id(), version),
                        VersionHash(rng.gen()),
                    )
                }
                // Same key and version, other bytes: an equivocation.
                1 if !shared.is_empty() => {
                    let base = shared[rng.gen_range(0..shared.len())];
                    Item::new(*base.key(), VersionHash(rng.gen()))
                }
                _ => random_item(rng),
            };
            side.push(item);
        }
    }
    (sorted(ours), sorted(theirs))
}

fn tiny() -> ReconcileConfig {
    ReconcileConfig {
        branching: 2,
        list_threshold: 2,
        message_bytes_max: RECONCILE_MESSAGE_BYTES_MIN,
    }
}

#[test]
fn empty_and_identical_sets() {
    let mut rng = StdRng::seed_from_u64(1);
    let (a, _) = sets(&mut rng, 500, 0, 0);
    for config in [ReconcileConfig::default(), tiny()] {
        check(&[], &[], config);
        check(&a, &a, config);
        check(&a, &[], config);
        check(&[], &a, config);
    }
    // Identical sets finish after one round trip.
    assert_eq!(run(&a, &a, ReconcileConfig::default()).rounds, 1);
}

#[test]
fn random_sets_over_many_seeds_default_tuning() {
    for seed in 0..150 {
        let mut rng = StdRng::seed_from_u64(seed);
        let common = rng.gen_range(0..2_000);
        let only_ours = rng.gen_range(0..60);
        let only_theirs = rng.gen_range(0..60);
        let (a, b) = sets(&mut rng, common, only_ours, only_theirs);
        check(&a, &b, ReconcileConfig::default());
    }
}

#[test]
fn random_sets_over_many_seeds_tiny_tuning() {
    for seed in 0..150 {
        let mut rng = StdRng::seed_from_u64(1_000 + seed);
        let common = rng.gen_range(0..1_000);
        let only_ours = rng.gen_range(0..200);
        let only_theirs = rng.gen_range(0..200);
        let (a, b) = sets(&mut rng, common, only_ours, only_theirs);
        check(&a, &b, tiny());
    }
}

/// Large differences overflow the message budget and take the cut-off path.
#[test]
fn large_difference_with_small_budget() {
    let mut rng = StdRng::seed_from_u64(7);
    let (a, b) = sets(&mut rng, 5_000, 3_000, 2_000);
    let config = ReconcileConfig {
        message_bytes_max: RECONCILE_MESSAGE_BYTES_MIN,
        ..ReconcileConfig::default()
    };
    check(&a, &b, config);
    check(&b, &a, config);
}

#[test]
fn hundred_thousand_items_differing_by_1_10_1000() {
    for (seed, difference) in [(11u64, 1usize), (12, 10), (13, 1_000)] {
        let mut rng = StdRng::seed_from_u64(seed);
        let only_ours = difference / 2;
        let (a, b) = sets(
            &mut rng,
            100_000 - only_ours,
            only_ours,
            difference - only_ours,
        );
        check(&a, &b, ReconcileConfig::default());
    }
}

/// The fingerprint is a function of the set, not of how it was split.
#[test]
fn fingerprints_add_up_independently_of_order() {
    let mut rng = StdRng::seed_from_u64(3);
    let items: Vec<Item> = (0..100).map(|_| random_item(&mut rng)).collect();
    let mut forward = Accumulator::default();
    items.iter().for_each(|i| forward.add(i));
    let mut backward = Accumulator::default();
    items.iter().rev().for_each(|i| backward.add(i));
    assert_eq!(forward.fingerprint(), backward.fingerprint());
    let mut fewer = Accumulator::default();
    items[1..].iter().for_each(|i| fewer.add(i));
    assert_ne!(forward.fingerprint(), fewer.fingerprint());
}

#[test]
fn bounds_are_short_and_separate() {
    let a = ItemKey::new([0x12; 32], 1);
    let mut next_id = [0x12; 32];
    next_id[3] = 0x13;
    let b = ItemKey::new(next_id, 1);
    let bound = Bound::between(&a, &b);
    assert_eq!(bound.encoded_len(), 1 + 4);
    let scan = bound.scan_key().unwrap();
    assert!(a.0 < *scan && *scan <= b.0, "scan key separates the items");
    assert_eq!(Bound::Infinity.scan_key(), None);
    assert!(!bound.is_above(&b) && bound.is_above(&a));
    // Keys differing only in version.
    let c = ItemKey::new([0x12; 32], 2);
    let bound = Bound::between(&a, &c);
    assert!(bound.is_above(&a) && !bound.is_above(&c));
}

#[test]
fn messages_round_trip() {
    let mut rng = StdRng::seed_from_u64(5);
    let items = sorted((0..3).map(|_| random_item(&mut rng)).collect());
    let message = Message {
        ranges: vec![
            Range {
                upper: Bound::between(items[0].key(), items[1].key()),
                payload: Payload::Fingerprint([7; 16]),
            },
            Range {
                upper: Bound::Infinity,
                payload: Payload::Items(items[1..].to_vec()),
            },
        ],
    };
    let decoded = Message::decode::<Infallible>(&message.encode()).unwrap();
    assert_eq!(decoded, message);
}

#[test]
fn malformed_messages_are_refused() {
    let mut rng = StdRng::seed_from_u64(6);
    let items = sorted((0..2).map(|_| random_item(&mut rng)).collect());
    let decode = |bytes: &[u8]| Message::decode::<Infallible>(bytes);
    assert!(matches!(decode(&[]), Err(ReconcileError::Malformed(_))));
    assert!(matches!(
        decode(&[9]),
        Err(ReconcileError::UnsupportedVersion(9))
    ));
    // Truncated fingerprint.
    assert!(decode(&[1, 0xff, 1, 0, 0]).is_err());
    // Bounds that do not increase.
    assert!(decode(&[1, 1, 5, 0, 1, 4, 0]).is_err());
    // A zero-width first range.
    assert!(decode(&[1, 0, 0]).is_err());
    // Unknown mode.
    assert!(decode(&[1, 0xff, 7]).is_err());
    // Range after infinity.
    assert!(decode(&[1, 0xff, 0, 0xff, 0]).is_err());
    // Unsorted item list.
    let unsorted = Message {
        ranges: vec![Range {
            upper: Bound::Infinity,
            payload: Payload::Items(vec![items[1], items[0]]),
        }],
    };
    assert!(decode(&unsorted.encode()).is_err());
    // Item outside its range.
    let outside = Message {
        ranges: vec![Range {
            upper: Bound::between(items[0].key(), items[1].key()),
            payload: Payload::Items(vec![items[1]]),
        }],
    };
    assert!(decode(&outside.encode()).is_err());
    // An item count larger than the message.
    assert!(decode(&[1, 0xff, 2, 0xff, 0xff, 0x03]).is_err());
    // Over the size limit.
    let huge = vec![1u8; RECONCILE_MESSAGE_BYTES_MAX + 1];
    assert!(matches!(
        decode(&huge),
        Err(ReconcileError::TooLarge { .. })
    ));
    // A responder refuses item lists from the initiator.
    let from_initiator = Message {
        ranges: vec![Range {
            upper: Bound::Infinity,
            payload: Payload::Items(items.clone()),
        }],
    };
    assert!(matches!(
        respond(
            &ReconcileConfig::default(),
            items.as_slice(),
            &from_initiator.encode()
        ),
        Err(ReconcileError::UnexpectedItems)
    ));
}

#[test]
fn item_ids_depend_on_origin_and_id() {
    use crate::testing::test_key;
    use crate::RecordId;
    let key = |n, id: &str| RecordKey {
        origin: test_key(n).node_id(),
        id: RecordId::parse(id).unwrap(),
    };
    assert_ne!(item_id_of(&key(1, "a")), item_id_of(&key(2, "a")));
    assert_ne!(item_id_of(&key(1, "a")), item_id_of(&key(1, "b")));
    let mut expected = Sha256::new();
    expected.update(test_key(1).node_id().as_bytes());
    expected.update(b"a");
    assert_eq!(
        item_id_of(&key(1, "a")),
        <[u8; 32]>::from(expected.finalize())
    );
}

/// The vector in `docs/PROTOCOL.md`: an initiator with no items sends one
/// fingerprint range to infinity; the fingerprint of the empty set is the
/// first 16 bytes of SHA-256 of 40 zero bytes (computed independently).
#[test]
fn empty_set_initial_message_vector() {
    let empty: &[Item] = &[];
    let message = Reconciler::new(ReconcileConfig::default())
        .initiate(empty)
        .unwrap();
    assert_eq!(
        hex::encode(message),
        "01ff012c34ce1df23b838c5abf2a7f6437cca3"
    );
}

/// Vectors computed independently in Python (hashlib) from the rules in
/// `docs/PROTOCOL.md` 9.8: three items with item id SHA-256("item" ‖ i),
/// version i and version hash SHA-256("hash" ‖ i). Checks the element hash,
/// the 256-bit sum, the fingerprint and the item-list encoding.
#[test]
fn fingerprint_and_item_list_vectors() {
    let sha = |bytes: &[u8]| -> [u8; 32] { Sha256::digest(bytes).into() };
    let mut items: Vec<Item> = (1u8..=3)
        .map(|i| {
            Item::new(
                ItemKey::new(sha(&[b"item".as_slice(), &[i]].concat()), u64::from(i)),
                VersionHash(sha(&[b"hash".as_slice(), &[i]].concat())),
            )
        })
        .collect();
    items.sort();
    let config = ReconcileConfig::default();
    let first = Reconciler::new(config).initiate(items.as_slice()).unwrap();
    assert_eq!(
        hex::encode(&first),
        "01ff01c8ed6f75c3957a71a32c07365fd3be1e"
    );
    // A responder holding the three items, asked with the empty set's
    // fingerprint, answers with its item list (3 items, 72 bytes each).
    let empty: &[Item] = &[];
    let question = Reconciler::new(config).initiate(empty).unwrap();
    let reply = respond(&config, items.as_slice(), &question).unwrap();
    assert_eq!(reply.len(), 220);
    assert_eq!(
        hex::encode(Sha256::digest(&reply)),
        "41342ef9bd02997167fa22f0263b0c2fe254099c41e2f438fd2e38f1dbca966b"
    );
}

mod arbitrary_input {
    //! Whatever bytes a peer sends, decoding and answering never panic:
    //! they either work or return an error.
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn decode_and_respond_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut rng = StdRng::seed_from_u64(9);
            let items = sorted((0..20).map(|_| random_item(&mut rng)).collect());
            let _ = Message::decode::<Infallible>(&bytes);
            let _ = respond(&ReconcileConfig::default(), items.as_slice(), &bytes);
            let mut reconciler = Reconciler::new(ReconcileConfig::default());
            let _ = reconciler.initiate(items.as_slice());
            let _ = reconciler.reconcile(items.as_slice(), &bytes);
        }

        #[test]
        fn version_byte_and_valid_prefix_fuzz(tail in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut bytes = vec![RECONCILE_PROTOCOL_VERSION];
            bytes.extend(tail);
            if let Ok(message) = Message::decode::<Infallible>(&bytes) {
                // Whatever decodes re-encodes to a message that decodes the same.
                let again = Message::decode::<Infallible>(&message.encode()).unwrap();
                prop_assert_eq!(again, message);
            }
        }
    }
}
