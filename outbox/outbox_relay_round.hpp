#pragma once

#include <cstdint>
#include <map>
#include <system_error>
#include <vector>

#include "outbox/outbox_record.hpp"

namespace keyflow {

// The bookkeeping of one publish round, apart from the I/O: what a failed delivery says about
// its row, and which acknowledged rows may be marked published without breaking the order of
// their aggregate.

enum class FailureKind {
  // The broker, the network or the producer: nothing wrong with the row. It is retried, after
  // a backoff, for as long as it takes.
  transient,
  // Kafka refuses this message as it is (too large, an invalid record): retrying it will not
  // help. Counted against the row, which is parked after a bounded number of tries.
  permanent,
};

FailureKind classify_failure(const std::error_code& error);

struct RoundSettlement {
  // Acknowledged and safe to mark published.
  std::vector<std::int64_t> mark;
  // Acknowledged, but behind a row of the same aggregate that failed in this round. Kafka has
  // them before that row, which is retried later; they stay unpublished so that they are sent
  // again after it and the key's last message is its latest event again.
  std::vector<std::int64_t> unmarked;
};

// records in id order (as claimed); acked and failed by row id. Rows in neither were not
// produced in this round.
RoundSettlement settle_round(const std::vector<OutboxRecord>& records,
                             const std::vector<std::int64_t>& acked,
                             const std::map<std::int64_t, std::error_code>& failed);

}  // namespace keyflow
