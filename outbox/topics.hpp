#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace keyflow {

// One Kafka topic per aggregate type: api_key -> keyflow.api_keys. The message key is the
// aggregate id, so that one key's events stay in order on one partition.
std::string topic_for_aggregate(std::string_view aggregate_type);

// Every topic keyflow publishes to, created up front by the embedded broker.
const std::vector<std::string>& all_topics();

}  // namespace keyflow
