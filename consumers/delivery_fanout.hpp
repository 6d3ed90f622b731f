#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "consumers/cloud_event.hpp"
#include "consumers/delivery_statistics.hpp"
#include "engine/core/clock.hpp"
#include "engine/store/database.hpp"

namespace keyflow {

// The scope id (organization_id, project_id) of an event's data, digits as a string or as a
// JSON integer; nullopt when null or absent, which matches only unscoped subscriptions.
std::optional<std::string> scope_id(const boost::json::object& data, std::string_view field);

// Turns one consumed event into one pending webhook delivery per matching subscription, in one
// transaction. A subscription matches when it is enabled, its event_types is empty or holds
// the event's type, and its organization and project are unset or equal to the event data's
// organization_id and project_id. Re-consuming an event creates nothing new: a delivery is
// unique per (subscription, event). Every delivery is left for a DeliverySender to claim; the
// deliver role sends first attempts before writing instead (FirstAttemptFanout, which matches
// the same way), and this serves where deliveries are to exist without being sent now.
class DeliveryFanout {
 public:
  DeliveryFanout(ConnectionPool& pool, const Clock& clock)
      : pool_(pool), clock_(clock), statistics_(pool, clock) {}

  struct Result {
    std::size_t matched = 0;  // subscriptions that match the event (summed over events)
    std::size_t created = 0;  // deliveries new in this call
  };

  // Throws what libpqxx throws (the database is down): nothing was written then.
  Result fan_out(const CloudEvent& event);
  // Many events in one transaction and one INSERT, each matched once per distinct (type,
  // organization, project) among them: what a consumer does with a batch of messages.
  Result fan_out(const std::vector<CloudEvent>& events);

 private:
  ConnectionPool& pool_;
  const Clock& clock_;
  DeliveryStatistics statistics_;
};

}  // namespace keyflow
