#include "engine/store/delivery_attempts.hpp"

#include <unordered_set>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>

#include "engine/store/sql_values.hpp"

namespace keyflow {

std::string delivery_attempts_json(const std::vector<DeliveryAttempt>& attempts) {
  boost::json::array rows;
  rows.reserve(attempts.size());
  for (const auto& a : attempts) {
    rows.push_back({{"id", a.delivery_id},
                    {"lease_until", sql_timestamp(a.lease_until)},
                    {"attempted_at", sql_timestamp(a.attempted_at)},
                    {"status_code", boost::json::value_from(a.status_code)},
                    {"latency_ms", a.latency_ms},
                    {"error", boost::json::value_from(a.error)},
                    {"response_body", boost::json::value_from(a.response_body)},
                    {"status", a.status},
                    {"next_attempt_at", sql_timestamp(a.next_attempt_at)}});
  }
  return boost::json::serialize(rows);
}

std::vector<std::string> attempts_not_updated(const std::vector<DeliveryAttempt>& attempts,
                                              const pqxx::result& updated) {
  std::vector<std::string> lost;
  if (updated.size() == attempts.size()) return lost;
  std::unordered_set<std::string> recorded;
  for (const auto& row : updated)
    recorded.insert(row[0].c_str());
  for (const auto& a : attempts) {
    if (!recorded.contains(a.delivery_id)) lost.push_back(a.delivery_id);
  }
  return lost;
}

}  // namespace keyflow
