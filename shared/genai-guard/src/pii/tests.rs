use super::*;

fn kinds(text: &str) -> Vec<(PiiKind, &str)> {
    Analyzer::default().analyze(text).into_iter().map(|f| (f.kind, &text[f.start..f.end])).collect()
}

#[test]
fn structured_identifiers_are_found_and_checked() {
    let t = "Mail jane.doe@example.com, card 4111 1111 1111 1111, IBAN GB82 WEST 1234 5698 7654 32, ip 10.0.0.1";
    let k = kinds(t);
    assert!(k.contains(&(PiiKind::EmailAddress, "jane.doe@example.com")), "{k:?}");
    assert!(k.contains(&(PiiKind::CreditCard, "4111 1111 1111 1111")), "{k:?}");
    assert!(k.contains(&(PiiKind::IbanCode, "GB82 WEST 1234 5698 7654 32")), "{k:?}");
    assert!(k.contains(&(PiiKind::IpAddress, "10.0.0.1")), "{k:?}");
    // A Luhn-invalid number is not a card.
    assert!(!kinds("card 4111 1111 1111 1112").iter().any(|(k, _)| *k == PiiKind::CreditCard));
}

#[test]
fn names_places_and_addresses_by_context() {
    let k = kinds("My name is Anna Kowalski and I live in Berlin. Dr. Smith works at Acme Corporation.");
    assert!(k.contains(&(PiiKind::Person, "Anna Kowalski")), "{k:?}");
    assert!(k.contains(&(PiiKind::Location, "Berlin")), "{k:?}");
    assert!(k.contains(&(PiiKind::Title, "Dr.")), "{k:?}");
    assert!(k.contains(&(PiiKind::Person, "Smith")), "{k:?}");
    assert!(k.contains(&(PiiKind::Organization, "Acme Corporation")), "{k:?}");
    let k = kinds("Ship it to 1200 Harbor View Road, Springfield, IL 62704 please");
    assert!(k.contains(&(PiiKind::StreetAddress, "1200 Harbor View Road, Springfield, IL 62704")), "{k:?}");
}

#[test]
fn spans_are_on_char_boundaries_of_non_ascii_text() {
    let t = "Škoda řekla: volejte 602 123 456 nebo pište na ŽOFIE@seznam.cz — Ελλάδα";
    for f in Analyzer::default().analyze(t) {
        assert!(t.is_char_boundary(f.start) && t.is_char_boundary(f.end));
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
    #[test]
    fn findings_never_overlap_and_stay_in_bounds(text in "\\PC{0,200}") {
        let found = Analyzer::default().analyze(&text);
        for w in found.windows(2) {
            proptest::prop_assert!(w[0].end <= w[1].start);
        }
        for f in &found {
            proptest::prop_assert!(f.end <= text.len() && text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        }
    }
}
