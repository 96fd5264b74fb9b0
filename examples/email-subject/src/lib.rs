//! String features of an email subject line, as a spam or engagement model
//! would use them.

use skewless_guest::{Features, transform};

/// String features of an email subject line: its length in characters,
/// word count, share of uppercase letters, exclamation marks, and whether it
/// contains an emoji or an unrendered personalization token such as
/// `*|FNAME|*` or `{{first_name}}`.
#[transform(name = "email-subject", version = "1.0.0")]
pub fn email_subject(subject: &str) -> SubjectFeatures {
    let mut letters = 0_i64;
    let mut uppercase = 0_i64;
    let mut length_chars = 0_i64;
    let mut exclamation_marks = 0_i64;
    let mut has_emoji = false;
    for c in subject.chars() {
        length_chars += 1;
        if c.is_alphabetic() {
            letters += 1;
            if c.is_uppercase() {
                uppercase += 1;
            }
        }
        exclamation_marks += i64::from(c == '!');
        has_emoji |= is_emoji(c);
    }
    SubjectFeatures {
        length_chars,
        word_count: subject.split_whitespace().count() as i64,
        uppercase_share: if letters == 0 {
            0.0
        } else {
            uppercase as f64 / letters as f64
        },
        exclamation_marks,
        has_emoji,
        has_personalization_token: has_personalization_token(subject),
    }
}

/// The features of one subject line.
#[derive(Features, Debug, Clone, PartialEq)]
pub struct SubjectFeatures {
    /// Length in Unicode scalar values (not bytes).
    pub length_chars: i64,
    /// Number of whitespace-separated words.
    pub word_count: i64,
    /// Uppercase letters / letters; 0 when there are no letters.
    pub uppercase_share: f64,
    /// Number of `!`.
    pub exclamation_marks: i64,
    /// Contains a pictographic emoji, dingbat or flag.
    pub has_emoji: bool,
    /// Contains a merge tag: `*|NAME|*` (Mailchimp), `{{name}}` or `%%name%%`.
    pub has_personalization_token: bool,
}

/// Whether `c` is in the Unicode blocks emoji come from.
pub fn is_emoji(c: char) -> bool {
    matches!(u32::from(c),
        // Mahjong and playing cards, enclosed alphanumerics and regional
        // indicators (flags), pictographs, emoticons, transport, symbols.
        0x1F000..=0x1FAFF
        // Miscellaneous symbols and dingbats (U+2600 to U+27BF).
        | 0x2600..=0x27BF
        // Arrows and stars such as U+2B50.
        | 0x2B00..=0x2BFF
    )
}

/// Whether the subject contains a merge tag that a mailer should have filled in.
pub fn has_personalization_token(subject: &str) -> bool {
    let enclosed = |open: &str, close: &str| {
        subject.find(open).is_some_and(|start| {
            let rest = &subject[start + open.len()..];
            rest.find(close).is_some_and(|end| {
                let token = &rest[..end];
                !token.is_empty() && token.chars().all(|c| c.is_alphanumeric() || c == '_')
            })
        })
    };
    enclosed("*|", "|*") || enclosed("{{", "}}") || enclosed("%%", "%%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_characters_not_bytes() {
        let f = email_subject("Café ☕ ready!");
        assert_eq!(f.length_chars, 13);
        assert_eq!(f.word_count, 3);
        assert_eq!(f.exclamation_marks, 1);
        assert!(f.has_emoji);
    }

    #[test]
    fn finds_merge_tags() {
        assert!(email_subject("*|FNAME|*, your invoice is ready").has_personalization_token);
        assert!(email_subject("Hi {{first_name}}").has_personalization_token);
        assert!(!email_subject("Save 50% today, 20% tomorrow").has_personalization_token);
        assert!(!email_subject("Re: Q3 planning").has_personalization_token);
    }

    #[test]
    fn uppercase_share_ignores_non_letters() {
        assert_eq!(email_subject("FREE!!! 100%").uppercase_share, 1.0);
        assert_eq!(email_subject("123").uppercase_share, 0.0);
        assert_eq!(email_subject("Ab").uppercase_share, 0.5);
    }
}
