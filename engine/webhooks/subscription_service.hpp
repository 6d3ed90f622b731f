#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/core/clock.hpp"
#include "engine/core/model.hpp"
#include "engine/crypto/secret_box.hpp"
#include "engine/store/database.hpp"
#include "engine/tenancy/access.hpp"
#include "engine/webhooks/destination_policy.hpp"

namespace keyflow {

struct NewSubscription {
  std::string url;
  std::vector<std::string> event_types;  // exact types and wildcards (api_key.*); empty: all
  std::optional<std::string> organization_id;
  std::optional<std::string> project_id;
  std::optional<std::string> description;
  bool ed25519 = false;  // deliveries also carry a v1a Ed25519 signature; public_key shows it
  std::optional<std::vector<int>> retry_schedule;  // seconds before each attempt, the first 0
  std::optional<int> rate_limit;                   // attempts a second
};

struct CreatedSubscription {
  WebhookSubscription subscription;
  std::string secret;  // whsec_..., shown at creation; stored sealed
};

// PATCH: a field that is absent stays; null clears description.
struct SubscriptionPatch {
  std::optional<std::string> url;
  std::optional<std::vector<std::string>> event_types;
  std::optional<std::optional<std::string>> description;
  std::optional<bool> enabled;        // true: enabled; false: disabled by a caller
  std::optional<std::string> status;  // enabled, paused or disabled
  // null: back to the deployment's schedule, and no limit.
  std::optional<std::optional<std::vector<int>>> retry_schedule;
  std::optional<std::optional<int>> rate_limit;
};

struct SubscriptionListRequest {
  std::optional<std::string> organization_id;
  std::optional<std::string> project_id;
  int limit = 100;                    // 1..1000
  std::optional<std::string> cursor;  // from a previous page
};

struct SubscriptionPage {
  std::vector<WebhookSubscription> subscriptions;
  std::optional<std::string> next_cursor;  // set when more follow
};

// Webhook subscriptions. The signing secret is stored sealed under the master key, because
// the deliverer needs it back to sign. Tenancy as for keys: a subscription of another
// organization is not found, and lists never show one.
class SubscriptionService {
 public:
  static constexpr long kDefaultMaxPerOrganization = 100;

  // destinations vets the IP literals of subscription URLs; at most max_per_organization
  // live subscriptions per organization (and as many unscoped ones).
  SubscriptionService(ConnectionPool& db, const Keyring& keyring, const Clock& clock,
                      DestinationPolicy destinations = {},
                      long max_per_organization = kDefaultMaxPerOrganization)
      : db_(db),
        box_(keyring),
        clock_(clock),
        destinations_(std::move(destinations)),
        max_per_organization_(max_per_organization) {}

  CreatedSubscription create(const Actor& actor, const NewSubscription& request);
  WebhookSubscription get(const Actor& actor, const std::string& id);
  SubscriptionPage list(const Actor& actor, const SubscriptionListRequest& request);
  // Emits webhook_subscription.updated when something changed.
  WebhookSubscription update(const Actor& actor, const std::string& id,
                             const SubscriptionPatch& patch);
  // Its pending deliveries are never sent; emits webhook_subscription.deleted.
  void remove(const Actor& actor, const std::string& id);

  // The signing secret, to the subscription's managers (MANAGE).
  std::string secret(const Actor& actor, const std::string& id);
  struct RotatedSecret {
    std::string secret;                            // the new whsec_...
    std::optional<TimePoint> previous_expires_at;  // until then both sign; none: no overlap
  };
  // A new signing secret; for overlap seconds (0..7 days) deliveries carry a signature by the
  // previous one as well. Emits webhook_subscription.updated naming "secret", never the value.
  RotatedSecret rotate_secret(const Actor& actor, const std::string& id,
                              std::chrono::seconds overlap);

 private:
  void require_url(const std::string& url) const;

  ConnectionPool& db_;
  SecretBox box_;
  const Clock& clock_;
  DestinationPolicy destinations_;
  long max_per_organization_;
};

// Throws Error(not_found) for a subscription out of the caller's reach (an unscoped one is the
// admin's alone), Error(forbidden) when its scopes lack the permission.
void require_subscription_access(const Actor& actor, Permission permission,
                                 const WebhookSubscription& subscription);

// A subscription's own retry schedule: 1 to 20 delays in seconds, the first 0 (the first
// attempt is sent at once), none over a day; 422 naming retry_schedule otherwise.
void require_retry_schedule(const std::optional<std::vector<int>>& schedule);

// event_types as a subscription may name them: known types, or <aggregate>.* over at least
// one known type; 422 naming event_types otherwise.
void require_event_types(const std::vector<std::string>& event_types);

}  // namespace keyflow
