#include "outbox/topics.hpp"

namespace keyflow {

std::string topic_for_aggregate(std::string_view aggregate_type) {
  return "keyflow." + std::string(aggregate_type) + "s";
}

const std::vector<std::string>& all_topics() {
  static const std::vector<std::string> topics = {
      topic_for_aggregate("api_key"),
      topic_for_aggregate("event_write_key"),
      topic_for_aggregate("connection"),
      topic_for_aggregate("webhook_subscription"),
      // The deliverer's operational events about receivers, keyed by subscription id.
      topic_for_aggregate("webhook"),
  };
  return topics;
}

}  // namespace keyflow
