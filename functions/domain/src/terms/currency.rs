//! ISO 4217 currencies and their minor units: amounts are integers of the minor unit, so a
//! currency is what says how many of them make one unit (KRW 0 decimals, USD 2, BHD 3).
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};

/// Active ISO 4217 codes with two decimals (the usual case).
const TWO: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD \
BTN BWP BYN BZD CAD CDF CHF CNY COP CRC CUP CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS \
GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL \
MAD MDL MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR \
PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP \
TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWG";
/// Active ISO 4217 codes without minor units.
const ZERO: &str = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF";
/// Active ISO 4217 codes with three decimals.
const THREE: &str = "BHD IQD JOD KWD LYD OMR TND";

/// A currency a place sells in. Built only from a code of the lists above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: [u8; 3],
    minor_units: u8,
}

impl Currency {
    pub const KRW: Currency = Currency {
        code: *b"KRW",
        minor_units: 0,
    };

    /// The currency of an upper-case ISO 4217 code.
    pub fn parse(code: &str) -> Option<Currency> {
        let bytes: [u8; 3] = code.as_bytes().try_into().ok()?;
        if !bytes.iter().all(u8::is_ascii_uppercase) {
            return None;
        }
        let listed = |list: &str| list.split_ascii_whitespace().any(|c| c == code);
        let minor_units = [(ZERO, 0), (TWO, 2), (THREE, 3)]
            .into_iter()
            .find_map(|(list, units)| listed(list).then_some(units))?;
        Some(Currency {
            code: bytes,
            minor_units,
        })
    }

    pub fn code(&self) -> &str {
        // Built from ASCII only.
        std::str::from_utf8(&self.code).unwrap_or("XXX")
    }

    /// Decimals of the currency: an amount of 1 is 10^-minor_units of a unit.
    pub fn minor_units(&self) -> u8 {
        self.minor_units
    }
}

impl Default for Currency {
    /// What places stored before currencies existed were priced in.
    fn default() -> Self {
        Currency::KRW
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Currency::parse(&code).ok_or_else(|| {
            D::Error::custom(format!(
                "currency '{}' is not an ISO 4217 code such as KRW, USD or EUR",
                code.escape_debug()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_are_iso_4217() {
        let units = |c: &str| Currency::parse(c).map(|c| c.minor_units());
        assert_eq!(units("KRW"), Some(0));
        assert_eq!(units("JPY"), Some(0));
        assert_eq!(units("USD"), Some(2));
        assert_eq!(units("EUR"), Some(2));
        assert_eq!(units("BHD"), Some(3));
        assert_eq!(units("usd"), None);
        assert_eq!(units("XYZ"), None);
        assert_eq!(units("US"), None);
    }

    #[test]
    fn the_api_schema_lists_exactly_these_codes() {
        let schema = include_str!("../../../../openapi.yaml");
        let line = schema
            .lines()
            .skip_while(|l| l.trim() != "Currency:")
            .find_map(|l| l.trim().strip_prefix("enum: ["))
            .expect("Currency has an enum");
        let mut listed: Vec<&str> = line.trim_end_matches(']').split(", ").collect();
        let mut ours: Vec<&str> = [ZERO, TWO, THREE]
            .iter()
            .flat_map(|l| l.split_ascii_whitespace())
            .collect();
        listed.sort_unstable();
        ours.sort_unstable();
        assert_eq!(listed, ours);
    }

    #[test]
    fn no_code_is_listed_twice() {
        let mut all: Vec<&str> = [ZERO, TWO, THREE]
            .iter()
            .flat_map(|l| l.split_ascii_whitespace())
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
        assert!(all.iter().all(|c| c.len() == 3));
    }
}
