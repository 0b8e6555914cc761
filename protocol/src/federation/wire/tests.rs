//! Tests of the federation bodies: pages keep the exact signed bytes and obey
//! their bounds and cursor rules, link requests and rotations verify only as
//! what they are, and the link state follows both admins' decisions.

use super::*;
use crate::record::Record;
use crate::signed::verify_batch;
use crate::testing::{sample_content, sign_sample, test_key};
use crate::vocab::LanguageTag;
use crate::NodeKey;

fn wire_of(n: usize) -> SignedWire {
    sign_sample(
        &test_key(1),
        &format!("rec{n}"),
        1,
        sample_content("it", "IT", &format!("Pratica {n}")),
    )
    .to_wire()
}

fn descriptor(key: &NodeKey, name: &str) -> Signed<NodeDescriptor> {
    let value = NodeDescriptor {
        node_id: key.node_id(),
        name: name.into(),
        country: CountryCode::parse("GR").unwrap(),
        base_url: "https://gr.example".into(),
        languages: vec![LanguageTag::parse("el").unwrap()],
        version: 1,
        software: "seednet/0.1.0".into(),
        signed_at: Timestamp::from_unix_seconds(1_767_225_600).unwrap(),
    };
    Signed::sign(key, value).unwrap()
}

#[test]
fn changes_query_bounds() {
    assert_eq!(
        ChangesQuery::new(None, None).unwrap(),
        ChangesQuery {
            since: 0,
            limit: SYNC_BATCH_RECORDS_MAX
        }
    );
    assert!(matches!(
        ChangesQuery::new(Some(3), Some(0)),
        Err(WireError::BadLimit { .. })
    ));
    assert!(matches!(
        ChangesQuery::new(Some(3), Some(SYNC_BATCH_RECORDS_MAX + 1)),
        Err(WireError::BadLimit { .. })
    ));
    assert_eq!(
        ChangesQuery::new(Some(7), Some(20))
            .unwrap()
            .path_and_query(),
        "/federation/v1/changes?since=7&limit=20"
    );
}

/// A page survives JSON encoding with every record's signed bytes unchanged,
/// so the puller verifies exactly what the origin signed.
#[test]
fn page_round_trip_keeps_signed_bytes() {
    let query = ChangesQuery::new(Some(0), Some(10)).unwrap();
    let mut builder = PageBuilder::new(query, 5);
    let originals: Vec<SignedWire> = (1..=5).map(wire_of).collect();
    let original_bytes: Vec<String> = originals
        .iter()
        .map(|w| w.signed.get().to_string())
        .collect();
    for (seq, wire) in (1..=5).zip(originals) {
        assert!(builder.push(seq, wire));
    }
    let page = builder.finish(true);
    let body = serde_json::to_vec(&page).unwrap();
    let decoded = ChangesPage::decode(&body).unwrap();
    let summary = decoded.check_against(&query).unwrap();
    assert_eq!(summary.records, 5);
    assert_eq!(summary.next_cursor, 5);
    assert!(!summary.has_more());
    let items = decoded.signed_items();
    for (result, original) in verify_batch::<Record>(&items).iter().zip(&original_bytes) {
        assert_eq!(result.as_ref().unwrap().bytes(), original.as_bytes());
    }
}

#[test]
fn page_builder_respects_count_limit_and_skips() {
    let query = ChangesQuery::new(Some(10), Some(3)).unwrap();
    let mut builder = PageBuilder::new(query, 30);
    assert!(builder.push(11, wire_of(11)));
    assert!(builder.skip(12), "a refused origin is passed over");
    assert!(builder.push(13, wire_of(13)));
    assert!(builder.push(15, wire_of(15)));
    assert!(
        !builder.push(16, wire_of(16)),
        "fourth record over the limit"
    );
    assert!(
        !builder.skip(17),
        "a full page does not move past more entries"
    );
    let page = builder.finish(false);
    assert_eq!(page.records.len(), 3);
    assert_eq!(page.next_cursor, 15, "the next page starts after 15");
    assert!(page.check_against(&query).unwrap().has_more());
}

#[test]
fn page_builder_respects_byte_limit() {
    // Sizes are accounted per record: a page holds as many ~100 KB records
    // as fit in the byte bound, then stops.
    let query = ChangesQuery::new(Some(0), None).unwrap();
    let big = "x".repeat(crate::limits::BODY_CHARS_MAX - 1000);
    let mut builder = PageBuilder::new(query, 1000);
    let per_record = {
        let mut content = sample_content("it", "IT", "Grande");
        content.body = big.clone();
        sign_sample(&test_key(1), "big", 1, content).bytes().len() + SYNC_RECORD_OVERHEAD_BYTES
    };
    let mut seq = 0;
    loop {
        seq += 1;
        let mut content = sample_content("it", "IT", "Grande");
        content.body = big.clone();
        let wire = sign_sample(&test_key(1), "big", seq, content).to_wire();
        if !builder.push(seq, wire) {
            break;
        }
    }
    let page = builder.finish(false);
    let expected = SYNC_BATCH_BYTES_MAX / per_record;
    assert_eq!(page.records.len(), expected);
    assert_eq!(page.next_cursor, expected as u64);
}

#[test]
fn exhausted_log_moves_cursor_to_head_past_skipped_entries() {
    let query = ChangesQuery::new(Some(4), None).unwrap();
    let mut builder = PageBuilder::new(query, 9);
    assert!(builder.skip(5));
    assert!(builder.skip(9));
    let page = builder.finish(true);
    assert!(page.records.is_empty());
    assert_eq!(page.next_cursor, 9);
    assert!(!page.check_against(&query).unwrap().has_more());
}

/// A serving node whose log is behind the client's cursor (restored from a
/// backup) answers an empty page at the client's own cursor; the client sees
/// the regression and never moves its cursor backwards.
#[test]
fn regressed_feed_is_visible_and_keeps_cursor() {
    let query = ChangesQuery::new(Some(50), None).unwrap();
    let page = PageBuilder::new(query, 20).finish(true);
    assert_eq!(page.next_cursor, 50);
    let summary = page.check_against(&query).unwrap();
    assert!(summary.feed_regressed());
    assert!(!summary.has_more());
}

#[test]
fn inconsistent_pages_are_refused() {
    let check = |since, records, next_cursor, head_seq| {
        check_summary(
            &PageSummary {
                since,
                records,
                next_cursor,
                head_seq,
            },
            SYNC_BATCH_RECORDS_MAX,
        )
    };
    assert!(check(10, 2, 12, 12).is_ok());
    assert!(matches!(
        check(10, 0, 9, 12),
        Err(WireError::CursorBackwards { .. })
    ));
    assert!(matches!(
        check(10, 3, 10, 12),
        Err(WireError::CursorStuck { .. })
    ));
    assert!(matches!(
        check(10, 1, 13, 12),
        Err(WireError::CursorPastHead { .. })
    ));
    assert!(matches!(
        check(10, SYNC_BATCH_RECORDS_MAX + 1, 900, 1000),
        Err(WireError::TooManyRecords { .. })
    ));
    assert!(matches!(
        check_summary(
            &PageSummary {
                since: 0,
                records: 5,
                next_cursor: 5,
                head_seq: 5
            },
            4
        ),
        Err(WireError::TooManyRecords { .. })
    ));
}

#[test]
fn oversized_or_unknown_bodies_are_refused() {
    let huge = vec![b' '; SYNC_PAGE_BODY_BYTES_MAX + 1];
    assert!(matches!(
        ChangesPage::decode(&huge),
        Err(WireError::TooLarge { .. })
    ));
    assert!(matches!(
        ChangesPage::decode(br#"{"records":[],"next_cursor":1,"head_seq":1,"extra":1}"#),
        Err(WireError::Json(_))
    ));
    assert_eq!(
        NotifyHint::decode(br#"{"head_seq":42}"#).unwrap(),
        NotifyHint { head_seq: 42 }
    );
    assert!(NotifyHint::decode(br#"{"head_seq":-1}"#).is_err());
}

fn link_request(from: &NodeKey, descriptor_key: &NodeKey) -> LinkRequest {
    LinkRequest {
        from: from.node_id(),
        to: test_key(9).node_id(),
        descriptor: EmbeddedSigned::from_signed(&descriptor(descriptor_key, "Κέντρο Ικανοτήτων")),
        requested_at: Timestamp::from_unix_seconds(1_767_225_700).unwrap(),
        note: "Καλησπέρα από την Καρδίτσα".into(),
    }
}

#[test]
fn link_request_round_trip_verifies_embedded_descriptor() {
    let key = test_key(2);
    let signed = Signed::sign(&key, link_request(&key, &key)).unwrap();
    let body = serde_json::to_vec(&signed.to_wire()).unwrap();
    let wire: SignedWire = serde_json::from_slice(&body).unwrap();
    let received = Signed::<LinkRequest>::from_wire(&wire).unwrap();
    let descriptor = received.value().verified_descriptor().unwrap();
    assert_eq!(descriptor.value().node_id, key.node_id());
    assert_eq!(descriptor.value().name, "Κέντρο Ικανοτήτων");
    // The embedded bytes are exactly the descriptor's signed bytes.
    assert_eq!(
        descriptor.bytes(),
        self::descriptor(&key, "Κέντρο Ικανοτήτων").bytes()
    );
}

#[test]
fn link_request_with_someone_elses_descriptor_is_refused() {
    let key = test_key(2);
    let signed = Signed::sign(&key, link_request(&key, &test_key(3))).unwrap();
    assert!(matches!(
        signed.value().verified_descriptor(),
        Err(WireError::DescriptorMismatch { .. })
    ));
}

#[test]
fn link_request_with_tampered_descriptor_is_refused() {
    let key = test_key(2);
    let mut request = link_request(&key, &key);
    request.descriptor.signed["name"] = serde_json::json!("Forged centre");
    let signed = Signed::sign(&key, request).unwrap();
    assert!(matches!(
        signed.value().verified_descriptor(),
        Err(WireError::Descriptor(VerifyError::BadSignature))
    ));
}

#[test]
fn link_request_to_itself_is_invalid() {
    let key = test_key(2);
    let mut request = link_request(&key, &key);
    request.to = key.node_id();
    assert!(Signed::sign(&key, request).is_err());
}

/// Each signed type has its own context, so bytes signed as one type never
/// verify as another even when the JSON would decode.
#[test]
fn signatures_do_not_cross_types() {
    let old = test_key(4);
    let rotation = KeyRotation {
        old_node_id: old.node_id(),
        new_node_id: test_key(5).node_id(),
        rotated_at: Timestamp::from_unix_seconds(1_767_225_600).unwrap(),
        reason: String::new(),
    };
    let signed = Signed::sign(&old, rotation).unwrap();
    assert!(Signed::<KeyRotation>::verify(signed.bytes(), signed.signature()).is_ok());
    let forged_message = crate::signed::signed_message::<NodeDescriptor>(signed.bytes());
    let other_context_signature = old.sign_message(&forged_message);
    assert_eq!(
        Signed::<KeyRotation>::verify(signed.bytes(), other_context_signature),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn rotation_needs_old_key_pinned_key_and_matching_descriptor() {
    let old = test_key(4);
    let new = test_key(5);
    let statement = KeyRotation {
        old_node_id: old.node_id(),
        new_node_id: new.node_id(),
        rotated_at: Timestamp::from_unix_seconds(1_767_225_600).unwrap(),
        reason: "scheduled rotation".into(),
    };
    // Only the old key can sign it.
    assert!(Signed::sign(&new, statement.clone()).is_err());
    let signed = Signed::sign(&old, statement.clone()).unwrap();
    let new_descriptor = descriptor(&new, "Centre");
    check_rotation(&signed, &old.node_id(), &new_descriptor).unwrap();
    assert!(matches!(
        check_rotation(&signed, &test_key(6).node_id(), &new_descriptor),
        Err(WireError::RotationNotFromPinnedKey { .. })
    ));
    assert!(matches!(
        check_rotation(&signed, &old.node_id(), &descriptor(&test_key(6), "Other")),
        Err(WireError::RotationDescriptorMismatch { .. })
    ));
    // A statement signed by an attacker's key naming the victim as old key
    // does not verify.
    let forged_signature = test_key(6).sign_message(&crate::signed::signed_message::<KeyRotation>(
        signed.bytes(),
    ));
    assert!(Signed::<KeyRotation>::verify(signed.bytes(), forged_signature).is_err());
    let same = KeyRotation {
        new_node_id: old.node_id(),
        ..statement
    };
    assert!(Signed::sign(&old, same).is_err());
}

#[test]
fn link_state_follows_both_admins() {
    use LinkEvent::*;
    let cases: &[(&[LinkEvent], Option<LinkState>, bool, bool)] = &[
        (&[], None, false, false),
        (&[LocalApprove], Some(LinkState::Requested), false, true),
        (&[RemoteApprove], Some(LinkState::Pending), false, false),
        (
            &[RemoteApprove, LocalApprove],
            Some(LinkState::Active),
            true,
            true,
        ),
        (
            &[LocalApprove, RemoteApprove],
            Some(LinkState::Active),
            true,
            true,
        ),
        (
            &[LocalApprove, RemoteApprove, LocalRevoke],
            Some(LinkState::Revoked),
            false,
            false,
        ),
        (
            &[LocalApprove, RemoteApprove, RemoteRevoke],
            Some(LinkState::Revoked),
            false,
            false,
        ),
        (
            &[LocalApprove, RemoteApprove, LocalRevoke, LocalApprove],
            Some(LinkState::Active),
            true,
            true,
        ),
        (
            &[LocalApprove, RemoteApprove, RemoteRevoke, RemoteApprove],
            Some(LinkState::Active),
            true,
            true,
        ),
        (&[LocalRevoke], Some(LinkState::Revoked), false, false),
    ];
    for (events, state, pulls, serves) in cases {
        let link = events.iter().fold(Link::NEW, |link, event| link.on(*event));
        assert_eq!(link.state(), *state, "{events:?}");
        assert_eq!(link.pulls(), *pulls, "{events:?}");
        assert_eq!(link.serves(), *serves, "{events:?}");
    }
}

#[test]
fn items_request_round_trip_and_bounds() {
    let ids = [[0xab; 32], [0x01; 32]];
    let body = serde_json::to_vec(&ItemsRequest::new(&ids)).unwrap();
    assert_eq!(ItemsRequest::decode(&body).unwrap(), ids.to_vec());
    assert!(ItemsRequest::decode(br#"{"item_ids":["AB"]}"#).is_err());
    let upper = format!(r#"{{"item_ids":["{}"]}}"#, "AB".repeat(32));
    assert!(ItemsRequest::decode(upper.as_bytes()).is_err());
    let too_many = ItemsRequest::new(&vec![
        [0u8; 32];
        crate::federation::limits::RECONCILE_FETCH_ITEMS_MAX
            + 1
    ]);
    assert!(matches!(
        ItemsRequest::decode(&serde_json::to_vec(&too_many).unwrap()),
        Err(WireError::TooManyRecords { .. }) | Err(WireError::TooLarge { .. })
    ));
}

#[test]
fn peer_entry_rotation_members_are_optional_on_the_wire() {
    let entry = PeerEntry {
        node_id: test_key(1).node_id(),
        name: "Italy".into(),
        country: CountryCode::parse("IT").unwrap(),
        base_url: "https://it.example".into(),
        state: LinkState::Active,
        link: Link::NEW
            .on(LinkEvent::LocalApprove)
            .on(LinkEvent::RemoteApprove),
        last_sync_at: None,
        records_received: 0,
        cursor: 0,
        head_seq: 0,
        lag: 0,
        last_error: None,
        equivocations: 0,
        pending_rotation: None,
        former_node_ids: Vec::new(),
        requested_at: None,
        last_repair: None,
        refused_versions: 0,
        last_refused: None,
    };
    let mut value = serde_json::to_value(&entry).unwrap();
    assert!(value.get("pending_rotation").is_none());
    assert!(value.get("former_node_ids").is_none());
    assert!(value.get("last_repair").is_none());
    // An entry from a node without rotation support still decodes.
    assert_eq!(
        serde_json::from_value::<PeerEntry>(value.clone()).unwrap(),
        entry
    );
    let rotated_at = Timestamp::from_unix_seconds(1_767_225_600).unwrap();
    value["pending_rotation"] = serde_json::json!({
        "new_node_id": test_key(2).node_id(),
        "rotated_at": rotated_at,
        "received_at": rotated_at,
    });
    value["former_node_ids"] = serde_json::json!([test_key(3).node_id()]);
    let decoded: PeerEntry = serde_json::from_value(value).unwrap();
    let pending = decoded.pending_rotation.unwrap();
    assert_eq!(pending.new_node_id, test_key(2).node_id());
    assert_eq!(pending.reason, "");
    assert_eq!(decoded.former_node_ids, vec![test_key(3).node_id()]);
}

#[test]
fn peer_entry_last_repair_is_optional_and_round_trips() {
    let report = RepairReport {
        finished_at: Some(Timestamp::from_unix_seconds(1_767_225_600).unwrap()),
        rounds: 3,
        bytes_sent: 1_100,
        bytes_received: 900,
        needed: 2,
        fetched: 2,
        applied: 2,
        have: 1,
        error: None,
    };
    let value = serde_json::to_value(&report).unwrap();
    assert!(value.get("error").is_none());
    assert_eq!(
        serde_json::from_value::<RepairReport>(value).unwrap(),
        report
    );
}

#[test]
fn link_state_names_are_the_wire_names() {
    for state in LinkState::ALL {
        assert_eq!(
            serde_json::to_value(state).unwrap(),
            serde_json::json!(state.as_str())
        );
    }
}
