//! Writes the protocol test vectors into `protocol/tests/vectors/`.
//!
//! Run `cargo run -p seednet-protocol --example gen_vectors` after a deliberate
//! protocol change; the vectors are then checked by the Rust tests
//! (`tests/vectors.rs`) and independently by `protocol/tests/check_vectors.py`.
//! Keys are derived from fixed seeds and ed25519 signatures are deterministic,
//! so regenerating without a protocol change gives identical files.

use std::path::Path;

use seednet_protocol::{signed_message, NodeDescriptor, NodeKey, Record};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// How a vector is expected to fail (see `docs/PROTOCOL.md`, test vectors).
#[derive(Clone, Copy)]
enum Failure {
    Signature,
    WeakKey,
    Canonical,
    Number,
    Content,
}

impl Failure {
    fn as_str(self) -> &'static str {
        match self {
            Failure::Signature => "signature",
            Failure::WeakKey => "weak_key",
            Failure::Canonical => "canonical",
            Failure::Number => "number",
            Failure::Content => "content",
        }
    }
}

#[derive(Clone, Copy)]
enum Object {
    Record,
    NodeDescriptor,
}

impl Object {
    fn as_str(self) -> &'static str {
        match self {
            Object::Record => "record",
            Object::NodeDescriptor => "node_descriptor",
        }
    }

    fn message(self, bytes: &[u8]) -> Vec<u8> {
        match self {
            Object::Record => signed_message::<Record>(bytes),
            Object::NodeDescriptor => signed_message::<NodeDescriptor>(bytes),
        }
    }
}

struct Vector {
    name: &'static str,
    description: &'static str,
    object: Object,
    /// Seed of the key that signs (None: the weak-key vector, see below).
    seed: Option<[u8; 32]>,
    record: Value,
    /// The exact bytes presented; None means the JCS form of `record`.
    presented: Option<String>,
    failure: Option<Failure>,
    /// Changes applied after signing (tampering).
    tamper: Tamper,
}

enum Tamper {
    None,
    /// Replace the first occurrence of `from` with `to` in the signed bytes.
    Bytes {
        from: &'static str,
        to: &'static str,
    },
    /// Sign with this other seed (the record names the first key).
    OtherKey([u8; 32]),
    /// Sign with the node-descriptor context instead of the record context.
    DescriptorContext,
}

fn key(seed: [u8; 32]) -> NodeKey {
    NodeKey::from_seed(seed)
}

fn seed(n: u8) -> [u8; 32] {
    let mut seed = [0u8; 32];
    for (index, byte) in seed.iter_mut().enumerate() {
        *byte = n.wrapping_mul(31).wrapping_add(index as u8);
    }
    seed
}

fn record(origin: &NodeKey, id: &str, version: u64, content: Value) -> Value {
    json!({
        "origin": origin.node_id().to_hex(),
        "id": id,
        "version": version,
        "signed_at": "2026-11-23T10:00:00Z",
        "content": content,
    })
}

fn italian(origin: &NodeKey) -> Value {
    record(
        origin,
        "01JD2Q8R6KX5V3P9N4M7T2C8HB",
        1,
        json!({
            "kind": "policy_lab_project",
            "lang": "it",
            "title": "Laboratorio di co-progettazione dei servizi per l'inclusione a Torino",
            "summary": "La Città di Torino co-progetta con il terzo settore i servizi di inclusione finanziati dal PON Metro.",
            "body": "Il **Design Policy Lab** riunisce amministrazione, enti del terzo settore e cittadini.\n\nPerché funziona: responsabilità condivise, città più inclusive.",
            "sections": {
                "challenge": "Servizi frammentati e poco accessibili.",
                "approach": "Tavoli di co-progettazione trimestrali.",
                "transferability": "Replicabile nelle città medie del Mezzogiorno."
            },
            "translations": {
                "en": {
                    "title": "Co-design lab for inclusion services in Turin",
                    "summary": "The City of Turin co-designs inclusion services with the third sector.",
                    "provenance": "human",
                    "reviewed": true
                }
            },
            "themes": ["co-design", "pa-reorganisation"],
            "country": "IT",
            "region": "ITC11",
            "target_groups": ["low-income-households", "migrants-refugees"],
            "sdgs": [10, 11],
            "funding": [{"source": "esf-plus", "programme": "PON Metro Plus 2021-2027"}],
            "organisations": [{"name": "Città di Torino", "role": "lead", "url": "https://www.comune.torino.it"}],
            "contact": {"name": "Ufficio Innovazione Sociale", "email": "innovazione@example.org"},
            "year_start": 2022,
            "year_end": 2024,
            "links": [{"url": "https://example.org/seed/torino", "title": "Scheda del progetto"}],
            "license": "CC-BY-4.0",
            "tags": ["policy lab", "terzo settore"]
        }),
    )
}

fn vectors() -> Vec<Vector> {
    let it = key(seed(1));
    let gr = key(seed(2));
    let ro = key(seed(3));
    let si = key(seed(4));
    let other = seed(9);
    let mut vectors = vec![
        Vector {
            name: "01-italian-policy-lab",
            description: "Italian policy-lab project with sections, an English translation, funding, organisations and contact",
            object: Object::Record,
            seed: Some(seed(1)),
            record: italian(&it),
            presented: None,
            failure: None,
            tamper: Tamper::None,
        },
        Vector {
            name: "02-greek-case-study",
            description: "Greek text with tonos, dialytika and final sigma",
            object: Object::Record,
            seed: Some(seed(2)),
            record: record(&gr, "01JD2QB7ZC4W1H8R3Y6N0K5T9S", 3, json!({
                "kind": "case_study",
                "lang": "el",
                "title": "Κοινωνικός συνεταιρισμός στην Καρδίτσα: συμμετοχικός σχεδιασμός υπηρεσιών",
                "summary": "Ο Δήμος Καρδίτσας και οι πολίτες σχεδιάζουν μαζί υπηρεσίες για ευάλωτες ομάδες· πρωτοβουλία με ευρωπαϊκή χρηματοδότηση.",
                "body": "Η αξιολόγηση αντικτύπου έδειξε ότι οι συμμετέχοντες ήταν ικανοποιημένοι. Προϋπόθεση: εμπιστοσύνη, διαφάνεια, ευελιξία.",
                "themes": ["participatory-facilitation", "impact-evaluation"],
                "country": "GR",
                "region": "Θεσσαλία",
                "target_groups": ["rural-communities"],
                "funding": [{"source": "esf-plus"}],
                "year_start": 2021
            })),
            presented: None,
            failure: None,
            tamper: Tamper::None,
        },
        Vector {
            name: "03-romanian-comma-below",
            description: "Romanian text with comma-below ș ț Ș Ț (U+0219 U+021B U+0218 U+021A), never the cedilla forms",
            object: Object::Record,
            seed: Some(seed(3)),
            record: record(&ro, "01JD2QD1M5R8T2V6X9Z3B7F0GK", 1, json!({
                "kind": "methodology",
                "lang": "ro",
                "title": "Metodologie de evaluare a impactului social pentru întreprinderi sociale din Cluj",
                "summary": "Ștefan și Țara Moților: o metodă participativă de măsurare a impactului, testată în județul Cluj.",
                "body": "Întreprinderile sociale își măsoară rezultatele împreună cu comunitățile locale. Așteptări, învățăminte, țintă.",
                "themes": ["impact-evaluation", "research-mapping"],
                "country": "RO",
                "region": "RO113",
                "target_groups": ["social-economy-organisations", "roma"],
                "year_start": 2020,
                "year_end": 2023
            })),
            presented: None,
            failure: None,
            tamper: Tamper::None,
        },
        Vector {
            name: "04-slovenian-tool",
            description: "Slovenian text with č š ž and a relation adapted_from an Italian record",
            object: Object::Record,
            seed: Some(seed(4)),
            record: record(&si, "01JD2QF3N7S0V4X8Z2C6G1J5LM", 2, json!({
                "kind": "tool",
                "lang": "sl",
                "title": "Orodje za digitalne veščine starejših: učenje v skupnosti",
                "summary": "Priročnik za občine, ki želijo starejšim občanom približati digitalne storitve; prilagojen po torinskem primeru.",
                "body": "Žiga, Špela in Čedomir vodijo delavnice v knjižnicah. Učinek: več samostojnosti pri e-upravi.",
                "themes": ["competence-transfer", "co-design"],
                "country": "SI",
                "target_groups": ["older-people"],
                "year_start": 2023,
                "relations": [{"type": "adapted_from", "target": {"origin": it.node_id().to_hex(), "id": "01JD2Q8R6KX5V3P9N4M7T2C8HB"}}]
            })),
            presented: None,
            failure: None,
            tamper: Tamper::None,
        },
        Vector {
            name: "05-escapes",
            description: "Quotes, backslash, slash, HTML, tab, CR, LF, U+2028 and a non-BMP CJK character: JCS escapes only \" \\ and control characters",
            object: Object::Record,
            seed: Some(seed(1)),
            record: record(&it, "escapes-1", 1, json!({
                "kind": "practice",
                "lang": "en",
                "title": "Quotes \"here\", back\\slash, a/b and <script>alert(1)</script> & more",
                "summary": "Line one\nline two\ttabbed\r\nwindows line; separator\u{2028}end; rare 𠜎 character",
                "body": "Body with \\n literal and a real\nnewline.",
                "themes": ["scaling-up"],
                "country": "IE",
                "year_start": 2019
            })),
            presented: None,
            failure: None,
            tamper: Tamper::None,
        },
        Vector {
            name: "06-emoji",
            description: "Emoji (astral-plane characters, written as UTF-8, not as \\u escapes) in title, summary and tags",
            object: Object::Record,
            seed: Some(seed(2)),
            record: record(&gr, "emoji-1", 1, json!({
                "kind": "practice",
                "lang": "en",
                "title": "Community kitchens 🍲 and urban gardens 🌱",
                "summary": "Neighbours 👩‍🌾👨‍🍳 cook together; flags 🇬🇷🇮🇹.",
                "body": "Results: 🎉",
                "themes": ["participatory-local-development"],
                "country": "GR",
                "year_start": 2024,
                "tags": ["food 🍅"]
            })),
            presented: None,
            failure: None,
            tamper: Tamper::None,
        },
        Vector {
            name: "07-large-integers",
            description: "The largest allowed integer, 2^53-1, as version",
            object: Object::Record,
            seed: Some(seed(3)),
            record: record(&ro, "bigint-1", 9_007_199_254_740_991, json!({
                "kind": "tool",
                "lang": "ro",
                "title": "Versiune mare",
                "summary": "Versiunea este 2^53-1.",
                "body": "Text.",
                "themes": ["research-mapping"],
                "country": "RO",
                "sdgs": [1, 17],
                "year_start": 2100
            })),
            presented: None,
            failure: None,
            tamper: Tamper::None,
        },
        Vector {
            name: "08-tombstone",
            description: "A signed tombstone: version 4 of a record, deleted",
            object: Object::Record,
            seed: Some(seed(4)),
            record: json!({
                "origin": si.node_id().to_hex(),
                "id": "01JD2QF3N7S0V4X8Z2C6G1J5LM",
                "version": 4,
                "signed_at": "2026-11-23T11:30:00.250Z",
                "deleted": true
            }),
            presented: None,
            failure: None,
            tamper: Tamper::None,
        },
        Vector {
            name: "09-node-descriptor",
            description: "A signed node descriptor (context \"seednet node descriptor v1\")",
            object: Object::NodeDescriptor,
            seed: Some(seed(1)),
            record: json!({
                "node_id": it.node_id().to_hex(),
                "name": "Centro di Competenza per l'Innovazione Sociale – Italia",
                "country": "IT",
                "base_url": "https://seed-it.example.org",
                "languages": ["it", "en"],
                "version": 1,
                "software": "seednet/0.1.0",
                "signed_at": "2026-11-23T09:00:00Z"
            }),
            presented: None,
            failure: None,
            tamper: Tamper::None,
        },
    ];
    vectors.extend([
        Vector {
            name: "10-tampered-byte",
            description: "Vector 01 with one byte of the title changed after signing (Torino -> Torina)",
            object: Object::Record,
            seed: Some(seed(1)),
            record: italian(&it),
            presented: None,
            failure: Some(Failure::Signature),
            tamper: Tamper::Bytes { from: "a Torino", to: "a Torina" },
        },
        Vector {
            name: "11-wrong-key",
            description: "A record naming the Italian node as origin but signed by another key",
            object: Object::Record,
            seed: Some(seed(1)),
            record: italian(&it),
            presented: None,
            failure: Some(Failure::Signature),
            tamper: Tamper::OtherKey(other),
        },
        Vector {
            name: "12-non-canonical",
            description: "Valid signature over non-canonical bytes (keys out of order, spaces): refused",
            object: Object::Record,
            seed: Some(seed(2)),
            record: record(&gr, "noncanon-1", 1, json!({
                "kind": "practice", "lang": "el", "title": "Τίτλος", "summary": "Περίληψη.",
                "body": "Κείμενο.", "themes": ["co-design"], "country": "GR", "year_start": 2022
            })),
            presented: Some(format!(
                "{{\"version\": 1, \"origin\": \"{}\", \"id\": \"noncanon-1\", \"signed_at\": \"2026-11-23T10:00:00Z\", \"content\": {{\"title\": \"Τίτλος\", \"kind\": \"practice\", \"lang\": \"el\", \"summary\": \"Περίληψη.\", \"body\": \"Κείμενο.\", \"themes\": [\"co-design\"], \"country\": \"GR\", \"year_start\": 2022}}}}",
                gr.node_id().to_hex()
            )),
            failure: Some(Failure::Canonical),
            tamper: Tamper::None,
        },
        Vector {
            name: "13-weak-key",
            description: "Origin is a small-order point (the identity); R = identity and S = 0 satisfy the plain ed25519 equation for every message, so strict verification must refuse the key",
            object: Object::Record,
            seed: None,
            record: json!({
                "origin": format!("01{}", "00".repeat(31)),
                "id": "weak-1",
                "version": 1,
                "signed_at": "2026-11-23T10:00:00Z",
                "deleted": true
            }),
            presented: None,
            failure: Some(Failure::WeakKey),
            tamper: Tamper::None,
        },
        Vector {
            name: "14-float",
            description: "A floating-point number (sdgs: [1.5]) in a correctly signed, canonical record: refused",
            object: Object::Record,
            seed: Some(seed(3)),
            record: record(&ro, "float-1", 1, json!({
                "kind": "tool", "lang": "ro", "title": "Număr zecimal", "summary": "Rezumat.",
                "body": "Text.", "themes": ["co-design"], "country": "RO", "year_start": 2022, "sdgs": [1.5]
            })),
            presented: None,
            failure: Some(Failure::Number),
            tamper: Tamper::None,
        },
        Vector {
            name: "15-integer-too-large",
            description: "version = 2^53 (one more than allowed) in a correctly signed record: refused",
            object: Object::Record,
            seed: Some(seed(4)),
            record: json!({
                "origin": si.node_id().to_hex(),
                "id": "bigint-2",
                "version": 9_007_199_254_740_992u64,
                "signed_at": "2026-11-23T10:00:00Z",
                "deleted": true
            }),
            presented: None,
            failure: Some(Failure::Number),
            tamper: Tamper::None,
        },
        Vector {
            name: "16-control-character",
            description: "A U+0007 control character in the title: cryptographically valid and canonical (escaped as \\u0007) but refused by the content rules",
            object: Object::Record,
            seed: Some(seed(4)),
            record: record(&si, "control-1", 1, json!({
                "kind": "practice", "lang": "sl", "title": "Zvonec\u{7} v naslovu", "summary": "Povzetek.",
                "body": "Besedilo.", "themes": ["co-design"], "country": "SI", "year_start": 2022
            })),
            presented: None,
            failure: Some(Failure::Content),
            tamper: Tamper::None,
        },
        Vector {
            name: "17-wrong-context",
            description: "A record signed with the node-descriptor context string: the signature must not verify as a record",
            object: Object::Record,
            seed: Some(seed(1)),
            record: record(&it, "context-1", 1, json!({
                "kind": "practice", "lang": "it", "title": "Contesto sbagliato", "summary": "Riassunto.",
                "body": "Testo.", "themes": ["co-design"], "country": "IT", "year_start": 2022
            })),
            presented: None,
            failure: Some(Failure::Signature),
            tamper: Tamper::DescriptorContext,
        },
    ]);
    vectors
}

fn main() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    std::fs::create_dir_all(&directory).expect("create vectors directory");
    for vector in vectors() {
        let jcs = serde_json_canonicalizer::to_string(&vector.record).expect("JCS");
        let signed_text = vector.presented.clone().unwrap_or_else(|| jcs.clone());
        let (public_key_hex, signature_hex, presented_text) = match vector.seed {
            Some(seed) => {
                let signing_seed = match vector.tamper {
                    Tamper::OtherKey(other) => other,
                    _ => seed,
                };
                let message = match vector.tamper {
                    Tamper::DescriptorContext => {
                        Object::NodeDescriptor.message(signed_text.as_bytes())
                    }
                    _ => vector.object.message(signed_text.as_bytes()),
                };
                let signature = key(signing_seed).sign_message(&message);
                let presented = match vector.tamper {
                    Tamper::Bytes { from, to } => {
                        assert!(signed_text.contains(from), "{}: tamper target", vector.name);
                        signed_text.replacen(from, to, 1)
                    }
                    _ => signed_text.clone(),
                };
                (key(seed).node_id().to_hex(), signature.to_hex(), presented)
            }
            None => {
                // Weak key: R = identity point encoding, S = 0.
                let signature = format!("01{}{}", "00".repeat(31), "00".repeat(32));
                (
                    format!("01{}", "00".repeat(31)),
                    signature,
                    signed_text.clone(),
                )
            }
        };
        let message = vector.object.message(presented_text.as_bytes());
        let mut file = serde_json::Map::new();
        file.insert("description".into(), json!(vector.description));
        file.insert("object".into(), json!(vector.object.as_str()));
        file.insert(
            "secret_key_seed_hex".into(),
            vector
                .seed
                .map_or(Value::Null, |seed| json!(hex::encode(seed))),
        );
        file.insert("public_key_hex".into(), json!(public_key_hex));
        file.insert("record".into(), vector.record.clone());
        file.insert("canonical".into(), json!(presented_text));
        file.insert(
            "sha256_hex".into(),
            json!(hex::encode(Sha256::digest(presented_text.as_bytes()))),
        );
        file.insert("signed_message_hex".into(), json!(hex::encode(&message)));
        file.insert("signature_hex".into(), json!(signature_hex));
        file.insert("valid".into(), json!(vector.failure.is_none()));
        if let Some(failure) = vector.failure {
            file.insert("failure".into(), json!(failure.as_str()));
        }
        let text = serde_json::to_string_pretty(&Value::Object(file)).expect("serialise vector");
        std::fs::write(directory.join(format!("{}.json", vector.name)), text + "\n")
            .expect("write vector");
        println!("wrote {}", vector.name);
    }
}
