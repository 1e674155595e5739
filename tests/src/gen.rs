//! A deterministic generator of realistic contacts: names from many cultures, emails, phones
//! of several countries, companies, cities, tags and custom values. The same seed gives the
//! same contacts, so benchmarks compare like with like.

use contacts_core::kernel::values::{Phone, Region};
use serde_json::{json, Value as Json};

/// splitmix64: small, fast, and good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

pub const FIRST_NAMES: &[&str] = &[
    "Ana",
    "João",
    "Maria",
    "José",
    "Zoë",
    "Chloé",
    "François",
    "Søren",
    "Björn",
    "Łukasz",
    "Mehmet",
    "Ayşe",
    "Hiroshi",
    "Yuki",
    "Wei",
    "Mei",
    "Priya",
    "Arjun",
    "Fatima",
    "Omar",
    "Kwame",
    "Amara",
    "Olga",
    "Dmitri",
    "Siobhán",
    "Seán",
    "Lucía",
    "Mateo",
    "Emma",
    "Liam",
    "Noah",
    "Olivia",
    "Ahmed",
    "Leila",
    "Tomás",
    "Inês",
    "Nguyen",
    "Linh",
    "Kofi",
    "Ngozi",
    "Giulia",
    "Lorenzo",
    "Hannah",
    "Jonas",
    "Isabella",
    "Santiago",
    "Aiko",
    "Ravi",
    "Sara",
    "David",
];

pub const LAST_NAMES: &[&str] = &[
    "Lima",
    "Silva",
    "Santos",
    "Oliveira",
    "García",
    "Martínez",
    "Müller",
    "Schmidt",
    "Dubois",
    "Lefèvre",
    "Rossi",
    "Bianchi",
    "Kowalski",
    "Nowak",
    "Yılmaz",
    "Kaya",
    "Tanaka",
    "Suzuki",
    "Wang",
    "Li",
    "Zhang",
    "Sharma",
    "Patel",
    "Haddad",
    "Khan",
    "Mensah",
    "Okafor",
    "Ivanova",
    "Petrov",
    "O'Brien",
    "Murphy",
    "Andersson",
    "Johansson",
    "Nguyễn",
    "Tran",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Fernández",
    "López",
    "González",
    "Pereira",
    "Costa",
    "Kim",
    "Park",
    "Choi",
    "Novak",
    "Horvat",
];

pub const COMPANIES: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark Industries",
    "Wayne Enterprises",
    "Hooli",
    "Pied Piper",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Aperture",
    "Wonka",
    "Monsters Inc",
];

pub const CITIES: &[(&str, &str)] = &[
    ("Paris", "FR"),
    ("Lyon", "FR"),
    ("São Paulo", "BR"),
    ("Rio de Janeiro", "BR"),
    ("New York", "US"),
    ("San Francisco", "US"),
    ("Austin", "US"),
    ("London", "GB"),
    ("Manchester", "GB"),
    ("Berlin", "DE"),
    ("München", "DE"),
    ("Tokyo", "JP"),
    ("Osaka", "JP"),
    ("Mumbai", "IN"),
    ("Bengaluru", "IN"),
    ("Ciudad de México", "MX"),
    ("Lagos", "NG"),
    ("Istanbul", "TR"),
    ("Warszawa", "PL"),
    ("Roma", "IT"),
];

pub const TAGS: &[&str] = &[
    "vip",
    "newsletter",
    "churn-risk",
    "beta",
    "enterprise",
    "partner",
    "spam-reported",
    "trial",
];
pub const TIERS: &[&str] = &["Gold", "Silver", "Bronze"];
pub const CHANNELS: &[&str] = &[
    "web_chat",
    "whatsapp",
    "messenger",
    "instagram",
    "telegram",
    "email",
    "sms",
];

/// A valid phone number of the country, in international form with spacing.
pub fn phone(rng: &mut Rng, country: &str) -> String {
    let d = |rng: &mut Rng, n: usize| -> String {
        (0..n)
            .map(|_| char::from(b'0' + rng.below(10) as u8))
            .collect()
    };
    match country {
        "BR" => format!("+55 11 99{} {}", d(rng, 3), d(rng, 4)),
        "FR" => format!("+33 6 12 {} {} {}", d(rng, 2), d(rng, 2), d(rng, 2)),
        "GB" => format!("+44 7911 {}", d(rng, 6)),
        "DE" => format!("+49 151 {}", d(rng, 8)),
        "JP" => format!("+81 90 1{} {}", d(rng, 3), d(rng, 4)),
        "IN" => format!("+91 98{} {}", d(rng, 3), d(rng, 5)),
        "MX" => format!("+52 55 {} {}", d(rng, 4), d(rng, 4)),
        _ => {
            let areas = [
                "201", "212", "305", "312", "415", "512", "617", "702", "919", "646",
            ];
            format!(
                "+1 {} {} {}",
                areas[rng.below(areas.len())],
                200 + rng.below(800),
                d(rng, 4)
            )
        }
    }
}

/// A number of the country that the app accepts, ending in `n`'s digits (a few random
/// prefixes are tried: not every range of a numbering plan is assigned).
fn valid_unique_phone(rng: &mut Rng, country: &str, n: u64) -> Option<String> {
    (0..20)
        .map(|_| with_unique_tail(&phone(rng, country), n))
        .find(|p| Phone::parse(p, Region::default()).is_ok())
}

/// Replaces the last six digits of a formatted number with `n`, so numbers of distinct
/// `n < 1_000_000` never collide; the leading digits that make the number valid stay.
fn with_unique_tail(formatted: &str, n: u64) -> String {
    let tail = format!("{:06}", n % 1_000_000);
    let mut tail_digits = tail.chars().rev();
    let mut out: Vec<char> = formatted
        .chars()
        .rev()
        .map(|c| {
            if c.is_ascii_digit() {
                tail_digits.next().unwrap_or(c)
            } else {
                c
            }
        })
        .collect();
    out.reverse();
    out.into_iter().collect()
}

fn ascii_fold(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            'á' | 'à' | 'ã' | 'â' | 'ä' => Some('a'),
            'é' | 'è' | 'ê' | 'ë' => Some('e'),
            'í' | 'ì' | 'ı' => Some('i'),
            'ó' | 'ò' | 'õ' | 'ô' | 'ö' | 'ø' => Some('o'),
            'ú' | 'ù' | 'ü' => Some('u'),
            'ç' => Some('c'),
            'ñ' => Some('n'),
            'ł' | 'Ł' => Some('l'),
            'ş' => Some('s'),
            'ễ' => Some('e'),
            c if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// The `n`-th generated contact as a create body. Emails and phones are unique per `n`.
pub fn contact(seed: u64, n: u64) -> Json {
    let mut rng = Rng::new(seed ^ n.wrapping_mul(0x2545_F491_4F6C_DD1D));
    let first = rng.pick(FIRST_NAMES);
    let last = rng.pick(LAST_NAMES);
    let (city, country) = CITIES[rng.below(CITIES.len())];
    let stage = ["lead", "contact", "customer"][rng.below(3)];
    let email = format!(
        "{}.{}{}@example{}.com",
        ascii_fold(first),
        ascii_fold(last),
        n,
        n % 7
    );
    let mut body = json!({
        "first_name": first,
        "last_name": last,
        "email": email,
        "city": city,
        "country": country,
        "company": rng.pick(COMPANIES),
        "lead_stage": stage,
        "source_channel": rng.pick(CHANNELS),
    });
    if rng.chance(70) {
        if let Some(p) = valid_unique_phone(&mut rng, country, n) {
            body["phone"] = json!(p);
        }
    }
    let ntags = rng.below(3);
    let tags: Vec<&str> = (0..ntags).map(|_| rng.pick(TAGS)).collect();
    body["tags"] = json!(tags);
    body
}

/// Custom values matching [`custom_field_defs`].
pub fn custom_values(seed: u64, n: u64) -> Json {
    let mut rng = Rng::new(seed.wrapping_add(n).wrapping_mul(31));
    json!({
        "tier": rng.pick(TIERS),
        "score": rng.below(1000),
        "vip": rng.chance(10),
        "renewal": format!("2027-{:02}-{:02}", 1 + rng.below(12), 1 + rng.below(28)),
        "notes": format!("{} account", rng.pick(&["priority", "standard", "legacy", "migrated"])),
    })
}

/// Ten custom field definitions used by benchmarks.
pub fn custom_field_defs() -> Vec<Json> {
    vec![
        json!({"key": "tier", "label": "Tier", "type": "single_select", "options": TIERS}),
        json!({"key": "score", "label": "Score", "type": "number"}),
        json!({"key": "vip", "label": "VIP", "type": "checkbox"}),
        json!({"key": "renewal", "label": "Renewal", "type": "date"}),
        json!({"key": "notes", "label": "Notes", "type": "text"}),
        json!({"key": "interests", "label": "Interests", "type": "multi_select", "options": ["sports", "music", "travel", "tech"]}),
        json!({"key": "last_order", "label": "Last order", "type": "datetime"}),
        json!({"key": "homepage", "label": "Homepage", "type": "link"}),
        json!({"key": "alt_email", "label": "Alternate email", "type": "email"}),
        json!({"key": "account_no", "label": "Account number", "type": "text"}),
    ]
}
