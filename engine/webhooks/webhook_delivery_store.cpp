#include "engine/webhooks/webhook_delivery_store.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "engine/store/sql_values.hpp"

namespace keyflow {

namespace {

std::optional<Bytes> optional_bytes(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  const pqxx::binarystring b(f);
  return Bytes(b.data(), b.data() + b.size());
}

// The columns of webhook_subscriptions s that SealedSubscription holds, the previous secret only
// while its overlap lasts at `now` (a timestamptz parameter).
std::string sending_columns(std::string_view now) {
  return std::string("s.url, s.secret_sealed, CASE WHEN s.previous_secret_expires_at > ") +
         std::string(now) +
         "::timestamptz THEN s.previous_secret_sealed END, s.signing_key_sealed,"
         " array_to_json(s.retry_schedule)::text";
}

// Those five columns, from `first` on.
SealedSubscription sealed_subscription(const pqxx::row& row, int first) {
  const pqxx::binarystring secret(row[first + 1]);
  const auto& schedule = row[first + 4];
  return {.url = row[first].c_str(),
          .secret = Bytes(secret.data(), secret.data() + secret.size()),
          .previous_secret = optional_bytes(row[first + 2]),
          .signing_key = optional_bytes(row[first + 3]),
          .retry_schedule = schedule.is_null()
                                ? std::nullopt
                                : std::optional<std::vector<int>>(json_int_array(schedule))};
}

// The condition on webhook_subscriptions (alias s) that an event of type $1 in organization $2
// and project $3 matches. Compared as text so that a malformed id in the event matches
// nothing instead of failing the cast (and with it, forever, the event).
constexpr const char* kMatchesEvent =
    " s.status = 'enabled'"
    "   AND (cardinality(s.event_types) = 0 OR EXISTS ("
    "     SELECT 1 FROM unnest(s.event_types) AS t"
    "      WHERE t = $1 OR (t LIKE '%.*' AND starts_with($1, left(t, -1)))))"
    "   AND (s.organization_id IS NULL OR s.organization_id::text = $2)"
    "   AND (s.project_id IS NULL OR s.project_id::text = $3)";

}  // namespace

std::vector<std::string> WebhookDeliveryStore::matching_subscriptions(
    pqxx::work& txn, const std::string& event_type,
    const std::optional<std::string>& organization_id,
    const std::optional<std::string>& project_id) {
  const auto rows =
      txn.exec_params(std::string("SELECT s.id::text FROM webhook_subscriptions s WHERE") +
                          kMatchesEvent + " ORDER BY s.id",
                      event_type, organization_id, project_id);
  std::vector<std::string> ids;
  ids.reserve(rows.size());
  for (const auto& row : rows)
    ids.emplace_back(row[0].c_str());
  return ids;
}

std::vector<SubscriptionTarget> WebhookDeliveryStore::matching_targets(
    pqxx::work& txn, const std::string& event_type,
    const std::optional<std::string>& organization_id, const std::optional<std::string>& project_id,
    TimePoint now) {
  const auto rows =
      txn.exec_params("SELECT s.id::text, s.rate_limit, " + sending_columns("$4") +
                          " FROM webhook_subscriptions s WHERE" + kMatchesEvent + " ORDER BY s.id",
                      event_type, organization_id, project_id, sql_timestamp(now));
  std::vector<SubscriptionTarget> targets;
  targets.reserve(rows.size());
  for (const auto& row : rows) {
    targets.push_back({.id = row[0].c_str(),
                       .sending = sealed_subscription(row, 2),
                       .rate_limit = optional_int(row[1])});
  }
  return targets;
}

std::vector<std::string> WebhookDeliveryStore::existing(pqxx::work& txn,
                                                        const std::vector<std::string>& ids) {
  std::vector<std::string> found;
  if (ids.empty()) return found;
  BinaryTextArray array;
  for (const auto& id : ids)
    array.add(id);
  const auto rows = txn.exec_params("SELECT id FROM webhook_deliveries WHERE id = ANY($1::text[])",
                                    array.param());
  found.reserve(rows.size());
  for (const auto& row : rows)
    found.emplace_back(row[0].c_str());
  return found;
}

std::vector<std::string> WebhookDeliveryStore::insert_fanned_out(
    pqxx::work& txn, const std::vector<FannedOutDelivery>& rows, TimePoint at) {
  std::vector<std::string> written;
  if (rows.empty()) return written;
  // A column a parameter: arrays parse several times faster than the rows as jsonb. The texts
  // go in the binary form, which the server copies instead of reading a character at a time:
  // the bodies are most of the bytes.
  std::size_t body_bytes = 0;
  for (const auto& row : rows)
    body_bytes += row.delivery.body.size() + 4;
  BinaryTextArray id, type, body(body_bytes), traceparent, status, error, response;
  ArrayLiteral subscription, event, next_at, locked_until, attempted_at, status_code, latency;
  for (const auto& row : rows) {
    const auto& d = row.delivery;
    id.add(d.id);
    subscription.add(d.subscription_id);
    event.add(d.event_id);
    type.add(d.event_type);
    body.add(d.body);
    if (d.traceparent.empty()) {
      traceparent.add_null();
    } else {
      traceparent.add(d.traceparent);
    }
    if (const auto& a = row.attempt) {
      status.add(a->status);
      next_at.add(sql_timestamp(a->next_attempt_at));
      locked_until.add_null();
      attempted_at.add(sql_timestamp(a->attempted_at));
      status_code.add_optional(a->status_code);
      latency.add_optional(a->latency_ms);
      error.add_optional(a->error);
      response.add_optional(a->response_body);
    } else {
      status.add("pending");
      next_at.add(sql_timestamp(at));
      if (row.lease_until) {
        locked_until.add(sql_timestamp(*row.lease_until));
      } else {
        locked_until.add_null();
      }
      attempted_at.add_null();
      status_code.add_null();
      latency.add_null();
      error.add_null();
      response.add_null();
    }
  }
  // The attempts join the deliveries this statement inserted, so that an event consumed again
  // records nothing twice.
  const auto result = txn.exec_params(
      "WITH r AS MATERIALIZED ("
      "  SELECT * FROM unnest($1::text[], $2::bigint[], $3::uuid[], $4::text[], $5::text[],"
      "   $6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[],"
      "   $11::integer[], $12::integer[], $13::text[], $14::text[])"
      "   AS r(id, subscription_id, event_id, event_type, body, traceparent, status,"
      "    next_attempt_at, locked_until, attempted_at, status_code, latency_ms, error,"
      "    response_body)),"
      " inserted AS ("
      "  INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, body,"
      "   traceparent, status, attempts, next_attempt_at, locked_until, last_status_code,"
      "   last_error, created_at, updated_at)"
      "  SELECT id, subscription_id, event_id, event_type, body, traceparent, status,"
      "   CASE WHEN attempted_at IS NULL THEN 0 ELSE 1 END, next_attempt_at, locked_until,"
      "   status_code, error, $15::timestamptz, $15::timestamptz FROM r"
      "  ON CONFLICT DO NOTHING RETURNING id),"
      " attempts AS ("
      "  INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, latency_ms,"
      "   error, response_body)"
      "  SELECT r.id, r.attempted_at, r.status_code, r.latency_ms, r.error, r.response_body"
      "   FROM r JOIN inserted USING (id) WHERE r.attempted_at IS NOT NULL)"
      " SELECT id FROM inserted",
      id.param(), subscription.str(), event.str(), type.param(), body.param(), traceparent.param(),
      status.param(), next_at.str(), locked_until.str(), attempted_at.str(), status_code.str(),
      latency.str(), error.param(), response.param(), sql_timestamp(at));
  written.reserve(result.size());
  for (const auto& row : result)
    written.emplace_back(row[0].c_str());
  return written;
}

std::size_t WebhookDeliveryStore::insert(pqxx::work& txn,
                                         const std::vector<NewWebhookDelivery>& deliveries,
                                         TimePoint at) {
  if (deliveries.empty()) return 0;
  boost::json::array rows;
  rows.reserve(deliveries.size());
  for (const auto& d : deliveries) {
    rows.push_back({{"id", d.id},
                    {"subscription_id", d.subscription_id},
                    {"event_id", d.event_id},
                    {"event_type", d.event_type},
                    {"body", d.body},
                    {"traceparent", d.traceparent.empty() ? boost::json::value(nullptr)
                                                          : boost::json::value(d.traceparent)}});
  }
  return static_cast<std::size_t>(
      txn.exec_params(
             "INSERT INTO webhook_deliveries"
             " (id, subscription_id, event_id, event_type, body, traceparent, next_attempt_at,"
             "  created_at, updated_at)"
             " SELECT id, subscription_id, event_id, event_type, body, traceparent,"
             "  $2::timestamptz, $2::timestamptz, $2::timestamptz"
             " FROM jsonb_to_recordset($1::jsonb) AS r(id text, subscription_id bigint,"
             "  event_id uuid, event_type text, body text, traceparent text)"
             " ON CONFLICT (id) DO NOTHING",
             boost::json::serialize(rows), sql_timestamp(at))
          .affected_rows());
}

std::vector<WebhookDeliveryStore::Candidate> WebhookDeliveryStore::due_candidates(
    pqxx::work& txn, TimePoint now, std::size_t limit,
    const std::vector<std::string>& skip_subscriptions) {
  const auto rows = in_due_order(txn, [&] {
    return txn.exec_params(
        "SELECT d.id, d.subscription_id::text, s.rate_limit"
        "  FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id"
        " WHERE d.status = 'pending' AND d.next_attempt_at <= $1::timestamptz"
        "   AND (d.locked_until IS NULL OR d.locked_until < $1::timestamptz)"
        "   AND s.status = 'enabled'"
        "   AND NOT (d.subscription_id::text = ANY ($2::text[]))"
        " ORDER BY d.next_attempt_at"
        " LIMIT $3",
        sql_timestamp(now), text_array_literal(skip_subscriptions), static_cast<long>(limit));
  });
  std::vector<Candidate> candidates;
  candidates.reserve(rows.size());
  for (const auto& row : rows)
    candidates.push_back({row[0].c_str(), row[1].c_str(), optional_int(row[2])});
  return candidates;
}

namespace {

// What sending a delivery takes, of webhook_deliveries d and its subscription s; $2 is now.
const std::string kSendingColumns =
    "d.id, d.subscription_id::text, d.attempts, d.body, d.traceparent, " + sending_columns("$2");

DueWebhookDelivery sending_row(const pqxx::row& row) {
  return {.id = row[0].c_str(),
          .subscription_id = row[1].c_str(),
          .attempt = row[2].as<int>() + 1,
          .body = row[3].c_str(),
          .subscription = sealed_subscription(row, 5),
          .traceparent = row[4].is_null() ? std::string() : std::string(row[4].c_str())};
}

}  // namespace

std::vector<DueWebhookDelivery> WebhookDeliveryStore::lock_due(pqxx::work& txn,
                                                               const std::vector<std::string>& ids,
                                                               TimePoint now,
                                                               TimePoint lease_until) {
  if (ids.empty()) return {};
  // Still due and free: another sender may have taken one since it was read. The ids are
  // joined from unnest so that each is looked up by its key, never by scanning what is due.
  const auto rows = txn.exec_params(
      "WITH picked AS ("
      "  SELECT d.id FROM unnest($1::text[]) AS p (id)"
      "    JOIN webhook_deliveries d ON d.id = p.id"
      "    JOIN webhook_subscriptions s ON s.id = d.subscription_id"
      "   WHERE d.status = 'pending' AND d.next_attempt_at <= $2::timestamptz"
      "     AND (d.locked_until IS NULL OR d.locked_until < $2::timestamptz)"
      "     AND s.status = 'enabled'"
      "   FOR UPDATE OF d SKIP LOCKED)"
      " UPDATE webhook_deliveries d SET locked_until = $3::timestamptz"
      "  FROM picked, webhook_subscriptions s"
      " WHERE d.id = picked.id AND s.id = d.subscription_id"
      " RETURNING " +
          kSendingColumns,
      text_array_literal(ids), sql_timestamp(now), sql_timestamp(lease_until));
  std::vector<DueWebhookDelivery> due;
  due.reserve(rows.size());
  for (const auto& row : rows)
    due.push_back(sending_row(row));
  return due;
}

std::optional<DueWebhookDelivery> WebhookDeliveryStore::sending(pqxx::work& txn,
                                                                const std::string& id,
                                                                TimePoint now) {
  const auto rows = txn.exec_params(
      "SELECT " + kSendingColumns +
          " FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id"
          " WHERE d.id = $1 FOR UPDATE OF d",
      id, sql_timestamp(now));
  if (rows.empty()) return std::nullopt;
  return sending_row(rows[0]);
}

void WebhookDeliveryStore::lease(pqxx::work& txn, const std::vector<std::string>& ids,
                                 TimePoint lease_until) {
  if (ids.empty()) return;
  txn.exec_params(
      "UPDATE webhook_deliveries SET locked_until = $1::timestamptz WHERE id = ANY ($2::text[])",
      sql_timestamp(lease_until), text_array_literal(ids));
}

std::vector<std::string> WebhookDeliveryStore::record_attempts(
    pqxx::work& txn, const std::vector<DeliveryAttempt>& attempts, TimePoint now) {
  if (attempts.empty()) return {};
  const auto json = delivery_attempts_json(attempts);
  txn.exec_params(std::string("INSERT INTO webhook_attempts (delivery_id, attempted_at,"
                              " status_code, latency_ms, error, response_body)"
                              " SELECT id, attempted_at, status_code, latency_ms, error,"
                              "  response_body") +
                      kDeliveryAttemptRows,
                  json);
  const auto updated = txn.exec_params(
      std::string("UPDATE webhook_deliveries d SET attempts = d.attempts + 1,"
                  " status = r.status, next_attempt_at = r.next_attempt_at, locked_until = NULL,"
                  " last_status_code = r.status_code, last_error = r.error,"
                  " updated_at = $2::timestamptz") +
          kDeliveryAttemptRows +
          " WHERE d.id = r.id AND d.locked_until = r.lease_until RETURNING d.id",
      json, sql_timestamp(now));
  return attempts_not_updated(attempts, updated);
}

void WebhookDeliveryStore::release(pqxx::work& txn, const std::string& id, TimePoint lease_until) {
  txn.exec_params(
      "UPDATE webhook_deliveries SET locked_until = NULL"
      " WHERE id = $1 AND locked_until = $2::timestamptz",
      id, sql_timestamp(lease_until));
}

double WebhookDeliveryStore::analyze(pqxx::work& txn) {
  // The columns the claims and the delivery log filter and sort by; not the bodies.
  txn.exec(
      "ANALYZE webhook_deliveries (subscription_id, event_id, status, next_attempt_at,"
      " locked_until, created_at, updated_at)");
  return txn.exec1("SELECT reltuples FROM pg_class WHERE oid = 'webhook_deliveries'::regclass")[0]
      .as<double>();
}

std::vector<std::pair<std::string, long>> WebhookDeliveryStore::pending_by_subscription(
    pqxx::work& txn) {
  // The partial index on pending rows keeps this to the backlog's size.
  const auto rows = txn.exec(
      "SELECT subscription_id::text, count(*) FROM webhook_deliveries"
      " WHERE status = 'pending' GROUP BY subscription_id ORDER BY subscription_id");
  std::vector<std::pair<std::string, long>> out;
  out.reserve(rows.size());
  for (const auto& row : rows)
    out.emplace_back(row[0].c_str(), row[1].as<long>());
  return out;
}

namespace {

constexpr const char* kLogColumns =
    "d.id, d.subscription_id::text, d.event_id::text, d.event_type, d.status, d.attempts,"
    " d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.updated_at";

WebhookDelivery read_delivery(const pqxx::row& r) {
  WebhookDelivery d;
  d.id = r[0].c_str();
  d.subscription_id = r[1].c_str();
  d.event_id = r[2].c_str();
  d.event_type = r[3].c_str();
  d.status = r[4].c_str();
  d.attempt_count = r[5].as<int>();
  d.next_attempt_at = timestamp_of(r[6]);
  d.last_status_code = optional_int(r[7]);
  d.last_error = optional_text(r[8]);
  d.created_at = timestamp_of(r[9]);
  d.updated_at = timestamp_of(r[10]);
  return d;
}

}  // namespace

std::vector<WebhookDelivery> WebhookDeliveryStore::list(pqxx::work& txn, const LogQuery& q) {
  const auto rows = txn.exec_params(
      std::string("SELECT ") + kLogColumns +
          " FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id"
          " WHERE s.deleted_at IS NULL"
          "   AND ($1::bigint IS NULL OR d.subscription_id = $1::bigint)"
          "   AND ($2::bigint IS NULL OR s.organization_id = $2::bigint)"
          "   AND ($3::bigint IS NULL OR s.project_id = $3::bigint)"
          "   AND ($4::text IS NULL OR d.status = $4)"
          "   AND ($5::text IS NULL OR d.event_type = $5)"
          "   AND ($6::timestamptz IS NULL OR (d.created_at, d.id) < ($6::timestamptz, $7::text))"
          " ORDER BY d.created_at DESC, d.id DESC LIMIT $8",
      q.subscription_id, q.organization_id, q.project_id, q.status, q.event_type,
      q.before ? std::optional(sql_timestamp(q.before->first)) : std::nullopt,
      q.before ? std::optional(q.before->second) : std::nullopt, q.limit);
  std::vector<WebhookDelivery> out;
  out.reserve(rows.size());
  for (const auto& row : rows)
    out.push_back(read_delivery(row));
  return out;
}

std::optional<std::pair<WebhookDelivery, std::string>> WebhookDeliveryStore::find(
    pqxx::work& txn, const std::string& id) {
  const auto rows =
      txn.exec_params(std::string("SELECT ") + kLogColumns +
                          ", d.body FROM webhook_deliveries d JOIN webhook_subscriptions s"
                          " ON s.id = d.subscription_id WHERE d.id = $1 AND s.deleted_at IS NULL",
                      id);
  if (rows.empty()) return std::nullopt;
  return std::pair{read_delivery(rows[0]), std::string(rows[0][11].c_str())};
}

std::vector<WebhookAttempt> WebhookDeliveryStore::attempts(pqxx::work& txn,
                                                           const std::string& delivery_id) {
  const auto rows = txn.exec_params(
      "SELECT attempted_at, latency_ms, status_code, error, response_body FROM webhook_attempts"
      " WHERE delivery_id = $1 ORDER BY id",
      delivery_id);
  std::vector<WebhookAttempt> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    out.push_back({timestamp_of(r[0]), r[1].as<int>(), optional_int(r[2]), optional_text(r[3]),
                   optional_text(r[4])});
  }
  return out;
}

void WebhookDeliveryStore::requeue(pqxx::work& txn, const std::string& id, TimePoint now) {
  txn.exec_params(
      "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $2::timestamptz,"
      " updated_at = $2::timestamptz WHERE id = $1",
      id, sql_timestamp(now));
}

std::size_t WebhookDeliveryStore::requeue_dead(pqxx::work& txn, const std::string& subscription_id,
                                               TimePoint since, TimePoint now, int batch) {
  return static_cast<std::size_t>(
      txn.exec_params(
             "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $3::timestamptz,"
             " updated_at = $3::timestamptz WHERE id IN ("
             "  SELECT id FROM webhook_deliveries WHERE subscription_id = $1::bigint"
             "   AND status = 'dead' AND created_at >= $2::timestamptz"
             "   ORDER BY created_at LIMIT $4 FOR UPDATE SKIP LOCKED)",
             subscription_id, sql_timestamp(since), sql_timestamp(now), batch)
          .affected_rows());
}

std::size_t WebhookDeliveryStore::delete_finished_before(pqxx::work& txn, TimePoint cutoff,
                                                         int batch) {
  // One statement: the attempts go with their deliveries, and the foreign key is checked at
  // its end. Rows a sender has locked are left for the next run.
  return static_cast<std::size_t>(
      txn.exec_params("WITH doomed AS ("
                      "  SELECT id FROM webhook_deliveries WHERE status IN ('succeeded', 'dead')"
                      "   AND updated_at < $1::timestamptz ORDER BY updated_at LIMIT $2"
                      "   FOR UPDATE SKIP LOCKED),"
                      " attempts AS (DELETE FROM webhook_attempts"
                      "  WHERE delivery_id IN (SELECT id FROM doomed))"
                      " DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM doomed)",
                      sql_timestamp(cutoff), batch)
          .affected_rows());
}

}  // namespace keyflow
