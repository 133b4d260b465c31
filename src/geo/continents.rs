//! Country code → continent code table (ISO 3166-1 alpha-2 → the seven MaxMind continent codes AF AN AS EU NA OC SA); used when a geo database has no continent field. Pure data; never does I/O.
//!
//! The table follows ISO 3166-1 / MaxMind continent conventions. For
//! countries and territories that could be placed on more than one continent
//! the convention is:
//!
//! * `RU`, `CY` → `EU`
//! * `TR`, `AM`, `AZ`, `GE`, `KZ` → `AS`
//! * `EG` → `AF`; `PA` and the Caribbean → `NA`
//! * `TL`, `CX`, `UM` → `OC`
//! * `AQ`, `BV`, `GS`, `HM`, `TF` → `AN`
//!
//! Besides the 249 assigned ISO 3166-1 alpha-2 codes the table knows a few
//! non-ISO codes that IP geolocation databases emit: `XK` (Kosovo) → `EU`,
//! `EU` (European Union) → `EU`, `AP` (Asia/Pacific region) → `AS`, and the
//! withdrawn `AN` (Netherlands Antilles) → `NA`.

/// `(country, continent)` pairs, sorted by country code with no duplicates,
/// so that [`continent_of`] can binary-search it.
static TABLE: &[([u8; 2], [u8; 2])] = &[
    (*b"AD", *b"EU"), // Andorra
    (*b"AE", *b"AS"), // United Arab Emirates
    (*b"AF", *b"AS"), // Afghanistan
    (*b"AG", *b"NA"), // Antigua and Barbuda
    (*b"AI", *b"NA"), // Anguilla
    (*b"AL", *b"EU"), // Albania
    (*b"AM", *b"AS"), // Armenia
    (*b"AN", *b"NA"), // Netherlands Antilles (withdrawn 2010)
    (*b"AO", *b"AF"), // Angola
    (*b"AP", *b"AS"), // Asia/Pacific region (regional code)
    (*b"AQ", *b"AN"), // Antarctica
    (*b"AR", *b"SA"), // Argentina
    (*b"AS", *b"OC"), // American Samoa
    (*b"AT", *b"EU"), // Austria
    (*b"AU", *b"OC"), // Australia
    (*b"AW", *b"NA"), // Aruba
    (*b"AX", *b"EU"), // Åland Islands
    (*b"AZ", *b"AS"), // Azerbaijan
    (*b"BA", *b"EU"), // Bosnia and Herzegovina
    (*b"BB", *b"NA"), // Barbados
    (*b"BD", *b"AS"), // Bangladesh
    (*b"BE", *b"EU"), // Belgium
    (*b"BF", *b"AF"), // Burkina Faso
    (*b"BG", *b"EU"), // Bulgaria
    (*b"BH", *b"AS"), // Bahrain
    (*b"BI", *b"AF"), // Burundi
    (*b"BJ", *b"AF"), // Benin
    (*b"BL", *b"NA"), // Saint Barthélemy
    (*b"BM", *b"NA"), // Bermuda
    (*b"BN", *b"AS"), // Brunei Darussalam
    (*b"BO", *b"SA"), // Bolivia
    (*b"BQ", *b"NA"), // Bonaire, Sint Eustatius and Saba
    (*b"BR", *b"SA"), // Brazil
    (*b"BS", *b"NA"), // Bahamas
    (*b"BT", *b"AS"), // Bhutan
    (*b"BV", *b"AN"), // Bouvet Island
    (*b"BW", *b"AF"), // Botswana
    (*b"BY", *b"EU"), // Belarus
    (*b"BZ", *b"NA"), // Belize
    (*b"CA", *b"NA"), // Canada
    (*b"CC", *b"AS"), // Cocos (Keeling) Islands
    (*b"CD", *b"AF"), // Congo, The Democratic Republic of the
    (*b"CF", *b"AF"), // Central African Republic
    (*b"CG", *b"AF"), // Congo
    (*b"CH", *b"EU"), // Switzerland
    (*b"CI", *b"AF"), // Côte d'Ivoire
    (*b"CK", *b"OC"), // Cook Islands
    (*b"CL", *b"SA"), // Chile
    (*b"CM", *b"AF"), // Cameroon
    (*b"CN", *b"AS"), // China
    (*b"CO", *b"SA"), // Colombia
    (*b"CR", *b"NA"), // Costa Rica
    (*b"CU", *b"NA"), // Cuba
    (*b"CV", *b"AF"), // Cabo Verde
    (*b"CW", *b"NA"), // Curaçao
    (*b"CX", *b"OC"), // Christmas Island
    (*b"CY", *b"EU"), // Cyprus
    (*b"CZ", *b"EU"), // Czechia
    (*b"DE", *b"EU"), // Germany
    (*b"DJ", *b"AF"), // Djibouti
    (*b"DK", *b"EU"), // Denmark
    (*b"DM", *b"NA"), // Dominica
    (*b"DO", *b"NA"), // Dominican Republic
    (*b"DZ", *b"AF"), // Algeria
    (*b"EC", *b"SA"), // Ecuador
    (*b"EE", *b"EU"), // Estonia
    (*b"EG", *b"AF"), // Egypt
    (*b"EH", *b"AF"), // Western Sahara
    (*b"ER", *b"AF"), // Eritrea
    (*b"ES", *b"EU"), // Spain
    (*b"ET", *b"AF"), // Ethiopia
    (*b"EU", *b"EU"), // European Union (regional code)
    (*b"FI", *b"EU"), // Finland
    (*b"FJ", *b"OC"), // Fiji
    (*b"FK", *b"SA"), // Falkland Islands (Malvinas)
    (*b"FM", *b"OC"), // Micronesia, Federated States of
    (*b"FO", *b"EU"), // Faroe Islands
    (*b"FR", *b"EU"), // France
    (*b"GA", *b"AF"), // Gabon
    (*b"GB", *b"EU"), // United Kingdom
    (*b"GD", *b"NA"), // Grenada
    (*b"GE", *b"AS"), // Georgia
    (*b"GF", *b"SA"), // French Guiana
    (*b"GG", *b"EU"), // Guernsey
    (*b"GH", *b"AF"), // Ghana
    (*b"GI", *b"EU"), // Gibraltar
    (*b"GL", *b"NA"), // Greenland
    (*b"GM", *b"AF"), // Gambia
    (*b"GN", *b"AF"), // Guinea
    (*b"GP", *b"NA"), // Guadeloupe
    (*b"GQ", *b"AF"), // Equatorial Guinea
    (*b"GR", *b"EU"), // Greece
    (*b"GS", *b"AN"), // South Georgia and the South Sandwich Islands
    (*b"GT", *b"NA"), // Guatemala
    (*b"GU", *b"OC"), // Guam
    (*b"GW", *b"AF"), // Guinea-Bissau
    (*b"GY", *b"SA"), // Guyana
    (*b"HK", *b"AS"), // Hong Kong
    (*b"HM", *b"AN"), // Heard Island and McDonald Islands
    (*b"HN", *b"NA"), // Honduras
    (*b"HR", *b"EU"), // Croatia
    (*b"HT", *b"NA"), // Haiti
    (*b"HU", *b"EU"), // Hungary
    (*b"ID", *b"AS"), // Indonesia
    (*b"IE", *b"EU"), // Ireland
    (*b"IL", *b"AS"), // Israel
    (*b"IM", *b"EU"), // Isle of Man
    (*b"IN", *b"AS"), // India
    (*b"IO", *b"AS"), // British Indian Ocean Territory
    (*b"IQ", *b"AS"), // Iraq
    (*b"IR", *b"AS"), // Iran
    (*b"IS", *b"EU"), // Iceland
    (*b"IT", *b"EU"), // Italy
    (*b"JE", *b"EU"), // Jersey
    (*b"JM", *b"NA"), // Jamaica
    (*b"JO", *b"AS"), // Jordan
    (*b"JP", *b"AS"), // Japan
    (*b"KE", *b"AF"), // Kenya
    (*b"KG", *b"AS"), // Kyrgyzstan
    (*b"KH", *b"AS"), // Cambodia
    (*b"KI", *b"OC"), // Kiribati
    (*b"KM", *b"AF"), // Comoros
    (*b"KN", *b"NA"), // Saint Kitts and Nevis
    (*b"KP", *b"AS"), // North Korea
    (*b"KR", *b"AS"), // South Korea
    (*b"KW", *b"AS"), // Kuwait
    (*b"KY", *b"NA"), // Cayman Islands
    (*b"KZ", *b"AS"), // Kazakhstan
    (*b"LA", *b"AS"), // Laos
    (*b"LB", *b"AS"), // Lebanon
    (*b"LC", *b"NA"), // Saint Lucia
    (*b"LI", *b"EU"), // Liechtenstein
    (*b"LK", *b"AS"), // Sri Lanka
    (*b"LR", *b"AF"), // Liberia
    (*b"LS", *b"AF"), // Lesotho
    (*b"LT", *b"EU"), // Lithuania
    (*b"LU", *b"EU"), // Luxembourg
    (*b"LV", *b"EU"), // Latvia
    (*b"LY", *b"AF"), // Libya
    (*b"MA", *b"AF"), // Morocco
    (*b"MC", *b"EU"), // Monaco
    (*b"MD", *b"EU"), // Moldova
    (*b"ME", *b"EU"), // Montenegro
    (*b"MF", *b"NA"), // Saint Martin (French part)
    (*b"MG", *b"AF"), // Madagascar
    (*b"MH", *b"OC"), // Marshall Islands
    (*b"MK", *b"EU"), // North Macedonia
    (*b"ML", *b"AF"), // Mali
    (*b"MM", *b"AS"), // Myanmar
    (*b"MN", *b"AS"), // Mongolia
    (*b"MO", *b"AS"), // Macao
    (*b"MP", *b"OC"), // Northern Mariana Islands
    (*b"MQ", *b"NA"), // Martinique
    (*b"MR", *b"AF"), // Mauritania
    (*b"MS", *b"NA"), // Montserrat
    (*b"MT", *b"EU"), // Malta
    (*b"MU", *b"AF"), // Mauritius
    (*b"MV", *b"AS"), // Maldives
    (*b"MW", *b"AF"), // Malawi
    (*b"MX", *b"NA"), // Mexico
    (*b"MY", *b"AS"), // Malaysia
    (*b"MZ", *b"AF"), // Mozambique
    (*b"NA", *b"AF"), // Namibia
    (*b"NC", *b"OC"), // New Caledonia
    (*b"NE", *b"AF"), // Niger
    (*b"NF", *b"OC"), // Norfolk Island
    (*b"NG", *b"AF"), // Nigeria
    (*b"NI", *b"NA"), // Nicaragua
    (*b"NL", *b"EU"), // Netherlands
    (*b"NO", *b"EU"), // Norway
    (*b"NP", *b"AS"), // Nepal
    (*b"NR", *b"OC"), // Nauru
    (*b"NU", *b"OC"), // Niue
    (*b"NZ", *b"OC"), // New Zealand
    (*b"OM", *b"AS"), // Oman
    (*b"PA", *b"NA"), // Panama
    (*b"PE", *b"SA"), // Peru
    (*b"PF", *b"OC"), // French Polynesia
    (*b"PG", *b"OC"), // Papua New Guinea
    (*b"PH", *b"AS"), // Philippines
    (*b"PK", *b"AS"), // Pakistan
    (*b"PL", *b"EU"), // Poland
    (*b"PM", *b"NA"), // Saint Pierre and Miquelon
    (*b"PN", *b"OC"), // Pitcairn
    (*b"PR", *b"NA"), // Puerto Rico
    (*b"PS", *b"AS"), // Palestine, State of
    (*b"PT", *b"EU"), // Portugal
    (*b"PW", *b"OC"), // Palau
    (*b"PY", *b"SA"), // Paraguay
    (*b"QA", *b"AS"), // Qatar
    (*b"RE", *b"AF"), // Réunion
    (*b"RO", *b"EU"), // Romania
    (*b"RS", *b"EU"), // Serbia
    (*b"RU", *b"EU"), // Russian Federation
    (*b"RW", *b"AF"), // Rwanda
    (*b"SA", *b"AS"), // Saudi Arabia
    (*b"SB", *b"OC"), // Solomon Islands
    (*b"SC", *b"AF"), // Seychelles
    (*b"SD", *b"AF"), // Sudan
    (*b"SE", *b"EU"), // Sweden
    (*b"SG", *b"AS"), // Singapore
    (*b"SH", *b"AF"), // Saint Helena, Ascension and Tristan da Cunha
    (*b"SI", *b"EU"), // Slovenia
    (*b"SJ", *b"EU"), // Svalbard and Jan Mayen
    (*b"SK", *b"EU"), // Slovakia
    (*b"SL", *b"AF"), // Sierra Leone
    (*b"SM", *b"EU"), // San Marino
    (*b"SN", *b"AF"), // Senegal
    (*b"SO", *b"AF"), // Somalia
    (*b"SR", *b"SA"), // Suriname
    (*b"SS", *b"AF"), // South Sudan
    (*b"ST", *b"AF"), // Sao Tome and Principe
    (*b"SV", *b"NA"), // El Salvador
    (*b"SX", *b"NA"), // Sint Maarten (Dutch part)
    (*b"SY", *b"AS"), // Syria
    (*b"SZ", *b"AF"), // Eswatini
    (*b"TC", *b"NA"), // Turks and Caicos Islands
    (*b"TD", *b"AF"), // Chad
    (*b"TF", *b"AN"), // French Southern Territories
    (*b"TG", *b"AF"), // Togo
    (*b"TH", *b"AS"), // Thailand
    (*b"TJ", *b"AS"), // Tajikistan
    (*b"TK", *b"OC"), // Tokelau
    (*b"TL", *b"OC"), // Timor-Leste
    (*b"TM", *b"AS"), // Turkmenistan
    (*b"TN", *b"AF"), // Tunisia
    (*b"TO", *b"OC"), // Tonga
    (*b"TR", *b"AS"), // Türkiye
    (*b"TT", *b"NA"), // Trinidad and Tobago
    (*b"TV", *b"OC"), // Tuvalu
    (*b"TW", *b"AS"), // Taiwan
    (*b"TZ", *b"AF"), // Tanzania
    (*b"UA", *b"EU"), // Ukraine
    (*b"UG", *b"AF"), // Uganda
    (*b"UM", *b"OC"), // United States Minor Outlying Islands
    (*b"US", *b"NA"), // United States
    (*b"UY", *b"SA"), // Uruguay
    (*b"UZ", *b"AS"), // Uzbekistan
    (*b"VA", *b"EU"), // Holy See (Vatican City State)
    (*b"VC", *b"NA"), // Saint Vincent and the Grenadines
    (*b"VE", *b"SA"), // Venezuela
    (*b"VG", *b"NA"), // Virgin Islands, British
    (*b"VI", *b"NA"), // Virgin Islands, U.S.
    (*b"VN", *b"AS"), // Vietnam
    (*b"VU", *b"OC"), // Vanuatu
    (*b"WF", *b"OC"), // Wallis and Futuna
    (*b"WS", *b"OC"), // Samoa
    (*b"XK", *b"EU"), // Kosovo (user-assigned)
    (*b"YE", *b"AS"), // Yemen
    (*b"YT", *b"AF"), // Mayotte
    (*b"ZA", *b"AF"), // South Africa
    (*b"ZM", *b"AF"), // Zambia
    (*b"ZW", *b"AF"), // Zimbabwe
];

/// Continent code for an ISO 3166-1 alpha-2 country code (upper case), or None when unknown.
#[must_use]
pub fn continent_of(country: [u8; 2]) -> Option<[u8; 2]> {
    TABLE
        .binary_search_by(|(code, _)| code.cmp(&country))
        .ok()
        .map(|i| TABLE[i].1)
}

#[cfg(test)]
mod tests {
    use super::{TABLE, continent_of};

    const CONTINENTS: [[u8; 2]; 7] = [*b"AF", *b"AN", *b"AS", *b"EU", *b"NA", *b"OC", *b"SA"];

    fn lookup(country: &str) -> Option<String> {
        let bytes: [u8; 2] = country.as_bytes().try_into().expect("two-byte code");
        continent_of(bytes).map(|c| String::from_utf8(c.to_vec()).expect("ASCII code"))
    }

    #[test]
    fn table_is_strictly_sorted_without_duplicates() {
        for pair in TABLE.windows(2) {
            assert!(
                pair[0].0 < pair[1].0,
                "{:?} must sort strictly before {:?}",
                String::from_utf8_lossy(&pair[0].0),
                String::from_utf8_lossy(&pair[1].0),
            );
        }
    }

    #[test]
    fn table_size_is_iso_codes_plus_extras() {
        // 249 assigned ISO 3166-1 alpha-2 codes + XK, EU, AP, AN.
        assert_eq!(TABLE.len(), 253);
    }

    #[test]
    fn keys_are_upper_case_letters() {
        for (code, _) in TABLE {
            assert!(code.iter().all(u8::is_ascii_uppercase), "bad key {code:?}");
        }
    }

    #[test]
    fn values_are_the_seven_continent_codes() {
        for (code, continent) in TABLE {
            assert!(
                CONTINENTS.contains(continent),
                "{} maps to unknown continent {:?}",
                String::from_utf8_lossy(code),
                String::from_utf8_lossy(continent),
            );
        }
        for continent in CONTINENTS {
            assert!(
                TABLE.iter().any(|(_, c)| *c == continent),
                "continent {:?} never used",
                String::from_utf8_lossy(&continent),
            );
        }
    }

    #[test]
    fn every_entry_is_found_by_lookup() {
        for (code, continent) in TABLE {
            assert_eq!(continent_of(*code), Some(*continent));
        }
    }

    #[test]
    fn spot_checks() {
        let cases = [
            ("US", "NA"),
            ("CA", "NA"),
            ("MX", "NA"),
            ("BR", "SA"),
            ("AR", "SA"),
            ("DE", "EU"),
            ("GB", "EU"),
            ("CN", "AS"),
            ("JP", "AS"),
            ("IN", "AS"),
            ("AU", "OC"),
            ("NZ", "OC"),
            ("ZA", "AF"),
            ("NG", "AF"),
            ("AQ", "AN"),
        ];
        for (country, continent) in cases {
            assert_eq!(lookup(country).as_deref(), Some(continent), "{country}");
        }
    }

    #[test]
    fn ambiguous_cases_follow_convention() {
        let cases = [
            ("RU", "EU"),
            ("CY", "EU"),
            ("TR", "AS"),
            ("AM", "AS"),
            ("AZ", "AS"),
            ("GE", "AS"),
            ("KZ", "AS"),
            ("EG", "AF"),
            ("PA", "NA"),
            ("PR", "NA"),
            ("CU", "NA"),
            ("GL", "NA"),
            ("TL", "OC"),
            ("CX", "OC"),
            ("UM", "OC"),
            ("BV", "AN"),
            ("GS", "AN"),
            ("HM", "AN"),
            ("TF", "AN"),
        ];
        for (country, continent) in cases {
            assert_eq!(lookup(country).as_deref(), Some(continent), "{country}");
        }
    }

    #[test]
    fn non_iso_codes() {
        assert_eq!(lookup("XK").as_deref(), Some("EU"));
        assert_eq!(lookup("EU").as_deref(), Some("EU"));
        assert_eq!(lookup("AP").as_deref(), Some("AS"));
        assert_eq!(lookup("AN").as_deref(), Some("NA"));
    }

    #[test]
    fn unknown_codes_are_none() {
        for country in ["ZZ", "XX", "A1", "O1", "us", "--", "\0\0"] {
            assert_eq!(lookup(country), None, "{country:?}");
        }
    }
}
