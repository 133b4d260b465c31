//! Aggregation: per-thread accumulators of counts and report cells, merged associatively.
//! Owns no I/O and holds no address: keys are places, hours, scrubbed names and classes, and
//! visitors are keyed-hash sketches.

use datasketches::hll::{Coupon, HllSketch, HllType, HllUnion};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::geo::Place;
use crate::parse::RejectReason;
use crate::ua::AgentClass;

/// Request and byte totals of one report cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    pub requests: u64,
    pub bytes: u64,
}

impl Totals {
    #[inline]
    pub fn add(&mut self, bytes: u64) {
        self.requests += 1;
        self.bytes = self.bytes.saturating_add(bytes);
    }
    #[inline]
    pub fn merge(&mut self, other: Totals) {
        self.requests += other.requests;
        self.bytes = self.bytes.saturating_add(other.bytes);
    }
}

/// HTTP methods reported by name; anything else is `OTHER`, a missing one `-`.
pub const METHODS: [&str; 11] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE", "OTHER", "-",
];

/// Index into [`METHODS`] of a request's method.
#[inline]
pub fn method_index(m: &[u8]) -> u8 {
    match m {
        b"GET" => 0,
        b"HEAD" => 1,
        b"POST" => 2,
        b"PUT" => 3,
        b"DELETE" => 4,
        b"OPTIONS" => 5,
        b"PATCH" => 6,
        b"CONNECT" => 7,
        b"TRACE" => 8,
        b"" => 10,
        _ => 9,
    }
}

/// `1xx`…`5xx`, or `other` for anything outside 100–599.
pub fn status_class_name(class: u8) -> &'static str {
    match class {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        5 => "5xx",
        _ => "other",
    }
}

#[inline]
pub fn status_class(status: u16) -> u8 {
    match status {
        100..=599 => (status / 100) as u8,
        _ => 0,
    }
}

/// Key of a `traffic_hourly` cell: hour since the epoch, vhost id, status class, method index.
pub type HourKey = (i64, u32, u8, u8);
/// Key of a `geo_daily` cell: day since the epoch and place.
pub type GeoKey = (i64, Place);
/// Key of a `pages_daily` cell: day, vhost id, page id, status class.
pub type PageKey = (i64, u32, u32, u8);
/// Key of a `referrers_daily` cell: day, referrer-host id.
pub type RefKey = (i64, u32);
/// Key of an `agents_daily` cell: day, agent-class id.
pub type AgentKey = (i64, u32);

/// Name of the explicit row that gathers everything folded away.
pub const OTHER: &str = "(other)";
/// Id of [`OTHER`] in every [`Interner`].
pub const OTHER_ID: u32 = 0;

/// A distinct-visitor sketch: Apache DataSketches HLL (lg_k 12, HLL_8), empty until fed.
/// Visitors added directly go to a sketch; sketches merged in go to a union, so that folding
/// many small rows into one costs each fold only the size of the small row.
#[derive(Clone, Default)]
pub struct Visitors {
    /// Inline, not boxed: the cell that holds it was just found, so an update reads one
    /// cache line less on its way to the registers.
    sketch: Option<HllSketch>,
    union: Option<Box<HllUnion>>,
    /// Visitors added but not yet in `sketch`. Each update of a sketch reads one register
    /// (or coupon slot) at random, most often from memory; fed in a batch, those reads
    /// overlap instead of each waiting for the one before.
    pending: Pending,
}

/// Up to [`PENDING`] coupons waiting to be added to a sketch.
#[derive(Clone, Copy)]
struct Pending {
    len: u8,
    coupons: [Coupon; PENDING],
}

const PENDING: usize = 8;

impl Default for Pending {
    fn default() -> Self {
        Pending {
            len: 0,
            coupons: [Coupon::from_value(0u8); PENDING],
        }
    }
}

impl std::fmt::Debug for Visitors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Visitors(~{})", self.estimate())
    }
}

impl Visitors {
    pub const LG_K: u8 = 12;

    fn empty_sketch() -> HllSketch {
        HllSketch::new(Self::LG_K, HllType::Hll8).expect("lg_k 12 is valid")
    }

    #[inline]
    pub fn add(&mut self, c: Coupon) {
        let p = &mut self.pending;
        p.coupons[p.len as usize] = c;
        p.len += 1;
        if p.len as usize == PENDING {
            self.settle();
        }
    }

    /// Adds the pending visitors to the sketch.
    fn settle(&mut self) {
        let n = std::mem::take(&mut self.pending.len) as usize;
        if n > 0 {
            let s = self.sketch.get_or_insert_with(Self::empty_sketch);
            for &c in &self.pending.coupons[..n] {
                s.update_with_coupon(c);
            }
        }
    }

    /// `self` with no visitor pending: borrowed when none is, settled in a copy otherwise.
    fn settled(&self) -> std::borrow::Cow<'_, Visitors> {
        if self.pending.len == 0 {
            std::borrow::Cow::Borrowed(self)
        } else {
            let mut v = self.clone();
            v.settle();
            std::borrow::Cow::Owned(v)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sketch.is_none() && self.union.is_none() && self.pending.len == 0
    }

    /// Visitors of a stored sketch (read back from a report). A sketch of another size or
    /// type than logveil's own goes through a union, so it merges and serialises as ours.
    pub fn from_sketch(s: HllSketch) -> Visitors {
        if s.is_empty() {
            Visitors::default()
        } else if s.lg_config_k() == Self::LG_K && s.target_type() == HllType::Hll8 {
            Visitors {
                sketch: Some(s),
                union: None,
                pending: Pending::default(),
            }
        } else {
            let mut u = HllUnion::new(Self::LG_K).expect("lg_k 12 is valid");
            u.update(&s);
            Visitors {
                sketch: None,
                union: Some(Box::new(u)),
                pending: Pending::default(),
            }
        }
    }

    /// Unions `other` into `self`.
    pub fn merge(&mut self, mut other: Visitors) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            *self = other;
            return;
        }
        self.settle();
        other.settle();
        let u = self
            .union
            .get_or_insert_with(|| Box::new(HllUnion::new(Self::LG_K).expect("lg_k 12 is valid")));
        if let Some(s) = other.sketch {
            u.update(&s);
        }
        if let Some(ou) = other.union {
            u.update(&ou.to_sketch(HllType::Hll8));
        }
    }

    /// Everything added and merged, as one sketch.
    pub fn sketch(&self) -> HllSketch {
        let me = self.settled();
        match (&me.sketch, &me.union) {
            (None, None) => Self::empty_sketch(),
            (Some(s), None) => s.clone(),
            (s, Some(u)) => {
                let mut u = (**u).clone();
                if let Some(s) = s {
                    u.update(s);
                }
                u.to_sketch(HllType::Hll8)
            }
        }
    }

    /// The estimated number of distinct visitors, rounded: the composite estimate, a function
    /// of the sketch's registers alone. The sketch's HIP estimate would depend on the order
    /// in which visitors were added and sketches unioned (threads, runs, merges), so the same
    /// visitors would publish different numbers; a union's estimate (Spark's
    /// `hll_sketch_estimate` of `hll_union_agg`) is the composite one too.
    pub fn estimate(&self) -> u64 {
        let me = self.settled();
        match (&me.sketch, &me.union) {
            (None, None) => 0,
            (Some(s), None) => s.composite_estimate().round() as u64,
            _ => me.sketch().composite_estimate().round() as u64,
        }
    }

    /// The sketch in the Apache DataSketches binary format (an empty sketch when unfed). A
    /// sketch in HLL mode is flagged out of order, so that every reader (DataSketches in any
    /// language, Spark) estimates it with the composite estimator, as [`Visitors::estimate`]
    /// does: the published `visitors` is then what a reader of the sketch computes.
    pub fn serialize(&self) -> Vec<u8> {
        let mut bytes = self.sketch().serialize();
        mark_out_of_order(&mut bytes);
        bytes
    }
}

/// Offsets in the DataSketches HLL preamble: the flags byte and the mode byte.
const HLL_FLAGS_BYTE: usize = 5;
const HLL_MODE_BYTE: usize = 7;
/// The flag telling readers that the HIP history is unavailable (use the composite estimate).
const HLL_OUT_OF_ORDER: u8 = 16;
/// The current-mode value of a sketch holding registers (not a list or set of coupons).
const HLL_CUR_MODE_HLL: u8 = 2;

/// Sets the out-of-order flag of a serialised sketch in HLL mode. List and set modes count
/// their coupons and have no HIP estimate to drop.
fn mark_out_of_order(bytes: &mut [u8]) {
    if bytes.len() > HLL_MODE_BYTE && bytes[HLL_MODE_BYTE] & 3 == HLL_CUR_MODE_HLL {
        bytes[HLL_FLAGS_BYTE] |= HLL_OUT_OF_ORDER;
    }
}

/// Totals and distinct visitors of one report row.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    pub totals: Totals,
    pub visitors: Visitors,
}

impl Cell {
    #[inline]
    pub fn add(&mut self, bytes: u64, visitor: Coupon) {
        self.totals.add(bytes);
        self.visitors.add(visitor);
    }
    pub fn merge(&mut self, other: Cell) {
        self.totals.merge(other.totals);
        self.visitors.merge(other.visitors);
    }
}

/// Byte strings to small ids and back. Id 0 is always [`OTHER`].
#[derive(Debug, Clone)]
pub struct Interner {
    ids: FxHashMap<Box<[u8]>, u32>,
    names: Vec<Box<[u8]>>,
}

impl Default for Interner {
    fn default() -> Self {
        let mut i = Interner {
            ids: FxHashMap::default(),
            names: Vec::new(),
        };
        i.id(OTHER.as_bytes());
        i
    }
}

impl Interner {
    #[inline]
    pub fn id(&mut self, name: &[u8]) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }
    pub fn name(&self, id: u32) -> &[u8] {
        &self.names[id as usize]
    }
    pub fn len(&self) -> usize {
        self.names.len()
    }
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
    /// Keeps only the names in `keep` (and [`OTHER`]); returns old id → new id.
    fn retain(&mut self, keep: &FxHashSet<u32>) -> FxHashMap<u32, u32> {
        let old = std::mem::take(self);
        let mut map = FxHashMap::default();
        map.insert(OTHER_ID, OTHER_ID);
        for (id, name) in old.names.iter().enumerate() {
            let id = id as u32;
            if id != OTHER_ID && keep.contains(&id) {
                map.insert(id, self.id(name));
            }
        }
        map
    }
}

/// A table of cells keyed by something holding an interned name, bounded in size: when it
/// outgrows its capacity, the least-requested half of its rows is folded into the [`OTHER`]
/// row of the same parent (the frequent-items "reverse purge"). Sums are kept exactly; which
/// rows survive depends on the order of the input only when the bound is reached.
///
/// Cells live in a slab, in the order they were added, and a map finds a key's place in it:
/// the map's entries are small (a key and an index), and a caller that remembers where a
/// name's cell was last time (see [`Bounded::locate`]) finds it again without the map.
#[derive(Debug, Clone)]
pub struct Bounded<K> {
    index: FxHashMap<K, u32>,
    slab: Vec<(K, Cell)>,
    pub names: Interner,
    capacity: usize,
    /// Which numbering of names is in force: a [`Known`] id stands only under the same one.
    generation: Generation,
    /// Rows folded into an other-row by the bound, and their requests.
    pub purged_rows: u64,
    pub purged_requests: u64,
}

/// A name's id in a [`Bounded`] table, with the numbering it belongs to. Ids change when the
/// table purges, and every table (and copy of one) numbers apart, so an id is taken only
/// under the numbering it was given in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Known {
    generation: u64,
    id: u32,
}

impl Known {
    /// Resolved under no numbering: never taken.
    pub const NONE: Known = Known {
        generation: 0,
        id: 0,
    };
}

/// A numbering of names, unique in the process (never 0).
#[derive(Debug)]
struct Generation(u64);

impl Generation {
    fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Generation(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }
}

impl Clone for Generation {
    /// A copy numbers apart from then on: ids resolved in one are not taken by the other.
    fn clone(&self) -> Self {
        Generation::new()
    }
}

/// How a [`Bounded`] key names its interned part.
pub trait NamedKey: Copy + Eq + std::hash::Hash {
    fn name_id(&self) -> u32;
    fn with_name_id(&self, id: u32) -> Self;
}

impl NamedKey for PageKey {
    fn name_id(&self) -> u32 {
        self.2
    }
    fn with_name_id(&self, id: u32) -> Self {
        (self.0, self.1, id, self.3)
    }
}

impl NamedKey for RefKey {
    fn name_id(&self) -> u32 {
        self.1
    }
    fn with_name_id(&self, id: u32) -> Self {
        (self.0, id)
    }
}

impl<K: NamedKey> Bounded<K> {
    pub fn new(capacity: usize) -> Self {
        Bounded {
            index: FxHashMap::default(),
            slab: Vec::new(),
            names: Interner::default(),
            capacity: capacity.max(16),
            generation: Generation::new(),
            purged_rows: 0,
            purged_requests: 0,
        }
    }

    /// The cell of `key` (whose name part is ignored) named `name`.
    #[inline]
    pub fn cell(&mut self, key: K, name: &[u8]) -> &mut Cell {
        self.cell_known(key, name, Known::NONE)
    }

    /// [`Bounded::cell`], taking the name's id from `known` when it was resolved under the
    /// numbering still in force (see [`Bounded::resolve`]), and interning `name` otherwise.
    #[inline]
    pub fn cell_known(&mut self, key: K, name: &[u8], mut known: Known) -> &mut Cell {
        self.make_room();
        let id = self.resolve(name, &mut known).id;
        let at = self.place(key.with_name_id(id));
        &mut self.slab[at as usize].1
    }

    /// The place in the slab of the cell of `key` (with its name id), added if new. Purge
    /// first ([`Bounded::make_room`]) if ids and places must still stand after.
    #[inline]
    fn place(&mut self, key: K) -> u32 {
        let slab = &mut self.slab;
        *self.index.entry(key).or_insert_with(|| {
            slab.push((key, Cell::default()));
            (slab.len() - 1) as u32
        })
    }

    /// The place of the cell of `key` named by `known` (which must stand: resolve it first),
    /// for [`Bounded::at`]: `hint` when the cell there has that key (a place this table gave
    /// for the same name earlier), otherwise found or added, and `hint` updated.
    #[inline]
    pub fn locate(&mut self, key: K, known: Known, hint: &mut u32) -> u32 {
        debug_assert_eq!(
            known.generation, self.generation.0,
            "resolve the name first"
        );
        let key = key.with_name_id(known.id);
        if let Some((k, _)) = self.slab.get(*hint as usize)
            && *k == key
        {
            return *hint;
        }
        *hint = self.place(key);
        *hint
    }

    /// The cell at `place`, from [`Bounded::locate`] since the last purge.
    #[inline]
    pub fn at(&mut self, place: u32) -> &mut Cell {
        &mut self.slab[place as usize].1
    }

    /// Rewrites every key with `f` (which keeps name ids), merging cells that meet.
    pub fn map_keys(&mut self, f: impl Fn(K) -> K) {
        let slab = std::mem::take(&mut self.slab);
        self.index.clear();
        for (k, c) in slab {
            let at = self.place(f(k));
            self.slab[at as usize].1.merge(c);
        }
    }

    /// Purges now if the next new cell would find the table full, so that ids resolved
    /// before that cell is added still stand.
    #[inline]
    pub fn make_room(&mut self) {
        if self.slab.len() >= self.capacity {
            self.purge();
        }
    }

    /// The id of `name`, from `known` when that was resolved under the numbering in force;
    /// otherwise interned, and `known` updated.
    #[inline]
    pub fn resolve(&mut self, name: &[u8], known: &mut Known) -> Known {
        if known.generation != self.generation.0 {
            *known = Known {
                generation: self.generation.0,
                id: self.names.id(name),
            };
        }
        *known
    }

    /// Folds the less-requested half of the rows into other-rows.
    fn purge(&mut self) {
        let mut counts: Vec<u64> = self.slab.iter().map(|(_, c)| c.totals.requests).collect();
        let mid = counts.len() / 2;
        let (_, &mut threshold, _) = counts.select_nth_unstable(mid);
        let cells = std::mem::take(&mut self.slab);
        self.index.clear();
        let mut keep = FxHashSet::default();
        let mut kept = FxHashMap::default();
        let mut folded: Vec<(K, Cell)> = Vec::new();
        for (k, c) in cells {
            if k.name_id() != OTHER_ID && c.totals.requests <= threshold {
                self.purged_rows += 1;
                self.purged_requests += c.totals.requests;
                folded.push((k.with_name_id(OTHER_ID), c));
            } else {
                keep.insert(k.name_id());
                kept.insert(k, c);
            }
        }
        let map = self.names.retain(&keep);
        self.generation = Generation::new();
        for (k, c) in kept {
            let at = self.place(k.with_name_id(map[&k.name_id()]));
            self.slab[at as usize].1 = c;
        }
        for (k, c) in folded {
            let at = self.place(k);
            self.slab[at as usize].1.merge(c);
        }
        // Other-rows can outnumber the capacity only with more parents than it; grow then.
        if self.slab.len() * 2 > self.capacity {
            self.capacity = self.slab.len() * 2;
        }
    }

    /// Folds `other` into `self`, by name.
    pub fn merge(&mut self, other: Bounded<K>) {
        self.purged_rows += other.purged_rows;
        self.purged_requests += other.purged_requests;
        for (k, c) in other.slab {
            let name = other.names.name(k.name_id());
            let id = self.names.id(name);
            let at = self.place(k.with_name_id(id));
            self.slab[at as usize].1.merge(c);
        }
        while self.slab.len() > self.capacity {
            self.purge();
        }
    }

    /// Every cell with its name.
    pub fn named(&self) -> impl Iterator<Item = (&K, &[u8], &Cell)> {
        self.slab
            .iter()
            .map(|(k, c)| (k, self.names.name(k.name_id()), c))
    }
}

/// The report tables a run computes and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ReportSet {
    pub geo_daily: bool,
    pub traffic_hourly: bool,
    pub pages_daily: bool,
    pub referrers_daily: bool,
    pub agents_daily: bool,
}

impl ReportSet {
    pub const NAMES: [&str; 5] = [
        "geo_daily",
        "traffic_hourly",
        "pages_daily",
        "referrers_daily",
        "agents_daily",
    ];
    pub const ALL: ReportSet = ReportSet {
        geo_daily: true,
        traffic_hourly: true,
        pages_daily: true,
        referrers_daily: true,
        agents_daily: true,
    };

    /// A comma-separated list of table names, or `all`.
    pub fn parse(list: &str) -> Result<ReportSet, String> {
        if list.trim() == "all" {
            return Ok(ReportSet::ALL);
        }
        let mut set = ReportSet {
            geo_daily: false,
            traffic_hourly: false,
            pages_daily: false,
            referrers_daily: false,
            agents_daily: false,
        };
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let flag = match name {
                "geo_daily" => &mut set.geo_daily,
                "traffic_hourly" => &mut set.traffic_hourly,
                "pages_daily" => &mut set.pages_daily,
                "referrers_daily" => &mut set.referrers_daily,
                "agents_daily" => &mut set.agents_daily,
                other => {
                    return Err(format!(
                        "unknown report {other:?} (known: all, {})",
                        Self::NAMES.join(", ")
                    ));
                }
            };
            *flag = true;
        }
        Ok(set)
    }

    /// Whether any enabled table counts visitors.
    pub fn visitors(&self) -> bool {
        self.geo_daily || self.pages_daily || self.referrers_daily || self.agents_daily
    }
}

/// Capacity of the pages and referrers tables of one accumulator, in rows.
pub const TABLE_CAPACITY: usize = 16 * 1024;

/// Everything one thread learns from its chunks. Merging is associative and commutative.
#[derive(Debug, Clone)]
pub struct Accumulator {
    pub lines: u64,
    pub blank: u64,
    /// Directive lines of formats that have them (W3C `#Fields:`, CloudFront `#Version:`).
    pub directives: u64,
    pub parsed: u64,
    pub rejected: [u64; RejectReason::ALL.len()],
    pub bytes_read: u64,
    /// Parsed lines whose client field was not an IP address (hostnames).
    pub non_ip_clients: u64,
    pub ipv6_clients: u64,
    pub geo: FxHashMap<GeoKey, Cell>,
    pub hourly: FxHashMap<HourKey, Totals>,
    /// Virtual hosts (scrubbed); id 0 is [`OTHER`], and `-` stands for none.
    pub vhosts: Interner,
    pub pages: Bounded<PageKey>,
    pub referrers: Bounded<RefKey>,
    pub agents: FxHashMap<AgentKey, Cell>,
    /// The agent classes `agents` refers to, by id.
    pub agent_classes: Vec<AgentClass>,
    pub geo_errors: u64,
    pub first_geo_error: Option<String>,
    pub diagnostics_rows: u64,
    pub min_time: Option<i64>,
    pub max_time: Option<i64>,
}

impl Default for Accumulator {
    fn default() -> Self {
        Accumulator {
            lines: 0,
            blank: 0,
            directives: 0,
            parsed: 0,
            rejected: [0; RejectReason::ALL.len()],
            bytes_read: 0,
            non_ip_clients: 0,
            ipv6_clients: 0,
            geo: FxHashMap::default(),
            hourly: FxHashMap::default(),
            vhosts: Interner::default(),
            pages: Bounded::new(TABLE_CAPACITY),
            referrers: Bounded::new(TABLE_CAPACITY),
            agents: FxHashMap::default(),
            agent_classes: Vec::new(),
            geo_errors: 0,
            first_geo_error: None,
            diagnostics_rows: 0,
            min_time: None,
            max_time: None,
        }
    }
}

/// What the report tables need to know of one parsed request, its strings already scrubbed.
#[derive(Debug, Clone, Copy)]
pub struct Hit<'a> {
    pub time: i64,
    pub place: Place,
    pub status: u16,
    pub method: &'a [u8],
    pub bytes: u64,
    pub vhost: u32,
    /// The scrubbed page: read only when `page_cell` is `None` and `page_known` does not
    /// stand.
    pub page: &'a [u8],
    /// The id of `page` in the accumulator's pages, if resolved (see [`Bounded::resolve`]).
    pub page_known: Known,
    /// The place of the line's page cell, if located (see [`Bounded::locate`]); then neither
    /// `page` nor `page_known` is read.
    pub page_cell: Option<u32>,
    /// `scheme://host`, or `(none)`; read only when `referrer_cell` is `None` and
    /// `referrer_known` does not stand.
    pub referrer: &'a [u8],
    /// The id of `referrer` in the accumulator's referrers, if resolved.
    pub referrer_known: Known,
    /// The place of the line's referrer cell, if located.
    pub referrer_cell: Option<u32>,
    /// Id of the agent class in the accumulator's `agent_classes`.
    pub agent: u32,
    pub visitor: Coupon,
    /// False when this visitor was seen earlier (same thread, same day): the visitor's place
    /// and agent class are functions of the visitor, so those sketches have it already.
    pub fresh: bool,
    /// False when this visitor was seen on this page (same vhost, status class) lately.
    pub fresh_page: bool,
    /// False when this visitor was seen with this referrer lately.
    pub fresh_referrer: bool,
}

impl Accumulator {
    #[inline]
    pub fn reject(&mut self, reason: RejectReason) {
        self.rejected[reason.index()] += 1;
    }

    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().sum()
    }

    /// Counts one parsed request in every enabled table.
    #[inline]
    pub fn record(&mut self, h: &Hit<'_>, set: ReportSet) {
        self.parsed += 1;
        let time = h.time;
        let day = time.div_euclid(86_400);
        let class = status_class(h.status);
        if set.geo_daily {
            let cell = self.geo.entry((day, h.place)).or_default();
            if h.fresh {
                cell.add(h.bytes, h.visitor);
            } else {
                cell.totals.add(h.bytes);
            }
        }
        if set.traffic_hourly {
            self.hourly
                .entry((
                    time.div_euclid(3600),
                    h.vhost,
                    class,
                    method_index(h.method),
                ))
                .or_default()
                .add(h.bytes);
        }
        if set.pages_daily {
            let cell = match h.page_cell {
                Some(at) => self.pages.at(at),
                None => {
                    self.pages
                        .cell_known((day, h.vhost, OTHER_ID, class), h.page, h.page_known)
                }
            };
            if h.fresh_page {
                cell.add(h.bytes, h.visitor);
            } else {
                cell.totals.add(h.bytes);
            }
        }
        if set.referrers_daily {
            let cell = match h.referrer_cell {
                Some(at) => self.referrers.at(at),
                None => self
                    .referrers
                    .cell_known((day, OTHER_ID), h.referrer, h.referrer_known),
            };
            if h.fresh_referrer {
                cell.add(h.bytes, h.visitor);
            } else {
                cell.totals.add(h.bytes);
            }
        }
        if set.agents_daily {
            let cell = self.agents.entry((day, h.agent)).or_default();
            if h.fresh {
                cell.add(h.bytes, h.visitor);
            } else {
                cell.totals.add(h.bytes);
            }
        }
        self.min_time = Some(self.min_time.map_or(time, |m| m.min(time)));
        self.max_time = Some(self.max_time.map_or(time, |m| m.max(time)));
    }

    /// Folds `other` into `self`.
    pub fn merge(&mut self, other: Accumulator) {
        self.lines += other.lines;
        self.blank += other.blank;
        self.directives += other.directives;
        self.parsed += other.parsed;
        for (a, b) in self.rejected.iter_mut().zip(other.rejected) {
            *a += b;
        }
        self.bytes_read += other.bytes_read;
        self.non_ip_clients += other.non_ip_clients;
        self.ipv6_clients += other.ipv6_clients;
        for (k, v) in other.geo {
            self.geo.entry(k).or_default().merge(v);
        }
        let mut vhost_map = Vec::with_capacity(other.vhosts.len());
        for id in 0..other.vhosts.len() as u32 {
            vhost_map.push(self.vhosts.id(other.vhosts.name(id)));
        }
        for ((hour, vhost, class, method), v) in other.hourly {
            self.hourly
                .entry((hour, vhost_map[vhost as usize], class, method))
                .or_default()
                .merge(v);
        }
        let mut pages = other.pages;
        pages.map_keys(|(d, v, p, c)| (d, vhost_map[v as usize], p, c));
        self.pages.merge(pages);
        self.referrers.merge(other.referrers);
        let mut agent_ids: FxHashMap<&AgentClass, u32> = FxHashMap::default();
        let mut mine = std::mem::take(&mut self.agent_classes);
        for (i, a) in mine.iter().enumerate() {
            agent_ids.insert(a, i as u32);
        }
        let mut added = Vec::new();
        let mut agent_map = Vec::with_capacity(other.agent_classes.len());
        for a in &other.agent_classes {
            let id = match agent_ids.get(a) {
                Some(&id) => id,
                None => {
                    let id = (mine.len() + added.len()) as u32;
                    added.push(a.clone());
                    id
                }
            };
            agent_map.push(id);
        }
        drop(agent_ids);
        mine.extend(added);
        self.agent_classes = mine;
        for ((day, agent), v) in other.agents {
            self.agents
                .entry((day, agent_map[agent as usize]))
                .or_default()
                .merge(v);
        }
        self.geo_errors += other.geo_errors;
        if self.first_geo_error.is_none() {
            self.first_geo_error = other.first_geo_error;
        }
        self.diagnostics_rows += other.diagnostics_rows;
        self.min_time = match (self.min_time, other.min_time) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max_time = match (self.max_time, other.max_time) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The published estimate depends on which visitors were counted, not on how they were
    /// fed; and a reader of the serialised sketch computes the same number.
    #[test]
    fn the_estimate_is_the_same_however_visitors_were_fed() {
        // Counts below, at and above the batch of visitors a sketch is fed in.
        for n in [
            1u64,
            5,
            PENDING as u64,
            PENDING as u64 + 1,
            300,
            5_000,
            60_000,
        ] {
            let coupon = |i: u64| Coupon::from_value(i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut one = Visitors::default();
            (0..n).for_each(|i| one.add(coupon(i)));
            let (mut a, mut b) = (Visitors::default(), Visitors::default());
            (0..n).rev().for_each(|i| {
                if i % 3 == 0 {
                    a.add(coupon(i))
                } else {
                    b.add(coupon(i))
                }
            });
            a.merge(b);
            assert_eq!(one.estimate(), a.estimate(), "{n} visitors");
            for v in [&one, &a] {
                let read = HllSketch::deserialize(&v.serialize()).unwrap();
                assert_eq!(read.estimate().round() as u64, v.estimate(), "{n} visitors");
            }
            let err = (one.estimate() as f64 - n as f64).abs() / n as f64;
            assert!(err < 0.05, "{n}: {}", one.estimate());
            assert!(!one.is_empty() && !a.is_empty());
        }
        let none = Visitors::default();
        assert!(none.is_empty());
        assert_eq!(none.estimate(), 0);
    }

    type Event = (i64, u8, u16, u64);

    fn acc(events: &[Event]) -> Accumulator {
        let mut a = Accumulator {
            agent_classes: ["Firefox", "Chrome"]
                .iter()
                .map(|b| AgentClass {
                    browser: b.to_string(),
                    major: "1".into(),
                    os: "Linux".into(),
                    device: crate::ua::DeviceClass::Desktop,
                    bot: false,
                })
                .collect(),
            ..Accumulator::default()
        };
        for &(t, c, s, b) in events {
            a.lines += 1;
            let vhost = a.vhosts.id(if c % 2 == 0 {
                b"a.example"
            } else {
                b"b.example"
            });
            let page = format!("/p/{}", c % 5);
            let referrer = format!("https://r{}.example", c % 4);
            a.record(
                &Hit {
                    time: t,
                    place: Place {
                        continent: *b"EU",
                        country: [b'A', b'A' + c % 3],
                    },
                    status: s,
                    method: b"GET",
                    bytes: b,
                    vhost,
                    page: page.as_bytes(),
                    page_known: Known::NONE,
                    page_cell: None,
                    referrer: referrer.as_bytes(),
                    referrer_known: Known::NONE,
                    referrer_cell: None,
                    agent: (c % 2) as u32,
                    visitor: Coupon::from_value(c),
                    fresh: true,
                    fresh_page: true,
                    fresh_referrer: true,
                },
                ReportSet::ALL,
            );
        }
        a
    }

    type Named = Vec<(String, Totals, u64)>;
    type Canonical = (u64, u64, Named, Named, Named, Named, Named);

    fn canon(a: &Accumulator) -> Canonical {
        let name = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let sorted = |mut v: Named| {
            v.sort_by(|x, y| x.0.cmp(&y.0));
            v
        };
        let g = a
            .geo
            .iter()
            .map(|(k, c)| (format!("{k:?}"), c.totals, c.visitors.estimate()))
            .collect();
        let h = a
            .hourly
            .iter()
            .map(|((hour, v, c, m), t)| {
                (format!("{hour} {} {c} {m}", name(a.vhosts.name(*v))), *t, 0)
            })
            .collect();
        let p = a
            .pages
            .named()
            .map(|((d, v, _, c), n, cell)| {
                (
                    format!("{d} {} {} {c}", name(a.vhosts.name(*v)), name(n)),
                    cell.totals,
                    cell.visitors.estimate(),
                )
            })
            .collect();
        let r = a
            .referrers
            .named()
            .map(|((d, _), n, cell)| {
                (
                    format!("{d} {}", name(n)),
                    cell.totals,
                    cell.visitors.estimate(),
                )
            })
            .collect();
        let ag = a
            .agents
            .iter()
            .map(|((d, id), cell)| {
                (
                    format!("{d} {:?}", a.agent_classes[*id as usize]),
                    cell.totals,
                    cell.visitors.estimate(),
                )
            })
            .collect();
        (
            a.lines,
            a.parsed,
            sorted(g),
            sorted(h),
            sorted(p),
            sorted(r),
            sorted(ag),
        )
    }

    proptest! {
        #[test]
        fn merge_is_associative_and_commutative(
            x in proptest::collection::vec((0i64..300_000, any::<u8>(), 100u16..600, 0u64..10_000), 0..40),
            y in proptest::collection::vec((0i64..300_000, any::<u8>(), 100u16..600, 0u64..10_000), 0..40),
            z in proptest::collection::vec((0i64..300_000, any::<u8>(), 100u16..600, 0u64..10_000), 0..40),
        ) {
            let (a, b, c) = (acc(&x), acc(&y), acc(&z));
            let mut left = a.clone(); left.merge(b.clone()); left.merge(c.clone());
            let mut bc = b.clone(); bc.merge(c.clone());
            let mut right = a.clone(); right.merge(bc);
            let mut swapped = c.clone(); swapped.merge(a.clone()); swapped.merge(b.clone());
            let all: Vec<_> = x.iter().chain(&y).chain(&z).copied().collect();
            prop_assert_eq!(canon(&left), canon(&right));
            prop_assert_eq!(canon(&left), canon(&swapped));
            prop_assert_eq!(canon(&left), canon(&acc(&all)));
        }
    }

    /// A remembered place is taken only when the cell there has the key asked for: through
    /// purges (which renumber names and move cells), every named cell holds only its own
    /// name's requests, and no request is lost.
    #[test]
    fn a_remembered_place_is_taken_only_for_its_own_key() {
        let mut t: Bounded<RefKey> = Bounded::new(16);
        let mut known = vec![Known::NONE; 40];
        let mut hint = [0u32; 40];
        for day in 0..3 {
            for _ in 0..2 {
                for i in 0..40usize {
                    t.make_room();
                    let name = format!("n{i}");
                    t.resolve(name.as_bytes(), &mut known[i]);
                    let at = t.locate((day, OTHER_ID), known[i], &mut hint[i]);
                    t.at(at).totals.add(i as u64);
                }
            }
        }
        let (mut requests, mut bytes) = (0, 0);
        for (_, name, c) in t.named() {
            requests += c.totals.requests;
            bytes += c.totals.bytes;
            if let Some(i) = std::str::from_utf8(name).unwrap().strip_prefix('n') {
                let i: u64 = i.parse().unwrap();
                assert_eq!(c.totals.bytes, i * c.totals.requests, "cell of {i}");
            }
        }
        assert_eq!(requests, 240);
        assert_eq!(bytes, 6 * (0..40).sum::<u64>());
        assert!(t.purged_rows > 0, "the test purges");
    }

    /// An id resolved before a purge (which renumbers names) or in another table is not
    /// taken: the cell is found by name instead.
    #[test]
    fn a_known_id_stands_only_under_its_numbering() {
        let mut t: Bounded<RefKey> = Bounded::new(16);
        let mut a = Known::NONE;
        t.resolve(b"a", &mut a);
        // Fill the table so that the next new cell purges; "a" is the least requested.
        t.cell_known((0, OTHER_ID), b"a", a).totals.add(1);
        for i in 0..15 {
            let name = format!("n{i}");
            for _ in 0..3 {
                t.cell((0, OTHER_ID), name.as_bytes()).totals.add(1);
            }
        }
        t.make_room();
        assert!(t.purged_rows > 0, "the purge ran");
        // "b" now takes a number that "a" held before the purge.
        let mut b = Known::NONE;
        let b = t.resolve(b"b", &mut b);
        t.cell_known((0, OTHER_ID), b"b", b).totals.add(1);
        t.cell_known((0, OTHER_ID), b"c", a).totals.add(1);
        let names: Vec<(Vec<u8>, u64)> = t
            .named()
            .filter(|(_, n, _)| n.len() == 1)
            .map(|(_, n, c)| (n.to_vec(), c.totals.requests))
            .collect();
        let mut names = names;
        names.sort();
        assert_eq!(names, vec![(b"b".to_vec(), 1), (b"c".to_vec(), 1)]);
        // A copy numbers apart.
        let mut c = Known::NONE;
        let c = t.resolve(b"c", &mut c);
        let mut copy = t.clone();
        copy.cell_known((1, OTHER_ID), b"b", c).totals.add(1);
        assert!(copy.named().any(|(k, n, _)| k.0 == 1 && n == b"b"));
    }

    #[test]
    fn methods_and_classes() {
        assert_eq!(METHODS[method_index(b"GET") as usize], "GET");
        assert_eq!(METHODS[method_index(b"PROPFIND") as usize], "OTHER");
        assert_eq!(METHODS[method_index(b"") as usize], "-");
        assert_eq!(status_class_name(status_class(404)), "4xx");
        assert_eq!(status_class_name(status_class(0)), "other");
        assert_eq!(status_class_name(status_class(999)), "other");
    }
}
