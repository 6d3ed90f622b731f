#include "engine/webhooks/endpoint_health.hpp"

#include <functional>
#include <map>
#include <string_view>

#include "engine/core/time_format.hpp"
#include "engine/events/outbox_store.hpp"
#include "engine/webhooks/subscription_events.hpp"
#include "engine/webhooks/subscription_store.hpp"

namespace keyflow {
namespace {

const Actor& deliverer() {
  static const Actor actor = Actor::system("deliver");
  return actor;
}

}  // namespace

std::vector<WebhookSubscription> disable_subscriptions(pqxx::work& txn,
                                                       const std::vector<std::string>& ids,
                                                       const std::string& reason, TimePoint now,
                                                       const Actor& actor) {
  std::vector<WebhookSubscription> disabled;
  for (const auto& id : ids) {
    auto s = SubscriptionStore::find(txn, id, true);
    if (!s || s->status == "disabled") continue;
    s->status = "disabled";
    s->disabled_reason = reason;
    s->updated_at = now;
    SubscriptionStore::update(txn, *s);
    append_event(txn, subscription_updated(*s, {"status"}, actor));
    disabled.push_back(std::move(*s));
  }
  return disabled;
}

EndpointHealthChanges apply_endpoint_health(pqxx::work& txn,
                                            const std::vector<EndpointReport>& reports,
                                            TimePoint now, std::chrono::seconds disable_after) {
  EndpointHealthChanges changes;
  std::vector<SubscriptionStore::Failing> failing;
  std::vector<SubscriptionStore::Answered> answered;
  std::vector<std::string> gone;
  for (const auto& r : reports) {
    if (r.gone) gone.push_back(r.subscription_id);
    if (r.succeeded_last) {
      answered.push_back({r.subscription_id, r.dead});
    } else if (r.failed) {
      failing.push_back({r.subscription_id, r.first_failure, r.dead});
    }
  }
  std::map<std::string, TimePoint> failing_since;
  std::vector<std::string> failing_too_long;
  for (const auto& streak : SubscriptionStore::record_failures(txn, failing)) {
    failing_since[streak.id] = streak.failing_since;
    if (streak.enabled && streak.failing_since <= now - disable_after) {
      failing_too_long.push_back(streak.id);
    }
  }
  const auto disable = [&](const std::vector<std::string>& ids, std::string_view cause,
                           const std::function<std::string(TimePoint)>& reason) {
    for (const auto& id : ids) {
      const auto since = failing_since.contains(id) ? failing_since[id] : now;
      const auto disabled = disable_subscriptions(txn, {id}, reason(since), now, deliverer());
      if (disabled.empty()) continue;
      append_event(txn, endpoint_disabled(disabled.front(), cause, since, now));
      SubscriptionStore::mark_failing_reported(txn, id);
      ++changes.disabled;
    }
  };
  disable(gone, "gone", [](TimePoint) { return std::string("the receiver answered 410 Gone"); });
  disable(failing_too_long, "failing", [](TimePoint since) {
    return "the receiver has failed every attempt since " + format_timestamp(since);
  });
  for (const auto& ended : SubscriptionStore::end_failing_streaks(txn, answered)) {
    if (!ended.reported) continue;
    if (const auto s = SubscriptionStore::find(txn, ended.id, false)) {
      append_event(txn, endpoint_recovered(*s, ended.failing_since, now));
      ++changes.recovered;
    }
  }
  return changes;
}

}  // namespace keyflow
