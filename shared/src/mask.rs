//! Masking of values that must not reach logs whole (CNPJs, bank account numbers).

/// Hides all but the last four characters, and at least half of them:
/// `60746948000112` → `**********0112`, `1243` → `**43`.
pub fn mask(value: &str) -> String {
    let count = value.chars().count();
    let shown = 4.min(count / 2);
    value
        .chars()
        .enumerate()
        .map(|(i, c)| if i + shown < count { '*' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_keeps_at_most_the_last_four_and_never_more_than_half() {
        assert_eq!(mask("60746948000112"), "**********0112");
        assert_eq!(mask("12345678"), "****5678");
        assert_eq!(mask("98765432-1"), "******32-1");
        assert_eq!(mask("1243"), "**43");
        assert_eq!(mask("12"), "*2");
        assert_eq!(mask("1"), "*");
        assert_eq!(mask(""), "");
    }
}
