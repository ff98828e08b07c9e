//! Check rules of structured identifiers. Each takes the matched text as written (spaces and
//! dashes allowed) and says whether the number can be real.

/// Luhn (mod 10), the check digit of payment card numbers (ISO/IEC 7812).
pub fn luhn_valid(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() < 12 {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d })
        .sum();
    sum.is_multiple_of(10)
}

/// IBAN (ISO 13616): country letters, two check digits, then the account; move the first four
/// characters to the end, turn letters into 10..35, and the number mod 97 must be 1.
pub fn iban_valid(s: &str) -> bool {
    let chars: Vec<char> = s.chars().filter(|c| !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect();
    if chars.len() < 15 || chars.len() > 34 {
        return false;
    }
    if !chars[..2].iter().all(char::is_ascii_uppercase) || !chars[2..4].iter().all(char::is_ascii_digit) {
        return false;
    }
    let mut rem: u32 = 0;
    for c in chars[4..].iter().chain(&chars[..4]) {
        let v = match c {
            '0'..='9' => *c as u32 - '0' as u32,
            'A'..='Z' => *c as u32 - 'A' as u32 + 10,
            _ => return false,
        };
        rem = if v >= 10 { (rem * 100 + v) % 97 } else { (rem * 10 + v) % 97 };
    }
    rem == 1
}

/// US Social Security Number allocation rules (SSA): area not 000, 666 or 900-999, group not
/// 00, serial not 0000, and not the well-known advertising number 078-05-1120.
pub fn ssn_valid(s: &str) -> bool {
    let d: String = s.chars().filter(char::is_ascii_digit).collect();
    if d.len() != 9 {
        return false;
    }
    let (area, group, serial) = (&d[..3], &d[3..5], &d[5..]);
    area != "000" && area != "666" && !area.starts_with('9') && group != "00" && serial != "0000" && d != "078051120"
}

/// UK NHS number: ten digits, the last a mod-11 check digit with weights 10..2.
pub fn nhs_valid(s: &str) -> bool {
    let d: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if d.len() != 10 {
        return false;
    }
    let sum: u32 = d[..9].iter().zip((2..=10).rev()).map(|(a, w)| a * w).sum();
    let check = 11 - sum % 11;
    match check {
        11 => d[9] == 0,
        10 => false,
        c => d[9] == c,
    }
}

/// Spanish DNI/NIF: eight digits and the letter of (number mod 23).
pub fn nif_valid(s: &str) -> bool {
    const LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";
    let t: String = s.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    if t.len() != 9 {
        return false;
    }
    let (num, letter) = t.split_at(8);
    match num.parse::<u32>() {
        Ok(n) => letter.eq_ignore_ascii_case(&(LETTERS[(n % 23) as usize] as char).to_string()),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_valid_and_invalid_numbers() {
        // Published test numbers: Visa 4111 1111 1111 1111; the ECBS example IBAN GB82 WEST 1234 5698 7654 32.
        assert!(luhn_valid("4111 1111 1111 1111"));
        assert!(!luhn_valid("4111 1111 1111 1112"));
        assert!(iban_valid("GB82 WEST 1234 5698 7654 32"));
        assert!(iban_valid("gb82west12345698765432"));
        assert!(!iban_valid("GB82 WEST 1234 5698 7654 33"));
        assert!(ssn_valid("460-89-9847"));
        assert!(!ssn_valid("666-12-3456") && !ssn_valid("123-00-4567") && !ssn_valid("912-34-5678"));
        // NHS Digital's documented example 943 476 5919.
        assert!(nhs_valid("943 476 5919"));
        assert!(!nhs_valid("943 476 5918"));
        assert!(nif_valid("12345678Z"));
        assert!(!nif_valid("12345678A"));
    }
}
