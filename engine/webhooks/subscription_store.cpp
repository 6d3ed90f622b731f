#include "engine/webhooks/subscription_store.hpp"

#include "engine/store/sql_values.hpp"

namespace keyflow {

void SubscriptionStore::insert(pqxx::work& txn, const WebhookSubscription& s,
                               const Bytes& secret_sealed) {
  txn.exec_params(
      "INSERT INTO webhook_subscriptions (id, organization_id, project_id, url, event_types,"
      " secret_sealed, status, created_at)"
      " VALUES ($1::bigint, $2::bigint, $3::bigint, $4, $5::text[], $6, $7, $8::timestamptz)",
      s.id, s.organization_id, s.project_id, s.url, text_array_literal(s.event_types),
      pqxx::binarystring(secret_sealed.data(), secret_sealed.size()), s.status,
      sql_timestamp(s.created_at));
}

}  // namespace keyflow
