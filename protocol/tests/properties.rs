//! Property tests: canonical encoding is a fixed point, and no single-byte
//! change of a signed record survives verification.

use proptest::prelude::*;
use seednet_protocol::testing::{sample_content, sign_sample, test_key};
use seednet_protocol::to_canonical_bytes;
use seednet_protocol::{
    Kind, LanguageTag, Provenance, Record, RecordContent, Signed, TargetGroup, Theme, Translation,
};

/// Text mixing the scripts and characters that stress canonical encoding.
fn text() -> impl Strategy<Value = String> {
    proptest::string::string_regex(
        "[a-zA-Z0-9 .,;:!?'\"\\\\/<>&αβγδεζηθικλμνξοπρσςτυφχψωάέήίόύώϊΐșțăîâŞşčšžàèéìòù🌱🇬🇷\u{2028}]{1,40}",
    )
    .expect("valid regex")
    .prop_filter("not blank", |s| !s.trim().is_empty())
}

fn content() -> impl Strategy<Value = RecordContent> {
    (
        text(),
        text(),
        text(),
        prop::sample::select(Kind::ALL),
        prop::sample::subsequence(Theme::ALL, 1..4),
        prop::sample::subsequence(TargetGroup::ALL, 0..3),
        prop::sample::select(vec!["it", "el", "ro", "sl", "en", "hr"]),
        proptest::option::of((text(), text())),
        1990i64..2030,
        prop::collection::btree_set(1i64..=17, 0..4),
    )
        .prop_map(
            |(title, summary, body, kind, themes, groups, lang, translation, year, sdgs)| {
                let mut content = sample_content(lang, "IT", &title);
                content.summary = summary;
                content.body = body;
                content.kind = kind;
                content.themes = themes;
                content.target_groups = groups;
                content.year_start = year;
                content.sdgs = sdgs.into_iter().collect();
                if let Some((title, summary)) = translation {
                    let other = if lang == "en" { "it" } else { "en" };
                    content.translations.insert(
                        LanguageTag::parse(other).unwrap(),
                        Translation {
                            title,
                            summary,
                            body: None,
                            provenance: Provenance::Machine,
                            reviewed: false,
                        },
                    );
                }
                content
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn canonical_form_is_a_fixed_point(content in content(), version in 1u64..=(1u64 << 53) - 1) {
        let signed = sign_sample(&test_key(7), "prop-1", version, content);
        let canonical = to_canonical_bytes(signed.value()).unwrap();
        let decoded: Record = serde_json::from_slice(&canonical).unwrap();
        prop_assert_eq!(to_canonical_bytes(&decoded).unwrap(), canonical.clone());
        prop_assert_eq!(signed.bytes(), &canonical[..]);
    }

    #[test]
    fn any_one_byte_change_fails_verification(
        content in content(),
        position in any::<prop::sample::Index>(),
        replacement in any::<u8>(),
    ) {
        let signed = sign_sample(&test_key(8), "prop-2", 1, content);
        let mut bytes = signed.bytes().to_vec();
        let index = position.index(bytes.len());
        prop_assume!(bytes[index] != replacement);
        bytes[index] = replacement;
        prop_assert!(Signed::<Record>::verify(&bytes, signed.signature()).is_err());
    }

    #[test]
    fn any_one_byte_change_of_the_signature_fails(content in content(), position in 0usize..64, flip in 1u8..=255) {
        let signed = sign_sample(&test_key(9), "prop-3", 1, content);
        let mut signature = signed.signature();
        signature.0[position] ^= flip;
        prop_assert!(Signed::<Record>::verify(signed.bytes(), signature).is_err());
    }
}
