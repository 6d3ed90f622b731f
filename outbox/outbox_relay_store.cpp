#include "outbox/outbox_relay_store.hpp"

#include <algorithm>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "engine/store/database.hpp"

namespace keyflow {
namespace {

// pg_try_advisory_lock key shared by every relay of a database: "kfrelay" in ASCII.
constexpr std::int64_t kRelayLockKey = 0x6b6672656c6179;
constexpr const char* kNotifyChannel = "keyflow_outbox";

std::string array_literal(const std::vector<std::int64_t>& ids) {
  std::string text = "{";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(ids[i]);
  }
  text += '}';
  return text;
}

TimePoint from_epoch_seconds(double seconds) {
  return TimePoint(
      std::chrono::duration_cast<TimePoint::duration>(std::chrono::duration<double>(seconds)));
}

// The relay's statements, prepared once per session.
constexpr const char* kClaim = "keyflow_relay_claim";
constexpr const char* kMark = "keyflow_relay_mark";
constexpr const char* kCharge = "keyflow_relay_charge";
constexpr const char* kStats = "keyflow_relay_stats";
constexpr const char* kDeleteExpired = "keyflow_relay_delete_expired";

// What is to be published is in outbox_pending (migration 017): a row's id goes there when the
// row is inserted unpublished, and leaves when the relay marks the row published.
//
// Why the claim cannot skip a row that commits late: ids come from a sequence at insert time, so
// a transaction holding id 7 can commit after one holding id 8, and a relay tracking "the
// highest id published so far" would pass 7 by for good. This query keeps no high-water mark;
// it reads outbox_pending, so 7 is picked up by the first round that runs after its commit.
// Order within one key is not at risk either: every mutation of a key locks that key's row
// (SELECT ... FOR UPDATE) before appending its event, so one key's outbox rows take their ids
// and commit one after another, and a later event of a key is never visible while an earlier
// one is not.
//
// Parked rows are skipped, and so is every later row of a parked row's aggregate: publishing
// those would hand consumers a key's history with an event missing from the middle (an update
// of a key whose creation they never saw), with nothing to tell them. Held back, the key's
// events wait, visible in the backlog and its age, until an operator requeues or deletes the
// parked row; then they go out in their order. Other aggregates are not held up.
//
// $2: the rows of the round in flight, when reading ahead (they are pending until it marks).
constexpr const char* kClaimSql =
    "SELECT o.id, o.event_id, o.aggregate_type, o.aggregate_id, o.event_type, o.payload::text, "
    "o.occurred_at, o.attempts, o.traceparent FROM outbox_pending q "
    // A lateral lookup by id, kept from being flattened into a join (LIMIT): with a backlog the
    // planner would otherwise walk the whole outbox, published rows and all, to merge it with q.
    "CROSS JOIN LATERAL (SELECT * FROM outbox WHERE id = q.id LIMIT 1) o "
    "WHERE q.id <> ALL($2::bigint[]) AND o.parked_at IS NULL AND NOT EXISTS ("
    " SELECT 1 FROM outbox p WHERE p.parked_at IS NOT NULL AND p.published_at IS NULL"
    " AND p.aggregate_type = o.aggregate_type AND p.aggregate_id = o.aggregate_id"
    " AND p.id < o.id) "
    "ORDER BY q.id LIMIT $1";

// One statement for the whole round, a HOT update of each row (published_at is in no index).
// Only rows still pending: one that another relay published meanwhile (after this one lost its
// lock) keeps its first publication time. $1 is in ascending order; its ends bound the range
// scanned (with a backlog, a bare = ANY would read all of outbox_pending).
constexpr const char* kMarkSql =
    "WITH done AS (DELETE FROM outbox_pending"
    " WHERE id BETWEEN ($1::bigint[])[1] AND ($1::bigint[])[cardinality($1::bigint[])]"
    " AND id = ANY($1::bigint[]) RETURNING id) "
    "UPDATE outbox SET published_at = now() FROM done WHERE outbox.id = done.id";

constexpr const char* kChargeSql =
    "UPDATE outbox SET attempts = attempts + 1, last_error = $2, "
    "parked_at = CASE WHEN attempts + 1 >= $3 THEN now() END "
    "WHERE id = $1 AND published_at IS NULL AND parked_at IS NULL "
    "RETURNING parked_at IS NOT NULL";

// Each part reads a short way: the count stops at its cap, min and max read the two ends of
// outbox_pending's key, the parked rows are few.
constexpr const char* kStatsSql =
    "WITH parked AS (SELECT id FROM outbox WHERE parked_at IS NOT NULL AND published_at IS NULL) "
    "SELECT (SELECT count(*) FROM (SELECT 1 FROM outbox_pending q"
    "         WHERE q.id NOT IN (SELECT id FROM parked) LIMIT $1) AS t),"
    " (SELECT max(id) - min(id) + 1 FROM outbox_pending),"
    " (SELECT extract(epoch FROM o.occurred_at)::float8 FROM outbox_pending q"
    "   CROSS JOIN LATERAL (SELECT * FROM outbox WHERE id = q.id LIMIT 1) o"  // as in kClaimSql
    "   WHERE o.parked_at IS NULL ORDER BY q.id LIMIT 1),"
    " (SELECT count(*) FROM parked)";

// Oldest first, a batch per statement: the next `batch` rows by id after the cursor, of which
// those published before the retention period go. A row that is not to go (unpublished,
// parked, published again lately, locked) is stepped over, not waited for, and does not hold
// up the rows after it. The pass goes on while the batch's last row occurred before the
// period began: a row published before then occurred before then too, and ids grow with time,
// so past that row there is nothing more to delete. Each statement locks only the rows it
// deletes, which nothing else writes any more, and commits at once. Returns what went, the
// last id looked at, and whether to go on.
constexpr const char* kDeleteExpiredSql =
    "WITH cutoff AS (SELECT now() - make_interval(secs => $2) AS at),"
    " head AS (SELECT id, published_at < (SELECT at FROM cutoff) AS expired,"
    "   occurred_at < (SELECT at FROM cutoff) AS old"
    "   FROM outbox WHERE id > $1 ORDER BY id LIMIT $3),"
    " gone AS (DELETE FROM outbox WHERE id IN ("
    "   SELECT id FROM outbox WHERE id IN (SELECT id FROM head WHERE expired)"
    "   FOR UPDATE SKIP LOCKED) RETURNING id) "
    "SELECT (SELECT count(*) FROM gone), (SELECT max(id) FROM head),"
    " (SELECT count(*) FROM head) = $3 AND (SELECT old FROM head ORDER BY id DESC LIMIT 1)";

}  // namespace

RelaySession::RelaySession(const std::string& database_url)
    : url_(database_url), conn_(ConnectionPool::connect(database_url)) {
  // libpqxx 6 silently reconnects a broken connection on its next use. The new backend would
  // not hold the lock, so the session must fail instead and make the relay take the lock anew.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  conn_->inhibit_reactivation(true);
#pragma GCC diagnostic pop
  pqxx::nontransaction tx(*conn_);
  // Which process is the active relay shows in pg_stat_activity (joined with pg_locks).
  tx.exec("SET application_name = 'keyflow-relay/" + std::to_string(getpid()) + "'");
  // A mark that a crash of PostgreSQL loses only makes its rows go out again, which
  // at-least-once delivery allows; so the relay's commits need not wait for the WAL flush.
  tx.exec("SET synchronous_commit = off");
  // A relay that dies in the middle of a statement (blocked on a lock, say) would leave its
  // backend, and with it the relay lock, until the statement ends; this ends it within a
  // second of the client's disappearance (PostgreSQL 14 and later).
  if (conn_->server_version() >= 140000) tx.exec("SET client_connection_check_interval = 1000");
  conn_->prepare(kClaim, kClaimSql);
  conn_->prepare(kMark, kMarkSql);
  conn_->prepare(kCharge, kChargeSql);
  conn_->prepare(kStats, kStatsSql);
  conn_->prepare(kDeleteExpired, kDeleteExpiredSql);
}

RelaySession::~RelaySession() {
  drop_read_ahead();
}

bool RelaySession::try_take_lock() {
  pqxx::nontransaction tx(*conn_);
  return tx.exec_params1("SELECT pg_try_advisory_lock($1)", kRelayLockKey)[0].as<bool>();
}

RelaySession::Claimed RelaySession::claim(std::size_t limit) {
  if (ahead_.valid()) {
    try {
      auto claimed = ahead_.get();
      if (claimed.limit == limit) return claimed;
    } catch (const std::exception& e) {
      // The lock's connection decides whether the session is sound; this one is only read.
      spdlog::warn("outbox relay: reading ahead failed ({}); claiming again", e.what());
      reader_.reset();
    }
  }
  return claim_on(*conn_, limit, {});
}

void RelaySession::read_ahead(std::size_t limit, std::vector<std::int64_t> in_flight) {
  drop_read_ahead();
  ahead_ = std::async(std::launch::async, [this, limit, in_flight = std::move(in_flight)] {
    if (!reader_) {
      reader_ = ConnectionPool::connect(url_);
      pqxx::nontransaction(*reader_).exec("SET application_name = 'keyflow-relay-read/" +
                                          std::to_string(getpid()) + "'");
      // Planned for each read with its values: the in-flight ids are then a constant array,
      // which PostgreSQL checks through a hash table instead of one comparison per id per row.
      pqxx::nontransaction(*reader_).exec("SET plan_cache_mode = force_custom_plan");
      reader_->prepare(kClaim, kClaimSql);
    }
    return claim_on(*reader_, limit, in_flight);
  });
}

void RelaySession::drop_read_ahead() {
  if (!ahead_.valid()) return;
  try {
    ahead_.get();
  } catch (const std::exception&) {
    reader_.reset();
  }
}

RelaySession::Claimed RelaySession::claim_on(pqxx::connection& conn, std::size_t limit,
                                             const std::vector<std::int64_t>& excluded) {
  pqxx::nontransaction tx(conn);
  const auto rows =
      tx.exec_prepared(kClaim, static_cast<std::int64_t>(limit), array_literal(excluded));
  Claimed claimed;
  claimed.limit = limit;
  claimed.records.reserve(rows.size());
  claimed.attempts.reserve(rows.size());
  for (const auto& row : rows) {
    claimed.records.push_back(OutboxRecord{
        .id = row[0].as<std::int64_t>(),
        .event_id = row[1].c_str(),
        .aggregate_type = row[2].c_str(),
        .aggregate_id = row[3].c_str(),
        .event_type = row[4].c_str(),
        .payload = row[5].c_str(),
        .occurred_at = row[6].c_str(),
        .traceparent = row[8].is_null() ? std::string() : std::string(row[8].c_str()),
    });
    claimed.attempts.push_back(row[7].as<int>());
  }
  return claimed;
}

void RelaySession::mark_published(std::vector<std::int64_t> ids) {
  std::sort(ids.begin(), ids.end());
  pqxx::nontransaction tx(*conn_);
  tx.exec_prepared(kMark, array_literal(ids));
}

bool RelaySession::charge_attempt(std::int64_t id, const std::string& reason, int max_attempts) {
  pqxx::nontransaction tx(*conn_);
  const auto rows = tx.exec_prepared(kCharge, id, reason, max_attempts);
  return !rows.empty() && rows[0][0].as<bool>();
}

RelaySession::Backlog RelaySession::count_backlog(std::int64_t exact_up_to) {
  pqxx::nontransaction tx(*conn_);
  const auto row = tx.exec_prepared1(kStats, exact_up_to);
  Backlog backlog;
  backlog.unpublished = row[0].as<std::uint64_t>();
  if (backlog.unpublished == static_cast<std::uint64_t>(exact_up_to) && !row[1].is_null()) {
    backlog.unpublished = std::max(backlog.unpublished, row[1].as<std::uint64_t>());
  }
  if (!row[2].is_null()) backlog.oldest_unpublished = from_epoch_seconds(row[2].as<double>());
  backlog.parked = row[3].as<std::uint64_t>();
  return backlog;
}

RelaySession::Expired RelaySession::delete_expired(std::int64_t after, double retention_seconds,
                                                   std::int64_t batch) {
  pqxx::nontransaction tx(*conn_);
  const auto row = tx.exec_prepared1(kDeleteExpired, after, retention_seconds, batch);
  Expired expired;
  expired.deleted = row[0].as<std::uint64_t>();
  expired.last_id = row[1].is_null() ? after : row[1].as<std::int64_t>();
  expired.more = !row[2].is_null() && row[2].as<bool>();
  return expired;
}

OutboxListener::OutboxListener(const std::string& database_url)
    : conn_(ConnectionPool::connect(database_url)), receiver_(*conn_, kNotifyChannel) {
  pqxx::nontransaction(*conn_).exec("SET application_name = 'keyflow-relay-listen/" +
                                    std::to_string(getpid()) + "'");
}

void OutboxListener::drain() {
  conn_->get_notifs();
}

bool OutboxListener::await(long micros) {
  return conn_->await_notification(0, micros) > 0;
}

}  // namespace keyflow
