//! The cryptographic protection the product's class requires (R-SEC-01).

/// R-SEC-01 (000 App.2 p.6.4): the level of cryptographic protection of a product of
/// `class`: class 1 → level 3, class 2 → level 2, class 3 → level 1. `None` for a
/// class the schema would refuse.
pub fn protection_level(class: i32) -> Option<i32> {
    match class {
        1..=3 => Some(4 - class),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_sec_01_the_protection_level_follows_the_class() {
        assert_eq!(protection_level(1), Some(3));
        assert_eq!(protection_level(2), Some(2));
        assert_eq!(protection_level(3), Some(1));
        assert_eq!(protection_level(0), None);
        assert_eq!(protection_level(4), None);
    }
}
