#include "outbox/outbox_relay_round.hpp"

#include <set>
#include <string>
#include <utility>

#include <librdkafka/rdkafka.h>

#include "outbox/kafka_error.hpp"

namespace keyflow {

FailureKind classify_failure(const std::error_code& error) {
  if (error.category() != kafka_category()) return FailureKind::transient;
  switch (static_cast<rd_kafka_resp_err_t>(error.value())) {
    // Refused by produce() against message.max.bytes, or by the broker against its own or the
    // topic's limit.
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    // The broker cannot store the record (e.g. a CRC or timestamp it rejects).
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
      return FailureKind::permanent;
    // Everything else concerns the cluster or the client rather than the message: timeouts,
    // brokers down, leadership moves, authorization and unknown topics (configuration, fixed
    // by an operator), a fatal producer error, purges at shutdown.
    default:
      return FailureKind::transient;
  }
}

RoundSettlement settle_round(const std::vector<OutboxRecord>& records,
                             const std::vector<std::int64_t>& acked,
                             const std::map<std::int64_t, std::error_code>& failed) {
  if (failed.empty()) return {.mark = acked, .unmarked = {}};
  // The lowest failed id of each aggregate (topic and key): every acknowledged row of that
  // aggregate after it overtook it.
  std::map<std::pair<std::string, std::string>, std::int64_t> first_failure;
  for (const auto& record : records) {
    if (!failed.contains(record.id)) continue;
    first_failure.try_emplace({record.aggregate_type, record.aggregate_id}, record.id);
  }
  const std::set<std::int64_t> acked_ids(acked.begin(), acked.end());
  RoundSettlement settlement;
  settlement.mark.reserve(acked.size());
  for (const auto& record : records) {
    if (!acked_ids.contains(record.id)) continue;
    const auto it = first_failure.find({record.aggregate_type, record.aggregate_id});
    if (it != first_failure.end() && it->second < record.id) {
      settlement.unmarked.push_back(record.id);
    } else {
      settlement.mark.push_back(record.id);
    }
  }
  return settlement;
}

}  // namespace keyflow
