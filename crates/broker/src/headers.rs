//! Reading and writing AMQP header tables.

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};

/// A string header: a long string (what Herald writes) or a short string.
pub fn get_str<'a>(table: &'a FieldTable, name: &str) -> Option<&'a str> {
    match table.inner().get(name)? {
        AMQPValue::LongString(value) => std::str::from_utf8(value.as_bytes()).ok(),
        AMQPValue::ShortString(value) => Some(value.as_str()),
        _ => None,
    }
}

/// An integer header of any width, signed or not.
pub fn get_int(table: &FieldTable, name: &str) -> Option<i64> {
    match table.inner().get(name)? {
        AMQPValue::ShortShortInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortShortUInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortUInt(v) => Some(i64::from(*v)),
        AMQPValue::LongInt(v) => Some(i64::from(*v)),
        AMQPValue::LongUInt(v) => Some(i64::from(*v)),
        AMQPValue::LongLongInt(v) => Some(*v),
        _ => None,
    }
}

/// Sets a string header.
pub fn put_str(table: &mut FieldTable, name: &str, value: &str) {
    table.insert(
        ShortString::from(name),
        AMQPValue::LongString(LongString::from(value)),
    );
}

/// Sets an integer header.
pub fn put_int(table: &mut FieldTable, name: &str, value: i64) {
    table.insert(ShortString::from(name), AMQPValue::LongLongInt(value));
}

/// Sets a string header unless `value` is `None`.
pub fn put_opt_str(table: &mut FieldTable, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        put_str(table, name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_integers_round_trip() {
        let mut table = FieldTable::default();
        put_str(&mut table, "x-name", "value");
        put_int(&mut table, "x-count", 6);
        put_opt_str(&mut table, "x-absent", None);
        assert_eq!(get_str(&table, "x-name"), Some("value"));
        assert_eq!(get_int(&table, "x-count"), Some(6));
        assert_eq!(get_str(&table, "x-absent"), None);
        assert_eq!(get_int(&table, "x-name"), None);
    }

    #[test]
    fn integers_of_other_widths_are_read() {
        let mut table = FieldTable::default();
        table.insert("a".into(), AMQPValue::ShortShortUInt(3));
        table.insert("b".into(), AMQPValue::LongInt(-4));
        table.insert("c".into(), AMQPValue::ShortString("s".into()));
        assert_eq!(get_int(&table, "a"), Some(3));
        assert_eq!(get_int(&table, "b"), Some(-4));
        assert_eq!(get_str(&table, "c"), Some("s"));
    }
}
