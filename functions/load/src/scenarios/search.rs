//! `search`: `GET /v1/search` for random cities and stays over `--places` places (10,000) in
//! `--cities` cities, each with random rooms (1 to `--rooms`), prices, guests and up to three
//! price rules, after `--setup-reservations` random stays over the next 365 nights (so the held
//! rooms of every month exist). Reports the latency, the throughput and the read units
//! (`X-Read-Units`) each search would consume on DynamoDB.
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::read::book;
use super::reserve::ReserveOp;
use super::{city, measure, places};
use crate::Args;
use crate::api::{Api, Stay, mix64};
use crate::driver::Op;
use crate::stats::{Report, Stats};

pub const SEARCH: &str = "GET /v1/search";
const READ_UNITS: &str = "X-Read-Units";
const ITEMS: &str = "items per page";

/// The query string of a search: `city`, a stay of `nights` from `days` ahead, `rooms`,
/// optionally `guests`; the page size and cursor.
fn query(city: &str, days: i64, nights: i64, rooms: i64, guests: Option<i64>) -> String {
    let stay = Stay {
        place: 0,
        check_in: OffsetDateTime::now_utc() + time::Duration::days(days),
        nights,
    };
    let (check_in, check_out) = stay.iso();
    let mut q = format!("city={city}&checkIn={check_in}&checkOut={check_out}&rooms={rooms}");
    if let Some(g) = guests {
        q += &format!("&guests={g}");
    }
    q
}

/// Search `i`: a random city of `cities`, a stay of 1 to 7 nights within the next 365, 1 or 2
/// rooms, and for one search in three a number of guests; the first page of 20.
pub struct SearchOp {
    pub api: Api,
    pub cities: usize,
}

impl SearchOp {
    fn query(&self, i: usize) -> String {
        let h = mix64(i as u64 ^ 0x5ea7c4);
        let guests = h.is_multiple_of(3).then(|| 1 + ((h >> 48) % 4) as i64);
        let city = city((h >> 8) as usize % self.cities.max(1), self.cities);
        let days = 1 + ((h >> 16) % 365) as i64;
        let nights = 1 + ((h >> 32) % 7) as i64;
        let rooms = 1 + ((h >> 40) % 2) as i64;
        query(&city, days, nights, rooms, guests) + "&limit=20"
    }
}

impl Op for SearchOp {
    async fn run(&self, i: usize, stats: &mut Stats) {
        let t = Instant::now();
        match self.api.search("load-searcher", &self.query(i)).await {
            Ok(found) => {
                stats.record(SEARCH, t.elapsed());
                stats.value(ITEMS, found.items as f64);
                match found.read_units {
                    Some(units) => stats.value(READ_UNITS, units),
                    None => stats.outcome("search answered without X-Read-Units"),
                }
            }
            Err(e) => stats.error(SEARCH, &e),
        }
    }
}

/// The read units and page sizes of the searches, into the report.
pub fn derive(r: &mut Report, stats: &Stats) {
    let units = stats.summary(READ_UNITS);
    if let Some(mean) = units.mean() {
        r.derived
            .insert("read units per search (mean, X-Read-Units)".into(), mean);
        r.derived.insert(
            "read units per search (max, X-Read-Units)".into(),
            units.max,
        );
    }
    if let Some(mean) = stats.summary(ITEMS).mean() {
        r.derived.insert("items per page (mean)".into(), mean);
    }
}

/// Waits until the first page of every city is as full as its places allow, for a stay more than
/// a year ahead (nothing holds it): the search read model has caught up with the registrations
/// (paging through them all would read the whole city once per page).
async fn await_catalogue(args: &Args, api: &Api, places: usize) -> Result<(), String> {
    let cities = args.world.cities.max(1);
    let deadline = Instant::now() + Duration::from_secs(args.load.timeout_secs);
    for k in 0..cities {
        let want = (places / cities + usize::from(k < places % cities)).min(PAGE);
        let q = query(&city(k, cities), 400, 1, 1, None) + &format!("&limit={PAGE}");
        loop {
            let found = api.search("load-searcher", &q).await?.items;
            if found >= want {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "search finds {found} of {want} places of {}",
                    city(k, cities)
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    await_queues(api, deadline).await
}

/// Waits until the consumers' queues are empty three polls in a row: a first page being full says
/// nothing about the rest of a large city, whose catalogue events may still be queued for the
/// search projection. A target without `/_local/queues` (not in development mode) is not waited for.
async fn await_queues(api: &Api, deadline: Instant) -> Result<(), String> {
    let mut quiet = 0;
    while quiet < 3 {
        let Ok(body) = api.get("/_local/queues", "load-searcher").await else {
            return Ok(());
        };
        let queued: u64 = body["queues"]
            .as_array()
            .map(|qs| {
                qs.iter()
                    .map(|q| q["visible"].as_u64().unwrap_or(1) + q["hidden"].as_u64().unwrap_or(1))
                    .sum()
            })
            .unwrap_or(1);
        quiet = if queued == 0 { quiet + 1 } else { 0 };
        if Instant::now() > deadline {
            return Err(format!("{queued} events still queued for the consumers"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// The largest page search serves.
const PAGE: usize = 50;

pub async fn run(args: &Args, api: &Api) -> Result<Report, String> {
    let ids = places(args, api, true).await?;
    let n = ids.len();
    let mut reserve = ReserveOp::new(api, ids);
    reserve.stays = Stay::spread;
    book(args, api, &Arc::new(reserve)).await?;
    await_catalogue(args, api, n).await?;
    // The holds of the last sagas reach the search read model through their events.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let op = Arc::new(SearchOp {
        api: api.clone(),
        cities: args.world.cities,
    });
    let m = measure(args, "search", op).await;
    let mut r = m.report(args, "search");
    r.derived
        .insert("searches per second".into(), m.per_sec(&[SEARCH]));
    r.derived.insert(
        "places per city".into(),
        n as f64 / args.world.cities.max(1) as f64,
    );
    derive(&mut r, &m.stats);
    r.notes.push(format!(
        "{n} places in {} cities, {} setup reservations over the next 365 nights; each search: \
         a random city, 1-7 nights within 365 days, 1-2 rooms, guests in one of three, limit 20",
        args.world.cities, args.world.setup_reservations
    ));
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::{SearchOp, query};
    use crate::api::Api;

    #[test]
    fn queries_vary_and_stay_within_the_rules() {
        let api =
            Api::new("http://127.0.0.1:9", 1, std::time::Duration::from_secs(1)).expect("client");
        let op = SearchOp { api, cities: 3 };
        let qs: Vec<String> = (0..300).map(|i| op.query(i)).collect();
        let distinct: std::collections::BTreeSet<&String> = qs.iter().collect();
        assert!(distinct.len() > 250, "searches differ");
        for k in 0..3 {
            assert!(
                qs.iter().any(|q| q.contains(&format!("-city-{k}&"))),
                "city {k} searched"
            );
        }
        assert!(qs.iter().any(|q| q.contains("&guests=")));
        assert!(qs.iter().any(|q| !q.contains("&guests=")));
        let q = query("x", 1, 2, 1, Some(3));
        assert!(
            q.starts_with("city=x&checkIn=") && q.ends_with("&rooms=1&guests=3"),
            "{q}"
        );
    }
}
